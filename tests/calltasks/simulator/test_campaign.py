"""Campaigns on the virtual clock: outcome mix, determinism, strategy, control actions, scripts, transcripts."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime

from calltasks.provider.statuses import TASK_STATUSES, is_connected
from calltasks.simulator.clock import SHANGHAI
from tests.calltasks.simulator.conftest import make_client
from tests.calltasks.simulator.rpc_client import leads

NO_WINDOWS = {"maxAttemptsPerDay": 3, "minAttemptInterval": 10}


def _local(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=SHANGHAI)


def _outcomes(truth: list[dict]) -> dict[str, tuple]:
    return {
        t["reference_id"]: (t["status"], t["failure_reason"], tuple(a["status"] for a in t["attempts"]), t["interest"], t["transcript"])
        for t in truth
    }


def test_campaign_runs_to_completion_with_a_realistic_mix(simulator, client):
    gid = client.create_group(strategy=NO_WINDOWS)
    client.assign(gid, leads(300))
    truth = simulator.run_until_final(gid)
    stats = simulator.stats(gid)
    assert stats["jobs_final"] == 300
    assert set(stats["jobs_by_status"]) <= {"Succeeded", "Failed"}
    assert 0.35 <= stats["connected_rate"] <= 0.8
    not_connected = {s for s in stats["attempts_by_status"] if not is_connected(s)}
    assert {"NoAnswer", "Busy", "PoweredOff", "NotConnected"} <= not_connected
    assert len({s for s in stats["attempts_by_status"] if is_connected(s)}) >= 4
    assert all(s in TASK_STATUSES for s in stats["attempts_by_status"])
    assert set(stats["interest"]) == {"interested", "not_interested", "ambiguous"}
    assert stats["failure_reasons"]["NoAnswer"] >= 10
    for job in truth:
        assert len(job["attempts"]) <= 3
        if job["status"] == "Succeeded":
            assert job["attempts"][-1]["connected"] and not any(a["connected"] for a in job["attempts"][:-1])
        else:
            assert not any(a["connected"] for a in job["attempts"]) and job["failure_reason"]
            if job["failure_reason"] == "EmptyNumber":
                assert [a["status"] for a in job["attempts"]] == ["NotExist"]
    # The API agrees with the ground truth.
    api = {j["Id"]: j for j in client.all_jobs(gid)}
    for job in truth:
        item = api[job["job_id"]]
        assert item["Status"] == job["status"] and item["JobFailureReason"] == job["failure_reason"]
        assert item["LatestTask"]["Status"] == job["attempts"][-1]["status"]
        assert item["LatestTask"]["HasAnswered"] == job["connected"]
    group = client.ok("DescribeJobGroup", {"JobGroupId": gid})["JobGroup"]
    assert group["Status"] == "Completed" and group["Progress"]["TotalCompleted"] == 300


def test_fates_depend_on_seed_and_reference_not_on_request_order(simulator_factory):
    batch = leads(120)
    results = []
    for seed, order in ((7, batch), (7, list(reversed(batch))), (8, batch)):
        handle = simulator_factory(seed=seed)
        c = make_client(handle)
        gid = c.create_group(strategy=NO_WINDOWS)
        for start in range(0, len(order), 25):
            c.assign(gid, order[start : start + 25])
        results.append(_outcomes(handle.run_until_final(gid)))
    assert results[0] == results[1]
    assert results[0] != results[2]


def test_instant_mode_finishes_every_job_on_the_next_read(simulator_factory):
    handle = simulator_factory(instant=True, speed=0)
    c = make_client(handle)
    groups = []
    for g in range(3):
        gid = c.create_group(f"任务_{g}")
        for start in range(0, 1000, 99):
            c.assign(gid, leads(min(99, 1000 - start), prefix=f"dcc-{g}", start=start))
        groups.append(gid)
    for gid in groups:
        jobs = c.all_jobs(gid)
        assert len(jobs) == 1000
        assert all(j["Status"] in {"Succeeded", "Failed"} for j in jobs)
    assert handle.stats()["jobs_final"] == 3000


def test_thousand_jobs_finish_at_high_speed_within_bounded_polls(simulator_factory):
    handle = simulator_factory(speed=5000)
    c = make_client(handle)
    gid = c.create_group(strategy=NO_WINDOWS)
    for start in range(0, 1000, 25):
        c.assign(gid, leads(25, start=start))
    for _poll in range(120):
        jobs = c.all_jobs(gid)
        if all(j["Status"] in {"Succeeded", "Failed"} for j in jobs):
            break
        time.sleep(0.25)
    assert len(jobs) == 1000
    assert all(j["Status"] in {"Succeeded", "Failed"} for j in jobs)


def test_no_dial_outside_working_windows(simulator_factory):
    start = datetime.now(SHANGHAI).replace(hour=7, minute=0, second=0, microsecond=0)
    handle = simulator_factory(speed=0, start_time=start)
    c = make_client(handle)
    windows = [{"beginTime": "09:00:00", "endTime": "09:40:00"}, {"beginTime": "14:00:00", "endTime": "15:00:00"}]
    gid = c.create_group(strategy={"workingTime": windows, "maxAttemptsPerDay": 3, "minAttemptInterval": 20})
    c.assign(gid, leads(80))
    handle.advance(3600)  # 08:00: still closed
    assert all(not t["attempts"] for t in handle.ground_truth(gid))
    assert all("LatestTask" not in j for j in c.all_jobs(gid))
    truth = handle.run_until_final(gid, step_seconds=900)
    dialled = [a for t in truth for a in t["attempts"]]
    assert dialled
    for attempt in dialled:
        local = _local(attempt["actual_time"])
        minutes = local.hour * 60 + local.minute
        assert 9 * 60 <= minutes < 9 * 60 + 40 or 14 * 60 <= minutes < 15 * 60, local
    # The 20-minute interval inside a 40-minute window pushes third attempts to the afternoon.
    assert any(_local(a["actual_time"]).hour == 14 for a in dialled)


def test_max_attempts_and_interval_are_respected(simulator_factory):
    handle = simulator_factory(speed=0)
    c = make_client(handle)
    handle.script_outcomes(by_reference_id={f"dcc-1-{i}": {"attempts": ["NoAnswer"] * 6} for i in range(5)})
    gid = c.create_group(strategy={"maxAttemptsPerDay": 2, "minAttemptInterval": 30})
    c.assign(gid, leads(5))
    truth = handle.run_until_final(gid, step_seconds=300)
    for job in truth:
        assert job["status"] == "Failed" and job["failure_reason"] == "NoAnswer"
        assert [a["status"] for a in job["attempts"]] == ["NoAnswer", "NoAnswer"]
        first, second = job["attempts"]
        assert second["actual_time"] - first["end_time"] >= 30 * 60 * 1000


def test_repeating_strategy_spreads_attempts_over_days(simulator_factory):
    handle = simulator_factory(speed=0)
    c = make_client(handle)
    handle.script_outcome(reference_id="dcc-1-0", attempts=["Busy"] * 10)
    begin = int(handle.core.clock.now() * 1000)
    window = [{"beginTime": "10:00:00", "endTime": "18:00:00"}]
    strategy = {"workingTime": window, "repeatBy": "day", "startTime": begin, "endTime": begin + 3 * 86400 * 1000 - 3600_000, "maxAttemptsPerDay": 2, "minAttemptInterval": 5}
    gid = c.create_group(strategy=strategy)
    c.assign(gid, leads(1))
    (job,) = handle.run_until_final(gid, step_seconds=3600)
    per_day = Counter(_local(a["actual_time"]).date() for a in job["attempts"])
    assert len(per_day) == 3 and max(per_day.values()) <= 2
    assert job["status"] == "Failed"


def test_suspend_resume_cancel_by_group_job_and_reference(simulator_factory):
    handle = simulator_factory(speed=0)
    c = make_client(handle)
    gid = c.create_group(strategy=NO_WINDOWS)
    ids = c.assign(gid, leads(10))
    c.ok("SuspendJobs", {"All": "True", "JobGroupId": gid})
    handle.advance(3 * 3600)
    jobs = c.all_jobs(gid)
    assert all(j["Status"] == "Paused" and "LatestTask" not in j for j in jobs)
    assert c.ok("DescribeJobGroup", {"JobGroupId": gid})["JobGroup"]["Progress"]["Paused"] == 10
    c.ok("ResumeJobs", {"All": False, "JobId": ids[:2]})
    c.ok("ResumeJobs", {"All": "false", "JobGroupId": gid, "JobReferenceId": ["dcc-1-2", "dcc-1-3"]})
    statuses = {j["Id"]: j["Status"] for j in c.all_jobs(gid)}
    assert all(statuses[i] in {"Scheduling", "Executing"} for i in ids[:4])
    assert all(statuses[i] == "Paused" for i in ids[4:])
    c.ok("CancelJobs", {"All": False, "JobReferenceId": ["dcc-1-4"]})
    c.ok("CancelJobs", {"All": False, "JobId": [ids[5]]})
    handle.advance(3 * 3600)
    truth = {t["job_id"]: t for t in handle.ground_truth(gid)}
    assert all(truth[i]["final"] and truth[i]["status"] in {"Succeeded", "Failed"} for i in ids[:4])
    for i in ids[4:6]:
        assert truth[i]["status"] == "Cancelled" and truth[i]["attempts"][-1]["status"] == "Terminated"
    assert all(truth[i]["status"] == "Paused" for i in ids[6:])
    c.ok("CancelJobs", {"All": True, "JobGroupId": gid})
    after = {j["Id"]: j for j in c.all_jobs(gid)}
    assert all(after[i]["Status"] == "Cancelled" for i in ids[4:])
    assert all(after[i]["Status"] in {"Succeeded", "Failed"} for i in ids[:4])  # final jobs stay final
    handle.advance(86400)
    assert all(j["Status"] == "Cancelled" for j in c.all_jobs(gid, JobStatusFilter="Cancelled")) and len(c.all_jobs(gid, JobStatusFilter="Cancelled")) == 6


def test_cancel_during_a_call_cancels_the_attempt(simulator_factory):
    handle = simulator_factory(speed=0)
    c = make_client(handle)
    handle.script_outcome(reference_id="dcc-1-0", attempts=["SucceededFinish"], interest="interested")
    gid = c.create_group(strategy=NO_WINDOWS)
    (job_id,) = c.assign(gid, leads(1))
    handle.advance(3)  # scripted jobs dial one virtual second after assignment
    assert c.all_jobs(gid)[0]["Status"] == "Executing"
    c.ok("CancelJobs", {"All": False, "JobId": [job_id]})
    job = c.ok("DescribeJob", {"JobId": job_id})["Job"]
    assert job["Status"] == "Cancelled" and [t["Status"] for t in job["Tasks"]] == ["Cancelled"]


def test_suspend_during_a_call_lets_it_finish_then_pauses(simulator_factory):
    handle = simulator_factory(speed=0)
    c = make_client(handle)
    handle.script_outcome(reference_id="dcc-1-0", attempts=["NoAnswer", "SucceededFinish"])
    gid = c.create_group(strategy=NO_WINDOWS)
    (job_id,) = c.assign(gid, leads(1))
    handle.advance(3)
    c.ok("SuspendJobs", {"All": False, "JobId": [job_id]})
    handle.advance(7200)
    job = c.ok("DescribeJob", {"JobId": job_id})["Job"]
    assert job["Status"] == "Paused" and [t["Status"] for t in job["Tasks"]] == ["NoAnswer"]
    c.ok("ResumeJobs", {"All": False, "JobId": [job_id]})
    handle.advance(7200)
    job = c.ok("DescribeJob", {"JobId": job_id})["Job"]
    assert job["Status"] == "Succeeded" and [t["Status"] for t in job["Tasks"]] == ["NoAnswer", "SucceededFinish"]


def test_scripted_outcomes_before_and_after_assignment(simulator, client):
    import requests

    response = requests.post(
        simulator.url + "/_sim/outcomes",
        json={"by_reference_id": {"dcc-1-0": {"attempts": ["NoAnswer", "Busy", "SucceededFinish"], "interest": "interested", "time_phrase": "周六上午"}}},
        timeout=5,
    )
    assert response.status_code == 200
    gid = client.create_group(strategy={"maxAttemptsPerDay": 5, "minAttemptInterval": 5})
    client.assign(gid, leads(3))
    assert simulator.script_outcomes(by_phone={"13800000001": {"attempts": ["PoweredOff", "PoweredOff"]}}) == 1
    simulator.script_outcome(reference_id="dcc-1-2", attempts=["NotExist"])
    truth = {t["reference_id"]: t for t in simulator.run_until_final(gid)}
    partly = truth["dcc-1-0"]
    assert [a["status"] for a in partly["attempts"]] == ["NoAnswer", "Busy", "SucceededFinish"]
    assert partly["status"] == "Succeeded" and partly["interest"] == "interested" and partly["time_phrase"] == "周六上午"
    assert [a["status"] for a in truth["dcc-1-1"]["attempts"]] == ["PoweredOff", "PoweredOff"]
    assert truth["dcc-1-1"]["status"] == "Failed" and truth["dcc-1-1"]["failure_reason"] == "NoAnswer"
    assert truth["dcc-1-2"]["status"] == "Failed" and truth["dcc-1-2"]["failure_reason"] == "EmptyNumber"
    assert len(truth["dcc-1-2"]["attempts"]) == 1
    bad = requests.post(simulator.url + "/_sim/outcomes", json={"by_reference_id": {"x": {"attempts": ["Teleported"]}}}, timeout=5)
    assert bad.status_code == 400


def test_recall_strategy_stops_out_of_service_numbers(simulator, client):
    simulator.script_outcome(reference_id="dcc-1-0", attempts=["OutOfService"] * 3)
    simulator.script_outcome(reference_id="dcc-1-1", attempts=["OutOfService"] * 3)
    ignore = client.create_group("ignore", strategy=NO_WINDOWS, RecallStrategyJson={"outOfServiceIgnore": True})
    keep = client.create_group("keep", strategy=NO_WINDOWS)
    client.assign(ignore, leads(1))
    client.assign(keep, leads(1, start=1))
    (ignored,) = simulator.run_until_final(ignore)
    (kept,) = simulator.run_until_final(keep)
    assert len(ignored["attempts"]) == 1 and ignored["failure_reason"] == "OutOfService"
    assert len(kept["attempts"]) == 3 and kept["failure_reason"] == "OutOfService"


def test_transcripts_summary_and_dialogue_content(simulator, client):
    scripts = {
        "dcc-1-0": {"attempts": ["SucceededFinish"], "interest": "interested", "time_phrase": "明天下午", "summary": True},
        "dcc-1-1": {"attempts": ["SucceededClientHangUp"], "interest": "not_interested", "summary": True},
        "dcc-1-2": {"attempts": ["SucceededFinish"], "interest": "ambiguous", "summary": False},
        "dcc-1-3": {"attempts": ["SucceededFinish"], "interest": "interested", "transcript": "delayed", "transcript_delay_minutes": 20},
        "dcc-1-4": {"attempts": ["SucceededFinish"], "interest": "interested", "transcript": False},
    }
    simulator.script_outcomes(by_reference_id=scripts)
    gid = client.create_group(strategy=NO_WINDOWS)
    batch = [{**lead, "product": "星越L"} for lead in leads(5)]
    batch[0]["name"] = "李雷"
    ids = client.assign(gid, batch)
    simulator.advance(600)
    jobs = {j["ReferenceId"]: j for j in client.ok("ListJobs", {"JobId": ids})["Jobs"]}

    def customer(job: dict) -> str:
        return "".join(t["Script"] for t in job["Tasks"][-1]["Conversation"] if t["Speaker"] == "Contact")

    first = jobs["dcc-1-0"]
    conversation = first["Tasks"][-1]["Conversation"]
    assert conversation[0]["Speaker"] == "Robot" and "李雷" in conversation[0]["Script"] and "4S店" in conversation[0]["Script"]
    assert any("星越L" in t["Script"] for t in conversation)
    assert {t["Speaker"] for t in conversation} == {"Robot", "Contact"}
    stamps = [t["Timestamp"] for t in conversation]
    assert stamps == sorted(stamps) and stamps[0] >= first["Tasks"][-1]["ActualTime"]
    assert "明天下午" in customer(first)
    assert first["Summary"][0] == {"SummaryName": "意向等级", "Content": "有意向", "Category": ""}
    assert jobs["dcc-1-1"]["Summary"][0]["Content"] == "无意向"
    assert any(cue in customer(jobs["dcc-1-1"]) for cue in ("不需要", "已经买了", "别再打了", "不感兴趣", "没有兴趣"))
    assert jobs["dcc-1-2"]["Summary"] == [] and customer(jobs["dcc-1-2"])
    task = first["Tasks"][-1]
    assert task["Duration"] > 0 and task["EndTime"] > task["ActualTime"] and task["HangUpDirection"] in {"client", "ivr"}
    assert task["CalledNumber"] == "138****0000"
    # Delayed transcript: none yet, then there; never: never.
    assert jobs["dcc-1-3"]["Status"] == "Succeeded" and jobs["dcc-1-3"]["Tasks"][-1]["Conversation"] == []
    assert jobs["dcc-1-4"]["Tasks"][-1]["Conversation"] == []
    simulator.advance(21 * 60)
    later = {j["ReferenceId"]: j for j in client.ok("ListJobs", {"JobId": ids[3:]})["Jobs"]}
    assert later["dcc-1-3"]["Tasks"][-1]["Conversation"]
    assert later["dcc-1-4"]["Tasks"][-1]["Conversation"] == []
    truth = {t["reference_id"]: t for t in simulator.ground_truth(gid)}
    assert truth["dcc-1-3"]["has_transcript"] and not truth["dcc-1-4"]["has_transcript"]


def test_default_transcript_delays_exist(simulator_factory):
    handle = simulator_factory(transcript_delay_rate=0.5, transcript_missing_rate=0.2)
    c = make_client(handle)
    gid = c.create_group(strategy=NO_WINDOWS)
    c.assign(gid, leads(60))
    truth = handle.run_until_final(gid)
    kinds = Counter(t["transcript"] for t in truth if t["connected"])
    assert kinds["delayed"] and kinds["never"] and kinds["immediate"]


def test_recordings(simulator_factory):
    import io
    import wave

    import requests

    handle = simulator_factory(speed=0)
    c = make_client(handle)
    handle.script_outcome(reference_id="dcc-1-0", attempts=["NoAnswer", "SucceededFinish"])
    gid = c.create_group(strategy={"maxAttemptsPerDay": 3, "minAttemptInterval": 1})
    (job_id,) = c.assign(gid, leads(1))
    handle.advance(3600)
    tasks = c.ok("DescribeJob", {"JobId": job_id})["Job"]["Tasks"]
    missed, answered = tasks
    c.error("DownloadRecording", {"TaskId": missed["TaskId"]}, status=404, code="NotExist.Recording")
    c.error("DownloadRecording", {"TaskId": "nope"}, status=404, code="NotExist.Task")
    params = c.ok("DownloadRecording", {"TaskId": answered["TaskId"]})["DownloadParams"]
    assert {"SignatureUrl", "FileName", "EarlyMediaSignatureUrl", "VoiceSliceRecordingListJson"} <= params.keys()
    url = params["SignatureUrl"]
    assert url.startswith(handle.url + "/oss/recordings/") and params["FileName"] in url
    assert "Expires=" in url and "OSSAccessKeyId=" in url and "Signature=" in url
    got = requests.get(url, timeout=5)
    assert got.status_code == 200 and got.headers["Content-Type"] == "audio/wav"
    with wave.open(io.BytesIO(got.content)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 8000)
        assert wav.getnframes() == 8000
    assert requests.get(url.replace("Signature=", "Signature=x"), timeout=5).status_code == 403
    assert requests.get(url.split("?")[0], timeout=5).status_code == 403
    # Expiry is real time: a simulator whose URLs are already expired answers 403.
    handle.core.signer.ttl_seconds = -5
    expired = c.ok("DownloadRecording", {"TaskId": answered["TaskId"]})["DownloadParams"]["SignatureUrl"]
    response = requests.get(expired, timeout=5)
    assert response.status_code == 403 and b"AccessDenied" in response.content
