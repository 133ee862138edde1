"""Call tasks, their lead rows, call records and the monitor's own bookkeeping (seed table names)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from calltasks.states import TaskState
from dcc_project.phones import mask_phone
from followups.models import Interest


class CallTaskQuerySet(models.QuerySet):
    def alive(self):
        """Tasks that are not soft-deleted."""
        return self.filter(deleted_at__isnull=True)

    def for_organization(self, organization_id: int | None):
        return self.filter(organization_id=organization_id)


class CallTask(models.Model):
    """An AI outbound-call task (外呼任务) over a set of leads; one provider job group."""

    task_name = models.CharField(_("task name"), max_length=200)
    organization = models.ForeignKey(
        "followups.Organization", verbose_name=_("organization"), on_delete=models.CASCADE, related_name="call_tasks"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="call_tasks",
    )
    create_time = models.DateTimeField(_("created at"), default=timezone.now)
    leads_count = models.PositiveIntegerField(_("leads"), default=0)
    script_id = models.CharField(_("script id"), max_length=64, blank=True)
    task_type = models.PositiveSmallIntegerField(_("state"), choices=TaskState.choices, default=TaskState.CREATED)
    size_desc = models.JSONField(_("lead filter"), default=dict, blank=True)
    job_group_id = models.CharField(_("provider job group id"), max_length=100, null=True, blank=True)
    strategy = models.JSONField(_("calling strategy"), default=dict, blank=True)
    next_check_at = models.DateTimeField(_("next check at"), null=True, blank=True)
    last_checked_at = models.DateTimeField(_("last checked at"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    lease_owner = models.CharField(_("lease owner"), max_length=100, blank=True)
    lease_until = models.DateTimeField(_("lease until"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    deadline_at = models.DateTimeField(_("calling deadline"), null=True, blank=True)
    paused_at = models.DateTimeField(_("paused at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    calls_done_at = models.DateTimeField(_("calls done at"), null=True, blank=True)
    followups_done_at = models.DateTimeField(_("follow-ups done at"), null=True, blank=True)
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True)
    budget_day = models.DateField(_("call budget day"), null=True, blank=True)
    budget_reserved = models.PositiveIntegerField(_("leads counted against the daily budget"), default=0)
    updated_time = models.DateTimeField(_("updated at"), auto_now=True)

    objects = CallTaskQuerySet.as_manager()

    class Meta:
        db_table = "call_tasks"
        verbose_name = _("call task")
        verbose_name_plural = _("call tasks")
        ordering = ["-create_time", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["job_group_id"],
                condition=models.Q(job_group_id__isnull=False),
                name="uniq_call_task_job_group",
            ),
        ]
        indexes = [
            models.Index(fields=["task_type", "next_check_at"], name="task_type_next_check_idx"),
            models.Index(fields=["organization", "create_time"], name="task_org_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.task_name} (ID: {self.pk})"


class LeadTask(models.Model):
    """One row per (task, lead) = one provider job (``leads_task_list``)."""

    task = models.ForeignKey(CallTask, verbose_name=_("task"), on_delete=models.CASCADE, related_name="lead_rows")
    lead = models.ForeignKey(
        "followups.Lead", verbose_name=_("lead"), on_delete=models.SET_NULL, null=True, blank=True, related_name="task_rows"
    )
    leads_id = models.CharField(_("lead id"), max_length=50)
    leads_name = models.CharField(_("customer name"), max_length=100, blank=True)
    leads_phone = models.CharField(_("phone number"), max_length=20)
    call_time = models.DateTimeField(_("call time"), null=True, blank=True)
    reference_id = models.CharField(_("reference id"), max_length=64)
    call_job_id = models.CharField(_("provider job id"), max_length=100, null=True, blank=True)
    call_status = models.CharField(_("job status"), max_length=32, blank=True)
    last_task_status = models.CharField(_("call status"), max_length=64, blank=True)
    is_connected = models.BooleanField(_("connected"), default=False)
    failure_reason = models.CharField(_("failure reason"), max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    call_duration = models.PositiveIntegerField(_("call duration (s)"), null=True, blank=True)
    call_conversation = models.JSONField(_("transcript"), null=True, blank=True)
    summary = models.JSONField(_("provider summary"), null=True, blank=True)
    planed_time = models.DateTimeField(_("planned time"), null=True, blank=True)
    call_task_id = models.CharField(_("provider call id"), max_length=100, blank=True)
    calling_number = models.CharField(_("calling number"), max_length=32, blank=True)
    recording_url = models.TextField(_("recording URL"), blank=True)
    recording_file = models.FileField(_("recording"), upload_to="recordings/%Y/%m/", max_length=255, blank=True)
    final_at = models.DateTimeField(_("final outcome at"), null=True, blank=True)
    leads_follow = models.ForeignKey(
        "followups.FollowUp",
        verbose_name=_("follow-up record"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        db_column="leads_follow_id",
        related_name="+",
    )
    is_interested = models.SmallIntegerField(_("interest"), choices=Interest.choices, null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_time = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "leads_task_list"
        verbose_name = _("task lead row")
        verbose_name_plural = _("task lead rows")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["reference_id"], name="uniq_lead_row_reference"),
            models.UniqueConstraint(
                fields=["call_job_id"], condition=models.Q(call_job_id__isnull=False), name="uniq_lead_row_job"
            ),
            models.UniqueConstraint(
                fields=["task", "lead"], condition=models.Q(lead__isnull=False), name="uniq_lead_row_per_task"
            ),
        ]
        indexes = [
            models.Index(fields=["task", "leads_follow"], name="row_task_follow_idx"),
            models.Index(fields=["task", "call_status"], name="row_task_status_idx"),
            # A task's rows in id order: a page's ids (OFFSET) come from this index (index-only on PostgreSQL)
            # instead of a sort of the task's rows.
            models.Index(fields=["task", "id"], name="row_task_id_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.leads_name or self.leads_id} ({mask_phone(self.leads_phone)})"

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.leads_phone)


class OutboundCallRecord(models.Model):
    """One provider call attempt (a provider *Task*) of a lead row."""

    call_task = models.ForeignKey(CallTask, verbose_name=_("task"), on_delete=models.CASCADE, related_name="call_records")
    lead_task = models.ForeignKey(
        LeadTask, verbose_name=_("task lead row"), on_delete=models.CASCADE, related_name="call_records"
    )
    job_group_id = models.CharField(_("provider job group id"), max_length=100)
    job_id = models.CharField(_("provider job id"), max_length=100)
    provider_task_id = models.CharField(_("provider call id"), max_length=100)
    call_status = models.CharField(_("call status"), max_length=64, blank=True)
    status_code = models.SmallIntegerField(_("status code"), null=True, blank=True)
    end_reason = models.CharField(_("end reason"), max_length=64, blank=True)
    has_answered = models.BooleanField(_("answered"), default=False)
    called_number = models.CharField(_("called number"), max_length=32, blank=True)
    calling_number = models.CharField(_("calling number"), max_length=32, blank=True)
    planed_time = models.DateTimeField(_("planned time"), null=True, blank=True)
    actual_time = models.DateTimeField(_("call started"), null=True, blank=True)
    end_time = models.DateTimeField(_("call ended"), null=True, blank=True)
    duration = models.PositiveIntegerField(_("duration (s)"), null=True, blank=True)
    hang_up_direction = models.CharField(_("hung up by"), max_length=16, blank=True)
    conversation = models.JSONField(_("transcript"), null=True, blank=True)
    created = models.DateTimeField(_("created at"), default=timezone.now)
    updated = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "outbound_call_records"
        verbose_name = _("call record")
        verbose_name_plural = _("call records")
        ordering = ["lead_task_id", "actual_time", "id"]
        constraints = [
            models.UniqueConstraint(fields=["provider_task_id"], name="uniq_call_record_provider_task"),
        ]
        indexes = [
            models.Index(fields=["call_task", "call_status"], name="record_task_status_idx"),
            models.Index(fields=["job_group_id"], name="record_job_group_idx"),
        ]

    def __str__(self) -> str:
        return self.provider_task_id


class MonitorState(models.Model):
    """The persistent on/off switch that ``/auto-task`` flips; both monitor drivers honour it."""

    SINGLETON_ID = 1

    enabled = models.BooleanField(_("enabled"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.CharField(_("updated by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("monitor switch")
        verbose_name_plural = _("monitor switch")

    def __str__(self) -> str:
        return str(_("Monitor on") if self.enabled else _("Monitor off"))


class MonitorRun(models.Model):
    """One monitor pass, so supervisors see what the monitor did in the admin."""

    class Driver(models.TextChoices):
        SCHEDULE = "schedule", _("django-q2 schedule")
        COMMAND = "run_monitor", _("run_monitor command")
        API = "api", _("/auto-task check")
        ADMIN = "admin", _("Admin")
        TEST = "test", _("Test")

    class Outcome(models.TextChoices):
        RUNNING = "running", _("Running")
        OK = "ok", _("OK")
        PARTIAL = "partial", _("Some tasks failed")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped (monitor off)")

    driver = models.CharField(_("driver"), max_length=20, choices=Driver.choices)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.RUNNING)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    tasks_checked = models.PositiveIntegerField(_("tasks checked"), default=0)
    records_written = models.PositiveIntegerField(_("call records written"), default=0)
    rows_updated = models.PositiveIntegerField(_("lead rows updated"), default=0)
    followups_created = models.PositiveIntegerField(_("follow-ups created"), default=0)
    tasks_completed = models.PositiveIntegerField(_("tasks completed"), default=0)
    errors = models.PositiveIntegerField(_("errors"), default=0)
    error_details = models.JSONField(_("error details"), default=list, blank=True)

    class Meta:
        verbose_name = _("monitor run")
        verbose_name_plural = _("monitor runs")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["-started_at"], name="monitor_run_started_idx")]

    def __str__(self) -> str:
        return f"{self.get_driver_display()} {self.started_at:%Y-%m-%d %H:%M:%S}"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class DailyCallUsage(models.Model):
    """Leads an organization handed to the provider on one local (Asia/Shanghai) day.

    The daily call budget is enforced on this counter with a conditional ``UPDATE … WHERE reserved + n <=
    budget`` (compare-and-set), so two concurrent starts cannot both pass the check.
    """

    organization = models.ForeignKey(
        "followups.Organization", verbose_name=_("organization"), on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField(_("day"))
    reserved = models.PositiveIntegerField(_("leads assigned"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "call_daily_usage"
        verbose_name = _("daily call usage")
        verbose_name_plural = _("daily call usage")
        ordering = ["-day", "organization_id"]
        constraints = [models.UniqueConstraint(fields=["organization", "day"], name="uniq_daily_usage_org_day")]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.day}: {self.reserved}"


class IdempotencyRecord(models.Model):
    """The stored outcome of a request sent with an ``Idempotency-Key`` header (24 hours).

    Inserted *before* the request runs (``in_progress``); the unique constraint makes a concurrent request
    with the same key fail its insert instead of running a second time.
    """

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", _("In progress")
        COMPLETED = "completed", _("Completed")

    organization = models.ForeignKey(
        "followups.Organization",
        verbose_name=_("organization"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="+")
    key = models.CharField(_("idempotency key"), max_length=255)
    endpoint = models.CharField(_("endpoint"), max_length=255)
    fingerprint = models.CharField(_("request fingerprint"), max_length=64)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(_("response status"), null=True, blank=True)
    response_body = models.JSONField(_("response body"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    class Meta:
        db_table = "api_idempotency_records"
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "key", "endpoint"], name="uniq_idempotency_user_key_endpoint"),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.key}"
