"""Reads cost a constant number of queries whatever the task size (no N+1): 10 rows vs 500 rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calltasks.models import CallTask, LeadTask
from calltasks.provider import statuses
from calltasks.states import TaskState
from followups.models import FollowUp, Lead

pytestmark = pytest.mark.django_db


def big_task(org, rows: int) -> CallTask:
    """A calling task with ``rows`` rows: half connected with follow-ups, the rest failed or unfinished."""
    now = timezone.now()
    task = CallTask.objects.create(
        organization=org,
        task_name=f"{rows} 行",
        task_type=TaskState.CALLING,
        leads_count=rows,
        job_group_id=f"jg-{rows}",
    )
    offset = Lead.objects.count()
    leads = Lead.objects.bulk_create(
        [
            Lead(
                organization=org,
                leads_id=f"Q{offset + i:07d}",
                leads_user_name=f"客户{i}",
                leads_user_phone=f"171{offset + i:08d}",
            )
            for i in range(rows)
        ]
    )
    lead_rows = LeadTask.objects.bulk_create(
        [
            LeadTask(
                task=task,
                lead=lead,
                leads_id=lead.leads_id,
                leads_name=lead.leads_user_name,
                leads_phone=lead.leads_user_phone,
                reference_id=f"dcc-{task.pk}-{lead.pk}",
                call_job_id=f"job-{task.pk}-{lead.pk}",
                call_status=statuses.JOB_SUCCEEDED
                if i % 2 == 0
                else (statuses.JOB_FAILED if i % 3 else statuses.JOB_EXECUTING),
                last_task_status="SucceededFinish" if i % 2 == 0 else "Busy",
                is_connected=i % 2 == 0,
                final_at=now if i % 2 == 0 or i % 3 else None,
                call_conversation=[{"Speaker": "Contact", "Script": "好的"}] if i % 2 == 0 else None,
                call_duration=30,
            )
            for i, lead in enumerate(leads)
        ]
    )
    follow_ups = FollowUp.objects.bulk_create(
        [
            FollowUp(
                lead_id=row.lead_id,
                lead_task=row,
                leads_remark="有意向",
                is_interested=1,
                source="ai_call",
                follow_time=now,
            )
            for row in lead_rows[::2]
        ]
    )
    for row, follow in zip(lead_rows[::2], follow_ups, strict=True):
        row.leads_follow = follow
        row.is_interested = 1
    LeadTask.objects.bulk_update(lead_rows[::2], ["leads_follow", "is_interested"])
    return task


def count_queries(call) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = call()
    assert response.status_code == 200, response.content
    return len(captured.captured_queries)


@pytest.mark.parametrize(
    "request_for",
    [
        pytest.param(
            lambda seed, task: seed.post("/query-task-execution", {"task_id": task.pk, "page_size": 200}),
            id="query-task-execution",
        ),
        pytest.param(
            lambda seed, task: seed.post(
                "/query-task-execution", {"task_id": task.pk, "page_size": 200, "only_followed": True, "interest": 1}
            ),
            id="query-task-execution-filtered",
        ),
        pytest.param(
            lambda seed, task: seed.get(f"/task_followup_records/{task.pk}", {"page_size": 200}),
            id="task_followup_records",
        ),
        pytest.param(
            lambda seed, task: seed.post("/check_task_completion", {"task_id": task.pk}), id="check_task_completion"
        ),
        pytest.param(
            lambda seed, task: seed.client.get(f"/api/v1/lead-rows/?task={task.pk}&page_size=200"), id="v1-lead-rows"
        ),
        pytest.param(lambda seed, task: seed.client.get("/api/v1/call-tasks/"), id="v1-call-tasks"),
        pytest.param(lambda seed, task: seed.client.get("/api/v1/follow-ups/?page_size=200"), id="v1-follow-ups"),
        pytest.param(lambda seed, task: seed.client.get(f"/api/v1/call-tasks/{task.pk}/stats/"), id="v1-stats"),
    ],
)
def test_same_number_of_queries_for_10_and_500_rows(seed, org, other_org, request_for):
    small = big_task(org, 10)
    large = big_task(org, 500)
    request_for(seed, small)  # warm caches (content types, permissions)
    small_count = count_queries(lambda: request_for(seed, small))
    large_count = count_queries(lambda: request_for(seed, large))
    assert abs(large_count - small_count) <= 2, (small_count, large_count)
    assert large_count <= 12
