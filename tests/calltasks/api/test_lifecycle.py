"""POST /start-call-task, /suspend-resume-task, /cancel-call-task, /delete-call-task against the live simulator."""

from __future__ import annotations

import pytest
from django.utils.translation import gettext as _

from calltasks.models import CallTask, LeadTask
from calltasks.provider import statuses
from calltasks.states import TaskState
from tests.calltasks.api.conftest import make_task
from tests.calltasks.api.test_envelope import assert_envelope
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

STATE_FIELDS = {
    "task_id",
    "task_name",
    "task_type",
    "task_type_label",
    "job_group_id",
    "script_id",
    "leads_count",
    "create_time",
    "started_at",
    "paused_at",
    "cancelled_at",
    "calls_done_at",
    "followups_done_at",
    "is_deleted",
}


def created_task(seed, org, *, count: int = 3, script_id: str = "script_demo") -> CallTask:
    for _i in range(count):
        LeadFactory(organization=org, leads_type="C级")
    data = seed.post(
        "/create-autoCall-tasks",
        {"task_name": "生命周期", "script_id": script_id, "size_desc": {"leads_type": ["C级"]}, "auto_start": False},
    ).json()["data"]
    return CallTask.objects.get(pk=data["task_id"])


@pytest.fixture
def calling(seed, org, simulator):
    simulator.set_speed(0)
    task = created_task(seed, org)
    assert_envelope(seed.post("/start-call-task", {"task_id": task.pk}), 200)
    return CallTask.objects.get(pk=task.pk)


def test_start(seed, org, simulator):
    task = created_task(seed, org, script_id="")
    body = assert_envelope(seed.post("/api/start-call-task", {"task_id": task.pk, "script_id": "script_x"}), 200)
    data = body["data"]
    assert body["message"] == _("Calling started")
    assert set(data) == STATE_FIELDS
    assert data["task_id"] == task.pk and data["task_type"] == TaskState.CALLING
    assert data["task_type_label"] == str(TaskState.CALLING.label)
    assert data["script_id"] == "script_x" and data["job_group_id"] and data["started_at"]
    assert simulator.stats()["groups"] == 1
    assert LeadTask.objects.filter(task=task, call_job_id__isnull=False).count() == 3


def test_start_without_script_is_400(seed, org, simulator):
    task = created_task(seed, org, script_id="")
    body = assert_envelope(seed.post("/start-call-task", {"task_id": task.pk}), 400)
    assert body["message"] == _("Set the call script (script_id) before starting the task.")
    assert simulator.stats()["groups"] == 0


def test_start_twice_is_409(seed, calling):
    body = assert_envelope(seed.post("/start-call-task", {"task_id": calling.pk}), 409)
    assert body["message"] == _("Only a newly created task can be started.")


def test_start_with_the_provider_down_is_502_and_the_task_stays_created(seed, org, simulator):
    task = created_task(seed, org)
    simulator.add_fault("CreateJobGroup", "unavailable", count=20)
    body = assert_envelope(seed.post("/start-call-task", {"task_id": task.pk}), 502)
    assert body["status"] == "error"
    task.refresh_from_db()
    assert task.task_type == TaskState.CREATED and task.job_group_id is None and not task.lease_owner
    assert simulator.stats()["groups"] == 0


def test_start_with_assign_jobs_down_is_502_and_the_task_stays_created(seed, org, simulator):
    task = created_task(seed, org)
    simulator.add_fault("AssignJobs", "unavailable", count=100)
    assert_envelope(seed.post("/start-call-task", {"task_id": task.pk}), 502)
    assert CallTask.objects.get(pk=task.pk).task_type == TaskState.CREATED


def test_suspend_and_resume(seed, calling, simulator):
    body = assert_envelope(seed.post("/suspend-resume-task", {"action": "suspend", "task_id": calling.pk}), 200)
    assert body["message"] == _("Calling paused")
    assert body["data"]["task_type"] == TaskState.PAUSED and body["data"]["paused_at"]
    assert simulator.stats()["requests"].get("SuspendJobs") == 1
    assert_envelope(seed.post("/suspend-resume-task", {"action": "suspend", "task_id": calling.pk}), 409)

    body = assert_envelope(seed.post("/api/suspend-resume-task", {"action": "resume", "task_id": calling.pk}), 200)
    assert body["message"] == _("Calling resumed")
    assert body["data"]["task_type"] == TaskState.CALLING and body["data"]["paused_at"] is None
    assert_envelope(seed.post("/suspend-resume-task", {"action": "resume", "task_id": calling.pk}), 409)


def test_suspend_with_the_provider_down_is_502_and_nothing_changes(seed, calling, simulator):
    simulator.add_fault("SuspendJobs", "unavailable", count=20)
    assert_envelope(seed.post("/suspend-resume-task", {"action": "suspend", "task_id": calling.pk}), 502)
    assert CallTask.objects.get(pk=calling.pk).task_type == TaskState.CALLING


@pytest.mark.parametrize("action", ["pause", "", None, 1])
def test_suspend_resume_needs_a_valid_action(seed, calling, action):
    body = assert_envelope(seed.post("/suspend-resume-task", {"action": action, "task_id": calling.pk}), 400)
    assert "action" in body["data"]["errors"]


def test_cancel(seed, calling, simulator):
    body = assert_envelope(seed.post("/cancel-call-task", {"task_id": calling.pk}), 200)
    assert body["message"] == _("Calling cancelled")
    data = body["data"]
    assert data["task_type"] in (TaskState.CALLS_DONE, TaskState.FOLLOWUPS_DONE)
    assert data["cancelled_at"] and data["is_deleted"] is False
    assert simulator.stats()["requests"].get("CancelJobs") == 1
    assert not LeadTask.objects.filter(task=calling, final_at__isnull=True).exists()
    assert set(LeadTask.objects.filter(task=calling).values_list("call_status", flat=True)) <= {
        statuses.JOB_CANCELLED,
        statuses.JOB_SUCCEEDED,
        statuses.JOB_FAILED,
    }
    assert_envelope(seed.post("/cancel-call-task", {"task_id": calling.pk}), 409)


def test_cancel_of_a_task_never_started_deletes_it(seed, org):
    task = make_task(org, rows=2, task_type=TaskState.CREATED)
    body = assert_envelope(seed.post("/cancel-call-task", {"task_id": task.pk}), 200)
    assert body["message"] == _("The task had not been started, so it was deleted")
    assert body["data"]["is_deleted"] is True
    assert CallTask.objects.get(pk=task.pk).deleted_at is not None


def test_cancel_with_the_provider_down_is_502(seed, calling, simulator):
    simulator.add_fault("CancelJobs", "unavailable", count=20)
    assert_envelope(seed.post("/cancel-call-task", {"task_id": calling.pk}), 502)
    assert CallTask.objects.get(pk=calling.pk).task_type == TaskState.CALLING


@pytest.mark.parametrize("state", [TaskState.CREATED, TaskState.CALLS_DONE, TaskState.FOLLOWUPS_DONE])
def test_delete(seed, org, state):
    task = make_task(org, rows=1, task_type=state)
    body = assert_envelope(seed.post("/delete-call-task", {"task_id": task.pk}), 200)
    assert body["message"] == _("Task deleted") and body["data"]["is_deleted"] is True
    assert CallTask.objects.get(pk=task.pk).deleted_at is not None
    assert_envelope(seed.post("/delete-call-task", {"task_id": task.pk}), 404)


@pytest.mark.parametrize("state", [TaskState.CALLING, TaskState.PAUSED])
def test_delete_while_calls_may_run_is_409(seed, org, state):
    task = make_task(org, rows=1, task_type=state)
    body = assert_envelope(seed.post("/delete-call-task", {"task_id": task.pk}), 409)
    assert body["message"] == _("A calling or paused task cannot be deleted; cancel it first.")
    assert CallTask.objects.get(pk=task.pk).deleted_at is None


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/start-call-task", {}),
        ("/start-call-task", {"task_id": 0}),
        ("/cancel-call-task", {"task_id": "abc"}),
        ("/delete-call-task", {"task_id": None}),
        ("/suspend-resume-task", {"action": "suspend"}),
    ],
)
def test_task_id_is_validated(seed, path, payload):
    body = assert_envelope(seed.post(path, payload), 400)
    assert "task_id" in body["data"]["errors"]
