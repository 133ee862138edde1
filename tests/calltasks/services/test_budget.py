"""The per-organization daily call budget (CALLTASKS_DAILY_CALL_BUDGET), enforced by call_task_start."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, connections
from django.utils import timezone, translation

from calltasks.models import CallTask, DailyCallUsage, LeadTask
from calltasks.services.errors import DailyBudgetExceeded, ProviderFailure
from calltasks.services.lifecycle import call_task_start, daily_usage
from calltasks.states import TaskState
from tests.calltasks.services.test_lifecycle import new_task

pytestmark = pytest.mark.django_db


def test_start_within_the_budget_counts_the_rows(org, simulator, settings):
    settings.CALLTASKS_DAILY_CALL_BUDGET = 10
    first = new_task(org, 4)
    assert call_task_start(task_id=first.pk).task_type == TaskState.CALLING
    assert daily_usage(organization_id=org.pk) == 4
    first.refresh_from_db()
    assert first.budget_day == timezone.localdate() and first.budget_reserved == 4


def test_start_over_the_budget_is_refused_and_nothing_reaches_the_provider(org, other_org, simulator, settings):
    settings.CALLTASKS_DAILY_CALL_BUDGET = 10
    first = new_task(org, 6)
    call_task_start(task_id=first.pk)
    groups_before = simulator.stats()["groups"]
    second = new_task(org, 5)  # 6 + 5 > 10

    with translation.override("zh-hans"), pytest.raises(DailyBudgetExceeded) as exc:
        call_task_start(task_id=second.pk)

    assert exc.value.http_status == 429
    assert "每日" in exc.value.message and "10" in exc.value.message, exc.value.message
    assert exc.value.data == {"daily_budget": 10, "used_today": 6, "needed": 5}
    second.refresh_from_db()
    assert second.task_type == TaskState.CREATED and not second.lease_owner and not second.job_group_id
    assert simulator.stats()["groups"] == groups_before
    assert daily_usage(organization_id=org.pk) == 6
    # Another organization has its own budget.
    third = new_task(other_org, 5)
    assert call_task_start(task_id=third.pk).task_type == TaskState.CALLING
    assert daily_usage(organization_id=other_org.pk) == 5


def test_exactly_the_budget_is_allowed(org, simulator, settings):
    settings.CALLTASKS_DAILY_CALL_BUDGET = 7
    call_task_start(task_id=new_task(org, 3).pk)
    assert call_task_start(task_id=new_task(org, 4).pk).task_type == TaskState.CALLING
    assert daily_usage(organization_id=org.pk) == 7


@pytest.mark.parametrize("budget", [0, None])
def test_zero_or_empty_budget_is_unlimited(org, simulator, settings, budget):
    settings.CALLTASKS_DAILY_CALL_BUDGET = budget
    assert call_task_start(task_id=new_task(org, 3).pk).task_type == TaskState.CALLING
    assert not DailyCallUsage.objects.exists()


def test_usage_is_per_local_day(org, simulator, settings):
    settings.CALLTASKS_DAILY_CALL_BUDGET = 5
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    DailyCallUsage.objects.create(organization=org, day=yesterday, reserved=5)
    assert call_task_start(task_id=new_task(org, 5).pk).task_type == TaskState.CALLING
    assert daily_usage(organization_id=org.pk) == 5


def test_failed_start_before_any_assignment_releases_the_reservation(org, simulator, settings):
    settings.CALLTASKS_DAILY_CALL_BUDGET = 5
    simulator.add_fault("CreateJobGroup", "unavailable", count=10)
    task = new_task(org, 5)
    with pytest.raises(ProviderFailure):
        call_task_start(task_id=task.pk)
    assert daily_usage(organization_id=org.pk) == 0
    task.refresh_from_db()
    assert task.budget_reserved == 0
    simulator.clear_faults()
    assert call_task_start(task_id=task.pk).task_type == TaskState.CALLING
    assert daily_usage(organization_id=org.pk) == 5


def test_rows_the_provider_rejects_are_given_back(org, simulator, settings):
    settings.CALLTASKS_DAILY_CALL_BUDGET = 100
    task = new_task(org, 6)
    bad = LeadTask.objects.filter(task=task).order_by("id")[:2]
    LeadTask.objects.filter(pk__in=[row.pk for row in bad]).update(leads_phone="not-a-number")
    call_task_start(task_id=task.pk)
    assert daily_usage(organization_id=org.pk) == 4


def test_a_start_that_failed_after_assigning_keeps_the_reservation_and_a_retry_reuses_it(org, simulator, settings):
    settings.CALLTASKS_DAILY_CALL_BUDGET = 40
    # AssignJobs goes through, then the provider cannot list the group: the rows may be at the provider.
    simulator.add_fault("ListJobsByGroup", "unavailable", count=100)
    task = new_task(org, 30)
    with pytest.raises(ProviderFailure):
        call_task_start(task_id=task.pk)
    assert daily_usage(organization_id=org.pk) == 30
    simulator.clear_faults()
    assert call_task_start(task_id=task.pk).task_type == TaskState.CALLING
    assert daily_usage(organization_id=org.pk) == 30
    # The other 10 of the budget are still there, not 11.
    with pytest.raises(DailyBudgetExceeded):
        call_task_start(task_id=new_task(org, 11).pk)


def test_a_start_the_provider_accepted_nothing_of_gives_everything_back(org, simulator, settings):
    settings.CALLTASKS_DAILY_CALL_BUDGET = 10
    task = new_task(org, 2)
    LeadTask.objects.filter(task=task).update(leads_phone="bad")
    with pytest.raises(ProviderFailure):
        call_task_start(task_id=task.pk)
    assert daily_usage(organization_id=org.pk) == 0


def _start(task_id: int, results: list, barrier: threading.Barrier) -> threading.Thread:
    def run():
        try:
            barrier.wait(timeout=10)
            results.append(call_task_start(task_id=task_id))
        except Exception as exc:  # noqa: BLE001 - collected and asserted by the test
            results.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_starts_cannot_both_pass_the_budget(org, simulator, settings):
    settings.CALLTASKS_DAILY_CALL_BUDGET = 10
    tasks = [new_task(org, 6), new_task(org, 6)]
    results: list = []
    barrier = threading.Barrier(2)
    threads = [_start(task.pk, results, barrier) for task in tasks]
    for thread in threads:
        thread.join(timeout=60)

    started = [r for r in results if isinstance(r, CallTask)]
    refused = [r for r in results if isinstance(r, DailyBudgetExceeded)]
    assert len(started) == 1 and len(refused) == 1, (connection.vendor, results)
    assert simulator.stats()["groups"] == 1
    assert daily_usage(organization_id=org.pk) == 6
    states = sorted(CallTask.objects.filter(pk__in=[t.pk for t in tasks]).values_list("task_type", flat=True))
    assert states == [TaskState.CREATED, TaskState.CALLING]
