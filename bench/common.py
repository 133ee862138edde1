"""Shared pieces of the benchmarks: a throwaway organization, bulk data, the simulator, counters, output."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import resource
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import connection
from django.test.utils import override_settings
from django.utils import timezone

from calltasks.models import CallTask, LeadTask, OutboundCallRecord
from calltasks.simulator.clock import today_at_shanghai
from calltasks.simulator.server import SimulatorHandle, start_simulator
from calltasks.states import TaskState
from calltasks.strategy import build_strategy
from followups.models import FollowUp, Lead, Organization, User

BENCH_SEED = 20261123
BENCH_SCRIPT_ID = "bench-script"
BENCH_LLM_KEY = "sk-bench-local"


# --- counting --------------------------------------------------------------------------------------------------


class QueryCounter:
    """Counts the SQL statements sent on the current thread's connection (``connection.execute_wrapper``)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):  # noqa: ANN001 - Django's wrapper signature
        self.count += 1
        return execute(sql, params, many, context)


@contextlib.contextmanager
def count_queries() -> Iterator[QueryCounter]:
    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        yield counter


def peak_rss_mb() -> float:
    """The process's peak resident set size so far (``getrusage``; Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":
        peak /= 1024
    return round(peak / 1024, 1)


def environment() -> dict[str, Any]:
    """What the figures were measured on: database vendor, CPU count, load, interpreter speed, date."""
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {
        "database": connection.vendor,
        "database_version": _database_version(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": load,
        "interpreter_ms": interpreter_speed_ms(),
        "measured_at": timezone.now().isoformat(timespec="seconds"),
    }


def interpreter_speed_ms(repeat: int = 5) -> float:
    """Best of ``repeat`` timings of ``sum(range(1_000_000))`` in ms: how fast this machine runs Python.

    Virtual machines of the same nominal size differ (15.6 ms on one, 29.5 ms on another with the same two
    cores), and the API latencies scale with it, so figures from different machines are only comparable with it.
    """
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        sum(range(1_000_000))
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


def environment_text(env: dict[str, Any]) -> str:
    """The environment part of a benchmark's markdown title."""
    speed = f", interpreter {env['interpreter_ms']} ms" if "interpreter_ms" in env else ""
    return (
        f"{env['database']} {env['database_version']}, {env['cpus']} CPUs, load {env['load_average']}{speed}, "
        f"{env['measured_at']}"
    )


def _database_version() -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
        elif connection.vendor == "sqlite":
            cursor.execute("SELECT sqlite_version()")
        else:
            return ""
        return str(cursor.fetchone()[0])


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.started


def rate(count: float, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


# --- data ------------------------------------------------------------------------------------------------------


def bench_org_create(label: str) -> tuple[Organization, User]:
    """A fresh organization (unique code per run) and a user in it; nothing else in the database is touched."""
    code = f"BENCH{uuid.uuid4().hex[:12].upper()}"
    org = Organization.objects.create(name=f"benchmark {label} {code}", code=code)
    user = User(username=f"bench-{code.lower()}", organization=org)
    user.set_unusable_password()
    user.save()
    return org, user


def bench_org_delete(org: Organization) -> None:
    """Remove everything of a benchmark organization (children first, so no slow cascade collection)."""
    tasks = CallTask.objects.filter(organization=org)
    OutboundCallRecord.objects.filter(call_task__in=tasks)._raw_delete(OutboundCallRecord.objects.db)
    LeadTask.objects.filter(task__in=tasks).update(leads_follow=None)
    FollowUp.objects.filter(lead__organization=org)._raw_delete(FollowUp.objects.db)
    LeadTask.objects.filter(task__in=tasks)._raw_delete(LeadTask.objects.db)
    from calltasks.models import DailyCallUsage, IdempotencyRecord

    DailyCallUsage.objects.filter(organization=org).delete()
    IdempotencyRecord.objects.filter(organization=org).delete()
    tasks.delete()
    # Fresh statistics, so the foreign-key checks of the DELETE below use the index instead of a
    # sequential scan per deleted lead (stale statistics of a just-filled table made it quadratic).
    analyze_tables()
    Lead.objects.filter(organization=org)._raw_delete(Lead.objects.db)
    from rest_framework.authtoken.models import Token

    Token.objects.filter(user__organization=org).delete()
    User.objects.filter(organization=org).delete()
    org.delete()


def analyze_tables() -> None:
    """PostgreSQL: refresh the planner statistics of the pipeline's tables after a bulk load.

    Production tables have statistics (autovacuum); a table filled seconds ago may still look empty to
    the planner, which then picks sequential scans. The benchmarks measure the steady state.
    """
    if connection.vendor != "postgresql":
        return
    tables = [model._meta.db_table for model in (Lead, LeadTask, FollowUp, OutboundCallRecord, CallTask)]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE " + ", ".join(connection.ops.quote_name(table) for table in tables))


_phone_counter = iter(range(10**8))


def leads_bulk_create(org: Organization, count: int, *, prefix: str) -> list[Lead]:
    """``count`` leads with distinct invented phone numbers (170 virtual-operator prefix)."""
    now = timezone.now()
    products = ["星越L", "领克06", "银河E8", "博越L"]
    leads = [
        Lead(
            organization=org,
            leads_id=f"{prefix}-{i:06d}",
            leads_user_name=f"客户{i}",
            leads_user_phone=f"170{next(_phone_counter) % 10**8:08d}",
            leads_product=products[i % len(products)],
            leads_type="A级",
            leads_create_time=now,
        )
        for i in range(count)
    ]
    return Lead.objects.bulk_create(leads, batch_size=2000)


def task_with_rows_create(org: Organization, user: User, leads: list[Lead], *, name: str) -> CallTask:
    """A task in state 1 with one lead row per lead (what ``call_task_create`` writes, without the filters)."""
    now = timezone.now()
    task = CallTask.objects.create(
        task_name=name,
        organization=org,
        created_by=user,
        create_time=now,
        leads_count=len(leads),
        script_id=BENCH_SCRIPT_ID,
        task_type=TaskState.CREATED,
        size_desc={"benchmark": True},
        strategy=build_strategy(None),
    )
    LeadTask.objects.bulk_create(
        [
            LeadTask(
                task=task,
                lead=lead,
                leads_id=lead.leads_id,
                leads_name=lead.leads_user_name,
                leads_phone=lead.leads_user_phone,
                reference_id=f"dcc-{task.pk}-{lead.pk}",
                created_at=now,
            )
            for lead in leads
        ],
        batch_size=2000,
    )
    return task


# --- the simulator ---------------------------------------------------------------------------------------------


def bench_simulator(*, llm_latency_ms: int = 0, llm: bool = False) -> SimulatorHandle:
    """An in-process simulator whose calls finish instantly, every connected call with its transcript."""
    return start_simulator(
        instant=True,
        seed=BENCH_SEED,
        start_time=today_at_shanghai(10),
        transcript_delay_rate=0.0,
        transcript_missing_rate=0.0,
        llm_api_key=BENCH_LLM_KEY if llm else None,
        llm_latency_ms=llm_latency_ms,
    )


def simulator_settings(handle: SimulatorHandle, *, llm: bool, **extra: Any) -> override_settings:
    """Settings pointing the provider and LLM clients at ``handle`` (plus ``extra`` overrides)."""
    allowed = list(getattr(settings, "RECORDING_ALLOWED_HOSTS", []) or [])
    if handle.host not in allowed:
        allowed.append(handle.host)
    return override_settings(
        # As in production: with DEBUG on, Django keeps the text of the last 9,000 statements (each sync's
        # JSON parameter is megabytes) and formats every statement's parameters, which the pass would pay for.
        DEBUG=False,
        OUTBOUNDBOT_ENDPOINT=handle.url,
        OUTBOUNDBOT_INSTANCE_ID=handle.instance_id,
        ALIBABA_CLOUD_ACCESS_KEY_ID=handle.access_key_id,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET=handle.access_key_secret,
        LLM_BASE_URL=handle.llm_base_url,
        LLM_API_KEY=BENCH_LLM_KEY if llm else "",
        RECORDING_ALLOWED_HOSTS=allowed,
        **extra,
    )


def let_every_call_finish(handle: SimulatorHandle) -> None:
    """Instant mode plays every call out at once; moving the clock on makes every transcript available.

    The simulator writes a call's dialogue on the first answer that shows it; a provider has it ready when
    the call ends. Writing them here keeps the simulator's dialogue generator (a thread of this process,
    competing for the GIL) out of the timed pass."""
    handle.advance(30 * 24 * 3600)
    handle.prepare_transcripts()


# --- output ----------------------------------------------------------------------------------------------------


def as_json(result: dict) -> str:
    return json.dumps(result, ensure_ascii=False, indent=2, default=str)


def markdown_table(rows: list[tuple[str, Any, str, str]]) -> str:
    """``| figure | measured | target | met |`` rows, pasted as is into docs/performance.md."""
    lines = ["| Figure | Measured | Target | Met |", "|---|---|---|---|"]
    for figure, value, target, met in rows:
        lines.append(f"| {figure} | {value} | {target} | {met} |")
    return "\n".join(lines)


def met(flag: bool | None) -> str:
    if flag is None:
        return "—"
    return "yes" if flag else "**no**"


def now_utc() -> dt.datetime:
    return timezone.now()
