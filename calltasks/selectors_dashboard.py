"""Reads for the supervisors' dashboard (admin ``/admin/dashboard/``).

Every function is one aggregate query (GROUP BY with annotations, ``TruncDate`` in the local time zone),
so the page costs the same number of queries whatever the number of tasks, lead rows and calls.

``organization_id=None`` means every organization (superusers only; the view decides who may ask for it).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from calltasks.models import CallTask, OutboundCallRecord
from calltasks.services.completion import connected_status_q
from calltasks.states import ACTIVE_STATES, TaskState
from followups.models import FollowUp

#: Tasks shown in the per-task interest chart.
RECENT_TASKS = 20
#: Days in the timeline chart (today included).
TIMELINE_DAYS = 30
#: Rows in the "follow-ups due today" table.
DUE_ROWS = 10


def local_zone() -> dt.tzinfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def local_day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a local calendar day as aware datetimes."""
    zone = local_zone()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
    return start, dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=zone)


def _tasks(organization_id: int | None) -> QuerySet[CallTask]:
    qs = CallTask.objects.alive()
    return qs if organization_id is None else qs.filter(organization_id=organization_id)


def _records(organization_id: int | None) -> QuerySet[OutboundCallRecord]:
    qs = OutboundCallRecord.objects.filter(call_task__deleted_at__isnull=True)
    return qs if organization_id is None else qs.filter(call_task__organization_id=organization_id)


def _connected_record_q() -> Q:
    return Q(has_answered=True) | connected_status_q()


def _call_time():
    """When a call happened: its start, else its planned time, else when we stored it."""
    return Coalesce("actual_time", "planed_time", "created")


def _rate(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


# --- tasks by state ----------------------------------------------------------------------------------------


def dashboard_state_counts(*, organization_id: int | None) -> list[dict]:
    """Live tasks per state, every state listed (zeros included), in state order. One query."""
    counts = dict(_tasks(organization_id).order_by().values_list("task_type").annotate(n=Count("id")))
    return [{"state": int(state), "label": str(state.label), "count": counts.get(state, 0)} for state in TaskState]


# --- per task ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskMix:
    id: int
    name: str
    task_type: int
    total: int
    called: int
    connected: int
    interested: int
    not_interested: int
    undecided: int
    pending: int

    @property
    def connect_rate(self) -> float | None:
        """Connected rows among the rows that were called (have a final outcome or are connected)."""
        return _rate(self.connected, max(self.called, self.connected))


def dashboard_task_mix(*, organization_id: int | None, limit: int = RECENT_TASKS) -> list[TaskMix]:
    """The newest ``limit`` live tasks with their lead-row interest mix and connect rate. One grouped query."""
    rows = (
        _tasks(organization_id)
        .order_by("-create_time", "-id")
        .annotate(
            total=Count("lead_rows"),
            called=Count("lead_rows", filter=Q(lead_rows__final_at__isnull=False)),
            connected=Count("lead_rows", filter=Q(lead_rows__is_connected=True)),
            interested=Count("lead_rows", filter=Q(lead_rows__is_interested=1)),
            not_interested=Count("lead_rows", filter=Q(lead_rows__is_interested=2)),
            undecided=Count("lead_rows", filter=Q(lead_rows__is_interested=0)),
            pending=Count("lead_rows", filter=Q(lead_rows__is_interested__isnull=True)),
        )
        .values(
            "id", "task_name", "task_type", "total", "called", "connected",
            "interested", "not_interested", "undecided", "pending",
        )[:limit]
    )
    return [
        TaskMix(
            id=row["id"],
            name=row["task_name"],
            task_type=row["task_type"],
            total=row["total"],
            called=row["called"],
            connected=row["connected"],
            interested=row["interested"],
            not_interested=row["not_interested"],
            undecided=row["undecided"],
            pending=row["pending"],
        )
        for row in rows
    ]


# --- over time -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayPoint:
    day: dt.date
    calls: int = 0
    connected: int = 0
    interested: int = 0


def dashboard_timeline(
    *, organization_id: int | None, today: dt.date | None = None, days: int = TIMELINE_DAYS
) -> list[DayPoint]:
    """Per local day of the last ``days`` days (oldest first): calls made, calls connected, and AI-call
    follow-ups judged interested. Two grouped queries."""
    zone = local_zone()
    today = today or timezone.localdate()
    first = today - dt.timedelta(days=days - 1)
    start, _ = local_day_bounds(first)
    _, end = local_day_bounds(today)

    calls = (
        _records(organization_id)
        .annotate(at=_call_time())
        .filter(at__gte=start, at__lt=end)
        .annotate(day=TruncDate("at", tzinfo=zone))
        .order_by()
        .values("day")
        .annotate(calls=Count("id"), connected=Count("id", filter=_connected_record_q()))
    )
    followups = FollowUp.objects.filter(
        source=FollowUp.Source.AI_CALL, is_interested=1, follow_time__gte=start, follow_time__lt=end
    )
    if organization_id is not None:
        followups = followups.filter(lead__organization_id=organization_id)
    interested = (
        followups.annotate(day=TruncDate("follow_time", tzinfo=zone)).order_by().values("day").annotate(n=Count("id"))
    )

    by_day: dict[dt.date, dict] = {}
    for row in calls:
        by_day.setdefault(_as_date(row["day"]), {}).update(calls=row["calls"], connected=row["connected"])
    for row in interested:
        by_day.setdefault(_as_date(row["day"]), {})["interested"] = row["n"]
    return [
        DayPoint(day=day, **by_day.get(day, {})) for day in (first + dt.timedelta(days=i) for i in range(days))
    ]


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):  # some SQLite builds hand back the text
        return dt.date.fromisoformat(value[:10])
    return value


# --- today ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Headline:
    active_tasks: int
    calls_today: int
    leads_called_today: int
    connected_today: int

    @property
    def connect_rate_today(self) -> float | None:
        return _rate(self.connected_today, self.calls_today)


def dashboard_headline(
    *, organization_id: int | None, state_counts: list[dict], day: dt.date | None = None
) -> Headline:
    """Active tasks (from ``state_counts``, no query) and today's calls: one aggregate query."""
    start, end = local_day_bounds(day or timezone.localdate())
    totals = (
        _records(organization_id)
        .annotate(at=_call_time())
        .filter(at__gte=start, at__lt=end)
        .aggregate(
            calls=Count("id"),
            leads=Count("lead_task", distinct=True),
            connected=Count("id", filter=_connected_record_q()),
        )
    )
    active = sum(item["count"] for item in state_counts if item["state"] in ACTIVE_STATES)
    return Headline(
        active_tasks=active,
        calls_today=totals["calls"] or 0,
        leads_called_today=totals["leads"] or 0,
        connected_today=totals["connected"] or 0,
    )


@dataclass
class DueToday:
    count: int
    rows: list[FollowUp] = field(default_factory=list)


def dashboard_followups_due(
    *, organization_id: int | None, day: dt.date | None = None, limit: int = DUE_ROWS
) -> DueToday:
    """Follow-up records whose next follow-up time falls on the local day: the count and the earliest
    ``limit`` of them (with their lead). Two queries."""
    start, end = local_day_bounds(day or timezone.localdate())
    qs = FollowUp.objects.filter(next_follow_time__gte=start, next_follow_time__lt=end)
    if organization_id is not None:
        qs = qs.filter(lead__organization_id=organization_id)
    count = qs.count()
    rows = list(qs.select_related("lead").order_by("next_follow_time", "id")[:limit]) if count else []
    return DueToday(count=count, rows=rows)
