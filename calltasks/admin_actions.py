"""Thin admin glue for task actions: call the lifecycle/monitor/export services, turn outcomes into messages.

Used by the changelist actions and by the buttons on the task page (``calltasks/admin.py``). Every service
is a compare-and-set, so a double click ends in a clear "wrong state" message, never a 500.
"""

from __future__ import annotations

from urllib.parse import quote

from django.contrib import messages
from django.http import HttpResponse
from django.utils.translation import gettext as _

from calltasks.models import CallTask, MonitorRun
from calltasks.services.errors import TaskServiceError
from calltasks.services.export import export_filename, followups_export_xlsx
from calltasks.services.lifecycle import call_task_cancel, call_task_pause, call_task_resume, call_task_start
from calltasks.services.monitor import monitor_process_task
from calltasks.states import TaskState
from dcc_project.admin_scoping import admin_organization_id

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: Task-page button values (``_task_action``) → what they do. ``confirm``: needs the intermediate page.
TASK_ACTIONS = ("start", "pause", "resume", "cancel", "check", "export")
CONFIRM_ACTIONS = frozenset({"start", "cancel"})

#: States in which each button is offered on the task page.
ACTION_STATES = {
    "start": {TaskState.CREATED},
    "pause": {TaskState.CALLING},
    "resume": {TaskState.PAUSED},
    "cancel": {TaskState.CALLING, TaskState.PAUSED},
    "check": {TaskState.CALLING, TaskState.CALLS_DONE},
    "export": set(TaskState.values),
}


def service_organization_id(request) -> int | None:
    """The organization the services scope to: the user's, or none for a superuser."""
    if request.user.is_superuser:
        return None
    return admin_organization_id(request) or -1


def can_view_full_phone(request) -> bool:
    return request.user.has_perm("followups.view_full_phone")


def action_labels() -> dict[str, str]:
    return {
        "start": _("Start calling"),
        "pause": _("Pause"),
        "resume": _("Resume"),
        "cancel": _("Cancel task"),
        "check": _("Check now"),
        "export": _("Export follow-ups to Excel"),
    }


def _lifecycle(action: str):
    return {
        "start": call_task_start,
        "pause": call_task_pause,
        "resume": call_task_resume,
        "cancel": call_task_cancel,
    }[action]


def _success_message(action: str, task: CallTask) -> str:
    params = {"name": task.task_name, "id": task.pk}
    return {
        "start": _("Task %(name)s (ID: %(id)s) started: the leads were handed to the outbound-call provider."),
        "pause": _("Task %(name)s (ID: %(id)s) paused."),
        "resume": _("Task %(name)s (ID: %(id)s) resumed."),
        "cancel": _("Task %(name)s (ID: %(id)s) cancelled: calls still open were stopped."),
    }[action] % params


def task_lifecycle_run(request, task: CallTask, action: str) -> bool:
    """Start / pause / resume / cancel one task through its service; a message either way. True on success."""
    try:
        updated = _lifecycle(action)(task_id=task.pk, organization_id=service_organization_id(request))
    except TaskServiceError as exc:
        messages.error(
            request, _("Task %(name)s (ID: %(id)s): %(error)s") % {"name": task.task_name, "id": task.pk,
                                                                  "error": exc.message}
        )
        return False
    messages.success(request, _success_message(action, updated))
    return True


def task_check_run(request, task: CallTask) -> bool:
    """One monitor turn for the task now (it leases the task, so it never runs twice with the monitor)."""
    params = {"name": task.task_name, "id": task.pk}
    if task.task_type not in ACTION_STATES["check"]:
        messages.warning(
            request, _("Task %(name)s (ID: %(id)s) is not calling or waiting for follow-ups: nothing to check.") % params
        )
        return False
    result = monitor_process_task(task_id=task.pk, driver=MonitorRun.Driver.ADMIN, require_due=False)
    if result.status == "skipped":
        messages.warning(
            request, _("Task %(name)s (ID: %(id)s) is being checked by the monitor right now; try again shortly.") % params
        )
        return False
    if result.status == "error":
        errors = "; ".join(str(error.get("error", "")) for error in result.errors)[:300]
        messages.error(request, _("Task %(name)s (ID: %(id)s): the check failed (%(error)s).") % {**params, "error": errors})
        return False
    messages.success(
        request,
        _(
            "Task %(name)s (ID: %(id)s) checked: %(records)s call records, %(rows)s lead rows updated, "
            "%(followups)s follow-ups written."
        )
        % {**params, "records": result.records_written, "rows": result.rows_updated, "followups": result.followups_created},
    )
    return True


def xlsx_response(content: bytes, filename: str) -> HttpResponse:
    """An attachment with an RFC 5987 ``filename*`` (the name is Chinese) and an ASCII fallback."""
    response = HttpResponse(content, content_type=XLSX_CONTENT_TYPE)
    fallback = filename.encode("ascii", "ignore").decode().lstrip("-") or "export.xlsx"
    response["Content-Disposition"] = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"
    response["Cache-Control"] = "private, no-store"
    return response


def task_export_response(request, task: CallTask, row_ids: list[int] | None = None) -> HttpResponse | None:
    try:
        content = followups_export_xlsx(
            task_id=task.pk,
            organization_id=service_organization_id(request),
            row_ids=row_ids,
            full_phone=can_view_full_phone(request),
        )
    except TaskServiceError as exc:
        messages.error(request, exc.message)
        return None
    return xlsx_response(content, export_filename(task.pk))
