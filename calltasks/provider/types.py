"""Typed results of the OutboundBot client (reference/outboundbot-api.md §2).

Every result is parsed defensively from the provider's PascalCase JSON: unknown status values are kept as
strings, missing optional fields become ``None`` or empty, times (epoch milliseconds) become aware UTC
datetimes, durations become seconds. The raw dict is kept on ``.raw`` for debugging.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any
from urllib.parse import parse_qs, urlsplit

# --- parsing helpers -----------------------------------------------------------------------------


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    """A list, also when the provider wraps it (``{"List": [...]}``) or returns a single object or a JSON string."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return [value] if value else []
        return decoded if isinstance(decoded, list) else [decoded]
    if isinstance(value, dict):
        for key in ("List", "list"):
            if isinstance(value.get(key), list):
                return value[key]
        return [value]
    return [value]


def _str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text != "" else None


def _int(value: Any) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def _bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    text = str(value).strip().lower()
    if text in {"true", "1", "yes"}:
        return True
    if text in {"false", "0", "no"}:
        return False
    return None


def ms_to_datetime(value: Any) -> datetime | None:
    """Epoch milliseconds (int or numeric string) → aware UTC datetime; anything unreadable → None."""
    ms = _int(value)
    if ms is None or ms <= 0:
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _seconds_from_ms(value: Any) -> int | None:
    ms = _int(value)
    return None if ms is None else round(ms / 1000)


def _extras(value: Any) -> dict[str, str]:
    """``[{Key, Value}]`` (or ``{key: value}``) → ``{key: value}``."""
    if isinstance(value, dict) and not ({"Key", "key"} & value.keys()):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    result: dict[str, str] = {}
    for item in _list(value):
        if not isinstance(item, dict):
            continue
        key = item.get("Key", item.get("key"))
        if key is None:
            continue
        val = item.get("Value", item.get("value"))
        result[str(key)] = "" if val is None else str(val)
    return result


def _first_contact(raw: Mapping) -> dict:
    contact = raw.get("Contact")
    if isinstance(contact, dict):
        return contact
    contacts = _list(raw.get("Contacts"))
    return contacts[0] if contacts and isinstance(contacts[0], dict) else {}


# --- requests ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobSpec:
    """One job for AssignJobs: one contact (lead) with our reference id and optional script variables."""

    phone_number: str
    reference_id: str
    name: str = ""
    extras: dict[str, str] = field(default_factory=dict)

    def to_jobs_json(self) -> dict:
        contact: dict[str, str] = {"phoneNumber": self.phone_number, "referenceId": self.reference_id}
        if self.name:
            contact["name"] = self.name
        job: dict[str, Any] = {"contacts": [contact]}
        if self.extras:
            job["extras"] = [{"key": str(k), "value": "" if v is None else str(v)} for k, v in self.extras.items()]
        return job

    def __repr__(self) -> str:  # never print a full phone number
        from dcc_project.phones import mask_phone

        return f"JobSpec(phone_number={mask_phone(self.phone_number)!r}, reference_id={self.reference_id!r})"


# --- job groups -------------------------------------------------------------------------------------------


@dataclass
class JobGroupProgress:
    total_jobs: int | None = None
    total_completed: int | None = None
    scheduling: int | None = None
    executing: int | None = None
    paused: int | None = None
    failed: int | None = None
    cancelled: int | None = None
    total_not_answered: int | None = None
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, raw: Any) -> JobGroupProgress | None:
        if not isinstance(raw, dict) or not raw:
            return None

        def pick(*names: str) -> int | None:
            for name in names:
                if raw.get(name) is not None:
                    return _int(raw.get(name))
            return None

        return cls(
            total_jobs=pick("TotalJobs"),
            total_completed=pick("TotalCompleted", "TotalCompletedNum"),
            scheduling=pick("Scheduling", "SchedulingNum"),
            executing=pick("Executing", "ExecutingNum"),
            paused=pick("Paused", "PausedNum"),
            failed=pick("Failed", "FailedNum"),
            cancelled=pick("Cancelled", "CancelledNum"),
            total_not_answered=pick("TotalNotAnswered", "TotalNotAnsweredNum"),
            raw=raw,
        )


@dataclass
class JobGroup:
    job_group_id: str
    name: str | None = None
    description: str | None = None
    status: str | None = None
    script_id: str | None = None
    scenario_id: str | None = None
    script_name: str | None = None
    calling_numbers: list[str] = field(default_factory=list)
    strategy: dict = field(default_factory=dict)
    ringing_duration: int | None = None
    priority: str | None = None
    creation_time: datetime | None = None
    modify_time: datetime | None = None
    progress: JobGroupProgress | None = None
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, raw: Any) -> JobGroup:
        raw = _dict(raw)
        return cls(
            job_group_id=_str(raw.get("JobGroupId")) or "",
            name=_str(raw.get("JobGroupName")),
            description=_str(raw.get("JobGroupDescription")),
            status=_str(raw.get("Status")),
            script_id=_str(raw.get("ScriptId")) or _str(raw.get("ScenarioId")),
            scenario_id=_str(raw.get("ScenarioId")),
            script_name=_str(raw.get("ScriptName")),
            calling_numbers=[str(n) for n in _list(raw.get("CallingNumbers")) if n is not None],
            strategy=_dict(raw.get("Strategy")),
            ringing_duration=_int(raw.get("RingingDuration")),
            priority=_str(raw.get("Priority")),
            creation_time=ms_to_datetime(raw.get("CreationTime")),
            modify_time=ms_to_datetime(raw.get("ModifyTime")),
            progress=JobGroupProgress.from_api(raw.get("Progress")),
            raw=raw,
        )


@dataclass
class JobGroupPage:
    page_number: int
    page_size: int
    total_count: int
    job_groups: list[JobGroup]
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, raw: Any) -> JobGroupPage:
        raw = _dict(raw)
        return cls(
            page_number=_int(raw.get("PageNumber")) or 0,
            page_size=_int(raw.get("PageSize")) or 0,
            total_count=_int(raw.get("TotalCount")) or 0,
            job_groups=[JobGroup.from_api(g) for g in _list(raw.get("List")) if isinstance(g, dict)],
            raw=raw,
        )


@dataclass
class AssignJobsResult:
    job_group_id: str
    job_ids: list[str]
    raw: dict = field(default_factory=dict, repr=False)


# --- jobs with results (QueryJobsWithResult) ------------------------------------------------------------


@dataclass
class TaskSummary:
    """``LatestTask`` of QueryJobsWithResult: the latest call attempt of a job."""

    status: str | None = None
    status_name: str | None = None
    end_reason: str | None = None
    call_time: datetime | None = None
    duration_seconds: int | None = None
    has_answered: bool | None = None
    hang_up_direction: str | None = None
    calling_number: str | None = None
    extras: dict[str, str] = field(default_factory=dict)
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, raw: Any) -> TaskSummary | None:
        if not isinstance(raw, dict) or not raw:
            return None
        # CallDuration is milliseconds (example 40000), CallDurationDisplay is seconds (example "40").
        duration = _int(raw.get("CallDurationDisplay"))
        if duration is None:
            duration = _seconds_from_ms(raw.get("CallDuration"))
        return cls(
            status=_str(raw.get("Status")),
            status_name=_str(raw.get("StatusName")),
            end_reason=_str(raw.get("TaskEndReason", raw.get("EndReason"))),
            call_time=ms_to_datetime(raw.get("CallTime")),
            duration_seconds=duration,
            has_answered=_bool(raw.get("HasAnswered")),
            hang_up_direction=_str(raw.get("HangUpDirection")),
            calling_number=_str(raw.get("CallingNumber")),
            extras=_extras(raw.get("Extras")),
            raw=raw,
        )


@dataclass
class JobResult:
    job_id: str
    status: str | None = None
    failure_reason: str | None = None
    reference_id: str | None = None
    phone_number: str | None = field(default=None, repr=False)  # personal data: kept out of repr
    latest_task: TaskSummary | None = None
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, raw: Any) -> JobResult:
        raw = _dict(raw)
        latest = _dict(raw.get("LatestTask"))
        contact = _dict(latest.get("Contact")) or _first_contact(raw)
        return cls(
            job_id=_str(raw.get("Id", raw.get("JobId"))) or "",
            status=_str(raw.get("Status")),
            failure_reason=_str(raw.get("JobFailureReason", raw.get("FailureReason"))),
            reference_id=_str(contact.get("ReferenceId")) or _str(raw.get("ReferenceId")),
            phone_number=_str(contact.get("PhoneNumber")),
            latest_task=TaskSummary.from_api(latest),
            raw=raw,
        )


@dataclass
class JobsPage:
    page_number: int
    page_size: int
    row_count: int
    page_count: int
    jobs: list[JobResult]
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, raw: Any) -> JobsPage:
        raw = _dict(raw)
        page_size = _int(raw.get("PageSize")) or 0
        row_count = _int(raw.get("RowCount")) or 0
        page_count = _int(raw.get("PageCount"))
        if page_count is None:
            page_count = -(-row_count // page_size) if page_size else 0
        return cls(
            page_number=_int(raw.get("PageNumber")) or 0,
            page_size=page_size,
            row_count=row_count,
            page_count=page_count,
            jobs=[JobResult.from_api(j) for j in _list(raw.get("List")) if isinstance(j, dict)],
            raw=raw,
        )


# --- job details (DescribeJob / ListJobs / ListJobsByGroup) ------------------------------------------


def _conversation_turn(raw: dict) -> dict:
    return {
        "speaker": _str(raw.get("Speaker")),
        "script": raw.get("Script") if raw.get("Script") is not None else "",
        "timestamp": ms_to_datetime(raw.get("Timestamp")),
        "sequence_id": _str(raw.get("SequenceId")),
        "action": _str(raw.get("Action")),
    }


def _sequence_key(turn: dict) -> tuple:
    seq = _int(turn.get("sequence_id"))
    ts = turn.get("timestamp")
    return (ts is None, ts or datetime.min.replace(tzinfo=UTC), seq if seq is not None else 0)


@dataclass
class CallAttempt:
    """One provider Task (one call attempt) of a job."""

    task_id: str
    status: str | None = None
    end_reason: str | None = None
    planed_time: datetime | None = None
    actual_time: datetime | None = None
    end_time: datetime | None = None
    calling_number: str | None = None
    called_number: str | None = field(default=None, repr=False)
    duration_seconds: int | None = None
    hang_up_direction: str | None = None
    raw: dict = field(default_factory=dict, repr=False)

    @cached_property
    def conversation(self) -> list[dict]:
        """The transcript as typed turns in order, parsed on first use (the sync stores the raw turns)."""
        turns = [_conversation_turn(t) for t in _list(self.raw.get("Conversation")) if isinstance(t, dict)]
        turns.sort(key=_sequence_key)
        return turns

    @classmethod
    def from_api(cls, raw: Any) -> CallAttempt:
        raw = _dict(raw)
        actual = ms_to_datetime(raw.get("ActualTime"))
        end = ms_to_datetime(raw.get("EndTime"))
        contact = _dict(raw.get("Contact"))
        return cls(
            task_id=_str(raw.get("TaskId", raw.get("Id"))) or "",
            status=_str(raw.get("Status")),
            end_reason=_str(raw.get("EndReason")),
            planed_time=ms_to_datetime(raw.get("PlanedTime")),
            actual_time=actual,
            end_time=end,
            calling_number=_str(raw.get("CallingNumber")),
            called_number=_str(raw.get("CalledNumber")) or _str(contact.get("PhoneNumber")),
            duration_seconds=_attempt_duration(raw, actual, end),
            hang_up_direction=_str(raw.get("HangUpDirection")),
            raw=raw,
        )


def _attempt_duration(raw: dict, actual: datetime | None, end: datetime | None) -> int | None:
    """Talk time in seconds.

    ``Duration`` is documented as "not returned" (the data sits in the last conversation entry's
    ``ActionParams``); when present it is seconds. Otherwise read ``ActionParams``, then fall back to
    ``EndTime - ActualTime``.
    """
    duration = _int(raw.get("Duration"))
    if duration is not None:
        return duration
    for turn in reversed(_list(raw.get("Conversation"))):
        params = turn.get("ActionParams") if isinstance(turn, dict) else None
        if isinstance(params, str):
            try:
                params = json.loads(params)
            except ValueError:
                params = None
        if isinstance(params, dict):
            for key in ("duration", "Duration", "callDuration"):
                value = _int(params.get(key))
                if value is not None:
                    return round(value / 1000) if value > 100_000 else value
    if actual and end and end >= actual:
        return round((end - actual).total_seconds())
    return None


def _attempt_sort_key(attempt: CallAttempt) -> tuple:
    moment = attempt.planed_time or attempt.actual_time or attempt.end_time
    return (moment is None, moment or datetime.min.replace(tzinfo=UTC), attempt.task_id)


@dataclass
class JobDetail:
    job_id: str
    job_group_id: str | None = None
    reference_id: str | None = None
    status: str | None = None
    failure_reason: str | None = None
    called_number: str | None = field(default=None, repr=False)
    phone_number: str | None = field(default=None, repr=False)  # personal data: kept out of repr
    summary: list[dict] = field(default_factory=list)
    extras: dict[str, str] = field(default_factory=dict)
    tasks: list[CallAttempt] = field(default_factory=list)
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def latest_attempt(self) -> CallAttempt | None:
        return self.tasks[-1] if self.tasks else None

    @classmethod
    def from_api(cls, raw: Any) -> JobDetail:
        raw = _dict(raw)
        contact = _first_contact(raw)
        tasks = [CallAttempt.from_api(t) for t in _list(raw.get("Tasks")) if isinstance(t, dict)]
        tasks.sort(key=_attempt_sort_key)
        summary = [
            {
                "name": _str(item.get("SummaryName")),
                "content": item.get("Content"),
                "category": _str(item.get("Category")),
            }
            for item in _list(raw.get("Summary"))
            if isinstance(item, dict)
        ]
        return cls(
            job_id=_str(raw.get("JobId", raw.get("Id"))) or "",
            job_group_id=_str(raw.get("JobGroupId")),
            reference_id=_str(raw.get("ReferenceId")) or _str(contact.get("ReferenceId")),
            status=_str(raw.get("Status")),
            failure_reason=_str(raw.get("FailureReason", raw.get("JobFailureReason"))),
            called_number=_str(raw.get("CalledNumber")) or _str(contact.get("PhoneNumber")),
            # The contact's number is the full one (CalledNumber may be masked by the provider).
            phone_number=_str(contact.get("PhoneNumber")) or _str(raw.get("CalledNumber")),
            summary=summary,
            extras=_extras(raw.get("Extras")),
            tasks=tasks,
            raw=raw,
        )


@dataclass
class JobListPage:
    """ListJobsByGroup: plain job list (no call results); note ``TotalCount`` instead of ``RowCount``."""

    page_number: int
    page_size: int
    total_count: int
    jobs: list[JobDetail]
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, raw: Any) -> JobListPage:
        raw = _dict(raw)
        return cls(
            page_number=_int(raw.get("PageNumber")) or 0,
            page_size=_int(raw.get("PageSize")) or 0,
            total_count=_int(raw.get("TotalCount")) or 0,
            jobs=[JobDetail.from_api(j) for j in _list(raw.get("List")) if isinstance(j, dict)],
            raw=raw,
        )


# --- recordings -----------------------------------------------------------------------------------------


@dataclass
class Recording:
    url: str
    file_name: str | None = None
    expires_at: datetime | None = None
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, raw: Any) -> Recording:
        raw = _dict(raw)
        url = _str(raw.get("SignatureUrl")) or ""
        expires_at = None
        if url:
            values = parse_qs(urlsplit(url).query).get("Expires") or []
            seconds = _int(values[0]) if values else None
            if seconds:
                try:
                    expires_at = datetime.fromtimestamp(seconds, tz=UTC)
                except (OverflowError, OSError, ValueError):
                    expires_at = None
        return cls(url=url, file_name=_str(raw.get("FileName")), expires_at=expires_at, raw=raw)
