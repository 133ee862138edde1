"""POST /check_task_completion (single and batch) and GET /check_task_completion/{id}: seed 002's scenario."""

from __future__ import annotations

import pytest
from django.utils import translation
from django.utils.translation import gettext as _

from calltasks.models import CallTask
from calltasks.states import TaskState
from tests.calltasks.api.conftest import finish_row, make_task
from tests.calltasks.api.test_envelope import assert_envelope
from tests.factories import OutboundCallRecordFactory

pytestmark = pytest.mark.django_db
URL = "/check_task_completion"
ALL_CONNECTED = "The task is complete: every call was connected"


def connect(task, rows, status="SucceededFinish"):
    for row in rows:
        finish_row(row, connected=True, status=status)
        OutboundCallRecordFactory(lead_task=row, call_task=task, job_group_id=task.job_group_id, call_status=status)


def fail(task, rows, status="NoAnswer"):
    for row in rows:
        finish_row(row, connected=False, status=status)
        OutboundCallRecordFactory(
            lead_task=row, call_task=task, job_group_id=task.job_group_id, call_status=status, has_answered=False
        )


@pytest.fixture(params=["all_final", "all_connected"])
def rule(request, settings):
    settings.CALLTASKS_COMPLETION_RULE = request.param
    return request.param


def test_seed_002_scenario(seed, org, rule):
    """The seed's own test: 5 calls, partly connected → not complete; all connected → complete (3)."""
    task = make_task(org, rows=5)
    rows = list(task.lead_rows.order_by("id"))
    connect(task, rows[:3], status="Connected")

    partly = assert_envelope(seed.post(URL, {"task_id": task.pk, "task_type": 2}), 200)
    assert partly["data"]["is_completed"] is False
    assert partly["data"]["task_type"] == TaskState.CALLING
    assert partly["data"]["total_calls"] == 5 and partly["data"]["connected_calls"] == 3
    assert partly["message"] == _(
        "The task is not complete yet: %(finished)d of %(total)d calls finished, %(connected)d connected"
    ) % {"finished": 3, "total": 5, "connected": 3}

    connect(task, rows[3:], status="SucceededTransferByIntent")
    done = assert_envelope(seed.post(URL, {"task_id": task.pk, "task_type": 2}), 200)

    assert done["message"] == _(ALL_CONNECTED)
    data = done["data"]
    assert {k: data[k] for k in ("task_id", "task_type", "is_completed", "total_calls", "connected_calls")} == {
        "task_id": task.pk,
        "task_type": 3,
        "is_completed": True,
        "total_calls": 5,
        "connected_calls": 5,
    }
    assert data["finished_calls"] == 5 and data["followed_calls"] == 0 and data["changed"] is True
    assert CallTask.objects.get(pk=task.pk).task_type == TaskState.CALLS_DONE
    again = seed.post(URL, {"task_id": task.pk}).json()["data"]
    assert again["task_type"] == 3 and again["changed"] is False


def test_partly_connected_and_the_rest_failed_depends_on_the_rule(seed, org, rule):
    task = make_task(org, rows=5)
    rows = list(task.lead_rows.order_by("id"))
    connect(task, rows[:3])
    fail(task, rows[3:], status="Busy")
    body = assert_envelope(seed.post(URL, {"task_id": task.pk}), 200)
    if rule == "all_connected":
        assert body["data"]["is_completed"] is False and body["data"]["task_type"] == TaskState.CALLING
    else:
        assert body["data"]["is_completed"] is True and body["data"]["task_type"] == TaskState.CALLS_DONE
        assert body["message"] == _(
            "The task is complete: every call has finished, %(connected)d of %(total)d connected"
        ) % {"connected": 3, "total": 5}


def test_every_row_followed_up_moves_to_4(seed, org):
    task = make_task(org, rows=2)
    for row in task.lead_rows.all():
        finish_row(row, connected=True, follow_up=True, interest=1)
    data = seed.get(f"{URL}/{task.pk}").json()["data"]
    assert data["task_type"] == TaskState.FOLLOWUPS_DONE and data["followed_calls"] == 2


@pytest.mark.parametrize("prefix", ["/", "/api/"])
def test_get_variant(seed, org, prefix, rule):
    task = make_task(org, rows=5)
    connect(task, list(task.lead_rows.all()))
    body = assert_envelope(seed.get(f"{prefix}check_task_completion/{task.pk}"), 200)
    assert body["message"] == _(ALL_CONNECTED)
    assert body["data"]["task_type"] == 3 and body["data"]["total_calls"] == 5 and body["data"]["connected_calls"] == 5


def test_paused_task_is_never_changed(seed, org, rule):
    task = make_task(org, rows=3, task_type=TaskState.PAUSED)
    connect(task, list(task.lead_rows.all()))
    for call in (lambda: seed.post(URL, {"task_id": task.pk}), lambda: seed.get(f"{URL}/{task.pk}")):
        body = assert_envelope(call(), 200)
        assert body["data"]["task_type"] == TaskState.PAUSED and body["data"]["is_completed"] is False
        assert body["data"]["changed"] is False
        assert body["message"] == _(
            "The task is paused; a check never changes a paused task (%(finished)d of %(total)d calls finished)"
        ) % {"finished": 3, "total": 3}
    assert CallTask.objects.get(pk=task.pk).task_type == TaskState.PAUSED


def test_created_task_is_reported_as_not_started(seed, org):
    task = make_task(org, rows=2, task_type=TaskState.CREATED)
    body = assert_envelope(seed.post(URL, {"task_id": task.pk}), 200)
    assert body["message"] == _("The task has not been started yet") and body["data"]["task_type"] == 1


def test_batch(seed, org, other_org):
    done = make_task(org, rows=2)
    connect(done, list(done.lead_rows.all()))
    running = make_task(org, rows=2)
    theirs = make_task(other_org, rows=2)
    connect(theirs, list(theirs.lead_rows.all()))

    body = assert_envelope(seed.post(URL, {"task_ids": [done.pk, running.pk, theirs.pk, 999999, done.pk]}), 200)

    results = {item["task_id"]: item for item in body["data"]["results"]}
    assert list(results) == [done.pk, running.pk, theirs.pk, 999999]
    assert results[done.pk]["found"] and results[done.pk]["result"]["task_type"] == 3
    assert results[done.pk]["message"] == _(ALL_CONNECTED)
    assert results[running.pk]["found"] and results[running.pk]["result"]["is_completed"] is False
    for missing in (theirs.pk, 999999):
        assert results[missing] == {
            "task_id": missing,
            "found": False,
            "code": 404,
            "message": _("Task not found."),
            "result": None,
        }
    assert body["data"]["completed_count"] == 1 and body["data"]["not_found_count"] == 2
    # Another organization's task is reported as not found and never touched.
    assert CallTask.objects.get(pk=theirs.pk).task_type == TaskState.CALLING


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "task_id"),
        ({"task_id": 1, "task_ids": [1]}, "task_ids"),
        ({"task_ids": []}, "task_ids"),
        ({"task_ids": list(range(1, 102))}, "task_ids"),
        ({"task_ids": ["x"]}, "task_ids"),
        ({"task_id": 1, "task_type": 9}, "task_type"),
    ],
)
def test_invalid_bodies(seed, payload, field):
    body = assert_envelope(seed.post(URL, payload), 400)
    assert field in body["data"]["errors"]


def test_other_organizations_task_is_404(other_seed, org):
    task = make_task(org, rows=1)
    assert_envelope(other_seed.post(URL, {"task_id": task.pk}), 404)
    assert_envelope(other_seed.get(f"{URL}/{task.pk}"), 404)


def test_seed_message_reads_as_in_seed_002(seed, org):
    """The seed's literal Chinese text (needs the zh_Hans translation of the English msgid)."""
    task = make_task(org, rows=5)
    connect(task, list(task.lead_rows.all()))
    response = seed.post(URL, {"task_id": task.pk, "task_type": 2}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.json()["message"] == "任务已完成，所有通话都已接通"
    with translation.override("zh-hans"):
        assert _(ALL_CONNECTED) == "任务已完成，所有通话都已接通"
