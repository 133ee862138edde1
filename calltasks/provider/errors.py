"""The one error type of the OutboundBot client.

``ProviderError`` carries everything a caller needs to decide what to do next:

- ``retryable``: the failure is transient (network, timeout, 5xx, throttling, malformed body); trying the same
  call again later may succeed.
- ``ambiguous``: the request may have been applied by the provider although we got no usable answer (a read
  timeout, a dropped connection, a 5xx or a malformed body on a non-idempotent call such as ``AssignJobs`` or
  ``CreateJobGroup``). The caller must reconcile (look the referenceIds / the group name up) before sending it
  again, or the same lead may be dialled twice.

``str()`` never contains secrets or full phone numbers: provider messages are sanitised on construction.
"""

from __future__ import annotations

import re

from dcc_project.phones import mask_phone, mask_phones_in_text

_MAX_MESSAGE = 300
# Any run of 7+ digits (also inside percent-encoded text such as "%2213812345678") is masked.
_LONG_DIGITS = re.compile(r"\d{7,}")
# Alibaba's SignatureDoesNotMatch message may echo the server's string to sign (i.e. every parameter).
_STRING_TO_SIGN = re.compile(r"(?is)(server\s+)?string\s*to\s*sign.*$")


def sanitize_message(text: object, *, secrets: tuple[str, ...] = ()) -> str:
    """Make a provider message safe for logs and exception text."""
    if text is None:
        return ""
    message = str(text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            message = message.replace(secret, "***")
    message = _STRING_TO_SIGN.sub("[string to sign omitted]", message)
    message = mask_phones_in_text(message)
    message = _LONG_DIGITS.sub(lambda m: mask_phone(m.group(0)), message)
    if len(message) > _MAX_MESSAGE:
        message = message[:_MAX_MESSAGE] + "…"
    return message


class ProviderError(Exception):
    """Any failure of an OutboundBot call: transport, HTTP error, ``Success:false`` or an unreadable body."""

    def __init__(
        self,
        code: str,
        message: str = "",
        *,
        http_status: int | None = None,
        request_id: str | None = None,
        action: str | None = None,
        retryable: bool = False,
        ambiguous: bool = False,
        attempts: int = 1,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.code = code or "Unknown"
        self.message = sanitize_message(message, secrets=secrets)
        self.http_status = http_status
        self.request_id = request_id
        self.action = action
        self.retryable = retryable
        self.ambiguous = ambiguous
        self.attempts = attempts
        super().__init__(self.__str__())

    @property
    def is_not_found(self) -> bool:
        return self.code.startswith("NotExist")

    @property
    def is_throttling(self) -> bool:
        return self.code.startswith("Throttling")

    def __str__(self) -> str:
        parts = [f"{self.action or 'OutboundBot'}: {self.code}"]
        if self.message:
            parts.append(f": {self.message}")
        details = []
        if self.http_status is not None:
            details.append(f"http={self.http_status}")
        if self.request_id:
            details.append(f"request_id={self.request_id}")
        if self.attempts > 1:
            details.append(f"attempts={self.attempts}")
        if self.retryable:
            details.append("retryable")
        if self.ambiguous:
            details.append("ambiguous: may have been applied, reconcile before retrying")
        if details:
            parts.append(" (" + ", ".join(details) + ")")
        return "".join(parts)

    def __repr__(self) -> str:
        return (
            f"ProviderError(code={self.code!r}, http_status={self.http_status!r}, request_id={self.request_id!r}, "
            f"action={self.action!r}, retryable={self.retryable!r}, ambiguous={self.ambiguous!r})"
        )

    def __reduce__(self):  # picklable (django-q2 stores exceptions of failed tasks)
        return (
            _rebuild,
            (
                self.code,
                self.message,
                self.http_status,
                self.request_id,
                self.action,
                self.retryable,
                self.ambiguous,
                self.attempts,
            ),
        )


def _rebuild(code, message, http_status, request_id, action, retryable, ambiguous, attempts) -> ProviderError:
    return ProviderError(
        code,
        message,
        http_status=http_status,
        request_id=request_id,
        action=action,
        retryable=retryable,
        ambiguous=ambiguous,
        attempts=attempts,
    )
