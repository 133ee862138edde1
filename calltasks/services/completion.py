"""Completion checks (SPEC §3): 2 → 3 when the calls are done, 3 → 4 when every row has a follow-up.

Every check is a constant number of queries whatever the task size: one read of the task, one aggregate
over its rows, at most two compare-and-set updates. A paused task is never changed; states never go back.
Reads that only show the state (``call_task_state_checked``) skip the check for tasks that cannot advance.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from calltasks.models import CallTask, LeadTask, OutboundCallRecord
from calltasks.provider import statuses
from calltasks.states import TaskState

logger = logging.getLogger(__name__)


@dataclass
class CompletionResult:
    task_id: int
    task_type: int
    is_completed: bool
    total_calls: int
    connected_calls: int
    finished_calls: int
    followed_calls: int
    changed: bool = False

    def as_dict(self) -> dict:
        return {
            "task_id": self.task_id,
            "task_type": self.task_type,
            "is_completed": self.is_completed,
            "total_calls": self.total_calls,
            "connected_calls": self.connected_calls,
            "finished_calls": self.finished_calls,
            "followed_calls": self.followed_calls,
        }


def connected_status_q(prefix: str = "") -> Q:
    """Seed 002's connected call statuses (``Connected``, ``Succeeded``, every ``Succeeded*``) as a filter."""
    return Q(**{f"{prefix}call_status__in": sorted(statuses.CONNECTED_STATUSES)}) | Q(
        **{f"{prefix}call_status__startswith": "Succeeded"}
    )


def row_counts(task_id: int) -> dict[str, int]:
    """One aggregate query: total, final, connected and followed-up rows of a task.

    A row counts as connected when the sync marked it connected or when one of its call records has a
    connected status (seed 002 writes call records and checks those).
    """
    connected_record = Exists(
        OutboundCallRecord.objects.filter(lead_task_id=OuterRef("pk")).filter(connected_status_q())
    )
    return LeadTask.objects.filter(task_id=task_id).aggregate(
        total=Count("id"),
        final=Count("id", filter=Q(final_at__isnull=False)),
        connected=Count("id", filter=Q(is_connected=True) | Q(connected_record)),
        followed=Count("id", filter=Q(leads_follow__isnull=False)),
    )


def calls_done(counts: dict[str, int], rule: str | None = None) -> bool:
    rule = rule or settings.CALLTASKS_COMPLETION_RULE
    if not counts["total"]:
        return False
    if rule == "all_connected":
        return counts["connected"] == counts["total"]
    return counts["final"] == counts["total"]


def _notify_completed(task_id: int) -> None:
    try:
        from calltasks.services.notifications import task_completed_notify
    except ImportError:  # notifications are optional
        return
    transaction.on_commit(lambda: task_completed_notify(task_id=task_id))


#: The states a check can move a task out of (2 → 3, 3 → 4). Created (1) has no calls yet, a paused task (5)
#: is never changed, and follow-ups done (4) is the last state: a check of those can only read counts.
ADVANCING_STATES = frozenset({TaskState.CALLING, TaskState.CALLS_DONE})


def call_task_state_checked(*, task: CallTask, now: dt.datetime | None = None) -> int:
    """The state of ``task`` (just read by the caller) after a completion check, for reads that show the state
    but not the counts.

    Only a task that can still advance (live, state 2 or 3) gets the check: a fresh read of its row, the
    aggregate over its rows, the compare-and-set updates. Any other task keeps its state (4 is final, a paused
    task is never changed), so no query is made and reading it costs the same whatever its size.
    """
    if task.deleted_at is not None or task.task_type not in ADVANCING_STATES:
        return task.task_type
    return call_task_check_completion(task_id=task.pk, now=now).task_type


def call_task_check_completion(*, task_id: int, now: dt.datetime | None = None) -> CompletionResult:
    now = now or timezone.now()
    task = CallTask.objects.filter(pk=task_id).values("pk", "task_name", "task_type", "deleted_at").first()
    if task is None:
        raise CallTask.DoesNotExist(task_id)
    counts = row_counts(task_id)
    state = task["task_type"]
    changed = False
    if task["deleted_at"] is None:
        if state == TaskState.CALLING and calls_done(counts):
            if CallTask.objects.filter(pk=task_id, task_type=TaskState.CALLING).update(
                task_type=TaskState.CALLS_DONE, calls_done_at=now, next_check_at=now
            ):
                state = TaskState.CALLS_DONE
                changed = True
                logger.info(
                    _("Task %(name)s (ID: %(id)s) finished calling, state updated to 3"),
                    {"name": task["task_name"], "id": task_id},
                )
        if state == TaskState.CALLS_DONE and counts["total"] and counts["followed"] == counts["total"]:
            if CallTask.objects.filter(pk=task_id, task_type=TaskState.CALLS_DONE).update(
                task_type=TaskState.FOLLOWUPS_DONE, followups_done_at=now, next_check_at=None
            ):
                state = TaskState.FOLLOWUPS_DONE
                changed = True
                logger.info(
                    _("Task %(name)s (ID: %(id)s): every lead followed up, state updated to 4"),
                    {"name": task["task_name"], "id": task_id},
                )
                _notify_completed(task_id)
    return CompletionResult(
        task_id=task_id,
        task_type=state,
        is_completed=state in (TaskState.CALLS_DONE, TaskState.FOLLOWUPS_DONE),
        total_calls=counts["total"],
        connected_calls=counts["connected"],
        finished_calls=counts["final"],
        followed_calls=counts["followed"],
        changed=changed,
    )


def check_and_update_task_completion(job_group_id: str) -> list[CompletionResult]:
    """Seed 002's entry point: check every task of a provider job group."""
    task_ids = list(CallTask.objects.filter(job_group_id=job_group_id).values_list("pk", flat=True))
    return [call_task_check_completion(task_id=task_id) for task_id in task_ids]


# --- deferred checks after writes ---------------------------------------------------------------------------
class _DeferredCheck:
    """An on_commit callback that remembers its task, so one transaction schedules one check per task."""

    def __init__(self, task_id: int):
        self.task_id = task_id
        self.done = False

    def __call__(self) -> None:
        self.done = True
        job_group_id = CallTask.objects.filter(pk=self.task_id).values_list("job_group_id", flat=True).first()
        if job_group_id:
            check_and_update_task_completion(job_group_id)
        else:
            call_task_check_completion(task_id=self.task_id)


def schedule_completion_check(task_id: int) -> None:
    """Run the check once per task after the current transaction commits (many writes → one check)."""
    connection = transaction.get_connection()
    if connection.in_atomic_block:
        for _sids, func, _robust in connection.run_on_commit:
            # A callback that already ran (tests execute captured callbacks without committing) no longer counts.
            if isinstance(func, _DeferredCheck) and func.task_id == task_id and not func.done:
                return
    transaction.on_commit(_DeferredCheck(task_id))


def call_record_saved(sender, instance: OutboundCallRecord, **kwargs) -> None:
    """post_save of a call record (seed 002): check the task's completion after commit."""
    schedule_completion_check(instance.call_task_id)


def connected_record_count(task_id: int) -> dict[str, int]:
    """Seed 002 counts over call records (attempts): total and connected."""
    return OutboundCallRecord.objects.filter(call_task_id=task_id).aggregate(
        total=Count("id"), connected=Count("id", filter=connected_status_q())
    )
