"""Admin for the monitor: its on/off switch (MonitorState) and its passes (MonitorRun)."""

from django.contrib import admin

from calltasks.models import MonitorRun, MonitorState


@admin.register(MonitorState)
class MonitorStateAdmin(admin.ModelAdmin):
    list_display = ["id", "enabled", "updated_at", "updated_by"]


@admin.register(MonitorRun)
class MonitorRunAdmin(admin.ModelAdmin):
    list_display = ["started_at", "driver", "outcome", "tasks_checked", "records_written", "followups_created", "errors"]
    list_filter = ["driver", "outcome"]
