"""OSS-style pre-signed recording URLs and a small valid WAV file served by the simulator itself."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import math
import struct
import time
import wave
from functools import lru_cache
from urllib.parse import quote

OSS_ACCESS_KEY_ID = "sim-oss-access-key"
BUCKET = "sim-recordings"
PATH_PREFIX = "/oss/recordings/"


@lru_cache(maxsize=8)
def wav_bytes(seconds: float = 1.0, rate: int = 8000, frequency: float = 440.0) -> bytes:
    """A mono 16-bit PCM tone, generated with the stdlib ``wave`` module."""
    frames = int(seconds * rate)
    pcm = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * frequency * i / rate))) for i in range(frames)
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return buffer.getvalue()


class RecordingSigner:
    def __init__(self, secret: str, ttl_seconds: float) -> None:
        self._secret = secret.encode()
        self.ttl_seconds = ttl_seconds

    def _signature(self, file_name: str, expires: int) -> str:
        string_to_sign = f"GET\n\n\n{expires}\n/{BUCKET}{PATH_PREFIX}{file_name}"
        return base64.b64encode(hmac.new(self._secret, string_to_sign.encode(), hashlib.sha1).digest()).decode()

    def sign_url(self, base_url: str, file_name: str, *, now: float | None = None) -> str:
        """Expiry is real wall time (as OSS), independent of the virtual clock."""
        expires = int((time.time() if now is None else now) + self.ttl_seconds)
        signature = quote(self._signature(file_name, expires), safe="")
        return f"{base_url}{PATH_PREFIX}{file_name}?Expires={expires}&OSSAccessKeyId={OSS_ACCESS_KEY_ID}&Signature={signature}"

    def verify(self, file_name: str, query: dict[str, str]) -> str | None:
        """None when the URL is valid now, else the OSS error code."""
        try:
            expires = int(query.get("Expires", ""))
        except ValueError:
            return "AccessDenied"
        if query.get("OSSAccessKeyId") != OSS_ACCESS_KEY_ID:
            return "InvalidAccessKeyId"
        if not hmac.compare_digest(self._signature(file_name, expires), query.get("Signature", "")):
            return "SignatureDoesNotMatch"
        if time.time() > expires:
            return "AccessDenied"
        return None


def oss_error_xml(code: str, message: str, request_id: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n'
        f"  <Code>{code}</Code>\n  <Message>{message}</Message>\n  <RequestId>{request_id}</RequestId>\n"
        f"  <HostId>{BUCKET}.oss-cn-shanghai.aliyuncs.com</HostId>\n</Error>\n"
    ).encode()
