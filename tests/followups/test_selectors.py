"""The task-creation lead filter (SPEC §4 "Create"): OR inside a dimension, AND across, local calendar days."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from followups.selectors import DateRange, LeadFilterSpec, lead_filter
from tests.factories import FollowUpFactory, LeadFactory

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
D = dt.date


def local(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH)


def ids(org, spec: LeadFilterSpec) -> set[str]:
    return set(lead_filter(organization_id=org.pk, spec=spec).values_list("leads_id", flat=True))


def follow(lead, **fields):
    values = {"first_follow_time": None, "new_follow_time": None, "next_follow_time": None}
    values.update(fields)
    return FollowUpFactory(lead=lead, **values)


def test_or_inside_a_dimension_and_across_dimensions(org):
    LeadFactory(organization=org, leads_id="a-h", leads_product="星越L", leads_type="H级")
    LeadFactory(organization=org, leads_id="a-a", leads_product="星越L", leads_type="A级")
    LeadFactory(organization=org, leads_id="b-h", leads_product="博越", leads_type="H级")
    LeadFactory(organization=org, leads_id="c-b", leads_product="帝豪", leads_type="B级")

    assert ids(org, LeadFilterSpec(leads_type=("H级", "A级"))) == {"a-h", "a-a", "b-h"}
    assert ids(org, LeadFilterSpec(leads_product=("星越L", "帝豪"))) == {"a-h", "a-a", "c-b"}
    assert ids(org, LeadFilterSpec(leads_product=("星越L", "帝豪"), leads_type=("H级", "B级"))) == {"a-h", "c-b"}
    assert ids(org, LeadFilterSpec()) == {"a-h", "a-a", "b-h", "c-b"}


def test_only_the_callers_organization(org, other_org):
    LeadFactory(organization=org, leads_id="mine")
    LeadFactory(organization=other_org, leads_id="theirs")
    assert ids(org, LeadFilterSpec()) == {"mine"}
    assert ids(org, LeadFilterSpec(leads_ids=("theirs", "mine"))) == {"mine"}


def test_is_arrive_counts_leads_without_follow_ups_as_not_arrived(org):
    arrived = LeadFactory(organization=org, leads_id="arrived")
    not_arrived = LeadFactory(organization=org, leads_id="not-arrived")
    LeadFactory(organization=org, leads_id="never-followed")
    follow(arrived, is_arrive=False)
    follow(arrived, is_arrive=True, first_arrive_time=local(2025, 3, 1, 10))
    follow(not_arrived, is_arrive=False)

    assert ids(org, LeadFilterSpec(is_arrive=(1,))) == {"arrived"}
    assert ids(org, LeadFilterSpec(is_arrive=(0,))) == {"not-arrived", "never-followed"}
    assert ids(org, LeadFilterSpec(is_arrive=(0, 1))) == {"arrived", "not-arrived", "never-followed"}
    assert ids(org, LeadFilterSpec(is_arrive=())) == {"arrived", "not-arrived", "never-followed"}


def test_end_day_is_inclusive_in_local_time(org):
    last_second = LeadFactory(organization=org, leads_id="23:59:59")
    next_midnight = LeadFactory(organization=org, leads_id="next-00:00")
    first_midnight = LeadFactory(organization=org, leads_id="start-00:00")
    before = LeadFactory(organization=org, leads_id="before-start")
    follow(last_second, first_follow_time=local(2025, 3, 10, 23, 59, 59))
    follow(next_midnight, first_follow_time=local(2025, 3, 11, 0, 0, 0))
    follow(first_midnight, first_follow_time=local(2025, 3, 8, 0, 0, 0))
    follow(before, first_follow_time=local(2025, 3, 7, 23, 59, 59))

    spec = LeadFilterSpec(date_ranges={"first_follow": (DateRange(D(2025, 3, 8), D(2025, 3, 10)),)})
    assert ids(org, spec) == {"23:59:59", "start-00:00"}


def test_local_early_morning_is_the_local_day_not_the_utc_day(org):
    # 07:30 in Shanghai on 12 March is 23:30 UTC on 11 March: it belongs to 12 March.
    morning = LeadFactory(organization=org, leads_id="morning")
    follow(morning, new_follow_time=local(2025, 3, 12, 7, 30))
    assert morning.follow_ups.get().new_follow_time.astimezone(dt.UTC).day == 11

    on_12 = LeadFilterSpec(date_ranges={"latest_follow": (DateRange(D(2025, 3, 12), D(2025, 3, 12)),)})
    on_11 = LeadFilterSpec(date_ranges={"latest_follow": (DateRange(D(2025, 3, 11), D(2025, 3, 11)),)})
    assert ids(org, on_12) == {"morning"}
    assert ids(org, on_11) == set()


def test_open_ended_ranges(org):
    early = LeadFactory(organization=org, leads_id="early")
    late = LeadFactory(organization=org, leads_id="late")
    follow(early, next_follow_time=local(2025, 1, 5, 9))
    follow(late, next_follow_time=local(2025, 6, 5, 9))
    only_start = LeadFilterSpec(date_ranges={"next_follow": (DateRange(start=D(2025, 3, 1)),)})
    only_end = LeadFilterSpec(date_ranges={"next_follow": (DateRange(end=D(2025, 1, 5)),)})
    assert ids(org, only_start) == {"late"}
    assert ids(org, only_end) == {"early"}


def test_multiple_ranges_are_honoured_not_collapsed_to_an_envelope(org):
    # "本周 + 上月": two disjoint ranges; a lead in the gap between them must not be selected.
    in_first = LeadFactory(organization=org, leads_id="first-range")
    in_gap = LeadFactory(organization=org, leads_id="gap")
    in_second = LeadFactory(organization=org, leads_id="second-range")
    follow(in_first, first_follow_time=local(2025, 2, 10, 12))
    follow(in_gap, first_follow_time=local(2025, 3, 5, 12))
    follow(in_second, first_follow_time=local(2025, 3, 20, 12))
    spec = LeadFilterSpec(
        date_ranges={
            "first_follow": (
                DateRange(D(2025, 2, 1), D(2025, 2, 28)),
                DateRange(D(2025, 3, 17), D(2025, 3, 23)),
            )
        }
    )
    assert ids(org, spec) == {"first-range", "second-range"}


def test_per_lead_dimensions_first_latest_next(org):
    lead = LeadFactory(organization=org, leads_id="history")
    follow(
        lead,
        follow_time=local(2025, 1, 10, 10),
        first_follow_time=local(2025, 1, 10, 10),
        new_follow_time=local(2025, 1, 10, 10),
        next_follow_time=local(2025, 1, 20, 10),
    )
    follow(
        lead,
        follow_time=local(2025, 2, 10, 10),
        first_follow_time=local(2025, 2, 10, 10),
        new_follow_time=local(2025, 2, 10, 10),
        next_follow_time=local(2025, 2, 20, 10),
    )

    def matches(name, start, end):
        return ids(org, LeadFilterSpec(date_ranges={name: (DateRange(start, end),)})) == {"history"}

    # first follow-up = the earliest, latest = the most recent, next = the next date of the most recent one
    assert matches("first_follow", D(2025, 1, 10), D(2025, 1, 10))
    assert not matches("first_follow", D(2025, 2, 10), D(2025, 2, 10))
    assert matches("latest_follow", D(2025, 2, 10), D(2025, 2, 10))
    assert not matches("latest_follow", D(2025, 1, 10), D(2025, 1, 10))
    assert matches("next_follow", D(2025, 2, 20), D(2025, 2, 20))
    assert not matches("next_follow", D(2025, 1, 20), D(2025, 1, 20))


def test_date_and_other_dimensions_are_anded(org):
    match = LeadFactory(organization=org, leads_id="match", leads_type="H级")
    wrong_grade = LeadFactory(organization=org, leads_id="wrong-grade", leads_type="C级")
    wrong_date = LeadFactory(organization=org, leads_id="wrong-date", leads_type="H级")
    LeadFactory(organization=org, leads_id="no-follow-up", leads_type="H级")
    for lead in (match, wrong_grade):
        follow(lead, first_follow_time=local(2025, 3, 3, 15), is_arrive=True, first_arrive_time=local(2025, 3, 3, 15))
    follow(wrong_date, first_follow_time=local(2025, 4, 3, 15), is_arrive=True, first_arrive_time=local(2025, 4, 3, 15))
    spec = LeadFilterSpec(
        leads_type=("H级",),
        is_arrive=(1,),
        date_ranges={"first_follow": (DateRange(D(2025, 3, 1), D(2025, 3, 31)),)},
    )
    assert ids(org, spec) == {"match"}


def test_each_lead_once_even_with_many_follow_ups(org):
    lead = LeadFactory(organization=org, leads_id="busy")
    for day in (1, 2, 3):
        follow(lead, first_follow_time=local(2025, 3, day, 9), new_follow_time=local(2025, 3, day, 9))
    spec = LeadFilterSpec(
        is_arrive=(0,),
        date_ranges={
            "first_follow": (DateRange(D(2025, 3, 1), D(2025, 3, 3)),),
            "latest_follow": (DateRange(D(2025, 3, 1), D(2025, 3, 3)),),
        },
    )
    assert list(lead_filter(organization_id=org.pk, spec=spec).values_list("leads_id", flat=True)) == ["busy"]


def test_explicit_lead_ids(org):
    for name in ("x", "y", "z"):
        LeadFactory(organization=org, leads_id=name)
    assert ids(org, LeadFilterSpec(leads_ids=("x", "z", "missing"))) == {"x", "z"}


def test_date_range_bounds_use_the_given_zone():
    lower, upper = DateRange(D(2025, 3, 8), D(2025, 3, 10)).bounds(SH)
    assert lower == local(2025, 3, 8)
    assert upper == local(2025, 3, 11)
    assert DateRange().bounds(SH) == (None, None)
