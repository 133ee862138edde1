"""Fixtures of the API tests: JSON helpers, tasks with rows in given states, a started task on the simulator."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from calltasks.models import CallTask
from calltasks.provider import statuses
from calltasks.states import TaskState
from tests.factories import (
    CallTaskFactory,
    FollowUpFactory,
    LeadFactory,
    LeadTaskFactory,
    TokenFactory,
    UserFactory,
)


class SeedClient:
    """Posts JSON exactly as the seeds' curl examples do (``Content-Type: application/json``)."""

    def __init__(self, client: APIClient):
        self.client = client
        self.user = getattr(client, "user", None)

    def post(self, path: str, body=None, *, raw: str | None = None, **extra):
        payload = raw if raw is not None else json.dumps(body if body is not None else {})
        return self.client.generic("POST", path, payload, content_type="application/json", **extra)

    def get(self, path: str, params=None, **extra):
        return self.client.get(path, params or {}, **extra)


@pytest.fixture
def seed(api_client) -> SeedClient:
    return SeedClient(api_client)


@pytest.fixture
def other_seed(other_org) -> SeedClient:
    token = TokenFactory(user=UserFactory(organization=other_org))
    client = APIClient()
    client.credentials(HTTP_ACCESS_TOKEN=token.key)
    client.user = token.user
    return SeedClient(client)


def make_task(org, *, rows: int = 5, task_type: int = TaskState.CALLING, **task_fields) -> CallTask:
    """A task with ``rows`` unfinished lead rows that have provider job ids."""
    not_started = task_type == TaskState.CREATED
    task = CallTaskFactory(
        organization=org,
        task_type=task_type,
        leads_count=rows,
        job_group_id=None if not_started else f"jg-{org.pk}-{CallTask.objects.count() + 1}",
        script_id="script_demo",
        **task_fields,
    )
    for _i in range(rows):
        LeadTaskFactory(task=task, call_status="" if not_started else statuses.JOB_EXECUTING)
    return task


def finish_row(
    row, *, connected: bool, status: str | None = None, follow_up: bool = False, interest: int | None = None
):
    """Give a row a final outcome (and optionally a follow-up), as the sync and the follow-up writer would."""
    row.call_status = statuses.JOB_SUCCEEDED if connected else statuses.JOB_FAILED
    row.last_task_status = status or ("SucceededFinish" if connected else "NoAnswer")
    row.is_connected = connected
    row.failure_reason = "" if connected else row.last_task_status
    row.final_at = timezone.now()
    row.attempts = 1
    row.call_duration = 42 if connected else 0
    if connected:
        row.call_conversation = [{"Speaker": "Robot", "Script": "您好"}, {"Speaker": "Contact", "Script": "好的"}]
    if follow_up:
        follow = FollowUpFactory(lead=row.lead, lead_task=row, is_interested=interest, source="ai_call")
        row.leads_follow = follow
        row.is_interested = interest
    row.save()
    return row


@pytest.fixture
def leads(org):
    """Six leads of the caller's organization: grades H/A/B, products 星越L/领克06."""
    specs = [
        ("H级", "星越L"),
        ("H级", "领克06"),
        ("A级", "星越L"),
        ("A级", "领克06"),
        ("B级", "星越L"),
        ("B级", "领克06"),
    ]
    return [LeadFactory(organization=org, leads_type=grade, leads_product=product) for grade, product in specs]
