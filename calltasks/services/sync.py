"""Sync one task from the provider (SPEC §4 "Sync one task").

Cost grows with what changed, not with history: only rows without a final outcome (and connected rows
still waiting for their transcript) are looked at; provider calls are ceil(jobs/100) QueryJobsWithResult
pages + ceil(new finals/99) ListJobs; writes are one bulk upsert of call records and one bulk update of
lead rows, in one short transaction after every HTTP call has returned.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from calltasks.models import CallTask, LeadTask, OutboundCallRecord
from calltasks.provider import statuses
from calltasks.provider.types import CallAttempt, JobDetail, JobResult
from calltasks.services.provider import get_provider_client
from calltasks.states import TaskState
from dcc_project import jsonrows
from dcc_project.phones import mask_phone

logger = logging.getLogger(__name__)

LIST_JOBS_BATCH = 99
PAGE_SIZE = 100

ROW_FIELDS = [
    "call_job_id",
    "call_status",
    "last_task_status",
    "is_connected",
    "failure_reason",
    "attempts",
    "call_duration",
    "call_conversation",
    "summary",
    "planed_time",
    "call_time",
    "call_task_id",
    "calling_number",
    "final_at",
    "updated_time",
]
RECORD_UPDATE_FIELDS = [
    "call_status",
    "status_code",
    "end_reason",
    "has_answered",
    "called_number",
    "calling_number",
    "planed_time",
    "actual_time",
    "end_time",
    "duration",
    "hang_up_direction",
    "conversation",
    "updated",
]


@dataclass
class SyncResult:
    task_id: int
    provider_calls: int = 0
    jobs_seen: int = 0
    rows_updated: int = 0
    records_written: int = 0
    newly_final: int = 0
    timed_out: int = 0
    skipped: bool = False


class _CountingClient:
    """Counts provider calls made through it (reported by the sync and the benchmark)."""

    def __init__(self, client):
        self._client = client
        self.calls = 0

    def query_jobs_with_result(self, **kwargs):
        self.calls += 1
        return self._client.query_jobs_with_result(**kwargs)

    def list_jobs(self, **kwargs):
        self.calls += 1
        return self._client.list_jobs(**kwargs)


def _raw_conversation(attempt: CallAttempt) -> list | None:
    turns = attempt.raw.get("Conversation") if attempt.raw else None
    if isinstance(turns, list) and turns:
        return turns
    return None


def _iter_group(client: _CountingClient, job_group_id: str):
    page_number = 1
    while True:
        page = client.query_jobs_with_result(job_group_id=job_group_id, page_number=page_number, page_size=PAGE_SIZE)
        yield from page.jobs
        if page_number >= (page.page_count or 0) or not page.jobs:
            return
        page_number += 1


def _connected_attempt(detail: JobDetail) -> CallAttempt | None:
    for attempt in reversed(detail.tasks):
        if statuses.is_connected(attempt.status):
            return attempt
    return None


def _apply_summary(row: LeadTask, job: JobResult) -> bool:
    """Progress of a job that is not final yet (job id, status, latest attempt)."""
    changed = False
    if job.job_id and row.call_job_id != job.job_id:
        row.call_job_id = job.job_id
        changed = True
    if job.status and row.call_status != job.status:
        row.call_status = job.status
        changed = True
    latest = job.latest_task
    if latest is not None:
        if latest.status and row.last_task_status != latest.status:
            row.last_task_status = latest.status
            changed = True
        if latest.call_time and row.call_time != latest.call_time:
            row.call_time = latest.call_time
            changed = True
    return changed


def _apply_detail(row: LeadTask, detail: JobDetail, now: dt.datetime) -> None:
    """A job that reached a final status: its attempts, transcript and outcome."""
    connected = _connected_attempt(detail)
    latest = detail.latest_attempt
    shown = connected or latest
    row.call_job_id = detail.job_id or row.call_job_id
    row.call_status = detail.status or row.call_status
    row.last_task_status = (shown.status if shown else None) or row.last_task_status
    row.is_connected = detail.status == statuses.JOB_SUCCEEDED or connected is not None
    row.failure_reason = "" if row.is_connected else (detail.failure_reason or (latest.status if latest else "") or "")
    row.attempts = len(detail.tasks)
    if shown is not None:
        row.call_duration = shown.duration_seconds if connected else 0
        row.planed_time = shown.planed_time
        row.call_time = shown.actual_time or shown.planed_time
        row.call_task_id = shown.task_id
        row.calling_number = shown.calling_number or ""
    conversation = _raw_conversation(connected) if connected else None
    row.call_conversation = conversation
    row.summary = detail.summary or None
    if row.final_at is None:
        row.final_at = now


def _records_for(task: CallTask, row: LeadTask, detail: JobDetail, now: dt.datetime) -> list[dict]:
    """The job's call attempts as call-record values (plain dicts: no model instance per attempt)."""
    records = []
    for attempt in detail.tasks:
        if not attempt.task_id:
            continue
        _warn_unknown(attempt.status, "call")
        code = statuses.TASK_STATUSES.get(attempt.status or "", (None,))[0]
        records.append(
            {
                "call_task_id": task.pk,
                "lead_task_id": row.pk,
                "job_group_id": task.job_group_id or "",
                "job_id": detail.job_id,
                "provider_task_id": attempt.task_id,
                "call_status": attempt.status or "",
                "status_code": code,
                "end_reason": attempt.end_reason or "",
                "has_answered": statuses.is_connected(attempt.status),
                "called_number": mask_phone(attempt.called_number or row.leads_phone),
                "calling_number": attempt.calling_number or "",
                "planed_time": attempt.planed_time,
                "actual_time": attempt.actual_time,
                "end_time": attempt.end_time,
                "duration": attempt.duration_seconds,
                "hang_up_direction": attempt.hang_up_direction or "",
                "conversation": _raw_conversation(attempt),
                "created": now,
                "updated": now,
            }
        )
    return records


def _update_rows(rows: list[LeadTask]) -> None:
    """Write ``ROW_FIELDS`` of many rows in ONE statement: ``UPDATE … FROM`` a JSON array parameter.

    ``bulk_update`` builds one ``CASE WHEN id = … THEN …`` per field over every row: quadratic work in the
    database (2,000 rows took ~90 s on SQLite) and several statements once the bound-parameter limit
    splits it. A JSON document is one parameter whatever the task size.
    """
    if not jsonrows.supported():
        LeadTask.objects.bulk_update(rows, ROW_FIELDS, batch_size=500)
        return
    jsonrows.update(LeadTask, ROW_FIELDS, rows)


RECORD_INSERT_FIELDS = [
    "call_task",
    "lead_task",
    "job_group_id",
    "job_id",
    "provider_task_id",
    *[name for name in RECORD_UPDATE_FIELDS if name != "updated"],
    "created",
    "updated",
]


def _upsert_records(records: list[dict]) -> None:
    """Insert the call records, or update the attempts already stored (``provider_task_id`` is unique).

    One ``INSERT … SELECT … FROM <JSON array> ON CONFLICT DO UPDATE`` statement: the same upsert as
    ``bulk_create(update_conflicts=True)`` without building and compiling a model instance per value
    (that cost most of a sync's time at 1,000 leads) and without the SQLite parameter limit splitting it.
    """
    if not jsonrows.supported():
        OutboundCallRecord.objects.bulk_create(
            [OutboundCallRecord(**record) for record in records],
            update_conflicts=True,
            unique_fields=["provider_task_id"],
            update_fields=RECORD_UPDATE_FIELDS,
        )
        return
    jsonrows.insert(
        OutboundCallRecord,
        RECORD_INSERT_FIELDS,
        records,
        conflict_target="provider_task_id",
        update_fields=RECORD_UPDATE_FIELDS,
    )


def _dedupe_records(records: list[dict]) -> list[dict]:
    """The last record per provider call id (one statement cannot insert and update the same row twice)."""
    by_id = {record["provider_task_id"]: record for record in records}
    return list(by_id.values()) if len(by_id) != len(records) else records


def _warn_unknown(status: str | None, kind: str) -> None:
    if status and status not in statuses.TASK_STATUSES and status not in statuses.JOB_STATUS_CODES:
        logger.warning("Unknown provider %s status %r stored as is", kind, status)


def call_task_sync(
    *, task_id: int, client=None, now: dt.datetime | None = None, include_paused: bool = False
) -> SyncResult:
    """Pull the task's results from the provider and store them. Safe to run twice (idempotent upserts)."""
    now = now or timezone.now()
    result = SyncResult(task_id=task_id)
    task = CallTask.objects.filter(pk=task_id).first()
    allowed = {TaskState.CALLING, TaskState.CALLS_DONE} | ({TaskState.PAUSED} if include_paused else set())
    if task is None or not task.job_group_id or task.task_type not in allowed:
        result.skipped = True
        return result

    grace_start = now - dt.timedelta(minutes=settings.TRANSCRIPT_GRACE_MINUTES)
    rows = list(
        LeadTask.objects.filter(task_id=task.pk).filter(
            Q(final_at__isnull=True)
            | Q(is_connected=True, call_conversation__isnull=True, leads_follow__isnull=True, final_at__gte=grace_start)
        )
    )
    if not rows:
        return result
    by_ref = {row.reference_id: row for row in rows}
    by_job = {row.call_job_id: row for row in rows if row.call_job_id}
    counting = _CountingClient(client or get_provider_client())

    changed: dict[int, LeadTask] = {}
    finals: dict[str, LeadTask] = {}
    if any(row.final_at is None for row in rows):
        for job in _iter_group(counting, task.job_group_id):
            result.jobs_seen += 1
            row = by_ref.get(job.reference_id or "") or by_job.get(job.job_id)
            if row is None or row.final_at is not None:
                continue
            _warn_unknown(job.status, "job")
            if _apply_summary(row, job):
                changed[row.pk] = row
            if statuses.is_final_job_status(job.status):
                finals[job.job_id] = row
    # Connected rows whose transcript had not arrived yet are fetched again within the grace period.
    for row in rows:
        if row.final_at is not None and row.call_job_id:
            finals[row.call_job_id] = row

    records: list[dict] = []
    job_ids = list(finals)
    for start in range(0, len(job_ids), LIST_JOBS_BATCH):
        for detail in counting.list_jobs(job_ids=job_ids[start : start + LIST_JOBS_BATCH]):
            row = finals.get(detail.job_id) or by_ref.get(detail.reference_id or "")
            if row is None:
                continue
            was_final = row.final_at is not None
            _warn_unknown(detail.status, "job")
            if not statuses.is_final_job_status(detail.status):
                continue
            _apply_detail(row, detail, now)
            changed[row.pk] = row
            records.extend(_records_for(task, row, detail, now))
            if not was_final:
                result.newly_final += 1

    # Rows still unfinished past the task's calling deadline end as Failed/Timeout.
    if task.deadline_at and task.deadline_at <= now:
        for row in rows:
            if row.final_at is None:
                row.call_status = statuses.JOB_FAILED
                row.failure_reason = statuses.REASON_TIMEOUT
                row.final_at = now
                changed[row.pk] = row
                result.timed_out += 1
                result.newly_final += 1

    with transaction.atomic():
        if records:
            _upsert_records(_dedupe_records(records))
        if changed:
            for row in changed.values():
                row.updated_time = now
            _update_rows(list(changed.values()))
        CallTask.objects.filter(pk=task.pk).update(last_checked_at=now)
        if changed or records:
            from calltasks.services.completion import schedule_completion_check

            schedule_completion_check(task.pk)
    result.provider_calls = counting.calls
    result.rows_updated = len(changed)
    result.records_written = len(records)
    return result
