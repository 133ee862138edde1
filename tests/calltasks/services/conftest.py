"""Fixtures and helpers for the task-service tests (lead pools, tasks with rows, local times)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from calltasks.models import CallTask, LeadTask
from calltasks.states import TaskState
from tests.factories import CallTaskFactory, FollowUpFactory, LeadFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    """An aware Asia/Shanghai datetime (what a supervisor means by a calendar day)."""
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


def make_leads(org, count: int, **fields) -> list:
    return [LeadFactory(organization=org, **fields) for _ in range(count)]


def follow(lead, **fields):
    """A manual follow-up of ``lead``; times default to None so each test sets only what it filters on."""
    defaults = {"first_follow_time": None, "new_follow_time": None, "next_follow_time": None}
    defaults.update(fields)
    return FollowUpFactory(lead=lead, **defaults)


def make_task(org, rows: int = 0, *, task_type: int = TaskState.CALLING, job_group_id: str | None = None, **fields):
    """A task with ``rows`` lead rows written in bulk (fast enough for 2,000 rows)."""
    task = CallTaskFactory(organization=org, task_type=task_type, job_group_id=job_group_id, leads_count=rows, **fields)
    leads = LeadFactory._meta.model.objects.bulk_create(
        [
            LeadFactory.build(
                organization=org, leads_id=f"T{task.pk}-{i:05d}", leads_user_phone=f"139{task.pk:03d}{i:05d}"
            )
            for i in range(rows)
        ]
    )
    LeadTask.objects.bulk_create(
        [
            LeadTask(
                task=task,
                lead=lead,
                leads_id=lead.leads_id,
                leads_name=lead.leads_user_name,
                leads_phone=lead.leads_user_phone,
                reference_id=f"dcc-{task.pk}-{lead.pk}",
            )
            for lead in leads
        ]
    )
    return task


@pytest.fixture
def task_factory(org):
    def factory(rows: int = 0, **kwargs) -> CallTask:
        return make_task(org, rows, **kwargs)

    return factory
