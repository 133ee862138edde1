"""call_task_sync against the live simulator (SPEC §4 "Sync one task", §10 cost bars)."""

from __future__ import annotations

import datetime as dt
import logging
import math

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calltasks.models import CallTask, LeadTask, OutboundCallRecord
from calltasks.provider import statuses
from calltasks.provider.client import OutboundBotClient
from calltasks.services.lifecycle import call_task_start
from calltasks.services.sync import call_task_sync
from calltasks.states import TaskState
from tests.calltasks.services.conftest import make_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen(simulator):
    """The simulator with its clock stopped: time moves only when a test advances it."""
    simulator.set_speed(0)
    return simulator


def started_task(org, rows: int, simulator=None, scripts: dict | None = None) -> CallTask:
    task = make_task(org, rows, task_type=TaskState.CREATED, script_id="SCRIPT-1")
    if scripts is not None and simulator is not None:
        refs = list(LeadTask.objects.filter(task=task).order_by("id").values_list("reference_id", flat=True))
        simulator.script_outcomes(by_reference_id={ref: scripts(i) for i, ref in enumerate(refs) if scripts(i)})
    return call_task_start(task_id=task.pk)


def requests(simulator, *actions: str) -> int:
    counts = simulator.stats()["requests"]
    return sum(counts.get(action, 0) for action in actions)


def truth_by_ref(simulator, task) -> dict[str, dict]:
    return {job["reference_id"]: job for job in simulator.ground_truth(task.job_group_id)}


def test_sync_matches_the_ground_truth(org, frozen):
    task = started_task(org, 40)
    frozen.run_until_final(task.job_group_id)
    frozen.advance(2 * 3600)  # delayed transcripts (≤ 30 min) have arrived
    result = call_task_sync(task_id=task.pk)
    truth = truth_by_ref(frozen, task)

    assert result.newly_final == 40 and result.jobs_seen == 40
    total_attempts = 0
    for row in LeadTask.objects.filter(task=task):
        job = truth[row.reference_id]
        attempts = job["attempts"]
        total_attempts += len(attempts)
        assert row.call_job_id == job["job_id"]
        assert row.call_status == job["status"]
        assert row.final_at is not None
        assert row.attempts == len(attempts)
        assert row.is_connected == job["connected"]
        records = list(OutboundCallRecord.objects.filter(lead_task=row))
        assert sorted(r.provider_task_id for r in records) == sorted(a["task_id"] for a in attempts)
        assert {r.provider_task_id: r.call_status for r in records} == {a["task_id"]: a["status"] for a in attempts}
        assert all(r.job_id == job["job_id"] and r.job_group_id == task.job_group_id for r in records)
        assert all("****" in r.called_number for r in records)
        if job["connected"]:
            connected = next(a for a in attempts if a["connected"])
            assert row.call_duration == connected["duration"]
            assert row.last_task_status == connected["status"]
            assert row.failure_reason == ""
            assert bool(row.call_conversation) == job["has_transcript"]
        else:
            assert row.failure_reason == (job["failure_reason"] or attempts[-1]["status"])
            assert row.call_conversation is None
            assert not row.call_duration
    assert OutboundCallRecord.objects.filter(call_task=task).count() == total_attempts
    assert result.records_written == total_attempts
    assert frozen.stats(task.job_group_id)["attempts_total"] == total_attempts


def test_progress_before_final_and_only_non_final_rows_are_repolled(org, frozen):
    task = started_task(
        org,
        6,
        frozen,
        scripts=lambda i: (
            {"attempts": ["SucceededFinish"], "transcript": True}
            if i < 3
            else {"attempts": ["NoAnswer", "NoAnswer", "NoAnswer"]}
        ),
    )
    frozen.advance(3 * 60)
    first = call_task_sync(task_id=task.pk)
    assert first.newly_final == 3
    assert LeadTask.objects.filter(task=task, final_at__isnull=False).count() == 3
    unfinished = LeadTask.objects.filter(task=task, final_at__isnull=True)
    assert {row.call_status for row in unfinished} <= {statuses.JOB_SCHEDULING, statuses.JOB_EXECUTING}

    frozen.run_until_final(task.job_group_id)
    before = requests(frozen, "ListJobs")
    second = call_task_sync(task_id=task.pk)
    assert second.newly_final == 3
    assert requests(frozen, "ListJobs") - before == 1  # only the three newly final jobs, in one call

    before = requests(frozen, "QueryJobsWithResult", "ListJobs")
    third = call_task_sync(task_id=task.pk)
    assert third.provider_calls == 0 and third.rows_updated == 0
    assert requests(frozen, "QueryJobsWithResult", "ListJobs") == before
    for row in LeadTask.objects.filter(task=task, is_connected=False):
        assert row.call_status == statuses.JOB_FAILED and row.attempts == 3
        assert OutboundCallRecord.objects.filter(lead_task=row).count() == 3


def test_sync_is_idempotent(org, frozen):
    task = started_task(
        org, 10, frozen, scripts=lambda i: {"attempts": ["Busy", "SucceededFinish"], "transcript": True}
    )
    frozen.run_until_final(task.job_group_id)
    call_task_sync(task_id=task.pk)
    # Make the rows look unfinished again: a second pass rewrites the same records, never duplicates them.
    LeadTask.objects.filter(task=task).update(final_at=None)
    call_task_sync(task_id=task.pk)
    assert OutboundCallRecord.objects.filter(call_task=task).count() == 20


def test_transcript_arriving_later_is_fetched_within_the_grace_period(org, frozen, settings):
    settings.TRANSCRIPT_GRACE_MINUTES = 30
    task = started_task(
        org,
        2,
        frozen,
        scripts=lambda i: (
            {"attempts": ["SucceededFinish"], "transcript": "delayed", "transcript_delay_minutes": 10}
            if i == 0
            else {"attempts": ["SucceededFinish"], "transcript": True}
        ),
    )
    frozen.run_until_final(task.job_group_id, step_seconds=60)
    late, ready = LeadTask.objects.filter(task=task).order_by("id")
    assert not truth_by_ref(frozen, task)[late.reference_id]["has_transcript"]
    call_task_sync(task_id=task.pk)
    late.refresh_from_db()
    assert late.is_connected and late.final_at and late.call_conversation is None

    before = requests(frozen, "ListJobs")
    waiting = call_task_sync(task_id=task.pk)  # still no transcript: asked again, nothing changes
    assert requests(frozen, "ListJobs") - before == 1 and waiting.newly_final == 0

    frozen.advance(15 * 60)
    call_task_sync(task_id=task.pk)
    late.refresh_from_db()
    assert late.call_conversation and late.final_at is not None
    record = OutboundCallRecord.objects.get(lead_task=late)
    assert record.conversation

    before = requests(frozen, "QueryJobsWithResult", "ListJobs")
    assert call_task_sync(task_id=task.pk).provider_calls == 0
    assert requests(frozen, "QueryJobsWithResult", "ListJobs") == before


def test_rows_without_transcript_are_not_refetched_after_the_grace_period(org, frozen, settings):
    settings.TRANSCRIPT_GRACE_MINUTES = 30
    task = started_task(org, 1, frozen, scripts=lambda i: {"attempts": ["SucceededFinish"], "transcript": False})
    frozen.run_until_final(task.job_group_id)
    call_task_sync(task_id=task.pk)
    row = LeadTask.objects.get(task=task)
    assert row.is_connected and row.call_conversation is None
    inside = call_task_sync(task_id=task.pk, now=row.final_at + dt.timedelta(minutes=29))
    assert inside.provider_calls == 1
    after = call_task_sync(task_id=task.pk, now=row.final_at + dt.timedelta(minutes=31))
    assert after.provider_calls == 0


def test_rows_past_the_deadline_end_failed_timeout(org, frozen):
    task = started_task(
        org,
        4,
        frozen,
        scripts=lambda i: (
            {"attempts": ["SucceededFinish"], "transcript": True}
            if i == 0
            else {"attempts": ["NoAnswer", "NoAnswer", "NoAnswer"]}
        ),
    )
    frozen.advance(3 * 60)
    CallTask.objects.filter(pk=task.pk).update(deadline_at=timezone.now() - dt.timedelta(minutes=1))
    result = call_task_sync(task_id=task.pk)
    assert result.timed_out == 3
    rows = list(LeadTask.objects.filter(task=task).order_by("id"))
    assert rows[0].call_status == statuses.JOB_SUCCEEDED and rows[0].is_connected
    for row in rows[1:]:
        assert row.call_status == statuses.JOB_FAILED
        assert row.failure_reason == statuses.REASON_TIMEOUT
        assert row.final_at is not None and not row.is_connected


def test_provider_calls_are_bounded_per_sync(org, frozen):
    task = started_task(org, 150)
    frozen.run_until_final(task.job_group_id)
    frozen.advance(2 * 3600)
    before = requests(frozen, "QueryJobsWithResult", "ListJobs")
    result = call_task_sync(task_id=task.pk)
    made = requests(frozen, "QueryJobsWithResult", "ListJobs") - before
    assert made == result.provider_calls
    assert result.provider_calls <= math.ceil(150 / 100) + math.ceil(result.newly_final / 99)


def test_skips_tasks_that_are_not_being_called(org, frozen):
    for state in (TaskState.CREATED, TaskState.PAUSED, TaskState.FOLLOWUPS_DONE):
        task = make_task(org, 1, task_type=state, job_group_id=f"jg-{state}")
        assert call_task_sync(task_id=task.pk).skipped
    assert requests(frozen, "QueryJobsWithResult", "ListJobs") == 0


class _RewritingClient(OutboundBotClient):
    """The real client against the simulator, with status values in the answers replaced by unknown ones
    (the simulator only plays documented statuses): exercises the parser and the sync with values the
    provider might add."""

    def call(self, action, params=None):
        data = super().call(action, params)
        if action == "QueryJobsWithResult":
            for job in data["Jobs"]["List"]:
                job["Status"] = "Archived"
        if action == "ListJobs":
            for job in data["Jobs"]:
                for attempt in job.get("Tasks") or []:
                    attempt["Status"] = "MysteryOutcome"
        return data


def test_unknown_provider_statuses_are_stored_and_logged(org, frozen, caplog):
    task = started_task(org, 3, frozen, scripts=lambda i: {"attempts": ["Busy"]})
    frozen.run_until_final(task.job_group_id)
    client = _RewritingClient.from_settings()
    with caplog.at_level(logging.WARNING, logger="calltasks.services.sync"):
        result = call_task_sync(task_id=task.pk, client=client)
    assert not result.skipped
    assert set(LeadTask.objects.filter(task=task).values_list("call_status", flat=True)) == {"Archived"}
    assert "Archived" in caplog.text
    # a job status we do not know is not final: the row is polled again (with the real answers now)
    call_task_sync(task_id=task.pk)
    rows = LeadTask.objects.filter(task=task)
    assert {row.call_status for row in rows} == {statuses.JOB_FAILED}

    # unknown call-attempt statuses are stored as they are, with no status code, and logged
    LeadTask.objects.filter(task=task).update(final_at=None)
    caplog.clear()

    class _UnknownAttempts(_RewritingClient):
        def call(self, action, params=None):
            data = OutboundBotClient.call(self, action, params)
            if action == "ListJobs":
                for job in data["Jobs"]:
                    for attempt in job.get("Tasks") or []:
                        attempt["Status"] = "MysteryOutcome"
            return data

    with caplog.at_level(logging.WARNING, logger="calltasks.services.sync"):
        call_task_sync(task_id=task.pk, client=_UnknownAttempts.from_settings())
    records = OutboundCallRecord.objects.filter(call_task=task)
    assert records.count() == 3
    assert {(r.call_status, r.status_code, r.has_answered) for r in records} == {("MysteryOutcome", None, False)}
    assert "MysteryOutcome" in caplog.text


def _all_final_group(org, simulator, rows: int) -> CallTask:
    task = started_task(org, rows)
    simulator.run_until_final(task.job_group_id, step_seconds=3600)
    simulator.advance(2 * 3600)
    return task


def test_sync_query_count_is_constant_in_the_number_of_jobs(org, frozen):
    small = _all_final_group(org, frozen, 10)
    large = _all_final_group(org, frozen, 2000)
    counts = {}
    for task in (small, large):
        with CaptureQueriesContext(connection) as ctx:
            result = call_task_sync(task_id=task.pk)
        assert result.newly_final == task.leads_count
        counts[task.leads_count] = len(ctx.captured_queries)
    print(f"sync queries ({connection.vendor}): {counts}")
    assert abs(counts[2000] - counts[10]) <= 2, counts
