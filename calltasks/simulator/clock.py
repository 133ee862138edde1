"""Virtual clock: virtual time = start + real elapsed × speed (+ explicit advances)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta, timezone

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")  # no DST in China: a fixed offset is exact


class VirtualClock:
    """Thread-safe virtual clock in epoch seconds (float)."""

    def __init__(self, *, start: float | None = None, speed: float = 1.0) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self._lock = threading.Lock()
        self._base_virtual = time.time() if start is None else float(start)
        self._base_real = time.monotonic()
        self._speed = float(speed)

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> float:
        with self._lock:
            return self._base_virtual + (time.monotonic() - self._base_real) * self._speed

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def now_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now(), tz=UTC)

    def _rebase(self) -> None:
        real = time.monotonic()
        self._base_virtual += (real - self._base_real) * self._speed
        self._base_real = real

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("the clock never goes backwards")
        with self._lock:
            self._rebase()
            self._base_virtual += seconds
            return self._base_virtual

    def set_speed(self, speed: float) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        with self._lock:
            self._rebase()
            self._speed = float(speed)

    def set_time(self, epoch_seconds: float) -> None:
        """Jump forward to an absolute virtual time (never backwards)."""
        with self._lock:
            self._rebase()
            if epoch_seconds < self._base_virtual:
                raise ValueError("the clock never goes backwards")
            self._base_virtual = float(epoch_seconds)

    def describe(self) -> dict[str, object]:
        now = self.now()
        return {
            "now": datetime.fromtimestamp(now, tz=SHANGHAI).isoformat(),
            "now_ms": int(now * 1000),
            "speed": self._speed,
        }


def parse_start_time(value: object) -> float | None:
    """Accept None, epoch seconds, a datetime or an ISO string (naive = Asia/Shanghai)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return float(value)
    dt = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=SHANGHAI)
    return dt.timestamp()


def today_at_shanghai(hour: int, minute: int = 0) -> float:
    """Epoch seconds of today's (real Shanghai date) ``hour:minute`` in Asia/Shanghai."""
    today = datetime.now(SHANGHAI).date()
    return datetime(today.year, today.month, today.day, hour, minute, tzinfo=SHANGHAI).timestamp()
