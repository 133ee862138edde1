"""The chat-completions client: request shape, retries, error mapping, no secrets or transcripts leaked.

The happy path and the simulator's fault switches are exercised in test_judge.py against the real
simulator endpoint; here a throwaway local HTTP server produces the exact error shapes (retry-after
headers, echoed keys, malformed bodies, a slow response) that need precise control.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from followups.llm import LLMClient, LLMError

API_KEY = "sk-test-SECRET-1234567890"
MESSAGES = [
    {"role": "system", "content": "只输出 JSON。"},
    {"role": "user", "content": "客户：我想明天来店试驾，我的电话是13812345678"},
]


def ok_body(content: str = '{"ok": true}') -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


class ScriptedServer:
    """Answers each POST with the next scripted (status, body, headers, delay); records the requests."""

    def __init__(self) -> None:
        self.script: list[tuple[int, object, dict, float]] = []
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                outer.requests.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(raw)})
                status, body, headers, delay = outer.script.pop(0) if outer.script else (200, ok_body(), {}, 0.0)
                if delay:
                    time.sleep(delay)
                payload = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/compatible-mode/v1"

    def add(self, status: int, body: object, headers: dict | None = None, delay: float = 0.0) -> None:
        self.script.append((status, body, headers or {}, delay))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = ScriptedServer()
    yield srv
    srv.close()


@pytest.fixture
def sleeps():
    return []


def make_client(base_url: str, sleeps: list, **kwargs) -> LLMClient:
    params = {"base_url": base_url, "api_key": API_KEY, "model": "qwen-plus", "timeout": 2.0, "max_retries": 2}
    params.update(kwargs)
    return LLMClient(**params, sleep=sleeps.append)


def test_request_shape_and_content(server, sleeps):
    server.add(200, ok_body('{"leads_remark": "好"}'))
    client = make_client(server.base_url + "/", sleeps)

    assert client.chat(MESSAGES) == '{"leads_remark": "好"}'

    (request,) = server.requests
    assert request["path"] == "/compatible-mode/v1/chat/completions"
    assert request["headers"]["Authorization"] == f"Bearer {API_KEY}"
    body = request["body"]
    assert body["model"] == "qwen-plus"
    assert body["messages"] == MESSAGES
    assert body["response_format"] == {"type": "json_object"}
    assert body["stream"] is False
    assert sleeps == []


def test_timeouts_are_connect_read_pairs():
    seen = {}

    class Session:
        def post(self, url, **kwargs):
            seen.update(kwargs, url=url)
            raise __import__("requests").ConnectTimeout("boom")

    client = LLMClient(
        base_url="http://llm.invalid/v1", api_key=API_KEY, model="m", timeout=12, max_retries=0, session=Session()
    )
    with pytest.raises(LLMError) as info:
        client.chat(MESSAGES)
    assert seen["timeout"] == (5.0, 12.0)
    assert seen["url"] == "http://llm.invalid/v1/chat/completions"
    assert info.value.code == "Timeout" and info.value.retryable


def test_from_settings(settings):
    settings.LLM_BASE_URL = "http://example.invalid/compatible-mode/v1"
    settings.LLM_API_KEY = API_KEY
    settings.LLM_MODEL = "qwen-turbo"
    settings.LLM_TIMEOUT = 7
    settings.LLM_MAX_RETRIES = 3
    client = LLMClient.from_settings()
    assert (client.url, client.model, client.timeout, client.max_retries) == (
        "http://example.invalid/compatible-mode/v1/chat/completions",
        "qwen-turbo",
        7.0,
        3,
    )
    assert API_KEY not in repr(client)


def test_json_mode_requires_the_word_json(server, sleeps):
    client = make_client(server.base_url, sleeps)
    with pytest.raises(LLMError) as info:
        client.chat([{"role": "user", "content": "你好"}])
    assert info.value.code == "InvalidPrompt"
    assert server.requests == []


def test_429_honours_retry_after_then_succeeds(server, sleeps):
    error = {"error": {"code": "Throttling.RateQuota", "message": "Requests rate limit exceeded", "type": "throttling"}}
    server.add(429, error, {"Retry-After": "3"})
    server.add(200, ok_body("fine"))
    client = make_client(server.base_url, sleeps)

    assert client.chat(MESSAGES) == "fine"
    assert len(server.requests) == 2
    assert sleeps == [3.0]


def test_retry_after_ms_and_cap(server, sleeps):
    server.add(429, {"error": {"code": "Throttling"}}, {"retry-after-ms": "250"})
    server.add(429, {"error": {"code": "Throttling"}}, {"Retry-After": "3600"})
    server.add(200, ok_body("fine"))
    assert make_client(server.base_url, sleeps).chat(MESSAGES) == "fine"
    assert sleeps == [0.25, 30.0]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_retried_with_bounded_jittered_backoff(server, sleeps, status):
    for _ in range(3):
        server.add(status, {"error": {"code": "ServiceUnavailable", "message": "try later"}})
    client = make_client(server.base_url, sleeps, backoff_base=0.5, backoff_max=8.0)

    with pytest.raises(LLMError) as info:
        client.chat(MESSAGES)

    assert len(server.requests) == 3  # 1 + max_retries
    assert info.value.http_status == status
    assert info.value.retryable is True
    assert info.value.attempts == 3
    assert len(sleeps) == 2
    assert 0.25 <= sleeps[0] <= 0.5 and 0.5 <= sleeps[1] <= 1.0


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "InvalidParameter"), (401, "InvalidApiKey"), (403, "Arrearage"), (404, "ModelNotFound"), (413, "HTTP413")],
)
def test_client_errors_are_not_retried(server, sleeps, status, code):
    body = (
        {"error": {"code": code, "message": f"bad key {API_KEY} for 13812345678"}} if code != "HTTP413" else b"too big"
    )
    server.add(status, body)
    client = make_client(server.base_url, sleeps)

    with pytest.raises(LLMError) as info:
        client.chat(MESSAGES)

    assert len(server.requests) == 1
    assert sleeps == []
    assert info.value.code == code
    assert info.value.http_status == status
    assert info.value.retryable is False
    assert API_KEY not in str(info.value)
    assert "13812345678" not in str(info.value)


def test_native_error_body_and_200_business_error(server, sleeps):
    server.add(200, {"code": "Throttling", "message": "slow down", "request_id": "r1"})
    server.add(200, ok_body("after business error"))
    assert make_client(server.base_url, sleeps).chat(MESSAGES) == "after business error"
    assert len(sleeps) == 1


@pytest.mark.parametrize("body", [b"<html>gateway</html>", {"choices": []}, ok_body(""), {"unexpected": 1}])
def test_malformed_or_empty_answers_are_retried_then_fail(server, sleeps, body):
    for _ in range(3):
        server.add(200, body)
    with pytest.raises(LLMError) as info:
        make_client(server.base_url, sleeps).chat(MESSAGES)
    assert info.value.code in {"MalformedResponse", "EmptyResponse"}
    assert info.value.retryable is True
    assert len(server.requests) == 3


def test_read_timeout_is_retried(server, sleeps):
    server.add(200, ok_body("late"), delay=1.0)
    server.add(200, ok_body("on time"))
    client = make_client(server.base_url, sleeps, timeout=0.3)
    assert client.chat(MESSAGES) == "on time"
    assert len(sleeps) == 1


def test_connection_refused_is_retried_and_reported(sleeps):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = make_client(f"http://127.0.0.1:{port}/v1", sleeps, max_retries=1)
    with pytest.raises(LLMError) as info:
        client.chat(MESSAGES)
    assert info.value.code == "ConnectionError"
    assert info.value.retryable is True
    assert info.value.attempts == 2
    assert len(sleeps) == 1


def test_retry_logs_carry_no_transcript_phone_or_key(server, sleeps, caplog):
    server.add(503, {"error": {"code": "ServiceUnavailable", "message": f"echo {API_KEY} 13812345678 来店试驾"}})
    server.add(200, ok_body())
    with caplog.at_level(logging.DEBUG, logger="followups.llm"):
        make_client(server.base_url, sleeps).chat(MESSAGES)
    text = caplog.text
    assert "ServiceUnavailable" in text
    for forbidden in (API_KEY, "13812345678", "试驾"):
        assert forbidden not in text
