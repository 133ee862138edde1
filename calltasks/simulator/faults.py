"""Fault injection: per action (or "*" for every RPC action, "llm" for the chat endpoint).

A rule fires for the next ``count`` matching requests, or with probability ``rate`` (seeded RNG).
``drop`` closes the connection before answering; ``truncate`` sends the status line, the headers (with the
full Content-Length) and half of the body, then closes the socket (a connection dropped mid-response).
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass

RPC_KINDS = frozenset(
    {
        "throttle",
        "unavailable",
        "internal",
        "slow",
        "success_false",
        "malformed",
        "drop",
        "truncate",
        "commit_timeout",
        "commit_drop",
    }
)
LLM_KINDS = frozenset(
    {"throttle", "unavailable", "internal", "slow", "malformed", "drop", "truncate", "garbage", "fenced", "quirks"}
)
ALIASES = {
    "503": "unavailable",
    "500": "internal",
    "429": "throttle",
    "timeout_after_commit": "commit_timeout",
    "drop_after_commit": "commit_drop",
    "service_unavailable": "unavailable",
    "internal_error": "internal",
    "throttling": "throttle",
    "drop_mid_response": "truncate",
}
#: Kinds applied after the action ran (its effects are committed), others before it runs.
AFTER_COMMIT_KINDS = frozenset({"commit_timeout", "commit_drop"})
#: LLM kinds that still produce an answer, only a mangled one.
LLM_ANSWER_KINDS = frozenset({"garbage", "fenced", "quirks"})
LLM_TARGET = "llm"


class FaultError(ValueError):
    pass


@dataclass
class FaultRule:
    target: str  # action name, "*" or "llm"
    kind: str
    count: int | None = None  # remaining matches; None with a rate
    rate: float | None = None
    seconds: float = 10.0  # slow / commit_timeout delay
    retry_after_ms: int = 1000  # throttle
    code: str = "InternalError"  # success_false business code
    fired: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def make_rule(
    target: str,
    kind: str,
    *,
    count: int | None = None,
    rate: float | None = None,
    seconds: float | None = None,
    retry_after_ms: int | None = None,
    code: str | None = None,
) -> FaultRule:
    target = str(target or "").strip()
    kind = ALIASES.get(str(kind).strip().lower(), str(kind).strip().lower())
    if not target:
        raise FaultError("a fault needs an action (or '*' or 'llm')")
    allowed = LLM_KINDS if target == LLM_TARGET else RPC_KINDS
    if kind not in allowed:
        raise FaultError(f"unknown fault kind {kind!r} for {target!r}; allowed: {', '.join(sorted(allowed))}")
    if kind in AFTER_COMMIT_KINDS and target not in {"AssignJobs", "CreateJobGroup", "*"}:
        raise FaultError(f"{kind} applies to AssignJobs or CreateJobGroup")
    if count is not None and rate is not None:
        raise FaultError("give either count or rate, not both")
    if rate is not None:
        rate = float(rate)
        if not 0.0 <= rate <= 1.0:
            raise FaultError("rate must be within [0, 1]")
    else:
        count = 1 if count is None else int(count)
        if count < 1:
            raise FaultError("count must be >= 1")
    rule = FaultRule(target=target, kind=kind, count=count, rate=rate)
    if seconds is not None:
        rule.seconds = max(0.0, float(seconds))
    if retry_after_ms is not None:
        rule.retry_after_ms = max(0, int(retry_after_ms))
    if code:
        rule.code = str(code)
    return rule


def parse_cli_fault(text: str) -> FaultRule:
    """``ACTION:KIND[:count|rate[:seconds]]`` — ``AssignJobs:throttle:3``, ``*:unavailable:0.1``, ``*:slow:1:20``.

    The third part is a count when it is a whole number >= 1, else a rate.
    """
    parts = text.split(":")
    if len(parts) < 2 or len(parts) > 4:
        raise FaultError(f"fault must be ACTION:KIND[:count|rate[:seconds]], got {text!r}")
    count: int | None = None
    rate: float | None = None
    if len(parts) >= 3 and parts[2]:
        try:
            number = float(parts[2])
        except ValueError:
            raise FaultError(f"bad count/rate in {text!r}")
        if number >= 1 and number.is_integer() and "." not in parts[2]:
            count = int(number)
        else:
            rate = number
    seconds = float(parts[3]) if len(parts) == 4 and parts[3] else None
    return make_rule(parts[0], parts[1], count=count, rate=rate, seconds=seconds)


class FaultInjector:
    def __init__(self, seed: int) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(f"faults-{seed}")
        self._rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def list(self) -> list[dict]:
        with self._lock:
            return [rule.to_dict() for rule in self._rules]

    def match(self, target: str, *, after_commit: bool | None = None) -> FaultRule | None:
        """The first rule that fires for this request (consuming one count), or None.

        ``after_commit``: None matches any kind; True only after-commit kinds; False only the others.
        """
        with self._lock:
            for rule in list(self._rules):
                if rule.target != target and not (rule.target == "*" and target != LLM_TARGET):
                    continue
                if after_commit is not None and (rule.kind in AFTER_COMMIT_KINDS) != after_commit:
                    continue
                if rule.kind in AFTER_COMMIT_KINDS and target not in {"AssignJobs", "CreateJobGroup"}:
                    continue
                if rule.rate is not None:
                    if self._rng.random() >= rule.rate:
                        continue
                else:
                    assert rule.count is not None
                    rule.count -= 1
                    if rule.count <= 0:
                        self._rules.remove(rule)
                rule.fired += 1
                return rule
            return None
