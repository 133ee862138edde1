#!/usr/bin/env python3
"""Generate the shipped demo data (FAKE leads and follow-ups) deterministically.

Run once and commit the output; ``manage.py seed_demo`` loads the files. Re-running with the same seed
produces byte-identical files::

    python3 scripts/make_demo_leads.py            # writes followups/demo_data/*.csv

Everything is invented: names are random combinations of common surnames and given names, and every
phone number uses the 170/171 virtual-operator prefixes with a random tail (not a real subscriber list).
Dates are absolute, relative to ``ANCHOR`` (the newest lead); ``seed_demo`` shifts them by whole days so
the newest lead is from today.
"""

from __future__ import annotations

import argparse
import csv
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "followups" / "demo_data"
SEED = 20261120
ANCHOR = datetime(2026, 11, 20, 18, 0)  # local time (Asia/Shanghai) of the newest lead
DAYS_BACK = 90

LEAD_COLUMNS = ["leads_id", "leads_user_name", "leads_user_phone", "leads_product", "leads_type", "leads_create_time"]
FOLLOW_COLUMNS = [
    "leads_id",
    "follow_time",
    "leads_remark",
    "first_follow_time",
    "new_follow_time",
    "next_follow_time",
    "is_arrive",
    "first_arrive_time",
    "is_interested",
]

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛"
)
GIVEN_CHARS = list(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂华玲鹏辉建文晨欣怡浩宇子轩雨萱梓涵俊凯思佳嘉琪博文昊然梦瑶一诺宏伟志强海燕秋云"
)
PRODUCTS = [("星越L", 18), ("领克06", 15), ("银河E8", 14), ("博越L", 12), ("帝豪", 10), ("极氪001", 8), ("几何E", 7)]
GRADES = [("H级", 10), ("A级", 22), ("B级", 28), ("C级", 18), ("N级", 12), ("O级", 4), ("F级", 6)]
REMARKS = {
    1: [
        "客户对试驾很感兴趣，约周末到店",
        "询问金融方案，意向较强",
        "关注置换补贴，准备到店看车",
        "要求发送配置单和报价",
    ],
    2: ["客户表示已购车", "暂无购车计划", "嫌价格偏高，暂不考虑", "客户明确拒绝，不要再联系"],
    0: ["电话未接通", "客户在忙，稍后再联系", "客户未明确表态", "需再次确认购车时间"],
}


@dataclass(frozen=True)
class DemoLead:
    leads_id: str
    name: str
    phone: str
    product: str
    grade: str
    created: datetime


def _weighted(rng: random.Random, table: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table], k=1)[0]


def _name(rng: random.Random) -> str:
    given = "".join(rng.choice(GIVEN_CHARS) for _ in range(rng.choice([1, 2, 2])))
    return rng.choice(SURNAMES) + given


def _fmt(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def make_leads(rng: random.Random, count: int, prefix: str, used_phones: set[str]) -> list[DemoLead]:
    leads = []
    for i in range(1, count + 1):
        while True:
            phone = rng.choice(["170", "171"]) + f"{rng.randrange(10**8):08d}"
            if phone not in used_phones:
                used_phones.add(phone)
                break
        minutes_back = 0 if i == 1 else rng.randrange(DAYS_BACK * 24 * 60)
        created = (ANCHOR - timedelta(minutes=minutes_back)).replace(second=0)
        leads.append(
            DemoLead(f"{prefix}{i:06d}", _name(rng), phone, _weighted(rng, PRODUCTS), _weighted(rng, GRADES), created)
        )
    return sorted(leads, key=lambda lead: lead.leads_id)


def _office_hours(value: datetime) -> datetime:
    """Move a time into the DCC team's working day (09:00–20:59), keeping the date."""
    return value.replace(hour=9 + value.hour % 12)


def make_followup(rng: random.Random, lead: DemoLead) -> dict[str, str] | None:
    """About 60% of the leads were followed up by hand before; grade drives interest and store visits."""
    if lead.grade == "N级" or rng.random() > 0.6:
        return None
    first = _office_hours(lead.created + timedelta(hours=rng.randint(1, 72), minutes=rng.randrange(60)))
    if first > ANCHOR:  # too fresh to have been followed up yet
        return None
    latest = _office_hours(first + timedelta(days=rng.randint(0, 30), minutes=rng.randrange(600)))
    latest = max(min(latest, ANCHOR), first)
    interest = {"H级": 1, "A级": 1, "O级": 1, "F级": 2}.get(lead.grade, rng.choice([0, 1, 2]))
    arrived = lead.grade in {"H级", "O级"} or (lead.grade == "A级" and rng.random() < 0.4)
    arrive_time = _office_hours(latest - timedelta(hours=rng.randint(1, 48))) if arrived else None
    if arrive_time is not None:
        arrive_time = min(max(arrive_time, first), latest)
    next_follow = None if lead.grade in {"O级", "F级"} else latest + timedelta(days=rng.randint(1, 21))
    return {
        "leads_id": lead.leads_id,
        "follow_time": _fmt(latest),
        "leads_remark": rng.choice(REMARKS[interest]),
        "first_follow_time": _fmt(first),
        "new_follow_time": _fmt(latest),
        "next_follow_time": _fmt(_office_hours(next_follow).replace(minute=0) if next_follow else None),
        "is_arrive": "1" if arrived else "0",
        "first_arrive_time": _fmt(arrive_time),
        "is_interested": str(interest),
    }


def _write(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _lead_row(lead: DemoLead) -> dict[str, str]:
    return {
        "leads_id": lead.leads_id,
        "leads_user_name": lead.name,
        "leads_user_phone": lead.phone,
        "leads_product": lead.product,
        "leads_type": lead.grade,
        "leads_create_time": _fmt(lead.created),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--other-count", type=int, default=12)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args()

    rng = random.Random(SEED)
    phones: set[str] = set()
    leads = make_leads(rng, args.count, "DL", phones)
    followups = [row for lead in leads if (row := make_followup(rng, lead))]
    other = make_leads(rng, args.other_count, "OT", phones)

    _write(args.out / "demo_leads.csv", LEAD_COLUMNS, [_lead_row(lead) for lead in leads])
    _write(args.out / "demo_followups.csv", FOLLOW_COLUMNS, followups)
    _write(args.out / "other_org_leads.csv", LEAD_COLUMNS, [_lead_row(lead) for lead in other])
    print(
        f"{len(leads)} leads, {len(followups)} follow-ups, {len(other)} leads of the second organization → {args.out}"
    )


if __name__ == "__main__":
    main()
