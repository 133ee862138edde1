"""Tenant scoping for the Django admin: a supervisor sees only their own organization's objects.

Superusers see everything. A staff user without an organization sees nothing. Every ModelAdmin that shows
organization-owned data mixes this in and names the path from its model to the organization.
"""

from __future__ import annotations


def admin_organization_id(request) -> int | None:
    return getattr(request.user, "organization_id", None)


class OrganizationScopedAdminMixin:
    # Django lookup path from the admin's model to ``followups.Organization`` (e.g. "task__organization").
    organization_lookup = "organization"

    def scope_queryset(self, request, queryset):
        if request.user.is_superuser:
            return queryset
        org_id = admin_organization_id(request)
        if org_id is None:
            return queryset.none()
        return queryset.filter(**{f"{self.organization_lookup}__id": org_id})

    def get_queryset(self, request):
        return self.scope_queryset(request, super().get_queryset(request))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        """Foreign-key choices (and raw-id lookups' validation) limited to the caller's organization."""
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and not request.user.is_superuser:
            related = db_field.remote_field.model
            org_id = admin_organization_id(request)
            lookup = _organization_lookup_for(related)
            if related._meta.label_lower == "followups.organization":
                field.queryset = field.queryset.filter(pk=org_id)
            elif lookup is not None:
                field.queryset = field.queryset.none() if org_id is None else field.queryset.filter(
                    **{f"{lookup}__id": org_id}
                )
        return field


def _organization_lookup_for(model) -> str | None:
    """The lookup path from ``model`` to its organization, for the models this project scopes."""
    label = model._meta.label_lower
    return {
        "followups.lead": "organization",
        "followups.user": "organization",
        "calltasks.calltask": "organization",
        "calltasks.leadtask": "task__organization",
        "calltasks.outboundcallrecord": "call_task__organization",
        "followups.followup": "lead__organization",
    }.get(label)
