"""Start / pause / resume / cancel / delete against the live simulator (SPEC §3, §4; issue 4)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from calltasks.models import CallTask, LeadTask
from calltasks.provider import statuses
from calltasks.provider.client import OutboundBotClient
from calltasks.services.completion import call_task_check_completion
from calltasks.services.create import call_task_create
from calltasks.services.errors import InvalidTaskState, ProviderFailure, TaskNotFound, ValidationFailed
from calltasks.services.lifecycle import (
    call_task_cancel,
    call_task_delete,
    call_task_pause,
    call_task_resume,
    call_task_start,
    job_group_name,
)
from calltasks.states import TaskState
from followups.selectors import LeadFilterSpec
from tests.calltasks.services.conftest import make_leads

pytestmark = pytest.mark.django_db

STRATEGY = {"working_time": "09:00-12:00,13:30-20:00", "max_attempts_per_day": 2, "min_attempt_interval": 15}


def new_task(org, count: int, *, script_id: str = "SCRIPT-1", strategy: dict | None = None) -> CallTask:
    make_leads(org, count)
    return call_task_create(
        organization_id=org.pk,
        created_by_id=None,
        task_name="回访任务",
        spec=LeadFilterSpec(),
        size_desc={},
        script_id=script_id,
        strategy=strategy or STRATEGY,
    ).task


def provider_jobs(simulator, task) -> list[dict]:
    return simulator.ground_truth(task.job_group_id)


def requests_of(simulator, action: str) -> int:
    return simulator.stats()["requests"].get(action, 0)


def assert_correlated(simulator, task) -> None:
    """Each row's job id is the simulator job whose ReferenceId is the row's reference_id; no duplicates."""
    jobs = provider_jobs(simulator, task)
    refs = [job["reference_id"] for job in jobs]
    assert len(refs) == len(set(refs)), "a lead was submitted twice"
    by_ref = {job["reference_id"]: job for job in jobs}
    for row in LeadTask.objects.filter(task=task, final_at__isnull=True):
        job = by_ref[row.reference_id]
        assert row.call_job_id == job["job_id"]
        assert job["phone"] == row.leads_phone


# --- start ---------------------------------------------------------------------------------------------


def test_start_creates_one_job_group_with_the_strategy_and_assigns_every_row(org, simulator):
    task = new_task(org, 60)
    started = call_task_start(task_id=task.pk, organization_id=org.pk)

    assert started.task_type == TaskState.CALLING
    assert started.job_group_id and started.started_at and started.deadline_at and started.next_check_at
    assert not started.lease_owner and started.lease_until is None
    group = OutboundBotClient.from_settings().describe_job_group(job_group_id=started.job_group_id)
    assert group.name == job_group_name(started) == f"任务_{task.pk}_回访任务"
    assert group.script_id == "SCRIPT-1"
    strategy = group.strategy
    assert strategy["MaxAttemptsPerDay"] in (2, "2")
    assert strategy["MinAttemptInterval"] in (15, "15")
    assert [(w["BeginTime"], w["EndTime"]) for w in strategy["WorkingTime"]] == [
        ("09:00:00", "12:00:00"),
        ("13:30:00", "20:00:00"),
    ]

    assert requests_of(simulator, "CreateJobGroup") == 1
    assert requests_of(simulator, "AssignJobs") == 3  # 60 rows in batches of ≤ 25
    assert simulator.stats()["groups"] == 1
    assert len(provider_jobs(simulator, started)) == 60
    assert LeadTask.objects.filter(task=task, call_job_id__isnull=True).count() == 0
    assert_correlated(simulator, started)


def test_assign_batch_size_setting_is_honoured(org, simulator, settings):
    settings.CALLTASKS_ASSIGN_BATCH_SIZE = 10
    task = new_task(org, 21)
    call_task_start(task_id=task.pk)
    assert requests_of(simulator, "AssignJobs") == 3


def test_start_requires_a_script(org, simulator):
    task = new_task(org, 2, script_id="")
    with pytest.raises(ValidationFailed):
        call_task_start(task_id=task.pk)
    task.refresh_from_db()
    assert task.task_type == TaskState.CREATED and not task.job_group_id
    assert requests_of(simulator, "CreateJobGroup") == 0
    # the script can be given with the start
    assert call_task_start(task_id=task.pk, script_id="SCRIPT-2").task_type == TaskState.CALLING


def test_start_only_from_created_and_only_in_the_organization(org, other_org, simulator):
    task = new_task(org, 2)
    with pytest.raises(TaskNotFound):
        call_task_start(task_id=task.pk, organization_id=other_org.pk)
    call_task_start(task_id=task.pk)
    with pytest.raises(InvalidTaskState):
        call_task_start(task_id=task.pk)
    assert simulator.stats()["groups"] == 1
    assert len(provider_jobs(simulator, CallTask.objects.get(pk=task.pk))) == 2


def _start_in_thread(task_id: int, results: list, barrier: threading.Barrier | None = None) -> threading.Thread:
    def run():
        try:
            if barrier is not None:
                barrier.wait(timeout=10)
            results.append(call_task_start(task_id=task_id))
        except Exception as exc:  # noqa: BLE001 - collected and asserted by the test
            results.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_starts_create_one_job_group(org, simulator):
    task = new_task(org, 30)
    results: list = []
    if connection.vendor == "postgresql":
        # Real concurrency: both threads race for the compare-and-set claim.
        barrier = threading.Barrier(2)
        threads = [_start_in_thread(task.pk, results, barrier) for _ in range(2)]
        for thread in threads:
            thread.join(timeout=60)
    else:
        # SQLite: the second start arrives while the first is mid-flight (its AssignJobs answers slowly).
        simulator.add_fault("AssignJobs", "slow", count=1, seconds=1.0)
        thread = _start_in_thread(task.pk, results)
        for _ in range(200):
            if CallTask.objects.filter(pk=task.pk).exclude(lease_owner="").exists():
                break
            threading.Event().wait(0.01)
        try:
            results.append(call_task_start(task_id=task.pk))
        except InvalidTaskState as exc:
            results.append(exc)
        thread.join(timeout=60)

    started = [r for r in results if isinstance(r, CallTask)]
    refused = [r for r in results if isinstance(r, InvalidTaskState)]
    assert len(started) == 1 and len(refused) == 1, results
    assert simulator.stats()["groups"] == 1
    assert requests_of(simulator, "CreateJobGroup") == 1
    task.refresh_from_db()
    assert task.task_type == TaskState.CALLING
    assert len(provider_jobs(simulator, task)) == 30
    assert_correlated(simulator, task)


def test_assign_timeout_after_commit_does_not_double_submit(org, simulator, settings):
    settings.OUTBOUNDBOT_READ_TIMEOUT = 0.3
    simulator.add_fault("AssignJobs", "commit_timeout", count=1, seconds=1.0)
    task = new_task(org, 60)
    started = call_task_start(task_id=task.pk)
    jobs = provider_jobs(simulator, started)
    assert len(jobs) == 60 == LeadTask.objects.filter(task=task).count()
    assert len({job["reference_id"] for job in jobs}) == 60
    assert_correlated(simulator, started)
    assert not LeadTask.objects.filter(task=task, failure_reason=statuses.REASON_NOT_ASSIGNED).exists()


def test_assign_dropped_connection_after_commit_does_not_double_submit(org, simulator):
    simulator.add_fault("AssignJobs", "commit_drop", count=2)
    task = new_task(org, 30)
    started = call_task_start(task_id=task.pk)
    jobs = provider_jobs(simulator, started)
    assert len(jobs) == 30 and len({job["reference_id"] for job in jobs}) == 30
    assert_correlated(simulator, started)


def test_restart_after_a_failed_start_does_not_resubmit_assigned_leads(org, simulator, settings):
    """The first start assigns jobs then dies on the reconciliation read; the retry must not assign them again."""
    settings.OUTBOUNDBOT_READ_TIMEOUT = 0.3
    simulator.add_fault("AssignJobs", "commit_timeout", count=1, seconds=1.0)
    simulator.add_fault("ListJobsByGroup", "unavailable", count=50)
    task = new_task(org, 30)
    with pytest.raises(ProviderFailure):
        call_task_start(task_id=task.pk)
    task.refresh_from_db()
    assert task.task_type == TaskState.CREATED and not task.lease_owner
    assert len(provider_jobs(simulator, task)) == 30  # the provider holds them although we never learnt the ids

    simulator.clear_faults()
    started = call_task_start(task_id=task.pk)
    jobs = provider_jobs(simulator, started)
    assert len(jobs) == 30, "leads were submitted twice"
    assert simulator.stats()["groups"] == 1
    assert_correlated(simulator, started)


def test_create_job_group_503_leaves_the_task_created_without_lease(org, simulator):
    simulator.add_fault("CreateJobGroup", "unavailable", count=10)
    task = new_task(org, 3)
    with pytest.raises(ProviderFailure) as exc:
        call_task_start(task_id=task.pk)
    assert exc.value.http_status == 502
    task.refresh_from_db()
    assert task.task_type == TaskState.CREATED
    assert not task.job_group_id and not task.lease_owner and task.lease_until is None
    assert simulator.stats()["groups"] == 0
    simulator.clear_faults()
    assert call_task_start(task_id=task.pk).task_type == TaskState.CALLING


def test_create_job_group_timeout_after_commit_reuses_the_group(org, simulator, settings):
    settings.OUTBOUNDBOT_READ_TIMEOUT = 0.3
    simulator.add_fault("CreateJobGroup", "commit_timeout", count=1, seconds=1.0)
    task = new_task(org, 3)
    started = call_task_start(task_id=task.pk)
    assert started.task_type == TaskState.CALLING
    assert simulator.stats()["groups"] == 1
    assert len(provider_jobs(simulator, started)) == 3


def test_rows_the_provider_rejects_end_failed_not_assigned(org, simulator):
    task = new_task(org, 30)
    bad = LeadTask.objects.filter(task=task).order_by("id")[3]
    LeadTask.objects.filter(pk=bad.pk).update(leads_phone="13x-not-a-number")
    started = call_task_start(task_id=task.pk)

    assert started.task_type == TaskState.CALLING
    bad.refresh_from_db()
    assert bad.call_status == statuses.JOB_FAILED
    assert bad.failure_reason == statuses.REASON_NOT_ASSIGNED
    assert bad.final_at is not None and bad.call_job_id is None
    jobs = provider_jobs(simulator, started)
    assert len(jobs) == 29 and bad.reference_id not in {job["reference_id"] for job in jobs}
    assert LeadTask.objects.filter(task=task, call_job_id__isnull=False).count() == 29
    assert_correlated(simulator, started)


def test_start_with_every_row_rejected_is_a_provider_failure(org, simulator):
    task = new_task(org, 2)
    LeadTask.objects.filter(task=task).update(leads_phone="bad")
    with pytest.raises(ProviderFailure):
        call_task_start(task_id=task.pk)
    task.refresh_from_db()
    assert task.task_type == TaskState.CREATED and not task.lease_owner


# --- pause / resume --------------------------------------------------------------------------------------


@pytest.fixture
def calling_task(org, simulator):
    simulator.set_speed(0)  # the clock moves only when a test advances it
    task = new_task(org, 6)
    return call_task_start(task_id=task.pk)


def test_pause_and_resume(calling_task, simulator):
    paused = call_task_pause(task_id=calling_task.pk)
    assert paused.task_type == TaskState.PAUSED and paused.paused_at
    assert requests_of(simulator, "SuspendJobs") == 1
    assert {job["status"] for job in provider_jobs(simulator, paused) if not job["final"]} <= {"Paused"}
    with pytest.raises(InvalidTaskState):
        call_task_pause(task_id=calling_task.pk)

    resumed = call_task_resume(task_id=calling_task.pk)
    assert resumed.task_type == TaskState.CALLING and resumed.paused_at is None
    assert requests_of(simulator, "ResumeJobs") == 1
    with pytest.raises(InvalidTaskState):
        call_task_resume(task_id=calling_task.pk)


@pytest.mark.parametrize(
    ("action", "provider_action", "before"),
    [
        (call_task_pause, "SuspendJobs", TaskState.CALLING),
        (call_task_resume, "ResumeJobs", TaskState.PAUSED),
        (call_task_cancel, "CancelJobs", TaskState.CALLING),
        (call_task_cancel, "CancelJobs", TaskState.PAUSED),
    ],
)
def test_provider_failure_leaves_the_state_unchanged(calling_task, simulator, action, provider_action, before):
    if before == TaskState.PAUSED:
        call_task_pause(task_id=calling_task.pk)
    simulator.add_fault(provider_action, "unavailable", count=10)
    with pytest.raises(ProviderFailure):
        action(task_id=calling_task.pk)
    calling_task.refresh_from_db()
    assert calling_task.task_type == before
    assert LeadTask.objects.filter(task=calling_task, call_status=statuses.JOB_CANCELLED).count() == 0


@pytest.mark.parametrize("action", [call_task_pause, call_task_resume, call_task_cancel])
def test_success_false_is_a_provider_failure(calling_task, simulator, action):
    if action is call_task_resume:
        call_task_pause(task_id=calling_task.pk)
    before = CallTask.objects.get(pk=calling_task.pk).task_type
    simulator.add_fault("*", "success_false", count=1, code="Forbidden.NoPermission")
    with pytest.raises(ProviderFailure):
        action(task_id=calling_task.pk)
    assert CallTask.objects.get(pk=calling_task.pk).task_type == before


def test_paused_task_is_never_changed_by_a_completion_check(calling_task):
    call_task_pause(task_id=calling_task.pk)
    LeadTask.objects.filter(task=calling_task).update(
        final_at=timezone.now(), call_status="Succeeded", is_connected=True
    )
    result = call_task_check_completion(task_id=calling_task.pk)
    assert result.task_type == TaskState.PAUSED and not result.is_completed
    assert CallTask.objects.get(pk=calling_task.pk).task_type == TaskState.PAUSED


# --- cancel -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pause_first", [False, True])
def test_cancel_keeps_finished_outcomes_and_cancels_the_rest(org, simulator, pause_first):
    simulator.set_speed(0)
    task = new_task(org, 6)
    rows = list(LeadTask.objects.filter(task=task).order_by("id"))
    done, pending = rows[:2], rows[2:]
    simulator.script_outcomes(
        by_reference_id={
            **{row.reference_id: {"attempts": ["SucceededFinish"], "transcript": True} for row in done},
            **{row.reference_id: {"attempts": ["NoAnswer", "NoAnswer", "NoAnswer"]} for row in pending},
        }
    )
    started = call_task_start(task_id=task.pk)
    simulator.advance(5 * 60)  # the two scripted connections finish; the others are still being retried
    truth = {job["reference_id"]: job for job in provider_jobs(simulator, started)}
    assert all(truth[row.reference_id]["final"] for row in done)
    assert not any(truth[row.reference_id]["final"] for row in pending)
    if pause_first:
        call_task_pause(task_id=task.pk)

    cancelled = call_task_cancel(task_id=task.pk)

    assert cancelled.task_type in (TaskState.CALLS_DONE, TaskState.FOLLOWUPS_DONE)
    assert cancelled.cancelled_at and cancelled.calls_done_at and cancelled.paused_at is None
    assert requests_of(simulator, "CancelJobs") == 1
    truth = {job["reference_id"]: job for job in provider_jobs(simulator, started)}
    for row in pending:
        row.refresh_from_db()
        assert truth[row.reference_id]["status"] == statuses.JOB_CANCELLED
        assert row.call_status == statuses.JOB_CANCELLED and row.final_at is not None
        assert not row.is_connected
    for row in done:
        row.refresh_from_db()
        assert row.call_status == statuses.JOB_SUCCEEDED and row.is_connected and row.final_at is not None
        assert row.last_task_status == "SucceededFinish" and row.call_conversation
    assert not LeadTask.objects.filter(task=task, final_at__isnull=True).exists()
    with pytest.raises(InvalidTaskState):
        call_task_cancel(task_id=task.pk)


@pytest.mark.django_db(transaction=True)
def test_cancel_when_every_call_already_finished(org, simulator):
    """The sync inside cancel commits every outcome and its completion check moves 2 → 3: cancel still succeeds."""
    simulator.set_speed(0)
    task = new_task(org, 3)
    simulator.script_outcomes(
        by_reference_id={row.reference_id: {"attempts": ["Busy"]} for row in LeadTask.objects.filter(task=task)}
    )
    started = call_task_start(task_id=task.pk)
    simulator.advance(10 * 60)
    assert all(job["final"] for job in provider_jobs(simulator, started))
    cancelled = call_task_cancel(task_id=task.pk)
    assert cancelled.task_type in (TaskState.CALLS_DONE, TaskState.FOLLOWUPS_DONE)
    assert set(LeadTask.objects.filter(task=task).values_list("call_status", flat=True)) == {statuses.JOB_FAILED}


def test_cancel_of_a_created_task_deletes_it(org, simulator):
    task = new_task(org, 2)
    result = call_task_cancel(task_id=task.pk)
    assert result.deleted_at is not None and result.task_type == TaskState.CREATED
    assert requests_of(simulator, "CancelJobs") == 0


# --- delete -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", [TaskState.CREATED, TaskState.CALLS_DONE, TaskState.FOLLOWUPS_DONE])
def test_delete_allowed_in_1_3_4(org, state):
    task = CallTask.objects.create(organization=org, task_name="x", task_type=state)
    deleted = call_task_delete(task_id=task.pk, organization_id=org.pk)
    assert deleted.deleted_at is not None and deleted.next_check_at is None
    with pytest.raises(TaskNotFound):
        call_task_delete(task_id=task.pk)
    assert deleted.task_type == state


@pytest.mark.parametrize("state", [TaskState.CALLING, TaskState.PAUSED])
def test_delete_refused_while_calls_may_run(org, state):
    task = CallTask.objects.create(organization=org, task_name="x", task_type=state, job_group_id=f"jg-{state}")
    with pytest.raises(InvalidTaskState) as exc:
        call_task_delete(task_id=task.pk)
    assert exc.value.http_status == 409
    task.refresh_from_db()
    assert task.deleted_at is None


def test_delete_after_cancel(calling_task):
    call_task_cancel(task_id=calling_task.pk)
    assert call_task_delete(task_id=calling_task.pk).deleted_at is not None


def test_other_organizations_task_is_not_found(org, other_org):
    task = CallTask.objects.create(organization=org, task_name="x", task_type=TaskState.CALLING, job_group_id="jg-x")
    for action in (call_task_pause, call_task_resume, call_task_cancel, call_task_delete):
        with pytest.raises(TaskNotFound):
            action(task_id=task.pk, organization_id=other_org.pk)
