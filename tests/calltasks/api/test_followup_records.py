"""GET /task_followup_records/{task_id}: task info, call statistics, paginated follow-up records; runs the check."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.translation import gettext as _
from rest_framework import serializers

from calltasks.api.serializers import FollowupRecordSerializer
from calltasks.models import CallTask, LeadTask
from calltasks.selectors import followup_records_page
from calltasks.states import TaskState
from followups.models import FollowUp
from tests.calltasks.api.conftest import finish_row, make_task
from tests.calltasks.api.test_envelope import assert_envelope

pytestmark = pytest.mark.django_db


def url(task_id, prefix="/") -> str:
    return f"{prefix}task_followup_records/{task_id}"


@pytest.fixture
def task(org):
    task = make_task(org, rows=6)
    rows = list(task.lead_rows.order_by("id"))
    finish_row(rows[0], connected=True, follow_up=True, interest=1)
    finish_row(rows[1], connected=True, follow_up=True, interest=2)
    finish_row(rows[2], connected=False, status="Busy", follow_up=True, interest=0)
    finish_row(rows[3], connected=False, status="NoAnswer", follow_up=True, interest=0)
    finish_row(rows[4], connected=False, status="PoweredOff", follow_up=True, interest=0)
    return task


@pytest.mark.parametrize("prefix", ["/", "/api/"])
def test_records_and_statistics(seed, task, prefix):
    body = assert_envelope(seed.get(url(task.pk, prefix)), 200)
    data = body["data"]
    assert data["task_info"] == {
        "id": task.pk,
        "task_name": task.task_name,
        "task_type": TaskState.CALLING,
        "task_type_label": str(TaskState.CALLING.label),
        "create_time": data["task_info"]["create_time"],
        "leads_count": 6,
        "is_completed": False,
    }
    assert data["call_statistics"] == {
        "total_calls": 6,
        "connected_calls": 2,
        "failed_calls": 1,
        "busy_calls": 1,
        "no_answer_calls": 1,
        "success_rate": 33.33,
    }
    records = data["followup_records"]
    assert len(records) == 6
    first_row = task.lead_rows.order_by("id").first()
    first = records[0]
    assert first["follow_id"] == first_row.leads_follow_id
    assert first["leads_name"] == first_row.leads_name
    assert first["leads_phone"] == first_row.leads_phone[:3] + "****" + first_row.leads_phone[-4:]
    assert first["is_interested"] == 1 and first["interest_label"] == _("Interested")
    assert first["leads_remark"] == first_row.leads_follow.leads_remark
    assert first["call_duration"] == 42 and first["is_connected"] is True and first["call_status"] == "Succeeded"
    assert records[-1]["follow_id"] is None and records[-1]["leads_remark"] is None
    assert data["pagination"] == {"page": 1, "page_size": 20, "total_pages": 1, "total_count": 6}


def test_pagination(seed, task):
    data = seed.get(url(task.pk), {"page": 2, "page_size": 4}).json()["data"]
    assert len(data["followup_records"]) == 2
    assert data["pagination"] == {"page": 2, "page_size": 4, "total_pages": 2, "total_count": 6}


def test_pages_follow_the_row_ids_of_the_task_only(seed, org, task):
    make_task(org, rows=3)  # rows of another task in between must not shift the pages
    make_task(org, rows=3)
    ids = list(task.lead_rows.order_by("id").values_list("id", flat=True))
    pages = [seed.get(url(task.pk), {"page": page, "page_size": 4}).json()["data"] for page in (1, 2)]
    assert [record["id"] for page in pages for record in page["followup_records"]] == ids


@pytest.mark.parametrize("params", [{"page": 0}, {"page_size": 201}, {"page": "x"}])
def test_bad_paging_is_400(seed, task, params):
    assert_envelope(seed.get(url(task.pk), params), 400)


def test_reading_runs_the_completion_check(seed, task, settings):
    settings.CALLTASKS_COMPLETION_RULE = "all_final"
    last = task.lead_rows.order_by("id").last()
    finish_row(last, connected=True, follow_up=True, interest=1)
    data = seed.get(url(task.pk)).json()["data"]
    assert data["task_info"]["task_type"] == TaskState.FOLLOWUPS_DONE and data["task_info"]["is_completed"] is True
    assert CallTask.objects.get(pk=task.pk).task_type == TaskState.FOLLOWUPS_DONE


def test_reading_a_task_in_3_moves_it_to_4_once_every_row_is_followed_up(seed, org):
    task = make_task(org, rows=3, task_type=TaskState.CALLS_DONE)
    for row in task.lead_rows.all():
        finish_row(row, connected=True, follow_up=True, interest=1)
    data = assert_envelope(seed.get(url(task.pk)), 200)["data"]
    assert data["task_info"]["task_type"] == TaskState.FOLLOWUPS_DONE and data["task_info"]["is_completed"] is True
    assert CallTask.objects.get(pk=task.pk).task_type == TaskState.FOLLOWUPS_DONE


def finished_task(org, rows: int) -> CallTask:
    task = make_task(org, rows=rows, task_type=TaskState.FOLLOWUPS_DONE)
    for i, row in enumerate(task.lead_rows.all()):
        finish_row(row, connected=i % 3 != 2, follow_up=True, interest=i % 3)
    return task


def test_a_finished_task_costs_the_same_queries_whatever_its_size_and_no_completion_check(seed, org):
    """State 4 cannot change: no completion check (it aggregated every row with an EXISTS over call records).

    Token, task, call-statistics aggregate, page, two permission look-ups: 6 statements (8 before).
    """
    small, large = finished_task(org, 2), finished_task(org, 30)
    seed.get(url(small.pk))  # warm caches (content types)
    counts = {}
    for task in (small, large):
        with CaptureQueriesContext(connection) as captured:
            data = assert_envelope(seed.get(url(task.pk), {"page_size": 10}), 200)["data"]
        assert data["task_info"]["task_type"] == TaskState.FOLLOWUPS_DONE
        sql = [query["sql"] for query in captured.captured_queries]
        assert not any("outbound_call_records" in statement for statement in sql), sql
        assert not any(statement.lstrip().upper().startswith("UPDATE") for statement in sql), sql
        counts[task.pk] = len(sql)
    assert counts[small.pk] == counts[large.pk] <= 6, counts


def test_records_are_what_the_declared_fields_give(org):
    """The serializer builds its dict directly; the output must equal DRF's field-by-field rendering."""
    task = make_task(org, rows=4)
    rows = list(task.lead_rows.order_by("id"))
    finish_row(rows[0], connected=True, follow_up=True, interest=1)
    finish_row(rows[1], connected=False, status="Busy", follow_up=True, interest=None)
    finish_row(rows[2], connected=False, status="NoAnswer")
    LeadTask.objects.filter(pk=rows[0].pk).update(call_time=dt.datetime(2025, 1, 31, 18, 30, 5, tzinfo=dt.UTC))
    next_follow = dt.datetime(2025, 2, 1, 2, 0, tzinfo=dt.UTC)
    FollowUp.objects.filter(pk=rows[0].leads_follow_id).update(next_follow_time=next_follow)
    LeadTask.objects.filter(pk=rows[3].pk).update(leads_name="", call_duration=None, call_time=None)
    page = followup_records_page(task_id=task.pk, offset=0, limit=10)
    for full_phone in (False, True):
        serializer = FollowupRecordSerializer(page, many=True, context={"full_phone": full_phone})
        child = serializer.child
        expected = [serializers.Serializer.to_representation(child, row) for row in page]
        assert serializer.data == expected
        assert expected[0]["call_time"] == "2025-02-01 02:30:05"
        assert expected[0]["next_follow_time"] == "2025-02-01 10:00:00"
        assert [list(record) for record in serializer.data] == [list(record) for record in expected]


def test_all_connected_rule_moves_the_task_to_3(seed, org, settings):
    settings.CALLTASKS_COMPLETION_RULE = "all_connected"
    task = make_task(org, rows=5)
    for row in task.lead_rows.all():
        finish_row(row, connected=True)
    data = seed.get(url(task.pk)).json()["data"]
    assert data["task_info"]["task_type"] == TaskState.CALLS_DONE
    assert data["call_statistics"]["success_rate"] == 100.0


def test_paused_task_is_never_changed(seed, org):
    task = make_task(org, rows=2, task_type=TaskState.PAUSED)
    for row in task.lead_rows.all():
        finish_row(row, connected=True, follow_up=True, interest=1)
    data = assert_envelope(seed.get(url(task.pk)), 200)["data"]
    assert data["task_info"]["task_type"] == TaskState.PAUSED
    assert CallTask.objects.get(pk=task.pk).task_type == TaskState.PAUSED


def test_other_organizations_task_is_404(other_seed, task):
    assert_envelope(other_seed.get(url(task.pk)), 404)
    assert CallTask.objects.get(pk=task.pk).task_type == TaskState.CALLING
