"""Alibaba Cloud RPC request signing: v1 (HMAC-SHA1) and v3 (ACS3-HMAC-SHA256).

Shared by the production client (to sign) and the simulator (to verify). Passes the test vectors of
``shared/reference/outboundbot-api.md`` §4.6 byte for byte (see tests/calltasks/provider/test_signing.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import quote

from django.views.decorators.debug import sensitive_variables

V3_ALGORITHM = "ACS3-HMAC-SHA256"
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()


def percent_encode(value: object) -> str:
    """RFC 3986 encoding as Alibaba requires: keep ``A-Z a-z 0-9 - _ . ~``; space → ``%20``, ``*`` → ``%2A``."""
    return quote(str(value), safe="-_.~")


def canonical_query(params: Mapping[str, object] | Iterable[tuple[str, object]]) -> str:
    """Sorted (byte order) ``k=v`` pairs joined with ``&``, both sides percent-encoded."""
    items = params.items() if isinstance(params, Mapping) else params
    encoded = sorted((percent_encode(k), percent_encode(v)) for k, v in items)
    return "&".join(f"{k}={v}" for k, v in encoded)


@sensitive_variables("secret")
def sign_v1(*, method: str, params: Mapping[str, object], secret: str) -> str:
    """v1 signature (``SignatureVersion=1.0``): Base64(HMAC-SHA1(secret + "&", StringToSign))."""
    query = canonical_query({k: v for k, v in params.items() if k != "Signature"})
    string_to_sign = f"{method.upper()}&{percent_encode('/')}&{percent_encode(query)}"
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def sha256_hex(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def canonical_request_v3(
    *,
    method: str,
    path: str,
    query: Mapping[str, object],
    headers: Mapping[str, str],
    signed_headers: Iterable[str],
    hashed_payload: str,
) -> tuple[str, str]:
    """Return (canonical request, signed-headers list) for v3. ``headers`` keys may be any case."""
    lowered = {k.lower(): str(v).strip() for k, v in headers.items()}
    names = sorted({h.lower() for h in signed_headers})
    canonical_headers = "".join(f"{name}:{lowered.get(name, '')}\n" for name in names)
    signed = ";".join(names)
    request = "\n".join(
        [method.upper(), path or "/", canonical_query(query), canonical_headers, signed, hashed_payload]
    )
    return request, signed


@sensitive_variables("secret")
def sign_v3(
    *,
    method: str,
    path: str,
    query: Mapping[str, object],
    headers: Mapping[str, str],
    signed_headers: Iterable[str],
    hashed_payload: str,
    secret: str,
) -> tuple[str, str]:
    """v3 signature: hex(HMAC-SHA256(secret, "ACS3-HMAC-SHA256\\n" + hex(SHA256(CanonicalRequest)))).

    Returns ``(signature, signed_headers)``.
    """
    request, signed = canonical_request_v3(
        method=method,
        path=path,
        query=query,
        headers=headers,
        signed_headers=signed_headers,
        hashed_payload=hashed_payload,
    )
    string_to_sign = f"{V3_ALGORITHM}\n{sha256_hex(request.encode())}"
    signature = hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()
    return signature, signed


def v3_authorization(*, access_key_id: str, signed_headers: str, signature: str) -> str:
    return f"{V3_ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}"


def parse_v3_authorization(value: str) -> dict[str, str] | None:
    """``ACS3-HMAC-SHA256 Credential=..,SignedHeaders=..,Signature=..`` → dict, or None if malformed."""
    if not value or not value.startswith(V3_ALGORITHM + " "):
        return None
    parts: dict[str, str] = {}
    for chunk in value[len(V3_ALGORITHM) + 1 :].split(","):
        key, sep, val = chunk.strip().partition("=")
        if not sep:
            return None
        parts[key] = val
    if not {"Credential", "SignedHeaders", "Signature"} <= parts.keys():
        return None
    return parts
