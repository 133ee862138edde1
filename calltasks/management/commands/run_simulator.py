"""``manage.py run_simulator``: the OutboundBot + LLM simulator on loopback until SIGINT/SIGTERM."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from calltasks.simulator.faults import FaultError, parse_cli_fault
from calltasks.simulator.server import start_simulator


class Command(BaseCommand):
    help = "Serve the Alibaba OutboundBot 2019-12-26 + OpenAI-compatible LLM simulator (development tool)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=getattr(settings, "SIMULATOR_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=getattr(settings, "SIMULATOR_PORT", 8765))
        parser.add_argument("--speed", type=float, default=1.0, help="virtual seconds per real second (default 1)")
        parser.add_argument("--seed", type=int, default=0, help="seed of every job's fate (default 0)")
        parser.add_argument("--instant", action="store_true", help="every assigned job finishes on the next read")
        parser.add_argument("--start-time", default=None, help="virtual start, ISO (naive = Asia/Shanghai); default now")
        parser.add_argument("--llm-api-key", default=None, help="require this bearer key (default: any non-empty key)")
        parser.add_argument("--llm-latency-ms", type=int, default=0)
        parser.add_argument("--llm-failure-rate", type=float, default=0.0)
        parser.add_argument("--recording-ttl", type=float, default=600.0, help="recording URL lifetime in seconds")
        parser.add_argument("--transcript-delay-rate", type=float, default=0.05)
        parser.add_argument("--transcript-missing-rate", type=float, default=0.01)
        parser.add_argument(
            "--fault",
            action="append",
            default=[],
            metavar="ACTION:KIND[:count|rate[:seconds]]",
            help="inject a fault, e.g. AssignJobs:commit_timeout:1:20, *:throttle:0.1, llm:quirks:0.5 (repeatable)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            faults = [parse_cli_fault(text) for text in options["fault"]]
        except FaultError as error:
            raise CommandError(str(error))
        if not 0 <= options["llm_failure_rate"] <= 1:
            raise CommandError("--llm-failure-rate must be within [0, 1]")
        try:
            handle = start_simulator(
                host=options["host"],
                port=options["port"],
                speed=options["speed"],
                seed=options["seed"],
                instant=options["instant"],
                start_time=options["start_time"],
                llm_api_key=options["llm_api_key"],
                llm_latency_ms=options["llm_latency_ms"],
                llm_failure_rate=options["llm_failure_rate"],
                recording_ttl_seconds=options["recording_ttl"],
                transcript_delay_rate=options["transcript_delay_rate"],
                transcript_missing_rate=options["transcript_missing_rate"],
                faults=faults,
            )
        except OSError as error:
            raise CommandError(f"cannot listen on {options['host']}:{options['port']}: {error}")
        stop = threading.Event()

        def _stop(signum: int, frame: object) -> None:
            stop.set()

        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
        mode = "instant" if options["instant"] else f"speed x{options['speed']:g}"
        self.stdout.write(f"OutboundBot simulator listening on {handle.url} ({mode}, seed {options['seed']})")
        self.stdout.write(f"  RPC:     {handle.url}/   instance {handle.instance_id}, key {handle.access_key_id}")
        self.stdout.write(f"  LLM:     {handle.llm_base_url}")
        self.stdout.write(f"  Control: {handle.url}/_sim/health")
        for rule in faults:
            self.stdout.write(f"  Fault:   {rule.target} {rule.kind} count={rule.count} rate={rule.rate}")
        self.stdout.flush()
        try:
            while not stop.wait(0.5):
                pass
        finally:
            handle.stop()
            self.stdout.write("simulator stopped")
