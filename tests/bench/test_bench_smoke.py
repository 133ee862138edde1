"""The benchmarks at a tiny size: every figure is in the JSON output and the pipeline really reaches state 4.

Timings are never asserted here (they belong to the benchmarks themselves, docs/performance.md).
"""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from calltasks.models import CallTask, LeadTask
from followups.models import FollowUp, Lead, Organization

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def run_command(name: str, *args: str) -> dict:
    from io import StringIO

    out = StringIO()
    call_command(name, *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def assert_nothing_left() -> None:
    """Each run uses its own organization and removes it afterwards."""
    assert not Organization.objects.filter(code__startswith="BENCH").exists()
    assert not Lead.objects.exists() and not CallTask.objects.exists() and not FollowUp.objects.exists()


def test_bench_pipeline_reports_every_figure_and_reaches_state_4():
    result = run_command("bench_pipeline", "--tasks", "2", "--leads", "6", "--probe-leads", "15", "--recordings", "2")

    assert result["benchmark"] == "pipeline"
    assert {"database", "cpus", "load_average", "interpreter_ms", "measured_at"} <= set(result["environment"])
    assert result["environment"]["interpreter_ms"] > 0
    outcome = result["outcome"]
    assert outcome["all_tasks_in_state_4"] is True and outcome["tasks_in_state_4"] == 2
    assert outcome["lead_rows"] == outcome["followups"] == outcome["rows_linked_to_followup"] == 12
    assert outcome["call_records"] >= outcome["connected_rows"]
    assert result["pass"]["rows"] == 12 and result["pass"]["leads_per_second"] > 0
    assert set(result["pass"]["steps"]) == {"sync", "followups", "completion"}
    assert result["pass"]["steps"]["sync"]["calls"] == 2
    queries = result["sql_queries_per_task_sync"]
    assert set(queries["by_size"]) == {"10", "15"} and queries["min"] > 0
    assert {"spread_across_sizes", "completion_check_by_size"} <= set(queries)
    provider = result["provider_calls"]
    assert provider["actual"] >= provider["lower_bound"] > 0 and provider["ratio"] >= 1
    assert result["memory"]["peak_rss_mb_after_pass"] > 0
    raw = result["raw_writes"]
    assert raw["rows"] == 12 and raw["call_records"] == outcome["call_records"] and raw["leads_per_second"] > 0
    assert result["ratio_to_raw"] > 0
    assert result["recordings"]["files"] == 2 and result["recordings"]["concurrency"] >= 1
    assert set(result["targets"]) == {
        "leads_per_second_ge_1000",
        "ratio_to_raw_ge_0_25",
        "provider_calls_le_1_05_bound",
        "sync_queries_constant_pm_2",
        "all_tasks_in_state_4_and_rows_eq_followups",
    }
    assert result["targets"]["all_tasks_in_state_4_and_rows_eq_followups"] is True
    assert_nothing_left()
    # The raw-write measurement was rolled back: nothing of it survives either.
    assert not LeadTask.objects.exists()


def test_bench_pipeline_with_the_llm_judge():
    result = run_command(
        "bench_pipeline",
        "--tasks",
        "1",
        "--leads",
        "6",
        "--judge",
        "llm",
        "--llm-latency-ms",
        "1",
        "--concurrency",
        "2",
        "--probe-leads",
        "10",
        "--recordings",
        "0",
    )
    assert result["parameters"]["judge"] == "llm" and result["parameters"]["judge_concurrency"] == 2
    assert result["outcome"]["all_tasks_in_state_4"] and result["outcome"]["followups"] == 6
    assert result["recordings"] is None
    assert_nothing_left()


def test_bench_judge_reports_rate_and_bound():
    result = run_command("bench_judge", "--followups", "6", "--llm-latency-ms", "5", "--concurrency", "3")

    assert result["benchmark"] == "judge"
    assert result["followups_created"] == result["followups_in_database"] == result["judged_by_llm"] == 6
    assert result["llm_requests"] == 6
    assert result["bound_per_second"] == 600.0  # 3 / 0.005 s
    assert result["followups_per_second"] > 0 and result["share_of_bound"] > 0
    assert result["sql_queries"] > 0
    assert set(result["targets"]) == {"share_of_bound_ge_0_8"}
    assert_nothing_left()


def test_bench_api_reports_percentiles_per_endpoint_and_level(live_server):
    result = run_command(
        "bench_api", "--leads", "60", "--clients", "1,2", "--requests", "4", "--base-url", live_server.url
    )

    assert result["benchmark"] == "api" and result["parameters"]["server"] == "external"
    assert set(result["endpoints"]) == {"GET /task_followup_records/{id}", "POST /query-task-execution"}
    for levels in result["endpoints"].values():
        assert [level["clients"] for level in levels] == [1, 2]
        for level in levels:
            assert level["requests"] == 4 and level["errors"] == 0, level["first_error"]
            assert 0 < level["p50_ms"] <= level["p95_ms"] <= level["p99_ms"]
            assert level["requests_per_second"] > 0
    assert set(result["targets"]) == {"get_followup_records_p95_lt_50ms_at_1_client"}
    assert_nothing_left()
