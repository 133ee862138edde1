"""The OpenAI-compatible chat endpoint: auth, shape, verdicts against ground truth, time resolution, faults."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
import requests

from calltasks.simulator.clock import SHANGHAI
from calltasks.simulator.dialogues import AMBIGUOUS, CUES, INTERESTED, NOT_INTERESTED, DialogueSpec, build_conversation
from followups.prompts import build_messages
from tests.calltasks.simulator.conftest import make_client
from tests.calltasks.simulator.rpc_client import leads

KEY = {"Authorization": "Bearer sk-test"}
NOW_MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)


def chat(handle, messages, *, headers=KEY, timeout=5, **extra) -> requests.Response:
    body = {"model": "qwen-plus", "messages": messages, **extra}
    return requests.post(f"{handle.llm_base_url}/chat/completions", json=body, headers=headers, timeout=timeout)


def verdict(response: requests.Response) -> dict:
    assert response.status_code == 200, response.text
    return json.loads(response.json()["choices"][0]["message"]["content"])


def simple_prompt(customer_lines: list[str], now: str = "2026-11-23 10:00") -> list[dict]:
    transcript = "\n".join(f"机器人：您好\n客户：{line}" for line in customer_lines)
    return [
        {"role": "system", "content": f"当前时间: {now} (Asia/Shanghai)。只输出 JSON。"},
        {"role": "user", "content": f"<transcript>\n{transcript}\n</transcript>"},
    ]


def test_auth_and_response_shape(simulator_factory):
    handle = simulator_factory()
    messages = simple_prompt(["有兴趣"])
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Basic abc"}):
        response = chat(handle, messages, headers=headers)
        assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"
    response = chat(handle, messages, headers={"Authorization": "Bearer anything"})
    data = response.json()
    assert data["object"] == "chat.completion" and data["model"] == "qwen-plus" and data["id"]
    choice = data["choices"][0]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop" and choice["message"]["role"] == "assistant"
    assert {"prompt_tokens", "completion_tokens", "total_tokens"} <= data["usage"].keys()
    strict = simulator_factory(llm_api_key="sk-right")
    assert chat(strict, messages, headers={"Authorization": "Bearer sk-wrong"}).status_code == 401
    assert chat(strict, messages, headers={"Authorization": "Bearer sk-right"}).status_code == 200


def test_json_mode_requires_the_word_json_and_valid_bodies(simulator):
    no_json = [{"role": "user", "content": "客户：有兴趣"}]
    response = chat(simulator, no_json, response_format={"type": "json_object"})
    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"
    assert chat(simulator, simple_prompt(["有兴趣"]), response_format={"type": "json_object"}).status_code == 200
    bad = requests.post(f"{simulator.llm_base_url}/chat/completions", data=b"{oops", headers=KEY, timeout=5)
    assert bad.status_code == 400
    assert chat(simulator, []).status_code == 400


def test_verdict_categories_and_time_resolution(simulator):
    assert verdict(chat(simulator, simple_prompt(["我不需要，已经买了"])))["is_interested"] == 2
    assert verdict(chat(simulator, simple_prompt(["我再考虑一下吧"])))["is_interested"] == 0
    assert verdict(chat(simulator, simple_prompt(["喂？"])))["is_interested"] == 0
    answer = verdict(chat(simulator, simple_prompt(["有兴趣", "可以，我明天下午过来试驾。"])))
    assert answer["is_interested"] == 1 and answer["next_follow_time"] == "2026-11-24 15:00"
    assert answer["leads_remark"] and "明天下午" in answer["leads_remark"]
    saturday = verdict(chat(simulator, simple_prompt(["行，那就周六上午过来试驾吧。"])))
    assert saturday["next_follow_time"] == "2026-11-28 10:00"
    iso = verdict(chat(simulator, simple_prompt(["可以，我后天上午过来试驾。"], now="2026-12-31T18:30:00+08:00")))
    assert iso["next_follow_time"] == "2027-01-02 10:00"
    untimed = verdict(chat(simulator, simple_prompt(["可以安排试驾，具体时间我再跟你约。"])))
    assert untimed["is_interested"] == 1 and untimed["next_follow_time"] is None
    # Cues the robot says, or that sit in the instructions, do not count: only the customer's lines.
    robot_only = [{"role": "user", "content": "<transcript>\n机器人：您不需要也没关系\n客户：有兴趣\n</transcript>"}]
    assert verdict(chat(simulator, robot_only))["is_interested"] == 1


def test_dialogue_cues_are_unambiguous():
    import random

    for category in (INTERESTED, NOT_INTERESTED, AMBIGUOUS):
        for seed in range(40):
            for silent in (False, True):
                spec = DialogueSpec(category, "张三", "星越L", "星辰汽车4S店", "明天下午" if seed % 2 else None, silent)
                turns = build_conversation(spec, random.Random(seed), start_ms=0, duration_s=60)
                robot = "".join(t["Script"] for t in turns if t["Speaker"] == "Robot")
                customer = "".join(t["Script"] for t in turns if t["Speaker"] == "Contact")
                assert not any(cue in robot for cues in CUES.values() for cue in cues)
                if silent:
                    assert not any(cue in customer for cues in CUES.values() for cue in cues)
                else:
                    assert any(cue in customer for cue in CUES[category])


def test_verdicts_match_ground_truth_with_the_product_prompt(simulator_factory):
    handle = simulator_factory()
    c = make_client(handle)
    gid = c.create_group(strategy={"maxAttemptsPerDay": 3, "minAttemptInterval": 10})
    batch = [{**lead, "product": "星越L"} for lead in leads(150)]
    ids = c.assign(gid, batch)
    truth = {t["job_id"]: t for t in handle.run_until_final(gid)}
    handle.advance(3600)  # let delayed transcripts arrive
    checked: dict[str, int] = {}
    for start in range(0, len(ids), 99):
        for job in c.ok("ListJobs", {"JobId": ids[start : start + 99]})["Jobs"]:
            expected = truth[job["JobId"]]
            conversation = job["Tasks"][-1]["Conversation"] if job["Tasks"] else []
            if not expected["connected"] or not conversation:
                continue
            messages = build_messages(conversation, now_local=NOW_MONDAY, tz_name="Asia/Shanghai", lead_name="张三", product="星越L", summary=job["Summary"])
            answer = verdict(chat(handle, messages, response_format={"type": "json_object"}))
            assert answer["is_interested"] == expected["is_interested"], (expected, conversation)
            if expected["time_phrase"]:
                assert answer["next_follow_time"] and answer["next_follow_time"] > "2026-11-23 10:00"
            else:
                assert answer["next_follow_time"] is None
            checked[expected["interest"]] = checked.get(expected["interest"], 0) + 1
    assert sum(checked.values()) >= 50 and set(checked) == {"interested", "not_interested", "ambiguous"}


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [("throttle", 429, "rate_limit_exceeded"), ("internal", 500, "internal_error"), ("unavailable", 503, "ServiceUnavailable")],
)
def test_llm_error_faults(simulator, kind, status, code):
    simulator.add_fault("llm", kind, count=1, retry_after_ms=2000)
    response = chat(simulator, simple_prompt(["有兴趣"]))
    assert response.status_code == status and response.json()["error"]["code"] == code
    if kind == "throttle":
        assert response.headers["Retry-After"] == "2"
    assert chat(simulator, simple_prompt(["有兴趣"])).status_code == 200  # count exhausted


def test_llm_answer_mangling_faults(simulator):
    messages = simple_prompt(["有兴趣"])
    simulator.add_fault("llm", "garbage")
    content = chat(simulator, messages).json()["choices"][0]["message"]["content"]
    with pytest.raises(ValueError):
        json.loads(content)
    simulator.add_fault("llm", "fenced")
    content = chat(simulator, messages).json()["choices"][0]["message"]["content"]
    assert content.startswith("```json") and json.loads(content.strip("`").removeprefix("json"))["is_interested"] == 1
    simulator.add_fault("llm", "quirks", count=6)
    values = {json.dumps(verdict(chat(simulator, messages))["is_interested"], ensure_ascii=False) for _ in range(6)}
    assert values <= {"true", '"有意向"'} and values
    simulator.add_fault("llm", "malformed")
    with pytest.raises(ValueError):
        chat(simulator, messages).json()
    simulator.add_fault("llm", "drop")
    with pytest.raises(requests.ConnectionError):
        chat(simulator, messages)
    simulator.add_fault("llm", "slow", seconds=2)
    with pytest.raises(requests.Timeout):
        chat(simulator, messages, timeout=0.3)


def test_llm_latency_and_failure_rate(simulator_factory):
    import time

    slow = simulator_factory(llm_latency_ms=300)
    began = time.perf_counter()
    assert chat(slow, simple_prompt(["有兴趣"])).status_code == 200
    assert time.perf_counter() - began >= 0.3
    failing = simulator_factory(llm_failure_rate=1.0)
    codes = {chat(failing, simple_prompt(["有兴趣"])).status_code for _ in range(12)}
    assert codes <= {429, 500, 503} and len(codes) >= 2
    failing.configure_llm(failure_rate=0.0)
    assert chat(failing, simple_prompt(["有兴趣"])).status_code == 200
