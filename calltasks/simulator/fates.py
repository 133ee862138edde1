"""Each job's fate, derived only from hash(seed, referenceId or phone) — never from request order.

A fate is the sequence of call-attempt outcomes the job would see if the strategy allowed enough
attempts, plus what happens on the connected call (interest category, time named, transcript
availability, provider summary label). Tests can script fates (see :class:`ScriptedOutcome`).
"""

from __future__ import annotations

import hashlib
import itertools
import random
from dataclasses import dataclass, field

from calltasks.provider.statuses import TASK_STATUSES
from calltasks.simulator.dialogues import AMBIGUOUS, CATEGORIES, INTERESTED, NOT_INTERESTED, TIME_PHRASES

MAX_PLANNED_ATTEMPTS = 12

NOT_CONNECTED_MIX = (("NoAnswer", 50), ("Busy", 16), ("PoweredOff", 14), ("NotConnected", 12), ("Failed", 4), ("InArrears", 4))
CONNECTED_BY_CATEGORY: dict[str, tuple[tuple[str, int], ...]] = {
    INTERESTED: (("SucceededFinish", 70), ("SucceededTransferByIntent", 30)),
    NOT_INTERESTED: (("SucceededClientHangUp", 45), ("SucceededFinish", 35), ("SucceededClientHangUpAfterNoAnswer", 20)),
    AMBIGUOUS: (
        ("SucceededFinish", 55),
        ("SucceededChatbotHangUpAfterSilence", 15),
        ("SucceededInoInterAction", 15),
        ("SucceededChatbotHangUpAfterNoAnswer", 15),
    ),
}
SILENT_STATUSES = frozenset({"SucceededChatbotHangUpAfterSilence", "SucceededInoInterAction"})

#: Statuses that end a job at once (number unusable); others are redialled per the strategy.
TERMINAL_NOT_CONNECTED = frozenset(
    {"NotExist", "EmptyNumber", "ContactBlockList", "VerificationCancelled", "HighRiskSipCode", "OutOfServiceNoCall", "InArrearsNoCall"}
)
#: Task status → job FailureReason when the job gives up after it.
FAILURE_REASON_BY_STATUS = {
    "NoAnswer": "NoAnswer",
    "Busy": "NoAnswer",
    "PoweredOff": "NoAnswer",
    "NotConnected": "NoAnswer",
    "Failed": "CallFailed",
    "NotExist": "EmptyNumber",
    "EmptyNumber": "EmptyNumber",
    "OutOfService": "OutOfService",
    "OutOfServiceNoCall": "OutOfService",
    "InArrears": "InArrears",
    "InArrearsNoCall": "InArrears",
    "ContactBlockList": "ContactBlockList",
    "VerificationCancelled": "VerificationCancelled",
    "HighRiskSipCode": "CallFailed",
    "CallerNotRegistered": "CallFailed",
    "CallingNumberNotExist": "CallFailed",
    "PerDayCallCountLimit": "PerDayCallCountLimit",
}
TRANSCRIPT_IMMEDIATE = "immediate"
TRANSCRIPT_DELAYED = "delayed"
TRANSCRIPT_NEVER = "never"


def is_connected_status(status: str) -> bool:
    info = TASK_STATUSES.get(status)
    return bool(info and info[2]) or status.startswith("Succeeded")


@dataclass
class Fate:
    attempts: list[str]  # planned outcome per attempt; the last one repeats if more attempts happen
    interest: str = AMBIGUOUS
    time_phrase: str | None = None
    transcript: str = TRANSCRIPT_IMMEDIATE
    transcript_delay_s: float = 0.0
    summary: bool = True
    first_delay_s: float = 5.0
    scripted: bool = False
    exact: bool = False  # scripted attempts: no attempt beyond the list
    durations: list[int] = field(default_factory=list)  # talk seconds per attempt (connected) or ring seconds

    def outcome(self, index: int) -> str:
        return self.attempts[index] if index < len(self.attempts) else self.attempts[-1]

    def duration(self, index: int) -> int:
        return self.durations[index % len(self.durations)] if self.durations else 30


_CUMULATIVE: dict[tuple[tuple[str, int], ...], tuple[list[str], list[int]]] = {}


def _weighted(rng: random.Random, mix: tuple[tuple[str, int], ...]) -> str:
    table = _CUMULATIVE.get(mix)
    if table is None:
        names = [name for name, _w in mix]
        cumulative = list(itertools.accumulate(w for _n, w in mix))
        table = _CUMULATIVE.setdefault(mix, (names, cumulative))
    return rng.choices(table[0], cum_weights=table[1], k=1)[0]


def fate_seed(seed: int, key: str, salt: str = "") -> int:
    digest = hashlib.sha256(f"{seed}|{key}|{salt}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


@dataclass(frozen=True)
class FateRates:
    transcript_delay_rate: float = 0.05
    transcript_missing_rate: float = 0.01
    transcript_delay_minutes: tuple[float, float] = (5.0, 30.0)
    summary_rate: float = 0.85


def default_fate(seed: int, key: str, rates: FateRates) -> Fate:
    rng = random.Random(fate_seed(seed, key))
    roll = rng.random()
    attempts: list[str]
    if roll < 0.02:
        attempts = ["NotExist"]
    elif roll < 0.035:
        attempts = ["OutOfService"]
    elif roll < 0.35:  # never answers
        attempts = [_weighted(rng, NOT_CONNECTED_MIX) for _ in range(MAX_PLANNED_ATTEMPTS)]
    else:
        attempts = []
        for _ in range(MAX_PLANNED_ATTEMPTS):
            if rng.random() < 0.45:
                attempts.append("connected")
                break
            attempts.append(_weighted(rng, NOT_CONNECTED_MIX))
    interest = rng.choices(CATEGORIES, weights=(30, 35, 35), k=1)[0]
    if attempts[-1] == "connected":
        attempts[-1] = _weighted(rng, CONNECTED_BY_CATEGORY[interest])
        if attempts[-1] in SILENT_STATUSES:
            interest = AMBIGUOUS
    time_phrase = rng.choice(sorted(TIME_PHRASES)) if interest == INTERESTED and rng.random() < 0.6 else None
    transcript_roll = rng.random()
    if transcript_roll < rates.transcript_missing_rate:
        transcript, delay = TRANSCRIPT_NEVER, 0.0
    elif transcript_roll < rates.transcript_missing_rate + rates.transcript_delay_rate:
        low, high = rates.transcript_delay_minutes
        transcript, delay = TRANSCRIPT_DELAYED, rng.uniform(low, high) * 60
    else:
        transcript, delay = TRANSCRIPT_IMMEDIATE, 0.0
    return Fate(
        attempts=attempts,
        interest=interest,
        time_phrase=time_phrase,
        transcript=transcript,
        transcript_delay_s=delay,
        summary=rng.random() < rates.summary_rate,
        first_delay_s=rng.uniform(2, 60),
        durations=[rng.randint(25, 150) for _ in range(4)],
    )


class ScriptError(ValueError):
    pass


def scripted_fate(seed: int, key: str, spec: dict, rates: FateRates) -> Fate:
    """A fate from a test script: ``{"attempts": [...], "interest": ..., "transcript": true|false|"delayed",
    "transcript_delay_minutes": N, "summary": bool, "time_phrase": "明天下午"|null}``.

    Unspecified parts fall back to the default fate of the same key.
    """
    if not isinstance(spec, dict):
        raise ScriptError("an outcome must be an object")
    base = default_fate(seed, key, rates)
    fate = Fate(
        attempts=list(base.attempts),
        interest=base.interest,
        time_phrase=base.time_phrase,
        transcript=base.transcript,
        transcript_delay_s=base.transcript_delay_s,
        summary=base.summary,
        first_delay_s=base.first_delay_s,
        scripted=True,
        durations=base.durations,
    )
    if "attempts" in spec:
        attempts = spec["attempts"]
        if not isinstance(attempts, list) or not attempts:
            raise ScriptError("attempts must be a non-empty list of task statuses")
        for status in attempts:
            if status not in TASK_STATUSES or status in {"Executing", "Cancelled", "Terminated"}:
                raise ScriptError(f"unknown or unusable task status {status!r}")
        fate.attempts = list(attempts)
        fate.exact = True
        fate.first_delay_s = 1.0
    if "interest" in spec:
        if spec["interest"] not in CATEGORIES:
            raise ScriptError(f"interest must be one of {', '.join(CATEGORIES)}")
        fate.interest = spec["interest"]
        if fate.interest != INTERESTED:
            fate.time_phrase = None
    if "time_phrase" in spec:
        if spec["time_phrase"] is not None and spec["time_phrase"] not in TIME_PHRASES:
            raise ScriptError(f"time_phrase must be one of {', '.join(TIME_PHRASES)} or null")
        fate.time_phrase = spec["time_phrase"]
    if "transcript" in spec:
        value = spec["transcript"]
        if value is True or value == TRANSCRIPT_IMMEDIATE:
            fate.transcript, fate.transcript_delay_s = TRANSCRIPT_IMMEDIATE, 0.0
        elif value is False or value == TRANSCRIPT_NEVER:
            fate.transcript, fate.transcript_delay_s = TRANSCRIPT_NEVER, 0.0
        elif value == TRANSCRIPT_DELAYED:
            fate.transcript = TRANSCRIPT_DELAYED
            fate.transcript_delay_s = float(spec.get("transcript_delay_minutes", 10)) * 60
        else:
            raise ScriptError("transcript must be true, false, 'immediate', 'delayed' or 'never'")
    if "summary" in spec:
        fate.summary = bool(spec["summary"])
    unknown = set(spec) - {"attempts", "interest", "time_phrase", "transcript", "transcript_delay_minutes", "summary"}
    if unknown:
        raise ScriptError(f"unknown outcome keys: {', '.join(sorted(unknown))}")
    return fate


__all__ = ["Fate", "FateRates", "NOT_INTERESTED", "ScriptError", "default_fate", "scripted_fate"]
