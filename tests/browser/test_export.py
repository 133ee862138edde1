"""Export of follow-ups to Excel from the admin, downloaded by the browser and opened with openpyxl."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook

from calltasks.models import LeadTask
from tests.browser.conftest import demo_task, drive_to_done, save_screenshot, task_url

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADERS = ["姓名", "手机号", "有无意向", "下次跟进时间", "备注", "通话时长", "跟进时间"]


def read_sheet(path):
    workbook = load_workbook(path)
    assert workbook.sheetnames[0] == "跟进记录"
    rows = list(workbook["跟进记录"].iter_rows(values_only=True))
    return rows[0], rows[1:]


def test_export_from_the_task_page_and_from_the_changelist_action(supervisor_page, demo, simulator, tmp_path):
    page = supervisor_page
    task = demo_task(demo, leads=7, name="导出测试")
    drive_to_done(task, simulator)
    names = set(LeadTask.objects.filter(task=task).values_list("leads_name", flat=True))

    page.goto(task_url(task))
    with page.expect_download() as download_info:
        page.locator('#task-actions button[name="_task_action"][value="export"]').click()
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    path = tmp_path / "task.xlsx"
    download.save_as(path)
    header, rows = read_sheet(path)
    assert list(header) == HEADERS
    assert len(rows) == 7
    assert {row[0] for row in rows} == names
    assert all(row[2] for row in rows)  # 有无意向 filled for every row of a finished task
    assert all(row[6] is not None for row in rows)  # 跟进时间

    # The same export as a changelist action on the selected task.
    page.goto("/admin/calltasks/calltask/")
    page.locator(f'#result_list input.action-select[value="{task.pk}"]').check()
    page.select_option('select[name="action"]', "export_followups_xlsx")
    save_screenshot(page, "task-list-export-action")
    with page.expect_download() as download_info:
        page.locator('button[name="index"]').click()
    path = tmp_path / "action.xlsx"
    download_info.value.save_as(path)
    header, rows = read_sheet(path)
    assert list(header) == HEADERS and len(rows) == 7


def test_export_selected_lead_rows(supervisor_page, demo, simulator, tmp_path):
    page = supervisor_page
    task = demo_task(demo, leads=5, name="导出选中行")
    drive_to_done(task, simulator)
    chosen = list(LeadTask.objects.filter(task=task).order_by("pk")[:2])

    page.goto(f"/admin/calltasks/leadtask/?task__id__exact={task.pk}")
    for row in chosen:
        page.locator(f'#result_list input.action-select[value="{row.pk}"]').check()
    page.select_option('select[name="action"]', "export_rows_xlsx")
    with page.expect_download() as download_info:
        page.locator('button[name="index"]').click()
    path = tmp_path / "rows.xlsx"
    download_info.value.save_as(path)
    header, rows = read_sheet(path)
    assert list(header) == HEADERS
    assert sorted(row[0] for row in rows) == sorted(row.leads_name for row in chosen)
