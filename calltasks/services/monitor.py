"""The monitor (SPEC §5, seed 000): one pass over the due tasks; the drivers only call these functions.

A pass picks the due tasks (state 2, or 3 with rows still lacking a follow-up; ``next_check_at`` NULL or
past; not deleted), oldest due first so no task starves, and for each one:

1. leases it (PostgreSQL: a short ``SELECT … FOR NO KEY UPDATE SKIP LOCKED`` transaction; elsewhere a
   compare-and-set ``UPDATE`` on ``lease_until``) — a task is processed by one worker at a time, and a
   task another worker has just processed is no longer due, so it is not processed twice;
2. outside any transaction: syncs it from the provider, writes its follow-ups, copies a bounded number
   of recordings, checks its completion;
3. sets its next due time (fast right after start, then ``MONITOR_INTERVAL_SECONDS``; after a provider or
   network error ``MONITOR_ERROR_RETRY_SECONDS`` with ``last_error``) and releases the lease.

One failing task never stops the others. Each pass is recorded as a :class:`MonitorRun`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import requests
from django.conf import settings
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import Case, Exists, F, OuterRef, Q, Value, When
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from calltasks.models import CallTask, LeadTask, MonitorRun, MonitorState
from calltasks.provider.errors import ProviderError
from calltasks.states import TaskState

logger = logging.getLogger(__name__)

MONITORED_STATES = (TaskState.CALLING, TaskState.CALLS_DONE)
MAX_ERROR_DETAILS = 50
RECORDINGS_PER_TASK_PASS = 20


@dataclass
class TaskPassResult:
    """What one task's turn in a pass did."""

    task_id: int
    status: str = "ok"  # ok | error | skipped (not leased: busy, not due, paused, gone)
    task_type: int | None = None
    records_written: int = 0
    rows_updated: int = 0
    followups_created: int = 0
    recordings_fetched: int = 0
    completed: bool = False
    leased: bool = False
    errors: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


# --- the switch --------------------------------------------------------------------------------------------


def monitor_is_enabled() -> bool:
    """The persistent switch (``MonitorState`` pk=1); a missing row means the default: on."""
    enabled = MonitorState.objects.filter(pk=MonitorState.SINGLETON_ID).values_list("enabled", flat=True).first()
    return True if enabled is None else bool(enabled)


def monitor_set_enabled(*, enabled: bool, by: str) -> MonitorState:
    """Flip the switch both drivers honour (``POST /auto-task`` start/stop)."""
    state, _created = MonitorState.objects.update_or_create(
        pk=MonitorState.SINGLETON_ID, defaults={"enabled": bool(enabled), "updated_by": (by or "")[:150]}
    )
    with translation.override(settings.LANGUAGE_CODE):
        if enabled:
            logger.info(_("Automated task monitoring switched on by %(by)s"), {"by": by})
        else:
            logger.info(_("Automated task monitoring switched off by %(by)s"), {"by": by})
    return state


# --- selection and leases ----------------------------------------------------------------------------------


def _monitored(qs):
    missing = LeadTask.objects.filter(task_id=OuterRef("pk"), leads_follow__isnull=True)
    return qs.filter(deleted_at__isnull=True).filter(
        Q(task_type=TaskState.CALLING) | Q(Q(task_type=TaskState.CALLS_DONE) & Exists(missing))
    )


def _due(now: dt.datetime) -> Q:
    return Q(next_check_at__isnull=True) | Q(next_check_at__lte=now)


def _lease_free(now: dt.datetime) -> Q:
    return Q(lease_until__isnull=True) | Q(lease_until__lt=now)


def monitor_due_task_ids(*, now: dt.datetime | None = None, limit: int | None = None) -> list[int]:
    """Ids of the tasks due for a check, the longest-waiting first (NULL = never checked = first)."""
    now = now or timezone.now()
    qs = (
        _monitored(CallTask.objects.all())
        .filter(_due(now))
        .filter(_lease_free(now))
        .order_by(F("next_check_at").asc(nulls_first=True), "pk")
        .values_list("pk", flat=True)
    )
    if limit:
        qs = qs[:limit]
    return list(qs)


def _lease_owner(driver: str) -> str:
    return f"monitor:{driver}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:100]


def _lease(task_id: int, *, owner: str, now: dt.datetime, require_due: bool) -> bool:
    """Claim the task for this worker; False when another worker holds it or it is no longer due."""
    until = now + dt.timedelta(seconds=settings.MONITOR_LEASE_SECONDS)
    candidates = _monitored(CallTask.objects.filter(pk=task_id)).filter(_lease_free(now))
    if require_due:
        candidates = candidates.filter(_due(now))
    if connection.vendor == "postgresql":
        with transaction.atomic():
            locked = (
                CallTask.objects.select_for_update(skip_locked=True, no_key=True, of=("self",))
                .filter(pk=task_id)
                .values_list("pk", flat=True)
                .first()
            )
            if locked is None:
                return False
            return bool(candidates.update(lease_owner=owner, lease_until=until))
    # Compare-and-set: the WHERE clause re-checks the lease, so only one UPDATE wins.
    return bool(candidates.update(lease_owner=owner, lease_until=until))


def _release(task_id: int, owner: str) -> None:
    CallTask.objects.filter(pk=task_id, lease_owner=owner).update(lease_owner="", lease_until=None)


def next_check_delay(task: CallTask | dict, now: dt.datetime) -> int:
    """Seconds to the next check: fast while the task is young, then the normal interval."""
    started_at = task["started_at"] if isinstance(task, dict) else task.started_at
    if started_at and now - started_at < dt.timedelta(seconds=settings.MONITOR_FAST_WINDOW_SECONDS):
        return settings.MONITOR_FAST_INTERVAL_SECONDS
    return settings.MONITOR_INTERVAL_SECONDS


# --- one task ----------------------------------------------------------------------------------------------


def _describe_error(exc: BaseException) -> str:
    """A short, safe description: no URLs, phone numbers, keys or exception text from third parties."""
    if isinstance(exc, ProviderError):
        parts = [exc.action or "OutboundBot", exc.code]
        if exc.http_status:
            parts.append(f"HTTP {exc.http_status}")
        return " ".join(str(p) for p in parts)[:200]
    if isinstance(exc, requests.RequestException):
        return f"network: {type(exc).__name__}"
    return f"internal: {type(exc).__name__}"


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, (ProviderError, requests.RequestException))


def _followups_create(task_id: int, now: dt.datetime):
    from followups.services import followups_create_for_task

    return followups_create_for_task(task_id=task_id, now=now)


def _recordings_fetch(task_id: int, client):
    from calltasks.services.recordings import recordings_fetch_for_task

    return recordings_fetch_for_task(task_id=task_id, limit=RECORDINGS_PER_TASK_PASS, client=client)


def _process_leased(task_id: int, *, now: dt.datetime, client, result: TaskPassResult) -> None:
    from calltasks.services.completion import call_task_check_completion
    from calltasks.services.sync import call_task_sync

    task = CallTask.objects.filter(pk=task_id).values("pk", "task_name", "task_type", "started_at").first()
    if task is None:
        result.status = "skipped"
        return
    logger.info(_("Checking task: %(name)s (ID: %(id)s)"), {"name": task["task_name"], "id": task_id})

    def step(name: str, func: Callable[[], object]) -> object | None:
        try:
            return func()
        except Exception as exc:  # one failing step is recorded; the task's other steps and other tasks go on
            if isinstance(exc, DatabaseError):
                _reset_broken_connection()
            result.errors.append({"task_id": task_id, "step": name, "error": _describe_error(exc)})
            if _is_transient(exc):
                logger.warning(
                    _("Task %(id)s: %(step)s failed (%(error)s); retrying in %(seconds)s s"),
                    {
                        "id": task_id,
                        "step": name,
                        "error": _describe_error(exc),
                        "seconds": settings.MONITOR_ERROR_RETRY_SECONDS,
                    },
                )
            else:
                logger.exception("Monitor step %s failed for task %s", name, task_id)
            return None

    sync = step("sync", lambda: call_task_sync(task_id=task_id, client=client, now=now))
    if sync is not None:
        result.records_written = sync.records_written
        result.rows_updated = sync.rows_updated

    batch = step("followups", lambda: _followups_create(task_id, now))
    if batch is not None:
        result.followups_created = int(getattr(batch, "created", 0) or 0)
        if result.followups_created:
            logger.info(
                _("Follow-up records for task %(id)s created successfully (%(count)d)"),
                {"id": task_id, "count": result.followups_created},
            )

    recordings = step("recordings", lambda: _recordings_fetch(task_id, client))
    if recordings is not None:
        result.recordings_fetched = recordings.fetched

    completion = step("completion", lambda: call_task_check_completion(task_id=task_id, now=now))
    if completion is not None:
        result.task_type = completion.task_type
        result.completed = completion.changed and completion.task_type == TaskState.FOLLOWUPS_DONE

    # Next due time; a task that left the monitored states (4, paused, deleted) keeps what it has.
    if result.errors:
        result.status = "error"
        summary = "; ".join(f"{e['step']}: {e['error']}" for e in result.errors)[:500]
        delay, last_error = settings.MONITOR_ERROR_RETRY_SECONDS, summary
    else:
        delay, last_error = next_check_delay(task, now), ""
    CallTask.objects.filter(pk=task_id).update(
        next_check_at=Case(
            When(
                Q(task_type__in=MONITORED_STATES, deleted_at__isnull=True),
                then=Value(now + dt.timedelta(seconds=delay)),
            ),
            default=F("next_check_at"),
        ),
        last_checked_at=now,
        last_error=last_error,
    )


def monitor_process_task(
    *, task_id: int, driver: str, now: dt.datetime | None = None, client=None, require_due: bool = True
) -> TaskPassResult:
    """One task's turn: lease, sync, follow-ups, recordings, completion, next due time, release.

    The unit both drivers share (the django-q2 fan-out queues one job per task). Never raises for a
    task-level failure: errors are returned in the result and stored on the task.
    """
    now = now or timezone.now()
    result = TaskPassResult(task_id=task_id)
    owner = _lease_owner(driver)
    try:
        leased = _lease(task_id, owner=owner, now=now, require_due=require_due)
    except Exception as exc:  # e.g. the database is busy: this task waits for a later pass, others go on
        logger.warning("Could not lease task %s: %s", task_id, _describe_error(exc))
        result.status = "error"
        result.errors.append({"task_id": task_id, "step": "lease", "error": _describe_error(exc)})
        return result
    if not leased:
        result.status = "skipped"
        return result
    result.leased = True
    try:
        if client is None:
            from calltasks.services.provider import get_provider_client

            client = get_provider_client()
        with translation.override(settings.LANGUAGE_CODE):
            _process_leased(task_id, now=now, client=client, result=result)
    except Exception as exc:  # last resort: the lease is released and the task retried later
        logger.exception("Monitor failed on task %s", task_id)
        result.status = "error"
        result.errors.append({"task_id": task_id, "step": "task", "error": _describe_error(exc)})
        if isinstance(exc, DatabaseError):
            _reset_broken_connection()
        try:
            CallTask.objects.filter(pk=task_id, task_type__in=MONITORED_STATES).update(
                next_check_at=now + dt.timedelta(seconds=settings.MONITOR_ERROR_RETRY_SECONDS),
                last_error=_describe_error(exc),
            )
        except Exception:
            logger.exception("Could not record the monitor error of task %s", task_id)
    finally:
        _release_with_retry(task_id, owner)
    return result


def _reset_broken_connection() -> None:
    """After a database error, drop this thread's connection if it is unusable (the server ended it, the
    network broke), so the next statement opens a new one instead of failing with "connection already
    closed" until the end of the pass."""
    if connection.in_atomic_block:  # a caller's transaction (tests): not ours to end
        return
    try:
        connection.close_if_unusable_or_obsolete()
    except Exception:
        logger.warning("Could not reset the database connection", exc_info=True)


def _release_with_retry(task_id: int, owner: str) -> None:
    """Release the lease; on a broken connection once more on a fresh one. A lease left behind would keep
    the task from every monitor for ``MONITOR_LEASE_SECONDS``."""
    for attempt in (1, 2):
        try:
            _release(task_id, owner)
            return
        except Exception:
            if attempt == 2:  # the lease expires by itself after MONITOR_LEASE_SECONDS
                logger.exception("Could not release the lease of task %s", task_id)
                return
            _reset_broken_connection()


# --- one pass ----------------------------------------------------------------------------------------------


def _run_add(run: MonitorRun, result: TaskPassResult) -> None:
    if result.status == "skipped":
        return
    run.tasks_checked += int(result.leased)
    run.records_written += result.records_written
    run.rows_updated += result.rows_updated
    run.followups_created += result.followups_created
    run.tasks_completed += int(result.completed)
    if result.errors:
        run.errors += 1
        room = MAX_ERROR_DETAILS - len(run.error_details)
        if room > 0:
            run.error_details.extend(result.errors[:room])


def _run_outcome(run: MonitorRun) -> str:
    if not run.errors:
        return MonitorRun.Outcome.OK
    if run.errors >= max(run.tasks_checked, 1):
        return MonitorRun.Outcome.FAILED
    return MonitorRun.Outcome.PARTIAL


def monitor_workers(requested: int | None = None, *, tasks: int | None = None) -> int:
    """How many tasks one pass processes at once.

    ``MONITOR_WORKERS`` threads (or ``requested``), never more than there are tasks. Each thread leases the
    task it takes like any other monitor would, uses its own database connection and provider client, and
    spends most of its time waiting for the provider, the LLM or the database — which is why threads pay
    off despite the GIL. SQLite allows one writer at a time, so on SQLite a pass is always sequential.
    """
    workers = int(requested if requested is not None else getattr(settings, "MONITOR_WORKERS", 1) or 1)
    if connection.vendor == "sqlite":
        workers = 1
    if tasks is not None:
        workers = min(workers, max(tasks, 1))
    return max(1, workers)


def _process_sequentially(ids, *, workers, driver, fixed_now, client, require_due, should_stop, on_result) -> None:
    if ids and client is None:
        from calltasks.services.provider import get_provider_client

        client = get_provider_client()
    for task_id in ids:
        if should_stop and should_stop():
            break
        on_result(
            monitor_process_task(
                task_id=task_id,
                driver=driver,
                now=fixed_now or timezone.now(),
                client=client,
                require_due=require_due,
            )
        )


def _process_concurrently(ids, *, workers, driver, fixed_now, client, require_due, should_stop, on_result) -> None:
    """``workers`` threads take the tasks in order from a queue; the results are handed to ``on_result`` in
    task order by the calling thread once every worker has finished."""
    todo: queue.SimpleQueue[tuple[int, int]] = queue.SimpleQueue()
    for position, task_id in enumerate(ids):
        todo.put((position, task_id))
    results: dict[int, TaskPassResult] = {}

    def work() -> None:
        thread_client = client
        try:
            while not (should_stop and should_stop()):
                try:
                    position, task_id = todo.get_nowait()
                except queue.Empty:
                    return
                if thread_client is None:
                    from calltasks.services.provider import get_provider_client

                    thread_client = get_provider_client()
                results[position] = monitor_process_task(
                    task_id=task_id,
                    driver=driver,
                    now=fixed_now or timezone.now(),
                    client=thread_client,
                    require_due=require_due,
                )
        except Exception:  # monitor_process_task never raises for a task; this is a broken thread
            logger.exception("Monitor worker failed")
        finally:
            connections.close_all()  # this thread's connections only (they are per thread)

    threads = [threading.Thread(target=work, name=f"monitor-{n}", daemon=True) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for position in sorted(results):
        on_result(results[position])


def monitor_run_once(
    *,
    driver: str,
    now: dt.datetime | None = None,
    task_ids: Iterable[int] | None = None,
    should_stop: Callable[[], bool] | None = None,
    record_empty: bool = True,
    client=None,
    workers: int | None = None,
) -> MonitorRun:
    """One monitor pass, recorded as a :class:`MonitorRun`.

    ``task_ids`` restricts the pass to those tasks and checks them even if they are not due yet
    (a "check now"); ``should_stop`` is asked between tasks (SIGTERM in ``run_monitor``);
    ``record_empty=False`` leaves no row for a pass that found nothing to do (idle loops).
    ``now`` fixes the clock for due selection and next due times (tests).
    ``workers`` tasks are processed at once (default ``MONITOR_WORKERS``; see :func:`monitor_workers`). Without
    ``client`` each worker thread makes its own provider client; a ``client`` given (tests, fault injection)
    is shared by the threads, so it must be thread-safe.
    """
    fixed_now = now
    started = time.monotonic()
    with translation.override(settings.LANGUAGE_CODE):
        if not monitor_is_enabled():
            logger.info(_("Automated task monitoring is off; pass skipped"))
            return MonitorRun.objects.create(
                driver=driver,
                outcome=MonitorRun.Outcome.SKIPPED,
                started_at=timezone.now(),
                finished_at=timezone.now(),
            )
        pass_now = fixed_now or timezone.now()
        if task_ids is not None:
            ids = sorted({int(pk) for pk in task_ids})
            require_due = False
        else:
            ids = monitor_due_task_ids(now=pass_now)
            require_due = True
        run = MonitorRun(driver=driver, started_at=timezone.now())
        if not ids and not record_empty:
            run.outcome = MonitorRun.Outcome.OK
            run.finished_at = run.started_at
            return run
        run.save()
        try:
            workers = monitor_workers(workers, tasks=len(ids))
            process = _process_concurrently if workers > 1 else _process_sequentially
            process(
                ids,
                workers=workers,
                driver=driver,
                fixed_now=fixed_now,
                client=client,
                require_due=require_due,
                should_stop=should_stop,
                on_result=lambda result: _run_add(run, result),
            )
            run.outcome = _run_outcome(run)
        except Exception as exc:  # the pass itself broke (database down…): record it, never crash the driver
            logger.exception("Monitor pass failed")
            run.outcome = MonitorRun.Outcome.FAILED
            run.errors += 1
            run.error_details.append({"task_id": None, "step": "pass", "error": _describe_error(exc)})
        run.finished_at = timezone.now()
        try:
            run.save()
        except Exception:
            logger.exception("Could not save monitor run %s", run.pk)
        logger.info(
            _(
                "Monitor pass finished: %(tasks)d tasks checked, %(followups)d follow-ups created, %(errors)d errors, %(seconds).1f s"
            ),
            {
                "tasks": run.tasks_checked,
                "followups": run.followups_created,
                "errors": run.errors,
                "seconds": time.monotonic() - started,
            },
        )
    return run


def monitor_run_add_result(*, run_id: int, result: TaskPassResult) -> None:
    """Fold one fanned-out task's result into its schedule tick's run (short transaction, row lock)."""
    with transaction.atomic():
        run = MonitorRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            return
        _run_add(run, result)
        run.outcome = _run_outcome(run)
        run.finished_at = timezone.now()
        run.save()
