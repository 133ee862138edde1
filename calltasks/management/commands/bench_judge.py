"""``manage.py bench_judge``: follow-ups/s through the LLM judge at a simulated latency (issue 7)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench import judge
from bench.common import as_json


class Command(BaseCommand):
    help = "Benchmark the LLM judge path: follow-ups/s against the bound concurrency/latency (docs/performance.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--followups", type=int, default=800, help="connected rows to judge (default 800)")
        parser.add_argument("--llm-latency-ms", type=int, default=200, help="simulated LLM latency (default 200)")
        parser.add_argument("--concurrency", type=int, default=16, help="JUDGE_CONCURRENCY (default 16)")
        parser.add_argument("--keep", action="store_true", help="keep the benchmark organization and its data")
        parser.add_argument("--json", action="store_true", help="print JSON instead of a markdown table")

    def handle(self, *args, **options) -> None:
        if options["followups"] < 1 or options["concurrency"] < 1 or options["llm_latency_ms"] < 0:
            raise CommandError("--followups and --concurrency must be at least 1, --llm-latency-ms at least 0")
        result = judge.run(
            followups=options["followups"],
            latency_ms=options["llm_latency_ms"],
            concurrency=options["concurrency"],
            keep=options["keep"],
        )
        self.stdout.write(as_json(result) if options["json"] else judge.markdown(result))
