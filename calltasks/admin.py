from django.contrib import admin

from calltasks.models import CallTask, LeadTask, OutboundCallRecord


@admin.register(CallTask)
class CallTaskAdmin(admin.ModelAdmin):
    list_display = ["id", "task_name", "task_type", "leads_count", "create_time", "created_by", "next_check_at"]
    list_filter = ["task_type", "create_time"]
    search_fields = ["task_name", "job_group_id"]
    list_select_related = ["created_by", "organization"]


@admin.register(LeadTask)
class LeadTaskAdmin(admin.ModelAdmin):
    list_display = ["id", "task", "leads_name", "masked_phone", "call_status", "last_task_status", "is_interested"]
    list_filter = ["call_status", "is_connected", "is_interested"]
    list_select_related = ["task"]
    raw_id_fields = ["task", "lead", "leads_follow"]

    @admin.display(description=LeadTask._meta.get_field("leads_phone").verbose_name)
    def masked_phone(self, obj):
        return obj.masked_phone


@admin.register(OutboundCallRecord)
class OutboundCallRecordAdmin(admin.ModelAdmin):
    list_display = ["provider_task_id", "call_task", "call_status", "has_answered", "duration", "actual_time"]
    list_filter = ["call_status", "has_answered"]
    list_select_related = ["call_task"]
    raw_id_fields = ["call_task", "lead_task"]

# MonitorState / MonitorRun are registered in calltasks/admin_monitor.py (the monitor page).
from calltasks import admin_monitor  # noqa: E402,F401
