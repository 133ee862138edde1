"""REST resources under /api/v1/: call tasks (+ actions), lead rows, call records, task statistics."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from calltasks.models import CallTask
from calltasks.states import TaskState
from tests.calltasks.api.conftest import finish_row, make_task
from tests.factories import LeadFactory, OutboundCallRecordFactory

pytestmark = pytest.mark.django_db
TASKS = "/api/v1/call-tasks/"


@pytest.fixture
def task(org):
    task = make_task(org, rows=5)
    rows = list(task.lead_rows.order_by("id"))
    finish_row(rows[0], connected=True, follow_up=True, interest=1)
    finish_row(rows[1], connected=True, follow_up=True, interest=2)
    finish_row(rows[2], connected=False, status="Busy", follow_up=True, interest=0)
    finish_row(rows[3], connected=True)
    for row in rows[:4]:
        OutboundCallRecordFactory(
            lead_task=row,
            call_task=task,
            job_group_id=task.job_group_id,
            call_status=row.last_task_status,
            has_answered=row.is_connected,
            called_number=row.leads_phone[:3] + "****" + row.leads_phone[-4:],
        )
    return task


# --- call tasks ---------------------------------------------------------------------------------------------


def test_list_with_progress_filters_and_ordering(api_client, org, task):
    created = make_task(org, rows=1, task_type=TaskState.CREATED)
    deleted = make_task(org, rows=1, task_type=TaskState.FOLLOWUPS_DONE)
    CallTask.objects.filter(pk=deleted.pk).update(deleted_at=timezone.now())

    body = api_client.get(TASKS).json()
    assert body["count"] == 2
    by_id = {item["id"]: item for item in body["results"]}
    assert set(by_id) == {task.pk, created.pk}
    assert by_id[task.pk]["progress"] == {
        "task_id": task.pk,
        "total_leads": 5,
        "finished_calls": 4,
        "connected_calls": 3,
        "not_connected_calls": 1,
        "followed_calls": 3,
        "connect_rate": 60.0,
        "interested": 1,
        "not_interested": 1,
        "unable_to_judge": 1,
        "pending_follow": 2,
    }
    assert by_id[task.pk]["task_type_label"] == str(TaskState.CALLING.label)
    assert [i["id"] for i in api_client.get(TASKS, {"task_type": "1"}).json()["results"]] == [created.pk]
    assert api_client.get(TASKS, {"task_type": "1,2"}).json()["count"] == 2
    ordered = api_client.get(TASKS, {"ordering": "id"}).json()["results"]
    assert [i["id"] for i in ordered] == sorted([task.pk, created.pk])
    assert api_client.get(TASKS, {"task_name": task.task_name[-2:]}).json()["count"] >= 1


def test_list_is_paginated(api_client, org):
    for _ in range(3):
        make_task(org, rows=1)
    body = api_client.get(TASKS, {"page_size": 2}).json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]


def test_retrieve(api_client, task):
    body = api_client.get(f"{TASKS}{task.pk}/").json()
    assert body["id"] == task.pk and body["progress"]["total_leads"] == 5
    assert api_client.get(f"{TASKS}abc/").status_code == 404


def test_create(api_client, org):
    for _ in range(2):
        LeadFactory(organization=org, leads_type="H级")
    response = api_client.post(TASKS, {"task_name": "REST 创建", "size_desc": {"leads_type": ["H级"]}}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["task_type"] == TaskState.CREATED and body["leads_count"] == 2 and body["start_error"] is None
    assert body["progress"]["total_leads"] == 2


def test_create_errors(api_client, org):
    response = api_client.post(TASKS, {"size_desc": {}}, format="json")
    assert response.status_code == 400 and "task_name" in response.json()
    response = api_client.post(TASKS, {"task_name": "x", "size_desc": {"leads_type": ["F级"]}}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "no_leads"
    assert not CallTask.objects.exists()


def test_delete_is_a_soft_delete_through_the_service(api_client, org):
    created = make_task(org, rows=1, task_type=TaskState.CREATED)
    calling = make_task(org, rows=1, task_type=TaskState.CALLING)
    assert api_client.delete(f"{TASKS}{created.pk}/").status_code == 204
    assert CallTask.objects.get(pk=created.pk).deleted_at is not None
    assert api_client.get(f"{TASKS}{created.pk}/").status_code == 404
    response = api_client.delete(f"{TASKS}{calling.pk}/")
    assert response.status_code == 409 and response.json()["code"] == "wrong_state"


def test_put_and_patch_are_not_allowed(api_client, task):
    assert api_client.put(f"{TASKS}{task.pk}/", {}, format="json").status_code == 405
    assert api_client.patch(f"{TASKS}{task.pk}/", {}, format="json").status_code == 405


def test_actions_against_the_simulator(api_client, org, simulator):
    simulator.set_speed(0)
    for _ in range(3):
        LeadFactory(organization=org, leads_type="A级")
    task_id = api_client.post(
        TASKS,
        {
            "task_name": "REST 动作",
            "script_id": "script_demo",
            "size_desc": {"leads_type": ["A级"]},
            "auto_start": False,
        },
        format="json",
    ).json()["id"]

    started = api_client.post(f"{TASKS}{task_id}/start/", {}, format="json")
    assert started.status_code == 200 and started.json()["task_type"] == TaskState.CALLING
    assert api_client.post(f"{TASKS}{task_id}/start/", {}, format="json").status_code == 409
    assert api_client.post(f"{TASKS}{task_id}/pause/").json()["task_type"] == TaskState.PAUSED
    assert api_client.post(f"{TASKS}{task_id}/resume/").json()["task_type"] == TaskState.CALLING

    job_group_id = CallTask.objects.get(pk=task_id).job_group_id
    simulator.run_until_final(job_group_id)
    synced = api_client.post(f"{TASKS}{task_id}/sync/").json()
    assert synced["sync"]["newly_final"] == 3 and synced["task"]["progress"]["finished_calls"] == 3

    checked = api_client.post(f"{TASKS}{task_id}/check-completion/").json()
    assert checked["is_completed"] is True and checked["task_type"] == TaskState.CALLS_DONE
    stats = api_client.get(f"{TASKS}{task_id}/stats/").json()
    assert stats["total_leads"] == 3 and stats["finished_calls"] == 3
    assert api_client.post(f"{TASKS}{task_id}/cancel/").status_code == 409


def test_start_with_the_provider_down_is_502(api_client, org, simulator):
    task = make_task(org, rows=2, task_type=TaskState.CREATED)
    simulator.add_fault("CreateJobGroup", "unavailable", count=20)
    response = api_client.post(f"{TASKS}{task.pk}/start/", {}, format="json")
    assert response.status_code == 502 and response.json()["code"] == "provider"
    assert CallTask.objects.get(pk=task.pk).task_type == TaskState.CREATED


def test_cancel_of_a_created_task_deletes_it(api_client, org):
    task = make_task(org, rows=1, task_type=TaskState.CREATED)
    assert api_client.post(f"{TASKS}{task.pk}/cancel/").status_code == 204
    assert CallTask.objects.get(pk=task.pk).deleted_at is not None


def test_task_statistics(api_client, task):
    body = api_client.get("/api/v1/task-statistics/").json()
    assert body["count"] == 1
    item = body["results"][0]
    assert item["task_id"] == task.pk and item["statistics"]["interested"] == 1
    assert api_client.get(f"/api/v1/task-statistics/{task.pk}/").json()["statistics"]["pending_follow"] == 2


# --- lead rows ---------------------------------------------------------------------------------------------


ROWS = "/api/v1/lead-rows/"


def test_lead_rows_filters(api_client, task, org):
    make_task(org, rows=2)
    assert api_client.get(ROWS).json()["count"] == 7
    assert api_client.get(ROWS, {"task": task.pk}).json()["count"] == 5
    assert api_client.get(ROWS, {"task": task.pk, "is_connected": "true"}).json()["count"] == 3
    assert api_client.get(ROWS, {"task": task.pk, "call_status": "Failed,Executing"}).json()["count"] == 2
    assert api_client.get(ROWS, {"task": task.pk, "is_interested": "1"}).json()["count"] == 1
    assert api_client.get(ROWS, {"task": task.pk, "is_interested": "0,2"}).json()["count"] == 2
    assert api_client.get(ROWS, {"task": task.pk, "is_interested": "pending"}).json()["count"] == 2
    assert api_client.get(ROWS, {"task": task.pk, "has_follow_up": "true"}).json()["count"] == 3
    assert api_client.get(ROWS, {"task": task.pk, "is_final": "false"}).json()["count"] == 1
    assert api_client.get(ROWS, {"is_interested": "maybe"}).status_code == 400


def test_lead_row_detail_masks_phones(api_client, task):
    row = task.lead_rows.order_by("id").first()
    body = api_client.get(f"{ROWS}{row.pk}/").json()
    assert body["leads_phone"] == row.leads_phone[:3] + "****" + row.leads_phone[-4:]
    assert body["follow_up"]["id"] == row.leads_follow_id and body["interest_label"]
    assert row.leads_phone not in api_client.get(ROWS).content.decode()
    api_client.user.user_permissions.add(Permission.objects.get(codename="view_full_phone"))
    assert api_client.get(f"{ROWS}{row.pk}/").json()["leads_phone"] == row.leads_phone


# --- call records ------------------------------------------------------------------------------------------


RECORDS = "/api/v1/call-records/"


def test_call_records(api_client, task, org):
    make_task(org, rows=1)
    body = api_client.get(RECORDS).json()
    assert body["count"] == 4
    assert api_client.get(RECORDS, {"task": task.pk, "has_answered": "true"}).json()["count"] == 3
    assert api_client.get(RECORDS, {"call_status": "Busy"}).json()["count"] == 1
    row = task.lead_rows.order_by("id").first()
    assert api_client.get(RECORDS, {"lead_row": row.pk}).json()["count"] == 1
    record = body["results"][0]
    assert "****" in record["called_number"] and record["call_status_label"]


def test_unauthenticated_is_401(anon_client):
    for path in (TASKS, ROWS, RECORDS, "/api/v1/task-statistics/", "/api/v1/follow-ups/"):
        assert anon_client.get(path).status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/lead-rows/?task=99999999999999999999999",
        "/api/v1/lead-rows/?task=1.5",
        "/api/v1/call-records/?task=99999999999999999999999",
        "/api/v1/follow-ups/?task=99999999999999999999999",
        "/api/v1/call-tasks/?task_type=99999999999999999999999",
        "/api/v1/call-tasks/?task_type=1,x",
    ],
)
def test_bad_filter_values_are_400(api_client, path):
    assert api_client.get(path).status_code == 400


def test_huge_ids_in_paths_are_404(api_client):
    for path in ("/api/v1/call-tasks/99999999999999999999999/", "/api/v1/lead-rows/99999999999999999999999/"):
        assert api_client.get(path).status_code == 404
    assert api_client.post("/api/v1/call-tasks/99999999999999999999999/start/").status_code == 404
