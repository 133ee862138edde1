"""The browser-test plumbing itself: which Chromium is used, and that CI never silently skips the browser tests."""

from __future__ import annotations

import pytest

from tests.browser import conftest


def test_chromium_is_found_on_path_or_at_the_debian_location(monkeypatch, tmp_path):
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert conftest.chromium_executable() == str(fake)

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    expected = "/usr/bin/chromium" if conftest.Path("/usr/bin/chromium").is_file() else None
    assert conftest.chromium_executable() == expected


def test_missing_browser_skips_locally_but_fails_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium"):
        conftest._unavailable("no chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true: no chromium"):
        conftest._unavailable("no chromium")


def test_no_event_loop_or_async_unsafe_flag_outlives_a_browser_module():
    """Runs after browser modules (file order): other tests must not inherit Playwright's loop or the flag."""
    import asyncio
    import os

    assert asyncio.run(asyncio.sleep(0, result="ran")) == "ran"
    assert "DJANGO_ALLOW_ASYNC_UNSAFE" not in os.environ
