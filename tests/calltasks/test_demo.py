"""calltasks/demo.py + manage.py demo_tasks: the demo tasks `make run` creates once the simulator is up."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from calltasks.demo import DEMO_TASKS, demo_tasks_ensure
from calltasks.models import CallTask, LeadTask
from calltasks.states import TaskState
from followups.demo import seed_demo

pytestmark = pytest.mark.django_db


def test_creates_and_starts_the_demo_tasks_once(simulator):
    seed_demo(create_admin=False)
    result = demo_tasks_ensure()
    assert result.errors == []
    assert len(result.created) == len(DEMO_TASKS)
    assert len(result.started) == sum(plan.start for plan in DEMO_TASKS)
    states = dict(CallTask.objects.values_list("task_name", "task_type"))
    for plan in DEMO_TASKS:
        assert states[plan.name] == (TaskState.CALLING if plan.start else TaskState.CREATED)
    a_grade = CallTask.objects.get(task_name=DEMO_TASKS[0].name)
    assert a_grade.leads_count > 0
    assert set(LeadTask.objects.filter(task=a_grade).values_list("lead__leads_type", flat=True)) == {"A级"}
    # The provider received every lead of the started tasks.
    a_grade.refresh_from_db()
    assert len(simulator.ground_truth(a_grade.job_group_id)) == a_grade.leads_count

    again = demo_tasks_ensure()
    assert again.already_present and again.created == []
    assert CallTask.objects.count() == len(DEMO_TASKS)


def test_without_a_simulator_tasks_stay_startable(settings):
    seed_demo(create_admin=False)
    settings.OUTBOUNDBOT_ENDPOINT = "http://127.0.0.1:9"  # nothing listens: connection refused
    result = demo_tasks_ensure()
    assert len(result.created) == len(DEMO_TASKS)
    assert result.started == []
    assert len(result.errors) == sum(plan.start for plan in DEMO_TASKS)
    assert set(CallTask.objects.values_list("task_type", flat=True)) == {TaskState.CREATED}


def test_command_reports_and_is_idempotent(simulator):
    seed_demo(create_admin=False)
    out = StringIO()
    call_command("demo_tasks", stdout=out, stderr=StringIO())
    assert "已创建演示外呼任务 3 个，已启动 2 个" in out.getvalue()
    out = StringIO()
    call_command("demo_tasks", stdout=out)
    assert "未重复创建" in out.getvalue()


def test_command_without_demo_organization_fails():
    with pytest.raises(CommandError):
        call_command("demo_tasks", stdout=StringIO(), stderr=StringIO())
