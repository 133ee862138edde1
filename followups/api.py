"""REST resources of the followups app (``/api/v1/leads/``, ``/api/v1/follow-ups/``)."""

from __future__ import annotations

import django_filters
from rest_framework import serializers, viewsets

from calltasks.api.rest import CharInFilter, IdFilter, InterestFilter, UtcIsoDateTimeFilter
from calltasks.selectors import follow_up_list
from dcc_project.api.scoping import can_see_full_phone, organization_id_of
from dcc_project.phones import mask_phone
from followups.models import FollowUp, Lead, interest_label
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
    leads_product = CharInFilter(field_name="leads_product")
    leads_type = CharInFilter(field_name="leads_type")
    created_after = UtcIsoDateTimeFilter(field_name="leads_create_time", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="leads_create_time", lookup_expr="lt")

    class Meta:
        model = Lead
        fields = ["leads_id", "leads_product", "leads_type"]


class LeadViewSet(viewsets.ReadOnlyModelViewSet):
    """The caller's organization's lead pool. Phone numbers are masked unless the user may see them."""

    serializer_class = LeadSerializer
    filterset_class = LeadFilter
    ordering_fields = ["leads_create_time", "id"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Lead.objects.none()
        return lead_list(organization_id=organization_id_of(self.request.user))

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["full_phone"] = can_see_full_phone(self.request.user)
        return context


# --- follow-up records (/api/v1/follow-ups/) ------------------------------------------------------------------------


class FollowUpSerializer(serializers.ModelSerializer):
    lead_id = serializers.IntegerField(read_only=True)
    leads_id = serializers.CharField(source="lead.leads_id", read_only=True)
    leads_user_name = serializers.CharField(source="lead.leads_user_name", read_only=True)
    leads_user_phone = serializers.SerializerMethodField(help_text="masked unless the user may see full numbers")
    task_id = serializers.SerializerMethodField()
    lead_row_id = serializers.IntegerField(source="lead_task_id", read_only=True, allow_null=True)
    interest_label = serializers.SerializerMethodField()

    class Meta:
        model = FollowUp
        fields = [
            "id",
            "lead_id",
            "leads_id",
            "leads_user_name",
            "leads_user_phone",
            "task_id",
            "lead_row_id",
            "follow_time",
            "leads_remark",
            "first_follow_time",
            "new_follow_time",
            "next_follow_time",
            "is_arrive",
            "first_arrive_time",
            "is_interested",
            "interest_label",
            "source",
            "judge",
            "judged_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_leads_user_phone(self, obj: FollowUp) -> str:
        phone = obj.lead.leads_user_phone
        return phone if self.context.get("full_phone") else mask_phone(phone)

    def get_task_id(self, obj: FollowUp) -> int | None:
        return obj.lead_task.task_id if obj.lead_task_id else None

    def get_interest_label(self, obj: FollowUp) -> str:
        return interest_label(obj.is_interested)


class FollowUpFilter(django_filters.FilterSet):
    interest = InterestFilter(field_name="is_interested")
    judge = CharInFilter(field_name="judge", help_text="comma-separated: llm, rules, default, none")
    source = django_filters.ChoiceFilter(choices=FollowUp.Source.choices)
    lead = IdFilter(field_name="lead_id")
    task = IdFilter(field_name="lead_task__task_id")
    next_follow_after = UtcIsoDateTimeFilter(field_name="next_follow_time", lookup_expr="gte")
    next_follow_before = UtcIsoDateTimeFilter(field_name="next_follow_time", lookup_expr="lt")
    follow_after = UtcIsoDateTimeFilter(field_name="follow_time", lookup_expr="gte")
    follow_before = UtcIsoDateTimeFilter(field_name="follow_time", lookup_expr="lt")

    class Meta:
        model = FollowUp
        fields = ["interest", "judge", "source", "lead", "task", "is_arrive"]


class FollowUpViewSet(viewsets.ReadOnlyModelViewSet):
    """Follow-up records of the caller's organization's leads (AI calls and manual)."""

    serializer_class = FollowUpSerializer
    filterset_class = FollowUpFilter
    ordering_fields = ["follow_time", "next_follow_time", "id"]
    ordering = ["-follow_time", "-id"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return FollowUp.objects.none()
        return follow_up_list(organization_id=organization_id_of(self.request.user))

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["full_phone"] = can_see_full_phone(self.request.user)
        return context
