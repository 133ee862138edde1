"""Admin for organizations, users, the lead pool (with the lead import page) and follow-up records.

Supervisors see only their own organization (OrganizationScopedAdminMixin); superusers see everything.
Lead import page (hooks for the browser tests): form id ``lead-import-form``, file input ``file``, submit
button ``_import``; the result is in ``<div id="import-report">`` with an error table of row numbers.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.admin import TokenAdmin as DrfTokenAdmin
from rest_framework.authtoken.models import TokenProxy

from dcc_project.admin_scoping import OrganizationScopedAdminMixin, admin_organization_id
from followups.imports import ImportFileError, leads_import
from followups.models import FollowUp, Lead, Organization, User

FULL_PHONE_PERMISSION = "followups.view_full_phone"


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    """Superusers manage organizations; a supervisor sees (read-only) only their own."""

    list_display = ["name", "code", "created_at"]
    search_fields = ["name", "code"]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        org_id = admin_organization_id(request)
        return qs.none() if org_id is None else qs.filter(pk=org_id)

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(User)
class UserAdmin(OrganizationScopedAdminMixin, BaseUserAdmin):
    """Supervisors with user permissions manage only their organization's users and cannot grant superuser."""

    list_display = ["username", "organization", "email", "is_staff", "is_active"]
    list_filter = ["organization", "is_staff", "is_superuser", "is_active"]
    list_select_related = ["organization"]
    fieldsets = BaseUserAdmin.fieldsets + ((_("Organization"), {"fields": ["organization"]}),)
    add_fieldsets = BaseUserAdmin.add_fieldsets + ((_("Organization"), {"fields": ["organization"]}),)

    def get_list_filter(self, request):
        filters = super().get_list_filter(request)
        return filters if request.user.is_superuser else [f for f in filters if f != "organization"]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += ["is_superuser", "groups", "user_permissions", "organization"]
        return readonly

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser:
            # A supervisor's users always belong to the supervisor's organization.
            obj.organization_id = admin_organization_id(request)
            obj.is_superuser = obj.is_superuser if change else False
        super().save_model(request, obj, form, change)


class LeadImportForm(forms.Form):
    file = forms.FileField(
        label=_("Lead file"),
        help_text=_(
            "An .xlsx or .csv file with the columns leads_id, leads_user_name, leads_user_phone, leads_product, "
            "leads_type, leads_create_time (the Chinese headers 线索ID, 客户姓名, 手机号, 意向产品, 线索等级, "
            "创建时间 work too)."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv"}),
    )
    organization = forms.ModelChoiceField(
        label=_("Organization"), queryset=Organization.objects.none(), required=True
    )
    dry_run = forms.BooleanField(label=_("Only check the file, write nothing"), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        if user.is_superuser and user.organization_id is None:
            self.fields["organization"].queryset = Organization.objects.order_by("name")
        else:
            # Supervisors (and superusers with an organization) import into their own organization only.
            del self.fields["organization"]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        name = upload.name.lower()
        if not (name.endswith(".xlsx") or name.endswith(".csv")):
            raise forms.ValidationError(_("Only .xlsx and .csv files can be imported."))
        return upload


@admin.register(Lead)
class LeadAdmin(OrganizationScopedAdminMixin, admin.ModelAdmin):
    list_display = ["leads_id", "leads_user_name", "masked_phone", "leads_product", "leads_type", "leads_create_time"]
    list_filter = ["leads_type", "leads_product", "organization"]
    search_fields = ["leads_id", "leads_user_name"]
    list_select_related = ["organization"]
    change_list_template = "admin/followups/lead/change_list.html"
    import_template = "admin/followups/lead/import.html"

    @admin.display(description=_("phone number"))
    def masked_phone(self, obj):
        return obj.masked_phone

    def get_list_filter(self, request):
        filters = super().get_list_filter(request)
        return filters if request.user.is_superuser else [f for f in filters if f != "organization"]

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        if obj is not None and not request.user.has_perm(FULL_PHONE_PERMISSION):
            exclude.append("leads_user_phone")
        return exclude

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and not request.user.has_perm(FULL_PHONE_PERMISSION):
            readonly.append("masked_phone")
        return readonly

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name=f"{info[0]}_{info[1]}_import"),
            *super().get_urls(),
        ]

    def has_import_permission(self, request) -> bool:
        return self.has_add_permission(request) and self.has_change_permission(request)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "has_import_permission": self.has_import_permission(request)}
        return super().changelist_view(request, extra_context)

    def import_view(self, request):
        """Upload form → import into the caller's organization → the report on the same page."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        user = request.user
        if not user.is_superuser and user.organization_id is None:
            raise PermissionDenied
        report = None
        if request.method == "POST":
            form = LeadImportForm(request.POST, request.FILES, user=user)
            if form.is_valid():
                organization = form.cleaned_data.get("organization") or user.organization
                upload = form.cleaned_data["file"]
                try:
                    report = leads_import(
                        organization=organization,
                        file=upload,
                        filename=upload.name,
                        dry_run=form.cleaned_data["dry_run"],
                    )
                except ImportFileError as exc:
                    form.add_error("file", exc.message)
                else:
                    level = messages.WARNING if report.errors else messages.SUCCESS
                    self.message_user(
                        request,
                        gettext(
                            "Imported %(imported)d new leads, updated %(updated)d, skipped %(skipped)d, "
                            "%(errors)d rows with errors."
                        )
                        % {
                            "imported": report.imported,
                            "updated": report.updated,
                            "skipped": report.skipped_count,
                            "errors": report.error_count,
                        },
                        level,
                    )
        else:
            form = LeadImportForm(user=user)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Import leads"),
            "opts": self.opts,
            "form": form,
            "report": report,
            "organization": user.organization,
            "has_view_permission": self.has_view_permission(request),
            "max_rows": settings.LEAD_IMPORT_MAX_ROWS,
            "max_megabytes": f"{settings.LEAD_IMPORT_MAX_BYTES / 1024 / 1024:g}",
        }
        return TemplateResponse(request, self.import_template, context)


@admin.register(FollowUp)
class FollowUpAdmin(OrganizationScopedAdminMixin, admin.ModelAdmin):
    organization_lookup = "lead__organization"
    list_display = ["lead", "follow_time", "is_interested", "next_follow_time", "source", "judge"]
    list_filter = ["is_interested", "source", "judge"]
    list_select_related = ["lead"]
    raw_id_fields = ["lead", "lead_task"]


# DRF's token admin lists every user's API token; a supervisor sees (and creates) only their organization's.
admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class TokenAdmin(OrganizationScopedAdminMixin, DrfTokenAdmin):
    organization_lookup = "user__organization"
