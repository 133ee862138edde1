"""call_task_create (SPEC §4 "Create"): filters, dedup, active-task skip, cap, atomicity, reference ids."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError

from calltasks.models import CallTask, LeadTask
from calltasks.services import create as create_module
from calltasks.services.create import call_task_create, reference_id_for
from calltasks.services.errors import NoMatchingLeads, ValidationFailed
from calltasks.states import TaskState
from followups.selectors import DateRange, LeadFilterSpec
from tests.calltasks.services.conftest import follow, local, make_leads
from tests.factories import CallTaskFactory, LeadFactory, LeadTaskFactory

pytestmark = pytest.mark.django_db


def create(org, user=None, spec=None, **kwargs):
    return call_task_create(
        organization_id=org.pk,
        created_by_id=user.pk if user else None,
        task_name=kwargs.pop("task_name", "三月回访"),
        spec=spec or LeadFilterSpec(),
        size_desc=kwargs.pop("size_desc", {"leads_type": []}),
        **kwargs,
    )


def row_leads(task) -> set[str]:
    return set(task.lead_rows.values_list("leads_id", flat=True))


def test_creates_task_and_rows_from_filters(org, user):
    LeadFactory(organization=org, leads_id="h-1", leads_type="H级", leads_product="星越L")
    LeadFactory(organization=org, leads_id="a-1", leads_type="A级", leads_product="博越")
    LeadFactory(organization=org, leads_id="c-1", leads_type="C级", leads_product="星越L")
    size_desc = {"leads_type": ["H级", "A级"], "leads_product": []}

    result = create(org, user, LeadFilterSpec(leads_type=("H级", "A级")), size_desc=size_desc, script_id="S-1")

    task = CallTask.objects.get()
    assert result.task == task
    assert task.task_type == TaskState.CREATED
    assert task.leads_count == 2 == result.matched
    assert task.size_desc == size_desc
    assert task.script_id == "S-1"
    assert task.created_by_id == user.pk
    assert task.strategy["maxAttemptsPerDay"] >= 1 and task.strategy["workingTime"]
    assert row_leads(task) == {"h-1", "a-1"}
    row = task.lead_rows.get(leads_id="h-1")
    assert row.leads_phone == row.lead.leads_user_phone
    assert row.leads_name == row.lead.leads_user_name
    assert row.call_job_id is None and row.final_at is None


def test_filters_and_across_dimensions_with_dates_and_arrival(org):
    hit = LeadFactory(organization=org, leads_id="hit", leads_type="H级")
    late = LeadFactory(organization=org, leads_id="next-day", leads_type="H级")
    LeadFactory(organization=org, leads_id="grade-b", leads_type="B级")
    follow(hit, next_follow_time=local(2025, 5, 31, 23, 59, 59))
    follow(late, next_follow_time=local(2025, 6, 1, 0, 0))
    spec = LeadFilterSpec(
        leads_type=("H级",),
        is_arrive=(0,),
        date_ranges={"next_follow": (DateRange(dt.date(2025, 5, 1), dt.date(2025, 5, 31)),)},
    )
    task = create(org, spec=spec).task
    assert row_leads(task) == {"hit"}


def test_explicit_leads_ids(org):
    make_leads(org, 3)
    LeadFactory(organization=org, leads_id="pick-1")
    LeadFactory(organization=org, leads_id="pick-2")
    task = create(org, spec=LeadFilterSpec(leads_ids=("pick-1", "pick-2"))).task
    assert row_leads(task) == {"pick-1", "pick-2"}


def test_duplicate_phones_are_called_once(org):
    LeadFactory(organization=org, leads_id="first", leads_user_phone="13800000001")
    LeadFactory(organization=org, leads_id="second", leads_user_phone="13800000001")
    LeadFactory(organization=org, leads_id="other", leads_user_phone="13800000002")
    result = create(org)
    assert result.task.leads_count == 2
    assert result.skipped_duplicate_phones == 1
    assert sorted(result.task.lead_rows.values_list("leads_phone", flat=True)) == ["13800000001", "13800000002"]
    assert row_leads(result.task) == {"first", "other"}  # the first lead (by id) keeps the phone


@pytest.mark.parametrize("state", [TaskState.CREATED, TaskState.CALLING, TaskState.PAUSED])
def test_leads_in_an_active_task_are_skipped_unless_asked(org, state):
    busy, free = make_leads(org, 2)
    active = CallTaskFactory(organization=org, task_type=state)
    LeadTaskFactory(task=active, lead=busy)

    result = create(org)
    assert row_leads(result.task) == {free.leads_id}
    assert result.skipped_in_active_task == 1

    again = create(org, include_leads_in_active_tasks=True)
    assert row_leads(again.task) == {busy.leads_id, free.leads_id}


@pytest.mark.parametrize("state", [TaskState.CALLS_DONE, TaskState.FOLLOWUPS_DONE])
def test_leads_in_finished_or_deleted_tasks_are_not_skipped(org, state):
    lead, deleted_lead = make_leads(org, 2)
    LeadTaskFactory(task=CallTaskFactory(organization=org, task_type=state), lead=lead)
    gone = CallTaskFactory(organization=org, task_type=TaskState.CREATED, deleted_at=dt.datetime.now(dt.UTC))
    LeadTaskFactory(task=gone, lead=deleted_lead)
    assert row_leads(create(org).task) == {lead.leads_id, deleted_lead.leads_id}


def test_active_tasks_of_another_organization_do_not_count(org, other_org):
    (lead,) = make_leads(org, 1)
    foreign_task = CallTaskFactory(organization=other_org, task_type=TaskState.CALLING)
    LeadTaskFactory(task=foreign_task, lead=LeadFactory(organization=other_org, leads_user_phone=lead.leads_user_phone))
    assert row_leads(create(org).task) == {lead.leads_id}


def test_every_match_already_active_is_no_matching_leads(org):
    (lead,) = make_leads(org, 1)
    LeadTaskFactory(task=CallTaskFactory(organization=org, task_type=TaskState.CALLING), lead=lead)
    before = CallTask.objects.count()
    with pytest.raises(NoMatchingLeads):
        create(org)
    assert CallTask.objects.count() == before


def test_no_match_writes_nothing(org):
    make_leads(org, 2, leads_type="A级")
    with pytest.raises(NoMatchingLeads) as exc:
        create(org, spec=LeadFilterSpec(leads_type=("N级",)))
    assert exc.value.http_status == 400 and exc.value.message
    assert not CallTask.objects.exists() and not LeadTask.objects.exists()


def test_per_task_cap(org, settings):
    settings.CALLTASKS_MAX_LEADS_PER_TASK = 3
    make_leads(org, 4)
    with pytest.raises(ValidationFailed) as exc:
        create(org)
    assert "3" in exc.value.message
    assert not CallTask.objects.exists() and not LeadTask.objects.exists()
    settings.CALLTASKS_MAX_LEADS_PER_TASK = 4
    assert create(org).task.leads_count == 4


@pytest.mark.parametrize("cap", [0, None])
def test_cap_zero_or_empty_is_unlimited(org, settings, cap):
    settings.CALLTASKS_MAX_LEADS_PER_TASK = cap
    make_leads(org, 6)
    assert create(org).task.leads_count == 6


def test_cap_counts_after_dedup(org, settings):
    settings.CALLTASKS_MAX_LEADS_PER_TASK = 2
    make_leads(org, 2)
    LeadFactory(organization=org, leads_user_phone=LeadFactory._meta.model.objects.first().leads_user_phone)
    assert create(org).task.leads_count == 2


def test_task_name_required_and_strategy_validated(org):
    make_leads(org, 1)
    with pytest.raises(ValidationFailed):
        create(org, task_name="  ")
    with pytest.raises(ValidationFailed):
        create(org, strategy={"working_time": "21:00-09:00"})
    with pytest.raises(ValidationFailed):
        create(org, strategy={"max_attempts_per_day": 0})
    assert not CallTask.objects.exists()
    task = create(org, strategy={"working_time": "10:00-11:30", "max_attempts_per_day": 2}).task
    assert task.strategy["workingTime"] == [{"beginTime": "10:00:00", "endTime": "11:30:00"}]
    assert task.strategy["maxAttemptsPerDay"] == 2


def test_task_and_rows_are_written_atomically(org, monkeypatch):
    make_leads(org, 3)

    def broken_bulk_create(self, objs, **kwargs):
        raise IntegrityError("simulated failure while inserting rows")

    monkeypatch.setattr(type(LeadTask.objects), "bulk_create", broken_bulk_create)
    with pytest.raises(IntegrityError):
        create(org)
    monkeypatch.undo()
    assert not CallTask.objects.exists()
    assert not LeadTask.objects.exists()


def test_reference_ids_are_deterministic_and_unique(org):
    leads = make_leads(org, 5)
    first = create(org).task
    second = create(org, include_leads_in_active_tasks=True).task
    for task in (first, second):
        refs = dict(task.lead_rows.values_list("lead_id", "reference_id"))
        assert refs == {lead.pk: reference_id_for(task.pk, lead.pk) for lead in leads}
        assert all(ref == f"dcc-{task.pk}-{lead_id}" for lead_id, ref in refs.items())
    all_refs = list(LeadTask.objects.values_list("reference_id", flat=True))
    assert len(all_refs) == len(set(all_refs)) == 10


def test_result_counts(org):
    make_leads(org, 2)
    result = create(org)
    assert (result.matched, result.skipped_duplicate_phones, result.skipped_in_active_task) == (2, 0, 0)
    assert create_module.ACTIVE_TASK_STATES == (TaskState.CREATED, TaskState.CALLING, TaskState.PAUSED)
