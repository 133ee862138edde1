"""Lead import (followups/imports.py and manage.py import_leads): formats, normalisation, report, safety."""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from followups.imports import ImportFileError, leads_import
from followups.models import Lead
from tests.data.sample_leads import PATH as SAMPLE_PATH
from tests.data.sample_leads import write_sample_leads
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
HEADER = ["leads_id", "leads_user_name", "leads_user_phone", "leads_product", "leads_type", "leads_create_time"]


def xlsx_bytes(rows, header=HEADER) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows, header=HEADER, encoding="utf-8") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def run(org, data: bytes, filename: str, **kwargs):
    return leads_import(organization=org, file=io.BytesIO(data), filename=filename, **kwargs)


def leads(org) -> dict[str, Lead]:
    return {lead.leads_id: lead for lead in Lead.objects.filter(organization=org)}


def test_xlsx_import_normalises_phones_and_ids_and_reads_times(org):
    data = xlsx_bytes(
        [
            ["A1", "张三", 13800000000.0, "星越L", "H级", dt.datetime(2025, 3, 1, 9, 30)],
            [1002.0, "李四", 13900000001, "帝豪", "A级", "2025-03-02"],
            ["A3", "王五", "+86 137-0000-0002", "", "", None],
        ]
    )
    report = run(org, data, "leads.xlsx")

    assert (report.total_rows, report.imported, report.updated, report.skipped_count, report.error_count) == (
        3, 3, 0, 0, 0
    )
    stored = leads(org)
    assert set(stored) == {"A1", "1002", "A3"}
    assert stored["A1"].leads_user_phone == "13800000000"
    assert stored["1002"].leads_user_phone == "13900000001"
    assert stored["A3"].leads_user_phone == "13700000002"
    assert stored["A1"].leads_create_time == dt.datetime(2025, 3, 1, 9, 30, tzinfo=SH)
    assert stored["1002"].leads_create_time == dt.datetime(2025, 3, 2, tzinfo=SH)
    assert stored["A1"].leads_product == "星越L" and stored["A1"].leads_type == "H级"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_import_detects_the_encoding(org, encoding):
    data = csv_bytes([["C1", "张三", "13800000000.0", "星越L", "H级", "2025-03-01 08:00:00"]], encoding=encoding)
    report = run(org, data, "leads.csv")
    assert report.imported == 1 and not report.errors
    lead = leads(org)["C1"]
    assert (lead.leads_user_name, lead.leads_user_phone, lead.leads_product) == ("张三", "13800000000", "星越L")


def test_chinese_headers_are_accepted(org):
    data = csv_bytes([["Z1", "张三", "13800000000"]], header=["线索ID", "客户姓名", "手机号"])
    report = run(org, data, "leads.csv")
    assert report.imported == 1
    assert leads(org)["Z1"].leads_user_name == "张三"


def test_missing_required_column_is_a_file_error(org):
    with pytest.raises(ImportFileError, match="leads_user_phone"):
        run(org, csv_bytes([["X1", "张三"]], header=["leads_id", "leads_user_name"]), "leads.csv")
    assert not Lead.objects.exists()


def test_unsupported_and_broken_files(org):
    with pytest.raises(ImportFileError):
        run(org, b"whatever", "leads.xls")
    with pytest.raises(ImportFileError):
        run(org, b"not a zip file", "leads.xlsx")
    with pytest.raises(ImportFileError):
        run(org, b"", "leads.csv")


def test_row_errors_carry_row_numbers_and_reasons(org):
    data = xlsx_bytes(
        [
            ["OK1", "甲", "13800000000", "", "", None],  # row 2
            ["", "乙", "13800000001", "", "", None],  # row 3: no id
            ["BAD2", "丙", "12345", "", "", None],  # row 4: bad phone
            ["BAD3", "丁", "13800000003", "", "", "not a date"],  # row 5
            ["BAD4", "戊", "13800000004", "x" * 101, "", None],  # row 6: product too long
            ["BAD5", "己", 13800000005.5, "", "", None],  # row 7: a fractional number is no phone
        ]
    )
    report = run(org, data, "leads.xlsx")
    assert report.imported == 1
    assert [(e.row, e.leads_id) for e in report.errors] == [(3, ""), (4, "BAD2"), (5, "BAD3"), (6, "BAD4"), (7, "BAD5")]
    messages = {e.row: e.message for e in report.errors}
    assert "手机号" in messages[4] and "12345" in messages[4]
    assert "leads_product" in messages[6]
    assert set(leads(org)) == {"OK1"}


def test_blank_rows_are_ignored_but_row_numbers_stay_those_of_the_sheet(org):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    sheet.append(["R2", "", "13800000000"])
    sheet.cell(row=5, column=1, value="R5")
    sheet.cell(row=5, column=3, value="bad")
    buffer = io.BytesIO()
    workbook.save(buffer)
    report = run(org, buffer.getvalue(), "leads.xlsx")
    assert report.total_rows == 2
    assert [(e.row, e.leads_id) for e in report.errors] == [(5, "R5")]


def test_duplicates_in_the_file_are_skipped_after_the_first(org):
    data = csv_bytes(
        [
            ["D1", "first", "13800000000"],
            ["D2", "other", "13800000001"],
            ["D1", "second", "13800000009"],
        ],
        header=["leads_id", "leads_user_name", "leads_user_phone"],
    )
    report = run(org, data, "leads.csv")
    assert report.imported == 2
    assert [(s.row, s.leads_id) for s in report.skipped] == [(4, "D1")]
    assert "2" in report.skipped[0].message  # points at the first occurrence
    assert leads(org)["D1"].leads_user_name == "first"


def test_existing_leads_are_updated_and_unchanged_ones_skipped(org):
    created = dt.datetime(2024, 1, 1, tzinfo=SH)
    LeadFactory(organization=org, leads_id="U1", leads_user_name="旧名", leads_user_phone="13800000000",
                leads_create_time=created)
    LeadFactory(organization=org, leads_id="U2", leads_user_name="不变", leads_user_phone="13800000002",
                leads_product="帝豪", leads_type="A级", leads_create_time=created)
    data = csv_bytes(
        [
            ["U1", "新名", "13800000001", "星越L", "H级", ""],
            ["U2", "不变", "13800000002", "帝豪", "A级", ""],
            ["N1", "新客户", "13800000003", "星越L", "H级", ""],
        ]
    )
    report = run(org, data, "leads.csv")
    assert (report.imported, report.updated, report.skipped_count) == (1, 1, 1)
    assert report.skipped[0].row == 3
    stored = leads(org)
    assert (stored["U1"].leads_user_name, stored["U1"].leads_user_phone) == ("新名", "13800000001")
    assert stored["U1"].leads_create_time == created  # an empty creation time keeps the stored one
    assert Lead.objects.filter(organization=org).count() == 3


def test_other_organizations_leads_are_never_touched(org, other_org):
    theirs = LeadFactory(organization=other_org, leads_id="SAME", leads_user_name="别家客户",
                         leads_user_phone="13900000000")
    data = csv_bytes(
        [["SAME", "我的客户", "13800000000", "", "", "", str(other_org.pk)]],
        header=[*HEADER, "organization_id"],
    )
    report = run(org, data, "leads.csv")
    assert report.imported == 1 and report.updated == 0
    assert report.warnings  # the organization_id column is ignored, and the report says so
    theirs.refresh_from_db()
    assert (theirs.leads_user_name, theirs.leads_user_phone) == ("别家客户", "13900000000")
    mine = Lead.objects.get(organization=org, leads_id="SAME")
    assert mine.leads_user_name == "我的客户"


def test_dry_run_writes_nothing(org):
    LeadFactory(organization=org, leads_id="E1", leads_user_name="旧")
    data = csv_bytes([["E1", "新", "13800000000"], ["E2", "", "13800000001"]],
                     header=["leads_id", "leads_user_name", "leads_user_phone"])
    report = run(org, data, "leads.csv", dry_run=True)
    assert (report.imported, report.updated) == (1, 1)
    assert set(leads(org)) == {"E1"} and leads(org)["E1"].leads_user_name == "旧"


def test_size_and_row_limits(org, settings):
    settings.LEAD_IMPORT_MAX_BYTES = 100
    data = csv_bytes([[f"S{i}", "", f"138000000{i:02d}"] for i in range(20)],
                     header=["leads_id", "leads_user_name", "leads_user_phone"])
    with pytest.raises(ImportFileError, match="MB"):
        run(org, data, "leads.csv")

    settings.LEAD_IMPORT_MAX_BYTES = 10_000
    settings.LEAD_IMPORT_MAX_ROWS = 10
    with pytest.raises(ImportFileError, match="10"):
        run(org, data, "leads.csv")
    assert not Lead.objects.exists()  # nothing written before the limit was found


def _rows(count: int, offset: int = 0):
    return [[f"Q{offset + i:06d}", f"客户{i}", f"138{offset + i:08d}", "星越L", "A级", ""] for i in range(count)]


def test_queries_are_constant_per_batch(org):
    """Per batch: one SELECT, one INSERT, one UPDATE (+ savepoints) — never one query per row."""
    batch = 100

    def queries(data) -> int:
        with CaptureQueriesContext(connection) as ctx:
            run(org, data, "leads.csv", batch_size=batch)
        return len(ctx.captured_queries)

    small_new = queries(csv_bytes(_rows(100)))
    large_new = queries(csv_bytes(_rows(1000, offset=1000)))
    assert large_new == 10 * small_new
    # Re-importing the same 1,000 rows with changed names: updates, still per batch.
    changed = [[row[0], row[1] + "改", *row[2:]] for row in _rows(1000, offset=1000)]
    small_changed = [[row[0], row[1] + "改", *row[2:]] for row in _rows(100)]
    assert queries(csv_bytes(changed)) == 10 * queries(csv_bytes(small_changed))
    assert Lead.objects.filter(organization=org).count() == 1100


def test_progress_is_reported_per_batch(org):
    calls = []
    run(org, csv_bytes(_rows(250)), "leads.csv", batch_size=100, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(100, 250), (200, 250), (250, 250)]


def test_the_committed_sample_file(org, tmp_path):
    # The committed file is what the generator writes (content, not bytes: xlsx stores a timestamp).
    regenerated = write_sample_leads(tmp_path / "sample.xlsx")
    committed_rows = list(openpyxl.load_workbook(SAMPLE_PATH, read_only=True).worksheets[0].iter_rows(values_only=True))
    fresh_rows = list(openpyxl.load_workbook(regenerated, read_only=True).worksheets[0].iter_rows(values_only=True))
    assert committed_rows == fresh_rows

    with SAMPLE_PATH.open("rb") as handle:
        report = leads_import(organization=org, file=handle, filename=SAMPLE_PATH.name)
    assert (report.imported, report.updated, report.skipped_count, report.error_count) == (6, 0, 1, 2)
    assert [e.row for e in report.errors] == [9, 10]
    assert [s.row for s in report.skipped] == [8]
    assert leads(org)["LEAD002"].leads_user_phone == "17000000002"
    assert "1005" in leads(org)


# --- the management command ------------------------------------------------------------------------------------


def test_command_imports_into_the_named_organization_with_progress(org, other_org, tmp_path):
    path = tmp_path / "leads.csv"
    path.write_bytes(csv_bytes(_rows(250)))
    out, err = io.StringIO(), io.StringIO()
    call_command("import_leads", str(path), "--organization", other_org.code, "--batch-size", "100",
                 stdout=out, stderr=err)
    assert Lead.objects.filter(organization=other_org).count() == 250
    assert not Lead.objects.filter(organization=org).exists()
    progress_lines = [line for line in err.getvalue().splitlines() if line.startswith("[")]
    assert progress_lines[-1].endswith("250/250 (100%)") and len(progress_lines) == 3
    assert "100/250" in progress_lines[0]
    text = out.getvalue()
    assert other_org.code in text and "250" in text


def test_command_reports_row_errors_and_dry_run(org, tmp_path):
    path = tmp_path / "leads.xlsx"
    path.write_bytes(xlsx_bytes([["A", "", "13800000000"], ["B", "", "bad"]]))
    out = io.StringIO()
    call_command("import_leads", str(path), "--organization", org.code, "--dry-run", stdout=out,
                 stderr=io.StringIO())
    assert not Lead.objects.exists()
    assert "3" in out.getvalue() and "bad" in out.getvalue()


def test_command_fails_on_file_errors_and_unknown_organization(org, other_org, tmp_path):
    path = tmp_path / "leads.csv"
    path.write_bytes(csv_bytes([["A"]], header=["leads_id"]))
    with pytest.raises(CommandError):
        call_command("import_leads", str(path), "--organization", org.code, stderr=io.StringIO())
    with pytest.raises(CommandError):
        call_command("import_leads", str(tmp_path / "missing.csv"), "--organization", org.code)
    path.write_bytes(csv_bytes([["A", "", "13800000000"]]))
    with pytest.raises(CommandError):
        call_command("import_leads", str(path), "--organization", "NO-SUCH-ORG")
    with pytest.raises(CommandError):  # two organizations exist: the command must be told which one
        call_command("import_leads", str(path))
    assert not Lead.objects.exists()


def test_command_exit_code_is_non_zero_on_a_file_error(org, tmp_path):
    import subprocess
    import sys

    from django.conf import settings

    path = tmp_path / "leads.txt"
    path.write_text("nothing")
    result = subprocess.run(
        [sys.executable, "manage.py", "import_leads", str(path), "--organization", "NOPE"],
        cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
