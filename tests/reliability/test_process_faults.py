"""Process and database faults, with the real drivers as subprocesses on the test database.

- the monitor SIGKILLed in the middle of a pass, then restarted;
- the monitor's database connection terminated (``pg_terminate_backend``) in the middle of a pass —
  the same process must recover on its next pass (PostgreSQL only: SQLite has no server connection);
- two ``run_monitor`` loops and a ``qcluster`` (ORM broker, ``monitor_tick`` fanning out one job per due
  task) working the same tasks at once while the provider's campaign runs.

The children see the test database (``child_database``: PostgreSQL's test database, or SQLite's test
file) and the live simulator; they run on real time with one-second monitor intervals.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from django.db import connection
from django.db.models import Sum

from calltasks.models import CallTask, MonitorRun
from calltasks.states import TaskState
from tests.calltasks.test_run_monitor import CHECKING, ROOT, STARTED, Child, child_database, child_env, children
from tests.reliability.harness import started_task, wait_until_done

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FAST_MONITOR = {
    "MONITOR_INTERVAL_SECONDS": 1,
    "MONITOR_FAST_INTERVAL_SECONDS": 1,
    "MONITOR_ERROR_RETRY_SECONDS": 1,
    "TRANSCRIPT_GRACE_MINUTES": 0,
    "LLM_API_KEY": "",
    "Q_WORKERS": 1,
}
LOOP = ["run_monitor", "--interval", "0.2"]


def _final_task(simulator, org, user, name: str, leads: int = 50) -> CallTask:
    """A task whose jobs are all final at the provider, due now."""
    task = started_task(org, user, leads, name=name)
    simulator.run_until_final(task.job_group_id)
    CallTask.objects.filter(pk=task.pk).update(next_check_at=None)
    return task


class GroupChild(Child):
    """A ``manage.py`` child in its own process group, so killing it also kills what it forked (qcluster)."""

    def __init__(self, args: list[str], env: dict):
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)


def _stop(child: Child, timeout: float = 30) -> int:
    if child.proc.poll() is None:
        child.proc.send_signal(signal.SIGTERM)
    try:
        return child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{child.proc.args[2:]} did not stop on SIGTERM:\n{child.output[-3000:]}") from None


def test_monitor_sigkilled_mid_pass_then_restarted(recorder, fault_simulator, org, user, run_index):
    recorder.start("monitor SIGKILLed mid-pass", "run_monitor SIGKILLed while a pass waits on the provider; restarted")
    task = _final_task(fault_simulator, org, user, "被杀死的监控")
    # The pass hangs in the provider call that fetches the finished jobs' details.
    fault_simulator.add_fault("ListJobs", "slow", count=1, seconds=20)
    with child_database() as db_env, children() as started:
        env = child_env(db_env, MONITOR_LEASE_SECONDS=3, **FAST_MONITOR)
        first = Child(LOOP, env)
        started.append(first)
        first.wait_for(*CHECKING)
        time.sleep(0.5)
        first.proc.send_signal(signal.SIGKILL)
        assert first.wait(timeout=10) == -signal.SIGKILL
        task.refresh_from_db()
        left_behind = task.lease_owner.startswith("monitor:") and task.task_type == TaskState.CALLING
        fault_simulator.clear_faults()
        second = Child(LOOP, env)
        started.append(second)
        done = wait_until_done([task.pk], timeout=60)
        assert _stop(second) == 0, second.output[-2000:]
    check = recorder.finish(
        [task], fault_simulator, recovered=done, fault_felt=1, passes=MonitorRun.objects.count(),
        detail="lease left by the killed process expired, the restarted monitor took over",
    )
    assert left_behind, "the kill did not happen mid-pass"
    assert done, check.problems
    assert check.outcome == "held", check


@pytest.mark.postgres
def test_database_connection_dropped_mid_pass(recorder, fault_simulator, org, user, run_index):
    if connection.vendor != "postgresql":
        pytest.skip("pg_terminate_backend needs PostgreSQL (SQLite has no server connection to drop)")
    recorder.start(
        "database connection dropped mid-pass",
        "pg_terminate_backend of the monitor's connection while its pass waits on the provider",
    )
    task = _final_task(fault_simulator, org, user, "数据库断线")
    fault_simulator.add_fault("ListJobs", "slow", count=1, seconds=3)
    with child_database() as db_env, children() as started:
        # The default 10-minute lease: recovery must not wait for a lease to expire.
        monitor = Child(LOOP, child_env(db_env, MONITOR_LEASE_SECONDS=600, **FAST_MONITOR))
        started.append(monitor)
        monitor.wait_for(*CHECKING)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
            terminated = cursor.fetchone()[0]
        done = wait_until_done([task.pk], timeout=45)
        alive = monitor.proc.poll() is None
        assert _stop(monitor) == 0, monitor.output[-3000:]
    failed_runs = MonitorRun.objects.filter(errors__gt=0).count()
    check = recorder.finish(
        [task], fault_simulator, recovered=done and alive, fault_felt=terminated, passes=MonitorRun.objects.count(),
        detail=f"{terminated} backend(s) terminated; {failed_runs} pass(es) recorded an error; the same process recovered",
    )
    assert terminated >= 1
    assert done and alive, monitor.output[-3000:]
    assert check.outcome == "held", check


def test_two_monitors_and_a_qcluster_at_once(recorder, fault_simulator, org, user, run_index):
    from django_q.models import OrmQ, Success
    from django_q.tasks import async_task

    recorder.start(
        "two monitors + qcluster at once",
        "2 × run_monitor loops + qcluster (ORM broker, monitor_tick fan-out) on the same 3 tasks while calls run",
    )
    last_enqueue = [0.0]

    def tick() -> None:
        fault_simulator.advance(60)  # the campaign goes on (speed 600 plus this) while the drivers compete
        if time.monotonic() - last_enqueue[0] > 0.8 and OrmQ.objects.count() < 2:
            async_task("calltasks.tasks.monitor_tick", sync=False, task_name="reliability-tick")
            last_enqueue[0] = time.monotonic()

    with child_database() as db_env, children() as started:
        env = child_env(db_env, **FAST_MONITOR)
        # The cluster runs on the real settings (Q_CLUSTER without the test suite's ``sync``): with sync on,
        # django-q2 keeps the parent's database connection in its forked workers, which PostgreSQL rejects.
        cluster_env = {
            **env,
            "DJANGO_SETTINGS_MODULE": "dcc_project.settings",
            "DJANGO_ENV": "test",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        }
        cluster = GroupChild(["qcluster"], cluster_env)
        started.append(cluster)
        started.extend(Child(LOOP, env) for _ in range(2))
        for child in started[1:]:
            child.wait_for(*STARTED)
        cluster.wait_for("ready for work", "准备好", timeout=60)
        # The tasks start while every driver is polling: they compete from the first call result on.
        tasks = [started_task(org, user, 30, name=f"并发{i}") for i in range(3)]
        ids = [task.pk for task in tasks]
        CallTask.objects.filter(pk__in=ids).update(next_check_at=None)
        done = wait_until_done(ids, timeout=120, tick=tick)
        codes = [_stop(child, timeout=60) for child in started]
    ticks = Success.objects.filter(func="calltasks.tasks.monitor_tick").count()
    command, schedule = (
        MonitorRun.objects.filter(driver=driver).aggregate(n=Sum("tasks_checked"))["n"] or 0
        for driver in (MonitorRun.Driver.COMMAND, MonitorRun.Driver.SCHEDULE)
    )
    check = recorder.finish(
        tasks, fault_simulator, recovered=done, fault_felt=3, passes=MonitorRun.objects.count(),
        detail=f"task turns: run_monitor {command}, qcluster {schedule}; "
        f"{ticks} monitor_tick jobs run by the cluster",
    )
    assert done, check.problems
    assert codes[1:] == [0, 0], [child.output[-1500:] for child in started]
    assert ticks >= 1, cluster.output[-3000:]
    assert command > 0
    assert check.outcome == "held", check
