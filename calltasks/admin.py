"""The supervisors' admin for call tasks, their lead rows and call records (Simplified Chinese).

Stable hooks for the browser tests (keep them):
- CallTask changelist actions (``<select name="action">`` values): ``start_tasks``, ``pause_tasks``,
  ``resume_tasks``, ``cancel_tasks``, ``check_tasks_now``, ``export_followups_xlsx``.
  ``start_tasks`` / ``cancel_tasks`` show a confirmation page first.
- LeadTask changelist actions: ``rejudge_followups``, ``export_rows_xlsx``.
- Task change page: ``<div id="task-actions">`` holds one POST form per button
  ``<button name="_task_action" value="start|pause|resume|cancel|check|export">`` (only the buttons that fit
  the task's state are shown; export always). start and cancel lead to a confirmation page whose submit is
  ``<button id="confirm-action" name="confirm" value="yes">``.
- Progress: ``<div class="task-progress" data-called=.. data-connected=.. data-followed=.. data-total=..>``
  (list and task page). State: ``<span class="state-badge state-<n>">``.
- Lead row page: ``<div class="transcript">`` with ``<div class="bubble bubble-robot">`` /
  ``<div class="bubble bubble-customer">`` bubbles; ``<audio controls src="/recordings/<row id>/">`` when a
  recording is stored; call attempts in ``<table id="call-attempts">``; the follow-up in ``<div id="follow-up">``.
"""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from calltasks import admin_actions
from calltasks.models import CallTask, LeadTask, OutboundCallRecord
from calltasks.provider import statuses
from calltasks.selectors import TaskStatistics, lead_row_detail, task_progress_map, task_rows_preview, task_statistics
from calltasks.services.errors import TaskServiceError
from calltasks.services.lifecycle import call_task_delete
from calltasks.states import ACTIVE_STATES, STATE_COLOURS, TaskState
from dcc_project.admin_scoping import OrganizationScopedAdminMixin
from dcc_project.phones import mask_phone
from followups.models import PENDING_INTEREST_LABEL, Interest, interest_label
from followups.prompts import CUSTOMER, ROBOT, speaker_role
from followups.services import FollowupNotRejudgeable, followup_rejudge

ADMIN_CSS = "calltasks/admin.css"
ROWS_ON_TASK_PAGE = 50


# --- presentation helpers --------------------------------------------------------------------------------------


def state_badge(task_type: int, label: str) -> str:
    colour = STATE_COLOURS.get(task_type, "#6c757d")
    return format_html('<span class="state-badge state-{}" style="background-color: {}">{}</span>', task_type, colour, label)


def _percent(part: int, total: int) -> str:
    return f"{(part * 100 / total) if total else 0:.1f}"


def progress_html(stats: TaskStatistics) -> str:
    """The progress element: three thin bars (called / connected / followed of total) and the numbers."""
    bars = format_html_join(
        "",
        '<div class="progress-bar progress-{}" title="{}"><span style="width: {}%"></span></div>',
        (
            ("called", _("Called"), _percent(stats.final, stats.total)),
            ("connected", _("Connected"), _percent(stats.connected, stats.total)),
            ("followed", _("Followed up"), _percent(stats.followed, stats.total)),
        ),
    )
    text = _("called %(called)s · connected %(connected)s · followed up %(followed)s / %(total)s") % {
        "called": stats.final,
        "connected": stats.connected,
        "followed": stats.followed,
        "total": stats.total,
    }
    return format_html(
        '<div class="task-progress" data-called="{}" data-connected="{}" data-followed="{}" data-total="{}">'
        '{}<div class="progress-text">{}</div></div>',
        stats.final,
        stats.connected,
        stats.followed,
        stats.total,
        bars,
        text,
    )


def interest_html(stats: TaskStatistics) -> str:
    items = (
        ("interested", Interest.INTERESTED.label, stats.interested),
        ("not-interested", Interest.NOT_INTERESTED.label, stats.not_interested),
        ("undecided", Interest.UNDECIDED.label, stats.undecided),
        ("pending", PENDING_INTEREST_LABEL, stats.pending),
    )
    return format_html(
        '<div class="interest-counts">{}</div>',
        format_html_join("", '<span class="interest-badge interest-{}">{} <b>{}</b></span>', items),
    )


def interest_badge(value: int | None) -> str:
    css = {1: "interested", 2: "not-interested", 0: "undecided"}.get(value, "pending")
    return format_html('<span class="interest-badge interest-{}">{}</span>', css, interest_label(value))


def _local(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.astimezone(ZoneInfo(settings.TIME_ZONE))


def transcript_turns(conversation: object) -> list[dict]:
    """The stored provider conversation (``Speaker/Script/Timestamp`` turns) as dialogue bubbles."""
    if not isinstance(conversation, list):
        return []
    turns = []
    for index, item in enumerate(conversation):
        if not isinstance(item, dict):
            continue
        lowered = {str(key).lower(): value for key, value in item.items()}
        text = lowered.get("script", lowered.get("content", lowered.get("text")))
        if text is None or not str(text).strip():
            continue
        role = speaker_role(lowered.get("speaker", lowered.get("role")))
        try:
            stamp = dt.datetime.fromtimestamp(float(lowered.get("timestamp")) / 1000, tz=dt.UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            stamp = None
        turns.append(
            {
                "index": index,
                "role": "robot" if role == ROBOT else "customer" if role == CUSTOMER else "other",
                "speaker": _("Robot") if role == ROBOT else _("Customer") if role == CUSTOMER else _("Other"),
                "text": str(text),
                "time": _local(stamp),
            }
        )
    if turns and all(turn["time"] is not None for turn in turns):
        turns.sort(key=lambda turn: (turn["time"], turn["index"]))
    return turns


def hang_up_label(value: str | None) -> str:
    """``client`` / ``ivr`` (DescribeJob) or free text (QueryJobsWithResult) as the supervisor reads it."""
    return {"client": _("Customer"), "ivr": _("Robot")}.get((value or "").strip().lower(), value or "-")


def _row_transcript(row: LeadTask, records: list[OutboundCallRecord]) -> list:
    if row.call_conversation:
        return row.call_conversation
    for record in reversed(records):
        if record.conversation:
            return record.conversation
    return []


class JobStatusFilter(admin.SimpleListFilter):
    title = gettext_lazy("job status")
    parameter_name = "call_status"

    def lookups(self, request, model_admin):
        return [("none", _("Not started")), *statuses.JOB_STATUS_LABELS.items()]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(call_status="")
        if value in statuses.JOB_STATUS_LABELS:
            return queryset.filter(call_status=value)
        return queryset


# --- call tasks ----------------------------------------------------------------------------------------------


class TaskChangeList(ChangeList):
    """Attaches each listed task's progress counts with one grouped query for the whole page."""

    def get_results(self, request):
        super().get_results(request)
        progress = task_progress_map(task_ids=[task.pk for task in self.result_list])
        for task in self.result_list:
            task.progress_stats = progress.get(task.pk) or TaskStatistics(task.pk, 0, 0, 0, 0, 0, 0, 0, 0)


TASK_READONLY_FIELDS = [
    "state",
    "organization",
    "created_by",
    "create_time",
    "leads_count",
    "size_desc_display",
    "strategy_display",
    "job_group_id",
    "next_check_at",
    "last_checked_at",
    "last_error",
    "started_at",
    "deadline_at",
    "paused_at",
    "cancelled_at",
    "calls_done_at",
    "followups_done_at",
    "updated_time",
]


@admin.register(CallTask)
class CallTaskAdmin(OrganizationScopedAdminMixin, admin.ModelAdmin):
    organization_lookup = "organization"
    list_display = [
        "id",
        "task_name",
        "state",
        "create_time",
        "created_by",
        "leads",
        "progress",
        "interest",
        "next_check_at",
    ]
    list_display_links = ["id", "task_name"]
    list_filter = ["task_type", "create_time", ("created_by", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["task_name", "job_group_id"]
    list_select_related = ["created_by"]
    list_per_page = 100
    actions = [
        "start_tasks",
        "pause_tasks",
        "resume_tasks",
        "cancel_tasks",
        "check_tasks_now",
        "export_followups_xlsx",
    ]
    fieldsets = [
        (None, {"fields": ["task_name", "script_id", "organization", "created_by", "create_time", "leads_count"]}),
        (gettext_lazy("Lead filter and calling strategy"), {"fields": ["size_desc_display", "strategy_display"]}),
        (
            gettext_lazy("Provider and monitor"),
            {
                "classes": ["collapse"],
                "fields": [
                    "job_group_id",
                    "next_check_at",
                    "last_checked_at",
                    "last_error",
                    "started_at",
                    "deadline_at",
                    "paused_at",
                    "cancelled_at",
                    "calls_done_at",
                    "followups_done_at",
                    "updated_time",
                ],
            },
        ),
    ]

    class Media:
        css = {"all": [ADMIN_CSS]}

    # --- queryset / permissions ---

    def get_queryset(self, request):
        return super().get_queryset(request).filter(deleted_at__isnull=True)

    def get_changelist(self, request, **kwargs):
        return TaskChangeList

    def get_readonly_fields(self, request, obj=None):
        fields = list(TASK_READONLY_FIELDS)
        # The call script can be set until the task starts; the name is harmless to change at any time.
        if obj is not None and obj.task_type != TaskState.CREATED:
            fields.append("script_id")
        return fields

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.task_type in ACTIVE_STATES:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # deleting goes through the soft-delete service, one task at a time
        return actions

    def get_deleted_objects(self, objs, request):
        # A soft delete: lead rows, records and follow-ups stay; list only the task itself.
        return [str(obj) for obj in objs], {}, set(), []

    def delete_model(self, request, obj):
        try:
            call_task_delete(task_id=obj.pk, organization_id=admin_actions.service_organization_id(request))
        except TaskServiceError as exc:
            messages.error(request, exc.message)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)

    # --- columns ---

    @admin.display(description=gettext_lazy("state"), ordering="task_type")
    def state(self, obj):
        return state_badge(obj.task_type, obj.get_task_type_display())

    def _stats(self, obj) -> TaskStatistics:
        stats = getattr(obj, "progress_stats", None)
        if stats is None:
            stats = task_statistics(task_id=obj.pk)
            obj.progress_stats = stats
        return stats

    @admin.display(description=gettext_lazy("leads"))
    def leads(self, obj):
        return self._stats(obj).total

    @admin.display(description=gettext_lazy("progress"))
    def progress(self, obj):
        return progress_html(self._stats(obj))

    @admin.display(description=gettext_lazy("interest"))
    def interest(self, obj):
        return interest_html(self._stats(obj))

    @admin.display(description=gettext_lazy("lead filter"))
    def size_desc_display(self, obj):
        return format_html('<pre class="json-block">{}</pre>', json.dumps(obj.size_desc or {}, ensure_ascii=False, indent=2))

    @admin.display(description=gettext_lazy("calling strategy"))
    def strategy_display(self, obj):
        return format_html('<pre class="json-block">{}</pre>', json.dumps(obj.strategy or {}, ensure_ascii=False, indent=2))

    # --- views ---

    def add_view(self, request, form_url="", extra_context=None):
        try:
            from calltasks.admin_create import task_create_view
        except ImportError:
            return super().add_view(request, form_url, extra_context)
        return task_create_view(request, self)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "POST" and "_task_action" in request.POST:
            return self._task_action_view(request, object_id)
        context = {"show_save_and_add_another": False, **(extra_context or {})}
        task = self.get_object(request, unquote(object_id))
        if task is not None:
            stats = task_statistics(task_id=task.pk)
            labels = admin_actions.action_labels()
            can_change = self.has_change_permission(request, task)
            context.update(
                task_stats=stats,
                task_progress=progress_html(stats),
                task_interest=interest_html(stats),
                task_state=state_badge(task.task_type, task.get_task_type_display()),
                task_actions=[
                    {"value": action, "label": labels[action], "confirm": action in admin_actions.CONFIRM_ACTIONS}
                    for action in admin_actions.TASK_ACTIONS
                    if task.task_type in admin_actions.ACTION_STATES[action] and (can_change or action == "export")
                ],
                task_rows=[_row_context(row) for row in task_rows_preview(task_id=task.pk, limit=ROWS_ON_TASK_PAGE)],
                task_rows_limit=ROWS_ON_TASK_PAGE,
                task_rows_url=reverse("admin:calltasks_leadtask_changelist") + f"?task__id__exact={task.pk}",
            )
        return super().change_view(request, object_id, form_url, context)

    def _task_action_view(self, request, object_id):
        task = self.get_object(request, unquote(object_id))
        if task is None:
            raise Http404(_("Task not found."))
        action = request.POST.get("_task_action", "")
        if action not in admin_actions.TASK_ACTIONS:
            messages.error(request, _("Unknown action."))
            return HttpResponseRedirect(request.path)
        if action == "export":
            if not self.has_view_permission(request, task):
                raise PermissionDenied
            response = admin_actions.task_export_response(request, task)
            return response or HttpResponseRedirect(request.path)
        if not self.has_change_permission(request, task):
            raise PermissionDenied
        if action in admin_actions.CONFIRM_ACTIONS and request.POST.get("confirm") != "yes":
            return self._confirmation_page(request, [task], action, from_page=True)
        if action == "check":
            admin_actions.task_check_run(request, task)
        else:
            admin_actions.task_lifecycle_run(request, task, action)
        return HttpResponseRedirect(request.path)

    def _confirmation_page(self, request, tasks, action: str, *, from_page: bool):
        labels = admin_actions.action_labels()
        context = {
            **self.admin_site.each_context(request),
            "title": _("Are you sure?"),
            "subtitle": None,
            "opts": self.model._meta,
            "tasks": [
                {"task": task, "badge": state_badge(task.task_type, task.get_task_type_display())} for task in tasks
            ],
            "action": action,
            "action_label": labels[action],
            "changelist_action": f"{action}_tasks",
            "from_page": from_page,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "back_url": request.path if from_page else reverse("admin:calltasks_calltask_changelist"),
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/calltasks/calltask/action_confirmation.html", context)

    # --- changelist actions ---

    def _lifecycle_action(self, request, queryset, action: str):
        for task in queryset.order_by("pk"):
            admin_actions.task_lifecycle_run(request, task, action)

    @admin.action(description=gettext_lazy("Start calling the selected tasks"), permissions=["change"])
    def start_tasks(self, request, queryset):
        if request.POST.get("confirm") != "yes":
            return self._confirmation_page(request, list(queryset.order_by("pk")), "start", from_page=False)
        self._lifecycle_action(request, queryset, "start")
        return None

    @admin.action(description=gettext_lazy("Pause the selected tasks"), permissions=["change"])
    def pause_tasks(self, request, queryset):
        self._lifecycle_action(request, queryset, "pause")

    @admin.action(description=gettext_lazy("Resume the selected tasks"), permissions=["change"])
    def resume_tasks(self, request, queryset):
        self._lifecycle_action(request, queryset, "resume")

    @admin.action(description=gettext_lazy("Cancel the selected tasks"), permissions=["change"])
    def cancel_tasks(self, request, queryset):
        if request.POST.get("confirm") != "yes":
            return self._confirmation_page(request, list(queryset.order_by("pk")), "cancel", from_page=False)
        self._lifecycle_action(request, queryset, "cancel")
        return None

    @admin.action(description=gettext_lazy("Check the selected tasks now"), permissions=["change"])
    def check_tasks_now(self, request, queryset):
        for task in queryset.order_by("pk"):
            admin_actions.task_check_run(request, task)

    @admin.action(description=gettext_lazy("Export follow-ups to Excel"), permissions=["view"])
    def export_followups_xlsx(self, request, queryset):
        tasks = list(queryset.order_by("pk")[:2])
        if len(tasks) != 1:
            messages.error(request, _("Select exactly one task to export."))
            return None
        return admin_actions.task_export_response(request, tasks[0])


# --- lead rows -------------------------------------------------------------------------------------------------


def _row_context(row: LeadTask) -> dict:
    follow_up = row.leads_follow
    return {
        "row": row,
        "url": reverse("admin:calltasks_leadtask_change", args=[row.pk]),
        "phone": mask_phone(row.leads_phone),
        "status": statuses.status_label(row.last_task_status or row.call_status),
        "interest": interest_badge(follow_up.is_interested if follow_up else row.is_interested),
        "remark": follow_up.leads_remark if follow_up else "",
        "next_follow_time": follow_up.next_follow_time if follow_up else None,
    }


LEAD_ROW_FIELDSETS = [
    (None, {"fields": ["task", "leads_id", "leads_name", "PHONE", "lead"]}),
    (
        gettext_lazy("Call"),
        {
            "fields": [
                "job_status",
                "call_status_display",
                "is_connected",
                "failure_reason_display",
                "attempts",
                "call_duration",
                "call_time",
                "planed_time",
                "final_at",
                "interest_display",
            ]
        },
    ),
]


@admin.register(LeadTask)
class LeadTaskAdmin(OrganizationScopedAdminMixin, admin.ModelAdmin):
    organization_lookup = "task__organization"
    list_display = [
        "id",
        "task",
        "leads_name",
        "masked_phone",
        "job_status",
        "call_status_display",
        "is_connected",
        "call_duration",
        "interest_display",
        "followup_remark",
        "next_follow_time",
    ]
    list_filter = [JobStatusFilter, "is_connected", "is_interested"]
    search_fields = ["leads_name", "leads_id", "=leads_phone"]
    list_select_related = ["task", "leads_follow"]
    list_per_page = 100
    actions = ["rejudge_followups", "export_rows_xlsx"]

    class Media:
        css = {"all": [ADMIN_CSS]}

    def get_queryset(self, request):
        return super().get_queryset(request).filter(task__deleted_at__isnull=True)

    def lookup_allowed(self, lookup, value, request=None):
        if lookup in ("task__id__exact", "task__exact", "task"):
            return True
        return super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_fieldsets(self, request, obj=None):
        phone = "full_phone" if admin_actions.can_view_full_phone(request) else "masked_phone"
        return [
            (name, {**options, "fields": [phone if f == "PHONE" else f for f in options["fields"]]})
            for name, options in LEAD_ROW_FIELDSETS
        ]

    def get_readonly_fields(self, request, obj=None):
        # Read-only: the rows are written by the pipeline only.
        return [field for _name, options in self.get_fieldsets(request, obj) for field in options["fields"]]

    # --- columns ---

    @admin.display(description=gettext_lazy("phone number"))
    def masked_phone(self, obj):
        return obj.masked_phone

    @admin.display(description=gettext_lazy("phone number"))
    def full_phone(self, obj):
        return obj.leads_phone

    @admin.display(description=gettext_lazy("job status"), ordering="call_status")
    def job_status(self, obj):
        return statuses.status_label(obj.call_status)

    @admin.display(description=gettext_lazy("call status"), ordering="last_task_status")
    def call_status_display(self, obj):
        return statuses.status_label(obj.last_task_status) if obj.last_task_status else "-"

    @admin.display(description=gettext_lazy("failure reason"))
    def failure_reason_display(self, obj):
        return statuses.failure_reason_label(obj.failure_reason) or "-"

    @admin.display(description=gettext_lazy("interest"), ordering="is_interested")
    def interest_display(self, obj):
        follow_up = obj.leads_follow
        return interest_badge(follow_up.is_interested if follow_up else obj.is_interested)

    @admin.display(description=gettext_lazy("remark"))
    def followup_remark(self, obj):
        return obj.leads_follow.leads_remark if obj.leads_follow else "-"

    @admin.display(description=gettext_lazy("next follow-up time"))
    def next_follow_time(self, obj):
        return obj.leads_follow.next_follow_time if obj.leads_follow else None

    # --- views ---

    def change_view(self, request, object_id, form_url="", extra_context=None):
        context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_delete": False,
        }
        row = self.get_object(request, unquote(object_id))
        if row is not None:
            records, follow_up = lead_row_detail(row_id=row.pk)
            full = admin_actions.can_view_full_phone(request)
            context.update(
                transcript=transcript_turns(_row_transcript(row, records)),
                recording_src=reverse("recording", args=[row.pk]) if row.recording_file else "",
                call_records=[
                    {
                        "record": record,
                        "status": statuses.status_label(record.call_status),
                        "called_number": record.called_number if full else mask_phone(record.called_number),
                        "actual_time": _local(record.actual_time),
                        "end_time": _local(record.end_time),
                        "hang_up": hang_up_label(record.hang_up_direction),
                    }
                    for record in records
                ],
                follow_up=follow_up,
                follow_up_interest=interest_badge(follow_up.is_interested) if follow_up else "",
            )
        return super().change_view(request, object_id, form_url, context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST":
            # Nothing on this page is editable; refuse writes instead of a no-op "saved" message.
            raise PermissionDenied
        return super().changeform_view(request, object_id, form_url, extra_context)

    # --- actions ---

    @admin.action(description=gettext_lazy("Re-judge the selected follow-ups"), permissions=["change"])
    def rejudge_followups(self, request, queryset):
        rejudged = skipped = 0
        for followup_id in queryset.order_by("pk").values_list("leads_follow_id", flat=True):
            if followup_id is None:
                skipped += 1
                continue
            try:
                followup_rejudge(followup_id=followup_id)
            except FollowupNotRejudgeable:
                skipped += 1
            else:
                rejudged += 1
        level = messages.SUCCESS if rejudged else messages.WARNING
        messages.add_message(
            request,
            level,
            _("%(rejudged)s follow-ups re-judged, %(skipped)s skipped (no follow-up yet, not connected or no transcript).")
            % {"rejudged": rejudged, "skipped": skipped},
        )

    @admin.action(description=gettext_lazy("Export the selected rows to Excel"), permissions=["view"])
    def export_rows_xlsx(self, request, queryset):
        selected = list(queryset.order_by("pk").values_list("pk", "task_id"))
        task_ids = {task_id for _pk, task_id in selected}
        if len(task_ids) != 1:
            messages.error(request, _("Select rows of exactly one task to export."))
            return None
        task = CallTask.objects.get(pk=task_ids.pop())
        return admin_actions.task_export_response(request, task, row_ids=[pk for pk, _task in selected])


# --- call records --------------------------------------------------------------------------------------------


@admin.register(OutboundCallRecord)
class OutboundCallRecordAdmin(OrganizationScopedAdminMixin, admin.ModelAdmin):
    organization_lookup = "call_task__organization"
    list_display = ["provider_task_id", "call_task", "lead_task", "status", "has_answered", "duration", "actual_time"]
    list_filter = ["has_answered"]
    search_fields = ["provider_task_id", "job_id"]
    list_select_related = ["call_task", "lead_task"]
    fields = [
        "call_task",
        "lead_task",
        "job_group_id",
        "job_id",
        "provider_task_id",
        "status",
        "status_code",
        "end_reason",
        "has_answered",
        "called",
        "calling_number",
        "planed_time",
        "actual_time",
        "end_time",
        "duration",
        "hang_up_direction",
        "created",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).filter(call_task__deleted_at__isnull=True)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=gettext_lazy("call status"), ordering="call_status")
    def status(self, obj):
        return statuses.status_label(obj.call_status)

    @admin.display(description=gettext_lazy("called number"))
    def called(self, obj):
        return mask_phone(obj.called_number)


# MonitorState / MonitorRun are registered in calltasks/admin_monitor.py (the monitor page).
from calltasks import admin_monitor  # noqa: E402,F401
