"""Completion checks (SPEC §3): both rules, 2→3→4, monotonic, paused/created/deleted untouched, signal, queries."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calltasks.models import CallTask, LeadTask, OutboundCallRecord
from calltasks.services.completion import (
    call_task_check_completion,
    check_and_update_task_completion,
    connected_record_count,
)
from calltasks.states import TaskState
from followups.models import FollowUp
from tests.calltasks.services.conftest import make_task
from tests.factories import OutboundCallRecordFactory

pytestmark = pytest.mark.django_db


def finish(task, *, connected: bool = True, rows=None) -> None:
    qs = LeadTask.objects.filter(task=task) if rows is None else LeadTask.objects.filter(pk__in=[r.pk for r in rows])
    qs.update(
        final_at=timezone.now(),
        call_status="Succeeded" if connected else "Failed",
        is_connected=connected,
        call_job_id=None,
    )


def follow_all(task) -> None:
    for row in LeadTask.objects.filter(task=task, leads_follow__isnull=True):
        followup = FollowUp.objects.create(
            lead=row.lead, lead_task=row, source=FollowUp.Source.AI_CALL, is_interested=0
        )
        row.leads_follow = followup
        row.is_interested = 0
        row.save(update_fields=["leads_follow", "is_interested"])


def state(task) -> int:
    return CallTask.objects.values_list("task_type", flat=True).get(pk=task.pk)


def test_all_final_rule_2_to_3_only_when_every_row_is_final(org):
    task = make_task(org, 4)
    rows = list(task.lead_rows.all())
    finish(task, rows=rows[:3])
    result = call_task_check_completion(task_id=task.pk)
    assert (result.task_type, result.is_completed, result.changed) == (TaskState.CALLING, False, False)
    assert (result.total_calls, result.finished_calls) == (4, 3)

    finish(task, rows=rows[3:], connected=False)
    result = call_task_check_completion(task_id=task.pk)
    assert (result.task_type, result.is_completed, result.changed) == (TaskState.CALLS_DONE, True, True)
    assert (result.total_calls, result.connected_calls, result.finished_calls, result.followed_calls) == (4, 3, 4, 0)
    task.refresh_from_db()
    assert task.task_type == TaskState.CALLS_DONE and task.calls_done_at is not None


def test_3_to_4_when_every_row_is_followed(org):
    task = make_task(org, 3, task_type=TaskState.CALLS_DONE)
    finish(task)
    rows = list(task.lead_rows.all())
    follow_all_but_one = rows[:2]
    for row in follow_all_but_one:
        row.leads_follow = FollowUp.objects.create(lead=row.lead, lead_task=row)
        row.save(update_fields=["leads_follow"])
    assert call_task_check_completion(task_id=task.pk).task_type == TaskState.CALLS_DONE
    follow_all(task)
    result = call_task_check_completion(task_id=task.pk)
    assert (result.task_type, result.followed_calls, result.changed) == (TaskState.FOLLOWUPS_DONE, 3, True)
    task.refresh_from_db()
    assert task.followups_done_at is not None and task.next_check_at is None


def test_2_to_3_to_4_in_one_check(org):
    task = make_task(org, 3)
    finish(task)
    follow_all(task)
    result = call_task_check_completion(task_id=task.pk)
    assert result.task_type == TaskState.FOLLOWUPS_DONE and result.is_completed
    task.refresh_from_db()
    assert task.calls_done_at is not None and task.followups_done_at is not None


def test_states_never_move_backwards(org):
    task = make_task(org, 2)
    finish(task)
    follow_all(task)
    assert call_task_check_completion(task_id=task.pk).task_type == TaskState.FOLLOWUPS_DONE
    # Rows lose their outcome (e.g. an operator edit): the check never goes back to 3 or 2.
    LeadTask.objects.filter(task=task).update(final_at=None, leads_follow=None, is_connected=False)
    result = call_task_check_completion(task_id=task.pk)
    assert result.task_type == TaskState.FOLLOWUPS_DONE and not result.changed
    assert state(task) == TaskState.FOLLOWUPS_DONE

    calls_done = make_task(org, 2, task_type=TaskState.CALLS_DONE)
    assert call_task_check_completion(task_id=calls_done.pk).task_type == TaskState.CALLS_DONE
    assert state(calls_done) == TaskState.CALLS_DONE


@pytest.mark.parametrize("rule", ["all_final", "all_connected"])
@pytest.mark.parametrize("frozen", [TaskState.PAUSED, TaskState.CREATED])
def test_paused_and_created_tasks_are_never_changed(org, settings, rule, frozen):
    settings.CALLTASKS_COMPLETION_RULE = rule
    task = make_task(org, 2, task_type=frozen)
    finish(task)
    follow_all(task)
    result = call_task_check_completion(task_id=task.pk)
    assert result.task_type == frozen and not result.changed and not result.is_completed
    assert state(task) == frozen


def test_deleted_tasks_are_untouched(org):
    task = make_task(org, 2, job_group_id="jg-deleted")
    finish(task)
    follow_all(task)
    CallTask.objects.filter(pk=task.pk).update(deleted_at=timezone.now(), task_type=TaskState.CALLING)
    assert call_task_check_completion(task_id=task.pk).task_type == TaskState.CALLING
    check_and_update_task_completion("jg-deleted")
    assert state(task) == TaskState.CALLING


def test_empty_task_never_completes(org):
    task = make_task(org, 0)
    assert call_task_check_completion(task_id=task.pk).task_type == TaskState.CALLING


def test_all_connected_rule_waits_for_every_row_to_connect(org, settings):
    settings.CALLTASKS_COMPLETION_RULE = "all_connected"
    task = make_task(org, 3)
    rows = list(task.lead_rows.all())
    finish(task, rows=rows[:2], connected=True)
    finish(task, rows=rows[2:], connected=False)
    result = call_task_check_completion(task_id=task.pk)
    assert result.task_type == TaskState.CALLING and result.finished_calls == 3 and result.connected_calls == 2
    finish(task, rows=rows[2:], connected=True)
    assert call_task_check_completion(task_id=task.pk).task_type == TaskState.CALLS_DONE


def _seed_records(task, statuses_: list[str]) -> list[OutboundCallRecord]:
    return [
        OutboundCallRecordFactory(
            lead_task=row, call_task=task, job_group_id=task.job_group_id, call_status=status, has_answered=False
        )
        for row, status in zip(task.lead_rows.order_by("id"), statuses_, strict=True)
    ]


def test_seed_002_scenario_all_connected(org, settings, django_capture_on_commit_callbacks):
    """Seed 002's own test: partly connected records → not complete; all connected → 3, 5/5."""
    settings.CALLTASKS_COMPLETION_RULE = "all_connected"
    task = make_task(org, 5, job_group_id="jg-seed-002")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        records = _seed_records(task, ["Connected", "SucceededFinish", "SucceededTransferByIntent", "NoAnswer", "Busy"])
    assert len(callbacks) == 1  # five record saves in one transaction → one deferred check
    assert state(task) == TaskState.CALLING
    (result,) = check_and_update_task_completion("jg-seed-002")
    assert (result.is_completed, result.total_calls, result.connected_calls) == (False, 5, 3)

    with django_capture_on_commit_callbacks(execute=True):
        for record in records[3:]:
            record.call_status = "Succeeded"
            record.save()
    assert state(task) == TaskState.CALLS_DONE
    (result,) = check_and_update_task_completion("jg-seed-002")
    assert result.as_dict() | {"task_id": 0} == {
        "task_id": 0,
        "task_type": TaskState.CALLS_DONE,
        "is_completed": True,
        "total_calls": 5,
        "connected_calls": 5,
        "finished_calls": 0,
        "followed_calls": 0,
    }
    assert connected_record_count(task.pk) == {"total": 5, "connected": 5}


def test_seed_002_scenario_all_final(org, settings, django_capture_on_commit_callbacks):
    """Under the default rule, partly *final* → not complete; every row final (connected or not) → 3."""
    settings.CALLTASKS_COMPLETION_RULE = "all_final"
    task = make_task(org, 5, job_group_id="jg-seed-002-final")
    rows = list(task.lead_rows.order_by("id"))
    with django_capture_on_commit_callbacks(execute=True):
        _seed_records(task, ["Connected", "SucceededFinish", "SucceededTransferByIntent", "NoAnswer", "Busy"])
        finish(task, rows=rows[:3])
    result = call_task_check_completion(task_id=task.pk)
    assert (result.task_type, result.total_calls, result.connected_calls) == (TaskState.CALLING, 5, 3)
    with django_capture_on_commit_callbacks(execute=True):
        finish(task, rows=rows[3:], connected=False)
        OutboundCallRecord.objects.filter(call_task=task, call_status="Busy").get().save()
    result = call_task_check_completion(task_id=task.pk)
    assert (result.task_type, result.is_completed, result.total_calls, result.connected_calls) == (
        TaskState.CALLS_DONE,
        True,
        5,
        3,
    )


def test_record_post_save_triggers_the_check_after_commit(org, django_capture_on_commit_callbacks):
    task = make_task(org, 1, job_group_id="jg-signal")
    finish(task)
    row = task.lead_rows.get()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        OutboundCallRecordFactory(lead_task=row, call_task=task, job_group_id="jg-signal")
        assert state(task) == TaskState.CALLING  # nothing happens before commit
    assert len(callbacks) == 1
    assert state(task) == TaskState.CALLING
    callbacks[0]()
    assert state(task) == TaskState.CALLS_DONE


def test_many_record_saves_in_one_transaction_schedule_one_check(org, django_capture_on_commit_callbacks):
    task = make_task(org, 20, job_group_id="jg-many")
    other = make_task(org, 1, job_group_id="jg-many-other")
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        for row in task.lead_rows.all():
            OutboundCallRecordFactory(lead_task=row, call_task=task, job_group_id="jg-many")
            OutboundCallRecordFactory(lead_task=row, call_task=task, job_group_id="jg-many", call_status="NoAnswer")
        OutboundCallRecordFactory(lead_task=other.lead_rows.get(), call_task=other, job_group_id="jg-many-other")
    assert len(callbacks) == 2  # one per task, not one per record


def test_check_and_update_task_completion_by_job_group(org):
    task = make_task(org, 2, job_group_id="jg-by-group")
    finish(task)
    (result,) = check_and_update_task_completion("jg-by-group")
    assert result.task_id == task.pk and result.task_type == TaskState.CALLS_DONE
    assert check_and_update_task_completion("jg-unknown") == []


def test_completion_check_runs_a_constant_number_of_queries(org):
    small = make_task(org, 10)
    large = make_task(org, 2000)
    for task in (small, large):
        rows = list(task.lead_rows.all())
        finish(task, rows=rows[: len(rows) // 2])
        OutboundCallRecord.objects.bulk_create(
            [
                OutboundCallRecord(
                    call_task=task, lead_task=row, job_group_id="x", job_id=f"j{row.pk}", provider_task_id=f"t{row.pk}"
                )
                for row in rows
            ]
        )
    counts = {}
    for task in (small, large):
        with CaptureQueriesContext(connection) as ctx:
            call_task_check_completion(task_id=task.pk)
        counts[task.leads_count] = len(ctx.captured_queries)
    assert counts[10] == counts[2000], counts
    # and when both move 2 → 3 → 4
    for task in (small, large):
        finish(task)
        LeadTask.objects.filter(task=task).update(
            leads_follow=FollowUp.objects.create(lead=task.lead_rows.first().lead)
        )
    moving = {}
    for task in (small, large):
        with CaptureQueriesContext(connection) as ctx:
            assert call_task_check_completion(task_id=task.pk).task_type == TaskState.FOLLOWUPS_DONE
        moving[task.leads_count] = len(ctx.captured_queries)
    assert moving[10] == moving[2000], moving
    print(f"completion check queries: idle {counts}, 2→3→4 {moving}")
