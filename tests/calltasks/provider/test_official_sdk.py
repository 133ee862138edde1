"""The official Alibaba SDK (``alibabacloud-outboundbot20191226``, a dev-only dependency) against the simulator.

Proves that the simulator speaks the real wire protocol — the SDK puts every business parameter in the query
string, booleans as ``True``/``False``, and signs with v3 (default) or v1 (``signature_algorithm='v2'``, which
the tea-openapi client routes to its HMAC-SHA1 RPC path) — and that its JSON parses into the SDK's own models.
"""

from __future__ import annotations

import json

import pytest
from alibabacloud_outboundbot20191226 import models as sdk_models
from alibabacloud_outboundbot20191226.client import Client as SdkClient
from alibabacloud_tea_openapi.models import Config

from tests.calltasks.provider.helpers import STRATEGY

SIGNING = {"v3": None, "v1": "v2"}  # our name -> Config.signature_algorithm


def sdk_client(simulator, signing: str, *, secret: str | None = None) -> SdkClient:
    config = Config(
        access_key_id=simulator.access_key_id,
        access_key_secret=secret or simulator.access_key_secret,
        endpoint=f"127.0.0.1:{simulator.port}",
        protocol="http",
        region_id="cn-shanghai",
        read_timeout=5000,
        connect_timeout=5000,
    )
    if SIGNING[signing]:
        config.signature_algorithm = SIGNING[signing]
    return SdkClient(config)


@pytest.mark.parametrize("signing", ["v3", "v1"])
def test_official_sdk_drives_a_campaign(simulator, signing):
    sdk = sdk_client(simulator, signing)
    instance = simulator.instance_id

    created = sdk.create_job_group(
        sdk_models.CreateJobGroupRequest(
            instance_id=instance,
            job_group_name=f"任务_SDK_{signing}",
            job_group_description="官方SDK",
            script_id="script-sdk",
            strategy_json=json.dumps(STRATEGY),
            calling_number=["057188880001"],
            ringing_duration=30,
        )
    )
    assert created.status_code == 200
    assert created.body.success is True and created.body.code == "OK"
    group = created.body.job_group
    assert group.job_group_id
    assert group.job_group_name == f"任务_SDK_{signing}"
    assert group.calling_numbers == ["057188880001"]
    assert group.strategy.max_attempts_per_day == 2

    references = [f"sdk-{signing}-{i}" for i in range(3)]
    simulator.script_outcomes(
        by_reference_id={
            references[0]: {"attempts": ["SucceededFinish"], "interest": "interested", "transcript": True},
            references[1]: {"attempts": ["NoAnswer"]},
            references[2]: {"attempts": ["Busy"]},
        }
    )
    jobs_json = [
        json.dumps(
            {
                "contacts": [{"phoneNumber": f"1390000{i:04d}", "referenceId": ref, "name": "王五"}],
                "extras": [{"key": "product", "value": "星辰X5"}],
            },
            ensure_ascii=False,
        )
        for i, ref in enumerate(references)
    ]
    assigned = sdk.assign_jobs(
        sdk_models.AssignJobsRequest(instance_id=instance, job_group_id=group.job_group_id, jobs_json=jobs_json)
    )
    assert assigned.body.success is True
    assert assigned.body.job_group_id == group.job_group_id
    assert len(assigned.body.jobs_id) == 3

    simulator.run_until_final(group.job_group_id)

    queried = sdk.query_jobs_with_result(
        sdk_models.QueryJobsWithResultRequest(
            instance_id=instance, job_group_id=group.job_group_id, page_number=1, page_size=10
        )
    )
    page = queried.body.jobs
    assert (page.page_number, page.page_size, page.row_count, page.page_count) == (1, 10, 3, 1)
    by_ref = {job.latest_task.contact.reference_id: job for job in page.list}
    assert set(by_ref) == set(references)
    winner = by_ref[references[0]]
    assert winner.status == "Succeeded"
    assert winner.latest_task.status == "SucceededFinish"
    assert winner.latest_task.has_answered is True
    assert int(winner.latest_task.call_duration_display) > 0
    assert by_ref[references[1]].latest_task.status == "NoAnswer"
    assert by_ref[references[1]].job_failure_reason == "NoAnswer"

    answered = sdk.query_jobs_with_result(
        sdk_models.QueryJobsWithResultRequest(
            instance_id=instance,
            job_group_id=group.job_group_id,
            page_number=1,
            page_size=10,
            has_answered_filter=True,  # sent by the SDK as "True"
        )
    )
    assert [job.id for job in answered.body.jobs.list] == [winner.id]

    listed = sdk.list_jobs(sdk_models.ListJobsRequest(instance_id=instance, job_id=assigned.body.jobs_id))
    assert listed.body.success is True
    details = {job.reference_id: job for job in listed.body.jobs}
    assert set(details) == set(references)
    detail = details[references[0]]
    assert detail.status == "Succeeded"
    assert detail.job_group_id == group.job_group_id
    call = [task for task in detail.tasks if task.status == "SucceededFinish"][0]
    assert call.conversation and call.conversation[0].speaker == "Robot"
    assert isinstance(call.conversation[0].timestamp, int)
    assert {extra.key: extra.value for extra in detail.extras}["product"] == "星辰X5"

    recording = sdk.download_recording(sdk_models.DownloadRecordingRequest(instance_id=instance, task_id=call.task_id))
    params = recording.body.download_params
    assert recording.body.success is True
    assert params.file_name.endswith(".wav")
    assert params.signature_url.startswith(simulator.url) and "Expires=" in params.signature_url


@pytest.mark.parametrize("signing", ["v3", "v1"])
def test_official_sdk_sees_signature_errors(simulator, signing):
    sdk = sdk_client(simulator, signing, secret="not-the-secret")
    with pytest.raises(Exception) as info:  # the SDK raises a different class per signing path
        sdk.list_job_groups(
            sdk_models.ListJobGroupsRequest(instance_id=simulator.instance_id, page_number=1, page_size=10)
        )
    assert getattr(info.value, "code", None) == "SignatureDoesNotMatch"


def test_official_sdk_reads_the_throttling_retry_after(simulator):
    sdk = sdk_client(simulator, "v3")
    simulator.add_fault("ListJobGroups", "throttle", count=1, retry_after_ms=1500)
    with pytest.raises(Exception) as info:
        sdk.list_job_groups(
            sdk_models.ListJobGroupsRequest(instance_id=simulator.instance_id, page_number=1, page_size=10)
        )
    assert getattr(info.value, "code", None) == "Throttling.User"
    assert getattr(info.value, "retry_after", None) == 1500
