from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from followups.models import FollowUp, Lead, Organization, User


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "created_at"]
    search_fields = ["name", "code"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "organization", "email", "is_staff", "is_active"]
    list_filter = ["organization", "is_staff", "is_superuser", "is_active"]
    list_select_related = ["organization"]
    fieldsets = BaseUserAdmin.fieldsets + ((_("Organization"), {"fields": ["organization"]}),)
    add_fieldsets = BaseUserAdmin.add_fieldsets + ((_("Organization"), {"fields": ["organization"]}),)


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ["leads_id", "leads_user_name", "masked_phone", "leads_product", "leads_type", "leads_create_time"]
    list_filter = ["leads_type", "leads_product", "organization"]
    search_fields = ["leads_id", "leads_user_name"]
    list_select_related = ["organization"]

    @admin.display(description=_("phone number"))
    def masked_phone(self, obj):
        return obj.masked_phone


@admin.register(FollowUp)
class FollowUpAdmin(admin.ModelAdmin):
    list_display = ["lead", "follow_time", "is_interested", "next_follow_time", "source", "judge"]
    list_filter = ["is_interested", "source", "judge"]
    list_select_related = ["lead"]
    raw_id_fields = ["lead", "lead_task"]
