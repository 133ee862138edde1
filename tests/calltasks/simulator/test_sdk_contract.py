"""The official Alibaba Cloud SDK (alibabacloud-outboundbot20191226) talks to the simulator, v3 and v1 signing."""

from __future__ import annotations

import pytest
from alibabacloud_outboundbot20191226 import models
from alibabacloud_outboundbot20191226.client import Client
from alibabacloud_tea_openapi import models as open_api_models


@pytest.mark.parametrize("algorithm", [None, "v2"])
def test_official_sdk_round_trip(simulator, algorithm):
    config = open_api_models.Config(
        access_key_id=simulator.access_key_id,
        access_key_secret=simulator.access_key_secret,
        endpoint=f"127.0.0.1:{simulator.port}",
        protocol="http",
        region_id="cn-shanghai",
    )
    if algorithm:
        config.signature_algorithm = algorithm  # "v2" = the v1 HMAC-SHA1 query signature
    sdk = Client(config)
    instance = simulator.instance_id
    created = sdk.create_job_group(
        models.CreateJobGroupRequest(instance_id=instance, job_group_name="sdk", script_id="s1", strategy_json='{"maxAttemptsPerDay":2}')
    )
    group = created.body.job_group
    assert created.status_code == 200 and group.strategy.max_attempts_per_day == 2
    simulator.script_outcome(reference_id="sdk-1", attempts=["NoAnswer", "SucceededFinish"], interest="interested")
    assigned = sdk.assign_jobs(
        models.AssignJobsRequest(
            instance_id=instance,
            job_group_id=group.job_group_id,
            jobs_json=['{"contacts":[{"phoneNumber":"13800000001","referenceId":"sdk-1","name":"张三"}]}'],
        )
    )
    (job_id,) = assigned.body.jobs_id
    simulator.advance(3 * 3600)
    page = sdk.query_jobs_with_result(
        models.QueryJobsWithResultRequest(instance_id=instance, job_group_id=group.job_group_id, page_number=1, page_size=10, has_answered_filter=True)
    ).body.jobs
    assert page.row_count == 1 and page.list[0].latest_task.status == "SucceededFinish"
    assert page.list[0].latest_task.contact.reference_id == "sdk-1"
    job = sdk.list_jobs(models.ListJobsRequest(instance_id=instance, job_id=[job_id])).body.jobs[0]
    assert [t.status for t in job.tasks] == ["NoAnswer", "SucceededFinish"]
    assert job.tasks[-1].conversation[0].speaker == "Robot" and job.summary[0].content == "有意向"
    recording = sdk.download_recording(models.DownloadRecordingRequest(instance_id=instance, task_id=job.tasks[-1].task_id))
    assert recording.body.download_params.signature_url.startswith(simulator.url)
    assert sdk.cancel_jobs(models.CancelJobsRequest(instance_id=instance, all=True, job_group_id=group.job_group_id)).body.success
    with pytest.raises(Exception) as error:
        sdk.describe_job(models.DescribeJobRequest(instance_id=instance, job_id="nope"))
    assert error.value.code == "NotExist.Job" and error.value.status_code == 404
