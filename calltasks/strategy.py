"""Calling strategy of a task (working-time windows in local time, attempts, interval) → StrategyJson."""

from __future__ import annotations

import re

from django.conf import settings
from django.utils.translation import gettext as _

from calltasks.services.errors import ValidationFailed

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*-\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")


def _hms(h: str, m: str, s: str | None) -> str:
    hour, minute, second = int(h), int(m), int(s or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ValidationFailed(_("Invalid time %(time)s.") % {"time": f"{h}:{m}"})
    return f"{hour:02d}:{minute:02d}:{second:02d}"


def parse_windows(text: str) -> list[dict[str, str]]:
    """``"09:00-12:00,13:30-20:00"`` → ``[{"beginTime": "09:00:00", "endTime": "12:00:00"}, …]``."""
    windows = []
    for chunk in filter(None, (part.strip() for part in text.split(","))):
        match = _WINDOW.match(chunk)
        if not match:
            raise ValidationFailed(
                _("Invalid working-time window %(window)s (expected HH:MM-HH:MM).") % {"window": chunk}
            )
        begin = _hms(*match.group(1, 2, 3))
        end = _hms(*match.group(4, 5, 6))
        if end <= begin:
            raise ValidationFailed(_("The working-time window %(window)s ends before it begins.") % {"window": chunk})
        windows.append({"beginTime": begin, "endTime": end})
    return windows


def default_strategy() -> dict:
    return {
        "workingTime": parse_windows(settings.CALLTASKS_WORKING_TIME),
        "maxAttemptsPerDay": settings.CALLTASKS_MAX_ATTEMPTS_PER_DAY,
        "minAttemptInterval": settings.CALLTASKS_MIN_ATTEMPT_INTERVAL_MINUTES,
    }


def build_strategy(overrides: dict | None) -> dict:
    """The default strategy with validated overrides (``working_time`` string or ``workingTime`` list,
    ``max_attempts_per_day``, ``min_attempt_interval``)."""
    strategy = default_strategy()
    if not overrides:
        return strategy
    working = overrides.get("working_time", overrides.get("workingTime"))
    if isinstance(working, str):
        strategy["workingTime"] = parse_windows(working)
    elif isinstance(working, list):
        strategy["workingTime"] = parse_windows(
            ",".join(f"{w.get('beginTime', '')}-{w.get('endTime', '')}" for w in working if isinstance(w, dict))
        )
    attempts = overrides.get("max_attempts_per_day", overrides.get("maxAttemptsPerDay"))
    if attempts is not None:
        if not isinstance(attempts, int) or isinstance(attempts, bool) or not 1 <= attempts <= 10:
            raise ValidationFailed(_("max_attempts_per_day must be an integer from 1 to 10."))
        strategy["maxAttemptsPerDay"] = attempts
    interval = overrides.get("min_attempt_interval", overrides.get("minAttemptInterval"))
    if interval is not None:
        if not isinstance(interval, int) or isinstance(interval, bool) or not 1 <= interval <= 1440:
            raise ValidationFailed(
                _("min_attempt_interval must be an integer number of minutes from 1 to 1440.")
            )
        strategy["minAttemptInterval"] = interval
    return strategy


def provider_strategy_json(strategy: dict) -> dict:
    """The task's strategy in the provider's StrategyJson shape (lowerCamel keys)."""
    return {
        "workingTime": strategy.get("workingTime") or default_strategy()["workingTime"],
        "maxAttemptsPerDay": int(strategy.get("maxAttemptsPerDay") or settings.CALLTASKS_MAX_ATTEMPTS_PER_DAY),
        "minAttemptInterval": int(strategy.get("minAttemptInterval") or settings.CALLTASKS_MIN_ATTEMPT_INTERVAL_MINUTES),
        "repeatBy": "Once",
    }
