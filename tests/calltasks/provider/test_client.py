"""Contract tests: the production client against the live in-process simulator, every action, both signing modes,
success and error shapes. No HTTP mocks: every request goes over a real socket and is signature-checked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from calltasks.provider import (
    CallAttempt,
    JobDetail,
    JobGroup,
    JobResult,
    OutboundBotClient,
    ProviderError,
)
from tests.calltasks.provider.helpers import STRATEGY, job_specs, request_count


def _new_group(client: OutboundBotClient, name: str = "任务_1_合约测试") -> JobGroup:
    return client.create_job_group(name=name, script_id="script-1", strategy=STRATEGY)


def _script_mix(simulator, specs) -> None:
    """Deterministic outcomes: first two connect (with transcript), the rest never answer."""
    outcomes = {}
    for index, spec in enumerate(specs):
        if index < 2:
            outcomes[spec.reference_id] = {
                "attempts": ["SucceededFinish"],
                "interest": "interested" if index == 0 else "not_interested",
                "transcript": True,
                "summary": True,
            }
        else:
            outcomes[spec.reference_id] = {"attempts": ["NoAnswer"]}
    simulator.script_outcomes(by_reference_id=outcomes)


def test_full_campaign_through_every_read_action(client, simulator):
    group = client.create_job_group(
        name="任务_7_奥迪回访",
        script_id="script-7",
        description="合约测试",
        strategy=STRATEGY,
        calling_numbers=["057188880001"],
        recall_strategy={"emptyNumberIgnore": True, "inArrearsIgnore": False, "outOfServiceIgnore": False},
        ringing_duration=30,
        priority="Urgent",
    )
    assert group.job_group_id
    assert group.name == "任务_7_奥迪回访"
    assert group.description == "合约测试"
    assert group.script_id == "script-7"
    assert group.calling_numbers == ["057188880001"]
    assert group.ringing_duration == 30
    assert group.priority == "Urgent"
    assert group.strategy["MaxAttemptsPerDay"] == 2
    assert isinstance(group.creation_time, datetime) and group.creation_time.tzinfo == UTC
    assert group.raw["JobGroupId"] == group.job_group_id

    specs = job_specs(5)
    _script_mix(simulator, specs)
    assigned = client.assign_jobs(job_group_id=group.job_group_id, jobs=specs)
    assert assigned.job_group_id == group.job_group_id
    assert len(assigned.job_ids) == len(set(assigned.job_ids)) == 5

    listed = client.list_jobs_by_group(job_group_id=group.job_group_id, page_number=1, page_size=10)
    assert listed.total_count == 5
    assert {job.reference_id for job in listed.jobs} == {spec.reference_id for spec in specs}
    assert all(isinstance(job, JobDetail) and job.job_group_id == group.job_group_id for job in listed.jobs)
    assert listed.jobs[0].extras["product"] == "星辰X5"

    truth = {job["reference_id"]: job for job in simulator.run_until_final(group.job_group_id)}

    # QueryJobsWithResult, page by page
    first = client.query_jobs_with_result(job_group_id=group.job_group_id, page_number=1, page_size=2)
    assert (first.page_number, first.page_size, first.row_count, first.page_count) == (1, 2, 5, 3)
    assert len(first.jobs) == 2
    results = list(client.iter_jobs_with_result(group.job_group_id, page_size=2))
    assert len(results) == 5
    by_ref = {job.reference_id: job for job in results}
    assert set(by_ref) == set(truth)
    for spec in specs:
        job = by_ref[spec.reference_id]
        assert isinstance(job, JobResult)
        assert job.phone_number == spec.phone_number
        assert job.status == truth[spec.reference_id]["status"]
        assert job.job_id in assigned.job_ids
        assert job.latest_task is not None
    connected = by_ref[specs[0].reference_id]
    assert connected.status == "Succeeded"
    assert connected.latest_task.status == "SucceededFinish"
    assert connected.latest_task.has_answered is True
    assert connected.latest_task.duration_seconds and connected.latest_task.duration_seconds > 0
    assert connected.latest_task.call_time.tzinfo == UTC
    missed = by_ref[specs[4].reference_id]
    assert missed.status == "Failed"
    assert missed.failure_reason == "NoAnswer"
    assert missed.latest_task.has_answered is False

    # filters
    only = client.query_jobs_with_result(job_group_id=group.job_group_id, query_text=specs[3].reference_id)
    assert [job.reference_id for job in only.jobs] == [specs[3].reference_id]
    answered = client.query_jobs_with_result(job_group_id=group.job_group_id, has_answered=True)
    assert {job.reference_id for job in answered.jobs} == {specs[0].reference_id, specs[1].reference_id}
    failed = client.query_jobs_with_result(job_group_id=group.job_group_id, job_status="Failed")
    assert failed.row_count == 3

    # ListJobs and DescribeJob: attempts and transcripts
    details = client.list_jobs(job_ids=assigned.job_ids)
    assert len(details) == 5
    detail_by_ref = {job.reference_id: job for job in details}
    winner = detail_by_ref[specs[0].reference_id]
    assert winner.status == "Succeeded"
    assert winner.phone_number == specs[0].phone_number
    attempt = winner.tasks[-1]
    assert isinstance(attempt, CallAttempt)
    assert attempt.status == "SucceededFinish"
    assert attempt.duration_seconds > 0
    assert attempt.actual_time <= attempt.end_time
    assert attempt.conversation, "a connected, scripted call has a transcript"
    speakers = {turn["speaker"] for turn in attempt.conversation}
    assert speakers <= {"Robot", "Contact"} and "Robot" in speakers
    stamps = [turn["timestamp"] for turn in attempt.conversation]
    assert all(isinstance(ts, datetime) and ts.tzinfo == UTC for ts in stamps)
    assert stamps == sorted(stamps)
    assert winner.summary and winner.summary[0]["name"]
    for job in details:
        times = [t.planed_time for t in job.tasks]
        assert times == sorted(times)

    described = client.describe_job(job_id=winner.job_id)
    assert described.job_id == winner.job_id
    assert [t.task_id for t in described.tasks] == [t.task_id for t in winner.tasks]
    assert described.extras["product"] == "星辰X5"

    # DescribeJobGroup with progress, ListJobGroups by name
    described_group = client.describe_job_group(job_group_id=group.job_group_id)
    assert described_group.progress is not None
    assert described_group.progress.total_jobs == 5
    assert described_group.progress.total_completed == 5
    assert described_group.progress.failed == 3
    page = client.list_job_groups(search_text="奥迪回访")
    assert page.total_count >= 1
    assert group.job_group_id in {g.job_group_id for g in page.job_groups}
    assert [g.job_group_id for g in client.find_job_groups_by_name("任务_7_奥迪回访")] == [group.job_group_id]

    # DownloadRecording: a fresh signed URL that actually serves the WAV
    recording = client.download_recording(task_id=attempt.task_id)
    assert recording.url.startswith(simulator.url)
    assert recording.file_name and recording.file_name.endswith(".wav")
    assert recording.expires_at is not None and recording.expires_at.tzinfo == UTC
    audio = requests.get(recording.url, timeout=5)
    assert audio.status_code == 200
    assert audio.content[:4] == b"RIFF"


def test_suspend_resume_cancel(client, simulator):
    simulator.set_speed(0)  # freeze the clock: nothing is dialled while we look
    group = _new_group(client)
    specs = job_specs(3)
    assigned = client.assign_jobs(job_group_id=group.job_group_id, jobs=specs)

    client.suspend_jobs(job_group_id=group.job_group_id, all=True)
    paused = client.list_jobs_by_group(
        job_group_id=group.job_group_id, page_number=1, page_size=10, job_status="Paused"
    )
    assert paused.total_count == 3

    client.resume_jobs(job_group_id=group.job_group_id, reference_ids=[specs[0].reference_id])
    statuses = {
        j.reference_id: j.status for j in client.list_jobs_by_group(job_group_id=group.job_group_id, page_size=10).jobs
    }
    assert statuses[specs[0].reference_id] == "Scheduling"
    assert statuses[specs[1].reference_id] == "Paused"

    client.cancel_jobs(job_group_id=group.job_group_id, job_ids=[assigned.job_ids[1]])
    assert client.describe_job(job_id=assigned.job_ids[1]).status == "Cancelled"

    client.cancel_jobs(job_group_id=group.job_group_id, all=True)
    statuses = {j.status for j in client.list_jobs_by_group(job_group_id=group.job_group_id, page_size=10).jobs}
    assert statuses == {"Cancelled"}
    # idempotent in effect: cancelling again is fine
    client.cancel_jobs(job_group_id=group.job_group_id, all=True)


def test_unknown_job_group_and_job(client, simulator):
    with pytest.raises(ProviderError) as info:
        client.describe_job_group(job_group_id="no-such-group")
    err = info.value
    assert err.code == "NotExist.JobGroup"
    assert err.http_status == 404
    assert err.request_id
    assert err.action == "DescribeJobGroup"
    assert (err.retryable, err.ambiguous, err.attempts) == (False, False, 1)
    assert err.is_not_found

    with pytest.raises(ProviderError) as info:
        client.query_jobs_with_result(job_group_id="no-such-group")
    assert info.value.code == "NotExist.JobGroup"

    with pytest.raises(ProviderError) as info:
        client.describe_job(job_id="no-such-job")
    assert (info.value.code, info.value.http_status) == ("NotExist.Job", 404)
    assert request_count(simulator, "DescribeJob") == 1  # a 4xx is never retried


def test_missing_and_invalid_parameters(client, simulator):
    with pytest.raises(ProviderError) as info:
        client.call("DescribeJob", {})
    assert (info.value.code, info.value.http_status, info.value.retryable) == ("MissingParameter", 400, False)

    group = _new_group(client)
    with pytest.raises(ProviderError) as info:
        client.query_jobs_with_result(job_group_id=group.job_group_id, page_size=101)
    assert (info.value.code, info.value.http_status) == ("InvalidParameter", 400)
    assert "PageSize" in info.value.message

    # a rejected AssignJobs is not ambiguous: the provider answered and refused it
    bad = job_specs(1)
    bad[0] = type(bad[0])(phone_number="not-a-phone", reference_id="bad-1")
    with pytest.raises(ProviderError) as info:
        client.assign_jobs(job_group_id=group.job_group_id, jobs=bad)
    assert info.value.code == "InvalidParameter"
    assert (info.value.ambiguous, info.value.retryable) == (False, False)

    with pytest.raises(ProviderError) as info:
        client.call("NoSuchAction", {})
    assert info.value.code == "InvalidApi.NotFound"


def test_unknown_instance(make_client):
    client = make_client(instance_id="someone-elses-instance")
    with pytest.raises(ProviderError) as info:
        client.list_job_groups()
    assert (info.value.code, info.value.http_status) == ("NotExist.Instance", 404)


@pytest.mark.parametrize("signature_version", ["v3", "v1"])
def test_wrong_secret_is_signature_does_not_match(make_client, simulator, signature_version):
    client = make_client(signature_version=signature_version, access_key_secret="wrong-secret-abcdef")
    with pytest.raises(ProviderError) as info:
        client.list_job_groups()
    err = info.value
    assert err.code == "SignatureDoesNotMatch"
    assert err.http_status in (400, 403)
    assert (err.retryable, err.ambiguous, err.attempts) == (False, False, 1)
    assert "wrong-secret-abcdef" not in str(err) and "wrong-secret-abcdef" not in repr(err)
    assert simulator.access_key_secret not in str(err)


@pytest.mark.parametrize("signature_version", ["v3", "v1"])
def test_unknown_access_key(make_client, signature_version):
    client = make_client(signature_version=signature_version, access_key_id="LTAI-unknown")
    with pytest.raises(ProviderError) as info:
        client.describe_job(job_id="x")
    assert info.value.code == "InvalidAccessKeyId.NotFound"
    assert info.value.http_status in (400, 404)
    assert info.value.retryable is False


def test_every_attempt_is_freshly_signed(make_client, simulator):
    """The simulator rejects reused nonces: a retried request must carry a new nonce and signature."""
    client = make_client()
    simulator.add_fault("DescribeJobGroup", "unavailable", count=2)
    group = _new_group(client)
    assert client.describe_job_group(job_group_id=group.job_group_id).job_group_id == group.job_group_id
    assert request_count(simulator, "DescribeJobGroup") == 3
