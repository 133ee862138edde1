"""django-q2 task functions (thin: they only call the services). Arguments are ids, never personal data."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.utils import timezone

from calltasks.models import CallTask, MonitorRun
from calltasks.services import monitor

logger = logging.getLogger(__name__)

MONITOR_GROUP = "monitor"


def monitor_tick() -> dict:
    """The scheduled function: fan out one ``monitor_task`` job per due task (if the monitor is on).

    Each due task is marked as queued by moving its ``next_check_at`` past the broker's retry window with
    a compare-and-set, so overlapping ticks (or several clusters) queue it once; a lost job only delays
    the task until then. Idle ticks leave no ``MonitorRun`` row.
    """
    from django_q.tasks import async_task

    if not monitor.monitor_is_enabled():
        return {"enabled": False, "queued": 0}
    now = timezone.now()
    due = monitor.monitor_due_task_ids(now=now)
    if not due:
        return {"enabled": True, "queued": 0}
    hold = now + dt.timedelta(seconds=int(settings.Q_CLUSTER.get("retry", 300)))
    run = MonitorRun.objects.create(driver=MonitorRun.Driver.SCHEDULE, started_at=now)
    queued = 0
    for task_id in due:
        claimed = CallTask.objects.filter(pk=task_id).filter(monitor._due(now)).update(next_check_at=hold)
        if not claimed:
            continue
        async_task(
            "calltasks.tasks.monitor_task", task_id, run.pk, group=MONITOR_GROUP, task_name=f"monitor-task-{task_id}"
        )
        queued += 1
    if not queued:
        run.outcome = MonitorRun.Outcome.OK
        run.finished_at = timezone.now()
        run.save(update_fields=["outcome", "finished_at"])
    return {"enabled": True, "queued": queued, "run_id": run.pk}


def monitor_task(task_id: int, run_id: int | None = None) -> dict:
    """One task's monitor turn (queued by :func:`monitor_tick`); honours the switch."""
    if not monitor.monitor_is_enabled():
        return {"task_id": task_id, "status": "skipped"}
    result = monitor.monitor_process_task(task_id=task_id, driver=MonitorRun.Driver.SCHEDULE, require_due=False)
    if run_id is not None:
        monitor.monitor_run_add_result(run_id=run_id, result=result)
    return {"task_id": task_id, "status": result.status, "followups_created": result.followups_created}


def recordings_fetch(task_id: int, limit: int | None = None) -> dict:
    """Copy a task's missing recordings (the "later" step)."""
    from calltasks.services.recordings import recordings_fetch_for_task

    result = recordings_fetch_for_task(task_id=task_id, limit=limit)
    return {"task_id": task_id, "fetched": result.fetched, "failed": result.failed}


def task_completed_deliver(task_id: int) -> dict:
    """Send the completion email and webhook of a task (queued by the completion check)."""
    from calltasks.services.notifications import task_completed_deliver as deliver

    return deliver(task_id=task_id)
