"""Dashboard and monitor page in a real browser: SVG charts without any external asset, the monitor switch."""

from __future__ import annotations

import pytest

from calltasks.models import MonitorRun, MonitorState
from tests.browser.conftest import demo_task, drive_to_done, save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_dashboard_linked_from_the_index_renders_svg_charts_offline(supervisor_page, demo, simulator, live_server):
    page = supervisor_page
    drive_to_done(demo_task(demo, leads=8, name="仪表盘测试"), simulator)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto("/admin/")
    page.locator("#dcc-dashboard-link").click()
    page.wait_for_url("**/admin/dashboard/**")
    assert page.locator("#dashboard").is_visible()
    assert "仪表盘" in page.title()  # Simplified Chinese by default
    charts = page.locator("#dashboard svg.chart")
    assert charts.count() >= 2
    kinds = {charts.nth(i).get_attribute("data-chart") for i in range(charts.count())}
    assert all(kinds) and len(kinds) == charts.count()  # each chart named, none twice
    # Every chart draws something (bars, slices, lines or points), server-side.
    for i in range(charts.count()):
        assert charts.nth(i).locator("rect, path, circle, polyline, line").count() > 0, kinds
    # Offline: every request of the page went to our own server (no CDN).
    assert requested and all(url.startswith(live_server.url) for url in requested), requested
    assert page.js_errors == []
    save_screenshot(page, "dashboard")


def test_monitor_page_switch_and_recent_passes(supervisor_page, demo, simulator):
    page = supervisor_page
    drive_to_done(demo_task(demo, leads=4, name="监控页测试"), simulator)
    assert MonitorRun.objects.exists()

    page.goto("/admin/monitor/")
    assert "监控" in page.title()
    assert page.locator("#monitor-status").get_attribute("data-enabled") == "1"
    assert page.locator("#monitor-runs .monitor-run").count() >= 1

    page.locator("#monitor-toggle").click()
    page.wait_for_load_state("domcontentloaded")
    page.goto("/admin/monitor/")
    assert page.locator("#monitor-status").get_attribute("data-enabled") == "0"
    assert MonitorState.objects.get().enabled is False
    save_screenshot(page, "monitor")

    page.locator("#monitor-toggle").click()
    page.wait_for_load_state("domcontentloaded")
    page.goto("/admin/monitor/")
    assert page.locator("#monitor-status").get_attribute("data-enabled") == "1"
    assert MonitorState.objects.get().enabled is True

    # django-q2's own admin pages are reachable from here.
    links = page.locator("#monitor-links a[data-model]")
    assert links.count() >= 1
    response = page.request.get(links.first.get_attribute("href"))
    assert response.status == 200
