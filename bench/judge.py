"""``bench_judge``: follow-ups per second through the LLM judge with a simulated latency.

A task in state 3 whose rows are all connected calls with a transcript (so every row goes to the LLM),
the simulator's OpenAI-compatible endpoint answering after ``latency_ms``, ``JUDGE_CONCURRENCY`` =
``concurrency``. One ``followups_create_for_task`` is timed. The bound is ``concurrency / latency``
(e.g. 16 / 0.2 s = 80 follow-ups/s): the judge can never be faster than that.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.utils import timezone

from bench.common import (
    Stopwatch,
    bench_org_create,
    bench_org_delete,
    bench_simulator,
    count_queries,
    environment,
    environment_text,
    leads_bulk_create,
    markdown_table,
    met,
    rate,
    simulator_settings,
)
from calltasks.models import CallTask, LeadTask
from calltasks.states import TaskState
from followups.models import FollowUp

TARGET_SHARE_OF_BOUND = 0.8

TALKS = [
    [
        {"Speaker": "Robot", "Script": "您好，我是星越汽车的顾问小李。"},
        {"Speaker": "Contact", "Script": "我对星越L挺感兴趣的，想来店里看看。"},
        {"Speaker": "Robot", "Script": "请问您哪天方便到店？"},
        {"Speaker": "Contact", "Script": "可以，我明天下午过来试驾。"},
    ],
    [
        {"Speaker": "Robot", "Script": "您好，想回访一下您的购车计划。"},
        {"Speaker": "Contact", "Script": "不需要了，我已经买了，别再打了。"},
    ],
    [
        {"Speaker": "Robot", "Script": "您好，想回访一下您的购车计划。"},
        {"Speaker": "Contact", "Script": "最近比较忙，到时候再说。"},
    ],
]


def _task_to_judge(org, user, count: int) -> CallTask:
    now = timezone.now()
    leads = leads_bulk_create(org, count, prefix="judge")
    task = CallTask.objects.create(
        task_name="benchmark judge",
        organization=org,
        created_by=user,
        create_time=now,
        leads_count=count,
        script_id="bench-script",
        task_type=TaskState.CALLS_DONE,
        size_desc={"benchmark": True},
        job_group_id="bench-judge",
        started_at=now,
        calls_done_at=now,
    )
    LeadTask.objects.bulk_create(
        [
            LeadTask(
                task=task,
                lead=lead,
                leads_id=lead.leads_id,
                leads_name=lead.leads_user_name,
                leads_phone=lead.leads_user_phone,
                reference_id=f"dcc-{task.pk}-{lead.pk}",
                call_job_id=f"bench-judge-{task.pk}-{lead.pk}",
                call_status="Succeeded",
                last_task_status="SucceededFinish",
                is_connected=True,
                attempts=1,
                call_duration=40,
                call_conversation=TALKS[i % len(TALKS)],
                final_at=now - timedelta(minutes=1),
                created_at=now,
            )
            for i, lead in enumerate(leads)
        ],
        batch_size=2000,
    )
    return task


def run(
    *, followups: int = 800, latency_ms: int = 200, concurrency: int = 16, keep: bool = False, quiet: bool = True
) -> dict[str, Any]:
    from followups.services import followups_create_for_task

    previous_disable = logging.root.manager.disable
    if quiet:
        logging.disable(logging.WARNING)
    org, user = bench_org_create("judge")
    handle = bench_simulator(llm=True, llm_latency_ms=latency_ms)
    try:
        with simulator_settings(handle, llm=True, JUDGE_CONCURRENCY=concurrency):
            task = _task_to_judge(org, user, followups)
            watch = Stopwatch()
            with count_queries() as counter:
                batch = followups_create_for_task(task_id=task.pk)
            seconds = watch.seconds()
            written = FollowUp.objects.filter(lead_task__task=task).count()
            by_llm = FollowUp.objects.filter(lead_task__task=task, judge=FollowUp.Judge.LLM).count()
            llm_requests = handle.core.llm.requests
    finally:
        handle.stop()
        if not keep:
            bench_org_delete(org)
        if quiet:
            logging.disable(previous_disable)
    bound = concurrency / (latency_ms / 1000) if latency_ms else None
    per_second = rate(batch.created, seconds)
    share = round(per_second / bound, 3) if bound else None
    return {
        "benchmark": "judge",
        "environment": environment(),
        "parameters": {"followups": followups, "latency_ms": latency_ms, "concurrency": concurrency},
        "seconds": round(seconds, 3),
        "followups_created": batch.created,
        "followups_in_database": written,
        "judged_by_llm": by_llm,
        "llm_requests": llm_requests,
        "followups_per_second": per_second,
        "bound_per_second": bound,
        "share_of_bound": share,
        "sql_queries": counter.count,
        "targets": {"share_of_bound_ge_0_8": share is not None and share >= TARGET_SHARE_OF_BOUND},
    }


def markdown(result: dict[str, Any]) -> str:
    p = result["parameters"]
    env = result["environment"]
    title = (
        f"**bench_judge** {p['followups']} follow-ups, LLM latency {p['latency_ms']} ms, concurrency "
        f"{p['concurrency']} — {environment_text(env)}"
    )
    rows = [
        ("Follow-ups/s (LLM judge)", result["followups_per_second"], f"bound {result['bound_per_second']}", "—"),
        (
            "Share of the bound",
            result["share_of_bound"],
            "≥ 0.8",
            met(result["targets"]["share_of_bound_ge_0_8"]),
        ),
        (
            "Follow-ups written / judged by the LLM",
            f"{result['followups_in_database']} / {result['judged_by_llm']}",
            "all",
            "—",
        ),
        ("SQL queries for the whole batch", result["sql_queries"], "—", "—"),
    ]
    return title + "\n\n" + markdown_table(rows)
