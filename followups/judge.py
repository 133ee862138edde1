"""The interest judge (SPEC §6): an LLM judge with strict answer validation, and an offline rules judge.

``judge_conversation`` never raises and never touches the database, so it can run in worker threads
outside any transaction. With ``LLM_API_KEY`` set it asks the model; any failure (network, quota, HTTP
error, an answer that stays invalid after the bounded retries) gives the fixed default verdict
"AI分析失败，需要人工跟进" / 0 / due now / ``judge="default"`` that an admin action can re-judge later.
Without a key the rules judge reads the customer's turns and the provider's Summary labels.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from dcc_project.phones import mask_phones_in_text
from followups import prompts
from followups.llm import LLMClient, LLMError

logger = logging.getLogger(__name__)

JUDGE_LLM = "llm"
JUDGE_RULES = "rules"
JUDGE_DEFAULT = "default"

INTERESTED = 1
NOT_INTERESTED = 2
UNDECIDED = 0

DEFAULT_REMARK = "AI分析失败，需要人工跟进"
MAX_REMARK_CHARS = 1000
#: A suggested next follow-up further away than this is treated as nonsense.
MAX_NEXT_FOLLOW_AHEAD = timedelta(days=366)


@dataclass(frozen=True)
class JudgeResult:
    leads_remark: str
    is_interested: int  # 0 = 无法判断, 1 = 有意向, 2 = 无意向
    next_follow_time: datetime | None  # aware
    judge: str  # "llm" | "rules" | "default"


class InvalidAnswer(ValueError):
    """The model's answer does not satisfy the contract; ``code`` is safe to log (no answer text)."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(code)


def local_tz():
    return timezone.get_default_timezone()


def default_result(now: datetime) -> JudgeResult:
    return JudgeResult(DEFAULT_REMARK, UNDECIDED, now, JUDGE_DEFAULT)


def llm_enabled() -> bool:
    return bool(getattr(settings, "LLM_API_KEY", ""))


# --- entry point ---------------------------------------------------------------------------------


def judge_conversation(
    conversation: Any,
    *,
    summary: Any = None,
    now: datetime | None = None,
    lead_name: str | None = None,
    product: str | None = None,
    client: LLMClient | None = None,
) -> JudgeResult:
    """Judge one call. The LLM judge when ``LLM_API_KEY`` is set (or a client is given), else the rules judge.

    A transcript without any spoken text is never sent to the model (nothing to judge, nothing to pay for).
    """
    now = now or timezone.now()
    try:
        if (client is not None or llm_enabled()) and prompts.normalize_turns(conversation):
            return llm_judge(
                conversation, summary=summary, now=now, lead_name=lead_name, product=product, client=client
            )
        return rules_judge(conversation, summary=summary, now=now)
    except Exception as exc:  # the judge must never break a monitor pass
        logger.warning("Interest judge crashed (%s); using the default verdict", type(exc).__name__)
        return default_result(now)


# --- LLM judge -----------------------------------------------------------------------------------


def llm_judge(
    conversation: Any,
    *,
    summary: Any = None,
    now: datetime,
    lead_name: str | None = None,
    product: str | None = None,
    client: LLMClient | None = None,
) -> JudgeResult:
    """Ask the model; validate and normalise its answer; the default verdict on any failure.

    The client already retries transport failures (429/5xx/timeouts); here an *invalid answer* is
    retried, for at most ``1 + LLM_MAX_RETRIES`` judge attempts in total.
    """
    client = client or LLMClient.from_settings()
    tz = local_tz()
    messages = prompts.build_messages(
        conversation,
        now_local=timezone.localtime(now, tz),
        tz_name=str(tz),
        lead_name=lead_name,
        product=product,
        summary=summary,
    )
    attempts = 1 + max(0, int(getattr(settings, "LLM_MAX_RETRIES", 0)))
    for attempt in range(1, attempts + 1):
        try:
            content = client.chat(messages)
        except LLMError as exc:
            logger.warning(
                "LLM judge failed (code=%s, http=%s, retryable=%s); default verdict",
                exc.code,
                exc.http_status,
                exc.retryable,
            )
            return default_result(now)
        try:
            return parse_answer(content, now=now)
        except InvalidAnswer as exc:
            logger.warning("LLM judge answer invalid (%s), attempt %d/%d", exc.code, attempt, attempts)
    return default_result(now)


_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)


def extract_json_object(content: str) -> dict[str, Any]:
    """The first JSON object in the answer, ignoring code fences and any text around it."""
    if not isinstance(content, str):
        raise InvalidAnswer("not_text")
    candidates = [m.group(1) for m in _FENCE.finditer(content)] + [content]
    decoder = json.JSONDecoder()
    for text in candidates:
        start = text.find("{")
        while start != -1:
            try:
                value, _end = decoder.raw_decode(text, start)
            except ValueError:
                start = text.find("{", start + 1)
                continue
            if isinstance(value, dict):
                return value
            start = text.find("{", start + 1)
    raise InvalidAnswer("no_json_object")


_INTEREST_WORDS: dict[str, int] = {}
for _word in ("有意向", "有意", "意向强", "意向强烈", "感兴趣", "有兴趣", "高意向", "interested", "yes", "true"):
    _INTEREST_WORDS[_word] = INTERESTED
for _word in (
    "无意向",
    "没有意向",
    "没意向",
    "不感兴趣",
    "无意",
    "没兴趣",
    "没有兴趣",
    "无兴趣",
    "not interested",
    "no",
    "false",
):
    _INTEREST_WORDS[_word] = NOT_INTERESTED
for _word in ("无法判断", "不确定", "未知", "不明确", "意向不明确", "待定", "unknown", "undecided", "uncertain"):
    _INTEREST_WORDS[_word] = UNDECIDED


def normalize_interest(value: Any) -> int:
    """0/1/2 from ints, numeric strings, Chinese/English words and booleans; anything else is invalid.

    ``bool`` is checked before ``int``: ``True``/``False`` are ints in Python, and JSON ``false`` must
    mean 无意向 (2), not 无法判断 (0) — the predecessor's bug.
    """
    if isinstance(value, bool):
        return INTERESTED if value else NOT_INTERESTED
    if isinstance(value, int):
        if value in (0, 1, 2):
            return value
        raise InvalidAnswer("interest_out_of_range")
    if isinstance(value, float):
        if value.is_integer() and int(value) in (0, 1, 2):
            return int(value)
        raise InvalidAnswer("interest_out_of_range")
    if isinstance(value, str):
        text = value.strip().strip("\"'“”「」").strip().lower()
        if text in ("0", "1", "2"):
            return int(text)
        if text in _INTEREST_WORDS:
            return _INTEREST_WORDS[text]
        raise InvalidAnswer("interest_unknown_text")
    raise InvalidAnswer("interest_wrong_type")


_DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
)


def normalize_next_follow_time(value: Any, *, now: datetime) -> datetime | None:
    """An aware datetime from local ``YYYY-MM-DD HH:MM[:SS]``; None for null/empty, unparsable, past or > 1 year."""
    if value is None or not isinstance(value, str):
        return None
    text = value.strip()
    if not text or text.lower() in ("null", "none", "无"):
        return None
    parsed: datetime | None = None
    for fmt in _DATETIME_FORMATS:
        try:
            parsed = datetime.strptime(text, fmt)
            break
        except ValueError:
            continue
    if parsed is None:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, local_tz())
    if parsed <= now or parsed - now > MAX_NEXT_FOLLOW_AHEAD:
        return None
    return parsed


def clean_remark(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidAnswer("remark_wrong_type")
    text = re.sub(r"\s+", " ", value).strip()
    text = mask_phones_in_text(text)
    if not text:
        raise InvalidAnswer("remark_empty")
    return text[:MAX_REMARK_CHARS]


def parse_answer(content: str, *, now: datetime) -> JudgeResult:
    """Validate and normalise the model's answer into a ``judge="llm"`` result, or raise InvalidAnswer."""
    data = extract_json_object(content)
    if "is_interested" not in data:
        raise InvalidAnswer("interest_missing")
    if "leads_remark" not in data:
        raise InvalidAnswer("remark_missing")
    interest = normalize_interest(data["is_interested"])
    remark = clean_remark(data["leads_remark"])
    next_time = normalize_next_follow_time(data.get("next_follow_time"), now=now)
    return JudgeResult(remark, interest, next_time, JUDGE_LLM)


# --- rules judge ---------------------------------------------------------------------------------

#: Do-not-call requests and purchases elsewhere end the conversation whatever else was said.
HARD_NEGATIVES = (
    "别再打",
    "不要再打",
    "别打了",
    "不要打了",
    "别给我打",
    "不要给我打",
    "再打我就",
    "投诉",
    "骚扰",
    "已经买了",
    "已经买过",
    "已经提车",
    "已经订了",
    "买过了",
    "买好了",
    "已经有车了",
)
NEGATIVES = (
    "不需要",
    "不用了",
    "不用",
    "没兴趣",
    "没有兴趣",
    "不感兴趣",
    "不考虑",
    "不想买",
    "不买",
    "不要了",
    "没打算",
    "没有打算",
    "不打算",
    "不想了解",
    "用不着",
    "没需求",
    "没有需求",
    "不去了",
    "不来了",
    "算了",
    "没这个打算",
    "没空去",
    "不想去",
    "打错了",
)
POSITIVES = (
    "感兴趣",
    "有兴趣",
    "想了解",
    "了解一下",
    "来店",
    "到店",
    "去店",
    "进店",
    "试驾",
    "试一下车",
    "看看车",
    "看车",
    "报个价",
    "报价",
    "什么价",
    "多少钱",
    "落地价",
    "优惠",
    "活动",
    "什么时候方便",
    "有空过去",
    "过去看看",
    "过来看看",
    "预约",
    "加微信",
    "加个微信",
    "发给我",
    "发我",
    "打算买",
    "想买",
    "准备买",
    "考虑买",
    "分期",
    "贷款",
    "置换",
    "有意向",
    "可以过去",
    "我过去",
    "我过来",
    "安排一下",
)
#: Positives that are commitments rather than curiosity: they outweigh the provider's labels.
STRONG_POSITIVES = ("来店", "到店", "去店", "进店", "试驾", "预约", "看车", "过去看看", "过来看看", "我过去", "我过来")
AMBIGUOUS = (
    "再考虑",
    "考虑一下",
    "考虑考虑",
    "比较忙",
    "在忙",
    "很忙",
    "到时候再说",
    "再说吧",
    "以后再说",
    "回头再说",
    "不一定",
    "看情况",
    "还没想好",
    "没想好",
    "不确定",
    "等等再说",
    "过段时间",
    "再看看",
    "没时间",
    "开车呢",
    "在开会",
)
_NEGATORS = ("不", "没", "别", "无", "未")
_CLAUSE_SPLIT = re.compile(r"[，。！？!?,.;；、\s~～…]+")

_LABEL_WORDS = {
    "有意向": INTERESTED,
    "意向强": INTERESTED,
    "高意向": INTERESTED,
    "感兴趣": INTERESTED,
    "无意向": NOT_INTERESTED,
    "没有意向": NOT_INTERESTED,
    "不感兴趣": NOT_INTERESTED,
    "无意": NOT_INTERESTED,
    "无法判断": UNDECIDED,
    "不确定": UNDECIDED,
    "意向不明确": UNDECIDED,
    "未知": UNDECIDED,
}


@dataclass
class _Evidence:
    stance: int | None = None  # from the last clause with a stance
    hard_negative: str | None = None
    strong_positive: str | None = None
    positives: list[str] | None = None
    negatives: list[str] | None = None
    ambiguous: list[str] | None = None


def _negated(clause: str, index: int) -> bool:
    """True when one of the two characters before ``index`` negates the keyword (A-not-A questions excluded)."""
    window_start = max(0, index - 2)
    for pos in range(window_start, index):
        if clause[pos] in _NEGATORS:
            # "会不会有优惠" / "要不要" are questions, not negations.
            if 0 < pos < len(clause) - 1 and clause[pos - 1] == clause[pos + 1]:
                continue
            return True
    return False


def _find_keywords(clause: str, words: tuple[str, ...]) -> list[tuple[int, str]]:
    found = []
    for word in words:
        start = clause.find(word)
        if start != -1:
            found.append((start, word))
    return found


def _collect_evidence(customer_texts: list[str]) -> _Evidence:
    ev = _Evidence(positives=[], negatives=[], ambiguous=[])
    for text in customer_texts:
        for clause in _CLAUSE_SPLIT.split(text):
            if not clause:
                continue
            hard = next((w for w in HARD_NEGATIVES if w in clause), None)
            if hard:
                ev.hard_negative = ev.hard_negative or hard
                ev.negatives.append(hard)
                ev.stance = NOT_INTERESTED
                continue
            negative = next((w for w in NEGATIVES if w in clause), None)
            positive_hits = [(i, w) for i, w in _find_keywords(clause, POSITIVES) if not (negative and w in negative)]
            negated_positive = next(
                (clause[max(0, i - 2) : i + len(w)] for i, w in positive_hits if _negated(clause, i)), None
            )
            if negative or negated_positive:
                ev.negatives.append(negative or negated_positive.lstrip("我你他她"))
                ev.stance = NOT_INTERESTED
                continue
            ambiguous = next((w for w in AMBIGUOUS if w in clause), None)
            if positive_hits:
                words = [w for _i, w in sorted(positive_hits)]
                ev.positives.extend(words)
                strong = next((w for w in words if w in STRONG_POSITIVES), None)
                if strong:
                    ev.strong_positive = ev.strong_positive or strong
                ev.stance = INTERESTED
            elif ambiguous:
                ev.ambiguous.append(ambiguous)
                ev.stance = UNDECIDED
    return ev


def summary_interest(summary: Any) -> int | None:
    """The interest the provider's Summary labels state (有意向/无意向/无法判断), if any."""
    if not isinstance(summary, list):
        return None
    verdict = None
    for item in summary:
        if not isinstance(item, dict):
            continue
        lowered = {str(k).lower(): v for k, v in item.items()}
        content = str(lowered.get("content") or lowered.get("value") or "").strip()
        content = re.sub(r"^(客户)?意向[:：\s]*", "", content) if content not in _LABEL_WORDS else content
        if content in _LABEL_WORDS:
            verdict = _LABEL_WORDS[content]
    return verdict


def _unique(words: list[str], limit: int = 3) -> list[str]:
    seen: list[str] = []
    for word in words:
        if word not in seen:
            seen.append(word)
    return seen[:limit]


def rules_judge(conversation: Any, *, summary: Any = None, now: datetime | None = None) -> JudgeResult:
    """Keyword/intent rules over the customer's turns plus the provider's Summary labels (offline)."""
    now = now or timezone.now()
    turns = prompts.normalize_turns(conversation)
    customer = [text for role, text in turns if role != prompts.ROBOT]
    ev = _collect_evidence(customer)
    label = summary_interest(summary)

    if ev.hard_negative:
        interest, reason = NOT_INTERESTED, f"表示“{ev.hard_negative}”"
    elif label is not None and not (ev.strong_positive and ev.stance == INTERESTED and label != INTERESTED):
        # The provider's label wins over weak keyword evidence; a concrete commitment to visit
        # or test-drive (the customer's last stance) wins over a contradicting label.
        interest = label
        reason = _reason(interest, ev, from_label=True)
    else:
        interest = ev.stance if ev.stance is not None else UNDECIDED
        reason = _reason(interest, ev, from_label=False)

    next_time: datetime | None
    if interest == INTERESTED:
        phrase_time, phrase = find_follow_time(customer, now=now)
        if phrase_time is None:
            phrase_time, phrase = find_follow_time([t for _r, t in turns], now=now)
        next_time = phrase_time or _at_local(now, days=1, hour=10)
        if phrase:
            reason += f"；约{phrase}"
    elif interest == UNDECIDED:
        next_time = _at_local(now, days=3, hour=10)
    else:
        next_time = None

    prefix = {INTERESTED: "客户有意向", NOT_INTERESTED: "客户无意向", UNDECIDED: "意向不明确"}[interest]
    remark = mask_phones_in_text(f"{prefix}：{reason}")[:MAX_REMARK_CHARS]
    return JudgeResult(remark, interest, next_time, JUDGE_RULES)


def _reason(interest: int, ev: _Evidence, *, from_label: bool) -> str:
    label_note = "外呼系统标签为" + {INTERESTED: "有意向", NOT_INTERESTED: "无意向", UNDECIDED: "无法判断"}[interest]
    if interest == INTERESTED and ev.positives:
        text = "提到" + "、".join(_unique(ev.positives))
    elif interest == NOT_INTERESTED and ev.negatives:
        text = "表示" + "、".join(f"“{w}”" for w in _unique(ev.negatives, 2))
    elif interest == UNDECIDED and ev.ambiguous:
        text = "表示" + "、".join(f"“{w}”" for w in _unique(ev.ambiguous, 2))
    elif interest == UNDECIDED and ev.positives and ev.negatives:
        text = "态度前后不一致"
    else:
        text = "" if from_label else "客户未明确表态"
    if from_label:
        return f"{text}（{label_note}）" if text else label_note
    return text


# --- Chinese time phrases --------------------------------------------------------------------------

_CN_DIGITS = {
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "十": 10,
}
_WEEKDAY_INDEX = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5}
_PERIOD_HOURS = {
    "上午": 10,
    "早上": 10,
    "早晨": 10,
    "明早": 10,
    "中午": 12,
    "下午": 15,
    "傍晚": 17,
    "晚上": 19,
    "晚": 19,
}
_DAY_WORD = r"(?P<day>今天|今晚|明天|明早|明晚|后天|大后天|(?P<week>下下|下|这|本)?(?:个)?(?:周|星期|礼拜)(?P<wd>[一二三四五六日天末]))"
_TIME_PHRASE = re.compile(
    _DAY_WORD
    + r"(?P<period>上午|早上|早晨|中午|下午|傍晚|晚上|晚)?"
    + r"(?:(?P<hour>[0-9]{1,2}|[一二两三四五六七八九十]{1,3})(?:点|:|：)(?P<half>半|[0-9]{2}|[一二三四五]十(?:[一二三四五六七八九])?分?)?)?"
)


def _cn_number(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    if text in _CN_DIGITS:
        return _CN_DIGITS[text]
    if text.startswith("十"):
        return 10 + _CN_DIGITS.get(text[1:], 0)
    if len(text) >= 2 and text[1] == "十":
        return _CN_DIGITS.get(text[0], 0) * 10 + (_CN_DIGITS.get(text[2:], 0) if len(text) > 2 else 0)
    return None


def _at_local(now: datetime, *, days: int, hour: int, minute: int = 0) -> datetime:
    local = timezone.localtime(now, local_tz())
    day = (local + timedelta(days=days)).date()
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour, minute), local_tz())


def find_follow_time(texts: list[str], *, now: datetime) -> tuple[datetime | None, str | None]:
    """The first concrete future local time named in the texts (明天下午/周三上午/下周五3点/…), with the phrase."""
    local_now = timezone.localtime(now, local_tz())
    for text in texts:
        for match in _TIME_PHRASE.finditer(text):
            when = _resolve(match, local_now)
            if when is not None and now < when <= now + MAX_NEXT_FOLLOW_AHEAD:
                return when, match.group(0)
    return None, None


def _resolve(match: re.Match, local_now: datetime) -> datetime | None:
    day_word = match.group("day")
    today = local_now.date()
    period = match.group("period")
    if day_word in ("今晚", "明晚") and not period:
        period = "晚上"
    if day_word == "明早" and not period:
        period = "上午"
    if day_word.startswith("今"):
        date = today
    elif day_word.startswith("明"):
        date = today + timedelta(days=1)
    elif day_word == "后天":
        date = today + timedelta(days=2)
    elif day_word == "大后天":
        date = today + timedelta(days=3)
    else:
        target = _WEEKDAY_INDEX[match.group("wd")]
        week = match.group("week")
        monday = today - timedelta(days=today.weekday())
        if week == "下":
            date = monday + timedelta(days=7 + target)
        elif week == "下下":
            date = monday + timedelta(days=14 + target)
        elif week in ("这", "本"):
            date = monday + timedelta(days=target)
        else:  # plain 周三: the next one; said on a Wednesday it means next week (today would be 今天)
            date = today + timedelta(days=(target - today.weekday()) % 7 or 7)
    hour = _PERIOD_HOURS.get(period or "", 10)
    minute = 0
    if match.group("hour"):
        named = _cn_number(match.group("hour"))
        if named is not None and 0 <= named <= 23:
            hour = named
            afternoon = period in ("下午", "傍晚", "晚上", "晚") and hour < 12
            if afternoon or (period == "中午" and hour < 6):
                hour += 12
            elif not period and 1 <= hour <= 7:
                hour += 12  # "3点" said about a dealership visit means the afternoon
        half = match.group("half")
        if half == "半":
            minute = 30
        elif half and half.isdigit() and int(half) < 60:
            minute = int(half)
        elif half:
            parsed = _cn_number(half.rstrip("分"))
            minute = parsed if parsed is not None and parsed < 60 else 0
    tz = local_tz()
    when = timezone.make_aware(datetime(date.year, date.month, date.day, hour, minute), tz)
    return when
