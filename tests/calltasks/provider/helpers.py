"""Helpers shared by the provider contract tests."""

from __future__ import annotations

import itertools

from calltasks.provider import JobSpec

_counter = itertools.count(1)

STRATEGY = {
    "repeatBy": "once",
    "workingTime": [{"beginTime": "08:00:00", "endTime": "21:00:00"}],
    "maxAttemptsPerDay": 2,
    "minAttemptInterval": 10,
}


def phone(n: int) -> str:
    return f"139{n:08d}"


def job_specs(count: int, prefix: str | None = None) -> list[JobSpec]:
    prefix = prefix or f"ref-{next(_counter)}"
    return [
        JobSpec(
            phone_number=phone(1000 + i), reference_id=f"{prefix}-{i}", name=f"客户{i}", extras={"product": "星辰X5"}
        )
        for i in range(count)
    ]


def request_count(simulator, action: str) -> int:
    return simulator.stats()["requests"].get(action, 0)
