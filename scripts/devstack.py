#!/usr/bin/env python3
"""The development stack as one command (what ``make run`` starts after ``migrate``).

Seeds the demo data, starts every process of ``PROCESSES`` whose management command exists (each in its
own process group, output prefixed with its name), prints the URLs, the demo login and the API token,
and on Ctrl-C / SIGTERM stops them all. Exits non-zero when one of them dies on its own.

Standard library only; run it with the project's virtualenv Python::

    .venv/bin/python scripts/devstack.py [--port 8000] [--simulator-port 8765] [--no-seed]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO


@dataclass(frozen=True)
class Process:
    name: str
    command: str  # a manage.py command; the process starts only when the command exists
    args: tuple[str, ...]


# The stack. Adding a process is one line; {port} and {simulator_port} are filled in from the options.
PROCESSES = [
    Process("web", "runserver", ("127.0.0.1:{port}",)),
    Process("simulator", "run_simulator", ("--host", "127.0.0.1", "--port", "{simulator_port}", "--speed", "60")),
    Process("monitor", "run_monitor", ()),
]

# Environment of the demo processes: calls may happen at any hour of the day.
DEMO_ENV = {
    "CALLTASKS_WORKING_TIME": "00:00-23:59",
    # The simulator runs 60x faster than real time: check tasks every 15 s and wait 2 minutes (not 30)
    # for a late transcript, so a demo task goes 1 -> 2 -> 3 -> 4 within a couple of minutes.
    "MONITOR_INTERVAL_SECONDS": "15",
    "TRANSCRIPT_GRACE_MINUTES": "2",
    "PYTHONUNBUFFERED": "1",
}

ROOT = Path(__file__).resolve().parent.parent
STOP_TIMEOUT = 10.0
READY_TIMEOUT = 60.0
_COLOURS = ["\033[36m", "\033[35m", "\033[33m", "\033[32m", "\033[34m"]
_print_lock = threading.Lock()


def emit(text: str) -> None:
    with _print_lock:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


def manage(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "manage.py"), *args]


def available_commands(env: dict[str, str]) -> set[str]:
    """Names of the management commands this checkout has (one Django start-up)."""
    code = (
        "import json, django; django.setup(); "
        "from django.core.management import get_commands; print(json.dumps(sorted(get_commands())))"
    )
    result = subprocess.run(  # noqa: S603 - fixed argv of our own interpreter
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=120
    )
    if result.returncode != 0:
        sys.exit(f"devstack: Django does not start with {sys.executable}:\n{result.stderr}\n(use `make run`)")
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def seed_demo(env: dict[str, str], base_url: str) -> dict:
    result = subprocess.run(  # noqa: S603 - fixed argv of our own interpreter
        manage("seed_demo", "--json", "--base-url", base_url),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if result.returncode != 0:
        sys.exit(f"devstack: seed_demo failed:\n{result.stdout}{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def demo_tasks(env: dict[str, str], simulator_url: str, stopping: threading.Event) -> None:
    """Once the simulator answers, create and start the demo call tasks (idempotent: only the first run)."""
    deadline = time.monotonic() + READY_TIMEOUT
    while not stopping.is_set():
        try:
            with urllib.request.urlopen(f"{simulator_url}/_sim/health", timeout=2):  # noqa: S310 - loopback
                break
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                emit("devstack: the simulator does not answer; demo tasks not created")
                return
            time.sleep(0.5)
    result = subprocess.run(  # noqa: S603 - fixed argv of our own interpreter
        manage("demo_tasks"), cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=300
    )
    for line in (result.stdout + result.stderr).splitlines():
        emit(f"[demo     ] {line}")


def pump(name: str, stream: IO[str], colour: str) -> None:
    """Copy a child's output line by line with a name prefix."""
    reset = "\033[0m" if colour else ""
    for line in stream:
        emit(f"{colour}[{name:<9}]{reset} {line.rstrip()}")


def start(process: Process, args: tuple[str, ...], env: dict[str, str], colour: str) -> subprocess.Popen:
    child = subprocess.Popen(  # noqa: S603 - fixed argv of our own interpreter
        manage(process.command, *args),
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        start_new_session=True,  # its own process group: runserver's reloader child is stopped with it
    )
    threading.Thread(target=pump, args=(process.name, child.stdout, colour), daemon=True).start()
    return child


def stop_all(children: dict[str, subprocess.Popen]) -> None:
    """SIGTERM every process group, then SIGKILL whatever is still there after STOP_TIMEOUT."""
    for child in children.values():
        signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for child in children.values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
    for child in children.values():
        signal_group(child, signal.SIGKILL)  # also reaps grandchildren left in the group
        child.wait()


def signal_group(child: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, sig)


def wait_until_ready(url: str, children: dict[str, subprocess.Popen], stopping: threading.Event) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline and not stopping.is_set():
        if any(child.poll() is not None for child in children.values()):
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own loopback URL
                if response.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    return False


def banner(demo: dict, base_url: str, simulator_url: str, running: list[str], skipped: list[str]) -> str:
    login = demo.get("supervisor")
    lines = [
        "",
        "=" * 78,
        "DCC 智能外呼 · 开发环境已启动 (development stack is up)",
        f"  管理后台 admin      {base_url}/admin/",
    ]
    if login:
        lines.append(
            f"    主管账号 login     {login['username']} / {login['password']}   （组织：{login['organization']}）"
        )
    if demo.get("admin_username"):
        lines.append(f"    超级管理员 admin   {demo['admin_username']} / {demo['admin_password']}")
    lines += [f"  API 文档 docs       {base_url}/api/docs/", f"  线索 API leads      {base_url}/api/v1/leads/"]
    if login:
        lines.append(f"    API 令牌 token     {login['token']}")
        lines.append(f"    curl -H 'access-token: {login['token']}' {base_url}/api/v1/leads/")
    if "simulator" in running:
        lines.append(f"  外呼模拟器 simulator {simulator_url}/  (OutboundBot RPC + /compatible-mode/v1)")
    lines.append(f"  进程 processes      {', '.join(running)}")
    if skipped:
        lines.append(f"  未启动 not yet built {', '.join(skipped)}")
    lines += [
        f"  外呼时段 calling window CALLTASKS_WORKING_TIME={DEMO_ENV['CALLTASKS_WORKING_TIME']} (demo: any hour)",
        "  按 Ctrl-C 停止全部进程 (Ctrl-C stops everything)",
        "=" * 78,
        "",
    ]
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run the development stack (web, simulator, monitor).")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--simulator-port", type=int, default=int(os.environ.get("SIMULATOR_PORT", "8765")))
    parser.add_argument("--no-seed", action="store_true", help="do not run seed_demo first")
    return parser.parse_args()


def main() -> int:
    options = parse_args()
    base_url = f"http://127.0.0.1:{options.port}"
    simulator_url = f"http://127.0.0.1:{options.simulator_port}"
    env = {
        **os.environ,
        **DEMO_ENV,
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "dcc_project.settings"),
        "SIMULATOR_PORT": str(options.simulator_port),
    }
    commands = available_commands(env)
    demo = {} if options.no_seed else seed_demo(env, base_url)

    stopping = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    colours = _COLOURS if sys.stdout.isatty() else [""]
    children: dict[str, subprocess.Popen] = {}
    skipped = [p.command for p in PROCESSES if p.command not in commands]
    fill = {"port": options.port, "simulator_port": options.simulator_port}
    for index, process in enumerate(p for p in PROCESSES if p.command in commands):
        args = tuple(arg.format(**fill) for arg in process.args)
        children[process.name] = start(process, args, env, colours[index % len(colours)])

    exit_code = 0
    try:
        if wait_until_ready(f"{base_url}/admin/login/", children, stopping):
            emit(banner(demo, base_url, simulator_url, list(children), skipped))
            if demo and "simulator" in children and "demo_tasks" in commands:
                threading.Thread(target=demo_tasks, args=(env, simulator_url, stopping), daemon=True).start()
        while not stopping.is_set():
            dead = {name: child.returncode for name, child in children.items() if child.poll() is not None}
            if dead:
                for name, code in dead.items():
                    emit(f"devstack: {name} exited with code {code}; stopping the others")
                exit_code = 1
                break
            stopping.wait(0.5)
    finally:
        emit("devstack: stopping " + ", ".join(children))
        stop_all(children)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
