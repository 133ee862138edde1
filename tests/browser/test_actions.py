"""Changelist actions in a real browser (pause / resume / cancel with confirmation, re-judge) and phone masking."""

from __future__ import annotations

import pytest

from calltasks.models import CallTask, LeadTask
from calltasks.services.lifecycle import call_task_start
from calltasks.states import TaskState
from followups.models import FollowUp
from tests.browser.conftest import demo_task, drive_to_done, messages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TASKS_URL = "/admin/calltasks/calltask/"


def run_action(page, action: str, ids) -> None:  # noqa: ANN001
    """Tick ``ids`` on the current changelist, choose ``action`` and press the action button."""
    for pk in ids:
        page.locator(f'#result_list input.action-select[value="{pk}"]').check()
    page.select_option('select[name="action"]', action)
    page.locator('button[name="index"]').click()
    page.wait_for_load_state("domcontentloaded")


def states(*tasks) -> list[int]:
    return [CallTask.objects.get(pk=task.pk).task_type for task in tasks]


def test_pause_resume_and_cancel_selected_tasks_from_the_list(supervisor_page, demo, simulator):
    page = supervisor_page
    first = demo_task(demo, leads=3, name="列表操作一")
    second = demo_task(demo, leads=3, name="列表操作二", offset=3)
    call_task_start(task_id=first.pk)
    call_task_start(task_id=second.pk)
    ids = [first.pk, second.pk]

    page.goto(TASKS_URL)
    run_action(page, "pause_tasks", ids)
    assert len([m for m in messages(page) if "暂停" in m]) == 2, messages(page)
    assert states(first, second) == [TaskState.PAUSED, TaskState.PAUSED]
    assert page.locator(f"#result_list .state-badge.state-{TaskState.PAUSED}").count() == 2

    run_action(page, "resume_tasks", ids)
    assert states(first, second) == [TaskState.CALLING, TaskState.CALLING]

    # Cancel asks first; the confirmation page names both tasks.
    run_action(page, "cancel_tasks", ids)
    confirm = page.locator("#confirm-action")
    assert confirm.count() == 1
    assert "列表操作一" in page.content() and "列表操作二" in page.content()
    assert states(first, second) == [TaskState.CALLING, TaskState.CALLING]  # nothing happened yet
    confirm.click()
    page.wait_for_load_state("domcontentloaded")
    assert all(state in (TaskState.CALLS_DONE, TaskState.FOLLOWUPS_DONE) for state in states(first, second))

    # A second pause of finished tasks is refused with a message, never an error page.
    page.goto(TASKS_URL)
    run_action(page, "pause_tasks", [first.pk])
    assert page.locator("ul.messagelist li.error").count() == 1, messages(page)


def test_rejudge_selected_follow_ups(supervisor_page, demo, simulator):
    page = supervisor_page
    task = demo_task(demo, leads=8, name="重新判定测试")
    drive_to_done(task, simulator)
    judged = LeadTask.objects.filter(task=task, is_connected=True).exclude(call_conversation=None).order_by("pk")
    chosen = list(judged[:2])
    assert chosen, "no connected row with a transcript"
    before = {row.leads_follow_id: FollowUp.objects.get(pk=row.leads_follow_id).judged_at for row in chosen}

    page.goto(f"/admin/calltasks/leadtask/?task__id__exact={task.pk}")
    run_action(page, "rejudge_followups", [row.pk for row in chosen])
    assert page.locator("ul.messagelist li.success").count() == 1, messages(page)
    assert str(len(chosen)) in messages(page)[0]
    # Judged again now (the pipeline above ran on the simulator's clock, hours ahead): a new judged_at.
    for follow_up_id, judged_at in before.items():
        assert FollowUp.objects.get(pk=follow_up_id).judged_at != judged_at
    assert FollowUp.objects.filter(lead_task__task=task).count() == 8  # re-judged in place, none added


def test_phone_numbers_masked_in_lists_and_full_on_the_row_page(supervisor_page, demo):
    page = supervisor_page
    task = demo_task(demo, leads=5, name="号码脱敏测试")
    rows = list(LeadTask.objects.filter(task=task).order_by("pk"))

    page.goto(f"/admin/calltasks/leadtask/?task__id__exact={task.pk}")
    listing = page.content()
    for row in rows:
        assert row.leads_phone not in listing
        assert f"{row.leads_phone[:3]}****{row.leads_phone[-4:]}" in listing
    page.goto(f"/admin/calltasks/calltask/{task.pk}/change/")
    assert all(row.leads_phone not in page.content() for row in rows)

    # The demo supervisor holds followups.view_full_phone: the row page shows the whole number.
    page.goto(f"/admin/calltasks/leadtask/{rows[0].pk}/change/")
    assert rows[0].leads_phone in page.content()
