"""Creating a call task from the admin: the add page of CallTaskAdmin (``/admin/calltasks/calltask/add/``).

``CallTaskAdmin.add_view`` delegates to :func:`task_create_view`. The form has the same filters as
``POST /create-autoCall-tasks`` and is validated by the API's own serializer, then ``call_task_create`` runs
for the user's organization.

Stable hooks (browser tests):
- form ``<form id="task-create-form">``; fields (``name=``): ``organization`` (only for superusers without an
  organization), ``task_name``, ``products`` (checkboxes), ``grades`` (checkboxes), ``is_arrive`` (radio:
  ``""`` any / ``"1"`` visited / ``"0"`` not visited), ``first_follow_start``, ``first_follow_end``,
  ``latest_follow_start``, ``latest_follow_end``, ``next_follow_start``, ``next_follow_end`` (``YYYY-MM-DD``),
  ``leads_ids`` (textarea), ``include_active``, ``script_id``, ``auto_start``;
- live count ``<span id="lead-count">N</span>`` (leads matching the filters) and
  ``<span id="lead-callable">M</span>`` (what the task would get: without leads in active tasks, one per phone);
- buttons: ``name="_create"`` (create) and ``name="_preview"`` (recount without JavaScript);
- count endpoint (JSON, used by ``calltasks/static/calltasks/task_create.js``): ``GET <add url>?_count=1&<form
  fields>`` → ``{"count": N, "callable": M}`` or HTTP 400 ``{"errors": {field: [messages]}}``.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext

from calltasks.forms import TaskCreateForm, default_task_name
from calltasks.models import LeadTask
from calltasks.services.create import ACTIVE_TASK_STATES, call_task_create
from calltasks.services.errors import TaskServiceError
from calltasks.services.lifecycle import call_task_start
from followups.models import Lead
from followups.selectors import LeadFilterSpec, lead_filter

COUNT_PARAM = "_count"
TEMPLATE = "admin/calltasks/calltask/create_task.html"


def lead_counts(*, organization_id: int, spec: LeadFilterSpec, include_active: bool = False) -> tuple[int, int]:
    """(leads matching ``spec``, leads a task would get: minus those in active tasks, one per phone)."""
    matching = lead_filter(organization_id=organization_id, spec=spec)
    candidates = matching
    if not include_active:
        busy = LeadTask.objects.filter(
            task__organization_id=organization_id,
            task__deleted_at__isnull=True,
            task__task_type__in=ACTIVE_TASK_STATES,
        ).values("lead_id")
        candidates = candidates.exclude(pk__in=busy)
    # Distinct phones over the plain lead rows (the follow-up date filters annotate aggregates).
    callable_ = (
        Lead.objects.filter(pk__in=candidates.values("pk")).order_by().values("leads_user_phone").distinct().count()
    )
    return matching.count(), callable_


def _errors_json(form) -> dict:
    return {field or "__all__": [str(message) for message in messages_] for field, messages_ in form.errors.items()}


def _count_response(request, user):
    form = TaskCreateForm(request.GET, user=user, count_only=True)
    if not form.is_valid():
        return JsonResponse({"errors": _errors_json(form)}, status=400)
    count, callable_ = lead_counts(
        organization_id=form.organization_id, spec=form.spec(), include_active=form.cleaned_data["include_active"]
    )
    return JsonResponse({"count": count, "callable": callable_})


def task_create_view(request, model_admin, form_url: str = "", extra_context: dict | None = None):
    """The add page: filter form, live count, create (and optionally start) the task."""
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    user = request.user
    if user.organization_id is None and not user.is_superuser:
        raise PermissionDenied
    if request.method == "GET" and request.GET.get(COUNT_PARAM):
        return _count_response(request, user)

    counts: tuple[int, int] | None = None
    if request.method == "POST":
        preview = "_preview" in request.POST
        form = TaskCreateForm(request.POST, user=user, count_only=preview)
        if form.is_valid():
            counts = lead_counts(
                organization_id=form.organization_id,
                spec=form.spec(),
                include_active=form.cleaned_data["include_active"],
            )
            if not preview:
                response = _create(request, model_admin, form)
                if response is not None:
                    return response
    else:
        form = TaskCreateForm(user=user, initial={"task_name": default_task_name(), "is_arrive": ""})
        if form.organization_id is not None:
            counts = lead_counts(organization_id=form.organization_id, spec=LeadFilterSpec())

    opts = model_admin.opts
    context = {
        **model_admin.admin_site.each_context(request),
        "title": gettext("Create a call task"),
        "opts": opts,
        "form": form,
        "count": counts[0] if counts else None,
        "callable": counts[1] if counts else None,
        "count_url": f"{request.path}?{COUNT_PARAM}=1",
        "has_view_permission": model_admin.has_view_permission(request),
        "errors": bool(form.errors),
        **(extra_context or {}),
    }
    return TemplateResponse(request, TEMPLATE, context)


def _create(request, model_admin, form: TaskCreateForm):
    """Create the task; on a domain error put the message on the form and return None."""
    data = form.cleaned_data
    try:
        result = call_task_create(
            organization_id=form.organization_id,
            created_by_id=request.user.pk,
            task_name=data["task_name"],
            spec=form.spec(),
            size_desc=form.stored_size_desc(),
            script_id=(data.get("script_id") or "").strip(),
            include_leads_in_active_tasks=data["include_active"],
        )
    except TaskServiceError as exc:
        form.add_error(None, exc.message)
        return None
    task = result.task
    details = []
    if result.skipped_duplicate_phones:
        details.append(
            gettext("%(count)d leads with a duplicate phone number were left out")
            % {"count": result.skipped_duplicate_phones}
        )
    if result.skipped_in_active_task:
        details.append(
            gettext("%(count)d leads already in an active task were left out")
            % {"count": result.skipped_in_active_task}
        )
    message = gettext("Call task “%(name)s” created with %(count)d leads.") % {
        "name": task.task_name,
        "count": task.leads_count,
    }
    if details:
        message += " " + gettext("(%(details)s)") % {"details": gettext(", ").join(details)}
    messages.success(request, message)
    if data.get("auto_start"):
        try:
            call_task_start(task_id=task.pk, organization_id=form.organization_id)
        except TaskServiceError as exc:
            messages.warning(
                request, gettext("The task was created but calling did not start: %(error)s") % {"error": exc.message}
            )
        else:
            messages.success(request, gettext("Calling started."))
    url = reverse(
        f"admin:{task._meta.app_label}_{task._meta.model_name}_change",
        args=[task.pk],
        current_app=model_admin.admin_site.name,
    )
    return HttpResponseRedirect(url)
