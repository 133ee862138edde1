"""Transport-neutral request/response objects shared by the RPC, LLM, OSS and control handlers."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson


@dataclass
class Request:
    method: str
    path: str  # without the query string
    query_string: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    client_host: str = "127.0.0.1"


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json;charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering
    delay_before_send: float = 0.0  # seconds to hold the (already computed) answer
    truncate: bool = False  # send the headers and half of the body, then close the connection


def json_response(status: int, payload: object, headers: dict[str, str] | None = None) -> Response:
    body = orjson.dumps(payload)  # compact UTF-8, like json.dumps(ensure_ascii=False, separators=(",", ":"))
    return Response(status=status, body=body, headers=dict(headers or {}))


def drop_response() -> Response:
    return Response(status=0, drop=True)
