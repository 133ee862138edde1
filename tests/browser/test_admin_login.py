"""The admin in a real browser: the demo supervisor logs in and sees the Chinese admin with its styles."""

from __future__ import annotations

import pytest

from tests.browser.conftest import login, save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_demo_supervisor_logs_in_and_sees_the_chinese_admin(supervisor_page):
    page = supervisor_page
    assert page.locator("#site-name").count() == 1
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    # The admin's stylesheet is served by the live server (static files), so the page is styled.
    css = page.request.get("/static/admin/css/base.css")
    assert css.status == 200 and "text/css" in css.headers["content-type"]
    header_bg = page.eval_on_selector("#header", "el => getComputedStyle(el).backgroundColor")
    assert header_bg not in ("rgba(0, 0, 0, 0)", "transparent")
    # The supervisor sees the call-task models of the admin index.
    assert page.locator('a[href="/admin/calltasks/calltask/"]').count() >= 1
    assert page.js_errors == []
    save_screenshot(page, "admin-index")


def test_wrong_password_is_refused(page, demo):
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", demo.supervisor.username)
    page.fill("#id_password", "not-the-password")
    page.click("input[type=submit]")
    assert page.locator(".errornote").is_visible()
    assert "/admin/login/" in page.url
    # The right password afterwards still works (no lock-out from one mistake).
    login(page, demo.supervisor.username, demo.supervisor.password)
