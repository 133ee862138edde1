"""The ``truncate`` fault (the connection closes mid-body) as the two HTTP clients see it."""

from __future__ import annotations

import pytest

from calltasks.provider.client import OutboundBotClient
from calltasks.provider.errors import ProviderError
from calltasks.provider.types import JobSpec
from followups.llm import LLMClient

MESSAGES = [{"role": "user", "content": "请用 json 回答：客户有意向吗？"}]


def _client(simulator, **overrides) -> OutboundBotClient:
    return OutboundBotClient.from_settings(sleep=lambda _s: None, **overrides)


def test_truncated_read_is_retried(simulator):
    client = _client(simulator, max_retries=1)
    simulator.add_fault("ListJobGroups", "truncate", count=1)
    assert client.list_job_groups().total_count == 0
    assert simulator.faults() == []  # the one truncated answer was consumed, the retry got a whole one


def test_truncated_assign_jobs_is_ambiguous_and_was_applied(simulator):
    """AssignJobs ran at the provider, its answer was cut off: never resent blindly, reconcilable by referenceId."""
    client = _client(simulator, max_retries=3)
    group = client.create_job_group(name="截断测试", script_id="script-rel")
    simulator.add_fault("AssignJobs", "truncate", count=1)
    with pytest.raises(ProviderError) as caught:
        client.assign_jobs(
            job_group_id=group.job_group_id, jobs=[JobSpec(phone_number="13600000001", reference_id="trunc-1")]
        )
    assert caught.value.ambiguous and caught.value.attempts == 1
    assert set(client.find_jobs_by_reference_ids(group.job_group_id, ["trunc-1"])) == {"trunc-1"}


def test_llm_answer_cut_off_mid_body_is_retried(simulator_factory, settings):
    simulator = simulator_factory(llm_api_key="sk-trunc")
    client = LLMClient(base_url=simulator.llm_base_url, api_key="sk-trunc", model="qwen-plus", max_retries=1, sleep=lambda _s: None)
    simulator.add_fault("llm", "truncate", count=1)
    assert client.chat(MESSAGES).strip().startswith("{")
    assert simulator.faults() == []
