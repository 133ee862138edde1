"""The unauthenticated control/test API under ``/_sim/`` (loopback clients only)."""

from __future__ import annotations

import ipaddress
import json
from urllib.parse import parse_qs

from calltasks.simulator.clock import parse_start_time
from calltasks.simulator.core import SimulatorCore
from calltasks.simulator.fates import ScriptError
from calltasks.simulator.faults import FaultError
from calltasks.simulator.wire import Request, Response, json_response

PREFIX = "/_sim/"
_FAULT_OPTIONS = ("count", "rate", "seconds", "retry_after_ms", "code")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _bad(message: str, status: int = 400) -> Response:
    return json_response(status, {"error": message})


class ControlHandler:
    def __init__(self, core: SimulatorCore) -> None:
        self.core = core

    def handle(self, request: Request) -> Response:
        if not _is_loopback(request.client_host):
            return _bad("the control API only answers loopback clients", 403)
        route = request.path[len(PREFIX) :].strip("/")
        query = {k: v[-1] for k, v in parse_qs(request.query_string).items()}
        body: object = {}
        if request.body:
            try:
                body = json.loads(request.body)
            except ValueError:
                return _bad("body must be JSON")
        if not isinstance(body, dict):
            return _bad("body must be a JSON object")
        try:
            return self._route(request.method, route, query, body)
        except (FaultError, ScriptError, ValueError) as error:
            return _bad(str(error))
        except KeyError as error:
            return _bad(f"not found: {error.args[0]}", 404)

    def _route(self, method: str, route: str, query: dict[str, str], body: dict) -> Response:
        core = self.core
        group_id = query.get("JobGroupId") or body.get("JobGroupId")
        if route == "health" and method == "GET":
            return json_response(200, {"status": "ok", "url": core.url, "clock": core.clock_state(), "seed": core.config.seed})
        if route == "stats" and method == "GET":
            return json_response(200, core.stats(group_id))
        if route == "ground-truth" and method == "GET":
            return json_response(200, {"JobGroupId": group_id, "jobs": core.ground_truth(group_id)})
        if route == "clock":
            if method == "GET":
                return json_response(200, core.clock_state())
            if method == "POST":
                state = core.clock_state()
                if "speed" in body:
                    state = core.set_speed(float(body["speed"]))
                if "set" in body:
                    state = core.set_time(parse_start_time(body["set"]) or 0.0)
                if "advance_seconds" in body:
                    state = core.advance(float(body["advance_seconds"]))
                return json_response(200, state)
        if route == "faults":
            if method == "GET":
                return json_response(200, {"faults": core.faults.list()})
            if method == "DELETE" or (method == "POST" and body.get("clear")):
                core.clear_faults()
                return json_response(200, {"faults": []})
            if method == "POST":
                items = body.get("faults") if isinstance(body.get("faults"), list) else [body]
                added = []
                for item in items:
                    if not isinstance(item, dict):
                        raise ValueError("each fault must be an object")
                    options = {k: item[k] for k in _FAULT_OPTIONS if item.get(k) is not None}
                    added.append(core.add_fault(str(item.get("action", "")), str(item.get("kind", "")), **options).to_dict())
                return json_response(200, {"added": added, "faults": core.faults.list()})
        if route == "outcomes" and method == "POST":
            by_reference = body.get("by_reference_id") or {}
            by_phone = body.get("by_phone") or {}
            if not isinstance(by_reference, dict) or not isinstance(by_phone, dict):
                raise ValueError("by_reference_id and by_phone must be objects")
            touched = core.script_outcomes(by_reference, by_phone)
            return json_response(200, {"scripted": len(by_reference) + len(by_phone), "existing_jobs_updated": touched})
        if route == "llm" and method == "POST":
            options = {k: body[k] for k in ("api_key", "latency_ms", "failure_rate") if k in body}
            return json_response(200, core.configure_llm(**options))
        if route == "reset" and method == "POST":
            core.reset()
            return json_response(200, {"status": "reset"})
        return _bad(f"unknown control endpoint {method} {PREFIX}{route}", 404)
