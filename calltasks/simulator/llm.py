"""OpenAI-compatible ``/compatible-mode/v1/chat/completions`` answering the interest judge's contract.

The verdict comes from the customer's cue phrases (the ones :mod:`dialogues` generates), so it
matches the campaign's ground truth. Relative times (明天下午) resolve from the current time the
prompt states, else from the virtual clock.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from calltasks.simulator.clock import SHANGHAI, VirtualClock
from calltasks.simulator.dialogues import (
    CATEGORY_CODES,
    CATEGORY_LABELS,
    classify,
    find_time_phrase,
    remark_for,
    resolve_time_phrase,
)
from calltasks.simulator.faults import LLM_TARGET, FaultInjector, FaultRule
from calltasks.simulator.wire import Request, Response, drop_response, json_response

CHAT_PATH = "/compatible-mode/v1/chat/completions"
MODELS_PATH = "/compatible-mode/v1/models"

_CUSTOMER_LINE = re.compile(r"^\s*(?:[-*]\s*)?(?:\[[^\]]*\]\s*)?(?:客户|顾客|用户|Contact|Customer|customer|contact)\s*[:：]\s*(.+)$", re.M)
_CUSTOMER_JSON = re.compile(r'"(?:Speaker|speaker|role)"\s*:\s*"(?:Contact|contact|customer|客户)"\s*,\s*"(?:Script|script|text|content)"\s*:\s*"([^"]*)"')
_NOW_HINT = re.compile(
    r"(?:当前时间|当前日期|现在时间|现在是|今天是|current time|now)\D{0,30}?(\d{4}-\d{2}-\d{2})(?:[ T](\d{1,2}):(\d{2}))?",
    re.I,
)
_ANY_DATETIME = re.compile(r"(\d{4}-\d{2}-\d{2})[ T](\d{1,2}):(\d{2})")
_TRANSCRIPT_BLOCK = re.compile(r"<transcript>(.*?)</transcript>", re.S)
_PRODUCT = re.compile(r"(?:意向车型|车型|产品|product)\s*[:：=]\s*([^\s,，。;；\"]+)", re.I)


@dataclass
class LlmConfig:
    api_key: str | None = None  # None: any non-empty key is accepted
    latency_ms: int = 0
    failure_rate: float = 0.0


def _error(status: int, code: str, message: str, type_: str, headers: dict[str, str] | None = None) -> Response:
    payload = {"error": {"code": code, "message": message, "param": None, "type": type_}, "request_id": str(uuid.uuid4())}
    return json_response(status, payload, headers)


def _message_texts(messages: list) -> list[tuple[str, str]]:
    texts = []
    for message in messages:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, list):  # content parts
            content = "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
        texts.append((str(message.get("role", "")), str(content or "")))
    return texts


def current_time_from_prompt(text: str) -> datetime | None:
    for pattern in (_NOW_HINT, _ANY_DATETIME):
        match = pattern.search(text)
        if match:
            try:
                day = datetime.strptime(match.group(1), "%Y-%m-%d")
            except ValueError:
                continue
            hour = int(match.group(2)) if match.group(2) else 9
            minute = int(match.group(3)) if match.group(3) else 0
            if hour > 23 or minute > 59:
                continue
            return day.replace(hour=hour, minute=minute, tzinfo=SHANGHAI)
    return None


def judge(messages: list, clock: VirtualClock) -> dict:
    """The verdict dict ``{leads_remark, is_interested, next_follow_time}`` for a chat request."""
    texts = _message_texts(messages)
    full = "\n".join(text for _role, text in texts)
    user_text = "\n".join(text for role, text in texts if role != "system") or full
    block = _TRANSCRIPT_BLOCK.search(user_text)
    dialogue_text = block.group(1) if block else user_text
    customer_lines = _CUSTOMER_LINE.findall(dialogue_text) or _CUSTOMER_JSON.findall(dialogue_text)
    customer_text = "\n".join(customer_lines) if customer_lines else dialogue_text
    category = classify(customer_text)
    phrase = find_time_phrase(customer_text) if category == "interested" else None
    next_follow = None
    if phrase:
        now = current_time_from_prompt(full) or datetime.fromtimestamp(clock.now(), tz=SHANGHAI)
        next_follow = resolve_time_phrase(phrase, now).strftime("%Y-%m-%d %H:%M")
    product_match = _PRODUCT.search(user_text)
    product = product_match.group(1) if product_match else ""
    if product in {"未知", "无", "null", "None"}:
        product = ""
    return {
        "leads_remark": remark_for(category, product, phrase),
        "is_interested": CATEGORY_CODES[category],
        "next_follow_time": next_follow,
    }


def _quirky(verdict: dict, rng: random.Random) -> dict:
    code = verdict["is_interested"]
    labels = {1: CATEGORY_LABELS["interested"], 2: CATEGORY_LABELS["not_interested"], 0: CATEGORY_LABELS["ambiguous"]}
    if code in (1, 2) and rng.random() < 0.5:
        value: object = code == 1  # booleans: true = interested, false = not interested
    else:
        value = labels[code]
    return {**verdict, "is_interested": value}


class LlmSimulator:
    def __init__(self, *, clock: VirtualClock, faults: FaultInjector, config: LlmConfig, seed: int, stop_event: threading.Event):
        self.clock = clock
        self.faults = faults
        self.config = config
        self._rng = random.Random(f"llm-{seed}")
        self._rng_lock = threading.Lock()
        self._stop = stop_event
        self.requests = 0

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stop.wait(seconds)

    def handle(self, request: Request) -> Response:
        if request.path == MODELS_PATH and request.method == "GET":
            return json_response(200, {"object": "list", "data": [{"id": "qwen-plus", "object": "model", "owned_by": "sim"}]})
        if request.method != "POST":
            return _error(405, "method_not_allowed", "Use POST", "invalid_request_error")
        auth = request.headers.get("authorization", "")
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not key or (self.config.api_key is not None and key != self.config.api_key):
            return _error(401, "invalid_api_key", "Incorrect API key provided.", "invalid_request_error")
        try:
            payload = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return _error(400, "invalid_parameter_error", "Request body is not valid JSON.", "invalid_request_error")
        messages = payload.get("messages") if isinstance(payload, dict) else None
        if not isinstance(messages, list) or not messages or not payload.get("model"):
            return _error(400, "invalid_parameter_error", "model and messages are required.", "invalid_request_error")
        response_format = payload.get("response_format") or {}
        texts = _message_texts(messages)
        if isinstance(response_format, dict) and response_format.get("type") == "json_object":
            if not any("json" in text.lower() for role, text in texts if role in {"system", "user"}):
                return _error(
                    400,
                    "invalid_parameter_error",
                    "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
                    "invalid_request_error",
                )
        self.requests += 1
        self._sleep(self.config.latency_ms / 1000.0)
        rule = self.faults.match(LLM_TARGET)
        if rule is None and self.config.failure_rate > 0:
            with self._rng_lock:
                if self._rng.random() < self.config.failure_rate:
                    rule = FaultRule(target=LLM_TARGET, kind=self._rng.choice(["throttle", "internal", "unavailable"]), count=1)
        if rule is not None:
            failure = self._failure(rule)
            if failure is not None:
                return failure
        verdict = judge(messages, self.clock)
        content = json.dumps(verdict, ensure_ascii=False)
        if rule is not None and rule.kind == "garbage":
            content = "抱歉，我无法判断这段对话。The customer seems " + "uncertain"
        elif rule is not None and rule.kind == "fenced":
            content = f"```json\n{json.dumps(verdict, ensure_ascii=False, indent=2)}\n```"
        elif rule is not None and rule.kind == "quirks":
            with self._rng_lock:
                content = json.dumps(_quirky(verdict, self._rng), ensure_ascii=False)
        prompt_chars = sum(len(text) for _r, text in texts)
        answer = json_response(
            200,
            {
                "id": f"chatcmpl-{uuid.uuid4()}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": str(payload.get("model")),
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop", "logprobs": None}
                ],
                "usage": {"prompt_tokens": prompt_chars, "completion_tokens": len(content), "total_tokens": prompt_chars + len(content)},
                "system_fingerprint": None,
            },
        )
        answer.truncate = rule is not None and rule.kind == "truncate"
        return answer

    def _failure(self, rule: FaultRule) -> Response | None:
        if rule.kind == "throttle":
            retry_after = max(1, round(rule.retry_after_ms / 1000))
            return _error(
                429,
                "rate_limit_exceeded",
                "Requests rate limit exceeded, please try again later. (Throttling.RateQuota)",
                "Throttling.RateQuota",
                {"Retry-After": str(retry_after), "retry-after-ms": str(rule.retry_after_ms)},
            )
        if rule.kind == "internal":
            return _error(500, "internal_error", "An internal error has occured, please try again later.", "InternalError")
        if rule.kind == "unavailable":
            return _error(503, "ServiceUnavailable", "The service is temporarily unavailable.", "ServiceUnavailable")
        if rule.kind == "slow":
            self._sleep(rule.seconds)
            return None
        if rule.kind == "drop":
            return drop_response()
        if rule.kind == "malformed":
            return Response(status=200, body=b'{"id":"chatcmpl-x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assis')
        return None  # garbage / fenced / quirks mangle the answer instead
