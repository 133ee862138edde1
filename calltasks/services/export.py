"""Excel export of a task's follow-up records (跟进记录), as the predecessor's supervisors received it.

The sheet name and the column headers are a file format other tools read (the dealership's CRM import and
the predecessor's sheets), so they are fixed Chinese constants and do not follow the user's language.
"""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import translation
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from calltasks.models import LeadTask
from calltasks.services.lifecycle import task_get
from dcc_project.phones import mask_phone
from followups.models import Interest, interest_label

SHEET_NAME = "跟进记录"
HEADERS = ("姓名", "手机号", "有无意向", "下次跟进时间", "备注", "通话时长", "跟进时间")
COLUMN_WIDTHS = (14, 16, 12, 20, 60, 10, 20)
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
DURATION_FORMAT = '0"秒"'
CHUNK_SIZE = 2000
#: The file's language, whatever the user's: the labels are data for the CRM like the headers.
FILE_LANGUAGE = "zh-hans"


def _local_naive(value, tz: ZoneInfo):
    """An aware datetime as a naive local (Asia/Shanghai) one: Excel has no time zones."""
    if value is None:
        return None
    return value.astimezone(tz).replace(tzinfo=None)


def export_filename(task_id: int) -> str:
    return f"跟进记录-{task_id}.xlsx"


def followups_export_xlsx(
    *, task_id: int, organization_id: int | None, row_ids: list[int] | None = None, full_phone: bool = False
) -> bytes:
    """The task's lead rows (or the selected ``row_ids`` of it) with their follow-up as an .xlsx file.

    Rows without a follow-up yet are exported too (有无意向 = 待跟进). ``organization_id=None`` means no
    scoping (superusers). Phone numbers are masked unless ``full_phone``. Two queries whatever the size:
    the task (scoped) and the rows with their follow-up joined in.
    """
    task = task_get(task_id=task_id, organization_id=organization_id)
    tz = ZoneInfo(settings.TIME_ZONE)
    rows = LeadTask.objects.filter(task=task).select_related("leads_follow").order_by("id")
    if row_ids is not None:
        rows = rows.filter(pk__in=list(row_ids))

    workbook = Workbook(write_only=False)
    sheet = workbook.active
    sheet.title = SHEET_NAME
    sheet.append(list(HEADERS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for index, width in enumerate(COLUMN_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"

    with translation.override(FILE_LANGUAGE):
        labels = {value: interest_label(value) for value in [None, *Interest.values]}
    line = 1
    for row in rows.iterator(chunk_size=CHUNK_SIZE):
        follow_up = row.leads_follow
        interest = follow_up.is_interested if follow_up is not None else row.is_interested
        sheet.append(
            [
                row.leads_name,
                row.leads_phone if full_phone else mask_phone(row.leads_phone),
                labels.get(interest, str(interest)),
                _local_naive(follow_up.next_follow_time, tz) if follow_up else None,
                follow_up.leads_remark if follow_up else "",
                row.call_duration,
                _local_naive(follow_up.follow_time, tz) if follow_up else None,
            ]
        )
        line += 1
        sheet.cell(row=line, column=2).number_format = "@"
        sheet.cell(row=line, column=4).number_format = DATETIME_FORMAT
        sheet.cell(row=line, column=6).number_format = DURATION_FORMAT
        sheet.cell(row=line, column=7).number_format = DATETIME_FORMAT

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
