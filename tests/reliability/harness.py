"""Shared machinery of the fault suite: tasks against the live simulator, monitor passes on the simulator's
virtual clock, the comparison with the simulator's ground truth, and the result rows the doc's table is
generated from (``scripts/reliability_report.py``).

A result row says, per scenario run: how many call records and follow-ups the simulator's ground truth
expects and how many the database holds, how many are duplicated or lost, whether the connected/not
connected outcome of every lead matches, and whether the task reached its final state (recovered).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from calltasks.models import CallTask, LeadTask, MonitorRun, OutboundCallRecord
from calltasks.services.lifecycle import call_task_start
from calltasks.services.monitor import monitor_run_once
from calltasks.states import TaskState
from followups.models import FollowUp, Lead
from tests.factories import CallTaskFactory

STEP_SECONDS = 1800  # virtual time between in-process passes
MAX_PASSES = 80
DEFAULT_LEADS = 50


def results_path() -> Path:
    """Where result rows go: ``RELIABILITY_RESULTS`` or ``<DCC_VAR_DIR>/reliability/results.jsonl``."""
    explicit = os.environ.get("RELIABILITY_RESULTS")
    if explicit:
        return Path(explicit)
    return Path(settings.VAR_DIR) / "reliability" / "results.jsonl"


def runs_per_scenario() -> int:
    """``RELIABILITY_RUNS`` (the soak variant), 1 by default (CI)."""
    try:
        return max(1, int(os.environ.get("RELIABILITY_RUNS", "1")))
    except ValueError:
        return 1


# --- tasks and passes ------------------------------------------------------------------------------------------


def started_task(org, user, leads: int = DEFAULT_LEADS, *, name: str) -> CallTask:
    """A task over ``leads`` new leads, started through the services against the configured simulator."""
    task = CallTaskFactory(organization=org, created_by=user, task_name=name, script_id="script-rel", leads_count=leads)
    pool = Lead.objects.bulk_create(
        [
            Lead(
                organization=org,
                leads_id=f"R{task.pk}-{i:04d}",
                leads_user_name=f"客户{i}",
                leads_user_phone=f"136{task.pk % 1000:03d}{i:05d}",
                leads_product="星越L",
                leads_type="A级",
                leads_create_time=timezone.now(),
            )
            for i in range(leads)
        ]
    )
    LeadTask.objects.bulk_create(
        [
            LeadTask(
                task=task,
                lead=lead,
                leads_id=lead.leads_id,
                leads_name=lead.leads_user_name,
                leads_phone=lead.leads_user_phone,
                reference_id=f"rel-{task.pk}-{lead.pk}",
            )
            for lead in pool
        ]
    )
    return call_task_start(task_id=task.pk)


class Clock:
    """The monitor's ``now``: starts at the present and moves with the simulator's virtual clock."""

    def __init__(self, simulator) -> None:
        self.simulator = simulator
        self.now = timezone.now()

    def step(self, seconds: float = STEP_SECONDS) -> dt.datetime:
        self.simulator.advance(seconds)
        self.now += dt.timedelta(seconds=seconds)
        return self.now


@dataclass
class Drive:
    """What a series of in-process passes did."""

    passes: int = 0
    failed_task_turns: int = 0  # task turns that ended with an error (the fault was felt)
    done: bool = False
    runs: list[MonitorRun] = field(default_factory=list)


def drive(
    task_ids: list[int],
    clock: Clock,
    *,
    before_pass=None,
    client=None,
    max_passes: int = MAX_PASSES,
    step_seconds: float = STEP_SECONDS,
) -> Drive:
    """In-process monitor passes until every task is in state 4 (``before_pass(index, clock)`` injects faults)."""
    result = Drive()
    for index in range(max_passes):
        if before_pass:
            before_pass(index, clock)
        run = monitor_run_once(driver=MonitorRun.Driver.TEST, now=clock.now, client=client)
        result.runs.append(run)
        result.passes += 1
        result.failed_task_turns += run.errors
        states = set(CallTask.objects.filter(pk__in=task_ids).values_list("task_type", flat=True))
        if states == {TaskState.FOLLOWUPS_DONE}:
            result.done = True
            return result
        clock.step(step_seconds)
    return result


def wait_until_done(task_ids: list[int], *, timeout: float, tick=None, interval: float = 0.3) -> bool:
    """Poll the database (subprocess drivers) until every task is in state 4; ``tick()`` runs between polls."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = set(CallTask.objects.filter(pk__in=task_ids).values_list("task_type", flat=True))
        if states == {TaskState.FOLLOWUPS_DONE}:
            return True
        if tick:
            tick()
        time.sleep(interval)
    return False


# --- ground truth ----------------------------------------------------------------------------------------------


@dataclass
class Check:
    """The database against the simulator's ground truth, for a set of tasks."""

    leads: int = 0
    records_expected: int = 0
    records_actual: int = 0
    followups_expected: int = 0
    followups_actual: int = 0
    duplicates: int = 0
    lost: int = 0
    mismatches: int = 0  # connected / not connected differing from the truth, or a wrong judged interest
    final_state_ok: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        if self.duplicates:
            return "duplicated"
        if self.lost or self.mismatches or not self.final_state_ok:
            return "lost"
        return "held"


def compare_with_truth(tasks: list[CallTask], simulator, *, judged_interest: bool = True) -> Check:
    check = Check(final_state_ok=True)
    for task in tasks:
        task.refresh_from_db()
        truth = {job["reference_id"]: job for job in simulator.ground_truth(task.job_group_id)}
        rows = list(LeadTask.objects.filter(task=task).select_related("leads_follow"))
        check.leads += task.leads_count
        if task.task_type != TaskState.FOLLOWUPS_DONE or task.lease_owner:
            check.final_state_ok = False
            check.problems.append(f"task {task.pk}: state {task.task_type}, lease {task.lease_owner!r}")
        if not all(job["final"] for job in truth.values()):
            check.final_state_ok = False
            check.problems.append(f"task {task.pk}: jobs not final at the provider")
        # Lead rows: one per lead, one per provider job.
        extra_rows = len(rows) - len({row.reference_id for row in rows})
        jobs_per_id = Counter(row.call_job_id for row in rows if row.call_job_id)
        check.duplicates += extra_rows + sum(n - 1 for n in jobs_per_id.values())
        missing_rows = set(truth) - {row.reference_id for row in rows}
        check.lost += len(missing_rows)
        # Call records: every attempt of the truth once, nothing else.
        expected_attempts = {a["task_id"] for job in truth.values() for a in job["attempts"]}
        ours = list(OutboundCallRecord.objects.filter(call_task=task).values_list("provider_task_id", flat=True))
        per_attempt = Counter(ours)
        check.records_expected += len(expected_attempts)
        check.records_actual += len(ours)
        check.duplicates += sum(n - 1 for n in per_attempt.values())
        phantom = set(per_attempt) - expected_attempts
        check.duplicates += len(phantom)
        check.lost += len(expected_attempts - set(per_attempt))
        # Follow-ups: exactly one per lead row, linked both ways, no AI follow-up without a row.
        check.followups_expected += len(truth)
        per_row = dict(
            FollowUp.objects.filter(lead_task__task=task)
            .values_list("lead_task")
            .annotate(n=Count("id"))
            .values_list("lead_task", "n")
        )
        check.followups_actual += sum(per_row.values())
        check.duplicates += sum(n - 1 for n in per_row.values())
        unlinked = [row.pk for row in rows if not row.leads_follow_id or per_row.get(row.pk, 0) == 0]
        check.lost += len(unlinked)
        if unlinked:
            check.problems.append(f"task {task.pk}: {len(unlinked)} rows without a follow-up")
        # Outcomes: connected as at the provider; judged interest as the truth.
        for row in rows:
            job = truth.get(row.reference_id)
            if job is None:
                continue
            if row.is_connected != job["connected"] or (row.call_job_id and row.call_job_id != job["job_id"]):
                check.mismatches += 1
                check.problems.append(f"{row.reference_id}: connected {row.is_connected} vs {job['connected']}")
            follow = row.leads_follow
            if (
                judged_interest
                and follow is not None
                and row.is_connected
                and row.call_conversation
                and follow.judge in (FollowUp.Judge.LLM, FollowUp.Judge.RULES)
                and follow.is_interested != job["is_interested"]
            ):
                check.mismatches += 1
                check.problems.append(f"{row.reference_id}: interest {follow.is_interested} vs {job['is_interested']}")
    orphans = FollowUp.objects.filter(
        source=FollowUp.Source.AI_CALL, lead_task__isnull=True, lead__organization__in={t.organization_id for t in tasks}
    ).count()
    check.duplicates += orphans
    return check


# --- result rows -----------------------------------------------------------------------------------------------


@dataclass
class ResultRow:
    scenario: str
    fault: str
    database: str
    session: str
    run: int
    runs: int
    leads: int
    records_expected: int
    records_actual: int
    followups_expected: int
    followups_actual: int
    duplicates: int
    lost: int
    mismatches: int
    outcome: str  # held | lost | duplicated | error
    recovered: bool
    fault_felt: int  # failed task turns / terminated connections / killed processes: proof the fault hit
    passes: int
    seconds: float
    recorded_at: str
    detail: str = ""


def write_row(row: ResultRow) -> None:
    path = results_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(asdict(row), ensure_ascii=False) + "\n")


def database_label() -> str:
    return "PostgreSQL" if connection.vendor == "postgresql" else ("SQLite" if connection.vendor == "sqlite" else connection.vendor)
