"""Excel export of a task's follow-ups: sheet, exact headers, labels, masking, local times, constant queries."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from calltasks.models import LeadTask
from calltasks.services.errors import TaskNotFound
from calltasks.services.export import export_filename, followups_export_xlsx
from followups.models import FollowUp
from tests.calltasks.services.conftest import local, make_task

pytestmark = pytest.mark.django_db

HEADERS = ["姓名", "手机号", "有无意向", "下次跟进时间", "备注", "通话时长", "跟进时间"]


def _sheet(content: bytes):
    workbook = load_workbook(io.BytesIO(content))
    assert workbook.sheetnames == ["跟进记录"]
    return workbook["跟进记录"]


def _follow_rows(task, verdicts):
    """Give the first rows of ``task`` an AI follow-up each: verdicts are (is_interested, remark, next_time)."""
    rows = list(LeadTask.objects.filter(task=task).select_related("lead").order_by("id"))
    for row, (interest, remark, next_time) in zip(rows, verdicts, strict=False):
        follow_up = FollowUp.objects.create(
            lead=row.lead,
            lead_task=row,
            source=FollowUp.Source.AI_CALL,
            is_interested=interest,
            leads_remark=remark,
            next_follow_time=next_time,
            follow_time=local(2026, 11, 20, 15, 30, 5),
        )
        LeadTask.objects.filter(pk=row.pk).update(
            leads_follow=follow_up, is_interested=interest, call_duration=83, is_connected=True
        )
    return rows


def test_headers_labels_masking_and_local_times(org):
    task = make_task(org, 5)
    rows = _follow_rows(
        task,
        [
            (1, "客户有意向，周六到店", local(2026, 11, 22, 10, 0)),
            (2, "客户无意向", None),
            (0, "未接通", None),
        ],
    )
    sheet = _sheet(followups_export_xlsx(task_id=task.pk, organization_id=org.pk))
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == HEADERS
    assert len(values) == 1 + 5
    first = values[1]
    assert first[0] == rows[0].leads_name
    assert first[1] == f"{rows[0].leads_phone[:3]}****{rows[0].leads_phone[-4:]}"
    assert first[2] == "有意向" and first[4] == "客户有意向，周六到店" and first[5] == 83
    # Naive Asia/Shanghai wall-clock times (Excel has no time zones).
    assert first[3] == dt.datetime(2026, 11, 22, 10, 0) and first[6] == dt.datetime(2026, 11, 20, 15, 30, 5)
    assert [v[2] for v in values[1:]] == ["有意向", "无意向", "无法判断", "待跟进", "待跟进"]
    assert values[4][3] is None and values[4][4] is None and values[4][6] is None

    full = _sheet(followups_export_xlsx(task_id=task.pk, organization_id=org.pk, full_phone=True))
    assert full.cell(row=2, column=2).value == rows[0].leads_phone


def test_selected_rows_only_and_organization_scoping(org, other_org):
    task = make_task(org, 6)
    picked = list(LeadTask.objects.filter(task=task).order_by("id").values_list("pk", flat=True))[2:4]
    sheet = _sheet(followups_export_xlsx(task_id=task.pk, organization_id=org.pk, row_ids=picked))
    names = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert names == list(LeadTask.objects.filter(pk__in=picked).order_by("id").values_list("leads_name", flat=True))
    # Rows of another task are never exported through this task.
    other_task = make_task(org, 2)
    foreign = list(LeadTask.objects.filter(task=other_task).values_list("pk", flat=True))
    sheet = _sheet(followups_export_xlsx(task_id=task.pk, organization_id=org.pk, row_ids=foreign))
    assert sheet.max_row == 1
    with pytest.raises(TaskNotFound):
        followups_export_xlsx(task_id=task.pk, organization_id=other_org.pk)
    assert export_filename(task.pk) == f"跟进记录-{task.pk}.xlsx"


def test_constant_query_count(org):
    small, large = make_task(org, 10), make_task(org, 200)
    _follow_rows(small, [(1, "有意向", None)] * 10)
    _follow_rows(large, [(2, "无意向", None)] * 200)
    counts = []
    for task in (small, large):
        with CaptureQueriesContext(connection) as queries:
            content = followups_export_xlsx(task_id=task.pk, organization_id=org.pk)
        counts.append(len(queries))
        assert _sheet(content).max_row == 1 + task.leads_count
    assert counts[0] == counts[1] <= 3
