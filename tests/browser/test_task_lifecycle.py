"""Task page in a real browser: start a task, watch it progress with the simulator, pause and resume it."""

from __future__ import annotations

import pytest

from calltasks.models import CallTask
from calltasks.states import TaskState
from tests.browser.conftest import (
    click_task_action,
    demo_task,
    messages,
    progress,
    save_screenshot,
    state_badge,
    task_url,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STEP_SECONDS = 1800  # simulated time between two "check now" presses
MAX_CHECKS = 25


def test_start_then_check_now_shows_progress_until_followups_done(supervisor_page, demo, simulator, settings):
    # Transcripts the simulator delivers late are not waited for in wall-clock minutes here.
    settings.TRANSCRIPT_GRACE_MINUTES = 0
    page = supervisor_page
    task = demo_task(demo, leads=10)
    page.goto(task_url(task))
    assert state_badge(page) == TaskState.CREATED
    assert progress(page) == {"called": 0, "connected": 0, "followed": 0, "total": 10}

    click_task_action(page, "start")
    page.goto(task_url(task))
    assert state_badge(page) == TaskState.CALLING
    assert CallTask.objects.get(pk=task.pk).job_group_id

    seen_states = [TaskState.CALLING]
    for _ in range(MAX_CHECKS):
        simulator.advance(STEP_SECONDS)
        click_task_action(page, "check")
        assert any(str(task.pk) in message for message in messages(page)), messages(page)
        page.goto(task_url(task))  # a reload shows the numbers the check wrote
        state = state_badge(page)
        if state != seen_states[-1]:
            seen_states.append(state)
        if state == TaskState.FOLLOWUPS_DONE:
            break
    numbers = progress(page)
    assert seen_states[-1] == TaskState.FOLLOWUPS_DONE, (seen_states, numbers)
    assert numbers["total"] == 10 and numbers["called"] == 10 and numbers["followed"] == 10
    assert 0 < numbers["connected"] <= 10
    db_task = CallTask.objects.get(pk=task.pk)
    assert db_task.task_type == TaskState.FOLLOWUPS_DONE
    assert numbers["connected"] == db_task.lead_rows.filter(is_connected=True).count()
    save_screenshot(page, "task-page")

    page.goto("/admin/calltasks/calltask/")
    row = page.locator("#result_list tbody tr", has_text=task.task_name)
    assert row.locator(f".state-badge.state-{TaskState.FOLLOWUPS_DONE}").count() == 1
    save_screenshot(page, "task-list")


def test_pause_then_resume_from_the_task_page(supervisor_page, demo, simulator):
    page = supervisor_page
    task = demo_task(demo, leads=6, name="暂停恢复测试")
    page.goto(task_url(task))
    click_task_action(page, "start")
    page.goto(task_url(task))
    assert state_badge(page) == TaskState.CALLING

    click_task_action(page, "pause")
    assert any("暂停" in message for message in messages(page)), messages(page)
    page.goto(task_url(task))
    assert state_badge(page) == TaskState.PAUSED
    assert CallTask.objects.get(pk=task.pk).task_type == TaskState.PAUSED
    # Paused: the pause button is gone, resume is offered.
    assert page.locator('#task-actions button[value="pause"]').count() == 0
    assert page.locator('#task-actions button[value="resume"]').count() == 1

    click_task_action(page, "resume")
    assert any("恢复" in message for message in messages(page)), messages(page)
    page.goto(task_url(task))
    assert state_badge(page) == TaskState.CALLING
    assert CallTask.objects.get(pk=task.pk).task_type == TaskState.CALLING
