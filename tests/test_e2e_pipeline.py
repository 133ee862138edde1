"""End to end on the current database: leads → task → live simulator → monitor passes → state 4.

The monitor's clock (``now``) moves with the simulator's virtual clock step by step, so next due times,
the transcript grace period and the provider's calling windows all play out as in production, fast.
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
import time
from collections import Counter
from unittest import mock

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from calltasks.models import CallTask, LeadTask, MonitorRun, OutboundCallRecord
from calltasks.services.lifecycle import call_task_pause, call_task_resume, call_task_start
from calltasks.services.monitor import monitor_process_task, monitor_run_once, monitor_workers
from calltasks.states import TaskState
from followups.models import FollowUp, Lead
from tests.factories import CallTaskFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

STEP_SECONDS = 1800  # virtual time between passes
MAX_PASSES = 80
DEFAULT_REMARK = "AI分析失败，需要人工跟进"


def started_task(org, user, leads: int, *, name: str = "端到端任务") -> CallTask:
    """A task over ``leads`` new leads, started through the services against the configured simulator."""
    task = CallTaskFactory(organization=org, created_by=user, task_name=name, script_id="script-e2e", leads_count=leads)
    pool = Lead.objects.bulk_create(
        [
            Lead(
                organization=org,
                leads_id=f"E{task.pk}-{i:04d}",
                leads_user_name=f"客户{i}",
                leads_user_phone=f"137{task.pk % 1000:03d}{i:05d}",
                leads_product="星越L",
                leads_type="A级",
                leads_create_time=timezone.now(),
            )
            for i in range(leads)
        ]
    )
    LeadTask.objects.bulk_create(
        [
            LeadTask(
                task=task,
                lead=lead,
                leads_id=lead.leads_id,
                leads_name=lead.leads_user_name,
                leads_phone=lead.leads_user_phone,
                reference_id=f"dcc-{task.pk}-{lead.pk}",
            )
            for lead in pool
        ]
    )
    return call_task_start(task_id=task.pk)


class Clock:
    """The monitor's ``now``: starts at the present and moves with the simulator's virtual clock."""

    def __init__(self, simulator) -> None:
        self.simulator = simulator
        self.now = timezone.now()

    def step(self, seconds: float = STEP_SECONDS) -> dt.datetime:
        self.simulator.advance(seconds)
        self.now += dt.timedelta(seconds=seconds)
        return self.now


def run_until_done(task_id: int, clock: Clock, *, max_passes: int = MAX_PASSES, before_pass=None) -> list[MonitorRun]:
    runs = []
    for _ in range(max_passes):
        if before_pass:
            before_pass(clock)
        runs.append(monitor_run_once(driver=MonitorRun.Driver.TEST, now=clock.now))
        if CallTask.objects.get(pk=task_id).task_type == TaskState.FOLLOWUPS_DONE:
            return runs
        clock.step()
    raise AssertionError(f"task {task_id} not done after {max_passes} passes")


def assert_matches_ground_truth(task: CallTask, simulator, *, judge: str) -> None:
    rows = list(LeadTask.objects.filter(task=task).select_related("leads_follow"))
    assert rows and all(row.leads_follow_id for row in rows)
    # Exactly one follow-up per lead row, each linked back to its row.
    per_row = FollowUp.objects.filter(lead_task__task=task).values("lead_task").annotate(n=Count("id"))
    assert len(per_row) == len(rows) and {item["n"] for item in per_row} == {1}
    assert FollowUp.objects.filter(lead__organization=task.organization, source=FollowUp.Source.AI_CALL).count() == len(
        rows
    )
    # Each call attempt stored once.
    assert not OutboundCallRecord.objects.values("provider_task_id").annotate(n=Count("id")).filter(n__gt=1).exists()

    truth = {job["reference_id"]: job for job in simulator.ground_truth(task.job_group_id)}
    assert len(truth) == len(rows)
    assert all(job["final"] for job in truth.values())
    ours = {row.reference_id: row for row in rows}
    diff = [
        (ref, row.call_status, row.last_task_status, row.is_connected, truth[ref])
        for ref, row in ours.items()
        if row.is_connected != truth[ref]["connected"]
    ]
    assert not diff, diff
    assert {ref for ref, row in ours.items() if row.is_connected} == {
        ref for ref, job in truth.items() if job["connected"]
    }
    assert OutboundCallRecord.objects.filter(call_task=task).count() == sum(
        len(job["attempts"]) for job in truth.values()
    )

    judged = [row for row in rows if row.is_connected and row.call_conversation and row.leads_follow.judge == judge]
    assert judged, "no connected row was judged"
    mismatches = [
        (row.reference_id, row.is_interested, truth[row.reference_id]["is_interested"])
        for row in judged
        if row.is_interested != truth[row.reference_id]["is_interested"]
    ]
    assert not mismatches, mismatches
    for row in rows:
        if not row.is_connected:
            assert row.leads_follow.leads_remark.startswith("未接通") and row.is_interested == 0


def assert_runs_tell_the_story(task: CallTask, runs: list[MonitorRun]) -> None:
    stored = list(MonitorRun.objects.filter(pk__in=[run.pk for run in runs]))
    assert len(stored) == len(runs)
    assert all(run.finished_at and run.outcome in (MonitorRun.Outcome.OK, MonitorRun.Outcome.PARTIAL) for run in stored)
    assert sum(run.followups_created for run in stored) == task.leads_count
    assert sum(run.records_written for run in stored) >= OutboundCallRecord.objects.filter(call_task=task).count()
    assert sum(run.tasks_completed for run in stored) == 1
    assert runs[-1].tasks_completed == 1


def test_pipeline_rules_judge(simulator, org, user, settings):
    settings.LLM_API_KEY = ""
    task = started_task(org, user, 200)
    assert task.task_type == TaskState.CALLING
    clock = Clock(simulator)
    runs = run_until_done(task.pk, clock)
    task.refresh_from_db()
    assert task.next_check_at is None and task.lease_owner == "" and task.followups_done_at
    assert_matches_ground_truth(task, simulator, judge=FollowUp.Judge.RULES)
    assert_runs_tell_the_story(task, runs)


def test_pipeline_without_json_bulk_writes(simulator, org, user, settings):
    """Where ``dcc_project.jsonrows`` cannot run (SQLite before 3.35, other databases), the sync and the
    follow-up writer fall back to the ORM's bulk methods: the same outcome, row for row."""
    from dcc_project import jsonrows

    settings.LLM_API_KEY = ""
    task = started_task(org, user, 60, name="ORM批量写入")
    with mock.patch.object(jsonrows, "supported", return_value=False) as supported:
        runs = run_until_done(task.pk, Clock(simulator))
    assert supported.called
    assert_matches_ground_truth(task, simulator, judge=FollowUp.Judge.RULES)
    assert_runs_tell_the_story(task, runs)


def test_pipeline_llm_judge(simulator_factory, org, user, settings):
    simulator = simulator_factory(llm_api_key="sk-e2e-test")
    settings.LLM_API_KEY = "sk-e2e-test"
    task = started_task(org, user, 200, name="LLM端到端")
    clock = Clock(simulator)
    runs = run_until_done(task.pk, clock)
    task.refresh_from_db()
    assert_matches_ground_truth(task, simulator, judge=FollowUp.Judge.LLM)
    assert_runs_tell_the_story(task, runs)


# --- faults --------------------------------------------------------------------------------------------------


def test_llm_failing_gives_defaults_then_rejudge_recovers(simulator_factory, org, user, settings):
    from followups.services import followups_rejudge_defaults

    simulator = simulator_factory(llm_api_key="sk-e2e-test")
    settings.LLM_API_KEY = "sk-e2e-test"
    settings.LLM_MAX_RETRIES = 0
    simulator.configure_llm(failure_rate=1.0)
    task = started_task(org, user, 60, name="LLM故障")
    clock = Clock(simulator)
    run_until_done(task.pk, clock)
    defaults = FollowUp.objects.filter(lead_task__task=task, judge=FollowUp.Judge.DEFAULT)
    connected_with_transcript = LeadTask.objects.filter(task=task, is_connected=True, call_conversation__isnull=False)
    assert defaults.count() == connected_with_transcript.count() > 0
    assert {f.leads_remark for f in defaults} == {DEFAULT_REMARK}
    assert {f.is_interested for f in defaults} == {0}

    simulator.configure_llm(failure_rate=0.0)
    assert followups_rejudge_defaults(task_id=task.pk) == connected_with_transcript.count()
    assert not FollowUp.objects.filter(lead_task__task=task, judge=FollowUp.Judge.DEFAULT).exists()
    assert FollowUp.objects.filter(lead_task__task=task).count() == task.leads_count
    truth = {job["reference_id"]: job for job in simulator.ground_truth(task.job_group_id)}
    for row in connected_with_transcript.select_related("leads_follow"):
        assert row.leads_follow.judge == FollowUp.Judge.LLM
        assert row.is_interested == row.leads_follow.is_interested == truth[row.reference_id]["is_interested"]


def test_provider_503_retries_after_a_minute_then_completes(simulator, org, user, settings):
    settings.MONITOR_ERROR_RETRY_SECONDS = 60
    task = started_task(org, user, 40, name="服务不可用")
    clock = Clock(simulator)
    clock.step()
    simulator.add_fault("*", "unavailable", rate=1.0)
    run = monitor_run_once(driver=MonitorRun.Driver.TEST, now=clock.now)
    task.refresh_from_db()
    assert run.outcome == MonitorRun.Outcome.FAILED and run.errors == 1 and run.tasks_checked == 1
    assert run.error_details[0]["task_id"] == task.pk and "503" in run.error_details[0]["error"]
    assert task.next_check_at == clock.now + dt.timedelta(seconds=60)
    assert task.last_error and "503" in task.last_error and task.task_type == TaskState.CALLING
    assert task.lease_owner == ""
    # Not due again before the minute is over.
    assert monitor_run_once(driver=MonitorRun.Driver.TEST, now=clock.now + dt.timedelta(seconds=59)).tasks_checked == 0

    simulator.clear_faults()
    runs = run_until_done(task.pk, clock)
    task.refresh_from_db()
    assert task.last_error == ""
    assert FollowUp.objects.filter(lead_task__task=task).count() == 40
    assert_runs_tell_the_story(task, runs)


def test_paused_task_is_left_alone_by_every_pass(simulator, org, user):
    task = started_task(org, user, 20, name="暂停任务")
    call_task_pause(task_id=task.pk)
    paused = CallTask.objects.filter(pk=task.pk).values().get()
    rows_before = list(LeadTask.objects.filter(task=task).order_by("pk").values())
    clock = Clock(simulator)
    for _ in range(4):
        clock.step()
        monitor_run_once(driver=MonitorRun.Driver.TEST, now=clock.now)
        monitor_run_once(driver=MonitorRun.Driver.TEST, now=clock.now, task_ids=[task.pk])
    assert CallTask.objects.filter(pk=task.pk).values().get() == paused
    assert list(LeadTask.objects.filter(task=task).order_by("pk").values()) == rows_before
    assert not OutboundCallRecord.objects.filter(call_task=task).exists()
    # Resumed, it is picked up again and completes.
    call_task_resume(task_id=task.pk)
    run_until_done(task.pk, clock)
    assert FollowUp.objects.filter(lead_task__task=task).count() == 20


def _assert_no_duplicates(tasks) -> None:
    for task in tasks:
        task.refresh_from_db()
        assert task.task_type == TaskState.FOLLOWUPS_DONE, task
        assert FollowUp.objects.filter(lead_task__task=task).count() == task.leads_count
        assert LeadTask.objects.filter(task=task, leads_follow__isnull=True).count() == 0
    followups_per_row = Counter(FollowUp.objects.filter(lead_task__isnull=False).values_list("lead_task_id", flat=True))
    assert set(followups_per_row.values()) == {1}
    assert FollowUp.objects.filter(source=FollowUp.Source.AI_CALL, lead_task__isnull=True).count() == 0
    assert not OutboundCallRecord.objects.values("provider_task_id").annotate(n=Count("id")).filter(n__gt=1).exists()


def _final_tasks(simulator, org, user, count: int = 3, leads: int = 40) -> list[CallTask]:
    tasks = [started_task(org, user, leads, name=f"并发任务{i}") for i in range(count)]
    for task in tasks:
        simulator.run_until_final(task.job_group_id)
    # Everything is final at the provider; every task is due now for both monitors.
    CallTask.objects.filter(pk__in=[t.pk for t in tasks]).update(next_check_at=None)
    return tasks


def test_two_monitor_processes_at_once_write_nothing_twice(simulator, org, user, settings):
    """Two ``run_monitor --once`` processes on the same database (PostgreSQL row locks; SQLite file locks)."""
    from tests.calltasks.test_run_monitor import Child, child_database, child_env, children

    settings.TRANSCRIPT_GRACE_MINUTES = 0
    tasks = _final_tasks(simulator, org, user)
    with child_database() as db_env, children() as started:
        env = child_env(db_env, TRANSCRIPT_GRACE_MINUTES=0)
        started.extend(Child(["run_monitor", "--once"], env) for _ in range(2))
        codes = [child.wait(timeout=60) for child in started]
        assert codes == [0, 0], [child.output for child in started]
    runs = list(MonitorRun.objects.filter(driver=MonitorRun.Driver.COMMAND))
    assert len(runs) == 2
    # Each task was leased and processed by exactly one of the two monitors.
    assert sum(run.tasks_checked for run in runs) == len(tasks)
    if connection.vendor == "postgresql":
        assert sum(run.tasks_completed for run in runs) == len(tasks) and not any(run.errors for run in runs)
    run_until_done(tasks[-1].pk, Clock(simulator))  # SQLite: a pass that met a busy database finishes later
    _assert_no_duplicates(tasks)


def test_one_pass_with_worker_threads_completes_every_task(simulator, org, user, settings):
    """``MONITOR_WORKERS``: one pass processes several tasks at once, each in a thread with its own
    connection, lease and provider client; the run adds up every task's turn (SQLite: sequential)."""
    settings.TRANSCRIPT_GRACE_MINUTES = 0
    settings.MONITOR_WORKERS = 3
    tasks = _final_tasks(simulator, org, user, count=5, leads=30)
    threads_seen = set()
    original = monitor_process_task

    def spy(**kwargs):
        threads_seen.add(threading.current_thread().name)
        return original(**kwargs)

    with mock.patch("calltasks.services.monitor.monitor_process_task", spy):
        run = monitor_run_once(driver=MonitorRun.Driver.COMMAND)
    run.refresh_from_db()
    if connection.vendor == "postgresql":
        assert monitor_workers() == 3
        assert len(threads_seen) > 1 and all(name.startswith("monitor-") for name in threads_seen), threads_seen
    else:
        assert monitor_workers() == 1 and threads_seen == {threading.current_thread().name}
    assert run.outcome == MonitorRun.Outcome.OK and run.errors == 0
    assert run.tasks_checked == len(tasks) and run.tasks_completed == len(tasks)
    assert run.followups_created == sum(task.leads_count for task in tasks)
    assert not CallTask.objects.filter(pk__in=[t.pk for t in tasks]).exclude(lease_owner="").exists()
    _assert_no_duplicates(tasks)


def test_two_monitor_threads_at_once_write_nothing_twice(simulator, org, user, settings):
    """The same with two passes in threads of this process (runs on every database)."""
    settings.TRANSCRIPT_GRACE_MINUTES = 0
    tasks = _final_tasks(simulator, org, user)
    barrier = threading.Barrier(2)
    runs = []
    errors = []

    def one_pass():
        try:
            barrier.wait()
            runs.append(monitor_run_once(driver=MonitorRun.Driver.COMMAND))
        except Exception as exc:  # SQLite's shared in-memory database may refuse a whole pass
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=one_pass) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    if connection.vendor == "postgresql":
        assert len(runs) == 2 and not errors
    else:
        # Only "database table is locked" may stop a pass on SQLite; at least one pass ran.
        assert runs and all("locked" in str(exc) for exc in errors), errors
        assert len(runs) + len(errors) == 2
    # Never processed twice; on SQLite's shared in-memory test database a busy table can make a pass give a
    # task back (recorded as an error), and a later pass completes it.
    assert sum(run.tasks_checked for run in runs) <= len(tasks)
    if connection.vendor == "postgresql":
        assert sum(run.tasks_checked for run in runs) == len(tasks)
    clock = Clock(simulator)
    for task in tasks:
        run_until_done(task.pk, clock)
    _assert_no_duplicates(tasks)


def test_monitor_killed_mid_pass_loses_nothing(simulator, org, user, settings):
    from tests.calltasks.test_run_monitor import CHECKING, Child, child_database, child_env, children

    task = started_task(org, user, 60, name="被杀死的监控")
    simulator.run_until_final(task.job_group_id)
    CallTask.objects.filter(pk=task.pk).update(next_check_at=None)
    # The pass hangs in the provider call that fetches the finished jobs' details.
    simulator.add_fault("ListJobs", "slow", count=1, seconds=20)
    with child_database() as db_env, children() as started:
        child = Child(["run_monitor", "--once"], child_env(db_env, MONITOR_LEASE_SECONDS=2))
        started.append(child)
        child.wait_for(*CHECKING)
        time.sleep(0.5)
        child.proc.send_signal(signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    task.refresh_from_db()
    assert task.lease_owner.startswith("monitor:") and task.task_type == TaskState.CALLING  # left behind by the dead
    simulator.clear_faults()
    # The next pass takes over once the dead monitor's lease has expired.
    clock = Clock(simulator)
    clock.now = max(clock.now, task.lease_until + dt.timedelta(seconds=1))
    runs = run_until_done(task.pk, clock)
    task.refresh_from_db()
    assert task.lease_owner == "" and task.lease_until is None
    _assert_no_duplicates([task])
    truth = simulator.ground_truth(task.job_group_id)
    assert OutboundCallRecord.objects.filter(call_task=task).count() == sum(len(job["attempts"]) for job in truth)
    assert sum(run.followups_created for run in runs) == 60
