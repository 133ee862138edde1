"""POST /auto-task {"action": "start"|"stop"|"check"} (seed 000)."""

from __future__ import annotations

import pytest
from django.utils import translation
from django.utils.translation import gettext as _

from calltasks.models import CallTask, MonitorRun, MonitorState
from calltasks.services.monitor import monitor_is_enabled
from calltasks.states import TaskState
from tests.calltasks.api.test_envelope import assert_envelope
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db
URL = "/auto-task"


def test_start_as_in_seed_000(seed):
    response = seed.post(URL, {"action": "start"})
    assert response.json() == {
        "status": "success",
        "code": 200,
        "message": _("Automatic task monitoring started"),
        "data": {"is_running": True, "action": "start"},
    }
    assert monitor_is_enabled()


def test_stop_and_start_flip_the_persistent_switch(seed):
    body = assert_envelope(seed.post("/api/auto-task", {"action": "stop"}), 200)
    assert body["message"] == _("Automatic task monitoring stopped")
    assert body["data"] == {"is_running": False, "action": "stop"}
    assert monitor_is_enabled() is False
    state = MonitorState.objects.get(pk=MonitorState.SINGLETON_ID)
    assert state.updated_by == seed.user.username
    assert seed.post(URL, {"action": "start"}).json()["data"]["is_running"] is True
    assert monitor_is_enabled() is True


@pytest.mark.parametrize("action", ["restart", "", None, "START", 1])
def test_anything_else_is_400(seed, action):
    body = assert_envelope(seed.post(URL, {"action": action}), 400)
    assert "action" in body["data"]["errors"]


def test_missing_action_is_400(seed):
    assert "action" in assert_envelope(seed.post(URL, {}), 400)["data"]["errors"]


def test_check_runs_one_pass_over_the_callers_tasks(seed, org, other_org, simulator):
    simulator.set_speed(0)
    for _i in range(3):
        LeadFactory(organization=org, leads_type="H级")
    created = seed.post(
        "/create-autoCall-tasks",
        {"task_name": "监控检查", "script_id": "script_demo", "size_desc": {"leads_type": ["H级"]}},
    ).json()["data"]
    assert created["task_type"] == TaskState.CALLING
    simulator.run_until_final(created["job_group_id"])
    theirs = CallTask.objects.create(organization=other_org, task_name="别家任务", task_type=TaskState.CALLING)

    body = assert_envelope(seed.post(URL, {"action": "check"}), 200)

    data = body["data"]
    assert data["action"] == "check" and data["is_running"] is True
    run = MonitorRun.objects.get(pk=data["run"]["id"])
    assert run.driver == MonitorRun.Driver.API
    assert data["run"]["tasks_checked"] == run.tasks_checked == 1
    assert data["run"]["records_written"] >= 3
    assert body["message"] == _("Task check finished: %(tasks)d tasks checked, %(followups)d follow-ups created") % {
        "tasks": run.tasks_checked,
        "followups": run.followups_created,
    }
    assert CallTask.objects.get(pk=theirs.pk).last_checked_at is None
    rows = CallTask.objects.get(pk=created["task_id"]).lead_rows.all()
    assert all(row.final_at for row in rows)


def test_check_while_stopped_is_skipped(seed):
    seed.post(URL, {"action": "stop"})
    data = assert_envelope(seed.post(URL, {"action": "check"}), 200)["data"]
    assert data["is_running"] is False and data["run"]["outcome"] == MonitorRun.Outcome.SKIPPED


def test_start_message_reads_as_in_seed_000(seed):
    """The seed's literal Chinese text (needs the zh_Hans translation of the English msgid)."""
    response = seed.post(URL, {"action": "start"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.json()["message"] == "自动化任务监控已启动"
    with translation.override("zh-hans"):
        assert _("Automatic task monitoring stopped") == "自动化任务监控已停止"
