"""Browser tests: Playwright for Python driving Debian's Chromium (headless) against pytest-django's live server.

- The browser is the system Chromium (``chromium`` on PATH or ``/usr/bin/chromium``; ``.ci/run`` installs it);
  ``playwright install`` is never run. Without Chromium (or the playwright package) the tests are skipped with
  a message, except with ``CI=true``, where that is an error.
- The live server runs in a thread of this process, so the ``settings`` fixture (and the ``simulator`` fixture,
  which points the provider/LLM clients at an in-process simulator) applies to the pages the browser opens.
  Tests use ``django_db(transaction=True)``: the server thread must see the rows the test writes.
- Playwright's sync API keeps an asyncio event loop in this thread, which would make Django refuse ORM calls
  (``SynchronousOnlyOperation``) in the test body: ``DJANGO_ALLOW_ASYNC_UNSAFE`` is set while a browser runs.
  The browser (and Playwright's loop) lives for one test module, so no other test of the suite runs beside it.
- Screenshots go to ``var/screenshots/`` (git-ignored); a failing test leaves ``var/screenshots/failed-<test>.png``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]
DEFAULT_TIMEOUT_MS = 15_000


def _unavailable(reason: str) -> None:
    """Skip outside CI; fail loudly in CI, where the browser tests must run."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests cannot run with CI=true: {reason}", pytrace=False)
    pytest.skip(f"browser tests skipped: {reason} (install Debian's chromium: apt-get install -y chromium)")


def chromium_executable() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):  # noqa: ANN001, ANN201 - pytest hook
    """Remember each phase's report on the item so the page fixture can screenshot a failure."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """A headless Chromium for one test module (Playwright's event loop is gone before other tests run)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -r requirements-dev.txt)")
    executable = chromium_executable()
    if executable is None:
        _unavailable("no chromium executable on PATH or at /usr/bin/chromium")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        manager = sync_playwright().start()
        try:
            try:
                instance = manager.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
            except Exception as exc:  # noqa: BLE001 - any launch failure means "no usable browser"
                _unavailable(f"chromium at {executable} did not start: {exc}")
            yield instance
            instance.close()
        finally:
            manager.stop()


@pytest.fixture
def demo(transactional_db):  # noqa: ANN001, ANN201 - pytest-django fixture
    """The demo organization, supervisor login ``demo``, leads and past follow-ups (``followups.demo``)."""
    from followups.demo import seed_demo

    return seed_demo(create_admin=False)


@pytest.fixture
def page(browser, live_server, request) -> Iterator[object]:  # noqa: ANN001
    """A fresh browser context (own cookies) on the live server; Chinese locale, downloads allowed."""
    context = browser.new_context(
        base_url=live_server.url, locale="zh-CN", viewport={"width": 1600, "height": 1000}, accept_downloads=True
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    new_page = context.new_page()
    errors: list[str] = []
    new_page.on("pageerror", lambda exc: errors.append(str(exc)))
    new_page.js_errors = errors
    yield new_page
    report = getattr(request.node, "rep_call", None)
    failure_name = "failed-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    if report is not None and report.failed:
        save_screenshot(new_page, failure_name)
    elif report is not None and report.passed:
        (SCREENSHOTS / f"{failure_name}.png").unlink(missing_ok=True)  # no stale failure picture
    context.close()


def login(page, username: str, password: str) -> None:  # noqa: ANN001
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r".*/admin/$"))


@pytest.fixture
def supervisor_page(page, demo):  # noqa: ANN001, ANN201
    """``page`` logged in to the admin as the demo supervisor (``demo`` / DEMO_PASSWORD)."""
    login(page, demo.supervisor.username, demo.supervisor.password)
    return page


def save_screenshot(page, name: str) -> Path:  # noqa: ANN001
    """A full-page PNG under var/screenshots/ (git-ignored), for review."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# --- Shared steps ------------------------------------------------------------------------------------------------


def demo_objects(demo):  # noqa: ANN001, ANN201
    """(organization, supervisor user) of the demo seed."""
    from followups.models import Organization, User

    return Organization.objects.get(code=demo.organization_code), User.objects.get(username=demo.supervisor.username)


def demo_task(demo, *, leads: int = 12, name: str = "浏览器测试任务", offset: int = 0):  # noqa: ANN001, ANN201
    """A state-1 task over ``leads`` demo leads (from the ``offset``-th, by lead id), created through the service
    (as the admin form does)."""
    from calltasks.services.create import call_task_create
    from followups.models import Lead
    from followups.selectors import LeadFilterSpec

    org, supervisor = demo_objects(demo)
    pool = Lead.objects.filter(organization=org).order_by("leads_id").values_list("leads_id", flat=True)
    ids = tuple(pool[offset : offset + leads])
    return call_task_create(
        organization_id=org.pk,
        created_by_id=supervisor.pk,
        task_name=name,
        spec=LeadFilterSpec(leads_ids=ids),
        size_desc={"leads_ids": list(ids)},
        script_id="browser-script",
    ).task


def drive_to_done(task, simulator) -> None:  # noqa: ANN001
    """Start the task and run monitor passes with the simulator's virtual clock until state 4 (no browser)."""
    from calltasks.services.lifecycle import call_task_start
    from tests.test_e2e_pipeline import Clock, run_until_done

    call_task_start(task_id=task.pk)
    run_until_done(task.pk, Clock(simulator))


def task_url(task) -> str:  # noqa: ANN001
    return f"/admin/calltasks/calltask/{task.pk}/change/"


def messages(page) -> list[str]:  # noqa: ANN001
    """The admin's message list (success / warning / error) of the current page."""
    return [text.strip() for text in page.locator("ul.messagelist li").all_inner_texts()]


def state_badge(page) -> int:  # noqa: ANN001
    """The task state shown by the ``state-badge state-<n>`` element of the task page."""
    classes = page.locator(".state-badge").first.get_attribute("class") or ""
    match = re.search(r"\bstate-(\d)\b", classes)
    assert match, f"no state-<n> class on the state badge: {classes!r}"
    return int(match.group(1))


def progress(page) -> dict[str, int]:  # noqa: ANN001
    """The ``div.task-progress`` data attributes of the task page."""
    box = page.locator(".task-progress").first
    return {key: int(box.get_attribute(f"data-{key}") or 0) for key in ("called", "connected", "followed", "total")}


def click_task_action(page, action: str) -> None:  # noqa: ANN001
    """Press a task-page button (``#task-actions button[name=_task_action][value=<action>]``); start and cancel
    first show a confirmation page (``#confirm-action``), which is confirmed here."""
    page.locator(f'#task-actions button[name="_task_action"][value="{action}"]').click()
    page.wait_for_load_state("domcontentloaded")
    if action in ("start", "cancel"):
        confirm = page.locator("#confirm-action")
        assert confirm.count() == 1, f"no confirmation page before {action}"
        confirm.click()
        page.wait_for_load_state("domcontentloaded")
