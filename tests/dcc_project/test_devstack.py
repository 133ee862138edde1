"""scripts/devstack.py: the process table and the banner (the processes themselves are checked by hand)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def devstack():
    spec = importlib.util.spec_from_file_location("devstack", ROOT / "scripts" / "devstack.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["devstack"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("devstack", None)


def test_process_table(devstack):
    commands = [process.command for process in devstack.PROCESSES]
    assert commands[0] == "runserver"
    assert {"run_simulator", "run_monitor"} <= set(commands)
    assert devstack.DEMO_ENV["CALLTASKS_WORKING_TIME"] == "00:00-23:59"


def test_banner_shows_urls_login_and_token(devstack):
    demo = {
        "supervisor": {"username": "demo", "password": "pw", "token": "abc123", "organization": "演示经销商"},
        "admin_username": "admin",
        "admin_password": "apw",
    }
    text = devstack.banner(
        demo, "http://127.0.0.1:8000", "http://127.0.0.1:8765", ["web", "simulator"], ["run_monitor"]
    )
    for expected in ["/admin/", "/api/docs/", "abc123", "demo / pw", "http://127.0.0.1:8765/", "run_monitor"]:
        assert expected in text


def test_stop_all_kills_the_whole_process_group(devstack):
    # A parent that starts a grandchild in the same group, like runserver's reloader.
    code = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
    child = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    time.sleep(0.5)
    devstack.stop_all({"sleeper": child})
    assert child.returncode is not None
    assert wait_for_empty_group(child.pid)


def living_members(pgid: int) -> list[str]:
    listing = subprocess.run(["ps", "-eo", "pgid=,stat="], capture_output=True, text=True, check=True).stdout
    return [
        line for line in listing.splitlines() if line.split()[0] == str(pgid) and not line.split()[1].startswith("Z")
    ]


def wait_for_empty_group(pgid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while living_members(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
