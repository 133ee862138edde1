"""Reads of leads and follow-ups."""

from __future__ import annotations

from django.db.models import QuerySet

from followups.models import Lead


def lead_list(*, organization_id: int) -> QuerySet[Lead]:
    return Lead.objects.filter(organization_id=organization_id).order_by("-leads_create_time", "-id")
