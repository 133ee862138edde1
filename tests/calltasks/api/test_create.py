"""POST /create-autoCall-tasks: lead filters (incl. local-day date edges and *_ranges), duplicates, cap, auto start."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils.translation import gettext as _

from calltasks.models import CallTask, LeadTask
from calltasks.states import TaskState
from tests.calltasks.api.test_envelope import assert_envelope
from tests.factories import FollowUpFactory, LeadFactory

pytestmark = pytest.mark.django_db
URL = "/create-autoCall-tasks"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(y, m, d, hh=12, mm=0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def follow(lead, *, first=None, latest=None, next_=None, at=None, arrive=False):
    when = at or latest or first or local(2025, 1, 1)
    return FollowUpFactory(
        lead=lead,
        follow_time=when,
        first_follow_time=first or when,
        new_follow_time=latest or when,
        next_follow_time=next_,
        is_arrive=arrive,
        first_arrive_time=when if arrive else None,
    )


def created_ids(seed, size_desc, **body):
    response = seed.post(URL, {"task_name": "筛选测试", "size_desc": size_desc, **body})
    data = assert_envelope(response, 200)["data"]
    task = CallTask.objects.get(pk=data["task_id"])
    return data, set(LeadTask.objects.filter(task=task).values_list("lead_id", flat=True))


def test_create_returns_the_seed_fields_and_writes_rows(seed, leads, user):
    size_desc = {"leads_type": ["H级"], "leads_product": ["星越L", "领克06"]}
    body = assert_envelope(seed.post(URL, {"task_name": "H级回访", "size_desc": size_desc}), 200)
    data = body["data"]
    assert body["message"] == _("Call task created")
    assert {"task_id", "task_name", "leads_count", "create_time", "size_desc", "task_type"} <= set(data)
    assert data["task_name"] == "H级回访"
    assert data["leads_count"] == 2
    assert data["task_type"] == TaskState.CREATED
    assert data["size_desc"] == size_desc
    assert data["started"] is False
    dt.datetime.strptime(data["create_time"], "%Y-%m-%d %H:%M:%S")
    task = CallTask.objects.get(pk=data["task_id"])
    assert task.created_by == user and task.organization_id == user.organization_id
    assert task.size_desc == size_desc
    rows = list(LeadTask.objects.filter(task=task))
    assert {row.lead_id for row in rows} == {leads[0].pk, leads[1].pk}
    assert all(row.reference_id == f"dcc-{task.pk}-{row.lead_id}" for row in rows)


def test_or_inside_a_dimension_and_across_dimensions(seed, leads):
    _data, ids = created_ids(seed, {"leads_type": ["H级", "B级"], "leads_product": ["领克06"]})
    assert ids == {leads[1].pk, leads[5].pk}


def test_empty_lists_do_not_filter(seed, leads, other_org):
    LeadFactory(organization=other_org)
    data, ids = created_ids(seed, {"leads_type": [], "leads_product": []})
    assert ids == {lead.pk for lead in leads}  # never another organization's leads


def test_explicit_leads_ids(seed, leads):
    body = {"task_name": "指定线索", "leads_ids": [leads[2].leads_id, leads[4].leads_id, "NOPE"]}
    data = assert_envelope(seed.post(URL, body), 200)["data"]
    assert set(LeadTask.objects.filter(task_id=data["task_id"]).values_list("lead_id", flat=True)) == {
        leads[2].pk,
        leads[4].pk,
    }
    assert data["size_desc"]["leads_ids"] == body["leads_ids"]


def test_latest_follow_end_day_is_inclusive_in_local_time(seed, org):
    on_end_day = LeadFactory(organization=org)
    next_day = LeadFactory(organization=org)
    before_start = LeadFactory(organization=org)
    on_start = LeadFactory(organization=org)
    follow(on_end_day, latest=local(2025, 1, 31, 23, 59))
    follow(next_day, latest=local(2025, 2, 1, 0, 0))
    follow(before_start, latest=local(2024, 12, 31, 23, 59))
    follow(on_start, latest=local(2025, 1, 1, 0, 0))
    _data, ids = created_ids(seed, {"latest_follow_start": "2025-01-01", "latest_follow_end": "2025-01-31"})
    assert ids == {on_end_day.pk, on_start.pk}


def test_first_and_next_follow_dimensions(seed, org):
    a = LeadFactory(organization=org)
    b = LeadFactory(organization=org)
    follow(a, first=local(2025, 3, 1), next_=local(2025, 3, 10, 23, 59))
    follow(b, first=local(2025, 3, 1), next_=local(2025, 3, 11, 0, 0))
    _data, ids = created_ids(
        seed,
        {"first_follow_start": "2025-03-01", "first_follow_end": "2025-03-01", "next_follow_end": "2025-03-10"},
    )
    assert ids == {a.pk}


def test_ranges_are_honoured_in_every_form(seed, org):
    jan = LeadFactory(organization=org)
    mar = LeadFactory(organization=org)
    may = LeadFactory(organization=org)
    late = LeadFactory(organization=org)
    no_follow = LeadFactory(organization=org)
    follow(jan, latest=local(2025, 1, 15))
    follow(mar, latest=local(2025, 3, 31, 23, 59))
    follow(may, latest=local(2025, 5, 5))
    follow(late, latest=local(2026, 1, 1))
    size_desc = {
        "latest_follow_ranges": [
            "2025-01-01,2025-01-31",
            ["2025-03-01", "2025-03-31"],
            {"start": "2025-12-01", "end": None},
        ]
    }
    _data, ids = created_ids(seed, size_desc)
    assert ids == {jan.pk, mar.pk, late.pk}
    assert no_follow.pk not in ids and may.pk not in ids
    _data, ids = created_ids(seed, {"latest_follow_ranges": [",2025-01-31"]}, include_active=True)
    assert ids == {jan.pk}


def test_is_arrive_filter(seed, org):
    arrived = LeadFactory(organization=org)
    not_arrived = LeadFactory(organization=org)
    never_followed = LeadFactory(organization=org)
    follow(arrived, arrive=True)
    follow(not_arrived)
    _data, ids = created_ids(seed, {"is_arrive": [1]})
    assert ids == {arrived.pk}
    _data, ids = created_ids(seed, {"is_arrive": [0]}, include_active=True)
    assert ids == {not_arrived.pk, never_followed.pk}


@pytest.mark.parametrize(
    ("size_desc", "field"),
    [
        ({"latest_follow_start": "2025-02-01", "latest_follow_end": "2025-01-31"}, "latest_follow_end"),
        ({"next_follow_ranges": ["2025-02-01,2025-01-01"]}, "next_follow_ranges"),
        ({"first_follow_ranges": ["2025-13-01,2025-12-31"]}, "first_follow_ranges"),
        ({"first_follow_ranges": [","]}, "first_follow_ranges"),
        ({"first_follow_start": "yesterday"}, "first_follow_start"),
        ({"is_arrive": [3]}, "is_arrive"),
        ({"leads_type": "H级"}, "leads_type"),
    ],
)
def test_invalid_filters_are_400_and_write_nothing(seed, leads, size_desc, field):
    body = assert_envelope(seed.post(URL, {"task_name": "坏条件", "size_desc": size_desc}), 400)
    assert field in body["data"]["errors"]["size_desc"]
    assert not CallTask.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"size_desc": {}}, "task_name"),
        ({"task_name": "无条件"}, "size_desc"),
        ({"task_name": "x", "size_desc": {}, "auto_start": True}, "script_id"),
        ({"task_name": "x" * 201, "size_desc": {}}, "task_name"),
    ],
)
def test_invalid_body_is_400(seed, leads, payload, field):
    body = assert_envelope(seed.post(URL, payload), 400)
    assert field in body["data"]["errors"]
    assert not CallTask.objects.exists()


def test_no_match_is_400_and_nothing_written(seed, leads):
    body = assert_envelope(seed.post(URL, {"task_name": "空", "size_desc": {"leads_type": ["F级"]}}), 400)
    assert body["message"] == _("No leads match the conditions.")
    assert not CallTask.objects.exists() and not LeadTask.objects.exists()


def test_duplicate_phones_are_called_once(seed, org):
    LeadFactory(organization=org, leads_user_phone="17099990000", leads_type="H级")
    LeadFactory(organization=org, leads_user_phone="17099990000", leads_type="H级")
    LeadFactory(organization=org, leads_user_phone="17099990001", leads_type="H级")
    data = assert_envelope(seed.post(URL, {"task_name": "去重", "size_desc": {"leads_type": ["H级"]}}), 200)["data"]
    assert data["leads_count"] == 2 and data["matched_count"] == 3 and data["skipped_duplicate_phones"] == 1
    phones = list(LeadTask.objects.filter(task_id=data["task_id"]).values_list("leads_phone", flat=True))
    assert sorted(phones) == ["17099990000", "17099990001"]


def test_leads_in_an_active_task_are_skipped_unless_asked(seed, leads):
    size_desc = {"leads_type": ["H级"]}
    assert_envelope(seed.post(URL, {"task_name": "第一次", "size_desc": size_desc}), 200)
    body = assert_envelope(seed.post(URL, {"task_name": "第二次", "size_desc": size_desc}), 400)
    assert body["message"] == _("Every matching lead is already in an active task.")
    data = assert_envelope(
        seed.post(URL, {"task_name": "第三次", "size_desc": size_desc, "include_active": True}), 200
    )["data"]
    assert data["leads_count"] == 2


def test_cap_per_task(seed, leads, settings):
    settings.CALLTASKS_MAX_LEADS_PER_TASK = 3
    body = assert_envelope(seed.post(URL, {"task_name": "太多", "size_desc": {}}), 400)
    assert "3" in body["message"] and "6" in body["message"]
    assert not CallTask.objects.exists()


def test_auto_start_with_a_script_starts_calling(seed, leads, simulator):
    payload = {"task_name": "自动开始", "script_id": "script_demo", "size_desc": {"leads_type": ["A级"]}}
    body = assert_envelope(seed.post(URL, payload), 200)
    data = body["data"]
    assert body["message"] == _("Call task created and calling started")
    assert data["started"] is True and data["start_error"] is None
    assert data["task_type"] == TaskState.CALLING and data["job_group_id"]
    assert simulator.stats()["groups"] == 1
    assert len(simulator.ground_truth(data["job_group_id"])) == 2


def test_auto_start_can_be_switched_off(seed, leads, simulator):
    payload = {"task_name": "手动开始", "script_id": "script_demo", "size_desc": {}, "auto_start": False}
    data = assert_envelope(seed.post(URL, payload), 200)["data"]
    assert data["task_type"] == TaskState.CREATED and data["started"] is False
    assert simulator.stats()["groups"] == 0


def test_start_failure_keeps_the_created_task(seed, leads, simulator):
    simulator.add_fault("CreateJobGroup", "unavailable", count=20)
    payload = {"task_name": "服务商故障", "script_id": "script_demo", "size_desc": {"leads_type": ["B级"]}}
    body = assert_envelope(seed.post(URL, payload), 200)
    data = body["data"]
    assert data["started"] is False
    assert data["start_error"]["code"] == 502
    assert data["task_type"] == TaskState.CREATED
    task = CallTask.objects.get(pk=data["task_id"])
    assert task.task_type == TaskState.CREATED and task.job_group_id is None and not task.lease_owner
    assert LeadTask.objects.filter(task=task).count() == 2
    # Once the provider is back, the same task starts normally.
    simulator.clear_faults()
    started = assert_envelope(seed.post("/start-call-task", {"task_id": task.pk}), 200)["data"]
    assert started["task_type"] == TaskState.CALLING
