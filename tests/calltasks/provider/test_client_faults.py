"""Retry and ambiguity rules against the simulator's fault injection (real sockets; only the sleep is injected).

Test settings: OUTBOUNDBOT_MAX_RETRIES=2, BACKOFF_SECONDS=0.01, BACKOFF_MAX_SECONDS=0.05.
"""

from __future__ import annotations

import logging

import pytest

from calltasks.provider import ProviderError
from tests.calltasks.provider.helpers import STRATEGY, job_specs, request_count

MAX_ATTEMPTS = 3  # max_retries (2) + 1


@pytest.fixture
def client(make_client):
    return make_client()


@pytest.fixture
def group(client):
    return client.create_job_group(name="任务_9_故障测试", script_id="script-1", strategy=STRATEGY)


# --- throttling --------------------------------------------------------------------------------------------


def test_throttling_is_retried_after_the_advertised_delay(client, simulator, sleeps, group, caplog):
    simulator.add_fault("DescribeJobGroup", "throttle", count=1, retry_after_ms=120)
    with caplog.at_level(logging.WARNING, logger="calltasks.provider.client"):
        assert client.describe_job_group(job_group_id=group.job_group_id).job_group_id == group.job_group_id
    assert sleeps.calls == [pytest.approx(0.12)]
    assert request_count(simulator, "DescribeJobGroup") == 2
    [record] = [r for r in caplog.records if r.name == "calltasks.provider.client"]
    assert record.levelno == logging.WARNING
    text = record.getMessage()
    assert "DescribeJobGroup" in text and "attempt 1/3" in text and "Throttling.User" in text
    assert group.job_group_id not in text  # no parameters in the log line


def test_retry_after_is_capped(client, simulator, sleeps, group):
    simulator.add_fault("DescribeJobGroup", "throttle", count=1, retry_after_ms=60_000)
    client.describe_job_group(job_group_id=group.job_group_id)
    assert sleeps.calls == [pytest.approx(0.05 * 4)]  # 4 × backoff_max_seconds


def test_persistent_throttling_gives_up_retryable(client, simulator, sleeps, group):
    simulator.add_fault("DescribeJobGroup", "throttle", count=10, retry_after_ms=10)
    with pytest.raises(ProviderError) as info:
        client.describe_job_group(job_group_id=group.job_group_id)
    err = info.value
    assert err.code == "Throttling.User"
    assert err.is_throttling and err.retryable and not err.ambiguous
    assert err.attempts == MAX_ATTEMPTS
    assert sleeps.calls == [pytest.approx(0.01)] * 2


def test_throttled_assign_jobs_is_retried_because_it_was_refused(client, simulator, sleeps, group):
    simulator.add_fault("AssignJobs", "throttle", count=1, retry_after_ms=50)
    specs = job_specs(3)
    result = client.assign_jobs(job_group_id=group.job_group_id, jobs=specs)
    assert len(result.job_ids) == 3
    assert request_count(simulator, "AssignJobs") == 2
    assert sleeps.calls == [pytest.approx(0.05)]
    # applied exactly once
    assert client.list_jobs_by_group(job_group_id=group.job_group_id, page_size=10).total_count == 3


# --- 5xx ------------------------------------------------------------------------------------------------


def test_503_burst_is_retried_then_succeeds(client, simulator, sleeps, group):
    simulator.add_fault("QueryJobsWithResult", "unavailable", count=2)
    page = client.query_jobs_with_result(job_group_id=group.job_group_id)
    assert page.row_count == 0
    assert request_count(simulator, "QueryJobsWithResult") == 3
    assert len(sleeps.calls) == 2
    # full jitter within the exponential ceiling
    assert 0 <= sleeps.calls[0] <= 0.01 and 0 <= sleeps.calls[1] <= 0.02


def test_persistent_503_gives_up_after_max_retries(client, simulator, sleeps, group):
    simulator.add_fault("QueryJobsWithResult", "unavailable", count=50)
    with pytest.raises(ProviderError) as info:
        client.query_jobs_with_result(job_group_id=group.job_group_id)
    err = info.value
    assert (err.code, err.http_status) == ("ServiceUnavailable", 503)
    assert err.retryable is True and err.ambiguous is False
    assert err.attempts == MAX_ATTEMPTS
    assert request_count(simulator, "QueryJobsWithResult") == MAX_ATTEMPTS
    assert len(sleeps.calls) == MAX_ATTEMPTS - 1


def test_internal_error_on_a_control_action_is_retried(client, simulator, group):
    simulator.set_speed(0)  # freeze the clock: no job is dialled or finished meanwhile
    client.assign_jobs(job_group_id=group.job_group_id, jobs=job_specs(2))
    simulator.add_fault("SuspendJobs", "internal", count=1)
    client.suspend_jobs(job_group_id=group.job_group_id, all=True)
    assert request_count(simulator, "SuspendJobs") == 2
    paused = client.list_jobs_by_group(job_group_id=group.job_group_id, page_size=10, job_status="Paused")
    assert paused.total_count == 2


def test_max_retries_zero_means_one_attempt(make_client, simulator, sleeps, group):
    client = make_client(max_retries=0)
    simulator.add_fault("DescribeJobGroup", "unavailable", count=1)
    with pytest.raises(ProviderError) as info:
        client.describe_job_group(job_group_id=group.job_group_id)
    assert info.value.attempts == 1 and info.value.retryable
    assert sleeps.calls == []


# --- timeouts, malformed bodies, dropped connections ---------------------------------------------------


def test_slow_response_beyond_read_timeout_is_a_timeout(make_client, simulator, group):
    client = make_client(read_timeout=0.3, max_retries=0)
    simulator.add_fault("DescribeJobGroup", "slow", count=1, seconds=3)
    with pytest.raises(ProviderError) as info:
        client.describe_job_group(job_group_id=group.job_group_id)
    err = info.value
    assert err.code == "Timeout"
    assert err.retryable is True
    assert err.ambiguous is False  # a read: nothing to reconcile


def test_slow_read_is_retried(make_client, simulator, sleeps, group):
    client = make_client(read_timeout=0.3)
    simulator.add_fault("DescribeJobGroup", "slow", count=1, seconds=3)
    assert client.describe_job_group(job_group_id=group.job_group_id).job_group_id == group.job_group_id
    assert request_count(simulator, "DescribeJobGroup") == 2
    assert len(sleeps.calls) == 1


def test_success_false_with_http_200_is_an_error(client, simulator, group):
    simulator.add_fault("DescribeJobGroup", "success_false", count=1, code="LimitExceeded.ConcurrentConversation")
    with pytest.raises(ProviderError) as info:
        client.describe_job_group(job_group_id=group.job_group_id)
    err = info.value
    assert err.code == "LimitExceeded.ConcurrentConversation"
    assert err.http_status == 200
    assert err.request_id
    assert (err.retryable, err.attempts) == (False, 1)
    assert request_count(simulator, "DescribeJobGroup") == 1


def test_success_false_with_a_transient_code_is_retried_for_reads(client, simulator, group):
    simulator.add_fault("ListJobGroups", "success_false", count=1, code="ServiceUnavailable")
    page = client.list_job_groups(search_text="故障测试")
    assert page.total_count == 1
    assert request_count(simulator, "ListJobGroups") == 2


def test_malformed_json_is_retried(client, simulator, sleeps, group):
    simulator.add_fault("QueryJobsWithResult", "malformed", count=1)
    assert client.query_jobs_with_result(job_group_id=group.job_group_id).row_count == 0
    assert request_count(simulator, "QueryJobsWithResult") == 2
    assert len(sleeps.calls) == 1


def test_persistently_malformed_json_is_a_retryable_error(client, simulator, group):
    simulator.add_fault("QueryJobsWithResult", "malformed", count=50)
    with pytest.raises(ProviderError) as info:
        client.query_jobs_with_result(job_group_id=group.job_group_id)
    err = info.value
    assert (err.code, err.retryable, err.attempts) == ("MalformedResponse", True, MAX_ATTEMPTS)
    assert err.http_status == 200


def test_dropped_connection_is_retried_for_reads(client, simulator, group):
    simulator.add_fault("DescribeJobGroup", "drop", count=1)
    assert client.describe_job_group(job_group_id=group.job_group_id).job_group_id == group.job_group_id
    assert request_count(simulator, "DescribeJobGroup") == 2


def test_persistently_dropped_connection_is_a_network_error(client, simulator, group):
    simulator.add_fault("ListJobsByGroup", "drop", count=50)
    with pytest.raises(ProviderError) as info:
        client.list_jobs_by_group(job_group_id=group.job_group_id)
    assert (info.value.code, info.value.retryable, info.value.attempts) == ("NetworkError", True, MAX_ATTEMPTS)


# --- non-idempotent actions: never blindly retried ------------------------------------------------------


@pytest.mark.parametrize("kind", ["unavailable", "internal", "malformed", "drop"])
def test_assign_jobs_is_attempted_once_and_raises_ambiguous(client, simulator, sleeps, group, kind):
    simulator.add_fault("AssignJobs", kind, count=5)
    with pytest.raises(ProviderError) as info:
        client.assign_jobs(job_group_id=group.job_group_id, jobs=job_specs(3))
    err = info.value
    assert err.ambiguous is True
    assert err.retryable is True
    assert err.attempts == 1
    assert request_count(simulator, "AssignJobs") == 1
    assert sleeps.calls == []
    assert "ambiguous" in str(err)


def test_assign_jobs_503_then_reconcile_finds_nothing_and_resubmits(client, simulator, group):
    specs = job_specs(3)
    simulator.add_fault("AssignJobs", "unavailable", count=1)
    with pytest.raises(ProviderError) as info:
        client.assign_jobs(job_group_id=group.job_group_id, jobs=specs)
    assert info.value.ambiguous
    # reconcile: the provider never ran it (the 503 came before the action)
    known = client.find_jobs_by_reference_ids(group.job_group_id, [spec.reference_id for spec in specs])
    missing = [spec for spec in specs if spec.reference_id not in known]
    assert missing == specs
    assert len(client.assign_jobs(job_group_id=group.job_group_id, jobs=missing).job_ids) == 3
    assert client.query_jobs_with_result(job_group_id=group.job_group_id).row_count == 3


@pytest.mark.parametrize("kind", ["commit_timeout", "commit_drop"])
def test_assign_jobs_lost_answer_after_commit_is_ambiguous_and_reconciled_by_reference_id(
    make_client, simulator, sleeps, group, kind
):
    client = make_client(read_timeout=0.5)
    specs = job_specs(4)
    simulator.add_fault("AssignJobs", kind, count=1, seconds=3)
    with pytest.raises(ProviderError) as info:
        client.assign_jobs(job_group_id=group.job_group_id, jobs=specs)
    err = info.value
    assert err.code == ("Timeout" if kind == "commit_timeout" else "NetworkError")
    assert (err.ambiguous, err.attempts) == (True, 1)
    assert request_count(simulator, "AssignJobs") == 1
    assert sleeps.calls == []
    # the jobs were created: they are found by reference id, so nothing is submitted twice
    found = client.find_jobs_by_reference_ids(group.job_group_id, [spec.reference_id for spec in specs])
    assert set(found) == {spec.reference_id for spec in specs}
    assert [spec for spec in specs if spec.reference_id not in found] == []
    one = client.query_jobs_with_result(job_group_id=group.job_group_id, query_text=specs[2].reference_id)
    assert [job.job_id for job in one.jobs] == [found[specs[2].reference_id]]


@pytest.mark.parametrize("kind", ["unavailable", "malformed", "drop"])
def test_create_job_group_is_attempted_once_and_raises_ambiguous(client, simulator, sleeps, kind):
    simulator.add_fault("CreateJobGroup", kind, count=5)
    with pytest.raises(ProviderError) as info:
        client.create_job_group(name="任务_10_单次", script_id="s", strategy=STRATEGY)
    assert (info.value.ambiguous, info.value.attempts) == (True, 1)
    assert request_count(simulator, "CreateJobGroup") == 1
    assert sleeps.calls == []


def test_create_job_group_timeout_after_commit_is_reconciled_by_name(make_client, simulator):
    client = make_client(read_timeout=0.5)
    simulator.add_fault("CreateJobGroup", "commit_timeout", count=1, seconds=3)
    with pytest.raises(ProviderError) as info:
        client.create_job_group(name="任务_11_超时", script_id="s", strategy=STRATEGY)
    assert (info.value.code, info.value.ambiguous) == ("Timeout", True)
    assert request_count(simulator, "CreateJobGroup") == 1
    [existing] = client.find_job_groups_by_name("任务_11_超时")
    assert existing.job_group_id
    assert client.list_job_groups(search_text="任务_11_超时").total_count == 1


def test_create_job_group_throttled_is_retried(client, simulator, sleeps):
    simulator.add_fault("CreateJobGroup", "throttle", count=1, retry_after_ms=30)
    group = client.create_job_group(name="任务_12_限流", script_id="s", strategy=STRATEGY)
    assert group.job_group_id
    assert request_count(simulator, "CreateJobGroup") == 2
    assert sleeps.calls == [pytest.approx(0.03)]
    assert len(client.find_job_groups_by_name("任务_12_限流")) == 1


def test_logs_and_errors_carry_no_phone_numbers(client, simulator, group, caplog):
    specs = job_specs(2)
    simulator.add_fault("AssignJobs", "throttle", count=1, retry_after_ms=1)
    simulator.add_fault("AssignJobs", "unavailable", count=1)
    with caplog.at_level(logging.DEBUG), pytest.raises(ProviderError) as info:
        client.assign_jobs(job_group_id=group.job_group_id, jobs=specs)
    texts = [r.getMessage() for r in caplog.records] + [str(info.value), repr(info.value)]
    for spec in specs:
        assert all(spec.phone_number not in text for text in texts)
    assert simulator.access_key_secret not in " ".join(texts)
