"""Fixtures of the fault suite: the soak parametrisation, the recorder of result rows, a faulty simulator."""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest

from tests.reliability.harness import (
    Check,
    Drive,
    ResultRow,
    compare_with_truth,
    database_label,
    runs_per_scenario,
    write_row,
)

LLM_KEY = "sk-reliability"


def pytest_generate_tests(metafunc):
    """``RELIABILITY_RUNS=N`` repeats every scenario N times (the soak variant); CI runs each once."""
    if "run_index" in metafunc.fixturenames:
        runs = runs_per_scenario()
        metafunc.parametrize("run_index", range(runs), ids=[f"run{i + 1}" for i in range(runs)])


@pytest.fixture(scope="session")
def reliability_session() -> str:
    return os.environ.get("RELIABILITY_SESSION") or dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"


class Recorder:
    """Collects one scenario run's figures and writes its result row (also when the run blows up)."""

    def __init__(self, session: str, run_index: int) -> None:
        self.session = session
        self.run_index = run_index
        self.started = time.monotonic()
        self.scenario = ""
        self.fault = ""
        self.written = False

    def start(self, scenario: str, fault: str) -> Recorder:
        self.scenario, self.fault = scenario, fault
        self.started = time.monotonic()
        return self

    def finish(self, tasks, simulator, *, recovered: bool, fault_felt: int, drive: Drive | None = None,
               passes: int | None = None, judged_interest: bool = True, detail: str = "") -> Check:
        check = compare_with_truth(tasks, simulator, judged_interest=judged_interest)
        recovered = bool(recovered and check.final_state_ok)
        self._write(
            leads=check.leads,
            records_expected=check.records_expected,
            records_actual=check.records_actual,
            followups_expected=check.followups_expected,
            followups_actual=check.followups_actual,
            duplicates=check.duplicates,
            lost=check.lost,
            mismatches=check.mismatches,
            outcome=check.outcome,
            recovered=recovered,
            fault_felt=fault_felt,
            passes=passes if passes is not None else (drive.passes if drive else 0),
            detail=(detail + (" | " if detail and check.problems else "") + "; ".join(check.problems[:5]))[:500],
        )
        return check

    def _write(self, **figures) -> None:
        row = ResultRow(
            scenario=self.scenario,
            fault=self.fault,
            database=database_label(),
            session=self.session,
            run=self.run_index + 1,
            runs=runs_per_scenario(),
            seconds=round(time.monotonic() - self.started, 2),
            recorded_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            **figures,
        )
        write_row(row)
        self.written = True

    def error(self, message: str) -> None:
        self._write(
            leads=0, records_expected=0, records_actual=0, followups_expected=0, followups_actual=0, duplicates=0,
            lost=0, mismatches=0, outcome="error", recovered=False, fault_felt=0, passes=0, detail=message[:500],
        )


@pytest.fixture
def recorder(reliability_session, run_index, request):
    rec = Recorder(reliability_session, run_index)
    yield rec
    if rec.scenario and not rec.written:
        report = getattr(request.node, "rep_call", None)
        rec.error(f"scenario did not finish: {getattr(report, 'longrepr', '') or 'error'}".splitlines()[0])


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report


@pytest.fixture
def fault_simulator(simulator_factory, settings):
    """A simulator with an LLM key and no delayed transcripts (every comparison with the truth is exact)."""
    settings.LLM_API_KEY = ""
    settings.TRANSCRIPT_GRACE_MINUTES = 0
    return simulator_factory(transcript_delay_rate=0.0, llm_api_key=LLM_KEY)


@pytest.fixture
def llm_on(fault_simulator, settings):
    """The LLM judge on (after ``fault_simulator``, which turns it off)."""
    settings.LLM_API_KEY = LLM_KEY
    settings.LLM_MAX_RETRIES = 1
    return settings
