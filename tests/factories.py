"""factory_boy factories for the data model (unique business ids, reference ids and phone numbers)."""

from __future__ import annotations

import factory
from django.utils import timezone
from rest_framework.authtoken.models import Token

from calltasks.models import CallTask, LeadTask, OutboundCallRecord
from calltasks.states import TaskState
from followups.models import FollowUp, Lead, Organization, User


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ("code",)

    name = factory.Sequence(lambda n: f"测试经销商{n}")
    code = factory.Sequence(lambda n: f"ORG{n:04d}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    organization = factory.SubFactory(OrganizationFactory)
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "pass-for-tests-1")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class TokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Token
        django_get_or_create = ("user",)

    user = factory.SubFactory(UserFactory)


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    organization = factory.SubFactory(OrganizationFactory)
    leads_id = factory.Sequence(lambda n: f"L{n:07d}")
    leads_user_name = factory.Sequence(lambda n: f"客户{n}")
    leads_user_phone = factory.Sequence(lambda n: f"170{n:08d}")
    leads_product = "星越L"
    leads_type = "A级"
    leads_create_time = factory.LazyFunction(timezone.now)


class FollowUpFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FollowUp

    lead = factory.SubFactory(LeadFactory)
    follow_time = factory.LazyFunction(timezone.now)
    leads_remark = "客户有意向"
    first_follow_time = factory.LazyFunction(timezone.now)
    new_follow_time = factory.LazyFunction(timezone.now)
    source = FollowUp.Source.MANUAL


class CallTaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CallTask

    task_name = factory.Sequence(lambda n: f"测试任务{n}")
    organization = factory.SubFactory(OrganizationFactory)
    task_type = TaskState.CREATED
    leads_count = 0


class LeadTaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LeadTask

    task = factory.SubFactory(CallTaskFactory)
    lead = factory.SubFactory(LeadFactory, organization=factory.SelfAttribute("..task.organization"))
    leads_id = factory.LazyAttribute(lambda row: row.lead.leads_id if row.lead else "")
    leads_name = factory.LazyAttribute(lambda row: row.lead.leads_user_name if row.lead else "")
    leads_phone = factory.LazyAttribute(lambda row: row.lead.leads_user_phone if row.lead else "17000000000")
    reference_id = factory.Sequence(lambda n: f"dcc-test-{n}")


class OutboundCallRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OutboundCallRecord

    lead_task = factory.SubFactory(LeadTaskFactory)
    call_task = factory.SelfAttribute("lead_task.task")
    job_group_id = factory.Sequence(lambda n: f"jg-{n}")
    job_id = factory.Sequence(lambda n: f"job-{n}")
    provider_task_id = factory.Sequence(lambda n: f"task-{n}")
    call_status = "SucceededFinish"
    has_answered = True
