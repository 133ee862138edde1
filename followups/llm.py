"""A small OpenAI-compatible chat-completions client over ``requests`` (DashScope compatible mode).

Only what the interest judge needs: one JSON-mode completion, bounded retries with exponential backoff
and jitter on throttling, 5xx, timeouts and connection errors (honouring ``Retry-After``), no retry on
client errors (400/401/403/404/413). Errors surface as :class:`LLMError`, whose text never contains the
API key, and logs never contain the prompt or the answer (transcripts are personal data).
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from django.views.decorators.debug import sensitive_variables

from calltasks.provider.errors import sanitize_message

logger = logging.getLogger(__name__)

#: HTTP statuses worth another try (throttling, gateway/server trouble, request timeout).
RETRYABLE_HTTP = frozenset({408, 409, 429, 500, 502, 503, 504})
#: DashScope may answer 200 with a business error code in the body; these are transient.
RETRYABLE_CODES = frozenset(
    {"Throttling", "Throttling.RateQuota", "Throttling.User", "InternalError", "ServiceUnavailable"}
)
_MAX_RETRY_AFTER = 30.0
_MAX_MESSAGE = 200


class LLMError(Exception):
    """Any failure of a chat-completions call.

    ``code`` is the provider's error code (``Throttling``, ``InvalidApiKey``, …) or one of ours
    (``Timeout``, ``ConnectionError``, ``MalformedResponse``, ``EmptyResponse``, ``HTTP<status>``).
    ``retryable`` says whether the same request may succeed later.
    """

    def __init__(
        self,
        code: str,
        http_status: int | None = None,
        retryable: bool = False,
        message: str = "",
        *,
        attempts: int = 1,
    ) -> None:
        self.code = code or "Unknown"
        self.http_status = http_status
        self.retryable = retryable
        self.message = message
        self.attempts = attempts
        text = f"LLM error {self.code}"
        if http_status is not None:
            text += f" (HTTP {http_status})"
        if message:
            text += f": {message}"
        super().__init__(text)


class LLMClient:
    """POST ``{base_url}/chat/completions`` and return the assistant's content string."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model: str,
        timeout: float = 30.0,
        max_retries: int = 2,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        connect_timeout: float | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
    ) -> None:
        self.base_url = (base_url or "").rstrip("/")
        self.api_key = api_key or ""
        self.model = model
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout) if connect_timeout else min(5.0, self.timeout)
        self.max_retries = max(0, int(max_retries))
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._sleep = sleep
        self._session = session
        # requests.Session is not documented as thread-safe; the judge runs in a thread pool, so
        # without an injected session every thread gets its own (sharing urllib3's pooling per thread).
        self._local = threading.local()

    @classmethod
    def from_settings(cls, **overrides: Any) -> LLMClient:
        from django.conf import settings

        kwargs: dict[str, Any] = {
            "base_url": settings.LLM_BASE_URL,
            "api_key": settings.LLM_API_KEY,
            "model": settings.LLM_MODEL,
            "timeout": settings.LLM_TIMEOUT,
            "max_retries": settings.LLM_MAX_RETRIES,
        }
        kwargs.update(overrides)
        return cls(**kwargs)

    def __repr__(self) -> str:  # never show the key
        return f"LLMClient(base_url={self.base_url!r}, model={self.model!r})"

    # --- public ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def chat(
        self,
        messages: list[dict[str, str]],
        *,
        json_mode: bool = True,
        temperature: float | None = 0.1,
        max_tokens: int | None = 800,
    ) -> str:
        """Send one chat completion and return the assistant content (retries transient failures)."""
        if json_mode and not any("json" in str(m.get("content", "")).lower() for m in messages):
            # DashScope answers 400 InvalidParameter otherwise; fail fast and loudly for the developer.
            raise LLMError("InvalidPrompt", None, False, "json mode needs the word 'json' in a message")
        body: dict[str, Any] = {"model": self.model, "messages": messages, "stream": False}
        if json_mode:
            body["response_format"] = {"type": "json_object"}
        if temperature is not None:
            body["temperature"] = temperature
        if max_tokens:
            body["max_tokens"] = max_tokens

        attempts = self.max_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return self._post_once(body)
            except LLMError as exc:
                exc.attempts = attempt
                if not exc.retryable or attempt >= attempts:
                    raise
                delay = self._delay(attempt, getattr(exc, "retry_after", None))
                logger.warning(
                    "LLM request failed (code=%s, http=%s); retry %d/%d in %.2fs",
                    exc.code,
                    exc.http_status,
                    attempt,
                    self.max_retries,
                    delay,
                )
                self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    # --- internals --------------------------------------------------------------------------------

    def _session_for_thread(self) -> requests.Session:
        if self._session is not None:
            return self._session
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            self._local.session = session
        return session

    @sensitive_variables()  # the Authorization header holds the API key
    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.api_key}",
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
        }

    def _clean(self, text: object) -> str:
        return sanitize_message(text, secrets=(self.api_key,))[:_MAX_MESSAGE]

    def _post_once(self, body: dict[str, Any]) -> str:
        try:
            response = self._session_for_thread().post(
                self.url,
                data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                headers=self._headers(),
                timeout=(self.connect_timeout, self.timeout),
            )
        except requests.Timeout as exc:
            raise LLMError("Timeout", None, True, type(exc).__name__) from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            # ChunkedEncodingError: the connection dropped mid-response (IncompleteRead) — as transient
            # as a connection that dropped before it.
            raise LLMError("ConnectionError", None, True, type(exc).__name__) from None
        except requests.RequestException as exc:
            raise LLMError("RequestError", None, False, type(exc).__name__) from None

        status = response.status_code
        try:
            payload = response.json()
        except ValueError:
            payload = None

        if status >= 400:
            code, message = _error_fields(payload)
            error = LLMError(code or f"HTTP{status}", status, status in RETRYABLE_HTTP, self._clean(message))
            error.retry_after = _retry_after(response.headers)  # type: ignore[attr-defined]
            raise error

        if not isinstance(payload, dict):
            raise LLMError("MalformedResponse", status, True, "response body is not a JSON object")
        if "choices" not in payload:
            code, message = _error_fields(payload)
            if code:  # DashScope: HTTP 200 with a business error in the body
                raise LLMError(
                    code, status, code in RETRYABLE_CODES or code.startswith("Throttling"), self._clean(message)
                )
            raise LLMError("MalformedResponse", status, True, "no choices in the response")
        content = _content_of(payload)
        if content is None or not content.strip():
            raise LLMError("EmptyResponse", status, True, "the model returned no content")
        return content

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), _MAX_RETRY_AFTER)
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        # "Equal jitter": at least half the exponential step, plus a random part.
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def _error_fields(payload: object) -> tuple[str, str]:
    """(code, message) from an OpenAI-style ``{"error": {...}}`` or a native ``{"code", "message"}`` body."""
    if not isinstance(payload, dict):
        return "", ""
    error = payload.get("error")
    if isinstance(error, dict):
        code = error.get("code") or error.get("type") or ""
        return str(code), str(error.get("message") or "")
    if isinstance(error, str):
        return error, str(payload.get("message") or "")
    code = payload.get("code")
    if code not in (None, "", 200, "200"):
        return str(code), str(payload.get("message") or "")
    return "", ""


def _content_of(payload: dict[str, Any]) -> str | None:
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    message = choices[0].get("message")
    if not isinstance(message, dict):
        return None
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        parts = [p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
        return "".join(parts)
    return None


def _retry_after(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date), as the OpenAI SDK reads them."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return float(raw_ms) / 1000.0
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())
