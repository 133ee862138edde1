"""``manage.py bench_pipeline``: one full monitor pass over T×L leads, next to the raw write rate (issue 7)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench import pipeline
from bench.common import as_json


class Command(BaseCommand):
    help = "Benchmark one monitor pass to state 4 against an in-process simulator (see docs/performance.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tasks", type=int, default=100, help="number of tasks (default 100)")
        parser.add_argument("--leads", type=int, default=1000, help="leads per task (default 1000)")
        parser.add_argument("--judge", choices=["rules", "llm"], default="rules", help="interest judge (default rules)")
        parser.add_argument("--llm-latency-ms", type=int, default=200, help="simulated LLM latency with --judge llm")
        parser.add_argument(
            "--concurrency", type=int, default=None, help="JUDGE_CONCURRENCY and RECORDING_DOWNLOAD_CONCURRENCY"
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="tasks the monitor pass processes at once (default MONITOR_WORKERS; always 1 on SQLite)",
        )
        parser.add_argument(
            "--probe-leads", type=int, default=10000, help="size of the large task in the queries-per-sync probe"
        )
        parser.add_argument("--recordings", type=int, default=200, help="recording files to copy (0: skip)")
        parser.add_argument("--keep", action="store_true", help="keep the benchmark organization and its data")
        parser.add_argument("--json", action="store_true", help="print JSON instead of a markdown table")

    def handle(self, *args, **options) -> None:
        if options["tasks"] < 1 or options["leads"] < 1 or options["probe_leads"] < 1:
            raise CommandError("--tasks, --leads and --probe-leads must be at least 1")
        if options["workers"] is not None and options["workers"] < 1:
            raise CommandError("--workers must be at least 1")
        result = pipeline.run(
            tasks=options["tasks"],
            leads=options["leads"],
            judge=options["judge"],
            llm_latency_ms=options["llm_latency_ms"],
            concurrency=options["concurrency"],
            workers=options["workers"],
            probe_leads=options["probe_leads"],
            recordings=options["recordings"],
            keep=options["keep"],
        )
        self.stdout.write(as_json(result) if options["json"] else pipeline.markdown(result))
