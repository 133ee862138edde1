"""Serializer fields shared by the seed endpoints and the REST resources."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from calltasks.selectors import PENDING
from followups.selectors import DateRange

LOCAL_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
#: Accepted calendar days: the local-day bounds of 0001-01-01 / 9999-12-31 would overflow when converted to UTC.
MIN_LOCAL_DATE = dt.date(1900, 1, 1)
MAX_LOCAL_DATE = dt.date(2999, 12, 31)


class LocalDateTimeField(serializers.DateTimeField):
    """Read-only ``YYYY-MM-DD HH:MM:SS`` in the local time zone (Asia/Shanghai), as the seeds show times."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        kwargs.setdefault("format", LOCAL_DATETIME_FORMAT)
        super().__init__(**kwargs)


_LOCAL_DATETIME = LocalDateTimeField()


def local_datetime_text(value) -> str | None:
    """What ``LocalDateTimeField`` shows for ``value``, for serializers that build their dict directly.

    An aware date-time (what the database returns) is converted to the current time zone and formatted, as
    DRF does; anything else goes through the field itself.
    """
    if not value:
        return None
    if settings.USE_TZ and isinstance(value, dt.datetime) and timezone.is_aware(value):
        try:
            return value.astimezone(timezone.get_current_timezone()).strftime(LOCAL_DATETIME_FORMAT)
        except OverflowError:
            pass
    return _LOCAL_DATETIME.to_representation(value)


def parse_local_date(value) -> dt.date:
    """``2025-01-31`` (or a date-time whose calendar day is taken) → a date in 1900–2999; ``ValueError`` otherwise."""
    day = _parse_day(value)
    if not MIN_LOCAL_DATE <= day <= MAX_LOCAL_DATE:
        raise ValueError(value)
    return day


def _parse_day(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise ValueError(value)
    text = value.strip()
    if len(text) >= 10:
        head = text[:10]
        rest = text[10:]
        if rest and rest[0] not in " T":
            raise ValueError(value)
        return dt.date.fromisoformat(head)
    raise ValueError(value)


@extend_schema_field(OpenApiTypes.DATE)
class LocalDateField(serializers.Field):
    """A local calendar day: ``YYYY-MM-DD`` (a ``YYYY-MM-DD HH:MM[:SS]`` value is taken as its day)."""

    default_error_messages = {"invalid": _("Enter a date as YYYY-MM-DD.")}

    def to_internal_value(self, data):
        if data in ("", None):
            return None
        try:
            return parse_local_date(data)
        except ValueError:
            self.fail("invalid")

    def to_representation(self, value):
        return value.isoformat() if value else None


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "example": "2025-01-01,2025-01-31", "description": "start,end (either may be empty)"},
            {
                "type": "array",
                "items": {"type": "string", "format": "date", "nullable": True},
                "minItems": 2,
                "maxItems": 2,
            },
            {
                "type": "object",
                "properties": {
                    "start": {"type": "string", "format": "date", "nullable": True},
                    "end": {"type": "string", "format": "date", "nullable": True},
                },
            },
        ]
    }
)
class DateRangeField(serializers.Field):
    """A local calendar-day range with an inclusive end: ``"start,end"``, ``[start, end]`` or ``{"start", "end"}``.

    Either end may be empty (open range); both empty is rejected.
    """

    default_error_messages = {
        "invalid": _('Enter a range as "YYYY-MM-DD,YYYY-MM-DD", a [start, end] list or an object with start and end.'),
        "empty": _("A date range needs a start or an end."),
        "order": _("The start date is after the end date."),
    }

    def to_internal_value(self, data) -> DateRange:
        if isinstance(data, str):
            parts = [part.strip() for part in data.split(",")]
            if len(parts) != 2:
                self.fail("invalid")
            start, end = parts
        elif isinstance(data, (list, tuple)):
            if len(data) != 2:
                self.fail("invalid")
            start, end = data
        elif isinstance(data, dict):
            if set(data) - {"start", "end"}:
                self.fail("invalid")
            start, end = data.get("start"), data.get("end")
        else:
            self.fail("invalid")
        try:
            start_date = parse_local_date(start) if start not in (None, "") else None
            end_date = parse_local_date(end) if end not in (None, "") else None
        except ValueError:
            self.fail("invalid")
        if start_date is None and end_date is None:
            self.fail("empty")
        if start_date and end_date and start_date > end_date:
            self.fail("order")
        return DateRange(start=start_date, end=end_date)

    def to_representation(self, value: DateRange):
        return {
            "start": value.start.isoformat() if value.start else None,
            "end": value.end.isoformat() if value.end else None,
        }


@extend_schema_field({"oneOf": [{"type": "integer", "enum": [0, 1, 2]}, {"type": "string", "enum": ["pending"]}]})
class InterestFilterField(serializers.Field):
    """``0`` 无法判断, ``1`` 有意向, ``2`` 无意向, ``"pending"`` 待跟进 (not judged yet)."""

    default_error_messages = {"invalid": _('Interest must be 0, 1, 2 or "pending".')}

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, str):
            text = data.strip().lower()
            if text == PENDING:
                return PENDING
            if text in {"0", "1", "2"}:
                return int(text)
            self.fail("invalid")
        if isinstance(data, int) and data in (0, 1, 2):
            return data
        self.fail("invalid")

    def to_representation(self, value):
        return value
