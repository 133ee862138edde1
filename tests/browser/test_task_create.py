"""Creating a task from the admin's filter form in a real browser, watching the live lead count."""

from __future__ import annotations

import pytest

from calltasks.models import CallTask
from calltasks.states import TaskState
from followups.models import Organization
from followups.selectors import LeadFilterSpec, lead_filter
from tests.browser.conftest import click_task_action, messages, progress, save_screenshot, state_badge

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADD_URL = "/admin/calltasks/calltask/add/"


def matching(org, **spec) -> int:
    return lead_filter(organization_id=org.pk, spec=LeadFilterSpec(**spec)).count()


def wait_for_count(page, expected: int) -> None:  # noqa: ANN001
    """The live count (fetched by task_create.js after a change) shows ``expected``."""
    page.wait_for_function(
        "n => document.getElementById('lead-count').textContent.trim() === String(n)"
        " && document.getElementById('lead-count-box').dataset.state === 'ready'",
        arg=expected,
    )


def test_live_count_follows_the_filters_and_the_task_is_created_with_them(supervisor_page, demo):
    page = supervisor_page
    org = Organization.objects.get(code=demo.organization_code)
    grade_a = matching(org, leads_type=("A级",))
    grade_a_product = matching(org, leads_type=("A级",), leads_product=("星越L",))
    assert 0 < grade_a_product < grade_a < 300  # the demo data makes each filter visible

    page.goto("/admin/calltasks/calltask/")
    page.locator(".object-tools a.addlink").click()
    page.wait_for_url(f"**{ADD_URL}")
    form = page.locator("#task-create-form")
    form.locator('input[name="grades"][value="A级"]').check()
    wait_for_count(page, grade_a)
    form.locator('input[name="products"][value="星越L"]').check()
    wait_for_count(page, grade_a_product)
    callable_count = int(page.locator("#lead-callable").inner_text())
    assert 0 < callable_count <= grade_a_product
    # Unticking the grade widens the selection again.
    form.locator('input[name="grades"][value="A级"]').uncheck()
    wait_for_count(page, matching(org, leads_product=("星越L",)))
    form.locator('input[name="grades"][value="A级"]').check()
    wait_for_count(page, grade_a_product)

    form.locator('input[name="task_name"]').fill("浏览器创建：A级星越L")
    form.locator('input[name="script_id"]').fill("browser-script")
    save_screenshot(page, "task-create-form")
    form.locator('[name="_create"]').click()
    page.wait_for_url("**/change/")

    task = CallTask.objects.get(task_name="浏览器创建：A级星越L")
    assert task.organization_id == org.pk and task.created_by.username == demo.supervisor.username
    assert task.leads_count == callable_count == task.lead_rows.count()
    assert task.size_desc.get("leads_type") == ["A级"] and task.size_desc.get("leads_product") == ["星越L"]
    assert any("浏览器创建：A级星越L" in message for message in messages(page)), messages(page)
    assert state_badge(page) == TaskState.CREATED
    assert progress(page)["total"] == callable_count


def test_created_with_auto_start_then_calls_progress(supervisor_page, demo, simulator):
    page = supervisor_page
    org = Organization.objects.get(code=demo.organization_code)
    page.goto(ADD_URL)
    form = page.locator("#task-create-form")
    form.locator('input[name="grades"][value="H级"]').check()
    wait_for_count(page, matching(org, leads_type=("H级",)))
    form.locator('input[name="task_name"]').fill("浏览器创建并启动")
    form.locator('input[name="script_id"]').fill("browser-script")
    form.locator('input[name="auto_start"]').check()
    form.locator('[name="_create"]').click()
    page.wait_for_url("**/change/")
    assert state_badge(page) == TaskState.CALLING

    task = CallTask.objects.get(task_name="浏览器创建并启动")
    for _ in range(10):
        simulator.advance(1800)
        click_task_action(page, "check")
        page.goto(f"/admin/calltasks/calltask/{task.pk}/change/")
        if progress(page)["called"] > 0:
            break
    numbers = progress(page)
    assert 0 < numbers["called"] <= numbers["total"] == task.leads_count
