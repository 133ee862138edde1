"""``manage.py import_leads FILE [--organization CODE] [--dry-run] [--json]``: import a lead file (.xlsx/.csv)."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from followups.imports import DEFAULT_BATCH_SIZE, ImportFileError, ImportReport, leads_import
from followups.models import Organization

BAR_WIDTH = 30


class ProgressLine:
    """A one-line progress bar on stderr, redrawn after every batch (no dependency needed)."""

    def __init__(self, stream):
        self.stream = stream
        self.tty = hasattr(stream, "isatty") and stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        filled = int(BAR_WIDTH * done / total) if total else BAR_WIDTH
        percent = int(100 * done / total) if total else 100
        line = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total} ({percent}%)"
        # On a terminal the line is redrawn in place; in a log file each batch gets its own line.
        self.stream.write(("\r" + line) if self.tty else line + "\n")
        if self.tty and done >= total:
            self.stream.write("\n")
        self.stream.flush()


class Command(BaseCommand):
    help = "Import leads from an .xlsx or .csv file into one organization (upsert by leads_id)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="path of the .xlsx or .csv file")
        parser.add_argument(
            "--organization",
            help="organization code (required when more than one organization exists)",
        )
        parser.add_argument("--dry-run", action="store_true", help="validate and report without writing")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="rows per database batch")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument("--no-progress", action="store_true", help="do not draw the progress bar")

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(_("File not found: %(path)s") % {"path": path})
        organization = self._organization(options["organization"])
        # The bar writes to the raw stream under the OutputWrapper (it needs "\r" without a newline).
        progress = None if options["no_progress"] else ProgressLine(self.stderr._out)
        try:
            with path.open("rb") as handle:
                report = leads_import(
                    organization=organization,
                    file=handle,
                    filename=path.name,
                    dry_run=options["dry_run"],
                    batch_size=max(1, options["batch_size"]),
                    progress=progress,
                )
        except ImportFileError as exc:
            raise CommandError(exc.message) from exc
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        else:
            self._print(report, organization)

    def _organization(self, code: str | None) -> Organization:
        if code:
            try:
                return Organization.objects.get(code=code)
            except Organization.DoesNotExist:
                raise CommandError(_("No organization with the code %(code)s.") % {"code": code}) from None
        organizations = list(Organization.objects.all()[:2])
        if len(organizations) == 1:
            return organizations[0]
        raise CommandError(_("Name the organization with --organization CODE."))

    def _print(self, report: ImportReport, organization: Organization) -> None:
        write = self.stdout.write
        header = _("Lead import of %(file)s into %(org)s (%(code)s)") % {
            "file": report.filename,
            "org": organization.name,
            "code": organization.code,
        }
        if report.dry_run:
            header += " — " + _("dry run, nothing was written")
        write(header)
        write(
            _("Rows: %(total)d, imported: %(imported)d, updated: %(updated)d, skipped: %(skipped)d, errors: %(errors)d")
            % {
                "total": report.total_rows,
                "imported": report.imported,
                "updated": report.updated,
                "skipped": report.skipped_count,
                "errors": report.error_count,
            }
        )
        for warning in report.warnings:
            write(self.style.WARNING(warning))
        for issue in report.errors:
            write(self.style.ERROR(_("Row %(row)d (%(id)s): %(message)s") % {
                "row": issue.row, "id": issue.leads_id or "-", "message": issue.message
            }))
        for issue in report.skipped:
            write(_("Row %(row)d (%(id)s): %(message)s") % {
                "row": issue.row, "id": issue.leads_id or "-", "message": issue.message
            })
