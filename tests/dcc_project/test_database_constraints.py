"""The database itself rejects duplicates (SPEC §2): unique ids, one follow-up per lead row."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from calltasks.models import CallTask, LeadTask
from tests.factories import (
    CallTaskFactory,
    FollowUpFactory,
    LeadFactory,
    LeadTaskFactory,
    OrganizationFactory,
    OutboundCallRecordFactory,
)

pytestmark = pytest.mark.django_db


def assert_rejected(factory, **kwargs) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        factory(**kwargs)


def test_duplicate_reference_id_is_rejected():
    row = LeadTaskFactory(reference_id="dcc-1-1")
    assert_rejected(LeadTaskFactory, task=row.task, reference_id="dcc-1-1")


def test_duplicate_provider_job_id_is_rejected():
    row = LeadTaskFactory(call_job_id="job-1")
    assert_rejected(LeadTaskFactory, task=row.task, call_job_id="job-1")


def test_several_rows_without_job_id_are_allowed():
    task = CallTaskFactory()
    LeadTaskFactory(task=task, call_job_id=None)
    LeadTaskFactory(task=task, call_job_id=None)
    assert LeadTask.objects.filter(task=task, call_job_id__isnull=True).count() == 2


def test_same_lead_twice_in_one_task_is_rejected():
    row = LeadTaskFactory()
    assert_rejected(LeadTaskFactory, task=row.task, lead=row.lead)


def test_duplicate_provider_task_id_is_rejected():
    record = OutboundCallRecordFactory(provider_task_id="t-1")
    assert_rejected(OutboundCallRecordFactory, lead_task=record.lead_task, provider_task_id="t-1")


def test_second_follow_up_for_the_same_lead_row_is_rejected():
    row = LeadTaskFactory()
    FollowUpFactory(lead=row.lead, lead_task=row, source="ai_call")
    assert_rejected(FollowUpFactory, lead=row.lead, lead_task=row, source="ai_call")


def test_manual_follow_ups_without_lead_row_are_allowed():
    lead = LeadFactory()
    FollowUpFactory(lead=lead)
    FollowUpFactory(lead=lead)
    assert lead.follow_ups.count() == 2


def test_duplicate_lead_business_id_in_one_organization_is_rejected():
    lead = LeadFactory(leads_id="L-1")
    assert_rejected(LeadFactory, organization=lead.organization, leads_id="L-1")


def test_same_lead_business_id_in_two_organizations_is_allowed():
    LeadFactory(leads_id="L-1", organization=OrganizationFactory())
    LeadFactory(leads_id="L-1", organization=OrganizationFactory())


def test_duplicate_job_group_id_is_rejected():
    CallTaskFactory(job_group_id="jg-1")
    assert_rejected(CallTaskFactory, job_group_id="jg-1")


def test_several_tasks_without_job_group_are_allowed():
    CallTaskFactory(job_group_id=None)
    CallTaskFactory(job_group_id=None)
    assert CallTask.objects.filter(job_group_id__isnull=True).count() == 2


def test_arrival_time_requires_a_store_visit():
    from django.utils import timezone

    assert_rejected(FollowUpFactory, is_arrive=False, first_arrive_time=timezone.now())


def test_interest_outside_the_choices_is_rejected():
    assert_rejected(FollowUpFactory, is_interested=7)
