"""Provider faults on the live simulator, in-process monitor passes on its virtual clock.

Each scenario starts a task, injects its fault into the first passes (some faults are absorbed by the
client's retries, some make a task turn fail so the task is retried on a later pass), lets the fault clear
and runs passes until the task is in state 4; then the database must equal the simulator's ground truth:
nothing lost, nothing duplicated. Every run writes a result row (see ``harness.py``).
"""

from __future__ import annotations

import pytest

from calltasks.provider.client import OutboundBotClient
from calltasks.states import TaskState
from tests.reliability.harness import Clock, drive, started_task

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FAULTY_PASSES = 4
STEP_SECONDS = 600  # 10 virtual minutes between passes: the campaign spans several passes, faults hit mid-campaign


def _run(recorder, simulator, org, user, *, scenario: str, fault: str, inject, client=None):
    """``inject(simulator, pass_index)`` returns the rules it added during the first FAULTY_PASSES passes."""
    recorder.start(scenario, fault)
    task = started_task(org, user, name=scenario)
    assert task.task_type == TaskState.CALLING
    rules = []

    def before_pass(index, clock):
        if index < FAULTY_PASSES:
            rules.extend(inject(simulator, index))
        else:
            simulator.clear_faults()

    result = drive([task.pk], Clock(simulator), before_pass=before_pass, client=client, step_seconds=STEP_SECONDS)
    felt = sum(rule.fired for rule in rules)
    check = recorder.finish(
        [task], simulator, recovered=result.done, fault_felt=felt, drive=result,
        detail=f"{result.failed_task_turns} failed task turns retried on a later pass",
    )
    assert result.done, check.problems
    assert felt > 0, "the fault never fired"
    assert check.outcome == "held" and check.records_actual == check.records_expected, check
    assert check.followups_actual == check.followups_expected == task.leads_count, check
    return result, check


def test_provider_503_bursts(recorder, fault_simulator, org, user, run_index):
    """Bursts of 503 ServiceUnavailable: 3 in a row beat the client's 2 retries, 1 is absorbed."""

    def inject(sim, index):
        return [sim.add_fault("*", "unavailable", count=3 if index % 2 == 0 else 1)]

    result, _check = _run(
        recorder, fault_simulator, org, user, scenario="provider 503 bursts",
        fault="503 ServiceUnavailable ×3 / ×1 per pass, first 4 passes", inject=inject,
    )
    assert result.failed_task_turns >= 1  # at least one burst outlasted the client's retries


def test_provider_throttling_honours_retry_after(recorder, fault_simulator, org, user, run_index, settings):
    """``Throttling.User`` with ``x-acs-retry-after``: the client waits exactly that long, capped at 4 × backoff max."""
    settings.OUTBOUNDBOT_MAX_RETRIES = 3
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)

    client = OutboundBotClient.from_settings(sleep=sleep, backoff_max_seconds=0.5)

    def inject(sim, index):
        rules = [sim.add_fault("*", "throttle", count=2, retry_after_ms=150)]
        if index == 1:
            rules.append(sim.add_fault("*", "throttle", count=1, retry_after_ms=60_000))
        return rules

    _run(
        recorder, fault_simulator, org, user, scenario="provider throttling",
        fault="Throttling.User (400) + x-acs-retry-after 150 ms ×2 per pass, one 60 s", inject=inject, client=client,
    )
    # Every wait is the header's 150 ms to the millisecond, or the 60 s capped at 4 × backoff_max_seconds.
    assert set(slept) == {0.15, 2.0} and slept.count(0.15) >= 3 and slept.count(2.0) == 1


def test_provider_slow_past_read_timeout(recorder, fault_simulator, org, user, run_index, settings):
    """Answers slower than the read timeout: timed-out reads are retried, a turn that runs out of retries waits."""
    settings.OUTBOUNDBOT_READ_TIMEOUT = 0.4

    def inject(sim, index):
        return [sim.add_fault("*", "slow", count=3 if index == 0 else 1, seconds=1.0)]

    _run(
        recorder, fault_simulator, org, user, scenario="provider slow responses",
        fault="answers 1.0 s late vs a 0.4 s read timeout, 3 then 1 per pass", inject=inject,
    )


def test_provider_malformed_json(recorder, fault_simulator, org, user, run_index):
    """HTTP 200 with a truncated JSON body."""

    def inject(sim, index):
        return [sim.add_fault("*", "malformed", count=3 if index % 2 == 0 else 1)]

    _run(
        recorder, fault_simulator, org, user, scenario="provider malformed JSON",
        fault="200 with a cut-off JSON body ×3 / ×1 per pass", inject=inject,
    )


def test_provider_200_success_false(recorder, fault_simulator, org, user, run_index):
    """HTTP 200 with ``Success:false``: a transient code (retried) and a non-retryable one (turn fails)."""

    def inject(sim, index):
        if index % 2 == 0:
            return [sim.add_fault("*", "success_false", count=3, code="InternalError")]
        return [sim.add_fault("*", "success_false", count=1, code="Forbidden.RAM")]

    result, _check = _run(
        recorder, fault_simulator, org, user, scenario="provider 200 + Success:false",
        fault="200 + Success:false, InternalError ×3 / Forbidden.RAM ×1 per pass", inject=inject,
    )
    assert result.failed_task_turns >= 2


def test_provider_dropped_connections(recorder, fault_simulator, org, user, run_index):
    """The server closes the socket: before answering (drop) and mid-body (truncate)."""

    def inject(sim, index):
        kind = "drop" if index % 2 == 0 else "truncate"
        return [sim.add_fault("*", kind, count=3 if index < 2 else 1)]

    _run(
        recorder, fault_simulator, org, user, scenario="provider dropped connections",
        fault="socket closed before the answer / mid-body, ×3 then ×1 per pass", inject=inject,
    )
