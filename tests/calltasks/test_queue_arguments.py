"""No phone number ever goes into a django-q2 task's arguments (they are stored and shown in the admin).

A whole pipeline run — create and start over the seed API, the scheduled tick fanning out monitor jobs,
monitor passes to 跟进完成, the completion notification — with every ``async_task`` call recorded (and
still executed: the cluster is synchronous in tests).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from django_q import tasks as q_tasks
from django_q.models import Task

from calltasks import tasks as calltask_jobs
from calltasks.models import CallTask, LeadTask
from calltasks.states import TaskState
from tests.calltasks.api.conftest import SeedClient
from tests.factories import LeadFactory
from tests.test_e2e_pipeline import Clock, run_until_done

pytestmark = pytest.mark.django_db(transaction=True)

PHONE_LIKE = re.compile(r"(?<!\d)(?:\+?86)?1[3-9]\d{9}(?!\d)")


@pytest.fixture
def enqueued(monkeypatch) -> list[tuple[tuple, dict]]:
    calls: list[tuple[tuple, dict]] = []
    original = q_tasks.async_task

    def recording_async_task(*args, **kwargs):
        calls.append((args, kwargs))
        return original(*args, **kwargs)

    monkeypatch.setattr(q_tasks, "async_task", recording_async_task)
    return calls


def test_no_phone_number_in_any_enqueued_task(api_client, org, simulator, settings, enqueued):
    settings.LLM_API_KEY = ""
    phones = {f"1709{i:07d}" for i in range(12)}
    for phone in phones:
        LeadFactory(organization=org, leads_type="H级", leads_user_phone=phone)
    body = {"task_name": "队列参数", "script_id": "script_demo", "size_desc": {"leads_type": ["H级"]}}
    response = SeedClient(api_client).post("/create-autoCall-tasks", body)
    assert response.status_code == 200, response.content
    task_id = response.json()["data"]["task_id"]
    assert CallTask.objects.get(pk=task_id).task_type == TaskState.CALLING
    assert set(LeadTask.objects.filter(task_id=task_id).values_list("leads_phone", flat=True)) == phones

    # The django-q2 schedule's tick fans out one monitor job per due task.
    CallTask.objects.filter(pk=task_id).update(next_check_at=timezone.now() - dt.timedelta(seconds=1))
    assert calltask_jobs.monitor_tick()["queued"] == 1
    run_until_done(task_id, Clock(simulator))
    assert CallTask.objects.get(pk=task_id).task_type == TaskState.FOLLOWUPS_DONE

    functions = [args[0] for args, _kwargs in enqueued]
    assert "calltasks.tasks.monitor_task" in functions
    assert "calltasks.tasks.task_completed_deliver" in functions
    for args, kwargs in enqueued:
        text = repr(args) + repr(kwargs)
        assert not PHONE_LIKE.search(text), text
        assert not any(phone in text for phone in phones), text
    # What django-q2 stored (and the admin shows) is free of numbers too.
    stored = list(Task.objects.values_list("args", "kwargs", "name"))
    assert stored
    for row in stored:
        assert not PHONE_LIKE.search(repr(row)), row
