"""Campaign state: job groups, jobs and call attempts, advanced lazily on a virtual clock.

Every request first advances the groups it touches to "now" (under the simulator's one lock), so
the outcome is deterministic and the cost is proportional to the events that happened, not to the
number of jobs. Each job's timeline depends only on its fate, the strategy and the control actions
applied to it; jobs never interact, so request order never changes a job's fate.
"""

from __future__ import annotations

import heapq
import itertools
import random
import uuid
from dataclasses import dataclass, field

from calltasks.provider import statuses as st
from calltasks.simulator.clock import VirtualClock
from calltasks.simulator.fates import (
    FAILURE_REASON_BY_STATUS,
    SILENT_STATUSES,
    TERMINAL_NOT_CONNECTED,
    TRANSCRIPT_NEVER,
    Fate,
    FateRates,
    default_fate,
    fate_seed,
    is_connected_status,
    scripted_fate,
)
from calltasks.simulator.strategy import RecallStrategy, Strategy, local_day, next_dial_time

PHASE_WAITING = "waiting"  # Scheduling: an attempt is planned at next_event_at
PHASE_CALLING = "calling"  # Executing: the current attempt ends at next_event_at
PHASE_IDLE = "idle"  # Paused (no event) or final

END_REASONS = {
    "SucceededFinish": "FINISHED",
    "SucceededChatbotHangUpAfterNoAnswer": "CHATBOT_HANGUP_AFTER_NOANSWER",
    "SucceededChatbotHangUpAfterSilence": "CHATBOT_HANGUP_AFTER_SILENCE",
    "SucceededClientHangUpAfterNoAnswer": "CLIENT_HANGUP_AFTER_NOANSWER",
    "SucceededClientHangUp": "CLIENT_HANGUP",
    "SucceededTransferByIntent": "TRANSFER_BY_INTENT",
    "SucceededTransferAfterNoAnswer": "TRANSFER_AFTER_NOANSWER",
    "SucceededInoInterAction": "INO_INTERACTION",
    "SucceededError": "ERROR",
    "SucceededSpecialInterceptVoiceAssistant": "SPECIAL_INTERCEPT_VOICE_ASSISTANT",
    "SucceededSpecialInterceptExtensionNumberTransfer": "SPECIAL_INTERCEPT_EXTENSION_NUMBER_TRANSFER",
    "SucceededSpecialInterceptCustomSpecialIntercept": "FINISHED",
}
_RING_SECONDS = {"NoAnswer": (25, 45), "Busy": (2, 6), "PoweredOff": (2, 8), "NotConnected": (5, 15)}


@dataclass
class CallAttempt:
    task_id: str
    job_id: str
    index: int
    outcome: str  # the status the attempt ends with
    planed_time: float
    actual_time: float | None
    ring_s: int
    talk_s: int
    status: str = "Executing"
    end_time: float | None = None
    calling_number: str = ""
    conversation: list[dict] | None = None  # generated on first read
    recording_name: str | None = None

    @property
    def connected(self) -> bool:
        return is_connected_status(self.status)

    @property
    def hang_up_direction(self) -> str:
        return "client" if "ClientHangUp" in self.status else "ivr"

    @property
    def end_reason(self) -> str:
        return END_REASONS.get(self.status, "")


@dataclass
class Job:
    job_id: str
    group_id: str
    seq: int
    key: str  # fate key: referenceId, else phone
    reference_id: str
    phone: str
    name: str
    contact: dict
    extras: list[dict]
    fate: Fate
    created_at: float
    strategy: Strategy | None = None
    status: str = st.JOB_SCHEDULING
    failure_reason: str = ""
    phase: str = PHASE_WAITING
    next_event_at: float | None = None
    planned_at: float | None = None
    version: int = 0
    pause_requested: bool = False
    resume_not_before: float | None = None
    attempts: list[CallAttempt] = field(default_factory=list)
    attempts_by_day: dict[str, int] = field(default_factory=dict)
    dialled: int = 0
    connected_attempt: CallAttempt | None = None
    transcript_ready_at: float | None = None
    final_at: float | None = None

    @property
    def final(self) -> bool:
        return self.status in st.JOB_FINAL_STATUSES

    @property
    def latest(self) -> CallAttempt | None:
        return self.attempts[-1] if self.attempts else None

    def transcript_available(self, now: float) -> bool:
        return self.transcript_ready_at is not None and now >= self.transcript_ready_at

    def extra_value(self, *names: str) -> str:
        for item in self.extras:
            if str(item.get("key", "")).lower() in names:
                return str(item.get("value") or "")
        return ""


@dataclass
class JobGroup:
    group_id: str
    name: str
    description: str
    script_id: str
    calling_numbers: list[str]
    recall_calling_numbers: list[str]
    strategy: Strategy
    recall: RecallStrategy
    ringing_duration: int
    priority: str
    min_concurrency: int
    created_at: float
    modified_at: float
    jobs: list[Job] = field(default_factory=list)
    heap: list[tuple[float, int, int]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(st.JOB_STATUS_CODES, 0)
        for job in self.jobs:
            counts[job.status] += 1
        return counts

    def status(self) -> str:
        counts = self.counts()
        total = len(self.jobs)
        if not total:
            return "Scheduling"
        if counts[st.JOB_EXECUTING]:
            return "Executing"
        if counts[st.JOB_SCHEDULING]:
            return "Scheduling"
        if counts[st.JOB_PAUSED]:
            return "Paused"
        if counts[st.JOB_CANCELLED] == total:
            return "Cancelled"
        return "Completed"


class CampaignStore:
    """All campaign state. Not locked itself: the simulator holds its one lock around every call."""

    def __init__(self, *, clock: VirtualClock, seed: int, instant: bool, rates: FateRates, calling_numbers: list[str]):
        self.clock = clock
        self.seed = seed
        self.instant = instant
        self.rates = rates
        self.default_calling_numbers = calling_numbers
        self.instance_id = ""
        self.groups: dict[str, JobGroup] = {}
        self.jobs: dict[str, Job] = {}
        self.attempts: dict[str, tuple[Job, CallAttempt]] = {}
        self.recordings: dict[str, str] = {}  # file name -> task id
        self.scripts_by_reference: dict[str, dict] = {}
        self.scripts_by_phone: dict[str, dict] = {}
        self._seq = itertools.count()

    # --- creation -------------------------------------------------------------------------------
    def create_group(self, **fields: object) -> JobGroup:
        now = self.clock.now()
        group = JobGroup(group_id=str(uuid.uuid4()), created_at=now, modified_at=now, **fields)  # type: ignore[arg-type]
        if not group.calling_numbers:
            group.calling_numbers = list(self.default_calling_numbers)
        self.groups[group.group_id] = group
        return group

    def add_job(self, group: JobGroup, contact: dict, extras: list[dict], strategy: Strategy | None) -> Job:
        now = self.clock.now()
        phone = str(contact.get("phoneNumber", "")).strip()
        reference_id = str(contact.get("referenceId") or "")
        key = reference_id or phone
        seq = len(group.jobs)
        job = Job(
            job_id=str(uuid.uuid4()),
            group_id=group.group_id,
            seq=seq,
            key=key,
            reference_id=reference_id,
            phone=phone,
            name=str(contact.get("name") or ""),
            contact=contact,
            extras=extras,
            fate=self._fate_for(key, reference_id, phone),
            created_at=now,
            strategy=strategy,
        )
        group.jobs.append(job)
        self.jobs[job.job_id] = job
        self._schedule_dial(group, job, now + job.fate.first_delay_s)
        return job

    def _fate_for(self, key: str, reference_id: str, phone: str) -> Fate:
        spec = self.scripts_by_reference.get(reference_id) if reference_id else None
        if spec is None:
            spec = self.scripts_by_phone.get(phone)
        if spec is not None:
            return scripted_fate(self.seed, key, spec, self.rates)
        return default_fate(self.seed, key, self.rates)

    def script_outcomes(self, by_reference_id: dict | None, by_phone: dict | None) -> int:
        """Store scripted fates (validated first); existing unfinished jobs take them for later attempts."""
        by_reference_id = by_reference_id or {}
        by_phone = by_phone or {}
        for key, spec in itertools.chain(by_reference_id.items(), by_phone.items()):
            scripted_fate(self.seed, str(key), spec, self.rates)  # raises ScriptError
        self.scripts_by_reference.update({str(k): v for k, v in by_reference_id.items()})
        self.scripts_by_phone.update({str(k): v for k, v in by_phone.items()})
        touched = 0
        for job in self.jobs.values():
            if job.final:
                continue
            if (job.reference_id and job.reference_id in by_reference_id) or job.phone in by_phone:
                job.fate = self._fate_for(job.key, job.reference_id, job.phone)
                touched += 1
        return touched

    # --- time -----------------------------------------------------------------------------------
    def advance_group(self, group: JobGroup, now: float | None = None) -> None:
        now = self.clock.now() if now is None else now
        heap = group.heap
        limit = float("inf") if self.instant else now
        while heap and heap[0][0] <= limit:
            at, seq, version = heapq.heappop(heap)
            job = group.jobs[seq]
            if job.version != version or job.next_event_at is None:
                continue
            if job.phase == PHASE_WAITING:
                self._dial(group, job, at)
            elif job.phase == PHASE_CALLING:
                self._end_call(group, job, at)

    def advance_all(self) -> None:
        now = self.clock.now()
        for group in self.groups.values():
            self.advance_group(group, now)

    def _set_event(self, group: JobGroup, job: Job, at: float | None) -> None:
        job.version += 1
        job.next_event_at = at
        if at is not None:
            heapq.heappush(group.heap, (at, job.seq, job.version))

    def _effective_strategy(self, group: JobGroup, job: Job) -> Strategy:
        strategy = job.strategy or group.strategy
        if self.instant:  # instant mode: no windows or start/end, attempts and spacing as configured
            return Strategy(
                max_attempts_per_day=strategy.max_attempts_per_day,
                min_attempt_interval_minutes=strategy.min_attempt_interval_minutes,
            )
        return strategy

    def _schedule_dial(self, group: JobGroup, job: Job, earliest: float) -> None:
        if job.fate.exact and job.dialled >= len(job.fate.attempts):
            self._fail(group, job, earliest, "exhausted")
            return
        at, reason = next_dial_time(self._effective_strategy(group, job), earliest, job.attempts_by_day, job.dialled)
        if at is None:
            self._fail(group, job, earliest, reason or "exhausted")
            return
        job.phase = PHASE_WAITING
        job.status = st.JOB_SCHEDULING
        job.planned_at = at
        self._set_event(group, job, at)

    def _dial(self, group: JobGroup, job: Job, at: float) -> None:
        index = job.dialled
        outcome = job.fate.outcome(index)
        rng = random.Random(fate_seed(self.seed, job.key, f"attempt-{index}"))
        if is_connected_status(outcome):
            ring = rng.randint(3, 15)
            talk = rng.randint(8, 20) if outcome in SILENT_STATUSES else job.fate.duration(index)
        else:
            low, high = _RING_SECONDS.get(outcome, (1, 5))
            ring, talk = rng.randint(low, high), 0
        numbers = group.calling_numbers or self.default_calling_numbers
        attempt = CallAttempt(
            task_id=str(uuid.uuid4()),
            job_id=job.job_id,
            index=index,
            outcome=outcome,
            planed_time=job.planned_at or at,
            actual_time=at,
            ring_s=ring,
            talk_s=talk,
            calling_number=numbers[index % len(numbers)] if numbers else "",
        )
        job.attempts.append(attempt)
        self.attempts[attempt.task_id] = (job, attempt)
        job.dialled += 1
        day = local_day(at)
        job.attempts_by_day[day] = job.attempts_by_day.get(day, 0) + 1
        job.phase = PHASE_CALLING
        job.status = st.JOB_EXECUTING
        self._set_event(group, job, at + ring + talk)

    def _end_call(self, group: JobGroup, job: Job, at: float) -> None:
        attempt = job.attempts[-1]
        attempt.status = attempt.outcome
        attempt.end_time = at
        if attempt.connected:
            attempt.recording_name = f"{uuid.uuid4()}.wav"
            self.recordings[attempt.recording_name] = attempt.task_id
            job.connected_attempt = attempt
            if job.fate.transcript != TRANSCRIPT_NEVER:
                job.transcript_ready_at = at + job.fate.transcript_delay_s
            self._finish(group, job, at, st.JOB_SUCCEEDED, "")
            return
        recall = group.recall
        status = attempt.status
        if (
            status in TERMINAL_NOT_CONNECTED
            or (status == "OutOfService" and recall.out_of_service_ignore)
            or (status == "InArrears" and recall.in_arrears_ignore)
        ):
            self._finish(group, job, at, st.JOB_FAILED, FAILURE_REASON_BY_STATUS.get(status, "CallFailed"))
            return
        strategy = self._effective_strategy(group, job)
        earliest = at + strategy.min_attempt_interval_minutes * 60
        if job.pause_requested:
            job.pause_requested = False
            self._pause_now(group, job, earliest)
            return
        self._schedule_dial(group, job, earliest)

    def _fail(self, group: JobGroup, job: Job, at: float, reason: str) -> None:
        if reason == "exhausted":
            last = job.latest
            reason = FAILURE_REASON_BY_STATUS.get(last.status, "NoAnswer") if last else "NoneRepeatableJobMaxAttemptCountLimit"
        self._finish(group, job, at, st.JOB_FAILED, reason)

    def _finish(self, group: JobGroup, job: Job, at: float, status: str, reason: str) -> None:
        job.status = status
        job.failure_reason = reason
        job.phase = PHASE_IDLE
        job.final_at = at
        job.pause_requested = False
        self._set_event(group, job, None)

    def _pause_now(self, group: JobGroup, job: Job, resume_not_before: float | None) -> None:
        job.phase = PHASE_IDLE
        job.status = st.JOB_PAUSED
        job.resume_not_before = resume_not_before
        self._set_event(group, job, None)

    # --- control actions (the caller advanced the groups first) ----------------------------------
    def suspend(self, jobs: list[Job]) -> int:
        changed = 0
        for job in jobs:
            group = self.groups[job.group_id]
            if job.final or job.status == st.JOB_PAUSED:
                continue
            if job.phase == PHASE_CALLING:
                job.pause_requested = True  # the call in progress finishes; no new attempt
            else:
                self._pause_now(group, job, job.next_event_at)
            changed += 1
        return changed

    def resume(self, jobs: list[Job]) -> int:
        now = self.clock.now()
        changed = 0
        for job in jobs:
            group = self.groups[job.group_id]
            if job.pause_requested:
                job.pause_requested = False
                changed += 1
            elif job.status == st.JOB_PAUSED:
                self._schedule_dial(group, job, max(now, job.resume_not_before or now))
                changed += 1
        return changed

    def cancel(self, jobs: list[Job]) -> int:
        now = self.clock.now()
        changed = 0
        for job in jobs:
            group = self.groups[job.group_id]
            if job.final:
                continue
            if job.phase == PHASE_CALLING:
                attempt = job.attempts[-1]
                attempt.status = "Cancelled"
                attempt.end_time = now
                attempt.talk_s = 0
            else:
                planned = job.next_event_at or job.resume_not_before or now
                attempt = CallAttempt(
                    task_id=str(uuid.uuid4()),
                    job_id=job.job_id,
                    index=job.dialled,
                    outcome="Terminated",
                    planed_time=planned,
                    actual_time=None,
                    ring_s=0,
                    talk_s=0,
                    status="Terminated",
                    end_time=now,
                )
                job.attempts.append(attempt)
                self.attempts[attempt.task_id] = (job, attempt)
            self._finish(group, job, now, st.JOB_CANCELLED, "")
            changed += 1
        return changed

    def reset(self) -> None:
        self.groups.clear()
        self.jobs.clear()
        self.attempts.clear()
        self.recordings.clear()
        self.scripts_by_reference.clear()
        self.scripts_by_phone.clear()
