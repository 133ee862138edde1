"""Tenant scoping shared by every API view: objects of another organization are invisible (404)."""

from __future__ import annotations

from rest_framework.exceptions import PermissionDenied


def organization_id_of(user) -> int:
    """The caller's organization id; a user without one can see nothing."""
    org_id = getattr(user, "organization_id", None)
    if org_id is None:
        raise PermissionDenied("用户未绑定组织")
    return org_id


def can_see_full_phone(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm("followups.view_full_phone"))


class OrganizationScopedMixin:
    """For DRF generic views: ``get_queryset`` filters by the caller's organization."""

    organization_field = "organization_id"

    def scope(self, queryset):
        return queryset.filter(**{self.organization_field: organization_id_of(self.request.user)})
