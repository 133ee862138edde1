"""RPC fault injection (handle, control API and command line) and the control API itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from calltasks.simulator.faults import FaultError, parse_cli_fault
from tests.calltasks.simulator.conftest import make_client
from tests.calltasks.simulator.rpc_client import leads

LIST = ("ListJobGroups", {"PageNumber": 1, "PageSize": 10})


def test_throttle_with_retry_after_then_recovers(simulator, client):
    simulator.add_fault("ListJobGroups", "throttle", count=2, retry_after_ms=1500)
    for _ in range(2):
        response = client.call(*LIST)
        assert response.status_code == 400 and response.headers["x-acs-retry-after"] == "1500"
        body = response.json()
        assert body["Code"] == "Throttling.User" and {"RequestId", "HostId", "Recommend"} <= body.keys()
    client.ok(*LIST)
    assert simulator.faults() == []


@pytest.mark.parametrize(("kind", "status", "code"), [("unavailable", 503, "ServiceUnavailable"), ("internal", 500, "InternalError")])
def test_server_errors(simulator, client, kind, status, code):
    simulator.add_fault("*", kind)
    client.error(*LIST, status=status, code=code)
    client.ok(*LIST)


def test_success_false_malformed_drop_and_slow(simulator, client):
    simulator.add_fault("CreateJobGroup", "success_false", code="LimitExceeded.ConcurrentConversation")
    response = client.call("CreateJobGroup", {"JobGroupName": "g"})
    assert response.status_code == 200
    assert response.json()["Success"] is False and response.json()["Code"] == "LimitExceeded.ConcurrentConversation"
    assert client.ok(*LIST)["JobGroups"]["TotalCount"] == 0  # nothing was created
    simulator.add_fault("ListJobGroups", "malformed")
    response = client.call(*LIST)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    simulator.add_fault("ListJobGroups", "drop")
    with pytest.raises(requests.ConnectionError):
        client.call(*LIST)
    simulator.add_fault("ListJobGroups", "slow", seconds=2)
    with pytest.raises(requests.Timeout):
        client.call(*LIST, timeout=(1, 0.3))
    client.ok(*LIST)


def test_faults_match_only_their_action_and_rates(simulator, client):
    simulator.add_fault("DescribeJobGroup", "internal", rate=1.0)
    client.ok(*LIST)
    for _ in range(3):
        client.error("DescribeJobGroup", {"JobGroupId": "x"}, status=500, code="InternalError")
    simulator.clear_faults()
    simulator.add_fault("*", "unavailable", rate=0.0)
    for _ in range(5):
        client.ok(*LIST)


def test_fault_rates_are_seeded(simulator_factory):
    patterns = []
    for _ in range(2):
        handle = simulator_factory(seed=99)
        c = make_client(handle)
        handle.add_fault("*", "unavailable", rate=0.5)
        patterns.append([c.call(*LIST).status_code for _ in range(20)])
    assert patterns[0] == patterns[1] and {200, 503} == set(patterns[0])


def test_assign_jobs_timeout_after_commit_creates_the_jobs(simulator, client):
    gid = client.create_group()
    simulator.add_fault("AssignJobs", "commit_timeout", seconds=3)
    with pytest.raises(requests.Timeout):
        client.call("AssignJobs", {"JobGroupId": gid, "JobsJson": [{"contacts": [{"phoneNumber": "13900000001", "referenceId": "dcc-5-1"}]}]}, timeout=(1, 0.3))
    found = client.all_jobs(gid, QueryText="dcc-5-1")
    assert len(found) == 1  # reconcile by referenceId before resubmitting
    simulator.add_fault("AssignJobs", "commit_drop")
    with pytest.raises(requests.ConnectionError):
        client.call("AssignJobs", {"JobGroupId": gid, "JobsJson": [{"contacts": [{"phoneNumber": "13900000002", "referenceId": "dcc-5-2"}]}]})
    assert client.ok("ListJobsByGroup", {"JobGroupId": gid, "PageNumber": 1, "PageSize": 10})["Jobs"]["TotalCount"] == 2


def test_create_job_group_timeout_after_commit_is_found_by_list_job_groups(simulator, client):
    simulator.add_fault("CreateJobGroup", "commit_timeout", seconds=2)
    with pytest.raises(requests.Timeout):
        client.call("CreateJobGroup", {"JobGroupName": "任务_42_回访"}, timeout=(1, 0.3))
    groups = client.ok("ListJobGroups", {"PageNumber": 1, "PageSize": 10, "SearchText": "任务_42_"})["JobGroups"]
    assert groups["TotalCount"] == 1


def test_fault_api_and_validation(simulator, client):
    url = simulator.url + "/_sim/faults"
    added = requests.post(url, json={"action": "ListJobGroups", "kind": "503", "count": 1}, timeout=5).json()
    assert added["added"][0]["kind"] == "unavailable"
    assert len(requests.get(url, timeout=5).json()["faults"]) == 1
    client.error(*LIST, status=503, code="ServiceUnavailable")
    several = {"faults": [{"action": "*", "kind": "throttle", "rate": 0.1}, {"action": "llm", "kind": "quirks", "count": 2}]}
    assert len(requests.post(url, json=several, timeout=5).json()["faults"]) == 2
    assert requests.delete(url, timeout=5).json()["faults"] == []
    for bad in ({"action": "AssignJobs", "kind": "explode"}, {"action": "llm", "kind": "success_false"}, {"action": "x", "kind": "drop", "count": 1, "rate": 0.5}, {"action": "DescribeJob", "kind": "commit_timeout"}, {"kind": "drop"}):
        assert requests.post(url, json=bad, timeout=5).status_code == 400, bad
    with pytest.raises(FaultError):
        simulator.add_fault("*", "throttle", rate=2)


def test_cli_fault_syntax():
    rule = parse_cli_fault("AssignJobs:commit_timeout:1:20")
    assert (rule.target, rule.kind, rule.count, rule.rate, rule.seconds) == ("AssignJobs", "commit_timeout", 1, None, 20.0)
    rule = parse_cli_fault("*:throttle:0.25")
    assert (rule.kind, rule.count, rule.rate) == ("throttle", None, 0.25)
    assert parse_cli_fault("llm:quirks").count == 1
    assert parse_cli_fault("*:500:3").kind == "internal"
    for bad in ("AssignJobs", "AssignJobs:boom", "a:b:c:d:e", "*:throttle:many"):
        with pytest.raises(FaultError):
            parse_cli_fault(bad)


def test_control_api(simulator, client):
    base = simulator.url + "/_sim"
    health = requests.get(f"{base}/health", timeout=5).json()
    assert health["status"] == "ok" and health["url"] == simulator.url
    before = requests.get(f"{base}/clock", timeout=5).json()["now_ms"]
    after = requests.post(f"{base}/clock", json={"advance_seconds": 3600}, timeout=5).json()
    assert after["now_ms"] - before >= 3600 * 1000
    assert requests.post(f"{base}/clock", json={"speed": 0}, timeout=5).json()["speed"] == 0
    assert requests.post(f"{base}/clock", json={"advance_seconds": -1}, timeout=5).status_code == 400
    gid = client.create_group(strategy={"maxAttemptsPerDay": 1})
    client.assign(gid, leads(20))
    requests.post(f"{base}/clock", json={"advance_seconds": 3600}, timeout=5)
    stats = requests.get(f"{base}/stats", params={"JobGroupId": gid}, timeout=5).json()
    assert stats["jobs_total"] == 20 and stats["jobs_final"] == 20 and sum(stats["jobs_by_status"].values()) == 20
    assert stats["connected_jobs"] == stats["jobs_by_status"].get("Succeeded", 0)
    truth = requests.get(f"{base}/ground-truth", params={"JobGroupId": gid}, timeout=5).json()["jobs"]
    assert len(truth) == 20
    assert {"job_id", "reference_id", "phone", "status", "failure_reason", "attempts", "connected", "interest", "has_transcript"} <= truth[0].keys()
    assert requests.get(f"{base}/ground-truth", params={"JobGroupId": "nope"}, timeout=5).status_code == 404
    assert requests.post(f"{base}/llm", json={"latency_ms": 5}, timeout=5).json()["latency_ms"] == 5
    assert requests.post(f"{base}/reset", timeout=5).json()["status"] == "reset"
    assert requests.get(f"{base}/stats", timeout=5).json()["jobs_total"] == 0
    client.error("DescribeJobGroup", {"JobGroupId": gid}, status=404, code="NotExist.JobGroup")


def test_run_simulator_command_serves_until_sigterm(tmp_path: Path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dcc_project.settings_test", "PYTHONUNBUFFERED": "1"}
    root = Path(__file__).resolve().parents[3]
    process = subprocess.Popen(
        [sys.executable, str(root / "manage.py"), "run_simulator", "--port", "0", "--speed", "60", "--seed", "5", "--fault", "ListJobGroups:throttle:1"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        first = process.stdout.readline()
        assert "listening on http://127.0.0.1:" in first, first
        url = first.split("listening on ")[1].split()[0]
        health = requests.get(f"{url}/_sim/health", timeout=5).json()
        assert health["seed"] == 5 and health["clock"]["speed"] == 60
        faults = requests.get(f"{url}/_sim/faults", timeout=5).json()["faults"]
        assert [(f["target"], f["kind"]) for f in faults] == [("ListJobGroups", "throttle")]
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=10)
        assert process.returncode == 0
        assert "simulator stopped" in output
        assert json.dumps(health)  # answered while running
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
