"""Writing follow-up records (SPEC §4 "Follow-ups", §6).

Rules that hold everywhere in this module:

- The judge (HTTP to the LLM) runs outside any transaction and never in a thread that touches the ORM;
  worker threads get plain data and return a :class:`JudgeResult`, the calling thread does the writes.
- "One follow-up per task row" is enforced by the database (``FollowUp.lead_task`` is unique), not by a
  check-then-insert: a concurrent loser gets an IntegrityError inside a savepoint and backs off.
- The follow-up and its link on the row (``leads_follow_id`` + ``is_interested``, a compare-and-set on
  ``leads_follow IS NULL``) are written in one short transaction, so a follow-up is never left orphaned.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Min, OuterRef, Q, Subquery
from django.utils import timezone, translation

from calltasks.models import LeadTask
from calltasks.provider import statuses
from dcc_project import jsonrows
from followups.judge import JUDGE_DEFAULT, JUDGE_LLM, JUDGE_RULES, JudgeResult, judge_conversation, llm_enabled
from followups.llm import LLMClient
from followups.models import FollowUp
from followups.prompts import normalize_turns

logger = logging.getLogger(__name__)

REMARK_NO_TRANSCRIPT = "已接通，无对话记录"
REMARK_NOT_CONNECTED = "未接通：{label}"

#: Failure reasons the product itself sets on rows that end without a provider outcome (SPEC §3).
PRODUCT_FINAL_REASONS = frozenset({statuses.REASON_NOT_ASSIGNED, statuses.REASON_TIMEOUT, statuses.REASON_CANCELLED})
#: Rows written per bulk transaction (keeps SQL parameters and lock time bounded).
BULK_CHUNK = 500
#: Longest a finished verdict waits in memory before it is written (judged rows are written in bulk).
JUDGED_FLUSH_SECONDS = 2.0

# Chinese labels for remarks (CRM data, always Chinese). Used when no zh-hans translation catalog
# provides one; the catalog, when present, wins (see _chinese_label).
_ZH_LABELS = {
    "Scheduling": "调度中",
    "Executing": "呼叫中",
    "Succeeded": "已接通",
    "Paused": "已暂停",
    "Failed": "呼叫失败",
    "Cancelled": "已取消",
    "Drafted": "草稿",
    "Connected": "已接通",
    "NoAnswer": "无人接听",
    "NotExist": "空号",
    "Busy": "占线",
    "NotConnected": "无法接通",
    "PoweredOff": "关机",
    "OutOfService": "停机",
    "InArrears": "欠费",
    "EmptyNumber": "号码为空，未呼叫",
    "PerDayCallCountLimit": "超过每日呼叫次数限制，未呼叫",
    "ContactBlockList": "号码在黑名单中，未呼叫",
    "CallerNotRegistered": "主叫号码未登记",
    "Terminated": "已终止，未呼叫",
    "VerificationCancelled": "呼叫前校验未通过",
    "OutOfServiceNoCall": "停机，未呼叫",
    "InArrearsNoCall": "欠费，未呼叫",
    "CallingNumberNotExist": "主叫号码不存在",
    "HighRiskSipCode": "高风险号码，未呼叫",
    "Unknown": "未知原因",
    "InvalidStrategy": "外呼策略无效",
    "NoStrategy": "无外呼策略",
    "TimeUp": "超出外呼时间窗口",
    "CallFailed": "呼叫失败",
    "JobPerDayCallCountLimit": "该号码今日呼叫次数已达上限",
    "ContactSuspended": "联系人已暂停",
    "NoneRepeatableJobMaxAttemptCountLimit": "已达最大呼叫次数",
    statuses.REASON_NOT_ASSIGNED: "外呼平台未受理",
    statuses.REASON_TIMEOUT: "任务截止时仍未完成呼叫",
    statuses.REASON_CANCELLED: "任务已取消，未呼叫",
}


@dataclass
class FollowupBatchResult:
    created: int = 0
    skipped: int = 0
    waiting_for_transcript: int = 0
    judged_llm: int = 0
    judged_rules: int = 0
    judged_default: int = 0

    def count_judge(self, judge: str) -> None:
        if judge == JUDGE_LLM:
            self.judged_llm += 1
        elif judge == JUDGE_RULES:
            self.judged_rules += 1
        elif judge == JUDGE_DEFAULT:
            self.judged_default += 1


class FollowupNotRejudgeable(ValueError):
    """The follow-up has no connected task row with a transcript to judge."""


# --- labels ----------------------------------------------------------------------------------------


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _chinese_label(code: str, translated: str) -> str:
    if _has_cjk(translated):
        return translated
    return _ZH_LABELS.get(code, translated or code)


def not_connected_label(*, call_status: str, last_task_status: str, failure_reason: str) -> str:
    """The Chinese reason a row was not connected: product reason, then call status, then provider reason."""
    with translation.override("zh-hans"):
        if failure_reason in PRODUCT_FINAL_REASONS:
            return _chinese_label(failure_reason, statuses.failure_reason_label(failure_reason))
        if last_task_status and not statuses.is_connected(last_task_status):
            return _chinese_label(last_task_status, statuses.status_label(last_task_status))
        if failure_reason:
            return _chinese_label(failure_reason, statuses.failure_reason_label(failure_reason))
        return _chinese_label(call_status or "Failed", statuses.status_label(call_status or statuses.JOB_FAILED))


def not_connected_result(*, call_status: str, last_task_status: str, failure_reason: str) -> JudgeResult:
    label = not_connected_label(
        call_status=call_status, last_task_status=last_task_status, failure_reason=failure_reason
    )
    return JudgeResult(REMARK_NOT_CONNECTED.format(label=label), 0, None, FollowUp.Judge.NONE)


def no_transcript_result() -> JudgeResult:
    return JudgeResult(REMARK_NO_TRANSCRIPT, 0, None, FollowUp.Judge.NONE)


# --- classification of rows (pure, no ORM) ----------------------------------------------------------


def _has_transcript(conversation: Any) -> bool:
    return bool(normalize_turns(conversation))


def _is_connected_row(row: dict[str, Any]) -> bool:
    if row["call_status"] in (statuses.JOB_FAILED, statuses.JOB_CANCELLED) and not row["is_connected"]:
        return False
    if row["failure_reason"] in PRODUCT_FINAL_REASONS and not row["is_connected"]:
        return False
    return bool(row["is_connected"]) or row["call_status"] == statuses.JOB_SUCCEEDED


def _final_rows_filter() -> Q:
    """Rows with a final outcome: a final provider job status, a product reason, or marked final by the sync."""
    return (
        Q(call_status__in=statuses.JOB_FINAL_STATUSES)
        | Q(failure_reason__in=PRODUCT_FINAL_REASONS)
        | Q(final_at__isnull=False)
    )


_ROW_FIELDS = (
    "id",
    "lead_id",
    "call_status",
    "last_task_status",
    "is_connected",
    "failure_reason",
    "final_at",
    "updated_time",
    "call_conversation",
    "summary",
    "leads_name",
    "lead__leads_product",
)


# --- one row -----------------------------------------------------------------------------------------


def _first_follow_times(lead_ids: Iterable[int] | None = None, *, task_id: int | None = None) -> dict[int, datetime]:
    """Earliest known follow-up time per lead (first_follow_time, else follow_time), one query."""
    qs = FollowUp.objects.all()
    if task_id is not None:
        qs = qs.filter(lead_id__in=LeadTask.objects.filter(task_id=task_id, lead__isnull=False).values("lead_id"))
    else:
        qs = qs.filter(lead_id__in=list(lead_ids or []))
    earliest: dict[int, datetime] = {}
    for item in qs.values("lead_id").annotate(first=Min("first_follow_time"), follow=Min("follow_time")):
        candidates = [t for t in (item["first"], item["follow"]) if t is not None]
        if candidates:
            earliest[item["lead_id"]] = min(candidates)
    return earliest


def _followup_values(
    *, row_id: int, lead_id: int, result: JudgeResult, source: str, now: datetime, first: datetime | None
) -> dict[str, Any]:
    """Every column of a new follow-up (by attname), as ``FollowUp(**values)`` or a JSON bulk insert takes it."""
    judge = str(result.judge)
    return {
        "lead_id": lead_id,
        "lead_task_id": row_id,
        "follow_time": now,
        "leads_remark": result.leads_remark[:1000],
        "first_follow_time": min(first, now) if first else now,
        "new_follow_time": now,
        "next_follow_time": result.next_follow_time,
        "is_arrive": False,
        "first_arrive_time": None,
        "is_interested": result.is_interested,
        "source": source,
        "judge": judge,
        "judged_at": now if judge != FollowUp.Judge.NONE else None,
        "created_at": now,
        "updated_time": now,
    }


FOLLOWUP_INSERT_FIELDS = [
    "lead",
    "lead_task",
    "follow_time",
    "leads_remark",
    "first_follow_time",
    "new_follow_time",
    "next_follow_time",
    "is_arrive",
    "first_arrive_time",
    "is_interested",
    "source",
    "judge",
    "judged_at",
    "created_at",
    "updated_time",
]


def _new_followup(
    *, row_id: int, lead_id: int, result: JudgeResult, source: str, now: datetime, first: datetime | None
) -> FollowUp:
    return FollowUp(
        **_followup_values(row_id=row_id, lead_id=lead_id, result=result, source=source, now=now, first=first)
    )


def followup_create_for_row(
    *, lead_task_id: int, result: JudgeResult, source: str = FollowUp.Source.AI_CALL, now: datetime | None = None
) -> FollowUp | None:
    """Create the follow-up of one task row and link it, in one short transaction.

    Returns None (and writes nothing) when the row is gone, has no lead, already has a follow-up, or a
    concurrent writer won the race (the unique ``lead_task`` constraint decides; the loser's insert is
    rolled back in a savepoint, so it never leaves an orphan).
    """
    now = now or timezone.now()
    with transaction.atomic():
        row = LeadTask.objects.filter(pk=lead_task_id).values("id", "lead_id", "leads_follow_id").first()
        if row is None or row["lead_id"] is None or row["leads_follow_id"] is not None:
            return None
        first = _first_follow_times([row["lead_id"]]).get(row["lead_id"])
        followup = _new_followup(
            row_id=row["id"], lead_id=row["lead_id"], result=result, source=source, now=now, first=first
        )
        try:
            with transaction.atomic():
                followup.save(force_insert=True)
        except IntegrityError:
            # Someone else wrote this row's follow-up first. Make sure it is linked (repairs a row
            # whose link was lost) and back off.
            _link_existing(lead_task_ids=[row["id"]])
            return None
        linked = LeadTask.objects.filter(pk=row["id"], leads_follow__isnull=True).update(
            leads_follow=followup, is_interested=result.is_interested
        )
        if not linked:
            # The row got another follow-up meanwhile: undo our insert, no orphan.
            transaction.set_rollback(True)
            return None
    return followup


def _link_existing(*, lead_task_ids: list[int]) -> int:
    """Link rows still without ``leads_follow`` to the follow-up that names them (one UPDATE)."""
    existing = FollowUp.objects.filter(lead_task_id=OuterRef("pk"))
    return LeadTask.objects.filter(pk__in=lead_task_ids, leads_follow__isnull=True, follow_up__isnull=False).update(
        leads_follow_id=Subquery(existing.values("id")[:1]),
        is_interested=Subquery(existing.values("is_interested")[:1]),
    )


def _link_created(links: list[tuple[int, int, int | None]]) -> int:
    """Link each row to the follow-up just inserted for it: ONE ``UPDATE … FROM`` a JSON array of (row id,
    follow-up id, interest), compare-and-set on ``leads_follow IS NULL``. Returns the rows linked.

    Cheaper than :func:`_link_existing`'s two correlated subqueries per row; needs the ids the insert
    returns (SQLite and PostgreSQL).
    """
    rows = [
        {"id": row_id, "leads_follow_id": followup_id, "is_interested": interest}
        for row_id, followup_id, interest in links
    ]
    return jsonrows.update(LeadTask, ["leads_follow", "is_interested"], rows, only_null=["leads_follow"])


def _insert_followups(values: list[dict[str, Any]]) -> int:
    """Insert the follow-ups and link their rows; returns the rows linked.

    SQLite and PostgreSQL: one ``INSERT … SELECT FROM <JSON array> RETURNING id, lead_task_id`` and one
    linking ``UPDATE`` — no model instance per follow-up. Elsewhere ``bulk_create`` and the subquery link.
    """
    if jsonrows.supported():
        returned = jsonrows.insert(FollowUp, FOLLOWUP_INSERT_FIELDS, values, returning=("id", "lead_task"))
        interest = {value["lead_task_id"]: value["is_interested"] for value in values}
        return _link_created([(row_id, followup_id, interest[row_id]) for followup_id, row_id in returned])
    FollowUp.objects.bulk_create([FollowUp(**value) for value in values])
    return _link_existing(lead_task_ids=[value["lead_task_id"] for value in values])


def _bulk_write(
    rows: list[tuple[dict[str, Any], JudgeResult]], *, now: datetime, first_times: dict[int, datetime]
) -> list[tuple[dict[str, Any], JudgeResult]]:
    """Write the follow-ups of many rows at once; return the (row, verdict) pairs actually written.

    Per chunk: one INSERT of all follow-ups in a savepoint, one UPDATE linking them (compare-and-set on
    ``leads_follow IS NULL``), and only if some rows were linked by someone else meanwhile, one DELETE of
    our now-unlinked follow-ups. If the INSERT hits the unique constraint (another process is writing
    the same rows), that chunk falls back to the per-row path, which resolves each row's race.
    """
    written: list[tuple[dict[str, Any], JudgeResult]] = []
    for start in range(0, len(rows), BULK_CHUNK):
        chunk = rows[start : start + BULK_CHUNK]
        ids = [row["id"] for row, _result in chunk]
        values = [
            _followup_values(
                row_id=row["id"],
                lead_id=row["lead_id"],
                result=result,
                source=FollowUp.Source.AI_CALL,
                now=now,
                first=first_times.get(row["lead_id"]),
            )
            for row, result in chunk
        ]
        try:
            with transaction.atomic():
                # If the INSERT succeeds, every follow-up naming these rows is ours.
                linked = _insert_followups(values)
                if linked == len(ids):
                    written.extend(chunk)
                else:
                    ours = set(
                        LeadTask.objects.filter(pk__in=ids, leads_follow__lead_task_id=F("pk")).values_list(
                            "pk", flat=True
                        )
                    )
                    orphans = FollowUp.objects.filter(lead_task_id__in=ids).exclude(
                        pk__in=LeadTask.objects.filter(pk__in=ids, leads_follow__isnull=False).values("leads_follow_id")
                    )
                    orphans.delete()
                    written.extend(pair for pair in chunk if pair[0]["id"] in ours)
        except IntegrityError:
            logger.info("Concurrent follow-up writer detected; writing %d rows one by one", len(chunk))
            for row, result in chunk:
                if followup_create_for_row(lead_task_id=row["id"], result=result, now=now) is not None:
                    written.append((row, result))
    return written


# --- one task ----------------------------------------------------------------------------------------


def _judge_row(row: dict[str, Any], now: datetime, client: LLMClient | None = None) -> JudgeResult:
    """Runs in a worker thread: plain data in, a verdict out, no ORM."""
    return judge_conversation(
        row["call_conversation"],
        summary=row["summary"],
        now=now,
        lead_name=row["leads_name"],
        product=row["lead__leads_product"],
        client=client,
    )


def _judge_many(items: list[tuple[Any, dict[str, Any]]], now: datetime):
    """Yield (key, JudgeResult) for each (key, row), judged concurrently in a bounded pool, in order."""
    if not items:
        return
    if not llm_enabled():
        # The offline rules judge is plain CPU work: a thread pool would only add a future per row.
        for key, row in items:
            yield key, _judge_row(row, now)
        return
    workers = max(1, min(int(getattr(settings, "JUDGE_CONCURRENCY", 4) or 1), len(items)))
    # One LLM client for the batch: each worker thread keeps its own session, so its HTTP connection is
    # reused from one call to the next instead of a new connection (and session) per judged row.
    client = LLMClient.from_settings()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="judge") as pool:
        futures = [(key, pool.submit(_judge_row, row, now, client)) for key, row in items]
        for key, future in futures:
            yield key, future.result()


def followups_create_for_task(*, task_id: int, now: datetime | None = None) -> FollowupBatchResult:
    """Write the missing follow-ups of a task's final rows (SPEC §4). Safe to run concurrently.

    - not connected (Failed/Cancelled, or the product's NotAssigned/Timeout/Cancelled): "未接通：<原因>",
      0, no next time, ``judge=none``, no LLM call — written in bulk;
    - connected without a transcript: waits ``TRANSCRIPT_GRACE_MINUTES`` after ``final_at``, then
      "已接通，无对话记录", 0, ``judge=none`` — written in bulk;
    - connected with a transcript: judged concurrently (``JUDGE_CONCURRENCY`` threads) outside any
      transaction; the verdicts are written in bulk as they come in (a chunk per ``BULK_CHUNK`` verdicts
      or per ``JUDGED_FLUSH_SECONDS``).

    Queries: one SELECT of the candidate rows, one for the leads' first follow-up times, and a constant
    number per bulk-written chunk (two statements in a savepoint) — with the rules judge constant in the
    number of rows up to ``BULK_CHUNK``; with a slow LLM one chunk per ``JUDGED_FLUSH_SECONDS``.
    """
    now = now or timezone.now()
    result = FollowupBatchResult()
    rows = list(
        LeadTask.objects.filter(task_id=task_id, leads_follow__isnull=True)
        .filter(_final_rows_filter())
        .order_by("id")
        .values(*_ROW_FIELDS)
    )
    if not rows:
        return result

    grace = timedelta(minutes=int(getattr(settings, "TRANSCRIPT_GRACE_MINUTES", 30)))
    unjudged: list[tuple[dict[str, Any], JudgeResult]] = []
    to_judge: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for row in rows:
        if row["lead_id"] is None:
            result.skipped += 1  # the lead was deleted; FollowUp.lead is required
            continue
        if not _is_connected_row(row):
            unjudged.append(
                (
                    row,
                    not_connected_result(
                        call_status=row["call_status"],
                        last_task_status=row["last_task_status"],
                        failure_reason=row["failure_reason"],
                    ),
                )
            )
        elif _has_transcript(row["call_conversation"]):
            to_judge.append((row, row))
        else:
            final_at = row["final_at"] or row["updated_time"]
            if final_at is not None and now < final_at + grace:
                result.waiting_for_transcript += 1
            else:
                unjudged.append((row, no_transcript_result()))

    if not unjudged and not to_judge:
        return result
    first_times = _first_follow_times(task_id=task_id)
    if unjudged:
        written = _bulk_write(unjudged, now=now, first_times=first_times)
        result.created += len(written)
        result.skipped += len(unjudged) - len(written)

    # Verdicts stream in from the pool (no transaction is open while the judge runs) and are written in
    # bulk: a chunk when BULK_CHUNK verdicts are ready or JUDGED_FLUSH_SECONDS have passed since the last
    # write, so a slow LLM never holds finished verdicts back for long.
    pending: list[tuple[dict[str, Any], JudgeResult]] = []
    last_flush = time.monotonic()

    def flush() -> None:
        nonlocal last_flush
        written = _bulk_write(pending, now=now, first_times=first_times)
        result.created += len(written)
        result.skipped += len(pending) - len(written)
        for _row, verdict in written:
            result.count_judge(verdict.judge)
        pending.clear()
        last_flush = time.monotonic()

    for row, verdict in _judge_many(to_judge, now):
        pending.append((row, verdict))
        if len(pending) >= BULK_CHUNK or time.monotonic() - last_flush >= JUDGED_FLUSH_SECONDS:
            flush()
    if pending:
        flush()
    if result.created or result.judged_default:
        logger.info(
            "Follow-ups for task %s: created=%d skipped=%d waiting=%d llm=%d rules=%d default=%d",
            task_id,
            result.created,
            result.skipped,
            result.waiting_for_transcript,
            result.judged_llm,
            result.judged_rules,
            result.judged_default,
        )
    return result


# --- re-judge ------------------------------------------------------------------------------------------


def _rejudge_source(followup_id: int) -> dict[str, Any]:
    row = LeadTask.objects.filter(follow_up__pk=followup_id).values(*_ROW_FIELDS).first()
    if row is None or not _is_connected_row(row) or not _has_transcript(row["call_conversation"]):
        raise FollowupNotRejudgeable(followup_id)
    return row


def _apply_verdict(*, followup_id: int, row_id: int, verdict: JudgeResult, now: datetime) -> None:
    with transaction.atomic():
        FollowUp.objects.filter(pk=followup_id).update(
            leads_remark=verdict.leads_remark[:1000],
            is_interested=verdict.is_interested,
            next_follow_time=verdict.next_follow_time,
            judge=verdict.judge,
            judged_at=now,
            new_follow_time=now,
            updated_time=now,
        )
        LeadTask.objects.filter(pk=row_id, leads_follow_id=followup_id).update(is_interested=verdict.is_interested)


def followup_rejudge(*, followup_id: int, now: datetime | None = None) -> FollowUp:
    """Judge a follow-up's call again and store the new verdict (admin action, recovery after LLM outages).

    Raises :class:`FollowupNotRejudgeable` when the follow-up has no connected row with a transcript.
    The judge runs before the (short) write transaction.
    """
    now = now or timezone.now()
    row = _rejudge_source(followup_id)
    verdict = _judge_row(row, now)
    _apply_verdict(followup_id=followup_id, row_id=row["id"], verdict=verdict, now=now)
    return FollowUp.objects.get(pk=followup_id)


def followups_rejudge_defaults(*, task_id: int | None = None, now: datetime | None = None) -> int:
    """Re-judge every ``judge=default`` follow-up (optionally of one task) concurrently.

    Returns how many now carry a real verdict (``llm`` or ``rules``); those that fail again keep the
    default verdict with a fresh ``judged_at``.
    """
    now = now or timezone.now()
    qs = FollowUp.objects.filter(judge=FollowUp.Judge.DEFAULT, lead_task__isnull=False)
    if task_id is not None:
        qs = qs.filter(lead_task__task_id=task_id)
    followup_ids = list(qs.order_by("id").values_list("id", flat=True))
    if not followup_ids:
        return 0
    rows = {
        row["followup_pk"]: row
        for row in LeadTask.objects.filter(follow_up__pk__in=followup_ids).values(
            *_ROW_FIELDS, followup_pk=F("follow_up__pk")
        )
    }
    items = [
        (fid, rows[fid])
        for fid in followup_ids
        if fid in rows and _is_connected_row(rows[fid]) and _has_transcript(rows[fid]["call_conversation"])
    ]
    improved = 0
    for fid, verdict in _judge_many(items, now):
        _apply_verdict(followup_id=fid, row_id=rows[fid]["id"], verdict=verdict, now=now)
        if verdict.judge != JUDGE_DEFAULT:
            improved += 1
    return improved
