"""Admin-site pages for supervisors: the dashboard (仪表盘) and the monitor page (监控).

Both live in the admin URL namespace (``admin:dcc_dashboard`` at ``/admin/dashboard/``, ``admin:dcc_monitor``
at ``/admin/monitor/``), wrapped by ``admin.site.admin_view`` (staff only, never cached, CSRF-protected):
:func:`install_admin_urls` prepends them to the admin site's own URLs. The views only read selectors and
call services; the charts are inline SVG built by :mod:`calltasks.charts`.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.http import HttpResponseBadRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from calltasks import charts
from calltasks import selectors_dashboard as dash
from calltasks.models import CallTask, MonitorRun, MonitorState
from calltasks.services.monitor import monitor_set_enabled
from calltasks.states import MONITORED_STATES, STATE_COLOURS, TaskState
from followups.models import PENDING_INTEREST_LABEL, Interest, Organization

#: Permission needed to flip the monitor switch on the monitor page.
TOGGLE_PERMISSION = "calltasks.change_monitorstate"
#: Permission needed to see the dashboard (every supervisor has it).
DASHBOARD_PERMISSION = "calltasks.view_calltask"
#: Rows on the monitor page.
MONITOR_RUNS = 50
DUE_TASKS = 20

INTEREST_COLOURS = {
    "interested": "#198754",
    "not_interested": "#dc3545",
    "undecided": "#6c757d",
    "pending": "#ced4da",
}
TIMELINE_COLOURS = {"calls": "#0d6efd", "connected": "#fd7e14", "interested": "#198754"}


# --- dashboard -----------------------------------------------------------------------------------------------


def _dashboard_scope(request) -> tuple[bool, int | None, list[Organization] | None]:
    """(has data scope, organization id or None = all, organizations to choose from for superusers)."""
    user = request.user
    if user.is_superuser:
        organizations = list(Organization.objects.order_by("name", "id"))
        raw = request.GET.get("organization", "")
        chosen = next((org.pk for org in organizations if str(org.pk) == raw), None)
        return True, chosen, organizations
    org_id = getattr(user, "organization_id", None)
    return org_id is not None, org_id, None


def dashboard_view(request):
    if not request.user.has_perm(DASHBOARD_PERMISSION):
        raise PermissionDenied
    has_scope, organization_id, organizations = _dashboard_scope(request)
    context = {
        **admin.site.each_context(request),
        "title": _("Dashboard"),
        "has_scope": has_scope,
        "organizations": organizations,
        "selected_organization": organization_id,
    }
    if has_scope:
        context.update(_dashboard_data(organization_id))
    return TemplateResponse(request, "admin/dashboard.html", context)


def _dashboard_data(organization_id: int | None) -> dict:
    today = timezone.localdate()
    states = dash.dashboard_state_counts(organization_id=organization_id)
    headline = dash.dashboard_headline(organization_id=organization_id, state_counts=states, day=today)
    mix = dash.dashboard_task_mix(organization_id=organization_id)
    timeline = dash.dashboard_timeline(organization_id=organization_id, today=today)
    due = dash.dashboard_followups_due(organization_id=organization_id, day=today)

    states_chart = charts.bar_chart(
        kind="states",
        title=_("Tasks by state"),
        bars=[charts.Bar(item["label"], item["count"], STATE_COLOURS[item["state"]]) for item in states],
        empty=_("No tasks yet"),
    )
    legend = [
        charts.Segment(str(Interest.INTERESTED.label), 0, INTEREST_COLOURS["interested"]),
        charts.Segment(str(Interest.NOT_INTERESTED.label), 0, INTEREST_COLOURS["not_interested"]),
        charts.Segment(str(Interest.UNDECIDED.label), 0, INTEREST_COLOURS["undecided"]),
        charts.Segment(str(PENDING_INTEREST_LABEL), 0, INTEREST_COLOURS["pending"]),
    ]
    interest_chart = charts.stacked_bar_chart(
        kind="interest",
        title=_("Interest mix and connect rate of the latest %(count)d tasks") % {"count": dash.RECENT_TASKS},
        legend=legend,
        rows=[
            charts.StackedRow(
                label=task.name,
                segments=[
                    charts.Segment(legend[0].label, task.interested, legend[0].colour),
                    charts.Segment(legend[1].label, task.not_interested, legend[1].colour),
                    charts.Segment(legend[2].label, task.undecided, legend[2].colour),
                    charts.Segment(legend[3].label, task.pending, legend[3].colour),
                ],
                note=_connect_note(task.connect_rate),
            )
            for task in mix
        ],
        empty=_("No tasks yet"),
    )
    labels = [f"{point.day:%m-%d}" for point in timeline]
    timeline_chart = charts.line_chart(
        kind="timeline",
        title=_("Calls, connected calls and interested leads per day (last %(days)d days)") % {"days": dash.TIMELINE_DAYS},
        x_labels=labels,
        series=[
            charts.Series(_("Calls"), TIMELINE_COLOURS["calls"], [p.calls for p in timeline]),
            charts.Series(_("Connected"), TIMELINE_COLOURS["connected"], [p.connected for p in timeline]),
            charts.Series(_("Interested"), TIMELINE_COLOURS["interested"], [p.interested for p in timeline]),
        ],
    )
    return {
        "headline": headline,
        "states": states,
        "task_mix": [
            {"task": task, "url": reverse("admin:calltasks_calltask_change", args=[task.id]), "state": TaskState(task.task_type).label}
            for task in mix
        ],
        "timeline": [point for point in reversed(timeline) if point.calls or point.interested],
        "due": due,
        "due_rows": [
            {
                "followup": row,
                "followup_url": reverse("admin:followups_followup_change", args=[row.pk]),
                "lead_url": reverse("admin:followups_lead_change", args=[row.lead_id]),
                "interest": _interest_label(row.is_interested),
            }
            for row in due.rows
        ],
        "due_list_url": _due_list_url(today),
        "charts": {"states": states_chart, "interest": interest_chart, "timeline": timeline_chart},
        "today": today,
    }


def _connect_note(rate: float | None) -> str:
    if rate is None:
        return _("Connect rate —")
    return _("Connect rate %(rate)s%%") % {"rate": f"{rate:g}"}


def _interest_label(value: int | None) -> str:
    return str(PENDING_INTEREST_LABEL) if value is None else str(Interest(value).label)


def _due_list_url(today: dt.date) -> str:
    start, end = dash.local_day_bounds(today)
    query = urlencode(
        {
            "next_follow_time__gte": start.strftime("%Y-%m-%d %H:%M:%S"),
            "next_follow_time__lt": end.strftime("%Y-%m-%d %H:%M:%S"),
        }
    )
    return f"{reverse('admin:followups_followup_changelist')}?{query}"


# --- monitor -------------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def monitor_view(request):
    can_toggle = request.user.has_perm(TOGGLE_PERMISSION)
    if request.method == "POST":
        if not can_toggle:
            raise PermissionDenied
        value = request.POST.get("enabled")
        if value not in ("0", "1"):
            return HttpResponseBadRequest(_("Invalid monitor switch value."))
        monitor_set_enabled(enabled=value == "1", by=request.user.get_username())
        if value == "1":
            messages.success(request, _("The monitor is switched on."))
        else:
            messages.warning(request, _("The monitor is switched off: no task is checked until it is switched on."))
        return HttpResponseRedirect(reverse("admin:dcc_monitor"))

    state = MonitorState.objects.filter(pk=MonitorState.SINGLETON_ID).first()
    runs = list(MonitorRun.objects.order_by("-started_at", "-id")[:MONITOR_RUNS])
    context = {
        **admin.site.each_context(request),
        "title": _("Monitor"),
        "monitor_enabled": True if state is None else state.enabled,
        "monitor_state": state,
        "can_toggle": can_toggle,
        "runs": runs,
        "due_tasks": _due_tasks(request),
        "now": timezone.now(),
        "django_q_links": _django_q_links(request),
        "monitor_state_admin_url": reverse("admin:calltasks_monitorstate_changelist"),
        "monitor_run_admin_url": reverse("admin:calltasks_monitorrun_changelist"),
    }
    return TemplateResponse(request, "admin/monitor.html", context)


def _due_tasks(request) -> list[CallTask]:
    """The caller's organization's monitored tasks, the next due first (superusers: every organization)."""
    qs = CallTask.objects.alive().filter(task_type__in=MONITORED_STATES)
    if not request.user.is_superuser:
        org_id = getattr(request.user, "organization_id", None)
        if org_id is None:
            return []
        qs = qs.filter(organization_id=org_id)
    return list(
        qs.select_related("organization").order_by(F("next_check_at").asc(nulls_first=True), "id")[:DUE_TASKS]
    )


def _django_q_links(request) -> list[dict]:
    """django-q2's own admin pages registered on this site that the user may view."""
    from django_q.models import Failure, OrmQ, Schedule, Success

    links = []
    for model in (Schedule, Success, Failure, OrmQ):
        if not admin.site.is_registered(model):
            continue  # OrmQ is registered only with the ORM broker
        opts = model._meta
        if not request.user.has_perm(f"{opts.app_label}.view_{opts.model_name}") and not request.user.has_perm(
            f"{opts.app_label}.change_{opts.model_name}"
        ):
            continue
        try:
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        except NoReverseMatch:  # pragma: no cover - registered models always have a changelist
            continue
        links.append({"label": opts.verbose_name_plural, "url": url, "model": opts.model_name})
    return links


# --- URLs ----------------------------------------------------------------------------------------------------


def admin_urls(site) -> list:
    return [
        path("dashboard/", site.admin_view(dashboard_view), name="dcc_dashboard"),
        path("monitor/", site.admin_view(monitor_view), name="dcc_monitor"),
    ]


def install_admin_urls(site=None) -> None:
    """Prepend the dashboard and monitor pages to the admin site's URLs (namespace ``admin``). Idempotent."""
    site = site or admin.site
    if getattr(site, "_dcc_pages_installed", False):
        return
    original = site.get_urls

    def get_urls():
        return admin_urls(site) + original()

    site.get_urls = get_urls
    site._dcc_pages_installed = True
