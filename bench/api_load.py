"""``bench_api``: latency percentiles and requests/s of two read endpoints under gunicorn on loopback.

A benchmark organization gets one task in state 4 with ``leads`` lead rows (default 10,000), each with a
final outcome, a transcript, a call record and a follow-up (on PostgreSQL the tables are vacuumed before and
after: ``vacuum_tables``). gunicorn (a dependency) serves the project on a free loopback port with
``DJANGO_DEBUG=false`` against the same ``DATABASE_URL``; a real HTTP client
(``http.client``, one keep-alive connection per client thread) then sends, at each concurrency level:

- ``GET /task_followup_records/<id>?page=P&page_size=50`` (a 50-row page; pages cycle over the task);
- ``POST /query-task-execution`` ``{"task_id": id, "page": P, "page_size": 50}``.

Reported per endpoint and level: p50/p95/p99 latency (ms), requests/s, errors.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from bench.common import (
    Stopwatch,
    bench_org_create,
    bench_org_delete,
    environment,
    environment_text,
    leads_bulk_create,
    markdown_table,
    met,
)
from bench.judge import TALKS
from calltasks.models import CallTask, LeadTask, OutboundCallRecord
from calltasks.states import TaskState
from followups.models import FollowUp, Lead

TARGET_GET_P95_MS = 50.0
PAGE_SIZE = 50
REPO_ROOT = Path(__file__).resolve().parent.parent


# --- data ------------------------------------------------------------------------------------------------------


def finished_task_create(org, user, leads: int) -> CallTask:
    """A task in state 4: every row final (2/3 connected with a transcript), a call record and a follow-up each."""
    now = timezone.now()
    pool = leads_bulk_create(org, leads, prefix="api")
    task = CallTask.objects.create(
        task_name="benchmark API",
        organization=org,
        created_by=user,
        create_time=now,
        leads_count=leads,
        script_id="bench-script",
        task_type=TaskState.FOLLOWUPS_DONE,
        size_desc={"benchmark": True},
        job_group_id=f"bench-api-{org.pk}",
        started_at=now,
        calls_done_at=now,
        followups_done_at=now,
    )
    rows = []
    for i, lead in enumerate(pool):
        connected = i % 3 != 2
        rows.append(
            LeadTask(
                task=task,
                lead=lead,
                leads_id=lead.leads_id,
                leads_name=lead.leads_user_name,
                leads_phone=lead.leads_user_phone,
                reference_id=f"dcc-{task.pk}-{lead.pk}",
                call_job_id=f"bench-api-{task.pk}-{lead.pk}",
                call_status="Succeeded" if connected else "Failed",
                last_task_status="SucceededFinish" if connected else "NoAnswer",
                is_connected=connected,
                failure_reason="" if connected else "NoAnswer",
                attempts=1,
                call_duration=40 if connected else 0,
                call_conversation=TALKS[i % len(TALKS)] if connected else None,
                call_time=now,
                planed_time=now,
                call_task_id=f"bench-api-call-{task.pk}-{lead.pk}",
                final_at=now,
                is_interested=(i % 3) if connected else 0,
                created_at=now,
            )
        )
    rows = LeadTask.objects.bulk_create(rows, batch_size=2000)
    OutboundCallRecord.objects.bulk_create(
        [
            OutboundCallRecord(
                call_task=task,
                lead_task=row,
                job_group_id=task.job_group_id,
                job_id=row.call_job_id,
                provider_task_id=row.call_task_id,
                call_status=row.last_task_status,
                has_answered=row.is_connected,
                called_number="170****0000",
                planed_time=now,
                actual_time=now,
                end_time=now + timedelta(seconds=row.call_duration or 0),
                duration=row.call_duration,
                conversation=row.call_conversation,
                created=now,
                updated=now,
            )
            for row in rows
        ],
        batch_size=2000,
    )
    FollowUp.objects.bulk_create(
        [
            FollowUp(
                lead_id=row.lead_id,
                lead_task=row,
                follow_time=now,
                leads_remark="客户有意向：基准测试" if row.is_connected else "未接通：无人接听",
                first_follow_time=now,
                new_follow_time=now,
                is_interested=row.is_interested,
                source=FollowUp.Source.AI_CALL,
                judge=FollowUp.Judge.RULES if row.is_connected else FollowUp.Judge.NONE,
                judged_at=now,
                created_at=now,
            )
            for row in rows
        ],
        batch_size=2000,
    )
    LeadTask.objects.filter(task=task).update(
        leads_follow_id=Subquery(FollowUp.objects.filter(lead_task_id=OuterRef("pk")).values("id")[:1])
    )
    return task


def vacuum_tables(*, analyze: bool) -> None:
    """PostgreSQL: ``VACUUM`` (``ANALYZE``) the tables the endpoints read, as autovacuum does in production.

    Before the set-up it reclaims the rows earlier runs deleted (on a server with ``autovacuum = off`` they
    stay: ``leads_task_list`` had grown to 12,000 pages for 10,000 live rows, and every scan read them all);
    after it, it refreshes the planner statistics and marks the pages all-visible, the steady state of a task
    in state 4, whose rows no longer change.
    """
    if connection.vendor != "postgresql":
        return
    tables = [model._meta.db_table for model in (Lead, LeadTask, FollowUp, OutboundCallRecord, CallTask)]
    if connection.in_atomic_block:  # VACUUM cannot run inside a transaction
        command = "ANALYZE " if analyze else ""
    else:
        command = "VACUUM (ANALYZE) " if analyze else "VACUUM "
    if not command:
        return
    with connection.cursor() as cursor:
        cursor.execute(command + ", ".join(connection.ops.quote_name(table) for table in tables))


# --- gunicorn --------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_start(*, workers: int, log_path: Path) -> tuple[subprocess.Popen, str]:
    """gunicorn serving the project on a free loopback port (same environment, DEBUG off)."""
    port = _free_port()
    env = {**os.environ, "DJANGO_DEBUG": "false", "PYTHONUNBUFFERED": "1"}
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") and "DATABASE_URL" not in os.environ:
        env["DATABASE_URL"] = f"sqlite:///{settings.DATABASES['default']['NAME']}"
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed by gunicorn_stop
    process = subprocess.Popen(  # noqa: S603 - fixed argument list
        [
            sys.executable,
            "-m",
            "gunicorn",
            "dcc_project.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--timeout",
            "60",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    process._bench_log = log  # type: ignore[attr-defined]
    return process, f"http://127.0.0.1:{port}"


def gunicorn_stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
    log = getattr(process, "_bench_log", None)
    if log is not None:
        log.close()


def wait_until_ready(base_url: str, path: str, headers: dict[str, str], *, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    parts = urlsplit(base_url)
    while True:
        try:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status == 200:
                return
            raise RuntimeError(f"{path} answered HTTP {response.status}")
        except (ConnectionError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


# --- load ------------------------------------------------------------------------------------------------------


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def load(
    base_url: str,
    *,
    method: str,
    path_for: Any,
    body_for: Any,
    headers: dict[str, str],
    clients: int,
    requests_total: int,
    warmup: int = 5,
) -> dict[str, Any]:
    """``requests_total`` requests from ``clients`` threads, each on its own keep-alive connection."""
    parts = urlsplit(base_url)
    ticket = count()
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        mine: list[float] = []
        try:
            for _ in range(warmup):
                _send(conn, method, path_for(0), body_for(0), headers)
            start_barrier.wait()
            while True:
                n = next(ticket)
                if n >= requests_total:
                    break
                started = time.perf_counter()
                status, payload = _send(conn, method, path_for(n), body_for(n), headers)
                mine.append((time.perf_counter() - started) * 1000)
                if status != 200 or payload.get("code") != 200:
                    with lock:
                        errors.append(f"HTTP {status} {str(payload)[:200]}")
        finally:
            conn.close()
            with lock:
                latencies.extend(mine)

    start_barrier = threading.Barrier(clients + 1)
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    start_barrier.wait()
    watch = Stopwatch()
    for thread in threads:
        thread.join()
    seconds = watch.seconds()
    ordered = sorted(latencies)
    return {
        "clients": clients,
        "requests": len(ordered),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "seconds": round(seconds, 3),
        "requests_per_second": round(len(ordered) / seconds, 1) if seconds else 0.0,
        "p50_ms": round(_percentile(ordered, 0.50), 1),
        "p95_ms": round(_percentile(ordered, 0.95), 1),
        "p99_ms": round(_percentile(ordered, 0.99), 1),
        "mean_ms": round(statistics.fmean(ordered), 1) if ordered else 0.0,
    }


def _send(conn: http.client.HTTPConnection, method: str, path: str, body: dict | None, headers: dict[str, str]):
    data = json.dumps(body).encode() if body is not None else None
    send_headers = dict(headers)
    if data is not None:
        send_headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=send_headers)
    response = conn.getresponse()
    raw = response.read()
    try:
        payload = json.loads(raw)
    except ValueError:
        payload = {}
    return response.status, payload if isinstance(payload, dict) else {}


# --- the benchmark -------------------------------------------------------------------------------------------


def run(
    *,
    leads: int = 10000,
    clients: tuple[int, ...] = (1, 16),
    requests_per_level: int = 300,
    workers: int = 3,
    base_url: str | None = None,
    keep: bool = False,
    quiet: bool = True,
) -> dict[str, Any]:
    """Measure both endpoints at each concurrency level; start gunicorn unless ``base_url`` is given."""
    from rest_framework.authtoken.models import Token

    previous_disable = logging.root.manager.disable
    if quiet:
        logging.disable(logging.WARNING)
    org, user = bench_org_create("api")
    process = None
    server = "external"
    try:
        vacuum_tables(analyze=False)
        setup = Stopwatch()
        task = finished_task_create(org, user, leads)
        token = Token.objects.create(user=user).key
        vacuum_tables(analyze=True)
        setup_seconds = setup.seconds()
        headers = {"access-token": token, "Accept": "application/json"}
        pages = max(1, -(-leads // PAGE_SIZE))
        if base_url is None:
            log_path = Path(getattr(settings, "VAR_DIR", REPO_ROOT / "var")) / "bench_api.log"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            process, base_url = gunicorn_start(workers=workers, log_path=log_path)
            server = f"gunicorn, {workers} sync workers"
        wait_until_ready(base_url, f"/task_followup_records/{task.pk}?page=1&page_size={PAGE_SIZE}", headers)

        endpoints = {
            "GET /task_followup_records/{id}": {
                "method": "GET",
                "path_for": lambda n: f"/task_followup_records/{task.pk}?page={n % pages + 1}&page_size={PAGE_SIZE}",
                "body_for": lambda n: None,
            },
            "POST /query-task-execution": {
                "method": "POST",
                "path_for": lambda n: "/query-task-execution",
                "body_for": lambda n: {"task_id": task.pk, "page": n % pages + 1, "page_size": PAGE_SIZE},
            },
        }
        results: dict[str, list[dict[str, Any]]] = {}
        for name, spec in endpoints.items():
            results[name] = [
                load(base_url, headers=headers, clients=level, requests_total=requests_per_level, **spec)
                for level in clients
            ]
    finally:
        if process is not None:
            gunicorn_stop(process)
        if not keep:
            bench_org_delete(org)
        if quiet:
            logging.disable(previous_disable)

    get_one = next((r for r in results["GET /task_followup_records/{id}"] if r["clients"] == 1), None)
    return {
        "benchmark": "api",
        "environment": environment(),
        "parameters": {
            "leads": leads,
            "page_size": PAGE_SIZE,
            "clients": list(clients),
            "requests_per_level": requests_per_level,
            "server": server,
        },
        "setup_seconds": round(setup_seconds, 2),
        "endpoints": results,
        "targets": {
            "get_followup_records_p95_lt_50ms_at_1_client": (
                get_one is not None and get_one["errors"] == 0 and get_one["p95_ms"] < TARGET_GET_P95_MS
            )
        },
    }


def markdown(result: dict[str, Any]) -> str:
    p = result["parameters"]
    env = result["environment"]
    title = (
        f"**bench_api** {p['leads']}-lead task, {p['page_size']}-row pages, {p['requests_per_level']} requests per "
        f"level, {p['server']} — {environment_text(env)}"
    )
    rows = []
    for name, levels in result["endpoints"].items():
        for level in levels:
            target, flag = "—", None
            if name.startswith("GET") and level["clients"] == 1:
                target, flag = "p95 < 50 ms", result["targets"]["get_followup_records_p95_lt_50ms_at_1_client"]
            rows.append(
                (
                    f"{name}, {level['clients']} client(s)",
                    f"p50 {level['p50_ms']} / p95 {level['p95_ms']} / p99 {level['p99_ms']} ms, "
                    f"{level['requests_per_second']} req/s, {level['errors']} errors",
                    target,
                    met(flag),
                )
            )
    return title + "\n\n" + markdown_table(rows)
