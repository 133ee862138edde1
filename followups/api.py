"""REST resources of the followups app (``/api/v1/leads/``)."""

from __future__ import annotations

import django_filters
from rest_framework import serializers, viewsets

from dcc_project.api.scoping import can_see_full_phone, organization_id_of
from dcc_project.phones import mask_phone
from followups.models import Lead
from followups.selectors import lead_list


class LeadSerializer(serializers.ModelSerializer):
    leads_user_phone = serializers.SerializerMethodField()

    class Meta:
        model = Lead
        fields = [
            "id",
            "leads_id",
            "leads_user_name",
            "leads_user_phone",
            "leads_product",
            "leads_type",
            "leads_create_time",
        ]

    def get_leads_user_phone(self, obj: Lead) -> str:
        if self.context.get("full_phone"):
            return obj.leads_user_phone
        return mask_phone(obj.leads_user_phone)


class LeadFilter(django_filters.FilterSet):
    leads_product = django_filters.BaseInFilter(field_name="leads_product")
    leads_type = django_filters.BaseInFilter(field_name="leads_type")
    created_after = django_filters.IsoDateTimeFilter(field_name="leads_create_time", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="leads_create_time", lookup_expr="lt")

    class Meta:
        model = Lead
        fields = ["leads_id", "leads_product", "leads_type"]


class LeadViewSet(viewsets.ReadOnlyModelViewSet):
    """The caller's organization's lead pool. Phone numbers are masked unless the user may see them."""

    serializer_class = LeadSerializer
    filterset_class = LeadFilter
    ordering_fields = ["leads_create_time", "id"]

    def get_queryset(self):
        return lead_list(organization_id=organization_id_of(self.request.user))

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["full_phone"] = can_see_full_phone(self.request.user)
        return context
