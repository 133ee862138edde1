"""Admin for the monitor: its on/off switch (MonitorState) and its passes (MonitorRun).

Both are written by the monitor and ``/auto-task`` only: the admin shows them read-only and points to the
monitor page (``admin:dcc_monitor``), where the switch is flipped through ``monitor_set_enabled``.
"""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from calltasks.models import MonitorRun, MonitorState


def _monitor_page_link():
    return format_html('<a href="{}">{}</a>', reverse("admin:dcc_monitor"), _("Open the monitor page"))


@admin.register(MonitorState)
class MonitorStateAdmin(admin.ModelAdmin):
    list_display = ["__str__", "enabled", "updated_at", "updated_by", "monitor_page"]
    readonly_fields = ["enabled", "updated_at", "updated_by", "monitor_page"]
    fields = readonly_fields

    @admin.display(description=_("monitor page"))
    def monitor_page(self, obj):
        return _monitor_page_link()

    def has_add_permission(self, request):
        return False  # a single row, created by the switch itself

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(MonitorRun)
class MonitorRunAdmin(admin.ModelAdmin):
    list_display = [
        "started_at",
        "driver",
        "outcome",
        "tasks_checked",
        "records_written",
        "rows_updated",
        "followups_created",
        "tasks_completed",
        "errors",
        "duration",
    ]
    list_filter = ["outcome", "driver", "started_at"]
    date_hierarchy = "started_at"
    ordering = ["-started_at", "-id"]
    readonly_fields = [
        "driver",
        "outcome",
        "started_at",
        "finished_at",
        "duration",
        "tasks_checked",
        "records_written",
        "rows_updated",
        "followups_created",
        "tasks_completed",
        "errors",
        "error_details",
    ]
    fields = readonly_fields
    show_full_result_count = False

    @admin.display(description=_("duration (s)"))
    def duration(self, obj):
        seconds = obj.duration_seconds
        return "—" if seconds is None else f"{seconds:.1f}"

    def has_add_permission(self, request):
        return False  # passes are recorded by the monitor

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)
