"""Another organization's task is a 404 on every task endpoint (seed and REST), and is never changed."""

from __future__ import annotations

import pytest

from calltasks.models import CallTask
from calltasks.states import TaskState
from tests.calltasks.api.conftest import finish_row, make_task
from tests.calltasks.api.test_envelope import assert_envelope

pytestmark = pytest.mark.django_db


@pytest.fixture
def theirs(other_org):
    task = make_task(other_org, rows=2, task_type=TaskState.CALLING)
    for row in task.lead_rows.all():
        finish_row(row, connected=True, follow_up=True, interest=1)
    return task


SEED_POSTS = [
    ("/query-task-execution", {}),
    ("/query-task-execution", {"refresh": True}),
    ("/check_task_completion", {}),
    ("/start-call-task", {}),
    ("/suspend-resume-task", {"action": "suspend"}),
    ("/suspend-resume-task", {"action": "resume"}),
    ("/cancel-call-task", {}),
    ("/delete-call-task", {}),
]


@pytest.mark.parametrize("prefix", ["", "/api"])
@pytest.mark.parametrize(("path", "extra"), SEED_POSTS)
def test_seed_posts(seed, theirs, prefix, path, extra):
    assert_envelope(seed.post(prefix + path, {"task_id": theirs.pk, **extra}), 404)
    assert CallTask.objects.get(pk=theirs.pk).task_type == TaskState.CALLING


@pytest.mark.parametrize("path", ["/check_task_completion/{}", "/task_followup_records/{}"])
def test_seed_gets(seed, theirs, path):
    assert_envelope(seed.get(path.format(theirs.pk)), 404)
    assert CallTask.objects.get(pk=theirs.pk).task_type == TaskState.CALLING


REST_CALLS = [
    ("get", "/api/v1/call-tasks/{}/"),
    ("delete", "/api/v1/call-tasks/{}/"),
    ("post", "/api/v1/call-tasks/{}/start/"),
    ("post", "/api/v1/call-tasks/{}/pause/"),
    ("post", "/api/v1/call-tasks/{}/resume/"),
    ("post", "/api/v1/call-tasks/{}/cancel/"),
    ("post", "/api/v1/call-tasks/{}/sync/"),
    ("post", "/api/v1/call-tasks/{}/check-completion/"),
    ("get", "/api/v1/call-tasks/{}/stats/"),
    ("get", "/api/v1/task-statistics/{}/"),
]


@pytest.mark.parametrize(("method", "path"), REST_CALLS)
def test_rest_task_endpoints(api_client, theirs, method, path):
    response = getattr(api_client, method)(path.format(theirs.pk), format="json")
    assert response.status_code == 404
    task = CallTask.objects.get(pk=theirs.pk)
    assert task.task_type == TaskState.CALLING and task.deleted_at is None


def test_rest_rows_records_and_follow_ups(api_client, theirs):
    row = theirs.lead_rows.first()
    assert api_client.get(f"/api/v1/lead-rows/{row.pk}/").status_code == 404
    assert api_client.get(f"/api/v1/follow-ups/{row.leads_follow_id}/").status_code == 404
    for path in (
        "/api/v1/call-tasks/",
        "/api/v1/lead-rows/",
        "/api/v1/call-records/",
        "/api/v1/follow-ups/",
        "/api/v1/task-statistics/",
    ):
        assert api_client.get(path).json()["count"] == 0, path
    assert api_client.get("/api/v1/lead-rows/", {"task": theirs.pk}).json()["count"] == 0
