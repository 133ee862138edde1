"""LLM faults: down, slow past the timeout, garbage answers, connections dropped mid-answer.

The pipeline must not wait for the LLM: a lead whose judging failed gets the default follow-up
("AI分析失败，需要人工跟进", judge ``default``) so the task still completes; re-judging the defaults once the
LLM is healthy gives every lead the verdict the simulator's ground truth holds. Nothing is lost or
duplicated along the way (one follow-up per lead row, re-judging updates it in place).
"""

from __future__ import annotations

import pytest

from calltasks.models import LeadTask
from followups.models import FollowUp
from followups.services import followups_rejudge_defaults
from tests.reliability.harness import Clock, drive, started_task

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DEFAULT_REMARK = "AI分析失败，需要人工跟进"


def _run(recorder, simulator, org, user, *, scenario: str, fault: str, inject, expect_defaults: bool):
    recorder.start(scenario, fault)
    rules = inject(simulator)
    task = started_task(org, user, name=scenario)
    result = drive([task.pk], Clock(simulator))
    felt = sum(rule.fired for rule in rules)
    simulator.clear_faults()
    judged = LeadTask.objects.filter(task=task, is_connected=True, call_conversation__isnull=False)

    def defaults():
        return FollowUp.objects.filter(lead_task__task=task, judge=FollowUp.Judge.DEFAULT)

    n_defaults = defaults().count()
    assert set(defaults().values_list("leads_remark", flat=True)) <= {DEFAULT_REMARK}
    followups_before = FollowUp.objects.filter(lead_task__task=task).count()
    rejudged = followups_rejudge_defaults(task_id=task.pk) if n_defaults else 0
    check = recorder.finish(
        [task], simulator, recovered=result.done and not defaults().exists(), fault_felt=felt, drive=result,
        detail=f"{n_defaults} default follow-ups during the fault, {rejudged} re-judged afterwards",
    )
    assert result.done, check.problems
    assert felt > 0, "the fault never fired"
    if expect_defaults:
        assert n_defaults > 0
    assert rejudged == n_defaults
    assert FollowUp.objects.filter(lead_task__task=task).count() == followups_before == task.leads_count
    assert not defaults().exists()
    assert judged.count() == FollowUp.objects.filter(lead_task__task=task, judge=FollowUp.Judge.LLM).count() > 0
    for row in judged.select_related("leads_follow"):
        assert row.is_interested == row.leads_follow.is_interested
    assert check.outcome == "held" and check.mismatches == 0, check
    return n_defaults


def test_llm_down(recorder, llm_on, fault_simulator, org, user, run_index):
    _run(
        recorder, fault_simulator, org, user, scenario="LLM down",
        fault="every chat completion 503 until the task is done", expect_defaults=True,
        inject=lambda sim: [sim.add_fault("llm", "unavailable", rate=1.0)],
    )


def test_llm_slow_past_timeout(recorder, llm_on, fault_simulator, org, user, run_index, settings):
    settings.LLM_TIMEOUT = 0.4
    _run(
        recorder, fault_simulator, org, user, scenario="LLM slow",
        fault="16 answers 1.0 s late vs a 0.4 s timeout (1 retry)", expect_defaults=False,
        inject=lambda sim: [sim.add_fault("llm", "slow", count=16, seconds=1.0)],
    )


def test_llm_garbage(recorder, llm_on, fault_simulator, org, user, run_index):
    _run(
        recorder, fault_simulator, org, user, scenario="LLM garbage output",
        fault="12 answers that are prose, not the JSON verdict", expect_defaults=True,
        inject=lambda sim: [sim.add_fault("llm", "garbage", count=12)],
    )


def test_llm_dropped_connections(recorder, llm_on, fault_simulator, org, user, run_index):
    _run(
        recorder, fault_simulator, org, user, scenario="LLM dropped connections",
        fault="socket closed before / in the middle of 6 + 6 answers", expect_defaults=False,
        inject=lambda sim: [sim.add_fault("llm", "drop", count=6), sim.add_fault("llm", "truncate", count=6)],
    )
