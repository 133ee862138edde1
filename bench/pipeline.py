"""``bench_pipeline``: one full monitor pass over T tasks × L leads to state 4, next to the raw write rate.

Set-up (not timed): a fresh benchmark organization, T×L leads, T tasks started through
``call_task_start`` against an in-process simulator in instant mode (every call plays out at once,
every connected call has its transcript). Then ONE ``monitor_run_once`` over the tasks is timed — per
task: sync, follow-ups, completion (the recording step is switched off there and measured on its own
afterwards, files/s at ``RECORDING_DOWNLOAD_CONCURRENCY``). In the same run, the raw database write
rate for the same rows: a plain ``bulk_create`` of as many call records, one ``UPDATE`` of the lead
rows and a ``bulk_create`` of as many follow-ups, in a transaction that is rolled back.

A probe also syncs a 10-lead and a ``probe_leads``-lead task to compare SQL queries per sync.
"""

from __future__ import annotations

import contextlib
import logging
import math
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from bench.common import (
    Stopwatch,
    analyze_tables,
    bench_org_create,
    bench_org_delete,
    bench_simulator,
    count_queries,
    environment,
    environment_text,
    leads_bulk_create,
    let_every_call_finish,
    markdown_table,
    met,
    peak_rss_mb,
    rate,
    simulator_settings,
    task_with_rows_create,
)
from calltasks.models import CallTask, LeadTask, MonitorRun, OutboundCallRecord
from calltasks.services.lifecycle import call_task_start
from calltasks.states import TaskState
from followups.models import FollowUp

TARGET_LEADS_PER_SECOND = 1000
TARGET_RAW_RATIO = 0.25
TARGET_PROVIDER_FACTOR = 1.05
TARGET_QUERY_SPREAD = 2


# --- instrumentation of the monitor's steps ----------------------------------------------------------------------


class StepStats:
    """Time, SQL statements and calls per monitor step (outermost step only: a completion check that the
    sync's commit triggers counts as part of the sync)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.queries: dict[str, int] = {}
        self.calls: dict[str, int] = {}
        self.sync_results: list[Any] = []
        self.sync_queries: list[int] = []
        self.task_queries = 0  # statements of every task's turn (lease … release), whichever thread ran it
        self._local = threading.local()
        self._lock = threading.Lock()

    def wrap(self, name: str, func: Callable) -> Callable:
        def wrapper(*args, **kwargs):
            if getattr(self._local, "active", None):
                return func(*args, **kwargs)
            self._local.active = name
            watch = Stopwatch()
            try:
                with count_queries() as counter:
                    result = func(*args, **kwargs)
            finally:
                self._local.active = None
            with self._lock:  # monitor worker threads finish steps concurrently
                self.seconds[name] = self.seconds.get(name, 0.0) + watch.seconds()
                self.queries[name] = self.queries.get(name, 0) + counter.count
                self.calls[name] = self.calls.get(name, 0) + 1
                if name == "sync":
                    self.sync_results.append(result)
                    self.sync_queries.append(counter.count)
            return result

        return wrapper

    def wrap_task(self, func: Callable) -> Callable:
        """Count the statements of one task's turn on the thread that runs it (a worker thread has its own
        connection, which the pass-level counter of the calling thread does not see)."""

        def wrapper(*args, **kwargs):
            with count_queries() as counter:
                result = func(*args, **kwargs)
            with self._lock:
                self.task_queries += counter.count
            return result

        return wrapper


@contextlib.contextmanager
def instrumented_monitor(stats: StepStats, *, recordings: bool = False) -> Iterator[None]:
    """Wrap the functions ``_process_leased`` imports at call time; optionally switch recordings off."""
    import calltasks.services.completion as completion
    import calltasks.services.monitor as monitor
    import calltasks.services.recordings as recordings_module
    import calltasks.services.sync as sync
    import followups.services as followups

    def no_recordings(**kwargs):
        return recordings_module.RecordingsResult()

    patches = [
        mock.patch.object(monitor, "monitor_process_task", stats.wrap_task(monitor.monitor_process_task)),
        mock.patch.object(sync, "call_task_sync", stats.wrap("sync", sync.call_task_sync)),
        mock.patch.object(
            followups, "followups_create_for_task", stats.wrap("followups", followups.followups_create_for_task)
        ),
        mock.patch.object(
            completion, "call_task_check_completion", stats.wrap("completion", completion.call_task_check_completion)
        ),
    ]
    if not recordings:
        patches.append(mock.patch.object(recordings_module, "recordings_fetch_for_task", no_recordings))
    with contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        yield


# --- set-up --------------------------------------------------------------------------------------------------


def _started_tasks(org, user, *, tasks: int, leads: int, label: str) -> list[int]:
    pool = leads_bulk_create(org, tasks * leads, prefix=f"{label}{uuid.uuid4().hex[:6]}")
    ids = []
    for number in range(tasks):
        task = task_with_rows_create(org, user, pool[number * leads : (number + 1) * leads], name=f"{label}-{number}")
        call_task_start(task_id=task.pk)
        ids.append(task.pk)
    return ids


# --- the raw write rate ----------------------------------------------------------------------------------------


class _Rollback(Exception):
    pass


def raw_write_rate(task_ids: list[int], *, records: int) -> dict[str, Any]:
    """The same number of rows written the plainest way, in a transaction that is rolled back."""
    rows = list(LeadTask.objects.filter(task_id__in=task_ids).values_list("pk", "task_id", "lead_id").order_by("pk"))
    now = timezone.now()
    timings: dict[str, float] = {}
    watch = Stopwatch()
    try:
        with transaction.atomic():
            step = Stopwatch()
            if rows and records:
                call_records = [
                    OutboundCallRecord(
                        call_task_id=rows[i % len(rows)][1],
                        lead_task_id=rows[i % len(rows)][0],
                        job_group_id="bench-raw",
                        job_id=f"bench-raw-{i}",
                        provider_task_id=f"bench-raw-{uuid.uuid4().hex}",
                        call_status="SucceededFinish",
                        has_answered=True,
                        called_number="170****0000",
                        planed_time=now,
                        actual_time=now,
                        end_time=now,
                        duration=30,
                        conversation=[{"Speaker": "Robot", "Script": "您好"}, {"Speaker": "Contact", "Script": "好的"}],
                        created=now,
                        updated=now,
                    )
                    for i in range(records)
                ]
                OutboundCallRecord.objects.bulk_create(call_records, batch_size=2000)
            timings["call_records_seconds"] = step.seconds()
            step = Stopwatch()
            LeadTask.objects.filter(task_id__in=task_ids).update(
                call_status="Succeeded",
                last_task_status="SucceededFinish",
                is_connected=True,
                attempts=1,
                call_duration=30,
                call_conversation=[{"Speaker": "Contact", "Script": "好的"}],
                final_at=now,
                updated_time=now,
            )
            timings["lead_rows_seconds"] = step.seconds()
            step = Stopwatch()
            FollowUp.objects.bulk_create(
                [
                    FollowUp(
                        lead_id=lead_id,
                        lead_task=None,
                        follow_time=now,
                        leads_remark="基准测试",
                        first_follow_time=now,
                        new_follow_time=now,
                        is_interested=0,
                        source=FollowUp.Source.AI_CALL,
                        judge=FollowUp.Judge.RULES,
                        judged_at=now,
                        created_at=now,
                    )
                    for _pk, _task_id, lead_id in rows
                    if lead_id is not None
                ],
                batch_size=2000,
            )
            timings["followups_seconds"] = step.seconds()
            seconds = watch.seconds()
            raise _Rollback
    except _Rollback:
        pass
    return {
        "rows": len(rows),
        "call_records": records,
        "seconds": round(seconds, 3),
        "leads_per_second": rate(len(rows), seconds),
        **{key: round(value, 3) for key, value in timings.items()},
    }


# --- probe: queries per sync at two sizes ---------------------------------------------------------------------


def _probe_measure(handle, ids: dict[int, int]) -> dict[str, Any]:
    from calltasks.services.completion import call_task_check_completion
    from calltasks.services.sync import call_task_sync

    let_every_call_finish(handle)
    out = {}
    for size, task_id in ids.items():
        with count_queries() as sync_counter:
            result = call_task_sync(task_id=task_id)
        with count_queries() as completion_counter:
            call_task_check_completion(task_id=task_id)
        out[str(size)] = {
            "sync_queries": sync_counter.count,
            "completion_queries": completion_counter.count,
            "provider_calls": result.provider_calls,
            "provider_calls_bound": math.ceil(result.jobs_seen / 100) + math.ceil(result.newly_final / 99),
        }
    return out


# --- recordings ----------------------------------------------------------------------------------------------


def recordings_rate(task_ids: list[int], *, files: int) -> dict[str, Any]:
    from calltasks.services.recordings import recordings_fetch_for_task

    fetched = failed = 0
    watch = Stopwatch()
    for task_id in task_ids:
        if fetched + failed >= files:
            break
        part = recordings_fetch_for_task(task_id=task_id, limit=files - fetched - failed)
        fetched += part.fetched
        failed += part.failed
    seconds = watch.seconds()
    return {
        "files": fetched,
        "failed": failed,
        "seconds": round(seconds, 3),
        "files_per_second": rate(fetched, seconds),
        "concurrency": settings.RECORDING_DOWNLOAD_CONCURRENCY,
    }


def _remove_recordings(org) -> None:
    from calltasks.services.recordings import recording_storage

    storage = recording_storage()
    with contextlib.suppress(NotImplementedError, OSError):
        shutil.rmtree(storage.path(f"recordings/{org.pk}"), ignore_errors=True)


# --- the benchmark -------------------------------------------------------------------------------------------


def run(
    *,
    tasks: int = 100,
    leads: int = 1000,
    judge: str = "rules",
    llm_latency_ms: int = 200,
    concurrency: int | None = None,
    workers: int | None = None,
    probe_leads: int = 10000,
    recordings: int = 200,
    keep: bool = False,
    quiet: bool = True,
) -> dict[str, Any]:
    """Run the benchmark and return every figure as a dict (see docs/performance.md)."""
    if judge not in ("rules", "llm"):
        raise ValueError("judge must be 'rules' or 'llm'")
    llm = judge == "llm"
    overrides = {
        "CALLTASKS_ASSIGN_BATCH_SIZE": 99,
        "CALLTASKS_DAILY_CALL_BUDGET": 0,
        "CALLTASKS_MAX_LEADS_PER_TASK": 0,
    }
    if concurrency:
        overrides["JUDGE_CONCURRENCY"] = concurrency
        overrides["RECORDING_DOWNLOAD_CONCURRENCY"] = concurrency
    previous_disable = logging.root.manager.disable
    if quiet:
        logging.disable(logging.WARNING)
    org, user = bench_org_create("pipeline")
    handle = bench_simulator(llm=llm, llm_latency_ms=llm_latency_ms if llm else 0)
    try:
        with simulator_settings(handle, llm=llm, **overrides):
            setup = Stopwatch()
            task_ids = _started_tasks(org, user, tasks=tasks, leads=leads, label="bench")
            probe_sizes = sorted({10, probe_leads})
            probe_ids = {
                size: _started_tasks(org, user, tasks=1, leads=size, label=f"probe{size}")[0] for size in probe_sizes
            }
            let_every_call_finish(handle)
            analyze_tables()
            setup_seconds = setup.seconds()
            rows_total = LeadTask.objects.filter(task_id__in=task_ids).count()
            rss_before = peak_rss_mb()

            stats = StepStats()
            from calltasks.services.monitor import monitor_run_once, monitor_workers

            workers_used = monitor_workers(workers, tasks=tasks)

            with instrumented_monitor(stats), count_queries() as pass_counter:
                watch = Stopwatch()
                cpu_started = time.process_time()
                run_row = monitor_run_once(driver=MonitorRun.Driver.TEST, task_ids=task_ids, workers=workers)
                pass_seconds = watch.seconds()
                pass_cpu_seconds = time.process_time() - cpu_started
            rss_after = peak_rss_mb()

            states = dict(
                CallTask.objects.filter(pk__in=task_ids)
                .values_list("task_type")
                .annotate(n=Count("id"))
                .values_list("task_type", "n")
            )
            followups = FollowUp.objects.filter(lead_task__task_id__in=task_ids).count()
            linked = LeadTask.objects.filter(task_id__in=task_ids, leads_follow__isnull=False).count()
            records = OutboundCallRecord.objects.filter(call_task_id__in=task_ids).count()
            connected = LeadTask.objects.filter(task_id__in=task_ids).filter(Q(is_connected=True)).count()

            provider_calls = sum(r.provider_calls for r in stats.sync_results if r is not None)
            bound = sum(
                math.ceil(r.jobs_seen / 100) + math.ceil(r.newly_final / 99)
                for r in stats.sync_results
                if r is not None
            )
            raw = raw_write_rate(task_ids, records=records)
            probe = _probe_measure(handle, probe_ids)
            recording = recordings_rate(task_ids, files=recordings) if recordings else None
    finally:
        handle.stop()
        if not keep:
            _remove_recordings(org)
            bench_org_delete(org)
        if quiet:
            logging.disable(previous_disable)

    leads_per_second = rate(rows_total, pass_seconds)
    step_seconds = sum(stats.seconds.values())
    # The calling thread's statements (the pass's own) + every task's turn (on whichever thread ran it).
    pass_queries = pass_counter.count + stats.task_queries if workers_used > 1 else pass_counter.count
    sync_queries = stats.sync_queries
    probe_queries = [item["sync_queries"] for item in probe.values()]
    all_done = states.get(TaskState.FOLLOWUPS_DONE, 0) == tasks
    result = {
        "benchmark": "pipeline",
        "environment": environment(),
        "parameters": {
            "tasks": tasks,
            "leads_per_task": leads,
            "judge": judge,
            "llm_latency_ms": llm_latency_ms if llm else 0,
            "judge_concurrency": concurrency or settings.JUDGE_CONCURRENCY,
            "monitor_workers": workers_used,
            "recording_concurrency": recording["concurrency"] if recording else None,
            "probe_leads": probe_leads,
        },
        "setup_seconds": round(setup_seconds, 2),
        "pass": {
            "seconds": round(pass_seconds, 3),
            # CPU time of this process (monitor + the in-process simulator's threads) during the pass; the
            # rest of the wall time is spent waiting, mostly for the database.
            "cpu_seconds": round(pass_cpu_seconds, 3),
            "rows": rows_total,
            "leads_per_second": leads_per_second,
            "sql_queries": pass_queries,
            "sql_queries_per_task": round(pass_queries / tasks, 1) if tasks else 0,
            "monitor_run_outcome": run_row.outcome,
            "monitor_run_errors": run_row.errors,
            "steps": {
                name: {
                    "seconds": round(stats.seconds[name], 3),
                    # Of the steps' summed time: with several monitor workers, steps of different tasks overlap.
                    "share": round(stats.seconds[name] / step_seconds, 3) if step_seconds else 0,
                    "sql_queries": stats.queries[name],
                    "calls": stats.calls[name],
                }
                for name in stats.seconds
            },
        },
        "outcome": {
            "tasks_in_state_4": states.get(TaskState.FOLLOWUPS_DONE, 0),
            "states": {str(k): v for k, v in states.items()},
            "all_tasks_in_state_4": all_done,
            "lead_rows": rows_total,
            "followups": followups,
            "rows_linked_to_followup": linked,
            "call_records": records,
            "connected_rows": connected,
        },
        "sql_queries_per_task_sync": {
            "min": min(sync_queries) if sync_queries else 0,
            "max": max(sync_queries) if sync_queries else 0,
            "by_size": {size: item["sync_queries"] for size, item in probe.items()},
            "completion_check_by_size": {size: item["completion_queries"] for size, item in probe.items()},
            "spread_across_sizes": (max(probe_queries) - min(probe_queries)) if probe_queries else 0,
        },
        "provider_calls": {
            "actual": provider_calls,
            "lower_bound": bound,
            "ratio": round(provider_calls / bound, 3) if bound else None,
            "probe": {size: [item["provider_calls"], item["provider_calls_bound"]] for size, item in probe.items()},
        },
        "memory": {"peak_rss_mb_before_pass": rss_before, "peak_rss_mb_after_pass": rss_after},
        "raw_writes": raw,
        "ratio_to_raw": round(leads_per_second / raw["leads_per_second"], 3) if raw["leads_per_second"] else None,
        "recordings": recording,
    }
    result["targets"] = _targets(result)
    return result


def _targets(result: dict[str, Any]) -> dict[str, Any]:
    lps = result["pass"]["leads_per_second"]
    ratio = result["ratio_to_raw"]
    provider = result["provider_calls"]["ratio"]
    spread = result["sql_queries_per_task_sync"]["spread_across_sizes"]
    return {
        "leads_per_second_ge_1000": lps >= TARGET_LEADS_PER_SECOND,
        "ratio_to_raw_ge_0_25": ratio is not None and ratio >= TARGET_RAW_RATIO,
        "provider_calls_le_1_05_bound": provider is not None and provider <= TARGET_PROVIDER_FACTOR,
        "sync_queries_constant_pm_2": spread <= TARGET_QUERY_SPREAD,
        "all_tasks_in_state_4_and_rows_eq_followups": result["outcome"]["all_tasks_in_state_4"]
        and result["outcome"]["followups"] == result["outcome"]["lead_rows"],
    }


def markdown(result: dict[str, Any]) -> str:
    p = result["parameters"]
    env = result["environment"]
    t = result["targets"]
    sq = result["sql_queries_per_task_sync"]
    rec = result["recordings"]
    title = (
        f"**bench_pipeline** {p['tasks']}×{p['leads_per_task']}, judge {p['judge']}"
        f"{' (' + str(p['llm_latency_ms']) + ' ms)' if p['judge'] == 'llm' else ''}, "
        f"{p['monitor_workers']} monitor worker(s) — {environment_text(env)}"
    )
    steps = ", ".join(f"{name} {s['share']:.0%}" for name, s in result["pass"]["steps"].items())
    rows = [
        (
            "Leads/s end to end (one pass)",
            result["pass"]["leads_per_second"],
            "≥ 1,000",
            met(t["leads_per_second_ge_1000"]),
        ),
        ("Raw write rate (rows/s)", result["raw_writes"]["leads_per_second"], "—", met(None)),
        ("Ratio to raw write rate", result["ratio_to_raw"], "≥ 0.25", met(t["ratio_to_raw_ge_0_25"])),
        (
            "Provider calls / lower bound",
            f"{result['provider_calls']['actual']} / {result['provider_calls']['lower_bound']} = "
            f"{result['provider_calls']['ratio']}",
            "≤ 1.05",
            met(t["provider_calls_le_1_05_bound"]),
        ),
        (
            "SQL queries per task sync (by size)",
            ", ".join(f"{k} leads: {v}" for k, v in sq["by_size"].items()),
            "same ± 2",
            met(t["sync_queries_constant_pm_2"]),
        ),
        ("SQL queries per task in the pass", result["pass"]["sql_queries_per_task"], "—", met(None)),
        ("Pass time (s) / shares", f"{result['pass']['seconds']} ({steps})", "—", met(None)),
        ("CPU time of this process in the pass (s)", result["pass"]["cpu_seconds"], "—", met(None)),
        ("Peak RSS (MB) after the pass", result["memory"]["peak_rss_mb_after_pass"], "—", met(None)),
        (
            "State 4, rows = follow-ups",
            f"{result['outcome']['tasks_in_state_4']}/{p['tasks']}, {result['outcome']['lead_rows']} = "
            f"{result['outcome']['followups']}",
            "all",
            met(t["all_tasks_in_state_4_and_rows_eq_followups"]),
        ),
    ]
    if rec:
        rows.append(
            (f"Recording copies (files/s at concurrency {rec['concurrency']})", rec["files_per_second"], "—", met(None))
        )
    return title + "\n\n" + markdown_table(rows)
