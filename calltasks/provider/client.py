"""Production client for Alibaba Cloud Intelligent Outbound Bot (OutboundBot 2019-12-26), on ``requests``.

Wire format (reference/outboundbot-api.md §1, §4): RPC style, ``POST /``, every parameter in an
``application/x-www-form-urlencoded`` body, booleans as ``true``/``false``, lists as ``Name.1..N``, dicts and
JSON objects as JSON strings. Signed with v3 (``ACS3-HMAC-SHA256`` Authorization header) or v1 (HMAC-SHA1
``Signature`` parameter next to the business parameters); a fresh nonce, timestamp and signature per attempt.

Retry policy (reference §5), see :meth:`OutboundBotClient.call`:

- idempotent actions (reads, and Suspend/Resume/CancelJobs, idempotent in effect) are retried on connection
  errors, timeouts, malformed bodies, 5xx, ``ServiceUnavailable``, ``InternalError`` and ``Throttling*``;
- non-idempotent ``CreateJobGroup`` and ``AssignJobs`` are retried only when the request provably never reached
  the service (a failure while connecting) or was refused by throttling. A read timeout, a dropped connection,
  a 5xx or a malformed body raises ``ProviderError(ambiguous=True)`` at once: the caller reconciles
  (``find_jobs_by_reference_ids`` / ``query_jobs_with_result(query_text=referenceId)``;
  ``find_job_groups_by_name``) before sending again;
- exponential backoff with full jitter, capped by ``backoff_max_seconds``; ``x-acs-retry-after`` (milliseconds)
  is honoured on throttling, capped at ``4 × backoff_max_seconds``.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
from django.views.decorators.debug import sensitive_variables
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from calltasks.provider import signing
from calltasks.provider.errors import ProviderError
from calltasks.provider.types import (
    AssignJobsResult,
    JobDetail,
    JobGroup,
    JobGroupPage,
    JobListPage,
    JobResult,
    JobsPage,
    JobSpec,
    Recording,
)

logger = logging.getLogger(__name__)

API_VERSION = "2019-12-26"
MAX_JOBS_PER_CALL = 99
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

#: Actions that create something at the provider: never blindly retried.
NON_IDEMPOTENT_ACTIONS = frozenset({"CreateJobGroup", "AssignJobs"})
#: Actions safe to repeat (reads; Suspend/Resume/Cancel are idempotent in effect).
IDEMPOTENT_ACTIONS = frozenset(
    {
        "QueryJobsWithResult",
        "ListJobs",
        "ListJobsByGroup",
        "DescribeJob",
        "DescribeJobGroup",
        "ListJobGroups",
        "DownloadRecording",
        "SuspendJobs",
        "ResumeJobs",
        "CancelJobs",
    }
)
_RETRYABLE_CODES = frozenset({"ServiceUnavailable", "InternalError", "ServiceTimeout", "InternalServerError"})

# What an attempt's failure tells us about the request's effect at the provider.
_NOT_SENT = "not_sent"  # provably never reached the service
_REJECTED = "rejected"  # the service answered and refused it (4xx, throttling): not applied
_MAYBE_APPLIED = "maybe_applied"  # no usable answer: it may have been applied


class _AttemptError(Exception):
    def __init__(self, error: ProviderError, outcome: str, retry_after: float | None = None) -> None:
        super().__init__(error.code)
        self.error = error
        self.outcome = outcome
        self.retry_after = retry_after


def _utc_timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _form_encode(params: Mapping[str, str]) -> str:
    return "&".join(f"{signing.percent_encode(k)}={signing.percent_encode(v)}" for k, v in params.items())


def _wire_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _put(params: dict[str, str], name: str, value: Any) -> None:
    """Set a scalar parameter unless it is None."""
    if value is not None:
        params[name] = _wire_value(value)


def _put_list(params: dict[str, str], name: str, values: Iterable[Any] | None) -> None:
    """Flatten a list as ``Name.1``, ``Name.2``, …; dict items become JSON strings."""
    if values is None:
        return
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name} expects a list, not a string")
    for index, value in enumerate(values, start=1):
        params[f"{name}.{index}"] = _wire_value(value)


def _is_connect_failure(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the connection could not be established at all (nothing was sent)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3 MaxRetryError wraps the cause
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


class OutboundBotClient:
    """Signed RPC client for the OutboundBot 2019-12-26 actions the product uses."""

    def __init__(
        self,
        *,
        endpoint: str,
        instance_id: str,
        access_key_id: str,
        access_key_secret: str,
        signature_version: str = "v3",
        connect_timeout: float = 5.0,
        read_timeout: float = 15.0,
        max_retries: int = 3,
        backoff_seconds: float = 0.5,
        backoff_max_seconds: float = 8.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if signature_version not in ("v3", "v1"):
            raise ValueError("signature_version must be 'v3' or 'v1'")
        if "://" not in endpoint:
            endpoint = "https://" + endpoint
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("endpoint must be scheme://host[:port]")
        if parts.path not in ("", "/") or parts.query:
            raise ValueError("endpoint must not carry a path or query: the RPC path is always '/'")
        self.url = f"{parts.scheme}://{parts.netloc}/"
        self.host = parts.netloc
        self.instance_id = instance_id
        self.access_key_id = access_key_id
        self._secret = access_key_secret
        self.signature_version = signature_version
        self.timeout = (float(connect_timeout), float(read_timeout))
        self.max_retries = max(0, int(max_retries))
        self.backoff_seconds = max(0.0, float(backoff_seconds))
        self.backoff_max_seconds = max(0.0, float(backoff_max_seconds))
        self.session = session or requests.Session()
        self._sleep = sleep
        self._rng = rng or random.Random()

    @classmethod
    def from_settings(cls, **overrides: Any) -> OutboundBotClient:
        from django.conf import settings

        kwargs: dict[str, Any] = {
            "endpoint": settings.OUTBOUNDBOT_ENDPOINT,
            "instance_id": settings.OUTBOUNDBOT_INSTANCE_ID,
            "access_key_id": settings.ALIBABA_CLOUD_ACCESS_KEY_ID,
            "access_key_secret": settings.ALIBABA_CLOUD_ACCESS_KEY_SECRET,
            "signature_version": getattr(settings, "OUTBOUNDBOT_SIGNATURE_VERSION", "v3"),
            "connect_timeout": getattr(settings, "OUTBOUNDBOT_CONNECT_TIMEOUT", 5.0),
            "read_timeout": getattr(settings, "OUTBOUNDBOT_READ_TIMEOUT", 15.0),
            "max_retries": getattr(settings, "OUTBOUNDBOT_MAX_RETRIES", 3),
            "backoff_seconds": getattr(settings, "OUTBOUNDBOT_BACKOFF_SECONDS", 0.5),
            "backoff_max_seconds": getattr(settings, "OUTBOUNDBOT_BACKOFF_MAX_SECONDS", 8.0),
        }
        kwargs.update(overrides)
        return cls(**kwargs)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> OutboundBotClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"OutboundBotClient(url={self.url!r}, instance_id={self.instance_id!r}, signing={self.signature_version})"
        )

    # --- transport ---------------------------------------------------------------------------------------

    @sensitive_variables()
    def _signed_request(self, action: str, params: Mapping[str, str]) -> tuple[dict[str, str], bytes]:
        """Headers and body for one attempt, with a fresh nonce, timestamp and signature."""
        nonce = uuid.uuid4().hex
        timestamp = _utc_timestamp()
        if self.signature_version == "v3":
            body = _form_encode(params).encode()
            headers = {
                "host": self.host,
                "content-type": FORM_CONTENT_TYPE,
                "x-acs-action": action,
                "x-acs-version": API_VERSION,
                "x-acs-date": timestamp,
                "x-acs-signature-nonce": nonce,
                "x-acs-content-sha256": signing.sha256_hex(body),
            }
            signature, signed = signing.sign_v3(
                method="POST",
                path="/",
                query={},
                headers=headers,
                signed_headers=list(headers),
                hashed_payload=headers["x-acs-content-sha256"],
                secret=self._secret,
            )
            headers["Authorization"] = signing.v3_authorization(
                access_key_id=self.access_key_id, signed_headers=signed, signature=signature
            )
        else:
            all_params = {
                **params,
                "Action": action,
                "Version": API_VERSION,
                "Format": "JSON",
                "AccessKeyId": self.access_key_id,
                "SignatureMethod": "HMAC-SHA1",
                "SignatureVersion": "1.0",
                "SignatureNonce": nonce,
                "Timestamp": timestamp,
            }
            all_params["Signature"] = signing.sign_v1(method="POST", params=all_params, secret=self._secret)
            body = _form_encode(all_params).encode()
            headers = {"host": self.host, "content-type": FORM_CONTENT_TYPE}
        headers["accept"] = "application/json"
        return headers, body

    def _error(self, code: str, message: str = "", **kwargs: Any) -> ProviderError:
        return ProviderError(code, message, secrets=(self._secret,), **kwargs)

    def _attempt(self, action: str, params: Mapping[str, str]) -> dict:
        """One signed HTTP exchange. Returns the body on success, raises ``_AttemptError`` otherwise."""
        headers, body = self._signed_request(action, params)
        try:
            response = self.session.post(self.url, data=body, headers=headers, timeout=self.timeout)
        except requests.exceptions.ConnectTimeout:
            raise _AttemptError(
                self._error("Timeout", "connect timeout", action=action, retryable=True), _NOT_SENT
            ) from None
        except requests.exceptions.SSLError as exc:
            raise _AttemptError(
                self._error("NetworkError", f"TLS error: {type(exc).__name__}", action=action), _NOT_SENT
            ) from None
        except requests.exceptions.ConnectionError as exc:
            if _is_connect_failure(exc):
                error = self._error("NetworkError", "connection failed", action=action, retryable=True)
                raise _AttemptError(error, _NOT_SENT) from None
            error = self._error("NetworkError", "connection dropped", action=action, retryable=True)
            raise _AttemptError(error, _MAYBE_APPLIED) from None
        except requests.exceptions.Timeout:
            error = self._error("Timeout", "read timeout", action=action, retryable=True)
            raise _AttemptError(error, _MAYBE_APPLIED) from None
        except requests.exceptions.RequestException as exc:
            error = self._error("NetworkError", type(exc).__name__, action=action, retryable=True)
            raise _AttemptError(error, _MAYBE_APPLIED) from None

        status = response.status_code
        request_id = response.headers.get("x-acs-request-id")
        try:
            # orjson: a 1,000-lead task's answers are megabytes of JSON; the stdlib decoder was the largest
            # CPU cost of a sync. Invalid JSON or UTF-8 raises a ValueError (orjson.JSONDecodeError) as before.
            data = orjson.loads(response.content)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            error = self._error(
                "MalformedResponse",
                f"response body is not a JSON object ({response.headers.get('content-type', 'no content type')})",
                http_status=status,
                request_id=request_id,
                action=action,
                retryable=True,
            )
            raise _AttemptError(error, _MAYBE_APPLIED)

        request_id = str(data.get("RequestId") or request_id or "") or None
        success = data.get("Success")
        if status < 400 and success is not False and success != "false":
            return data

        code = str(data.get("Code") or f"HTTP{status}")
        message = str(data.get("Message") or "")
        throttled = code.startswith("Throttling") or status == 429
        server_side = status >= 500 or code in _RETRYABLE_CODES
        error = self._error(
            code,
            message,
            http_status=status,
            request_id=request_id,
            action=action,
            retryable=throttled or server_side,
        )
        if throttled:
            raise _AttemptError(error, _REJECTED, self._retry_after(response))
        raise _AttemptError(error, _MAYBE_APPLIED if server_side else _REJECTED)

    def _retry_after(self, response: requests.Response) -> float | None:
        """``x-acs-retry-after`` in milliseconds → seconds, capped at 4 × backoff_max_seconds."""
        value = response.headers.get("x-acs-retry-after")
        if not value:
            return None
        try:
            seconds = float(value) / 1000.0
        except ValueError:
            return None
        if seconds != seconds or seconds < 0:  # NaN or negative
            return None
        return min(seconds, self.backoff_max_seconds * 4)

    def _backoff_ceiling(self, attempt: int) -> float:
        return min(self.backoff_max_seconds, self.backoff_seconds * (2 ** (attempt - 1)))

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform(0, min(cap, base × 2^(attempt-1)))."""
        ceiling = self._backoff_ceiling(attempt)
        return self._rng.uniform(0, ceiling) if ceiling > 0 else 0.0

    def call(self, action: str, params: Mapping[str, Any] | None = None) -> dict:
        """Send one action with the retry policy of the module docstring; return the decoded body.

        ``InstanceId`` is added unless given. Raises :class:`ProviderError`.
        """
        wire: dict[str, str] = {"InstanceId": self.instance_id}
        for key, value in (params or {}).items():
            if value is not None:
                wire[key] = _wire_value(value)
        idempotent = action not in NON_IDEMPOTENT_ACTIONS
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(action, wire)
            except _AttemptError as failure:
                error = failure.error
                error.attempts = attempt
                safe_to_repeat = idempotent or failure.outcome in (_NOT_SENT, _REJECTED)
                if not (error.retryable and safe_to_repeat and attempt <= self.max_retries):
                    if not idempotent and failure.outcome == _MAYBE_APPLIED:
                        error.ambiguous = True
                    raise error from None
                delay = failure.retry_after if failure.retry_after is not None else self._backoff(attempt)
                logger.warning(
                    "OutboundBot %s attempt %d/%d failed with %s (http %s); retrying in %.2fs",
                    action,
                    attempt,
                    self.max_retries + 1,
                    error.code,
                    error.http_status if error.http_status is not None else "-",
                    delay,
                )
                self._sleep(delay)

    # --- job groups ---------------------------------------------------------------------------------------

    def create_job_group(
        self,
        *,
        name: str,
        script_id: str,
        description: str = "",
        strategy: dict | None = None,
        calling_numbers: Iterable[str] | None = None,
        recall_strategy: dict | None = None,
        ringing_duration: int | None = None,
        priority: str | None = None,
    ) -> JobGroup:
        """CreateJobGroup. NOT idempotent: on ``ambiguous`` errors look the name up with ``list_job_groups``."""
        if not name:
            raise ValueError("name is required")
        params: dict[str, str] = {}
        _put(params, "JobGroupName", name)
        _put(params, "JobGroupDescription", description or None)
        _put(params, "ScriptId", script_id)
        _put_list(params, "CallingNumber", calling_numbers)
        _put(params, "StrategyJson", strategy)
        _put(params, "RecallStrategyJson", recall_strategy)
        _put(params, "RingingDuration", ringing_duration)
        _put(params, "Priority", priority)
        data = self.call("CreateJobGroup", params)
        return JobGroup.from_api(data.get("JobGroup"))

    def describe_job_group(self, *, job_group_id: str) -> JobGroup:
        data = self.call("DescribeJobGroup", {"JobGroupId": job_group_id})
        return JobGroup.from_api(data.get("JobGroup"))

    def list_job_groups(
        self, *, search_text: str | None = None, page_number: int = 1, page_size: int = 50
    ) -> JobGroupPage:
        params: dict[str, Any] = {"PageNumber": page_number, "PageSize": page_size, "SearchText": search_text or None}
        data = self.call("ListJobGroups", params)
        return JobGroupPage.from_api(data.get("JobGroups"))

    def find_job_groups_by_name(self, name: str, *, page_size: int = 50) -> list[JobGroup]:
        """Reconcile an ambiguous CreateJobGroup: every group whose name equals ``name`` exactly."""
        found: list[JobGroup] = []
        page_number = 1
        while True:
            page = self.list_job_groups(search_text=name, page_number=page_number, page_size=page_size)
            found.extend(g for g in page.job_groups if g.name == name)
            if not page.job_groups or page_number * max(page.page_size or page_size, 1) >= page.total_count:
                return found
            page_number += 1

    # --- jobs -----------------------------------------------------------------------------------------------

    def assign_jobs(self, *, job_group_id: str, jobs: list[JobSpec]) -> AssignJobsResult:
        """AssignJobs (≤ 99 per call). NOT idempotent: on ``ambiguous`` errors look the referenceIds up first.

        Correlate the returned ids by referenceId (``iter_jobs_with_result``), never by position.
        """
        if not jobs:
            raise ValueError("jobs must not be empty")
        if len(jobs) > MAX_JOBS_PER_CALL:
            raise ValueError(f"AssignJobs accepts at most {MAX_JOBS_PER_CALL} jobs per call, got {len(jobs)}")
        params: dict[str, str] = {"JobGroupId": job_group_id}
        _put_list(params, "JobsJson", [job.to_jobs_json() for job in jobs])
        data = self.call("AssignJobs", params)
        job_ids = [str(j) for j in (data.get("JobsId") or []) if j is not None]
        return AssignJobsResult(job_group_id=str(data.get("JobGroupId") or job_group_id), job_ids=job_ids, raw=data)

    def query_jobs_with_result(
        self,
        *,
        job_group_id: str,
        page_number: int = 1,
        page_size: int = 100,
        job_status: str | None = None,
        query_text: str | None = None,
        has_answered: bool | None = None,
    ) -> JobsPage:
        params: dict[str, Any] = {
            "JobGroupId": job_group_id,
            "PageNumber": page_number,
            "PageSize": page_size,
            "JobStatusFilter": job_status,
            "QueryText": query_text,
            "HasAnsweredFilter": has_answered,
        }
        data = self.call("QueryJobsWithResult", params)
        return JobsPage.from_api(data.get("Jobs"))

    def iter_jobs_with_result(
        self,
        job_group_id: str,
        page_size: int = 100,
        *,
        job_status: str | None = None,
        query_text: str | None = None,
        has_answered: bool | None = None,
    ) -> Iterator[JobResult]:
        """Every job of the group, page by page (one request per page, pages fetched lazily)."""
        page_number = 1
        while True:
            page = self.query_jobs_with_result(
                job_group_id=job_group_id,
                page_number=page_number,
                page_size=page_size,
                job_status=job_status,
                query_text=query_text,
                has_answered=has_answered,
            )
            yield from page.jobs
            if not page.jobs or page_number >= page.page_count:
                return
            page_number += 1

    def list_jobs_by_group(
        self, *, job_group_id: str, page_number: int = 1, page_size: int = 100, job_status: str | None = None
    ) -> JobListPage:
        params: dict[str, Any] = {
            "JobGroupId": job_group_id,
            "PageNumber": page_number,
            "PageSize": page_size,
            "JobStatus": job_status,
        }
        data = self.call("ListJobsByGroup", params)
        return JobListPage.from_api(data.get("Jobs"))

    def iter_jobs_by_group(
        self, job_group_id: str, page_size: int = 100, *, job_status: str | None = None
    ) -> Iterator[JobDetail]:
        """Every job of the group via ListJobsByGroup (carries ReferenceId even before the first dial)."""
        page_number = 1
        while True:
            page = self.list_jobs_by_group(
                job_group_id=job_group_id, page_number=page_number, page_size=page_size, job_status=job_status
            )
            yield from page.jobs
            if not page.jobs or page_number * max(page.page_size or page_size, 1) >= page.total_count:
                return
            page_number += 1

    def find_jobs_by_reference_ids(self, job_group_id: str, reference_ids: Iterable[str]) -> dict[str, str]:
        """Reconcile an ambiguous AssignJobs: ``{referenceId: jobId}`` for the given ids the group already has.

        Uses ListJobsByGroup, because QueryJobsWithResult only names the contact in ``LatestTask``, which
        jobs that were never dialled do not have.
        """
        wanted = set(reference_ids)
        found: dict[str, str] = {}
        if not wanted:
            return found
        for job in self.iter_jobs_by_group(job_group_id):
            if job.reference_id in wanted and job.job_id:
                found.setdefault(job.reference_id, job.job_id)
                if len(found) == len(wanted):
                    break
        return found

    def list_jobs(self, *, job_ids: list[str]) -> list[JobDetail]:
        """ListJobs: full details (tasks, conversations) of up to 99 jobs."""
        job_ids = list(job_ids)
        if len(job_ids) > MAX_JOBS_PER_CALL:
            raise ValueError(f"ListJobs accepts at most {MAX_JOBS_PER_CALL} job ids per call, got {len(job_ids)}")
        if not job_ids:
            return []
        params: dict[str, str] = {}
        _put_list(params, "JobId", job_ids)
        data = self.call("ListJobs", params)
        jobs = data.get("Jobs")
        if isinstance(jobs, dict):  # tolerate a {List: [...]} envelope
            jobs = jobs.get("List")
        return [JobDetail.from_api(j) for j in (jobs or []) if isinstance(j, dict)]

    def describe_job(self, *, job_id: str) -> JobDetail:
        data = self.call("DescribeJob", {"JobId": job_id})
        return JobDetail.from_api(data.get("Job"))

    def _control(
        self,
        action: str,
        *,
        job_group_id: str | None,
        job_ids: Iterable[str] | None,
        reference_ids: Iterable[str] | None,
        all: bool,
    ) -> None:
        job_ids = list(job_ids or [])
        reference_ids = list(reference_ids or [])
        if all and not job_group_id:
            raise ValueError(f"{action} with all=True needs job_group_id (it would hit the whole instance)")
        if not all and not job_ids and not reference_ids:
            raise ValueError(f"{action} needs all=True with job_group_id, job_ids or reference_ids")
        params: dict[str, str] = {"All": "true" if all else "false"}
        _put(params, "JobGroupId", job_group_id)
        _put_list(params, "JobId", job_ids)
        _put_list(params, "JobReferenceId", reference_ids)
        self.call(action, params)

    def suspend_jobs(
        self,
        *,
        job_group_id: str | None = None,
        job_ids: Iterable[str] | None = None,
        reference_ids: Iterable[str] | None = None,
        all: bool = False,
    ) -> None:
        self._control("SuspendJobs", job_group_id=job_group_id, job_ids=job_ids, reference_ids=reference_ids, all=all)

    def resume_jobs(
        self,
        *,
        job_group_id: str | None = None,
        job_ids: Iterable[str] | None = None,
        reference_ids: Iterable[str] | None = None,
        all: bool = False,
    ) -> None:
        self._control("ResumeJobs", job_group_id=job_group_id, job_ids=job_ids, reference_ids=reference_ids, all=all)

    def cancel_jobs(
        self,
        *,
        job_group_id: str | None = None,
        job_ids: Iterable[str] | None = None,
        reference_ids: Iterable[str] | None = None,
        all: bool = False,
    ) -> None:
        self._control("CancelJobs", job_group_id=job_group_id, job_ids=job_ids, reference_ids=reference_ids, all=all)

    # --- recordings ---------------------------------------------------------------------------------------

    def download_recording(self, *, task_id: str) -> Recording:
        """A fresh pre-signed recording URL for one call attempt (task id, not job id)."""
        data = self.call("DownloadRecording", {"TaskId": task_id})
        return Recording.from_api(data.get("DownloadParams"))
