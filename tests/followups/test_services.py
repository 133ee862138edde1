"""Writing follow-ups: not-connected rows, judged rows, the transcript grace period, idempotency,
concurrency, constant query counts, re-judging."""

from __future__ import annotations

import contextlib
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calltasks.models import LeadTask
from calltasks.states import TaskState
from followups import services
from followups.judge import JudgeResult
from followups.models import FollowUp
from followups.services import (
    FollowupNotRejudgeable,
    followup_create_for_row,
    followup_rejudge,
    followups_create_for_task,
    followups_rejudge_defaults,
)
from tests.factories import CallTaskFactory, FollowUpFactory, LeadFactory, LeadTaskFactory

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=SH)

INTERESTED_TALK = [
    {"Speaker": "Robot", "Script": "您好，我是星越汽车的顾问小李。", "Timestamp": 1000},
    {"Speaker": "Contact", "Script": "我对星越L挺感兴趣的，想来店里看看。", "Timestamp": 3000},
    {"Speaker": "Robot", "Script": "请问您哪天方便到店？", "Timestamp": 5000},
    {"Speaker": "Contact", "Script": "可以，我明天下午过来试驾。", "Timestamp": 7000},
]
NOT_INTERESTED_TALK = [
    {"Speaker": "Robot", "Script": "您好，想回访一下您的购车计划。", "Timestamp": 1000},
    {"Speaker": "Contact", "Script": "不需要了，我已经买了，别再打了。", "Timestamp": 3000},
]
AMBIGUOUS_TALK = [
    {"speaker": "robot", "script": "您好，想回访一下您的购车计划。", "timestamp": 1000},
    {"speaker": "contact", "script": "最近比较忙，到时候再说。", "timestamp": 3000},
]


@pytest.fixture(autouse=True)
def offline_judge(settings):
    settings.LLM_API_KEY = ""
    settings.TIME_ZONE = "Asia/Shanghai"
    settings.JUDGE_CONCURRENCY = 4
    settings.TRANSCRIPT_GRACE_MINUTES = 30


@pytest.fixture
def task(db):
    return CallTaskFactory(task_type=TaskState.CALLING)


def failed_row(task, status="NoAnswer", **kwargs):
    defaults = {"call_status": "Failed", "last_task_status": status, "failure_reason": "NoAnswer", "final_at": NOW}
    defaults.update(kwargs)
    return LeadTaskFactory(task=task, **defaults)


def connected_row(task, conversation=INTERESTED_TALK, **kwargs):
    defaults = {
        "call_status": "Succeeded",
        "last_task_status": "SucceededFinish",
        "is_connected": True,
        "call_conversation": conversation,
        "final_at": NOW - timedelta(minutes=1),
    }
    defaults.update(kwargs)
    return LeadTaskFactory(task=task, **defaults)


def forbid_judge(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("the judge must not run for these rows")

    monkeypatch.setattr(services, "judge_conversation", boom)


def assert_consistent(task_id):
    """Every final row has exactly one follow-up, linked both ways; no follow-up is orphaned."""
    rows = list(LeadTask.objects.filter(task_id=task_id).values("id", "leads_follow_id", "is_interested"))
    followups = {f.lead_task_id: f for f in FollowUp.objects.filter(lead_task__task_id=task_id)}
    assert FollowUp.objects.filter(lead_task__isnull=True, source="ai_call").count() == 0
    for row in rows:
        if row["leads_follow_id"] is None:
            assert row["id"] not in followups
            continue
        followup = followups[row["id"]]
        assert followup.pk == row["leads_follow_id"]
        assert followup.is_interested == row["is_interested"]
    linked = sum(1 for row in rows if row["leads_follow_id"] is not None)
    assert FollowUp.objects.filter(lead_task__task_id=task_id).count() == linked


# --- not connected -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_not_connected_rows_get_a_reason_without_any_judge(task, monkeypatch):
    forbid_judge(monkeypatch)
    no_answer = failed_row(task, "NoAnswer")
    busy = failed_row(task, "Busy", failure_reason="")
    cancelled = LeadTaskFactory(task=task, call_status="Cancelled", failure_reason="Cancelled")
    not_assigned = LeadTaskFactory(task=task, call_status="Failed", failure_reason="NotAssigned")
    timeout = LeadTaskFactory(task=task, call_status="", failure_reason="Timeout")
    with_transcript = failed_row(task, "NoAnswer", call_conversation=INTERESTED_TALK)
    running = LeadTaskFactory(task=task, call_status="Executing", last_task_status="NoAnswer")

    result = followups_create_for_task(task_id=task.pk, now=NOW)

    assert result.created == 6
    assert (result.judged_llm, result.judged_rules, result.judged_default) == (0, 0, 0)
    remarks = {f.lead_task_id: f for f in FollowUp.objects.all()}
    assert remarks[no_answer.pk].leads_remark == "未接通：无人接听"
    assert remarks[with_transcript.pk].leads_remark == "未接通：无人接听"
    for row in (busy, cancelled, not_assigned, timeout):
        remark = remarks[row.pk].leads_remark
        assert remark.startswith("未接通：") and len(remark) > 4
        assert not remark[4:].isascii(), remark
    for followup in remarks.values():
        assert followup.is_interested == 0
        assert followup.judge == FollowUp.Judge.NONE
        assert followup.next_follow_time is None
        assert followup.source == FollowUp.Source.AI_CALL
        assert followup.follow_time == NOW and followup.new_follow_time == NOW
        assert followup.is_arrive is False and followup.first_arrive_time is None
    assert running.pk not in remarks
    assert_consistent(task.pk)


@pytest.mark.django_db
def test_not_connected_label_prefers_product_reason_then_call_status():
    label = services.not_connected_label
    assert label(call_status="Failed", last_task_status="NoAnswer", failure_reason="Timeout") != label(
        call_status="Failed", last_task_status="NoAnswer", failure_reason=""
    )
    assert (
        label(call_status="Failed", last_task_status="", failure_reason="") == "呼叫失败"
        or not label(call_status="Failed", last_task_status="", failure_reason="").isascii()
    )
    assert label(call_status="Failed", last_task_status="WeirdNewStatus", failure_reason="") == "WeirdNewStatus"


# --- judged rows -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_connected_rows_are_judged_and_linked(task):
    lead = LeadFactory(organization=task.organization)
    earlier = NOW - timedelta(days=30)
    FollowUpFactory(lead=lead, follow_time=earlier, first_follow_time=earlier)
    interested = connected_row(task, lead=lead)
    not_interested = connected_row(task, NOT_INTERESTED_TALK)
    ambiguous = connected_row(task, AMBIGUOUS_TALK)

    result = followups_create_for_task(task_id=task.pk, now=NOW)

    assert result.created == 3 and result.judged_rules == 3
    f1 = FollowUp.objects.get(lead_task=interested)
    assert f1.is_interested == 1 and f1.judge == "rules" and f1.judged_at == NOW
    assert f1.leads_remark.startswith("客户有意向：")
    assert f1.next_follow_time == datetime(2026, 11, 24, 15, 0, tzinfo=SH)
    assert f1.first_follow_time == earlier  # the lead's history is kept, not reset to now
    assert f1.lead_id == lead.pk
    f2 = FollowUp.objects.get(lead_task=not_interested)
    assert (f2.is_interested, f2.next_follow_time) == (2, None)
    assert f2.first_follow_time == NOW
    f3 = FollowUp.objects.get(lead_task=ambiguous)
    assert f3.is_interested == 0 and f3.next_follow_time == datetime(2026, 11, 26, 10, 0, tzinfo=SH)
    assert LeadTask.objects.get(pk=interested.pk).is_interested == 1
    assert_consistent(task.pk)


@pytest.mark.django_db
def test_judge_runs_concurrently_in_a_bounded_pool_without_the_orm(task, monkeypatch, settings):
    settings.JUDGE_CONCURRENCY = 3
    settings.LLM_API_KEY = "sk-test"  # the pool is for the LLM; the rules judge runs inline (next test)
    for _ in range(9):
        connected_row(task)
    lock = threading.Lock()
    state = {"active": 0, "peak": 0, "threads": set()}
    main_thread = threading.current_thread()
    gate = threading.Barrier(3, timeout=5)

    def fake_judge(conversation, **kwargs):
        with lock:
            state["active"] += 1
            state["peak"] = max(state["peak"], state["active"])
            state["threads"].add(threading.current_thread())
        try:
            gate.wait()  # proves three run at the same time
        finally:
            with lock:
                state["active"] -= 1
        return JudgeResult("客户有意向：测试", 1, None, "llm")

    monkeypatch.setattr(services, "judge_conversation", fake_judge)
    result = followups_create_for_task(task_id=task.pk, now=NOW)

    assert result.created == 9 and result.judged_llm == 9
    assert state["peak"] == 3
    assert main_thread not in state["threads"]


@pytest.mark.django_db
def test_rules_judge_runs_inline_without_a_pool(task, monkeypatch, settings):
    settings.LLM_API_KEY = ""
    settings.JUDGE_CONCURRENCY = 3
    for _ in range(4):
        connected_row(task)
    threads = set()
    real_judge = services.judge_conversation

    def spy(conversation, **kwargs):
        threads.add(threading.current_thread())
        return real_judge(conversation, **kwargs)

    monkeypatch.setattr(services, "judge_conversation", spy)
    result = followups_create_for_task(task_id=task.pk, now=NOW)
    assert result.created == 4 and result.judged_rules == 4
    assert threads == {threading.current_thread()}


# --- transcript grace period ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_connected_without_transcript_waits_for_the_grace_period(task, monkeypatch):
    forbid_judge(monkeypatch)
    row = connected_row(task, conversation=None, final_at=NOW)
    empty = connected_row(task, conversation=[], final_at=NOW)

    early = followups_create_for_task(task_id=task.pk, now=NOW + timedelta(minutes=29))
    assert (early.created, early.waiting_for_transcript) == (0, 2)
    assert not FollowUp.objects.exists()

    late = followups_create_for_task(task_id=task.pk, now=NOW + timedelta(minutes=31))
    assert (late.created, late.waiting_for_transcript) == (2, 0)
    for r in (row, empty):
        followup = FollowUp.objects.get(lead_task=r)
        assert (followup.leads_remark, followup.is_interested, followup.judge) == ("已接通，无对话记录", 0, "none")
        assert followup.next_follow_time is None
    assert_consistent(task.pk)


@pytest.mark.django_db
def test_transcript_arriving_within_the_grace_period_is_judged(task):
    row = connected_row(task, conversation=None, final_at=NOW)
    assert followups_create_for_task(task_id=task.pk, now=NOW + timedelta(minutes=5)).waiting_for_transcript == 1
    LeadTask.objects.filter(pk=row.pk).update(call_conversation=INTERESTED_TALK)
    result = followups_create_for_task(task_id=task.pk, now=NOW + timedelta(minutes=10))
    assert result.created == 1 and result.judged_rules == 1
    assert FollowUp.objects.get(lead_task=row).is_interested == 1


# --- idempotency and edge cases ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_running_twice_creates_nothing_new(task):
    for _ in range(3):
        failed_row(task)
    connected_row(task)
    first = followups_create_for_task(task_id=task.pk, now=NOW)
    second = followups_create_for_task(task_id=task.pk, now=NOW + timedelta(minutes=5))
    assert first.created == 4
    assert (second.created, second.skipped) == (0, 0)
    assert FollowUp.objects.count() == 4
    assert_consistent(task.pk)


@pytest.mark.django_db
def test_rows_without_a_lead_are_skipped(task):
    row = failed_row(task)
    LeadTask.objects.filter(pk=row.pk).update(lead=None)
    connected = connected_row(task)
    LeadTask.objects.filter(pk=connected.pk).update(lead=None)
    result = followups_create_for_task(task_id=task.pk, now=NOW)
    assert (result.created, result.skipped) == (0, 2)
    assert not FollowUp.objects.exists()
    assert followup_create_for_row(lead_task_id=row.pk, result=JudgeResult("x", 0, None, "rules")) is None


@pytest.mark.django_db
def test_create_for_row_is_idempotent_and_repairs_a_lost_link(task):
    row = failed_row(task)
    verdict = JudgeResult("客户有意向：测试", 1, None, "rules")
    created = followup_create_for_row(lead_task_id=row.pk, result=verdict, now=NOW)
    assert created is not None
    assert followup_create_for_row(lead_task_id=row.pk, result=verdict, now=NOW) is None
    assert followup_create_for_row(lead_task_id=999_999, result=verdict, now=NOW) is None

    # The row lost its link (e.g. edited by hand): the unique constraint stops a duplicate and the
    # existing follow-up is linked again.
    LeadTask.objects.filter(pk=row.pk).update(leads_follow=None, is_interested=None)
    assert followup_create_for_row(lead_task_id=row.pk, result=verdict, now=NOW) is None
    row.refresh_from_db()
    assert (row.leads_follow_id, row.is_interested) == (created.pk, 1)
    assert FollowUp.objects.count() == 1


@pytest.mark.django_db
def test_bulk_write_with_a_conflicting_row_falls_back_row_by_row(task):
    rows = [failed_row(task) for _ in range(5)]
    # A follow-up for rows[2] exists but is not linked: the bulk INSERT conflicts.
    FollowUpFactory(lead=rows[2].lead, lead_task=rows[2], source="ai_call", is_interested=0)
    result = followups_create_for_task(task_id=task.pk, now=NOW)
    assert result.created == 4 and result.skipped == 1
    assert FollowUp.objects.count() == 5
    assert_consistent(task.pk)


# --- query counts ------------------------------------------------------------------------------------------


def _count_queries(task, n):
    for _ in range(n):
        failed_row(task)
    for _ in range(n // 10):
        connected_row(task, conversation=None, final_at=NOW - timedelta(hours=1))
    with CaptureQueriesContext(connection) as ctx:
        result = followups_create_for_task(task_id=task.pk, now=NOW)
    assert result.created == n + n // 10
    assert_consistent(task.pk)
    return len(ctx.captured_queries)


@pytest.mark.django_db
def test_query_count_is_constant_in_the_number_of_rows():
    small = _count_queries(CallTaskFactory(task_type=TaskState.CALLS_DONE), 10)
    large = _count_queries(CallTaskFactory(task_type=TaskState.CALLS_DONE), 200)
    assert small == large
    assert large <= 8


# --- concurrency -------------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_write_exactly_one_followup_per_row():
    """Two processes (here: threads with their own connections) follow up the same task at once.

    On PostgreSQL both really run concurrently; the unique constraint decides each row. SQLite
    serialises writers (BEGIN IMMEDIATE), which exercises the same code paths with less overlap.
    """
    task = CallTaskFactory(task_type=TaskState.CALLS_DONE)
    for i in range(60):
        failed_row(task, "Busy" if i % 2 else "NoAnswer")
    for talk in (INTERESTED_TALK, NOT_INTERESTED_TALK, AMBIGUOUS_TALK) * 4:
        connected_row(task, talk)
    for _ in range(5):
        connected_row(task, conversation=None, final_at=NOW - timedelta(hours=1))
    total = LeadTask.objects.filter(task=task).count()

    barrier = threading.Barrier(2, timeout=10)
    results, errors = [], []
    # SQLite's in-memory test database (shared cache) reports "table is locked" instead of waiting
    # for a concurrent writer, so there the two runs take turns; PostgreSQL runs them truly at once.
    serial = threading.Lock() if connection.vendor == "sqlite" else contextlib.nullcontext()

    def run():
        try:
            barrier.wait()
            with serial:
                results.append(followups_create_for_task(task_id=task.pk, now=NOW))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert sum(r.created for r in results) == total
    assert FollowUp.objects.count() == total
    assert LeadTask.objects.filter(task=task, leads_follow__isnull=True).count() == 0
    assert_consistent(task.pk)


# --- re-judge ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_llm_outage_gives_defaults_then_rejudge_recovers(task, settings, unused_port):
    settings.LLM_API_KEY = "sk-test"
    settings.LLM_BASE_URL = f"http://127.0.0.1:{unused_port}/compatible-mode/v1"
    settings.LLM_MAX_RETRIES = 0
    rows = [connected_row(task), connected_row(task, NOT_INTERESTED_TALK)]
    failed_row(task)

    result = followups_create_for_task(task_id=task.pk, now=NOW)
    assert result.judged_default == 2 and result.created == 3
    for row in rows:
        followup = FollowUp.objects.get(lead_task=row)
        assert followup.leads_remark == "AI分析失败，需要人工跟进"
        assert (followup.is_interested, followup.next_follow_time, followup.judge) == (0, NOW, "default")

    settings.LLM_API_KEY = ""  # back to a working judge (here: the rules judge)
    later = NOW + timedelta(hours=1)
    assert followups_rejudge_defaults(task_id=task.pk, now=later) == 2
    f1 = FollowUp.objects.get(lead_task=rows[0])
    assert (f1.judge, f1.is_interested, f1.judged_at) == ("rules", 1, later)
    assert LeadTask.objects.get(pk=rows[0].pk).is_interested == 1
    assert LeadTask.objects.get(pk=rows[1].pk).is_interested == 2
    assert followups_rejudge_defaults(task_id=task.pk, now=later) == 0
    assert_consistent(task.pk)


@pytest.mark.django_db
def test_rejudge_one_followup_and_refuse_unjudgeable_ones(task):
    row = connected_row(task)
    no_answer = failed_row(task)
    followups_create_for_task(task_id=task.pk, now=NOW)
    followup = FollowUp.objects.get(lead_task=row)
    FollowUp.objects.filter(pk=followup.pk).update(is_interested=2, leads_remark="旧的", judge="default")

    updated = followup_rejudge(followup_id=followup.pk, now=NOW + timedelta(minutes=1))
    assert (updated.is_interested, updated.judge) == (1, "rules")
    assert updated.leads_remark.startswith("客户有意向")
    assert LeadTask.objects.get(pk=row.pk).is_interested == 1

    with pytest.raises(FollowupNotRejudgeable):
        followup_rejudge(followup_id=FollowUp.objects.get(lead_task=no_answer).pk)
    manual = FollowUpFactory(lead=row.lead)
    with pytest.raises(FollowupNotRejudgeable):
        followup_rejudge(followup_id=manual.pk)


@pytest.fixture
def unused_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the LLM path through the simulator --------------------------------------------------------------------


@pytest.fixture
def llm(simulator, settings):
    settings.LLM_API_KEY = "sk-simulator"
    settings.LLM_MAX_RETRIES = 1
    settings.LLM_TIMEOUT = 2.0
    return simulator


@pytest.mark.django_db
def test_failed_rows_make_no_llm_request(task, llm):
    for status in ("NoAnswer", "Busy", "PoweredOff"):
        failed_row(task, status, call_conversation=NOT_INTERESTED_TALK if status == "Busy" else None)
    LeadTaskFactory(task=task, call_status="Cancelled", failure_reason="Cancelled")
    result = followups_create_for_task(task_id=task.pk, now=NOW)
    assert result.created == 4
    assert llm.core.llm.requests == 0


@pytest.mark.django_db
def test_connected_rows_are_judged_by_the_llm(task, llm):
    rows = {1: connected_row(task), 2: connected_row(task, NOT_INTERESTED_TALK), 0: connected_row(task, AMBIGUOUS_TALK)}
    failed_row(task)
    result = followups_create_for_task(task_id=task.pk, now=NOW)
    assert (result.created, result.judged_llm) == (4, 3)
    assert llm.core.llm.requests == 3
    for interest, row in rows.items():
        followup = FollowUp.objects.get(lead_task=row)
        assert (followup.judge, followup.is_interested) == ("llm", interest)
        assert LeadTask.objects.get(pk=row.pk).is_interested == interest
    assert FollowUp.objects.get(lead_task=rows[1]).next_follow_time == datetime(2026, 11, 24, 15, 0, tzinfo=SH)
    assert_consistent(task.pk)


@pytest.mark.django_db
def test_llm_outage_then_rejudge_through_the_simulator(task, llm):
    rows = [connected_row(task) for _ in range(3)] + [connected_row(task, NOT_INTERESTED_TALK)]
    llm.add_fault("llm", "unavailable", rate=1.0)

    result = followups_create_for_task(task_id=task.pk, now=NOW)
    assert (result.created, result.judged_default, result.judged_llm) == (4, 4, 0)
    assert set(FollowUp.objects.values_list("leads_remark", flat=True)) == {"AI分析失败，需要人工跟进"}
    assert set(LeadTask.objects.filter(task=task).values_list("is_interested", flat=True)) == {0}

    llm.clear_faults()
    assert followups_rejudge_defaults(task_id=task.pk, now=NOW + timedelta(minutes=10)) == 4
    assert set(FollowUp.objects.values_list("judge", flat=True)) == {"llm"}
    assert [LeadTask.objects.get(pk=r.pk).is_interested for r in rows] == [1, 1, 1, 2]
    assert FollowUp.objects.filter(judge="default").count() == 0
    assert_consistent(task.pk)
