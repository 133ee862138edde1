"""Chinese car-dealership follow-up dialogues, and the cue phrases the simulated LLM reads back.

Robot lines never contain a cue phrase; customer lines contain cues of exactly one category, so a
verdict derived from the cues equals the ground truth the campaign recorded.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

INTERESTED = "interested"
NOT_INTERESTED = "not_interested"
AMBIGUOUS = "ambiguous"
CATEGORIES = (INTERESTED, NOT_INTERESTED, AMBIGUOUS)

#: Category → the judge's ``is_interested`` code (1 有意向, 2 无意向, 0 无法判断).
CATEGORY_CODES = {INTERESTED: 1, NOT_INTERESTED: 2, AMBIGUOUS: 0}
CATEGORY_LABELS = {INTERESTED: "有意向", NOT_INTERESTED: "无意向", AMBIGUOUS: "无法判断"}

# Checked in this order: negative cues first (e.g. "没有兴趣" contains "有兴趣").
CUES: dict[str, tuple[str, ...]] = {
    NOT_INTERESTED: ("不需要", "已经买了", "别再打了", "不感兴趣", "没有兴趣", "不考虑了"),
    INTERESTED: ("有兴趣", "想来店里看看", "过来试驾", "可以安排试驾", "想了解一下价格", "挺感兴趣"),
    AMBIGUOUS: ("再考虑一下", "最近比较忙", "到时候再说", "还没想好", "再看看吧"),
}

#: Time phrases interested customers may name: phrase → (rule, hour). Rules: +N days or a weekday.
TIME_PHRASES: dict[str, tuple[str, int]] = {
    "明天上午": ("+1", 10),
    "明天下午": ("+1", 15),
    "后天上午": ("+2", 10),
    "后天下午": ("+2", 15),
    "周六上午": ("weekday:5", 10),
    "周六下午": ("weekday:5", 15),
    "周日上午": ("weekday:6", 10),
    "下周一上午": ("nextweek:0", 10),
}

ROBOT = "Robot"
CONTACT = "Contact"

_OPENING_REPLIES = ("对，是我。", "嗯，你说。", "是的，什么事？", "我是，你哪位？")
_INTERESTED_FIRST = (
    "我对{product}挺感兴趣的，想来店里看看。",
    "有兴趣，最近正打算换车。",
    "想了解一下价格，{product}现在有优惠吗？",
)
_INTERESTED_SECOND_TIMED = ("可以，我{time}过来试驾。", "行，那就{time}过来试驾吧。")
_INTERESTED_SECOND_UNTIMED = ("可以安排试驾，具体时间我再跟你约。", "好啊，可以安排试驾，我看看哪天有空。")
_NOT_INTERESTED_FIRST = ("不需要了，我已经买了。", "不需要，谢谢。", "我对这个不感兴趣。")
_NOT_INTERESTED_SECOND = ("真的不需要了，别再打了。", "已经买了别的车了，不考虑了。", "没有兴趣，别再打了。")
_AMBIGUOUS_FIRST = ("我再考虑一下吧。", "最近比较忙，到时候再说。", "还没想好，再看看吧。")
_AMBIGUOUS_SECOND = ("到时候再说吧，有需要我联系你们。", "嗯，我再考虑一下。", "最近比较忙，回头再说。")


@dataclass(frozen=True)
class DialogueSpec:
    category: str
    name: str
    product: str
    dealer: str
    time_phrase: str | None
    silent: bool  # the customer barely spoke (silence / no interaction outcomes)


def build_conversation(spec: DialogueSpec, rng: random.Random, *, start_ms: int, duration_s: int) -> list[dict]:
    """Turns ``{Speaker, Script, Timestamp, SequenceId, Action, ActionParams}`` spread over the call."""
    product = spec.product or "我们的新车"
    greeting = f"您好，请问是{spec.name}吗？" if spec.name else "您好，请问是车主本人吗？"
    turns: list[tuple[str, str]] = [(ROBOT, f"{greeting}我是{spec.dealer}的顾问小李。")]
    if spec.silent:
        turns += [
            (CONTACT, "喂？"),
            (ROBOT, f"您之前咨询过{product}，想跟您做个简单的回访，请问现在方便吗？"),
            (ROBOT, "您好，还在听吗？"),
            (ROBOT, "那先不打扰您了，祝您生活愉快，再见。"),
        ]
    else:
        turns += [
            (CONTACT, rng.choice(_OPENING_REPLIES)),
            (ROBOT, f"您之前在我们店留过{product}的购车意向，想回访一下您最近的购车计划。"),
        ]
        if spec.category == INTERESTED:
            turns.append((CONTACT, rng.choice(_INTERESTED_FIRST).format(product=product)))
            turns.append((ROBOT, "好的，这个月到店体验还有精美礼品，请问您哪天方便到店体验一下？"))
            if spec.time_phrase:
                turns.append((CONTACT, rng.choice(_INTERESTED_SECOND_TIMED).format(time=spec.time_phrase)))
                turns.append((ROBOT, f"好的，已为您登记{spec.time_phrase}到店，稍后顾问会跟您确认，再见！"))
            else:
                turns.append((CONTACT, rng.choice(_INTERESTED_SECOND_UNTIMED)))
                turns.append((ROBOT, "好的，稍后顾问会加您微信跟您约时间，再见！"))
        elif spec.category == NOT_INTERESTED:
            turns.append((CONTACT, rng.choice(_NOT_INTERESTED_FIRST)))
            turns.append((ROBOT, f"理解，{product}最近有限时活动，您身边朋友有需要也可以联系我们。"))
            turns.append((CONTACT, rng.choice(_NOT_INTERESTED_SECOND)))
            turns.append((ROBOT, "好的，打扰您了，祝您生活愉快，再见。"))
        else:
            turns.append((CONTACT, rng.choice(_AMBIGUOUS_FIRST)))
            turns.append((ROBOT, "没关系，我们这个月有到店礼品，您方便的时候可以来店里体验一下。"))
            turns.append((CONTACT, rng.choice(_AMBIGUOUS_SECOND)))
            turns.append((ROBOT, "好的，那不打扰您了，有需要随时联系我们，再见。"))
    step_ms = max(1000, duration_s * 1000 // (len(turns) + 1))
    conversation = []
    for index, (speaker, script) in enumerate(turns):
        action = "Broadcast" if speaker == ROBOT else "Dialogue"
        if index == 0:
            action = "BeginDialogue"
        elif index == len(turns) - 1:
            action = "EndDialogue"
        conversation.append(
            {
                "Speaker": speaker,
                "Script": script,
                "Timestamp": start_ms + index * step_ms + rng.randint(0, 400),
                "SequenceId": str(index + 1),
                "Action": action,
                "ActionParams": "{}",
                "Summary": [],
            }
        )
    return conversation


def classify(text: str) -> str:
    """Category of a text by its cue phrases; AMBIGUOUS when nothing matches."""
    for category in (NOT_INTERESTED, INTERESTED, AMBIGUOUS):
        if any(cue in text for cue in CUES[category]):
            return category
    return AMBIGUOUS


def find_time_phrase(text: str) -> str | None:
    for phrase in sorted(TIME_PHRASES, key=len, reverse=True):
        if phrase in text:
            return phrase
    return None


def resolve_time_phrase(phrase: str, now: datetime) -> datetime:
    """``明天下午`` → tomorrow 15:00 relative to ``now`` (a local datetime)."""
    rule, hour = TIME_PHRASES[phrase]
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if rule.startswith("+"):
        day = today + timedelta(days=int(rule[1:]))
    elif rule.startswith("weekday:"):
        target = int(rule.split(":")[1])
        ahead = (target - today.weekday()) % 7 or 7
        day = today + timedelta(days=ahead)
    else:  # nextweek:<weekday>: that weekday of the next calendar week
        target = int(rule.split(":")[1])
        day = today + timedelta(days=7 - today.weekday() + target)
    return day.replace(hour=hour)


def remark_for(category: str, product: str, time_phrase: str | None) -> str:
    subject = product or "车辆"
    if category == INTERESTED:
        when = f"，约定{time_phrase}到店试驾" if time_phrase else "，愿意到店试驾，具体时间待约"
        return f"客户对{subject}有购买意向{when}。"
    if category == NOT_INTERESTED:
        return f"客户表示不需要{subject}，无购买意向，不建议继续跟进。"
    return f"客户对{subject}态度不明确，表示需要再考虑，建议择期再跟进。"
