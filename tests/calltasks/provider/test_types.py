"""Defensive parsing of provider payloads into the client's dataclasses (no network)."""

from datetime import UTC, datetime

from calltasks.provider.types import (
    CallAttempt,
    JobDetail,
    JobGroup,
    JobGroupPage,
    JobListPage,
    JobResult,
    JobsPage,
    JobSpec,
    Recording,
    TaskSummary,
    ms_to_datetime,
)

T0 = 1767225600000  # 2026-01-01T00:00:00Z


def test_ms_to_datetime_accepts_ints_and_strings_and_rejects_garbage():
    assert ms_to_datetime(T0) == datetime(2026, 1, 1, tzinfo=UTC)
    assert ms_to_datetime(str(T0)) == datetime(2026, 1, 1, tzinfo=UTC)
    for value in (None, "", "soon", 0, -5, True, 10**20):
        assert ms_to_datetime(value) is None


def test_job_result_with_latest_task():
    raw = {
        "Id": "job-1",
        "Status": "Succeeded",
        "StatusName": "成功",
        "JobFailureReason": None,
        "LatestTask": {
            "Status": "SucceededFinish",
            "StatusName": "已接通",
            "TaskEndReason": "FINISHED",
            "CallTime": T0,
            "CallDuration": 40000,
            "CallDurationDisplay": "40",
            "HasAnswered": True,
            "HangUpDirection": "client",
            "Extras": [{"Key": "TenantId", "Value": "t"}],
            "Contact": {"PhoneNumber": "13812345678", "ReferenceId": "dcc-1-1", "Name": "张三"},
        },
    }
    job = JobResult.from_api(raw)
    assert job.job_id == "job-1"
    assert job.status == "Succeeded"
    assert job.reference_id == "dcc-1-1"
    assert job.phone_number == "13812345678"
    assert job.failure_reason is None
    task = job.latest_task
    assert task.status == "SucceededFinish"
    assert task.end_reason == "FINISHED"
    assert task.call_time == datetime(2026, 1, 1, tzinfo=UTC)
    assert task.duration_seconds == 40
    assert task.has_answered is True
    assert task.hang_up_direction == "client"
    assert task.extras == {"TenantId": "t"}
    assert job.raw is raw


def test_task_summary_duration_from_milliseconds_and_string_booleans():
    task = TaskSummary.from_api({"Status": "NoAnswer", "CallDuration": 12500, "HasAnswered": "false"})
    assert task.duration_seconds == 12 or task.duration_seconds == 13
    assert task.has_answered is False
    assert TaskSummary.from_api({}) is None
    assert TaskSummary.from_api(None) is None


def test_job_result_without_latest_task_and_unknown_status():
    job = JobResult.from_api({"Id": "j2", "Status": "SomethingNew", "ReferenceId": "r2"})
    assert job.status == "SomethingNew"
    assert job.latest_task is None
    assert job.reference_id == "r2"
    assert job.phone_number is None
    assert JobResult.from_api(None).job_id == ""


def test_jobs_page_computes_page_count_when_missing():
    page = JobsPage.from_api({"PageNumber": 1, "PageSize": 10, "RowCount": 25, "List": [{"Id": "a"}, "junk"]})
    assert page.page_count == 3
    assert [j.job_id for j in page.jobs] == ["a"]
    empty = JobsPage.from_api(None)
    assert (empty.row_count, empty.page_count, empty.jobs) == (0, 0, [])


def test_job_detail_sorts_attempts_and_conversation():
    raw = {
        "JobId": "j1",
        "JobGroupId": "g1",
        "Status": "Succeeded",
        "Contacts": [{"PhoneNumber": "13812345678", "ReferenceId": "ref-1"}],
        "Extras": [{"Key": "model", "Value": "X5"}, {"Key": "n", "Value": None}, {"bad": 1}],
        "Summary": [{"SummaryName": "意向", "Content": "有意向", "Category": None}],
        "Tasks": [
            {
                "TaskId": "t2",
                "Status": "SucceededFinish",
                "PlanedTime": T0 + 3_600_000,
                "ActualTime": T0 + 3_601_000,
                "EndTime": T0 + 3_661_000,
                "CallingNumber": "057100000000",
                "CalledNumber": "13812345678",
                "HangUpDirection": "client",
                "Conversation": [
                    {"Speaker": "Contact", "Script": "好的", "Timestamp": T0 + 3_605_000, "SequenceId": "2"},
                    {
                        "Speaker": "Robot",
                        "Script": "您好",
                        "Timestamp": T0 + 3_602_000,
                        "SequenceId": "1",
                        "Action": "Broadcast",
                    },
                ],
            },
            {"TaskId": "t1", "Status": "NoAnswer", "PlanedTime": T0, "EndTime": T0 + 30_000},
        ],
    }
    job = JobDetail.from_api(raw)
    assert job.reference_id == "ref-1"
    assert job.called_number == "13812345678"
    assert job.extras == {"model": "X5", "n": ""}
    assert job.summary == [{"name": "意向", "content": "有意向", "category": None}]
    assert [t.task_id for t in job.tasks] == ["t1", "t2"]
    latest = job.latest_attempt
    assert latest.task_id == "t2"
    assert latest.duration_seconds == 60  # EndTime - ActualTime when Duration is absent
    assert [turn["speaker"] for turn in latest.conversation] == ["Robot", "Contact"]
    assert latest.conversation[0] == {
        "speaker": "Robot",
        "script": "您好",
        "timestamp": datetime(2026, 1, 1, 1, 0, 2, tzinfo=UTC),
        "sequence_id": "1",
        "action": "Broadcast",
    }
    assert job.tasks[0].duration_seconds is None or job.tasks[0].duration_seconds >= 0


def test_call_attempt_duration_prefers_duration_then_action_params():
    assert CallAttempt.from_api({"TaskId": "t", "Duration": 33}).duration_seconds == 33
    attempt = CallAttempt.from_api(
        {"TaskId": "t", "Conversation": [{"Speaker": "Robot", "ActionParams": '{"duration": 21}'}]}
    )
    assert attempt.duration_seconds == 21
    assert CallAttempt.from_api({}).task_id == ""


def test_job_group_and_pages():
    group = JobGroup.from_api(
        {
            "JobGroupId": "g1",
            "JobGroupName": "任务_1_测试",
            "ScriptId": "s1",
            "Status": "Scheduling",
            "CreationTime": T0,
            "ModifyTime": str(T0),
            "CallingNumbers": ["0571"],
            "Strategy": {"MaxAttemptsPerDay": 3},
            "Progress": {"TotalJobs": 10, "TotalCompleted": 4, "Executing": 1, "FailedNum": 2},
        }
    )
    assert group.name == "任务_1_测试"
    assert group.creation_time == group.modify_time == datetime(2026, 1, 1, tzinfo=UTC)
    assert group.progress.total_jobs == 10
    assert group.progress.failed == 2
    assert group.strategy == {"MaxAttemptsPerDay": 3}
    assert JobGroup.from_api({}).progress is None

    page = JobGroupPage.from_api({"PageNumber": 1, "PageSize": 50, "TotalCount": 1, "List": [{"JobGroupId": "g1"}]})
    assert page.total_count == 1 and page.job_groups[0].job_group_id == "g1"
    jobs = JobListPage.from_api({"TotalCount": 2, "List": [{"JobId": "a", "ReferenceId": "r"}]})
    assert jobs.total_count == 2 and jobs.jobs[0].reference_id == "r"


def test_recording_reads_expiry_from_the_url():
    rec = Recording.from_api(
        {"SignatureUrl": "http://h/rec/x.wav?Expires=1767225600&Signature=abc", "FileName": "x.wav"}
    )
    assert rec.expires_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert rec.file_name == "x.wav"
    assert Recording.from_api({}).url == ""


def test_job_spec_wire_shape_and_masked_repr():
    spec = JobSpec(phone_number="13812345678", reference_id="dcc-1-2", name="李四", extras={"car": "X5"})
    assert spec.to_jobs_json() == {
        "contacts": [{"phoneNumber": "13812345678", "referenceId": "dcc-1-2", "name": "李四"}],
        "extras": [{"key": "car", "value": "X5"}],
    }
    assert "13812345678" not in repr(spec)
