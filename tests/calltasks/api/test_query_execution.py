"""POST /query-task-execution: pages of lead rows with outcome, transcript and follow-up; refresh syncs first."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.utils.translation import gettext as _

from calltasks.models import CallTask, LeadTask, OutboundCallRecord
from calltasks.provider import statuses
from calltasks.states import TaskState
from tests.calltasks.api.conftest import finish_row, make_task
from tests.calltasks.api.test_envelope import assert_envelope

pytestmark = pytest.mark.django_db
URL = "/query-task-execution"


@pytest.fixture
def task(org):
    """5 rows: 2 connected with follow-ups (interested, not interested), 1 failed with follow-up (0),
    1 connected awaiting its verdict, 1 still calling."""
    task = make_task(org, rows=5)
    rows = list(task.lead_rows.order_by("id"))
    finish_row(rows[0], connected=True, follow_up=True, interest=1)
    finish_row(rows[1], connected=True, follow_up=True, interest=2)
    finish_row(rows[2], connected=False, status="Busy", follow_up=True, interest=0)
    finish_row(rows[3], connected=True)
    return task


def test_rows_stats_and_pagination(seed, task):
    body = assert_envelope(seed.post(URL, {"task_id": task.pk}), 200)
    assert body["message"] == _("Query succeeded")
    data = body["data"]
    assert data["task_id"] == task.pk and data["task_name"] == task.task_name and data["task_type"] == TaskState.CALLING
    assert data["task_stats"] == {
        "total_calls": 5,
        "connected_calls": 3,
        "not_connected_calls": 1,
        "not_started_calls": 0,
        "in_progress_calls": 1,
        "followed_calls": 3,
        "is_completed": False,
    }
    assert data["pagination"] == {"page": 1, "page_size": 20, "total_pages": 1, "total_count": 5}
    first = data["jobs_data"][0]
    row = task.lead_rows.order_by("id").first()
    assert first["id"] == row.pk
    assert first["status"] == statuses.JOB_SUCCEEDED and first["status_label"] == statuses.status_label("Succeeded")
    assert first["detailed_status"] == "SucceededFinish"
    assert first["detailed_status_label"] == statuses.status_label("SucceededFinish")
    assert first["is_connected"] is True and first["attempts"] == 1 and first["duration"] == 42
    assert first["call_conversation"][0]["Script"] == "您好"
    assert first["leads_phone"] == row.leads_phone[:3] + "****" + row.leads_phone[-4:]
    assert first["is_interested"] == 1 and first["interest_label"] == _("Interested")
    assert first["follow_data"]["id"] == row.leads_follow_id
    assert first["follow_data"]["leads_remark"] == row.leads_follow.leads_remark
    assert first["recording_available"] is False and first["recording_url"] is None
    last = data["jobs_data"][-1]
    assert last["follow_data"] is None and last["is_interested"] is None
    assert last["interest_label"] == _("Pending follow-up")
    busy = data["jobs_data"][2]
    assert busy["failure_reason"] == "Busy" and busy["failure_reason_label"] == statuses.failure_reason_label("Busy")


def test_phone_numbers_are_full_only_with_permission(seed, task):
    row = task.lead_rows.order_by("id").first()
    content = seed.post(URL, {"task_id": task.pk}).content.decode()
    assert row.leads_phone not in content
    seed.user.user_permissions.add(Permission.objects.get(codename="view_full_phone"))
    data = seed.post(URL, {"task_id": task.pk}).json()["data"]
    assert data["jobs_data"][0]["leads_phone"] == row.leads_phone


def test_pages(seed, org):
    task = make_task(org, rows=25)
    ids = list(task.lead_rows.order_by("id").values_list("id", flat=True))
    page3 = seed.post(URL, {"task_id": task.pk, "page": 3, "page_size": 10}).json()["data"]
    assert [row["id"] for row in page3["jobs_data"]] == ids[20:]
    assert page3["pagination"] == {"page": 3, "page_size": 10, "total_pages": 3, "total_count": 25}
    clamped = seed.post(URL, {"task_id": task.pk, "page": 99, "page_size": 10}).json()["data"]
    assert clamped["pagination"]["page"] == 3 and [row["id"] for row in clamped["jobs_data"]] == ids[20:]


@pytest.mark.parametrize("page_size", [0, 201, "x"])
def test_page_size_limits(seed, task, page_size):
    body = assert_envelope(seed.post(URL, {"task_id": task.pk, "page_size": page_size}), 400)
    assert "page_size" in body["data"]["errors"]


def test_max_page_size_is_200(seed, org):
    task = make_task(org, rows=3)
    data = seed.post(URL, {"task_id": task.pk, "page_size": 200}).json()["data"]
    assert data["pagination"]["page_size"] == 200


def test_only_followed(seed, task):
    data = seed.post(URL, {"task_id": task.pk, "only_followed": True}).json()["data"]
    assert len(data["jobs_data"]) == 3 and all(row["follow_data"] for row in data["jobs_data"])
    assert data["pagination"]["total_count"] == 3
    assert data["task_stats"]["total_calls"] == 5  # the statistics always cover the whole task


@pytest.mark.parametrize(("interest", "expected"), [(1, [1]), ("2", [2]), (0, [0]), ("pending", [None, None])])
def test_interest_filter(seed, task, interest, expected):
    data = seed.post(URL, {"task_id": task.pk, "interest": interest}).json()["data"]
    assert [row["is_interested"] for row in data["jobs_data"]] == expected


@pytest.mark.parametrize("interest", [3, "maybe", True])
def test_invalid_interest_is_400(seed, task, interest):
    body = assert_envelope(seed.post(URL, {"task_id": task.pk, "interest": interest}), 400)
    assert "interest" in body["data"]["errors"]


def test_no_matching_rows_is_still_success(seed, org):
    task = make_task(org, rows=2)
    body = assert_envelope(seed.post(URL, {"task_id": task.pk, "only_followed": True}), 200)
    assert body["message"] == _("No lead rows match the query")
    assert body["data"]["jobs_data"] == [] and body["data"]["pagination"]["total_count"] == 0


def test_recording_url_points_at_the_authenticated_endpoint(seed, task):
    row = task.lead_rows.order_by("id").first()
    LeadTask.objects.filter(pk=row.pk).update(
        recording_file=f"recordings/{task.organization_id}/{task.pk}/{row.pk}.wav"
    )
    first = seed.post(URL, {"task_id": task.pk}).json()["data"]["jobs_data"][0]
    assert first["recording_available"] is True
    assert first["recording_url"] == f"http://testserver/recordings/{row.pk}/"


def test_other_organizations_task_is_404(other_seed, task):
    assert_envelope(other_seed.post(URL, {"task_id": task.pk}), 404)


def test_deleted_task_is_404(seed, org):
    task = make_task(org, rows=1, task_type=TaskState.FOLLOWUPS_DONE)
    assert_envelope(seed.post("/delete-call-task", {"task_id": task.pk}), 200)
    assert_envelope(seed.post(URL, {"task_id": task.pk}), 404)


# --- refresh against the live simulator -----------------------------------------------------------------


@pytest.fixture
def started(seed, org, simulator):
    from tests.factories import LeadFactory

    simulator.set_speed(0)
    leads = [LeadFactory(organization=org, leads_type="H级") for _ in range(4)]
    data = seed.post(
        "/create-autoCall-tasks",
        {
            "task_name": "刷新测试",
            "script_id": "script_demo",
            "size_desc": {"leads_type": ["H级"]},
            "auto_start": False,
        },
    ).json()["data"]
    task = CallTask.objects.get(pk=data["task_id"])
    rows = list(task.lead_rows.order_by("id"))
    simulator.script_outcomes(
        by_reference_id={
            rows[0].reference_id: {"attempts": ["SucceededFinish"], "transcript": True, "interest": "interested"},
            rows[1].reference_id: {"attempts": ["SucceededFinish"], "transcript": True},
            rows[2].reference_id: {"attempts": ["NoAnswer"]},
            rows[3].reference_id: {"attempts": ["Busy"]},
        }
    )
    assert_envelope(seed.post("/start-call-task", {"task_id": task.pk}), 200)
    assert len(leads) == 4
    return CallTask.objects.get(pk=task.pk)


def test_refresh_syncs_from_the_provider_first(seed, started, simulator):
    before = seed.post(URL, {"task_id": started.pk}).json()["data"]
    assert before["task_stats"]["connected_calls"] == 0 and before["refreshed"] is None
    simulator.run_until_final(started.job_group_id)

    data = assert_envelope(seed.post(URL, {"task_id": started.pk, "refresh": True}), 200)["data"]

    assert data["refreshed"]["skipped"] is False and data["refreshed"]["provider_calls"] >= 2
    assert data["refreshed"]["newly_final"] == 4
    assert data["task_stats"]["connected_calls"] == 2
    assert data["task_stats"]["not_connected_calls"] == 2
    by_status = {row["detailed_status"] for row in data["jobs_data"]}
    assert {"SucceededFinish", "NoAnswer", "Busy"} <= by_status
    connected = [row for row in data["jobs_data"] if row["is_connected"]]
    assert all(row["call_conversation"] for row in connected) and all(row["job_id"] for row in data["jobs_data"])
    assert OutboundCallRecord.objects.filter(call_task=started).count() == 4


def test_refresh_with_the_provider_down_is_502_and_loses_nothing(seed, started, simulator):
    simulator.run_until_final(started.job_group_id)
    simulator.add_fault("QueryJobsWithResult", "unavailable", count=50)
    rows_before = list(LeadTask.objects.filter(task=started).order_by("id").values())

    body = assert_envelope(seed.post(URL, {"task_id": started.pk, "refresh": True}), 502)

    assert body["data"] == {}
    assert list(LeadTask.objects.filter(task=started).order_by("id").values()) == rows_before
    assert CallTask.objects.get(pk=started.pk).task_type == TaskState.CALLING
    simulator.clear_faults()
    data = assert_envelope(seed.post(URL, {"task_id": started.pk, "refresh": True}), 200)["data"]
    assert data["task_stats"]["connected_calls"] == 2
