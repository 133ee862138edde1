"""Job group strategy (StrategyJson / RecallStrategyJson): parsing, validation and dial windows."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from calltasks.simulator.clock import SHANGHAI

_HHMMSS = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
DEFAULT_MAX_ATTEMPTS_PER_DAY = 3
DEFAULT_MIN_ATTEMPT_INTERVAL_MINUTES = 10
_MAX_SCHEDULING_STEPS = 2000


class StrategyError(ValueError):
    """An invalid strategy value; the message names the field."""


@dataclass(frozen=True)
class Window:
    begin: int  # seconds since local midnight
    end: int  # exclusive; may equal 86400

    def as_response(self) -> dict[str, str]:
        return {"BeginTime": _fmt(self.begin), "EndTime": _fmt(self.end)}


@dataclass
class Strategy:
    working_time: list[Window] = field(default_factory=list)
    max_attempts_per_day: int = DEFAULT_MAX_ATTEMPTS_PER_DAY
    min_attempt_interval_minutes: float = DEFAULT_MIN_ATTEMPT_INTERVAL_MINUTES
    start_time: float | None = None  # epoch seconds
    end_time: float | None = None
    repeat_by: str = "Once"
    repeat_days: list[str] = field(default_factory=list)
    routing_strategy: str = "None"
    repeatable: bool = False
    name: str = ""
    strategy_id: str = ""

    @property
    def multi_day(self) -> bool:
        """Attempts continue on later days only for a repeating strategy with an end time."""
        return self.repeat_by.lower() in {"day", "week", "month"} and self.end_time is not None

    def as_response(self) -> dict[str, object]:
        return {
            "StrategyId": self.strategy_id,
            "StrategyName": self.name,
            "StrategyDescription": "",
            "Type": "Repeatable" if self.repeatable else "Once",
            "StartTime": int(self.start_time * 1000) if self.start_time is not None else 0,
            "EndTime": int(self.end_time * 1000) if self.end_time is not None else 0,
            "RepeatBy": self.repeat_by,
            "RepeatDays": list(self.repeat_days),
            "WorkingTime": [w.as_response() for w in self.working_time],
            "MaxAttemptsPerDay": self.max_attempts_per_day,
            "MinAttemptInterval": int(self.min_attempt_interval_minutes),
            "RoutingStrategy": self.routing_strategy,
            "Repeatable": self.repeatable,
            "IsTemplate": False,
            "Customized": "",
            "FollowUpStrategy": "",
        }

    # --- scheduling ---------------------------------------------------------------------------
    def in_window(self, t: float) -> bool:
        if not self.working_time:
            return True
        sec = _local_seconds(t)
        return any(w.begin <= sec < w.end for w in self.working_time)

    def next_window_start(self, t: float) -> float:
        """Earliest time >= t inside a working window (t itself when there are no windows)."""
        if self.in_window(t):
            return t
        local = datetime.fromtimestamp(t, tz=SHANGHAI)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        sec = _local_seconds(t)
        later = [w.begin for w in self.working_time if w.begin > sec]
        if later:
            return (midnight + timedelta(seconds=min(later))).timestamp()
        first = min(w.begin for w in self.working_time)
        return (midnight + timedelta(days=1, seconds=first)).timestamp()


@dataclass(frozen=True)
class RecallStrategy:
    empty_number_ignore: bool = False
    in_arrears_ignore: bool = False
    out_of_service_ignore: bool = False

    def as_response(self) -> dict[str, bool]:
        return {
            "EmptyNumberIgnore": self.empty_number_ignore,
            "InArrearsIgnore": self.in_arrears_ignore,
            "OutOfServiceIgnore": self.out_of_service_ignore,
        }


def local_day(t: float) -> str:
    return datetime.fromtimestamp(t, tz=SHANGHAI).date().isoformat()


def next_local_midnight(t: float) -> float:
    local = datetime.fromtimestamp(t, tz=SHANGHAI)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight + timedelta(days=1)).timestamp()


def _local_seconds(t: float) -> int:
    local = datetime.fromtimestamp(t, tz=SHANGHAI)
    return local.hour * 3600 + local.minute * 60 + local.second


def _fmt(seconds: int) -> str:
    if seconds >= 86400:
        return "24:00:00"
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _parse_hms(value: object, field_name: str) -> int:
    match = _HHMMSS.match(str(value).strip()) if value is not None else None
    if not match:
        raise StrategyError(f"{field_name} must be HH:mm:ss, got {value!r}")
    hours, minutes, seconds = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
    if hours > 24 or minutes > 59 or seconds > 59 or (hours == 24 and (minutes or seconds)):
        raise StrategyError(f"{field_name} is not a valid time of day: {value!r}")
    return hours * 3600 + minutes * 60 + seconds


def _number(value: object, field_name: str, *, minimum: float) -> float:
    if isinstance(value, bool):
        raise StrategyError(f"{field_name} must be a number")
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        raise StrategyError(f"{field_name} must be a number, got {value!r}")
    if number < minimum:
        raise StrategyError(f"{field_name} must be >= {minimum:g}")
    return number


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"true", "1", "yes"}


def parse_strategy(data: object) -> Strategy:
    """StrategyJson (already JSON-decoded; lowerCamel keys) → :class:`Strategy`."""
    if data is None:
        return Strategy()
    if not isinstance(data, dict):
        raise StrategyError("StrategyJson must be a JSON object")
    strategy = Strategy()
    windows = data.get("workingTime")
    if windows is not None:
        if not isinstance(windows, list):
            raise StrategyError("workingTime must be a list of {beginTime, endTime}")
        for index, item in enumerate(windows):
            if not isinstance(item, dict):
                raise StrategyError(f"workingTime[{index}] must be an object")
            begin = _parse_hms(item.get("beginTime"), f"workingTime[{index}].beginTime")
            end = _parse_hms(item.get("endTime"), f"workingTime[{index}].endTime")
            if end <= begin:
                raise StrategyError(f"workingTime[{index}] ends before it begins")
            strategy.working_time.append(Window(begin, end))
    if data.get("maxAttemptsPerDay") not in (None, ""):
        strategy.max_attempts_per_day = int(_number(data["maxAttemptsPerDay"], "maxAttemptsPerDay", minimum=1))
    if data.get("minAttemptInterval") not in (None, ""):
        strategy.min_attempt_interval_minutes = _number(data["minAttemptInterval"], "minAttemptInterval", minimum=0)
    for key, attr in (("startTime", "start_time"), ("endTime", "end_time")):
        if data.get(key) not in (None, "", 0, "0"):
            setattr(strategy, attr, _number(data[key], key, minimum=0) / 1000.0)
    if strategy.start_time and strategy.end_time and strategy.end_time <= strategy.start_time:
        raise StrategyError("endTime must be after startTime")
    repeat_by = data.get("repeatBy")
    if repeat_by not in (None, ""):
        if str(repeat_by).lower() not in {"once", "day", "week", "month"}:
            raise StrategyError("repeatBy must be Once, Day, Week or Month")
        strategy.repeat_by = str(repeat_by).capitalize()
    repeat_days = data.get("repeatDays")
    if isinstance(repeat_days, list):
        strategy.repeat_days = [str(d) for d in repeat_days]
    if data.get("routingStrategy"):
        strategy.routing_strategy = str(data["routingStrategy"])
    if "repeatable" in data:
        strategy.repeatable = _bool(data["repeatable"])
    strategy.name = str(data.get("name") or "")
    strategy.strategy_id = str(data.get("id") or "")
    return strategy


def parse_recall_strategy(data: object) -> RecallStrategy:
    if data is None:
        return RecallStrategy()
    if not isinstance(data, dict):
        raise StrategyError("RecallStrategyJson must be a JSON object")
    return RecallStrategy(
        empty_number_ignore=_bool(data.get("emptyNumberIgnore", False)),
        in_arrears_ignore=_bool(data.get("inArrearsIgnore", False)),
        out_of_service_ignore=_bool(data.get("outOfServiceIgnore", False)),
    )


def next_dial_time(
    strategy: Strategy, t: float, attempts_by_day: dict[str, int], total_attempts: int
) -> tuple[float | None, str | None]:
    """Earliest time >= t the strategy allows a new attempt, or (None, failure reason).

    Single-day strategies cap the total at ``maxAttemptsPerDay``; repeating strategies with an end
    time cap each local day and go on until ``endTime``.
    """
    if strategy.start_time is not None:
        t = max(t, strategy.start_time)
    if not strategy.multi_day and total_attempts >= strategy.max_attempts_per_day:
        return None, "exhausted"
    for _ in range(_MAX_SCHEDULING_STEPS):
        if strategy.end_time is not None and t >= strategy.end_time:
            return None, "TimeUp"
        t = strategy.next_window_start(t)
        if strategy.end_time is not None and t >= strategy.end_time:
            return None, "TimeUp"
        if strategy.multi_day and attempts_by_day.get(local_day(t), 0) >= strategy.max_attempts_per_day:
            t = next_local_midnight(t)
            continue
        return t, None
    return None, "TimeUp"
