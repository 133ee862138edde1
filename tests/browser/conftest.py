"""Browser tests: Playwright for Python driving Debian's Chromium (headless) against pytest-django's live server.

- The browser is the system Chromium (``chromium`` on PATH or ``/usr/bin/chromium``; ``.ci/run`` installs it);
  ``playwright install`` is never run. Without Chromium (or the playwright package) the tests are skipped with
  a message, except with ``CI=true``, where that is an error.
- The live server runs in a thread of this process, so the ``settings`` fixture (and the ``simulator`` fixture,
  which points the provider/LLM clients at an in-process simulator) applies to the pages the browser opens.
  Tests use ``django_db(transaction=True)``: the server thread must see the rows the test writes.
- Playwright's sync API keeps an asyncio event loop in this thread, which would make Django refuse ORM calls
  (``SynchronousOnlyOperation``) in the test body: ``DJANGO_ALLOW_ASYNC_UNSAFE`` is set for this package only.
- Screenshots go to ``var/screenshots/`` (git-ignored); a failing test leaves ``var/screenshots/failed-<test>.png``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

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


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Chromium for the session."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -r requirements-dev.txt)")
    executable = chromium_executable()
    if executable is None:
        _unavailable("no chromium executable on PATH or at /usr/bin/chromium")
    manager = sync_playwright().start()
    try:
        instance = manager.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
    except Exception as exc:  # noqa: BLE001 - any launch failure means "no usable browser"
        manager.stop()
        _unavailable(f"chromium at {executable} did not start: {exc}")
    yield instance
    instance.close()
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
        base_url=live_server.url, locale="zh-CN", viewport={"width": 1400, "height": 900}, accept_downloads=True
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    new_page = context.new_page()
    errors: list[str] = []
    new_page.on("pageerror", lambda exc: errors.append(str(exc)))
    new_page.js_errors = errors
    yield new_page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        save_screenshot(new_page, "failed-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name))
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
