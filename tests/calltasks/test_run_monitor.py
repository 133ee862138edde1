"""``manage.py run_monitor``: --once in-process, and the real loop as a subprocess stopped by SIGTERM.

Subprocesses share the test database: on PostgreSQL the child gets ``DATABASE_URL`` of the test database
(the tests are transactional, so the parent's rows are committed); on SQLite with a file test database
(``SQLITE_TEST_NAME``) the child opens that file; with the default in-memory test database the database
is copied to a temporary file for the child and copied back afterwards (SQLite's backup API).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from io import StringIO
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from calltasks.models import CallTask, MonitorRun
from calltasks.services.monitor import monitor_set_enabled
from calltasks.states import TaskState

ROOT = Path(__file__).resolve().parents[2]


# --- helpers shared with tests/test_e2e_pipeline.py ----------------------------------------------------------


@contextlib.contextmanager
def child_database():
    """Environment for a child process that must see (and write) the current test database."""
    conf = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = quote(conf.get("USER") or "", safe="")
        if conf.get("PASSWORD"):
            auth += ":" + quote(conf["PASSWORD"], safe="")
        host = conf.get("HOST") or "127.0.0.1"
        port = conf.get("PORT") or 5432
        yield {"DATABASE_URL": f"postgres://{auth}@{host}:{port}/{conf['NAME']}"}
        return
    if connection.vendor != "sqlite":
        pytest.fail(f"subprocess tests do not support {connection.vendor}")
    if not connection.is_in_memory_db():
        yield {"DATABASE_URL": f"sqlite:///{Path(conf['NAME']).resolve()}"}
        return
    connection.ensure_connection()
    with tempfile.TemporaryDirectory(prefix="dcc-monitor-test-") as tmp:
        path = Path(tmp) / "db.sqlite3"
        target = sqlite3.connect(path)
        try:
            connection.connection.backup(target)
        finally:
            target.close()
        try:
            yield {"DATABASE_URL": f"sqlite:///{path}"}
        finally:
            source = sqlite3.connect(path)
            try:
                source.backup(connection.connection)
            finally:
                source.close()


def child_env(db_env: dict, **extra: str) -> dict:
    env = {
        **os.environ,
        **db_env,
        "DJANGO_SETTINGS_MODULE": "dcc_project.settings_test",
        "PYTHONUNBUFFERED": "1",
        "OUTBOUNDBOT_ENDPOINT": settings.OUTBOUNDBOT_ENDPOINT,
        "OUTBOUNDBOT_INSTANCE_ID": settings.OUTBOUNDBOT_INSTANCE_ID,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": settings.ALIBABA_CLOUD_ACCESS_KEY_ID,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": settings.ALIBABA_CLOUD_ACCESS_KEY_SECRET,
        "LLM_BASE_URL": settings.LLM_BASE_URL,
        "RECORDING_ALLOWED_HOSTS": ",".join(settings.RECORDING_ALLOWED_HOSTS),
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Child:
    """A ``manage.py`` subprocess whose merged output is collected by a reader thread."""

    def __init__(self, args: list[str], env: dict):
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, *needles: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for needle in needles:
                if needle in self.output:
                    return needle
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"none of {needles} in child output:\n{self.output[-3000:]}")

    def wait(self, timeout: float = 30.0) -> int:
        code = self.proc.wait(timeout=timeout)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@contextlib.contextmanager
def children():
    started: list[Child] = []
    try:
        yield started
    finally:
        for child in started:
            child.kill()


STARTED = ("自动化任务监控器已启动", "Automated task monitor started")
STOPPED = ("自动化任务监控器已停止", "Automated task monitor stopped")
CHECKING = ("检查任务", "Checking task")


# --- in-process ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_once_runs_one_pass_and_reports(org, monkeypatch):
    from tests.calltasks.services.conftest import make_task

    task = make_task(org, 1, task_type=TaskState.CALLING)
    monkeypatch.setattr("calltasks.services.monitor._process_leased", lambda task_id, *, now, client, result: None)
    out = StringIO()
    call_command("run_monitor", "--once", stdout=out)
    run = MonitorRun.objects.get()
    assert run.driver == MonitorRun.Driver.COMMAND and run.tasks_checked == 1 and run.outcome == MonitorRun.Outcome.OK
    assert f"run={run.pk} outcome=ok tasks=1" in out.getvalue()
    task.refresh_from_db()
    assert task.lease_owner == ""


@pytest.mark.django_db
def test_once_honours_the_switch(org):
    monitor_set_enabled(enabled=False, by="test")
    out = StringIO()
    call_command("run_monitor", "--once", stdout=out)
    assert MonitorRun.objects.get().outcome == MonitorRun.Outcome.SKIPPED
    assert "outcome=skipped" in out.getvalue()


# --- subprocess ----------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_loop_exits_cleanly_on_sigterm_and_sigint():
    with child_database() as db_env, children() as started:
        for sig in (signal.SIGTERM, signal.SIGINT):
            child = Child(["run_monitor", "--interval", "1"], child_env(db_env))
            started.append(child)
            child.wait_for(*STARTED)
            time.sleep(0.5)  # let it enter its loop
            began = time.monotonic()
            child.proc.send_signal(sig)
            assert child.wait(timeout=10) == 0, child.output
            assert time.monotonic() - began < 5
            assert any(s in child.output for s in STOPPED), child.output
            assert "Traceback" not in child.output


@pytest.mark.django_db(transaction=True)
def test_sigterm_during_a_task_finishes_it_then_exits(simulator, org, user):
    from tests.test_e2e_pipeline import started_task

    task = started_task(org, user, 30, name="SIGTERM任务")
    CallTask.objects.filter(pk=task.pk).update(next_check_at=None)
    simulator.add_fault("QueryJobsWithResult", "slow", count=1, seconds=2)
    with child_database() as db_env, children() as started:
        child = Child(["run_monitor", "--interval", "1"], child_env(db_env))
        started.append(child)
        child.wait_for(*CHECKING)
        child.proc.send_signal(signal.SIGTERM)
        assert child.wait(timeout=20) == 0, child.output
    task.refresh_from_db()
    assert task.last_checked_at is not None and task.lease_owner == "" and task.lease_until is None
    assert task.task_type == TaskState.FOLLOWUPS_DONE or task.next_check_at > task.last_checked_at, (
        task.task_type,
        task.next_check_at,
    )
    run = MonitorRun.objects.get(driver=MonitorRun.Driver.COMMAND)
    assert run.tasks_checked == 1 and run.finished_at is not None
