"""Importing leads from the predecessor's spreadsheet (.xlsx or .csv) into one organization.

Columns (header row, English or the Chinese labels supervisors use): ``leads_id`` (required),
``leads_user_phone`` (required), ``leads_user_name``, ``leads_product``, ``leads_type``, ``leads_create_time``.
An ``organization_id`` column is ignored: the organization is always the caller's (the predecessor let a
file import into another tenant). Rows are upserted by (organization, ``leads_id``) in batches with a
constant number of queries per batch.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dcc_project.phones import InvalidPhoneNumber, normalize_phone
from followups.models import Lead, Organization

logger = logging.getLogger(__name__)

FIELDS = ("leads_id", "leads_user_name", "leads_user_phone", "leads_product", "leads_type", "leads_create_time")
REQUIRED = ("leads_id", "leads_user_phone")
#: Header aliases (compared case-insensitively, spaces and underscores ignored).
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "leads_id": ("leads_id", "线索id", "线索编号", "线索号", "leadsid"),
    "leads_user_name": ("leads_user_name", "客户姓名", "姓名", "客户名称", "name"),
    "leads_user_phone": ("leads_user_phone", "手机号", "手机号码", "客户电话", "电话", "联系电话", "phone"),
    "leads_product": ("leads_product", "意向产品", "意向车型", "产品", "车型", "product"),
    "leads_type": ("leads_type", "线索等级", "客户等级", "等级", "grade"),
    "leads_create_time": ("leads_create_time", "线索创建时间", "创建时间", "create_time"),
}
IGNORED_HEADERS = ("organization_id", "组织id", "组织")
MAX_LENGTHS = {
    "leads_id": Lead._meta.get_field("leads_id").max_length,
    "leads_user_name": Lead._meta.get_field("leads_user_name").max_length,
    "leads_product": Lead._meta.get_field("leads_product").max_length,
    "leads_type": Lead._meta.get_field("leads_type").max_length,
}
UPDATABLE = ("leads_user_name", "leads_user_phone", "leads_product", "leads_type", "leads_create_time")
DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y-%m-%dT%H:%M:%S",
)
CSV_ENCODINGS = ("utf-8-sig", "gb18030")
DEFAULT_BATCH_SIZE = 500


class ImportFileError(Exception):
    """The file as a whole cannot be imported (format, size, header); nothing was written."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class RowIssue:
    row: int  # the row number as the spreadsheet shows it (header = row 1 for a header in the first row)
    leads_id: str
    message: str


@dataclass
class ImportReport:
    filename: str
    organization_id: int
    dry_run: bool = False
    total_rows: int = 0
    imported: int = 0
    updated: int = 0
    skipped: list[RowIssue] = field(default_factory=list)
    errors: list[RowIssue] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def skipped_count(self) -> int:
        return len(self.skipped)

    @property
    def error_count(self) -> int:
        return len(self.errors)

    def as_dict(self) -> dict:
        return {
            "filename": self.filename,
            "organization_id": self.organization_id,
            "dry_run": self.dry_run,
            "total_rows": self.total_rows,
            "imported": self.imported,
            "updated": self.updated,
            "skipped": self.skipped_count,
            "errors": self.error_count,
            "skipped_rows": [issue.__dict__ for issue in self.skipped],
            "error_rows": [issue.__dict__ for issue in self.errors],
            "warnings": list(self.warnings),
        }


@dataclass
class _Row:
    row: int
    values: dict


# --- reading ---------------------------------------------------------------------------------------------------


def _header_key(value) -> str:
    return str(value or "").strip().lower().replace(" ", "").replace("_", "").replace("\ufeff", "")


_ALIAS_INDEX = {_header_key(alias): name for name, aliases in HEADER_ALIASES.items() for alias in aliases}


def _read_bytes(file, max_bytes: int) -> bytes:
    size = getattr(file, "size", None)
    if size is not None and size > max_bytes:
        raise ImportFileError(_too_large_message(max_bytes))
    data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImportFileError(_too_large_message(max_bytes))
    if not data:
        raise ImportFileError(_("The file is empty."))
    return data


def _too_large_message(max_bytes: int) -> str:
    return _("The file is larger than the limit of %(size)s MB.") % {"size": f"{max_bytes / 1024 / 1024:g}"}


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, tuple]]:
    import openpyxl  # imported lazily: only the import needs it

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ImportFileError(_("The file is not a valid .xlsx workbook.")) from exc
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            raise ImportFileError(_("The workbook has no sheet."))
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, tuple(values)
    finally:
        workbook.close()


def _csv_rows(data: bytes) -> Iterator[tuple[int, tuple]]:
    text = None
    for encoding in CSV_ENCODINGS:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        raise ImportFileError(_("The CSV file is neither UTF-8 nor GBK encoded."))
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        line = 1
        for values in reader:
            yield line, tuple(values)
            line = reader.line_num + 1
    except csv.Error as exc:
        raise ImportFileError(_("The CSV file cannot be read: %(error)s") % {"error": exc}) from exc


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _parse_rows(rows: Iterator[tuple[int, tuple]], report: ImportReport, max_rows: int) -> list[_Row]:
    columns: dict[int, str] | None = None
    parsed: list[_Row] = []
    for number, values in rows:
        if all(_blank(v) for v in values):
            continue
        if columns is None:
            columns = {}
            for index, header in enumerate(values):
                key = _header_key(header)
                name = _ALIAS_INDEX.get(key)
                if name and name not in columns.values():
                    columns[index] = name
                elif key in {_header_key(h) for h in IGNORED_HEADERS}:
                    report.warnings.append(
                        _("The column %(column)s is ignored: leads are always imported into your organization.")
                        % {"column": header}
                    )
            missing = [name for name in REQUIRED if name not in columns.values()]
            if missing:
                raise ImportFileError(
                    _("Required columns are missing: %(missing)s. Found: %(found)s.")
                    % {
                        "missing": ", ".join(missing),
                        "found": ", ".join(str(v) for v in values if not _blank(v)),
                    }
                )
            continue
        if len(parsed) >= max_rows:
            raise ImportFileError(
                _("The file has more than %(max)d data rows; split it into smaller files.") % {"max": max_rows}
            )
        parsed.append(
            _Row(row=number, values={name: values[i] if i < len(values) else None for i, name in columns.items()})
        )
    if columns is None:
        raise ImportFileError(_("The file has no header row."))
    return parsed


# --- cleaning --------------------------------------------------------------------------------------------------


def _text(value) -> str:
    """A cell as text; whole-number floats (Excel numbers) lose their ``.0``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(int(value))
    return str(value).strip()


def _datetime(value, tz) -> dt.datetime | None:
    if _blank(value):
        return None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time.min)
    else:
        text = str(value).strip()
        for fmt in DATETIME_FORMATS:
            try:
                moment = dt.datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            raise ValueError(text)
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=tz)
    return moment


def _clean(row: _Row, tz) -> dict:
    """The row's lead fields, or ``ValueError`` with a user-facing message."""
    values = row.values
    leads_id = _text(values.get("leads_id"))
    if not leads_id:
        raise ValueError(_("The lead id (leads_id) is empty."))
    try:
        phone = normalize_phone(values.get("leads_user_phone"))
    except InvalidPhoneNumber:
        raise ValueError(
            _("The phone number %(phone)s is not a valid mobile or landline number.")
            % {"phone": _text(values.get("leads_user_phone")) or _("(empty)")}
        ) from None
    cleaned = {
        "leads_id": leads_id,
        "leads_user_phone": phone,
        "leads_user_name": _text(values.get("leads_user_name")),
        "leads_product": _text(values.get("leads_product")),
        "leads_type": _text(values.get("leads_type")),
    }
    for name, limit in MAX_LENGTHS.items():
        if len(cleaned[name]) > limit:
            raise ValueError(
                _("%(column)s is longer than %(max)d characters.") % {"column": name, "max": limit}
            )
    if "leads_create_time" in values:
        try:
            cleaned["leads_create_time"] = _datetime(values.get("leads_create_time"), tz)
        except ValueError:
            raise ValueError(
                _("The creation time %(value)s is not a date (YYYY-MM-DD HH:MM:SS).")
                % {"value": _text(values.get("leads_create_time"))}
            ) from None
    return cleaned


# --- writing ---------------------------------------------------------------------------------------------------


def _write_batch(organization_id: int, batch: list[tuple[int, dict]], report: ImportReport, now) -> None:
    """One SELECT, at most one INSERT and one UPDATE for the whole batch."""
    existing = {
        lead.leads_id: lead
        for lead in Lead.objects.filter(organization_id=organization_id, leads_id__in=[v["leads_id"] for _r, v in batch])
    }
    new: list[Lead] = []
    changed: list[Lead] = []
    for row, values in batch:
        lead = existing.get(values["leads_id"])
        if lead is None:
            new.append(
                Lead(
                    organization_id=organization_id,
                    leads_id=values["leads_id"],
                    leads_user_name=values["leads_user_name"],
                    leads_user_phone=values["leads_user_phone"],
                    leads_product=values["leads_product"],
                    leads_type=values["leads_type"],
                    leads_create_time=values.get("leads_create_time") or now,
                    updated_time=now,
                )
            )
            continue
        dirty = False
        for name in UPDATABLE:
            value = values.get(name)
            if name == "leads_create_time" and value is None:
                continue  # an empty cell keeps the stored creation time
            if getattr(lead, name) != value:
                setattr(lead, name, value)
                dirty = True
        if dirty:
            lead.updated_time = now
            changed.append(lead)
        else:
            report.skipped.append(RowIssue(row, values["leads_id"], _("Unchanged: the lead already has these values.")))
    if not report.dry_run and (new or changed):
        with transaction.atomic():
            if new:
                # A lead inserted concurrently by another import is updated instead of failing the batch.
                Lead.objects.bulk_create(
                    new,
                    batch_size=len(new),
                    update_conflicts=True,
                    unique_fields=["organization", "leads_id"],
                    update_fields=[*UPDATABLE, "updated_time"],
                )
            if changed:
                Lead.objects.bulk_update(changed, [*UPDATABLE, "updated_time"], batch_size=len(changed))
    report.imported += len(new)
    report.updated += len(changed)


def leads_import(
    *,
    organization: Organization | int,
    file,
    filename: str,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import a lead file into ``organization``; raise :class:`ImportFileError` when the file is unusable.

    Row problems never stop the import: they are reported with their row numbers. ``progress(done, total)``
    is called after each batch.
    """
    organization_id = organization if isinstance(organization, int) else organization.pk
    report = ImportReport(filename=filename, organization_id=organization_id, dry_run=dry_run)
    suffix = filename.lower().rsplit(".", 1)[-1] if "." in filename else ""
    if suffix not in ("xlsx", "csv"):
        raise ImportFileError(_("Only .xlsx and .csv files can be imported."))
    data = _read_bytes(file, settings.LEAD_IMPORT_MAX_BYTES)
    reader = _xlsx_rows(data) if suffix == "xlsx" else _csv_rows(data)
    rows = _parse_rows(reader, report, settings.LEAD_IMPORT_MAX_ROWS)
    report.total_rows = len(rows)

    tz = timezone.get_current_timezone()
    valid: list[tuple[int, dict]] = []
    first_row_of: dict[str, int] = {}
    for row in rows:
        try:
            values = _clean(row, tz)
        except ValueError as exc:
            report.errors.append(RowIssue(row.row, _text(row.values.get("leads_id")), str(exc)))
            continue
        earlier = first_row_of.get(values["leads_id"])
        if earlier is not None:
            report.skipped.append(
                RowIssue(
                    row.row,
                    values["leads_id"],
                    _("Duplicate lead id in the file (first seen in row %(row)d); this row is ignored.")
                    % {"row": earlier},
                )
            )
            continue
        first_row_of[values["leads_id"]] = row.row
        valid.append((row.row, values))

    now = timezone.now()
    done = 0
    for start in range(0, len(valid), batch_size):
        batch = valid[start : start + batch_size]
        _write_batch(organization_id, batch, report, now)
        done += len(batch)
        if progress:
            progress(done, len(valid))
    report.skipped.sort(key=lambda issue: issue.row)
    logger.info(
        _(
            "Lead import %(file)s into organization %(org)s: %(rows)d rows, %(imported)d imported, "
            "%(updated)d updated, %(skipped)d skipped, %(errors)d errors, dry run: %(dry_run)s"
        ),
        {
            "file": filename,
            "org": organization_id,
            "rows": report.total_rows,
            "imported": report.imported,
            "updated": report.updated,
            "skipped": report.skipped_count,
            "errors": report.error_count,
            "dry_run": dry_run,
        },
    )
    return report
