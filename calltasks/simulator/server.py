"""The simulator's HTTP server (stdlib ``ThreadingHTTPServer`` on loopback) and its in-process handle."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from calltasks.simulator.clock import parse_start_time
from calltasks.simulator.control import PREFIX as CONTROL_PREFIX
from calltasks.simulator.control import ControlHandler
from calltasks.simulator.core import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    DEFAULT_INSTANCE_ID,
    SimulatorConfig,
    SimulatorCore,
)
from calltasks.simulator.faults import FaultRule
from calltasks.simulator.llm import CHAT_PATH, MODELS_PATH
from calltasks.simulator.recordings import PATH_PREFIX as OSS_PREFIX
from calltasks.simulator.recordings import oss_error_xml, wav_bytes
from calltasks.simulator.rpc import RpcHandler, request_id
from calltasks.simulator.wire import Request, Response, json_response

logger = logging.getLogger("calltasks.simulator")

MAX_BODY_BYTES = 16 * 1024 * 1024


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], core: SimulatorCore) -> None:
        super().__init__(address, _Handler)
        self.core = core
        self.rpc = RpcHandler(core)
        self.control = ControlHandler(core)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "OutboundBotSimulator/1.0"
    timeout = 60  # idle keep-alive connections
    server: _Server

    def setup(self) -> None:
        super().setup()
        # One small answer per request: never wait for Nagle / delayed ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        # The request line may carry phone numbers in the query string: never log it.
        return

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0] or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise ValueError("body too large")
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
        except ValueError:
            self._send(json_response(413, {"Code": "RequestTooLarge", "Message": "request body too large"}))
            return
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path or "/",
            query_string=parts.query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            client_host=self.client_address[0],
        )
        server = self.server
        try:
            if request.path == "/":
                response = server.rpc.handle(request)
            elif request.path.startswith(CONTROL_PREFIX):
                response = server.control.handle(request)
            elif request.path in (CHAT_PATH, MODELS_PATH):
                response = server.core.llm.handle(request)
            elif request.path.startswith(OSS_PREFIX) and request.method in {"GET", "HEAD"}:
                response = self._recording(request)
            else:
                response = json_response(404, {"Code": "NotFound", "Message": f"no route for {request.path}"})
        except Exception:  # a simulator bug must answer 500, not kill the connection silently
            logger.exception("simulator: unhandled error on %s", request.path)
            response = json_response(500, {"RequestId": request_id(), "Code": "InternalError", "Message": "simulator bug"})
        if response.delay_before_send:
            server.core.sleep(response.delay_before_send)
        if response.drop:
            self.close_connection = True
            return
        self._send(response)

    def _recording(self, request: Request) -> Response:
        core = self.server.core
        name = request.path[len(OSS_PREFIX) :]
        query = {k: v[-1] for k, v in parse_qs(request.query_string).items()}
        rid = request_id()
        lookup = name[len("early-") :] if name.startswith("early-") else name
        with core.lock:
            known = lookup in core.store.recordings
        if not known:
            return Response(404, oss_error_xml("NoSuchKey", "The specified key does not exist.", rid), "application/xml")
        error = core.signer.verify(name, query)
        if error is not None:
            message = "Request has expired." if error == "AccessDenied" else "The request signature we calculated does not match."
            return Response(403, oss_error_xml(error, message, rid), "application/xml")
        return Response(200, wav_bytes(), "audio/wav", headers={"x-oss-request-id": rid})

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Connection", "close" if self.close_connection else "keep-alive")
        self.end_headers()
        if response.truncate:  # fault: the connection drops mid-body
            self.wfile.write(response.body[: len(response.body) // 2])
            self.wfile.flush()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)

    do_GET = _dispatch
    do_POST = _dispatch
    do_PUT = _dispatch
    do_DELETE = _dispatch
    do_HEAD = _dispatch


class SimulatorHandle:
    """A running simulator: its URL, and Python methods for the clock, faults, outcomes and inspection."""

    def __init__(self, core: SimulatorCore, server: _Server, thread: threading.Thread) -> None:
        self.core = core
        self._server = server
        self._thread = thread
        self.host, self.port = server.server_address[0], server.server_address[1]
        self.url = f"http://{self.host}:{self.port}"
        self.llm_base_url = f"{self.url}/compatible-mode/v1"
        core.url = self.url
        self._stopped = False

    # --- configuration echoes -----------------------------------------------------------------------
    @property
    def access_key_id(self) -> str:
        return self.core.config.access_key_id

    @property
    def access_key_secret(self) -> str:
        return self.core.config.access_key_secret

    @property
    def instance_id(self) -> str:
        return self.core.config.instance_id

    # --- lifecycle ----------------------------------------------------------------------------------
    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.core.stop_event.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SimulatorHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- clock --------------------------------------------------------------------------------------
    def now(self) -> datetime:
        return datetime.fromtimestamp(self.core.clock.now(), tz=UTC)

    def advance(self, seconds: float) -> dict:
        return self.core.advance(seconds)

    def set_speed(self, speed: float) -> dict:
        return self.core.set_speed(speed)

    def set_time(self, when: datetime | float | str) -> dict:
        return self.core.set_time(parse_start_time(when) or 0.0)

    # --- faults -------------------------------------------------------------------------------------
    def add_fault(
        self,
        action: str,
        kind: str,
        *,
        count: int | None = None,
        rate: float | None = None,
        seconds: float | None = None,
        retry_after_ms: int | None = None,
        code: str | None = None,
    ) -> FaultRule:
        return self.core.add_fault(action, kind, count=count, rate=rate, seconds=seconds, retry_after_ms=retry_after_ms, code=code)

    def clear_faults(self) -> None:
        self.core.clear_faults()

    def faults(self) -> list[dict]:
        return self.core.faults.list()

    # --- outcomes and LLM -----------------------------------------------------------------------------
    def script_outcomes(self, by_reference_id: dict | None = None, by_phone: dict | None = None) -> int:
        return self.core.script_outcomes(by_reference_id, by_phone)

    def script_outcome(self, *, reference_id: str | None = None, phone: str | None = None, **spec: Any) -> int:
        if bool(reference_id) == bool(phone):
            raise ValueError("give exactly one of reference_id or phone")
        if reference_id:
            return self.script_outcomes(by_reference_id={reference_id: spec})
        return self.script_outcomes(by_phone={phone: spec})

    def configure_llm(self, **options: Any) -> dict:
        return self.core.configure_llm(**options)

    # --- inspection -----------------------------------------------------------------------------------
    def ground_truth(self, job_group_id: str | None = None) -> list[dict]:
        return self.core.ground_truth(job_group_id)

    def stats(self, job_group_id: str | None = None) -> dict:
        return self.core.stats(job_group_id)

    def prepare_transcripts(self, job_group_id: str | None = None) -> int:
        return self.core.prepare_transcripts(job_group_id)

    def reset(self) -> None:
        self.core.reset()

    def run_until_final(self, job_group_id: str | None = None, *, step_seconds: float = 600, max_steps: int = 1000) -> list[dict]:
        """Advance the virtual clock in steps until every job (of the group) is final; return ground truth."""
        for _ in range(max_steps):
            truth = self.ground_truth(job_group_id)
            if all(job["final"] for job in truth):
                return truth
            self.advance(step_seconds)
        raise TimeoutError(f"jobs still unfinished after {max_steps} steps of {step_seconds} s")


def _django_default(name: str, fallback: str) -> str:
    try:
        from django.conf import settings

        if settings.configured:
            return str(getattr(settings, name, "") or fallback)
    except Exception:  # noqa: S110 - Django absent or misconfigured: fall back to the dev defaults
        pass
    return fallback


def start_simulator(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    speed: float = 1.0,
    seed: int = 0,
    instant: bool = False,
    access_key_id: str | None = None,
    access_key_secret: str | None = None,
    instance_id: str | None = None,
    llm_api_key: str | None = None,
    llm_latency_ms: int = 0,
    llm_failure_rate: float = 0.0,
    start_time: datetime | float | str | None = None,
    recording_ttl_seconds: float = 600.0,
    transcript_delay_rate: float = 0.05,
    transcript_missing_rate: float = 0.01,
    summary_rate: float = 0.85,
    require_signature: bool = True,
    faults: list[FaultRule] | None = None,
) -> SimulatorHandle:
    """Start a simulator on a background thread and return its handle (``port=0``: a free port).

    Keys and instance default to the Django settings (``ALIBABA_CLOUD_ACCESS_KEY_ID``,
    ``ALIBABA_CLOUD_ACCESS_KEY_SECRET``, ``OUTBOUNDBOT_INSTANCE_ID``) when Django is configured.
    """
    config = SimulatorConfig(
        host=host,
        port=port,
        speed=speed,
        seed=seed,
        instant=instant,
        access_key_id=access_key_id or _django_default("ALIBABA_CLOUD_ACCESS_KEY_ID", DEFAULT_ACCESS_KEY_ID),
        access_key_secret=access_key_secret or _django_default("ALIBABA_CLOUD_ACCESS_KEY_SECRET", DEFAULT_ACCESS_KEY_SECRET),
        instance_id=instance_id or _django_default("OUTBOUNDBOT_INSTANCE_ID", DEFAULT_INSTANCE_ID),
        start_time=parse_start_time(start_time),
        llm_api_key=llm_api_key or None,
        llm_latency_ms=llm_latency_ms,
        llm_failure_rate=llm_failure_rate,
        recording_ttl_seconds=recording_ttl_seconds,
        transcript_delay_rate=transcript_delay_rate,
        transcript_missing_rate=transcript_missing_rate,
        summary_rate=summary_rate,
        require_signature=require_signature,
    )
    core = SimulatorCore(config)
    for rule in faults or []:
        core.faults.add(rule)
    server = _Server((host, port), core)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="outboundbot-simulator", daemon=True)
    thread.start()
    handle = SimulatorHandle(core, server, thread)
    logger.info("simulator listening on %s (speed %s, seed %s, instant %s)", handle.url, speed, seed, instant)
    return handle
