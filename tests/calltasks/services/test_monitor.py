"""One monitor pass: due selection, leases, per-task failures, next due times, MonitorRun, the switch."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from calltasks import tasks as q_tasks
from calltasks.models import CallTask, LeadTask, MonitorRun, MonitorState
from calltasks.provider.errors import ProviderError
from calltasks.schedules import MONITOR_TICK, schedules_sync
from calltasks.services import monitor
from calltasks.services.sync import SyncResult
from calltasks.states import TaskState
from tests.calltasks.services.conftest import make_task
from tests.factories import FollowUpFactory

NOW = timezone.now().replace(microsecond=0)


class Calls:
    def __init__(self):
        self.sync: list[int] = []
        self.followups: list[int] = []
        self.lock = threading.Lock()


@pytest.fixture
def fake_steps(monkeypatch):
    """Replace the provider/LLM-facing steps; completion stays real."""
    calls = Calls()
    failing: dict[int, Exception] = {}

    def sync(*, task_id, client=None, now=None, **kwargs):
        with calls.lock:
            calls.sync.append(task_id)
        if task_id in failing:
            raise failing[task_id]
        return SyncResult(task_id=task_id, records_written=2, rows_updated=1)

    def followups(*, task_id, now=None):
        with calls.lock:
            calls.followups.append(task_id)
        return type("Batch", (), {"created": 0})()

    def recordings(*, task_id, limit=None, client=None):
        return type("Rec", (), {"fetched": 0, "failed": 0})()

    monkeypatch.setattr("calltasks.services.sync.call_task_sync", sync)
    monkeypatch.setattr("followups.services.followups_create_for_task", followups)
    monkeypatch.setattr("calltasks.services.recordings.recordings_fetch_for_task", recordings)
    calls.failing = failing
    return calls


def _task(org, *, rows=2, task_type=TaskState.CALLING, next_check_at=None, **fields):
    fields.setdefault("job_group_id", None)
    return make_task(org, rows, task_type=task_type, next_check_at=next_check_at, **fields)


def _follow_all(task):
    for row in LeadTask.objects.filter(task=task):
        fu = FollowUpFactory(lead=row.lead, lead_task=row)
        LeadTask.objects.filter(pk=row.pk).update(leads_follow=fu, is_interested=0, final_at=NOW, call_status="Failed")


# --- due selection -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_due_selection_states_due_times_and_fair_order(org):
    never = _task(org)
    old = _task(org, next_check_at=NOW - dt.timedelta(hours=2))
    recent = _task(org, next_check_at=NOW - dt.timedelta(seconds=5))
    _task(org, next_check_at=NOW + dt.timedelta(seconds=30))  # not due yet
    _task(org, task_type=TaskState.PAUSED)
    _task(org, task_type=TaskState.CREATED)
    _task(org, deleted_at=NOW)
    done_calls_missing = _task(org, task_type=TaskState.CALLS_DONE, next_check_at=NOW - dt.timedelta(minutes=1))
    done_calls_complete = _task(org, task_type=TaskState.CALLS_DONE)
    _follow_all(done_calls_complete)
    _task(org, lease_until=NOW + dt.timedelta(minutes=5), lease_owner="other")  # someone else holds it

    assert monitor.monitor_due_task_ids(now=NOW) == [never.pk, old.pk, done_calls_missing.pk, recent.pk]
    assert monitor.monitor_due_task_ids(now=NOW, limit=2) == [never.pk, old.pk]


@pytest.mark.django_db
def test_no_starvation_processed_tasks_go_to_the_back(org, fake_steps, settings):
    settings.MONITOR_INTERVAL_SECONDS = 300
    tasks = [_task(org, next_check_at=NOW - dt.timedelta(minutes=i)) for i in range(5)]
    monitor.monitor_process_task(task_id=tasks[-1].pk, driver="test", now=NOW)
    due = monitor.monitor_due_task_ids(now=NOW)
    assert tasks[-1].pk not in due and len(due) == 4


# --- one task ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_next_check_fast_after_start_then_normal(org, fake_steps, settings):
    settings.MONITOR_FAST_INTERVAL_SECONDS = 10
    settings.MONITOR_FAST_WINDOW_SECONDS = 120
    settings.MONITOR_INTERVAL_SECONDS = 300
    young = _task(org, started_at=NOW - dt.timedelta(seconds=30))
    older = _task(org, started_at=NOW - dt.timedelta(minutes=10))
    run = monitor.monitor_run_once(driver=MonitorRun.Driver.TEST, now=NOW)
    young.refresh_from_db()
    older.refresh_from_db()
    assert young.next_check_at == NOW + dt.timedelta(seconds=10)
    assert older.next_check_at == NOW + dt.timedelta(seconds=300)
    assert (
        young.last_checked_at == NOW
        and young.last_error == ""
        and young.lease_owner == ""
        and young.lease_until is None
    )
    assert run.outcome == MonitorRun.Outcome.OK and run.tasks_checked == 2
    assert run.records_written == 4 and run.rows_updated == 2


@pytest.mark.django_db
def test_provider_error_retries_in_a_minute_and_others_go_on(org, fake_steps, settings, caplog):
    settings.MONITOR_ERROR_RETRY_SECONDS = 60
    bad = _task(org)
    broken = _task(org)
    good = _task(org)
    fake_steps.failing[bad.pk] = ProviderError(
        "ServiceUnavailable", "down for 13812345678", http_status=503, action="QueryJobsWithResult", retryable=True
    )
    fake_steps.failing[broken.pk] = RuntimeError("bug with 13812345678 inside")
    with caplog.at_level(logging.INFO):
        run = monitor.monitor_run_once(driver=MonitorRun.Driver.TEST, now=NOW)
    bad.refresh_from_db()
    broken.refresh_from_db()
    good.refresh_from_db()
    assert bad.next_check_at == NOW + dt.timedelta(seconds=60)
    assert "ServiceUnavailable" in bad.last_error and "503" in bad.last_error
    assert (
        broken.next_check_at == NOW + dt.timedelta(seconds=60) and broken.last_error == "sync: internal: RuntimeError"
    )
    assert good.last_error == "" and good.next_check_at > NOW + dt.timedelta(seconds=60)
    # Follow-ups and the completion check still ran for the failing tasks.
    assert sorted(fake_steps.followups) == sorted([bad.pk, broken.pk, good.pk])
    assert run.outcome == MonitorRun.Outcome.PARTIAL
    assert run.tasks_checked == 3 and run.errors == 2
    assert {d["task_id"] for d in run.error_details} == {bad.pk, broken.pk}
    assert "13812345678" not in str(run.error_details) and "13812345678" not in caplog.text
    assert "13812345678" not in bad.last_error + broken.last_error
    assert f"检查任务: {good.task_name} (ID: {good.pk})" in caplog.text


@pytest.mark.django_db
def test_all_tasks_failing_is_a_failed_run(org, fake_steps):
    task = _task(org)
    fake_steps.failing[task.pk] = ProviderError("Throttling", http_status=429, retryable=True)
    run = monitor.monitor_run_once(driver=MonitorRun.Driver.TEST, now=NOW)
    assert run.outcome == MonitorRun.Outcome.FAILED and run.errors == 1


@pytest.mark.django_db
def test_completion_runs_at_the_end_of_the_pass(org, fake_steps):
    task = _task(org, task_type=TaskState.CALLING)
    _follow_all(task)  # every row final and followed up: the pass's completion check moves it 2 → 3 → 4
    run = monitor.monitor_run_once(driver=MonitorRun.Driver.TEST, now=NOW, task_ids=[task.pk])
    task.refresh_from_db()
    assert task.task_type == TaskState.FOLLOWUPS_DONE and task.next_check_at is None
    assert run.tasks_completed == 1


@pytest.mark.django_db
def test_paused_task_is_left_alone(org, fake_steps):
    paused = _task(org, task_type=TaskState.PAUSED, next_check_at=NOW - dt.timedelta(minutes=5))
    before = CallTask.objects.filter(pk=paused.pk).values().get()
    monitor.monitor_run_once(driver=MonitorRun.Driver.TEST, now=NOW)
    monitor.monitor_run_once(driver=MonitorRun.Driver.TEST, now=NOW, task_ids=[paused.pk])
    result = monitor.monitor_process_task(task_id=paused.pk, driver="test", now=NOW, require_due=False)
    assert result.status == "skipped"
    assert fake_steps.sync == [] and fake_steps.followups == []
    after = CallTask.objects.filter(pk=paused.pk).values().get()
    assert {k: v for k, v in after.items() if k != "updated_time"} == {
        k: v for k, v in before.items() if k != "updated_time"
    }


# --- leases --------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_lease_prevents_double_processing(org, fake_steps):
    task = _task(org)
    assert monitor._lease(task.pk, owner="a", now=NOW, require_due=True)
    assert not monitor._lease(task.pk, owner="b", now=NOW, require_due=True)
    assert monitor.monitor_process_task(task_id=task.pk, driver="test", now=NOW).status == "skipped"
    assert fake_steps.sync == []
    # An expired lease (a killed monitor) can be taken over.
    later = NOW + dt.timedelta(seconds=3600)
    assert monitor.monitor_process_task(task_id=task.pk, driver="test", now=later).status == "ok"
    # Just processed → not due any more → a second worker that selected it earlier skips it.
    assert monitor.monitor_process_task(task_id=task.pk, driver="test", now=later).status == "skipped"
    assert fake_steps.sync == [task.pk]


@pytest.mark.django_db(transaction=True)
def test_concurrent_passes_process_each_task_once(org, fake_steps):
    tasks = [_task(org, rows=1) for _ in range(6)]
    barrier = threading.Barrier(3)
    runs = []

    def worker():
        from django.db import connection

        try:
            barrier.wait()
            runs.append(monitor.monitor_run_once(driver=MonitorRun.Driver.TEST, now=NOW))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(fake_steps.sync) == sorted(t.pk for t in tasks)
    assert sum(r.tasks_checked for r in runs) == len(tasks)


# --- the switch and the run record ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_switch_off_skips_the_pass(org, fake_steps):
    _task(org)
    state = monitor.monitor_set_enabled(enabled=False, by="tester")
    assert state.enabled is False and state.updated_by == "tester"
    assert monitor.monitor_is_enabled() is False
    run = monitor.monitor_run_once(driver=MonitorRun.Driver.API)
    assert run.pk and run.outcome == MonitorRun.Outcome.SKIPPED and run.tasks_checked == 0
    assert fake_steps.sync == []
    assert q_tasks.monitor_tick() == {"enabled": False, "queued": 0}
    monitor.monitor_set_enabled(enabled=True, by="tester")
    assert monitor.monitor_is_enabled() is True


@pytest.mark.django_db
def test_missing_switch_row_means_on():
    MonitorState.objects.all().delete()
    assert monitor.monitor_is_enabled() is True


@pytest.mark.django_db
def test_run_records_duration_and_empty_passes(org, fake_steps):
    run = monitor.monitor_run_once(driver=MonitorRun.Driver.TEST, now=NOW)
    assert run.pk and run.outcome == MonitorRun.Outcome.OK and run.duration_seconds is not None
    idle = monitor.monitor_run_once(driver=MonitorRun.Driver.COMMAND, now=NOW, record_empty=False)
    assert idle.pk is None
    assert MonitorRun.objects.count() == 1


@pytest.mark.django_db
def test_should_stop_is_honoured_between_tasks(org, fake_steps):
    _task(org)
    _task(org)
    run = monitor.monitor_run_once(
        driver=MonitorRun.Driver.TEST, now=NOW, should_stop=lambda: len(fake_steps.sync) >= 1
    )
    assert run.tasks_checked == 1 and len(fake_steps.sync) == 1


# --- django-q2 driver ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_tick_fans_out_one_job_per_due_task(org, fake_steps, monkeypatch):
    due = [_task(org), _task(org)]
    _task(org, next_check_at=timezone.now() + dt.timedelta(hours=1))
    queued = []

    def fake_async_task(func, *args, **kwargs):
        queued.append((func, args, kwargs.get("group")))
        return getattr(q_tasks, func.rsplit(".", 1)[1])(*args)

    monkeypatch.setattr("django_q.tasks.async_task", fake_async_task)
    out = q_tasks.monitor_tick()
    assert out["queued"] == 2
    assert sorted(args[0] for _f, args, _g in queued) == sorted(t.pk for t in due)
    assert {f for f, _a, _g in queued} == {"calltasks.tasks.monitor_task"} and {g for *_x, g in queued} == {"monitor"}
    run = MonitorRun.objects.get(pk=out["run_id"])
    assert run.driver == MonitorRun.Driver.SCHEDULE and run.tasks_checked == 2 and run.outcome == MonitorRun.Outcome.OK
    # Nothing is due right after: the next tick queues nothing and leaves no row.
    assert q_tasks.monitor_tick()["queued"] == 0
    assert MonitorRun.objects.count() == 1


@pytest.mark.django_db
def test_tick_runs_through_django_q_sync(org, fake_steps):
    task = _task(org)
    out = q_tasks.monitor_tick()  # Q_CLUSTER sync=True in the test settings
    assert out["queued"] == 1 and fake_steps.sync == [task.pk]


@pytest.mark.django_db
def test_schedule_exists_exactly_once_after_migrating_twice():
    call_command("migrate", verbosity=0)
    call_command("migrate", verbosity=0)
    schedules = Schedule.objects.filter(name=MONITOR_TICK)
    assert schedules.count() == 1
    schedule = schedules.get()
    assert schedule.func == "calltasks.tasks.monitor_tick"
    assert schedule.schedule_type == Schedule.MINUTES and schedule.minutes == 1 and schedule.repeats == -1


@pytest.mark.django_db
def test_schedule_setup_is_idempotent_and_heals():
    Schedule.objects.filter(name=MONITOR_TICK).delete()
    Schedule.objects.create(name=MONITOR_TICK, func="calltasks.tasks.monitor_tick", schedule_type="I", minutes=5)
    Schedule.objects.create(name=MONITOR_TICK, func="calltasks.tasks.monitor_tick", schedule_type="I", minutes=5)
    Schedule.objects.create(name="calltasks.old_thing", func="calltasks.tasks.gone", schedule_type="D")
    Schedule.objects.create(name="someone_else", func="other.func", schedule_type="D")
    schedules_sync()
    call_command("setup_schedules", verbosity=0)
    assert Schedule.objects.filter(name=MONITOR_TICK).count() == 1
    assert Schedule.objects.get(name=MONITOR_TICK).minutes == 1
    assert not Schedule.objects.filter(name="calltasks.old_thing").exists()
    assert Schedule.objects.filter(name="someone_else").exists()
