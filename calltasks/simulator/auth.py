"""Verification of v1 (HMAC-SHA1) and v3 (ACS3-HMAC-SHA256) request signatures, timestamps and nonces."""

from __future__ import annotations

import hmac
import threading
import time
from calendar import timegm

from calltasks.provider.signing import parse_v3_authorization, sha256_hex, sign_v1, sign_v3
from calltasks.simulator.params import RpcError, missing, query_pairs
from calltasks.simulator.wire import Request

V3_SKEW_SECONDS = 15 * 60
V1_SKEW_SECONDS = 31 * 60
_TIMESTAMP_FORMATS = ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ")


def _signature_mismatch(detail: str) -> RpcError:
    return RpcError(
        400,
        "SignatureDoesNotMatch",
        f"Specified signature does not match our calculation. {detail}".strip(),
    )


def _parse_timestamp(value: str) -> float:
    for fmt in _TIMESTAMP_FORMATS:
        try:
            return float(timegm(time.strptime(value, fmt)))
        except ValueError:
            continue
    raise RpcError(400, "InvalidTimeStamp.Format", f"Specified time stamp or date value is not well formatted: {value!r}.")


def _check_skew(timestamp: float, skew: float) -> None:
    if abs(time.time() - timestamp) > skew:
        raise RpcError(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")


class NonceStore:
    """Nonces seen within the longest skew window (real time)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], float] = {}

    def use(self, key_id: str, nonce: str) -> None:
        now = time.time()
        with self._lock:
            if len(self._seen) > 50_000:
                self._seen = {k: exp for k, exp in self._seen.items() if exp > now}
            expiry = self._seen.get((key_id, nonce))
            if expiry is not None and expiry > now:
                raise RpcError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
            self._seen[(key_id, nonce)] = now + 2 * V1_SKEW_SECONDS

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


class Authenticator:
    def __init__(self, credentials: dict[str, str], nonces: NonceStore) -> None:
        self.credentials = credentials  # AccessKeyId -> secret
        self.nonces = nonces

    def _secret(self, key_id: str) -> str:
        secret = self.credentials.get(key_id)
        if secret is None:
            raise RpcError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        return secret

    def verify(self, request: Request, params: dict[str, str]) -> str:
        """Verify the request; return the signature version used ("v1" or "v3")."""
        authorization = request.headers.get("authorization", "")
        if authorization:
            self._verify_v3(request, authorization)
            return "v3"
        if "Signature" in params:
            self._verify_v1(request, params)
            return "v1"
        raise missing("Signature")

    def _verify_v3(self, request: Request, authorization: str) -> None:
        parts = parse_v3_authorization(authorization)
        if parts is None:
            raise RpcError(400, "IncompleteSignature", "The Authorization header is not a valid ACS3-HMAC-SHA256 signature.")
        secret = self._secret(parts["Credential"])
        headers = request.headers
        date = headers.get("x-acs-date")
        if not date:
            raise missing("x-acs-date")
        _check_skew(_parse_timestamp(date), V3_SKEW_SECONDS)
        nonce = headers.get("x-acs-signature-nonce")
        if not nonce:
            raise missing("x-acs-signature-nonce")
        content_sha = headers.get("x-acs-content-sha256")
        if not content_sha:
            raise missing("x-acs-content-sha256")
        if not hmac.compare_digest(content_sha.lower(), sha256_hex(request.body)):
            raise _signature_mismatch("The x-acs-content-sha256 header does not match the request body.")
        signed_headers = [name for name in parts["SignedHeaders"].split(";") if name]
        if "host" not in signed_headers or "x-acs-date" not in signed_headers:
            raise _signature_mismatch("SignedHeaders must include host and x-acs-date.")
        missing_signed = [name for name in signed_headers if name not in headers]
        if missing_signed:
            raise _signature_mismatch(f"Signed header {missing_signed[0]} is absent.")
        expected, _signed = sign_v3(
            method=request.method,
            path=request.path or "/",
            query=dict(query_pairs(request.query_string)),
            headers=headers,
            signed_headers=signed_headers,
            hashed_payload=content_sha.lower(),
            secret=secret,
        )
        if not hmac.compare_digest(expected, parts["Signature"]):
            raise _signature_mismatch("")
        self.nonces.use(parts["Credential"], nonce)

    def _verify_v1(self, request: Request, params: dict[str, str]) -> None:
        key_id = params.get("AccessKeyId")
        if not key_id:
            raise missing("AccessKeyId")
        secret = self._secret(key_id)
        timestamp = params.get("Timestamp")
        if not timestamp:
            raise missing("Timestamp")
        _check_skew(_parse_timestamp(timestamp), V1_SKEW_SECONDS)
        nonce = params.get("SignatureNonce")
        if not nonce:
            raise missing("SignatureNonce")
        method = params.get("SignatureMethod", "HMAC-SHA1")
        if method != "HMAC-SHA1":
            raise RpcError(400, "InvalidSignatureMethod", f"Specified signature method {method!r} is not supported.")
        expected = sign_v1(method=request.method, params=params, secret=secret)
        if not hmac.compare_digest(expected, params.get("Signature", "")):
            raise _signature_mismatch("")
        self.nonces.use(key_id, nonce)
