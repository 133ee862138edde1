"""``Idempotency-Key`` for the endpoints that spend money (create a task, start calling).

A client that sends ``Idempotency-Key: <1–255 printable ASCII characters>`` may repeat the request (a
timeout, a double click) without creating a second task or job group:

- the same key from the same user on the same endpoint with the same body → the stored response is
  replayed (same status and body) with the header ``Idempotent-Replayed: true``;
- the same key with a different body → 422;
- the same key while the first request still runs → 409 (try again shortly);
- a key that is not 1–255 printable characters → 400.

The record is inserted *before* the request runs (``in_progress``) and the unique constraint on (user,
key, endpoint) decides who runs it: insert-first, never check-then-insert. Responses with a 5xx status or
429 are not stored (the record is removed), so the client may retry with the same key. Records expire
after 24 hours (deleted lazily on the next keyed request); a record left ``in_progress`` by a crashed
process is taken over after 10 minutes.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from calltasks.models import IdempotencyRecord
from calltasks.services.errors import TaskServiceError

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
TTL = dt.timedelta(hours=24)
IN_PROGRESS_TIMEOUT = dt.timedelta(minutes=10)
_KEY = re.compile(r"[\x20-\x7e]{1,255}")

#: For ``extend_schema(parameters=[...])`` of the idempotent endpoints.
IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Optional, 1–255 printable ASCII characters. Repeating a request with the same key replays the first "
        "response (header Idempotent-Replayed: true) instead of running it again; kept for 24 hours."
    ),
)


class IdempotencyKeyInvalid(TaskServiceError):
    http_status = 400
    code = "idempotency_key_invalid"

    def default_message(self) -> str:
        return _("The Idempotency-Key header must be 1 to 255 printable ASCII characters.")


class IdempotencyKeyReused(TaskServiceError):
    http_status = 422
    code = "idempotency_key_reused"

    def default_message(self) -> str:
        return _("This Idempotency-Key was already used for a different request. Use a new key.")


class IdempotencyRequestInProgress(TaskServiceError):
    http_status = 409
    code = "idempotency_in_progress"

    def default_message(self) -> str:
        return _("A request with this Idempotency-Key is still being processed. Please try again shortly.")


@dataclass(frozen=True)
class Claim:
    """Either ``record`` (this request runs and must finish it) or ``replay`` (a stored response)."""

    record: IdempotencyRecord | None = None
    replay: IdempotencyRecord | None = None


def endpoint_of(request) -> str:
    """``METHOD path``, the same for both mounts of a seed endpoint (``/x`` and ``/api/x``) and with or
    without the trailing slash."""
    path = request.path
    if path.startswith("/api/"):
        path = path[4:]
    return f"{request.method} {path.rstrip('/') or '/'}"[:255]


def fingerprint_of(data) -> str:
    """sha256 of the parsed request body in a canonical form (key order and whitespace do not matter)."""
    if hasattr(data, "lists"):  # QueryDict (form bodies)
        data = {key: values for key, values in data.lists()}
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def validate_key(raw: str) -> str:
    if not isinstance(raw, str) or not _KEY.fullmatch(raw) or not raw.strip():
        raise IdempotencyKeyInvalid()
    return raw


def idempotency_claim(
    *, user_id: int, organization_id: int | None, key: str, endpoint: str, fingerprint: str
) -> Claim:
    """Insert the ``in_progress`` record, or explain why this request must not run (replay/422/409)."""
    now = timezone.now()
    IdempotencyRecord.objects.filter(created_at__lt=now - TTL).delete()  # lazy expiry (indexed)
    lookup = {"user_id": user_id, "key": key, "endpoint": endpoint}
    for _attempt in range(3):
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    organization_id=organization_id, fingerprint=fingerprint, created_at=now, **lookup
                )
            return Claim(record=record)
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(**lookup).first()
        if existing is None:  # removed (failed or expired) between our insert and this read: insert again
            continue
        if existing.fingerprint != fingerprint:
            raise IdempotencyKeyReused()
        if existing.status == IdempotencyRecord.Status.COMPLETED:
            return Claim(replay=existing)
        if existing.created_at < now - IN_PROGRESS_TIMEOUT:
            # The request that inserted it died: take it over with a compare-and-set.
            taken = IdempotencyRecord.objects.filter(
                pk=existing.pk, status=IdempotencyRecord.Status.IN_PROGRESS, created_at=existing.created_at
            ).update(created_at=now)
            if taken:
                existing.created_at = now
                return Claim(record=existing)
        raise IdempotencyRequestInProgress()
    raise IdempotencyRequestInProgress()


def idempotency_complete(record: IdempotencyRecord, *, status_code: int, body) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        status=IdempotencyRecord.Status.COMPLETED,
        response_status=status_code,
        response_body=body,
        completed_at=timezone.now(),
    )


def idempotency_abandon(record: IdempotencyRecord) -> None:
    """The request failed in a way worth retrying (5xx, 429, crash): free the key."""
    IdempotencyRecord.objects.filter(pk=record.pk, status=IdempotencyRecord.Status.IN_PROGRESS).delete()


def _stored(response) -> bool:
    return response.status_code < 500 and response.status_code != 429


def _body(response):
    if getattr(response, "data", None) is None:
        return None
    return json.loads(JSONRenderer().render(response.data))


def idempotent(handler):
    """Decorator of a DRF view handler (``post``, ``create``, an ``@action``): honours ``Idempotency-Key``.

    Runs after authentication and throttling (inside the handler), so the key is scoped to the caller.
    """

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        raw = request.headers.get(HEADER)
        if raw is None:
            return handler(view, request, *args, **kwargs)
        key = validate_key(raw)
        claim = idempotency_claim(
            user_id=request.user.pk,
            organization_id=getattr(request.user, "organization_id", None),
            key=key,
            endpoint=endpoint_of(request),
            fingerprint=fingerprint_of(request.data),
        )
        if claim.replay is not None:
            return Response(
                claim.replay.response_body, status=claim.replay.response_status, headers={REPLAYED_HEADER: "true"}
            )
        record = claim.record
        try:
            try:
                response = handler(view, request, *args, **kwargs)
            except Exception as exc:
                # The view's own exception handler gives the response (envelope or DRF shape) to store.
                response = view.handle_exception(exc)
        except BaseException:
            idempotency_abandon(record)
            raise
        if _stored(response):
            idempotency_complete(record, status_code=response.status_code, body=_body(response))
        else:
            idempotency_abandon(record)
        return response

    return wrapper
