"""Reads of the calltasks app for the API: task lists and statistics, lead-row pages, call records, follow-ups.

Every function here runs a constant number of queries whatever the task size: statistics are single
aggregate queries, pages are one ``SELECT … LIMIT`` with their follow-up joined in.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from calltasks.models import CallTask, LeadTask, OutboundCallRecord
from calltasks.states import MONITORED_STATES
from followups.models import FollowUp

#: ``interest`` filter value meaning "not judged yet" (``is_interested IS NULL``).
PENDING = "pending"

BUSY_STATUSES = ("Busy",)
NO_ANSWER_STATUSES = ("NoAnswer", "SucceededClientHangUpAfterNoAnswer")


# --- tasks ---------------------------------------------------------------------------------------------------


def call_task_list(*, organization_id: int) -> QuerySet[CallTask]:
    """The organization's live (not deleted) tasks, newest first."""
    return CallTask.objects.alive().for_organization(organization_id).select_related("created_by")


def monitored_task_ids(*, organization_id: int) -> list[int]:
    """The organization's live tasks the monitor looks at (calling, or calls done)."""
    return list(
        call_task_list(organization_id=organization_id)
        .filter(task_type__in=MONITORED_STATES)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _progress_annotations(prefix: str = "lead_rows__") -> dict:
    return {
        "rows_total": Count(f"{prefix}id"),
        "rows_final": Count(f"{prefix}id", filter=Q(**{f"{prefix}final_at__isnull": False})),
        "rows_connected": Count(f"{prefix}id", filter=Q(**{f"{prefix}is_connected": True})),
        "rows_followed": Count(f"{prefix}id", filter=Q(**{f"{prefix}leads_follow__isnull": False})),
        "rows_interested": Count(f"{prefix}id", filter=Q(**{f"{prefix}is_interested": 1})),
        "rows_not_interested": Count(f"{prefix}id", filter=Q(**{f"{prefix}is_interested": 2})),
        "rows_undecided": Count(f"{prefix}id", filter=Q(**{f"{prefix}is_interested": 0})),
        "rows_pending": Count(f"{prefix}id", filter=Q(**{f"{prefix}is_interested__isnull": True})),
    }


def task_statistics_list(*, organization_id: int) -> QuerySet[CallTask]:
    """Tasks annotated with their row statistics: one grouped query per page, whatever the task sizes."""
    return call_task_list(organization_id=organization_id).annotate(**_progress_annotations())


@dataclass(frozen=True)
class TaskStatistics:
    task_id: int
    total: int
    final: int
    connected: int
    followed: int
    interested: int
    not_interested: int
    undecided: int
    pending: int

    @property
    def not_connected(self) -> int:
        return self.final - self.connected if self.final >= self.connected else 0

    @property
    def connect_rate(self) -> float:
        return round(self.connected * 100 / self.total, 2) if self.total else 0.0

    def as_dict(self) -> dict:
        return {
            "task_id": self.task_id,
            "total_leads": self.total,
            "finished_calls": self.final,
            "connected_calls": self.connected,
            "not_connected_calls": self.not_connected,
            "followed_calls": self.followed,
            "connect_rate": self.connect_rate,
            "interested": self.interested,
            "not_interested": self.not_interested,
            "unable_to_judge": self.undecided,
            "pending_follow": self.pending,
        }

    @classmethod
    def from_annotated(cls, task: CallTask) -> TaskStatistics:
        return cls(
            task_id=task.pk,
            total=task.rows_total,
            final=task.rows_final,
            connected=task.rows_connected,
            followed=task.rows_followed,
            interested=task.rows_interested,
            not_interested=task.rows_not_interested,
            undecided=task.rows_undecided,
            pending=task.rows_pending,
        )


def task_statistics(*, task_id: int) -> TaskStatistics:
    """Totals, connected and interest counts of one task: one aggregate query."""
    row = LeadTask.objects.filter(task_id=task_id).aggregate(**_progress_annotations(prefix=""))
    return TaskStatistics(
        task_id=task_id,
        total=row["rows_total"],
        final=row["rows_final"],
        connected=row["rows_connected"],
        followed=row["rows_followed"],
        interested=row["rows_interested"],
        not_interested=row["rows_not_interested"],
        undecided=row["rows_undecided"],
        pending=row["rows_pending"],
    )


# --- lead rows ---------------------------------------------------------------------------------------------


def lead_row_list(*, organization_id: int) -> QuerySet[LeadTask]:
    """Lead rows of the organization's live tasks, with their follow-up joined in (no N+1)."""
    return (
        LeadTask.objects.filter(task__organization_id=organization_id, task__deleted_at__isnull=True)
        .select_related("leads_follow", "task")
        .order_by("task_id", "id")
    )


def interest_q(value, field: str = "is_interested") -> Q:
    """``0|1|2`` → that verdict; ``"pending"`` → not judged yet (NULL)."""
    if value == PENDING:
        return Q(**{f"{field}__isnull": True})
    return Q(**{field: int(value)})


def lead_row_filter_q(*, only_followed: bool = False, interest=None) -> Q:
    condition = Q()
    if only_followed:
        condition &= Q(leads_follow__isnull=False)
    if interest is not None:
        condition &= interest_q(interest)
    return condition


@dataclass(frozen=True)
class ExecutionStats:
    total: int
    connected: int
    not_connected: int
    not_started: int
    in_progress: int
    followed: int
    matching: int


def task_execution_stats(*, task_id: int, row_filter: Q | None = None) -> ExecutionStats:
    """Seed ``task_stats`` plus the number of rows matching ``row_filter`` (for pagination): one query."""
    not_started = Q(call_status="") & Q(final_at__isnull=True)
    counts = LeadTask.objects.filter(task_id=task_id).aggregate(
        total=Count("id"),
        connected=Count("id", filter=Q(is_connected=True)),
        not_connected=Count("id", filter=Q(final_at__isnull=False, is_connected=False)),
        not_started=Count("id", filter=not_started),
        followed=Count("id", filter=Q(leads_follow__isnull=False)),
        matching=Count("id", filter=row_filter) if row_filter else Count("id"),
    )
    in_progress = counts["total"] - counts["connected"] - counts["not_connected"] - counts["not_started"]
    return ExecutionStats(
        total=counts["total"],
        connected=counts["connected"],
        not_connected=counts["not_connected"],
        not_started=counts["not_started"],
        in_progress=max(in_progress, 0),
        followed=counts["followed"],
        matching=counts["matching"],
    )


#: The columns a follow-up record shows (seed ``/task_followup_records``): no transcript, no provider fields.
FOLLOWUP_RECORD_FIELDS = (
    "id",
    "leads_id",
    "leads_name",
    "leads_phone",
    "is_interested",
    "call_duration",
    "call_status",
    "is_connected",
    "call_time",
    "leads_follow",
    "leads_follow__leads_remark",
    "leads_follow__follow_time",
    "leads_follow__next_follow_time",
    "leads_follow__judge",
)


def lead_rows_page(
    *,
    task_id: int,
    row_filter: Q | None = None,
    offset: int = 0,
    limit: int = 20,
    fields: tuple[str, ...] | None = None,
) -> list[LeadTask]:
    """One page of a task's rows in id order with their follow-up (one query); ``fields`` loads only those.

    The page's ids are picked by a subquery that walks the ``(task_id, id)`` index (index-only on PostgreSQL):
    the rows an offset skips are neither read nor joined to their follow-up, so page 200 costs about what page 1
    does. Selecting the joined page directly made PostgreSQL join and sort every row of the task first.
    """
    ids = LeadTask.objects.filter(task_id=task_id)
    if row_filter:
        ids = ids.filter(row_filter)
    page_ids = ids.order_by("id").values("id")[offset : offset + limit]
    qs = LeadTask.objects.filter(pk__in=page_ids).select_related("leads_follow").order_by("id")
    if fields:
        qs = qs.only(*fields)
    return list(qs)


def followup_records_page(*, task_id: int, offset: int = 0, limit: int = 20) -> list[LeadTask]:
    """A page of ``/task_followup_records``: rows with only the columns a follow-up record shows (one query)."""
    return lead_rows_page(task_id=task_id, offset=offset, limit=limit, fields=FOLLOWUP_RECORD_FIELDS)


@dataclass(frozen=True)
class CallStatistics:
    total: int
    connected: int
    failed: int
    busy: int
    no_answer: int

    @property
    def success_rate(self) -> float:
        return round(self.connected * 100 / self.total, 2) if self.total else 0.0

    def as_dict(self) -> dict:
        return {
            "total_calls": self.total,
            "connected_calls": self.connected,
            "failed_calls": self.failed,
            "busy_calls": self.busy,
            "no_answer_calls": self.no_answer,
            "success_rate": self.success_rate,
        }


def task_call_statistics(*, task_id: int) -> CallStatistics:
    """Outcome counts of a task's rows (one aggregate): busy / no answer / other failures are disjoint."""
    not_connected_final = Q(final_at__isnull=False, is_connected=False)
    busy = not_connected_final & (Q(last_task_status__in=BUSY_STATUSES) | Q(failure_reason__in=BUSY_STATUSES))
    no_answer = (
        not_connected_final
        & ~busy
        & (Q(last_task_status__in=NO_ANSWER_STATUSES) | Q(failure_reason__in=NO_ANSWER_STATUSES))
    )
    counts = LeadTask.objects.filter(task_id=task_id).aggregate(
        total=Count("id"),
        connected=Count("id", filter=Q(is_connected=True)),
        not_connected=Count("id", filter=not_connected_final),
        busy=Count("id", filter=busy),
        no_answer=Count("id", filter=no_answer),
    )
    return CallStatistics(
        total=counts["total"],
        connected=counts["connected"],
        failed=counts["not_connected"] - counts["busy"] - counts["no_answer"],
        busy=counts["busy"],
        no_answer=counts["no_answer"],
    )


# --- call records and follow-ups ----------------------------------------------------------------------------


def call_record_list(*, organization_id: int) -> QuerySet[OutboundCallRecord]:
    return (
        OutboundCallRecord.objects.filter(
            call_task__organization_id=organization_id, call_task__deleted_at__isnull=True
        )
        .select_related("lead_task")
        .order_by("-id")
    )


def follow_up_list(*, organization_id: int) -> QuerySet[FollowUp]:
    """Follow-up records of the organization's leads, with the lead and task row joined in."""
    return (
        FollowUp.objects.filter(lead__organization_id=organization_id)
        .select_related("lead", "lead_task")
        .order_by("-follow_time", "-id")
    )


# --- admin ----------------------------------------------------------------------------------------------------


def task_progress_map(*, task_ids: list[int]) -> dict[int, TaskStatistics]:
    """Progress and interest counts of the given tasks (the admin list's page): one grouped query.

    Aggregating only the page's ids keeps the cost with the page, not with every task of the organization.
    """
    if not task_ids:
        return {}
    tasks = CallTask.objects.filter(pk__in=list(task_ids)).order_by().annotate(**_progress_annotations())
    return {task.pk: TaskStatistics.from_annotated(task) for task in tasks.only("pk")}


def lead_row_detail(*, row_id: int) -> tuple[list[OutboundCallRecord], FollowUp | None]:
    """A lead row's call attempts (oldest first) and its follow-up record: two queries."""
    records = list(OutboundCallRecord.objects.filter(lead_task_id=row_id).order_by("actual_time", "id"))
    follow_up = FollowUp.objects.filter(lead_task_id=row_id).first()
    return records, follow_up


def task_rows_preview(*, task_id: int, limit: int = 50) -> list[LeadTask]:
    """The first ``limit`` rows of a task with their follow-up, for the task page (one query)."""
    return list(LeadTask.objects.filter(task_id=task_id).select_related("leads_follow").order_by("id")[:limit])
