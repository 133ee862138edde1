"""Reads of leads and follow-ups, including the task-creation lead filter (``size_desc``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Exists, Max, Min, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from followups.models import FollowUp, Lead

DATE_DIMENSIONS = ("first_follow", "latest_follow", "next_follow")


@dataclass(frozen=True)
class DateRange:
    """A local calendar-day range; ``end`` is inclusive (matched as ``t < end + 1 day``)."""

    start: dt.date | None = None
    end: dt.date | None = None

    def bounds(self, tz: dt.tzinfo) -> tuple[dt.datetime | None, dt.datetime | None]:
        lower = dt.datetime.combine(self.start, dt.time.min, tzinfo=tz) if self.start else None
        upper = (
            dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min, tzinfo=tz) if self.end else None
        )
        return lower, upper


@dataclass(frozen=True)
class LeadFilterSpec:
    """Validated ``size_desc``: OR inside a dimension, AND across dimensions."""

    leads_type: tuple[str, ...] = ()
    leads_product: tuple[str, ...] = ()
    is_arrive: tuple[int, ...] = ()
    date_ranges: dict[str, tuple[DateRange, ...]] = field(default_factory=dict)
    leads_ids: tuple[str, ...] = ()


def lead_list(*, organization_id: int) -> QuerySet[Lead]:
    return Lead.objects.filter(organization_id=organization_id).order_by("-leads_create_time", "-id")


def _range_q(field_name: str, ranges: Iterable[DateRange], tz: dt.tzinfo) -> Q:
    combined = Q()
    for date_range in ranges:
        lower, upper = date_range.bounds(tz)
        part = Q()
        if lower is not None:
            part &= Q(**{f"{field_name}__gte": lower})
        if upper is not None:
            part &= Q(**{f"{field_name}__lt": upper})
        if lower is None and upper is None:
            part = Q(**{f"{field_name}__isnull": False})
        combined |= part
    return combined


def lead_filter(*, organization_id: int, spec: LeadFilterSpec) -> QuerySet[Lead]:
    """Leads of one organization matching ``spec``.

    Follow-up dates are per lead: first follow-up = earliest ``first_follow_time``, latest follow-up =
    latest ``new_follow_time``, next follow-up = ``next_follow_time`` of the most recent follow-up.
    Leads without any follow-up are kept unless a follow-up date filter is given (then they cannot
    match), and count as "not arrived" for the store-visit filter.
    """
    tz = timezone.get_current_timezone()
    qs = Lead.objects.filter(organization_id=organization_id)
    if spec.leads_ids:
        qs = qs.filter(leads_id__in=spec.leads_ids)
    if spec.leads_type:
        qs = qs.filter(leads_type__in=spec.leads_type)
    if spec.leads_product:
        qs = qs.filter(leads_product__in=spec.leads_product)
    if spec.is_arrive and set(spec.is_arrive) != {0, 1}:
        arrived = Exists(FollowUp.objects.filter(lead=OuterRef("pk"), is_arrive=True))
        qs = qs.filter(arrived) if 1 in spec.is_arrive else qs.exclude(arrived)
    if any(spec.date_ranges.get(name) for name in DATE_DIMENSIONS):
        latest = FollowUp.objects.filter(lead=OuterRef("pk")).order_by("-follow_time", "-id")
        qs = qs.annotate(
            _first_follow=Min("follow_ups__first_follow_time"),
            _latest_follow=Max("follow_ups__new_follow_time"),
            _next_follow=Subquery(latest.values("next_follow_time")[:1]),
        )
        for name in DATE_DIMENSIONS:
            ranges = spec.date_ranges.get(name)
            if ranges:
                qs = qs.filter(_range_q(f"_{name}", ranges, tz))
    return qs.order_by("id")
