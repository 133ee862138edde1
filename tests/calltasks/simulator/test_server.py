"""Wire-level behaviour over real HTTP: signatures, envelopes, errors, parameter formats, pagination."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import requests

from calltasks.provider.signing import sha256_hex, sign_v3, v3_authorization
from calltasks.simulator.server import start_simulator
from tests.calltasks.simulator.rpc_client import leads, utc_stamp

GATEWAY_KEYS = {"RequestId", "HostId", "Code", "Message", "Recommend"}


def test_start_is_fast_and_defaults_follow_django_settings(settings):
    start_simulator(port=0).stop()  # warm imports
    began = time.perf_counter()
    handle = start_simulator(port=0)
    elapsed = time.perf_counter() - began
    try:
        assert elapsed < 0.2
        assert handle.access_key_id == settings.ALIBABA_CLOUD_ACCESS_KEY_ID
        assert handle.access_key_secret == settings.ALIBABA_CLOUD_ACCESS_KEY_SECRET
        assert handle.instance_id == settings.OUTBOUNDBOT_INSTANCE_ID
        assert requests.get(f"{handle.url}/_sim/health", timeout=5).json()["status"] == "ok"
    finally:
        handle.stop()
    assert handle.url.startswith("http://127.0.0.1:")


def test_fixture_points_settings_at_the_simulator(simulator, settings):
    assert simulator.url == settings.OUTBOUNDBOT_ENDPOINT
    assert simulator.url + "/compatible-mode/v1" == settings.LLM_BASE_URL
    assert "127.0.0.1" in settings.RECORDING_ALLOWED_HOSTS


def test_v3_and_v1_signed_requests_are_accepted_with_the_success_envelope(client, client_v1):
    for c in (client, client_v1):
        data = c.ok("CreateJobGroup", {"JobGroupName": "g", "ScriptId": "s"})
        assert {"RequestId", "Success", "Code", "Message", "HttpStatusCode", "JobGroup"} <= data.keys()
        assert data["Message"] == "Success" and data["HttpStatusCode"] == 200
    # v1 over GET with everything in the query also works.
    data = client_v1.ok("ListJobGroups", {"PageNumber": 1, "PageSize": 10}, method="GET")
    assert data["JobGroups"]["TotalCount"] == 2


def test_wrong_secret_and_tampering_are_rejected(client, client_v1):
    for c in (client, client_v1):
        data = c.error("ListJobGroups", {"PageNumber": 1, "PageSize": 10}, secret="wrong", status=400, code="SignatureDoesNotMatch")
        assert data.keys() >= GATEWAY_KEYS and "Success" not in data
    client.error("ListJobGroups", {"PageNumber": 1, "PageSize": 10}, tamper_body=True, status=400, code="SignatureDoesNotMatch")


def test_unknown_access_key_is_404(client, client_v1):
    for c in (client, client_v1):
        c.error("ListJobGroups", {"PageNumber": 1, "PageSize": 10}, key_id="nobody", status=404, code="InvalidAccessKeyId.NotFound")


def test_v3_host_is_verified_exactly_as_sent(simulator, client):
    body = b"InstanceId=" + simulator.instance_id.encode() + b"&PageNumber=1&PageSize=10"
    headers = {
        "host": "127.0.0.1",  # signed without the port, but sent with it
        "x-acs-action": "ListJobGroups",
        "x-acs-version": "2019-12-26",
        "x-acs-date": utc_stamp(),
        "x-acs-signature-nonce": "n-host",
        "x-acs-content-sha256": sha256_hex(body),
        "content-type": "application/x-www-form-urlencoded",
    }
    signature, signed = sign_v3(
        method="POST", path="/", query={}, headers=headers, signed_headers=headers.keys(), hashed_payload=sha256_hex(body),
        secret=simulator.access_key_secret,
    )
    sent = {**headers, "Authorization": v3_authorization(access_key_id=simulator.access_key_id, signed_headers=signed, signature=signature)}
    del sent["host"]  # requests sends host:port
    response = requests.post(simulator.url + "/", data=body, headers=sent, timeout=5)
    assert response.status_code == 400 and response.json()["Code"] == "SignatureDoesNotMatch"


def test_timestamp_skew_uses_real_time(client, client_v1):
    now = datetime.now(UTC)
    params = {"PageNumber": 1, "PageSize": 10}
    client.ok("ListJobGroups", params, timestamp=utc_stamp(now - timedelta(minutes=14)))
    client.error("ListJobGroups", params, timestamp=utc_stamp(now - timedelta(minutes=16)), status=400, code="InvalidTimeStamp.Expired")
    client.error("ListJobGroups", params, timestamp=utc_stamp(now + timedelta(minutes=16)), status=400, code="InvalidTimeStamp.Expired")
    client_v1.ok("ListJobGroups", params, timestamp=utc_stamp(now - timedelta(minutes=30)))
    client_v1.error("ListJobGroups", params, timestamp=utc_stamp(now - timedelta(minutes=32)), status=400, code="InvalidTimeStamp.Expired")
    for c in (client, client_v1):
        c.error("ListJobGroups", params, timestamp="2026/01/01 00:00:00", status=400, code="InvalidTimeStamp.Format")


def test_nonce_reuse_is_rejected(client, client_v1):
    params = {"PageNumber": 1, "PageSize": 10}
    for c, nonce in ((client, "nonce-v3"), (client_v1, "nonce-v1")):
        c.ok("ListJobGroups", params, nonce=nonce)
        c.error("ListJobGroups", params, nonce=nonce, status=400, code="SignatureNonceUsed")


def test_unsigned_request_and_unknown_action(simulator, client):
    response = requests.post(simulator.url + "/", data={"Action": "ListJobGroups"}, timeout=5)
    assert response.status_code == 400 and response.json()["Code"] == "MissingParameter"
    data = client.error("StartTheRockets", {}, status=404, code="InvalidApi.NotFound")
    assert data.keys() >= GATEWAY_KEYS
    client.error("listjobgroups", {"PageNumber": 1, "PageSize": 10}, status=404, code="InvalidApi.NotFound")  # case-sensitive


def test_product_errors_carry_success_false(client):
    data = client.error("CreateJobGroup", {"ScriptId": "s"}, status=400, code="MissingParameter")
    assert "JobGroupName" in data["Message"]
    assert data["Success"] is False and data["HttpStatusCode"] == 400 and data.keys() >= GATEWAY_KEYS
    data = client.error("ListJobGroups", {"PageNumber": 1}, status=400, code="MissingParameter")
    assert "PageSize" in data["Message"]
    client.error("ListJobGroups", {"PageNumber": 1, "PageSize": 10}, with_instance=False, status=400, code="MissingParameter")
    data = client.error("ListJobGroups", {"InstanceId": "other", "PageNumber": 1, "PageSize": 10}, status=404, code="NotExist.Instance")
    assert data["Success"] is False and data["HttpStatusCode"] == 404
    client.error("DescribeJobGroup", {"JobGroupId": "missing"}, status=404, code="NotExist.JobGroup")
    client.error("AssignJobs", {"JobGroupId": "missing", "JobsJson": [{"contacts": [{"phoneNumber": "13800000000"}]}]}, status=404, code="NotExist.JobGroup")
    client.error("QueryJobsWithResult", {"JobGroupId": "missing", "PageNumber": 1, "PageSize": 10}, status=404, code="NotExist.JobGroup")
    client.error("DescribeJob", {"JobId": "missing"}, status=404, code="NotExist.Job")
    client.error("CancelJobs", {"All": False, "JobId": ["missing"]}, status=404, code="NotExist.Job")


def test_invalid_values_are_invalid_parameter(client):
    gid = client.create_group()
    page = {"JobGroupId": gid, "PageNumber": 1}
    client.error("QueryJobsWithResult", {**page, "PageSize": 101}, status=400, code="InvalidParameter")
    client.error("QueryJobsWithResult", {**page, "PageSize": "ten"}, status=400, code="InvalidParameter")
    client.error("QueryJobsWithResult", {**page, "PageSize": 10, "HasAnsweredFilter": "maybe"}, status=400, code="InvalidParameter")
    client.error("QueryJobsWithResult", {**page, "PageSize": 10, "TaskStatusFilter": "[not json"}, status=400, code="InvalidParameter")
    client.error("QueryJobsWithResult", {**page, "PageSize": 10, "JobStatusFilter": "Sleeping"}, status=400, code="InvalidParameter")
    client.error("ListJobsByGroup", {**page, "PageSize": 101}, status=400, code="InvalidParameter")
    client.error("CreateJobGroup", {"JobGroupName": "g", "StrategyJson": {"workingTime": [{"beginTime": "25:00:00", "endTime": "26:00:00"}]}}, status=400, code="InvalidParameter")
    client.error("CreateJobGroup", {"JobGroupName": "g", "StrategyJson": "{oops"}, status=400, code="InvalidParameter")
    client.error("CreateJobGroup", {"JobGroupName": "g", "StrategyJson": {"maxAttemptsPerDay": 0}}, status=400, code="InvalidParameter")
    client.error("CancelJobs", {"All": "yes", "JobGroupId": gid}, status=400, code="InvalidParameter")
    client.error("CancelJobs", {"All": True}, status=400, code="MissingParameter")


def test_assign_jobs_limits_and_validation(client):
    gid = client.create_group()
    ninety_nine = [{"contacts": [{"phoneNumber": f"139{i:08d}", "referenceId": f"r-{i}"}]} for i in range(99)]
    data = client.ok("AssignJobs", {"JobGroupId": gid, "JobsJson": ninety_nine})
    assert len(data["JobsId"]) == 99 and data["JobGroupId"] == gid
    hundred = [*ninety_nine, {"contacts": [{"phoneNumber": "13700000000", "referenceId": "r-x"}]}]
    data = client.error("AssignJobs", {"JobGroupId": gid, "JobsJson": hundred}, status=400, code="InvalidParameter")
    assert "99" in data["Message"]
    client.error("AssignJobs", {"JobGroupId": gid, "JobsJson": [{"contacts": [{"referenceId": "no-phone"}]}]}, status=400, code="InvalidParameter")
    client.error("AssignJobs", {"JobGroupId": gid, "JobsJson": [{"contacts": []}]}, status=400, code="InvalidParameter")
    client.error("AssignJobs", {"JobGroupId": gid, "JobsJson": ["not json"]}, status=400, code="InvalidParameter")
    client.error("AssignJobs", {"JobGroupId": gid}, status=400, code="MissingParameter")
    # A failed batch creates nothing (all-or-nothing validation).
    bad_batch = [{"contacts": [{"phoneNumber": "13600000000", "referenceId": "ok"}]}, {"contacts": [{"name": "x"}]}]
    client.error("AssignJobs", {"JobGroupId": gid, "JobsJson": bad_batch}, status=400, code="InvalidParameter")
    total = client.ok("ListJobsByGroup", {"JobGroupId": gid, "PageNumber": 1, "PageSize": 10})["Jobs"]["TotalCount"]
    assert total == 99


def test_assign_stores_reference_name_and_extras(simulator, client):
    gid = client.create_group()
    job = {
        "contacts": [{"phoneNumber": "13712347777", "referenceId": "dcc-9-1", "name": "王五", "honorific": "王先生"}],
        "extras": [{"key": "product", "value": "星越L"}],
    }
    (job_id,) = client.ok("AssignJobs", {"JobGroupId": gid, "JobsJson": [job]})["JobsId"]
    detail = client.ok("DescribeJob", {"JobId": job_id})["Job"]
    assert detail["ReferenceId"] == "dcc-9-1" and detail["JobGroupId"] == gid
    assert detail["CalledNumber"] == "137****7777"
    assert detail["Contacts"][0]["ContactName"] == "王五" and detail["Contacts"][0]["PhoneNumber"] == "13712347777"
    assert {"Key": "product", "Value": "星越L"} in detail["Extras"]


def test_pagination_shapes(client):
    gid = client.create_group()
    client.assign(gid, leads(45))
    data = client.ok("QueryJobsWithResult", {"JobGroupId": gid, "PageNumber": 2, "PageSize": 20})["Jobs"]
    assert (data["PageNumber"], data["PageSize"], data["RowCount"], data["PageCount"]) == (2, 20, 45, 3)
    assert len(data["List"]) == 20
    last = client.ok("QueryJobsWithResult", {"JobGroupId": gid, "PageNumber": 3, "PageSize": 20})["Jobs"]
    assert len(last["List"]) == 5
    ids = {j["Id"] for j in client.all_jobs(gid)}
    assert len(ids) == 45
    by_group = client.ok("ListJobsByGroup", {"JobGroupId": gid, "PageNumber": 1, "PageSize": 40})["Jobs"]
    assert by_group.keys() >= {"List", "PageNumber", "PageSize", "TotalCount"} and by_group["TotalCount"] == 45
    assert len(by_group["List"]) == 40 and "RowCount" not in by_group
    assert {"JobId", "JobGroupId", "Status", "FailureReason", "ReferenceId", "Contacts", "Extras"} <= by_group["List"][0].keys()


def test_jobs_never_dialled_have_no_latest_task(simulator_factory):
    from tests.calltasks.simulator.conftest import make_client

    handle = simulator_factory(speed=0)
    c = make_client(handle)
    gid = c.create_group()
    c.assign(gid, leads(3))
    jobs = c.all_jobs(gid)
    assert all(job["Status"] == "Scheduling" and "LatestTask" not in job for job in jobs)


def test_list_job_groups_search_paging_and_describe(client):
    for name in ("任务_1_春季", "任务_2_夏季", "任务_3_春季回访"):
        client.create_group(name, strategy={"workingTime": [{"beginTime": "09:00:00", "endTime": "12:00:00"}], "maxAttemptsPerDay": "2", "minAttemptInterval": 15})
    found = client.ok("ListJobGroups", {"PageNumber": 1, "PageSize": 10, "SearchText": "春季"})["JobGroups"]
    assert found["TotalCount"] == 2 and {g["JobGroupName"] for g in found["List"]} == {"任务_1_春季", "任务_3_春季回访"}
    page = client.ok("ListJobGroups", {"PageNumber": 2, "PageSize": 2})["JobGroups"]
    assert page["TotalCount"] == 3 and len(page["List"]) == 1
    gid = found["List"][0]["JobGroupId"]
    client.assign(gid, leads(4))
    group = client.ok("DescribeJobGroup", {"JobGroupId": gid})["JobGroup"]
    assert group["Progress"]["TotalJobs"] == 4
    assert {"TotalJobs", "TotalCompleted", "Scheduling", "Executing", "Paused", "Failed", "Cancelled"} <= group["Progress"].keys()
    strategy = group["Strategy"]
    assert strategy["MaxAttemptsPerDay"] == 2 and strategy["MinAttemptInterval"] == 15
    assert strategy["WorkingTime"] == [{"BeginTime": "09:00:00", "EndTime": "12:00:00"}]


def test_booleans_lists_and_json_string_filters(simulator, client):
    gid = client.create_group(strategy={"maxAttemptsPerDay": 1})
    client.assign(gid, leads(60))
    simulator.run_until_final(gid)
    truth = {t["job_id"]: t for t in simulator.ground_truth(gid)}
    for spelled in (True, "true", "True"):
        answered = client.all_jobs(gid, HasAnsweredFilter=spelled)
        assert answered and all(truth[j["Id"]]["connected"] for j in answered)
    not_answered = client.all_jobs(gid, HasAnsweredFilter="false")
    assert len(not_answered) + len(answered) == 60
    no_answer = client.all_jobs(gid, TaskStatusFilter='["NoAnswer","Busy"]')
    assert all(j["LatestTask"]["Status"] in {"NoAnswer", "Busy"} for j in no_answer)
    assert len(no_answer) == sum(1 for t in truth.values() if t["attempts"][-1]["status"] in {"NoAnswer", "Busy"})
    failed = client.all_jobs(gid, JobStatusFilter="Failed")
    assert {j["Id"] for j in failed} == {k for k, t in truth.items() if t["status"] == "Failed"}
    by_text = client.all_jobs(gid, QueryText="dcc-1-17")
    assert [j["LatestTask"]["Contact"]["ReferenceId"] for j in by_text] == ["dcc-1-17"]
    by_phone = client.all_jobs(gid, QueryText="13800000023")
    assert [j["LatestTask"]["Contact"]["PhoneNumber"] for j in by_phone] == ["13800000023"]
    ids = list(truth)[:3]
    listed = client.ok("ListJobs", {"JobId": ids})["Jobs"]
    assert [j["JobId"] for j in listed] == ids
    client.error("ListJobs", {"JobId": [f"id-{i}" for i in range(100)]}, status=400, code="InvalidParameter")


def test_non_rpc_paths_and_methods(simulator):
    assert requests.get(simulator.url + "/nothing-here", timeout=5).status_code == 404
    assert requests.get(simulator.url + "/_sim/nothing", timeout=5).status_code == 404


def test_prepare_transcripts_writes_each_available_dialogue_once(simulator, client):
    """What benchmarks call before a timed pass: every available transcript written once, as ListJobs shows it."""
    gid = client.create_group()
    job_ids = client.assign(gid, leads(30))
    truth = simulator.run_until_final(gid)
    simulator.advance(24 * 3600)  # past every transcript's ready time
    expected = sum(1 for job in simulator.ground_truth(gid) if job["connected"] and job["has_transcript"])
    assert expected and any(job["connected"] for job in truth)
    assert simulator.prepare_transcripts(gid) == expected
    assert simulator.prepare_transcripts(gid) == 0  # already written
    jobs = client.ok("ListJobs", {"JobId": job_ids})["Jobs"]
    shown = [job for job in jobs if any(task["Conversation"] for task in job["Tasks"])]
    assert len(shown) == expected
    again = client.ok("ListJobs", {"JobId": job_ids})["Jobs"]
    assert again == jobs  # the prepared dialogues are the ones answered, every time
