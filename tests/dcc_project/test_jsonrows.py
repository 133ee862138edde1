"""dcc_project.jsonrows: bulk writes through one JSON parameter keep every value as the ORM would store it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction

from calltasks.models import LeadTask, OutboundCallRecord
from dcc_project import jsonrows
from followups.models import FollowUp
from tests.factories import LeadTaskFactory

pytestmark = [
    pytest.mark.django_db,
    # On SQLite before 3.35 the module is not used (callers take the ORM path, tests/test_e2e_pipeline.py's
    # test_pipeline_without_json_bulk_writes); this machine and CI have 3.40.
    pytest.mark.skipif(
        connection.vendor == "sqlite" and not jsonrows.supported(), reason="jsonrows needs SQLite 3.35+"
    ),
]

WHEN = dt.datetime(2026, 11, 23, 8, 30, 15, 123456, tzinfo=dt.UTC)
LOCAL = dt.datetime(2026, 11, 23, 16, 30, 15, tzinfo=dt.timezone(dt.timedelta(hours=8)))
TURNS = [{"speaker": "Robot", "text": "您好，这里是吉利4S店"}, {"speaker": "Contact", "text": "周六来看车"}]


def test_update_writes_every_type_in_one_statement():
    rows = [LeadTaskFactory(), LeadTaskFactory()]
    values = [
        {"id": rows[0].pk, "call_status": "Succeeded", "final_at": WHEN, "is_connected": True,
         "call_conversation": TURNS, "call_duration": 42},
        {"id": rows[1].pk, "call_status": "Failed", "final_at": LOCAL, "is_connected": False,
         "call_conversation": None, "call_duration": None},
    ]
    fields = ["call_status", "final_at", "is_connected", "call_conversation", "call_duration"]
    with connection.execute_wrapper(counter := _Counter()):
        assert jsonrows.update(LeadTask, fields, values) == 2
    assert counter.count == 1
    first, second = (LeadTask.objects.get(pk=row.pk) for row in rows)
    assert (first.call_status, first.final_at, first.is_connected, first.call_conversation, first.call_duration) == (
        "Succeeded", WHEN, True, TURNS, 42,
    )
    assert (second.final_at, second.is_connected, second.call_conversation, second.call_duration) == (
        LOCAL, False, None, None,
    )


def test_insert_returning_and_upsert():
    row = LeadTaskFactory()
    follow = {
        "lead_id": row.lead_id, "lead_task_id": row.pk, "follow_time": WHEN, "leads_remark": "客户有意向",
        "first_follow_time": WHEN, "new_follow_time": WHEN, "next_follow_time": None, "is_arrive": False,
        "first_arrive_time": None, "is_interested": 1, "source": FollowUp.Source.AI_CALL, "judge": "rules",
        "judged_at": WHEN, "created_at": WHEN, "updated_time": WHEN,
    }
    ((followup_id, lead_task_id),) = jsonrows.insert(FollowUp, list(follow), [follow], returning=("id", "lead_task"))
    stored = FollowUp.objects.get(pk=followup_id)
    assert lead_task_id == row.pk and stored.follow_time == WHEN and stored.leads_remark == "客户有意向"
    assert stored.is_interested == 1 and stored.next_follow_time is None
    with pytest.raises(IntegrityError), transaction.atomic():  # the unique lead_task still decides
        jsonrows.insert(FollowUp, list(follow), [follow])

    record = {
        "call_task_id": row.task_id, "lead_task_id": row.pk, "job_group_id": "g", "job_id": "j",
        "provider_task_id": "t-1", "call_status": "Busy", "status_code": None, "end_reason": "", "has_answered": False,
        "called_number": "138****0000", "calling_number": "", "planed_time": WHEN, "actual_time": None,
        "end_time": None, "duration": 0, "hang_up_direction": "", "conversation": None, "created": WHEN,
        "updated": WHEN,
    }
    updates = ["call_status", "has_answered", "duration", "conversation", "updated"]
    jsonrows.insert(OutboundCallRecord, list(record), [record], conflict_target="provider_task_id", update_fields=updates)
    later = WHEN + dt.timedelta(minutes=5)
    record |= {"call_status": "Succeeded", "has_answered": True, "duration": 30, "conversation": TURNS, "updated": later}
    jsonrows.insert(OutboundCallRecord, list(record), [record], conflict_target="provider_task_id", update_fields=updates)
    stored = OutboundCallRecord.objects.get(provider_task_id="t-1")
    assert OutboundCallRecord.objects.count() == 1
    assert (stored.call_status, stored.has_answered, stored.duration, stored.conversation, stored.updated) == (
        "Succeeded", True, 30, TURNS, later,
    )
    assert stored.created == WHEN


class _Counter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def test_sqlite_update_walks_the_json_rows_not_the_table():
    """The follow-up link's UPDATE (… AND leads_follow_id IS NULL) once let SQLite drive the join from that
    index and re-read the JSON array for every un-followed row of the table: 272 s for 20,000 rows."""
    table = connection.ops.quote_name(LeadTask._meta.db_table)
    fields = jsonrows.fields_of(LeadTask, ["is_interested"])
    sql = jsonrows.update_from_sql(
        table, '"is_interested" = v."is_interested"', jsonrows.source(fields, with_pk=True),
        f'{table}."id" = v.id AND {table}."leads_follow_id" IS NULL',
    )
    rows = [LeadTaskFactory() for _ in range(3)]
    param = jsonrows.payload([{"id": row.pk, "is_interested": 2} for row in rows], fields, with_pk=True)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", [param])
            plan = " | ".join(str(step[-1]) for step in cursor.fetchall())
        assert "SCAN v" in plan and "INTEGER PRIMARY KEY" in plan, plan
    assert jsonrows.execute_update(sql, [param]) == 3
    assert set(LeadTask.objects.filter(pk__in=[r.pk for r in rows]).values_list("is_interested", flat=True)) == {2}
