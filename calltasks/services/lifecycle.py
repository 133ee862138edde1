"""Start, pause, resume, cancel and soft-delete a call task (SPEC §3, §4).

Every state change is a compare-and-set ``UPDATE … WHERE task_type = <expected>``; provider calls run
outside transactions, and the state only changes after the provider said ``Success``.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from calltasks.models import CallTask, DailyCallUsage, LeadTask
from calltasks.provider import statuses
from calltasks.provider.errors import ProviderError
from calltasks.provider.types import JobSpec
from calltasks.services.errors import (
    DailyBudgetExceeded,
    InvalidTaskState,
    ProviderFailure,
    TaskNotFound,
    ValidationFailed,
)
from calltasks.services.provider import get_provider_client
from calltasks.states import TaskState
from calltasks.strategy import provider_strategy_json

logger = logging.getLogger(__name__)

START_LEASE_SECONDS = 300
ASSIGN_ROUNDS = 3


def task_get(*, task_id: int, organization_id: int | None = None) -> CallTask:
    """A live (not deleted) task, scoped to an organization when given; else :class:`TaskNotFound`."""
    qs = CallTask.objects.alive().filter(pk=task_id)
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    task = qs.first()
    if task is None:
        raise TaskNotFound()
    return task


def job_group_name(task: CallTask) -> str:
    return f"任务_{task.pk}_{task.task_name}"[:100]


def _provider_failure(exc: ProviderError) -> ProviderFailure:
    logger.warning("OutboundBot %s failed: %s", exc.action, exc.code)
    return ProviderFailure(
        _("The outbound-call provider rejected the request (%(code)s). Please try again later.") % {"code": exc.code}
    )


# --- start -----------------------------------------------------------------------------------------------


def _claim_start(task: CallTask, now: dt.datetime) -> str:
    owner = f"start:{uuid.uuid4().hex}"
    claimed = (
        CallTask.objects.filter(pk=task.pk, task_type=TaskState.CREATED, deleted_at__isnull=True)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_owner=owner, lease_until=now + dt.timedelta(seconds=START_LEASE_SECONDS))
    )
    if not claimed:
        current = CallTask.objects.filter(pk=task.pk).values_list("task_type", flat=True).first()
        if current == TaskState.CREATED:
            raise InvalidTaskState(_("The task is already being started."))
        raise InvalidTaskState(_("Only a newly created task can be started."))
    return owner


def _release(task_id: int, owner: str) -> None:
    CallTask.objects.filter(pk=task_id, lease_owner=owner).update(lease_owner="", lease_until=None)


# --- daily call budget -------------------------------------------------------------------------------------------


def _usage_row(organization_id: int, day: dt.date) -> int:
    """The id of the organization's usage counter of ``day`` (insert-first; a concurrent insert wins)."""
    row_id = DailyCallUsage.objects.filter(organization_id=organization_id, day=day).values_list("pk", flat=True).first()
    if row_id is not None:
        return row_id
    try:
        with transaction.atomic():
            return DailyCallUsage.objects.create(organization_id=organization_id, day=day).pk
    except IntegrityError:
        return DailyCallUsage.objects.get(organization_id=organization_id, day=day).pk


def daily_usage(*, organization_id: int, day: dt.date | None = None) -> int:
    """Leads the organization handed (or is handing) to the provider on the local ``day`` (default today)."""
    day = day or timezone.localdate()
    used = DailyCallUsage.objects.filter(organization_id=organization_id, day=day).values_list("reserved", flat=True)
    return used.first() or 0


def _budget_reserve(task: CallTask, owner: str, pending: int) -> tuple[dt.date, int]:
    """Count the task's ``pending`` rows against today's budget before anything is sent to the provider.

    A compare-and-set ``UPDATE … WHERE reserved <= budget - n`` on the per-organization, per-day counter:
    of two concurrent starts that together exceed the budget, exactly one passes. Rows this task already
    reserved today (a start that failed part-way) are not counted twice. Returns ``(day, newly reserved)``.
    Budget 0 = unlimited.
    """
    day = timezone.localdate()
    budget = settings.CALLTASKS_DAILY_CALL_BUDGET or 0
    already = task.budget_reserved if task.budget_day == day else 0
    needed = max(0, pending - already)
    if budget <= 0 or needed == 0:
        return day, 0
    row_id = _usage_row(task.organization_id, day)
    with transaction.atomic():
        reserved = DailyCallUsage.objects.filter(pk=row_id, reserved__lte=budget - needed).update(
            reserved=F("reserved") + needed
        )
        if not reserved:
            used = daily_usage(organization_id=task.organization_id, day=day)
            raise DailyBudgetExceeded(
                _(
                    "Starting this task would call %(needed)d leads, but the organization has already used "
                    "%(used)d of its daily budget of %(budget)d calls today. Start it tomorrow or ask an "
                    "administrator to raise CALLTASKS_DAILY_CALL_BUDGET."
                )
                % {"needed": needed, "used": used, "budget": budget},
                data={"daily_budget": budget, "used_today": used, "needed": needed},
            )
        CallTask.objects.filter(pk=task.pk, lease_owner=owner).update(budget_day=day, budget_reserved=already + needed)
    task.budget_day, task.budget_reserved = day, already + needed
    return day, needed


def _budget_release(task: CallTask, day: dt.date, count: int) -> None:
    """Give back ``count`` reserved leads the provider never got (a failed start, rows not accepted)."""
    if count <= 0:
        return
    with transaction.atomic():
        DailyCallUsage.objects.filter(organization_id=task.organization_id, day=day, reserved__gte=count).update(
            reserved=F("reserved") - count
        )
        CallTask.objects.filter(pk=task.pk, budget_day=day, budget_reserved__gte=count).update(
            budget_reserved=F("budget_reserved") - count
        )
    task.budget_reserved = max(0, task.budget_reserved - count)


def _ensure_job_group(client, task: CallTask, owner: str) -> str:
    """Create the job group once; after an ambiguous failure, find it by name before creating another."""
    if task.job_group_id:
        return task.job_group_id
    name = job_group_name(task)
    # A previous start may have created the group and died before saving its id: look it up by name first.
    existing = [g for g in client.list_job_groups(search_text=name).job_groups if g.name == name]
    if existing:
        group_id = existing[0].job_group_id
        CallTask.objects.filter(pk=task.pk, lease_owner=owner).update(job_group_id=group_id)
        task.job_group_id = group_id
        task._job_group_adopted = True
        return group_id
    try:
        group = client.create_job_group(
            name=name,
            script_id=task.script_id,
            description=f"DCC call task {task.pk}",
            strategy=provider_strategy_json(task.strategy or {}),
        )
        group_id = group.job_group_id
    except ProviderError as exc:
        if not exc.ambiguous:
            raise
        page = client.list_job_groups(search_text=name)
        matches = [g for g in page.job_groups if g.name == name]
        if not matches:
            raise
        group_id = matches[0].job_group_id
    CallTask.objects.filter(pk=task.pk, lease_owner=owner).update(job_group_id=group_id)
    task.job_group_id = group_id
    return group_id


def _known_reference_ids(client, job_group_id: str) -> dict[str, str]:
    """referenceId → job id for every job the provider holds in the group.

    Read from ListJobsByGroup, which carries ``ReferenceId`` for every job: QueryJobsWithResult only has it
    inside ``LatestTask``, which jobs that have not been dialled yet do not have.
    """
    known: dict[str, str] = {}
    page_number = 1
    while True:
        page = client.list_jobs_by_group(job_group_id=job_group_id, page_number=page_number, page_size=100)
        for job in page.jobs:
            if job.reference_id and job.job_id:
                known[job.reference_id] = job.job_id
        if not page.jobs or page_number * (page.page_size or 100) >= page.total_count:
            return known
        page_number += 1


@sensitive_variables("row")
def _job_spec(row: dict, task: CallTask) -> JobSpec:
    extras = {"task_id": str(task.pk)}
    return JobSpec(
        phone_number=row["leads_phone"], reference_id=row["reference_id"], name=row["leads_name"], extras=extras
    )


@sensitive_variables("pending", "batch", "row")
def _assign_rows(client, task: CallTask, job_group_id: str, *, reconcile_first: bool = False) -> tuple[int, int]:
    """Assign every row without a job id in batches; never resubmit a row the provider may already hold.

    ``reconcile_first``: the group existed before this start (an earlier start failed part-way), so it may
    already hold some of the rows: look them up before the first submission.

    Returns ``(accepted, not_accepted)``; rows never accepted after the bounded rounds are marked final
    (``Failed``/``NotAssigned``) by the caller.
    """
    pending = {
        row["reference_id"]: row
        for row in LeadTask.objects.filter(task=task, call_job_id__isnull=True, final_at__isnull=True).values(
            "id", "reference_id", "leads_phone", "leads_name"
        )
    }
    if not pending:
        return 0, 0
    batch_size = settings.CALLTASKS_ASSIGN_BATCH_SIZE
    for round_no in range(ASSIGN_ROUNDS):
        if round_no or reconcile_first:
            # Something failed or was ambiguous: ask the provider what it holds before resubmitting.
            for reference_id in _known_reference_ids(client, job_group_id):
                pending.pop(reference_id, None)
            if not pending:
                break
            if round_no:
                time.sleep(min(2**round_no * 0.5, 5))
        failed_any = False
        refs = list(pending)
        for start in range(0, len(refs), batch_size):
            batch = [pending[ref] for ref in refs[start : start + batch_size]]
            try:
                client.assign_jobs(job_group_id=job_group_id, jobs=[_job_spec(row, task) for row in batch])
            except ProviderError as exc:
                failed_any = True
                logger.warning("AssignJobs batch for task %s failed: %s", task.pk, exc.code)
                if not exc.retryable and not exc.ambiguous and len(batch) > 1:
                    # A bad number rejects its whole batch: submit the rows one by one.
                    for row in batch:
                        try:
                            client.assign_jobs(job_group_id=job_group_id, jobs=[_job_spec(row, task)])
                        except ProviderError:
                            continue
                continue
        if not failed_any:
            break
    known = _known_reference_ids(client, job_group_id)
    _link_job_ids(task, known)
    all_rows = LeadTask.objects.filter(task=task, call_job_id__isnull=True, final_at__isnull=True)
    not_accepted = all_rows.count()
    return len(known), not_accepted


def _link_job_ids(task: CallTask, known: dict[str, str]) -> None:
    rows = list(LeadTask.objects.filter(task=task, call_job_id__isnull=True, reference_id__in=list(known)))
    for row in rows:
        row.call_job_id = known[row.reference_id]
        row.call_status = row.call_status or statuses.JOB_SCHEDULING
    LeadTask.objects.bulk_update(rows, ["call_job_id", "call_status"], batch_size=500)


def call_task_start(*, task_id: int, organization_id: int | None = None, script_id: str | None = None) -> CallTask:
    """1 → 2 exactly once: CreateJobGroup, AssignJobs in batches, correlate job ids by referenceId."""
    task = task_get(task_id=task_id, organization_id=organization_id)
    if script_id:
        CallTask.objects.filter(pk=task.pk, task_type=TaskState.CREATED).update(script_id=script_id)
        task.script_id = script_id
    if task.task_type != TaskState.CREATED:
        raise InvalidTaskState(_("Only a newly created task can be started."))
    if not task.script_id:
        raise ValidationFailed(_("Set the call script (script_id) before starting the task."))
    now = timezone.now()
    owner = _claim_start(task, now)
    try:
        pending = LeadTask.objects.filter(task=task, call_job_id__isnull=True, final_at__isnull=True).count()
        budget_day, _newly_reserved = _budget_reserve(task, owner, pending)
    except BaseException:
        _release(task.pk, owner)
        raise
    client = get_provider_client()
    try:
        had_group = bool(task.job_group_id)
        job_group_id = _ensure_job_group(client, task, owner)
    except BaseException as exc:
        # Nothing was assigned: the reservation goes back.
        _budget_release(task, budget_day, task.budget_reserved if task.budget_day == budget_day else 0)
        _release(task.pk, owner)
        if isinstance(exc, ProviderError):
            raise _provider_failure(exc) from exc
        raise
    try:
        # A group that existed already (an earlier start failed part-way, or was found by name) may hold jobs.
        reconcile_first = had_group or getattr(task, "_job_group_adopted", False)
        accepted, not_accepted = _assign_rows(client, task, job_group_id, reconcile_first=reconcile_first)
    except ProviderError as exc:
        # Some batches may have reached the provider: the reservation stays (a retry today reuses it).
        _release(task.pk, owner)
        raise _provider_failure(exc) from exc
    except BaseException:
        _release(task.pk, owner)
        raise
    if accepted == 0:
        # The provider's own listing says it holds none of the rows: nothing will be called.
        _budget_release(task, budget_day, task.budget_reserved if task.budget_day == budget_day else 0)
        _release(task.pk, owner)
        raise ProviderFailure(_("The provider accepted none of the task's leads. Please try again later."))
    # Rows never accepted become final (NotAssigned) below and are never called: give their share back.
    _budget_release(task, budget_day, min(not_accepted, task.budget_reserved if task.budget_day == budget_day else 0))
    now = timezone.now()
    with transaction.atomic():
        LeadTask.objects.filter(task=task, call_job_id__isnull=True, final_at__isnull=True).update(
            call_status=statuses.JOB_FAILED,
            failure_reason=statuses.REASON_NOT_ASSIGNED,
            final_at=now,
        )
        moved = CallTask.objects.filter(pk=task.pk, task_type=TaskState.CREATED, lease_owner=owner).update(
            task_type=TaskState.CALLING,
            started_at=now,
            deadline_at=now + dt.timedelta(hours=settings.CALLTASKS_TASK_DEADLINE_HOURS),
            next_check_at=now + dt.timedelta(seconds=settings.MONITOR_FAST_INTERVAL_SECONDS),
            lease_owner="",
            lease_until=None,
        )
    if not moved:
        raise InvalidTaskState(_("The task changed while it was being started."))
    logger.info(
        _("Task %(name)s (ID: %(id)s) started: %(accepted)s leads assigned, %(rejected)s not accepted"),
        {"name": task.task_name, "id": task.pk, "accepted": accepted, "rejected": not_accepted},
    )
    task.refresh_from_db()
    return task


# --- pause / resume / cancel / delete ------------------------------------------------------------------------


def _require_state(task: CallTask, allowed: set[int], message: str) -> None:
    if task.task_type not in allowed:
        raise InvalidTaskState(message)


def call_task_pause(*, task_id: int, organization_id: int | None = None) -> CallTask:
    task = task_get(task_id=task_id, organization_id=organization_id)
    _require_state(task, {TaskState.CALLING}, _("Only a task that is calling can be paused."))
    try:
        get_provider_client().suspend_jobs(job_group_id=task.job_group_id, all=True)
    except ProviderError as exc:
        raise _provider_failure(exc) from exc
    moved = CallTask.objects.filter(pk=task.pk, task_type=TaskState.CALLING).update(
        task_type=TaskState.PAUSED, paused_at=timezone.now()
    )
    if not moved:
        raise InvalidTaskState(_("The task changed state while it was being paused."))
    logger.info(_("Task %(name)s (ID: %(id)s) paused"), {"name": task.task_name, "id": task.pk})
    task.refresh_from_db()
    return task


def call_task_resume(*, task_id: int, organization_id: int | None = None) -> CallTask:
    task = task_get(task_id=task_id, organization_id=organization_id)
    _require_state(task, {TaskState.PAUSED}, _("Only a paused task can be resumed."))
    try:
        get_provider_client().resume_jobs(job_group_id=task.job_group_id, all=True)
    except ProviderError as exc:
        raise _provider_failure(exc) from exc
    moved = CallTask.objects.filter(pk=task.pk, task_type=TaskState.PAUSED).update(
        task_type=TaskState.CALLING, paused_at=None, next_check_at=timezone.now()
    )
    if not moved:
        raise InvalidTaskState(_("The task changed state while it was being resumed."))
    logger.info(_("Task %(name)s (ID: %(id)s) resumed"), {"name": task.task_name, "id": task.pk})
    task.refresh_from_db()
    return task


def call_task_cancel(*, task_id: int, organization_id: int | None = None) -> CallTask:
    """2/5 → CancelJobs → sync the true outcomes → unfinished rows ``Cancelled`` (final) → 3 (→ 4 as usual).

    A task still in 1 has called nobody: it is deleted instead.
    """
    from calltasks.services.completion import call_task_check_completion
    from calltasks.services.sync import call_task_sync

    task = task_get(task_id=task_id, organization_id=organization_id)
    if task.task_type == TaskState.CREATED:
        return call_task_delete(task_id=task.pk, organization_id=organization_id)
    _require_state(task, {TaskState.CALLING, TaskState.PAUSED}, _("Only a calling or paused task can be cancelled."))
    client = get_provider_client()
    try:
        client.cancel_jobs(job_group_id=task.job_group_id, all=True)
        call_task_sync(task_id=task.pk, client=client, include_paused=True)
    except ProviderError as exc:
        raise _provider_failure(exc) from exc
    now = timezone.now()
    with transaction.atomic():
        moved = CallTask.objects.filter(pk=task.pk, task_type__in=[TaskState.CALLING, TaskState.PAUSED]).update(
            task_type=TaskState.CALLS_DONE, cancelled_at=now, calls_done_at=now, paused_at=None, next_check_at=now
        )
        if not moved:
            # The sync above may have recorded every outcome and its completion check (run on commit) moved the
            # task on to 3/4 already: the calls are over, which is what cancel asked for.
            current = CallTask.objects.filter(pk=task.pk).values_list("task_type", flat=True).first()
            if current not in (TaskState.CALLS_DONE, TaskState.FOLLOWUPS_DONE):
                raise InvalidTaskState(_("The task changed state while it was being cancelled."))
            CallTask.objects.filter(pk=task.pk, cancelled_at__isnull=True).update(cancelled_at=now)
        LeadTask.objects.filter(task=task, final_at__isnull=True).update(
            call_status=statuses.JOB_CANCELLED, failure_reason=statuses.REASON_CANCELLED, final_at=now
        )
    logger.info(_("Task %(name)s (ID: %(id)s) cancelled"), {"name": task.task_name, "id": task.pk})
    call_task_check_completion(task_id=task.pk)
    task.refresh_from_db()
    return task


def call_task_delete(*, task_id: int, organization_id: int | None = None) -> CallTask:
    """Soft delete, allowed in 1, 3 and 4 (a cancelled task is in 3/4); never while calls may run."""
    task = task_get(task_id=task_id, organization_id=organization_id)
    allowed = [TaskState.CREATED, TaskState.CALLS_DONE, TaskState.FOLLOWUPS_DONE]
    if task.task_type not in allowed:
        raise InvalidTaskState(_("A calling or paused task cannot be deleted; cancel it first."))
    deleted = CallTask.objects.filter(pk=task.pk, task_type__in=allowed, deleted_at__isnull=True).update(
        deleted_at=timezone.now(), next_check_at=None
    )
    if not deleted:
        raise InvalidTaskState(_("The task changed state while it was being deleted."))
    logger.info(_("Task %(name)s (ID: %(id)s) deleted"), {"name": task.task_name, "id": task.pk})
    task.refresh_from_db()
    return task
