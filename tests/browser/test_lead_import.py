"""Lead import from the admin in a real browser: upload an .xlsx made here and read the per-row report."""

from __future__ import annotations

import pytest
from openpyxl import Workbook

from followups.models import Lead, Organization
from tests.browser.conftest import save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COLUMNS = ["leads_id", "leads_user_name", "leads_user_phone", "leads_product", "leads_type", "leads_create_time"]


def sample_xlsx(path, existing_leads_id: str) -> None:
    """The predecessor's sheet layout: two new leads (one phone stored as a float, as Excel does), one update
    of an existing lead and one row with an invalid phone number (sheet row 5)."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(COLUMNS)
    sheet.append(["BRW-0001", "浏览器甲", 17055501234.0, "星越L", "A级", "2026-11-20 10:00:00"])
    sheet.append(["BRW-0002", "浏览器乙", "17155505678", "领克06", "B级", "2026-11-21 09:30:00"])
    sheet.append([existing_leads_id, "改过的名字", "17055509999", "银河E8", "H级", "2026-11-19 08:00:00"])
    sheet.append(["BRW-0004", "号码错误", "12345", "帝豪", "C级", "2026-11-21 11:00:00"])
    workbook.save(path)


def test_import_xlsx_from_the_lead_changelist_shows_the_report(supervisor_page, demo, tmp_path):
    page = supervisor_page
    org = Organization.objects.get(code=demo.organization_code)
    existing = Lead.objects.filter(organization=org).order_by("leads_id").first()
    before = Lead.objects.filter(organization=org).count()
    path = tmp_path / "leads.xlsx"
    sample_xlsx(path, existing.leads_id)

    page.goto("/admin/followups/lead/")
    page.locator("#lead-import-link").click()
    form = page.locator("#lead-import-form")
    assert form.is_visible()
    form.locator('input[type="file"][name="file"]').set_input_files(str(path))
    form.locator('[name="_import"]').click()
    page.wait_for_load_state("domcontentloaded")

    report = page.locator("#import-report")
    assert report.is_visible()
    text = report.inner_text()
    save_screenshot(page, "lead-import-report")

    # Written into the supervisor's organization only: 2 new, 1 updated, 1 refused.
    assert Lead.objects.filter(organization=org).count() == before + 2
    first = Lead.objects.get(organization=org, leads_id="BRW-0001")
    assert first.leads_user_phone == "17055501234"  # never "17055501234.0"
    assert Lead.objects.get(pk=existing.pk).leads_user_name == "改过的名字"
    assert not Lead.objects.filter(leads_id="BRW-0004").exists()
    assert not Lead.objects.exclude(organization=org).filter(leads_id__startswith="BRW-").exists()
    # The report tells the counts and names the bad row by its sheet row number.
    counts = {key: report.locator(f"#report-{key}").inner_text().strip() for key in ("total", "imported", "updated",
                                                                                      "errors")}
    assert counts == {"total": "4", "imported": "2", "updated": "1", "errors": "1"}, text
    assert report.locator("#import-errors td.row-number").all_inner_texts() == ["5"]
    # No phone number in full on the report page.
    assert "17055501234" not in page.content()
