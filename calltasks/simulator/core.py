"""The simulator's state and its Python control surface (shared by the HTTP server and the handle)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from calltasks.provider import statuses as st
from calltasks.simulator import render
from calltasks.simulator.auth import Authenticator, NonceStore
from calltasks.simulator.campaign import CampaignStore, Job
from calltasks.simulator.clock import VirtualClock
from calltasks.simulator.dialogues import CATEGORY_CODES
from calltasks.simulator.fates import FateRates
from calltasks.simulator.faults import FaultInjector, FaultRule, make_rule
from calltasks.simulator.llm import LlmConfig, LlmSimulator
from calltasks.simulator.recordings import RecordingSigner
from calltasks.simulator.render import ms
from calltasks.simulator.wire import Request

DEFAULT_ACCESS_KEY_ID = "sim-access-key-id"
DEFAULT_ACCESS_KEY_SECRET = "sim-access-key-secret"
DEFAULT_INSTANCE_ID = "sim-instance"


@dataclass
class SimulatorConfig:
    host: str = "127.0.0.1"
    port: int = 0
    speed: float = 1.0
    seed: int = 0
    instant: bool = False
    access_key_id: str = DEFAULT_ACCESS_KEY_ID
    access_key_secret: str = DEFAULT_ACCESS_KEY_SECRET
    instance_id: str = DEFAULT_INSTANCE_ID
    start_time: float | None = None  # virtual epoch seconds at start; None = real now
    calling_numbers: list[str] = field(default_factory=lambda: ["057188880001", "057188880002"])
    llm_api_key: str | None = None
    llm_latency_ms: int = 0
    llm_failure_rate: float = 0.0
    recording_ttl_seconds: float = 600.0
    transcript_delay_rate: float = 0.05
    transcript_missing_rate: float = 0.01
    transcript_delay_minutes: tuple[float, float] = (5.0, 30.0)
    summary_rate: float = 0.85
    require_signature: bool = True


class SimulatorCore:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.stop_event = threading.Event()
        self.started_at = time.time()
        self.clock = VirtualClock(start=config.start_time, speed=config.speed)
        self.rates = FateRates(
            transcript_delay_rate=config.transcript_delay_rate,
            transcript_missing_rate=config.transcript_missing_rate,
            transcript_delay_minutes=config.transcript_delay_minutes,
            summary_rate=config.summary_rate,
        )
        self.store = CampaignStore(
            clock=self.clock, seed=config.seed, instant=config.instant, rates=self.rates, calling_numbers=list(config.calling_numbers)
        )
        self.store.instance_id = config.instance_id
        self.faults = FaultInjector(config.seed)
        self.nonces = NonceStore()
        self.authenticator = Authenticator({config.access_key_id: config.access_key_secret}, self.nonces)
        self.signer = RecordingSigner(f"{config.access_key_secret}-oss", config.recording_ttl_seconds)
        self.llm = LlmSimulator(
            clock=self.clock,
            faults=self.faults,
            config=LlmConfig(api_key=config.llm_api_key, latency_ms=config.llm_latency_ms, failure_rate=config.llm_failure_rate),
            seed=config.seed,
            stop_event=self.stop_event,
        )
        self.request_counts: Counter[str] = Counter()
        self.url = ""  # set by the server once bound

    # --- helpers for handlers ---------------------------------------------------------------------
    def sleep(self, seconds: float) -> None:
        """Sleep that ends early when the simulator stops."""
        if seconds > 0:
            self.stop_event.wait(seconds)

    def count_request(self, action: str) -> None:
        with self.lock:
            self.request_counts[action] += 1

    def base_url(self, request: Request) -> str:
        host = request.headers.get("host")
        return f"http://{host}" if host else self.url

    # --- clock ------------------------------------------------------------------------------------
    def advance(self, seconds: float) -> dict:
        with self.lock:
            self.clock.advance(seconds)
            return self.clock_state()

    def set_speed(self, speed: float) -> dict:
        with self.lock:
            self.clock.set_speed(speed)
            return self.clock_state()

    def set_time(self, epoch_seconds: float) -> dict:
        with self.lock:
            self.clock.set_time(epoch_seconds)
            return self.clock_state()

    def clock_state(self) -> dict:
        return {**self.clock.describe(), "instant": self.store.instant}

    # --- faults -----------------------------------------------------------------------------------
    def add_fault(self, action: str, kind: str, **options: object) -> FaultRule:
        return self.faults.add(make_rule(action, kind, **options))  # type: ignore[arg-type]

    def clear_faults(self) -> None:
        self.faults.clear()

    # --- outcomes ---------------------------------------------------------------------------------
    def script_outcomes(self, by_reference_id: dict | None = None, by_phone: dict | None = None) -> int:
        with self.lock:
            return self.store.script_outcomes(by_reference_id, by_phone)

    def configure_llm(self, *, api_key: object = ..., latency_ms: int | None = None, failure_rate: float | None = None) -> dict:
        config = self.llm.config
        if api_key is not ...:
            config.api_key = api_key or None  # type: ignore[assignment]
        if latency_ms is not None:
            config.latency_ms = max(0, int(latency_ms))
        if failure_rate is not None:
            if not 0 <= float(failure_rate) <= 1:
                raise ValueError("failure_rate must be within [0, 1]")
            config.failure_rate = float(failure_rate)
        return {"api_key_set": config.api_key is not None, "latency_ms": config.latency_ms, "failure_rate": config.failure_rate}

    def reset(self) -> None:
        with self.lock:
            self.store.reset()
            self.faults.clear()
            self.nonces.clear()
            self.request_counts.clear()

    # --- inspection -------------------------------------------------------------------------------
    def _jobs(self, job_group_id: str | None) -> list[Job]:
        store = self.store
        if job_group_id:
            group = store.groups.get(job_group_id)
            if group is None:
                raise KeyError(job_group_id)
            store.advance_group(group)
            return list(group.jobs)
        store.advance_all()
        return [job for group in store.groups.values() for job in group.jobs]

    def prepare_transcripts(self, job_group_id: str | None = None) -> int:
        """Write now the dialogue of every connected call whose transcript is available (the simulator
        otherwise writes it on the first answer that shows it). A provider has its transcripts before
        anyone asks; benchmarks call this so that a timed pass does not pay for the dialogue generator."""
        with self.lock:
            now = self.clock.now()
            written = 0
            for job in self._jobs(job_group_id):
                attempt = job.connected_attempt
                if attempt is not None and attempt.conversation is None and job.transcript_available(now):
                    render.conversation(self.store, job, attempt, now)
                    written += 1
            return written

    def ground_truth(self, job_group_id: str | None = None) -> list[dict]:
        with self.lock:
            now = self.clock.now()
            return [self._job_truth(job, now) for job in self._jobs(job_group_id)]

    def _job_truth(self, job: Job, now: float) -> dict:
        connected = job.connected_attempt is not None
        fate = job.fate
        return {
            "job_id": job.job_id,
            "job_group_id": job.group_id,
            "reference_id": job.reference_id,
            "phone": job.phone,
            "name": job.name,
            "status": job.status,
            "failure_reason": job.failure_reason,
            "final": job.final,
            "connected": connected,
            "interest": fate.interest if connected else None,
            "is_interested": CATEGORY_CODES[fate.interest] if connected else None,
            "time_phrase": fate.time_phrase if connected else None,
            "has_transcript": job.transcript_available(now),
            "transcript": fate.transcript if connected else None,
            "transcript_ready_at": ms(job.transcript_ready_at),
            "summary": bool(fate.summary and connected),
            "scripted": fate.scripted,
            "planned_attempts": list(fate.attempts),
            "next_event_at": ms(job.next_event_at),
            "attempts": [
                {
                    "task_id": a.task_id,
                    "status": a.status,
                    "connected": a.connected,
                    "planed_time": ms(a.planed_time),
                    "actual_time": ms(a.actual_time),
                    "end_time": ms(a.end_time),
                    "duration": a.talk_s if a.connected else 0,
                }
                for a in job.attempts
            ],
        }

    def stats(self, job_group_id: str | None = None) -> dict:
        with self.lock:
            now = self.clock.now()
            jobs = self._jobs(job_group_id)
            by_status = Counter(job.status for job in jobs)
            attempts = Counter(a.status for job in jobs for a in job.attempts)
            connected = [job for job in jobs if job.connected_attempt is not None]
            decided = by_status[st.JOB_SUCCEEDED] + by_status[st.JOB_FAILED]
            transcripts = Counter(
                "available" if job.transcript_available(now) else ("never" if job.transcript_ready_at is None else "pending")
                for job in connected
            )
            return {
                "job_group_id": job_group_id,
                "groups": 1 if job_group_id else len(self.store.groups),
                "jobs_total": len(jobs),
                "jobs_final": sum(1 for job in jobs if job.final),
                "jobs_by_status": dict(by_status),
                "attempts_total": sum(attempts.values()),
                "attempts_by_status": dict(attempts),
                "connected_jobs": len(connected),
                "connected_rate": round(len(connected) / decided, 4) if decided else 0.0,
                "failure_reasons": dict(Counter(job.failure_reason for job in jobs if job.failure_reason)),
                "interest": dict(Counter(job.fate.interest for job in connected)),
                "transcripts": dict(transcripts),
                "requests": dict(self.request_counts) if not job_group_id else {},
                "clock": self.clock_state(),
            }
