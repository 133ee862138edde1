"""``manage.py bench_api``: p50/p95/p99 and requests/s of two read endpoints under gunicorn (issue 7)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench import api_load
from bench.common import as_json


class Command(BaseCommand):
    help = "Benchmark GET /task_followup_records/{id} and POST /query-task-execution under gunicorn on loopback."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--leads", type=int, default=10000, help="lead rows of the task (default 10000)")
        parser.add_argument("--clients", default="1,16", help="comma-separated concurrency levels (default 1,16)")
        parser.add_argument("--requests", type=int, default=300, help="requests per endpoint and level (default 300)")
        parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers (default 3)")
        parser.add_argument("--base-url", default=None, help="measure a server already running instead of gunicorn")
        parser.add_argument("--keep", action="store_true", help="keep the benchmark organization and its data")
        parser.add_argument("--json", action="store_true", help="print JSON instead of a markdown table")

    def handle(self, *args, **options) -> None:
        try:
            clients = tuple(int(part) for part in options["clients"].split(",") if part.strip())
        except ValueError:
            raise CommandError("--clients must be comma-separated integers, e.g. 1,16")
        if not clients or min(clients) < 1 or options["leads"] < 1 or options["requests"] < 1:
            raise CommandError("--clients, --leads and --requests must be at least 1")
        result = api_load.run(
            leads=options["leads"],
            clients=clients,
            requests_per_level=options["requests"],
            workers=options["workers"],
            base_url=options["base_url"],
            keep=options["keep"],
        )
        self.stdout.write(as_json(result) if options["json"] else api_load.markdown(result))
