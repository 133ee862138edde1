"""Secrets and phone numbers stay out of Django's error reports (``sensitive_variables``)."""

from __future__ import annotations

import sys

import pytest
from django.views.debug import ExceptionReporter

from calltasks.provider import signing
from calltasks.services import notifications
from followups.llm import LLMClient

SECRET = "very-secret-access-key-value"


class Exploding:
    def __str__(self) -> str:
        raise RuntimeError("boom")


def frame_variables(call) -> str:
    """Every local variable of every frame of the report, as Django's 500 page / e-mail would show them."""
    try:
        call()
    except Exception:
        exc_type, exc_value, tb = sys.exc_info()
    else:  # pragma: no cover - the call must raise
        raise AssertionError("expected an exception")
    frames = ExceptionReporter(None, exc_type, exc_value, tb).get_traceback_frames()
    return repr([frame["vars"] for frame in frames])


class UnencodableSecret(str):
    """Fails right in the signing function's own frame (not inside the hmac module)."""

    encode = None


@pytest.mark.parametrize(
    "call",
    [
        lambda: signing.sign_v1(method="POST", params={"x": Exploding()}, secret=SECRET),
        lambda: signing.sign_v3(
            method="POST",
            path="/",
            query={"x": Exploding()},
            headers={},
            signed_headers=[],
            hashed_payload=signing.EMPTY_BODY_SHA256,
            secret=SECRET,
        ),
        lambda: notifications.webhook_signature(b"{}", UnencodableSecret(SECRET)),
    ],
    ids=["sign_v1", "sign_v3", "webhook"],
)
def test_signing_secrets_are_hidden_in_error_reports(call):
    variables = frame_variables(call)
    assert SECRET not in variables
    assert "********" in variables


class SecretKey:
    """An API key whose repr shows the secret and whose formatting fails inside ``_headers``."""

    def __repr__(self) -> str:
        return SECRET

    def __format__(self, spec: str) -> str:
        raise RuntimeError("boom")


def test_llm_api_key_is_hidden_in_error_reports():
    client = LLMClient(base_url="http://127.0.0.1:9", api_key=SecretKey(), model="m")
    variables = frame_variables(client._headers)
    assert SECRET not in variables
    assert "********" in variables
