"""Demo data for a first run: organizations, a supervisor login, an API token, leads and past follow-ups.

Everything here is idempotent: running :func:`seed_demo` twice leaves the same rows (leads are upserted on
``(organization, leads_id)``, the demo follow-up of a lead is updated in place, users and tokens are
fetched before they are created). The shipped CSV files hold FAKE people (see
``scripts/make_demo_leads.py``). Dates in the files are shifted by whole days so the newest lead is from
yesterday; the result is the same for every run on the same day.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework.authtoken.models import Token

from dcc_project.phones import normalize_phone
from followups.models import FollowUp, Lead, Organization, User

DEMO_DATA_DIR = Path(__file__).resolve().parent / "demo_data"
LEADS_FILE = DEMO_DATA_DIR / "demo_leads.csv"
FOLLOWUPS_FILE = DEMO_DATA_DIR / "demo_followups.csv"
OTHER_LEADS_FILE = DEMO_DATA_DIR / "other_org_leads.csv"

DEMO_ORG = ("DEMO01", "演示经销商")
OTHER_ORG = ("DEMO02", "示例二店（租户隔离演示）")
DEMO_USERNAME = "demo"
OTHER_USERNAME = "demo2"
ADMIN_USERNAME = "admin"
#: Development-only passwords (documented in the README); override with DEMO_PASSWORD / DEMO_ADMIN_PASSWORD.
DEFAULT_DEMO_PASSWORD = "dcc-demo-2026"
DEFAULT_ADMIN_PASSWORD = "dcc-admin-2026"
SUPERVISOR_GROUP = "DCC主管"

_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_LEAD_FIELDS = ["leads_user_name", "leads_user_phone", "leads_product", "leads_type", "leads_create_time"]
_FOLLOW_FIELDS = [
    "follow_time",
    "leads_remark",
    "first_follow_time",
    "new_follow_time",
    "next_follow_time",
    "is_arrive",
    "first_arrive_time",
    "is_interested",
]


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    token: str
    organization: str


@dataclass(frozen=True)
class DemoResult:
    supervisor: DemoLogin
    other_supervisor: DemoLogin
    admin_username: str | None
    admin_password: str | None
    organization_name: str
    organization_code: str
    leads: int
    followups: int
    other_organization_name: str
    other_leads: int


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return [{key: (value or "").strip() for key, value in row.items()} for row in csv.DictReader(handle)]


def date_shift(rows: Iterable[dict[str, str]], today: date) -> timedelta:
    """Whole days that move the newest ``leads_create_time`` of the file to yesterday (never in the future)."""
    newest = max(datetime.strptime(row["leads_create_time"], _TIME_FORMAT).date() for row in rows)
    return timedelta(days=(today - newest).days - 1)


def parse_local(value: str, shift: timedelta) -> datetime | None:
    """A local (``TIME_ZONE``) wall-clock time from the file, shifted, as an aware datetime."""
    if not value:
        return None
    naive = datetime.strptime(value, _TIME_FORMAT) + shift
    return timezone.make_aware(naive, timezone.get_default_timezone())


def upsert_leads(organization: Organization, rows: list[dict[str, str]], shift: timedelta) -> dict[str, int]:
    """Insert or update the leads on ``(organization, leads_id)``; returns ``{leads_id: pk}``."""
    leads = [
        Lead(
            organization=organization,
            leads_id=row["leads_id"],
            leads_user_name=row["leads_user_name"],
            leads_user_phone=normalize_phone(row["leads_user_phone"]),
            leads_product=row["leads_product"],
            leads_type=row["leads_type"],
            leads_create_time=parse_local(row["leads_create_time"], shift),
        )
        for row in rows
    ]
    Lead.objects.bulk_create(
        leads,
        update_conflicts=True,
        unique_fields=["organization", "leads_id"],
        update_fields=[*_LEAD_FIELDS, "updated_time"],
        batch_size=500,
    )
    ids = [lead.leads_id for lead in leads]
    return dict(Lead.objects.filter(organization=organization, leads_id__in=ids).values_list("leads_id", "pk"))


def _followup_values(row: dict[str, str], shift: timedelta) -> dict[str, object]:
    arrived = row["is_arrive"] == "1"
    return {
        "follow_time": parse_local(row["follow_time"], shift),
        "leads_remark": row["leads_remark"],
        "first_follow_time": parse_local(row["first_follow_time"], shift),
        "new_follow_time": parse_local(row["new_follow_time"], shift),
        "next_follow_time": parse_local(row["next_follow_time"], shift),
        "is_arrive": arrived,
        "first_arrive_time": parse_local(row["first_arrive_time"], shift) if arrived else None,
        "is_interested": int(row["is_interested"]) if row["is_interested"] != "" else None,
    }


def upsert_followups(lead_pks: dict[str, int], rows: list[dict[str, str]], shift: timedelta) -> int:
    """One manual follow-up per demo lead (the oldest manual record of the lead is updated in place)."""
    existing: dict[int, FollowUp] = {}
    manual = FollowUp.objects.filter(
        lead_id__in=lead_pks.values(), source=FollowUp.Source.MANUAL, lead_task__isnull=True
    ).order_by("-id")
    for follow_up in manual:
        existing[follow_up.lead_id] = follow_up  # descending ids: the oldest one wins
    to_create, to_update = [], []
    for row in rows:
        lead_pk = lead_pks[row["leads_id"]]
        values = _followup_values(row, shift)
        follow_up = existing.get(lead_pk)
        if follow_up is None:
            to_create.append(FollowUp(lead_id=lead_pk, source=FollowUp.Source.MANUAL, **values))
            continue
        for field, value in values.items():
            setattr(follow_up, field, value)
        to_update.append(follow_up)
    FollowUp.objects.bulk_create(to_create, batch_size=500)
    FollowUp.objects.bulk_update(to_update, [*_FOLLOW_FIELDS, "updated_time"], batch_size=500)
    return len(rows)


def organization(code: str, name: str) -> Organization:
    org, _ = Organization.objects.update_or_create(code=code, defaults={"name": name})
    return org


def supervisor_permissions() -> list[Permission]:
    """What a DCC supervisor needs: everything on tasks/rows/records, leads and follow-ups, read-only monitor
    and background-task pages, full phone numbers; nothing on organizations' or users' records."""
    followups_models = ["lead", "followup"]
    query = (
        Q(content_type__app_label="calltasks")
        | Q(content_type__app_label="followups", content_type__model__in=followups_models)
        | Q(content_type__app_label="followups", codename__in=["view_full_phone", "view_organization"])
        | Q(content_type__app_label="django_q", codename__startswith="view_")
    )
    return list(Permission.objects.filter(query))


def supervisor_group() -> Group:
    group, _ = Group.objects.get_or_create(name=SUPERVISOR_GROUP)
    group.permissions.set(supervisor_permissions())
    return group


def ensure_user(username: str, password: str, *, org: Organization, superuser: bool = False, **extra: object) -> User:
    user, _ = User.objects.get_or_create(username=username)
    user.organization = org
    user.is_staff = True
    user.is_active = True
    user.is_superuser = superuser
    for field, value in extra.items():
        setattr(user, field, value)
    if not user.check_password(password):
        user.set_password(password)
    user.save()
    return user


def supervisor_login(username: str, password: str, org: Organization, group: Group, full_name: str) -> DemoLogin:
    user = ensure_user(username, password, org=org, first_name=full_name)
    user.groups.add(group)
    token, _ = Token.objects.get_or_create(user=user)
    return DemoLogin(username=username, password=password, token=token.key, organization=org.name)


@transaction.atomic
def seed_demo(*, shift_dates: bool = True, today: date | None = None, create_admin: bool = True) -> DemoResult:
    """Create or refresh the demo organizations, logins, token, leads and follow-ups (idempotent)."""
    lead_rows, follow_rows, other_rows = read_csv(LEADS_FILE), read_csv(FOLLOWUPS_FILE), read_csv(OTHER_LEADS_FILE)
    shift = date_shift(lead_rows, today or timezone.localdate()) if shift_dates else timedelta(0)

    demo_org, other_org = organization(*DEMO_ORG), organization(*OTHER_ORG)
    lead_pks = upsert_leads(demo_org, lead_rows, shift)
    followups = upsert_followups(lead_pks, follow_rows, shift)
    other_leads = len(upsert_leads(other_org, other_rows, shift))

    password = os.environ.get("DEMO_PASSWORD") or DEFAULT_DEMO_PASSWORD
    group = supervisor_group()
    supervisor = supervisor_login(DEMO_USERNAME, password, demo_org, group, "演示主管")
    other = supervisor_login(OTHER_USERNAME, password, other_org, group, "二店主管")

    admin_password = None
    if create_admin:
        admin_password = os.environ.get("DEMO_ADMIN_PASSWORD") or DEFAULT_ADMIN_PASSWORD
        ensure_user(ADMIN_USERNAME, admin_password, org=demo_org, superuser=True)

    return DemoResult(
        supervisor=supervisor,
        other_supervisor=other,
        admin_username=ADMIN_USERNAME if create_admin else None,
        admin_password=admin_password,
        organization_name=demo_org.name,
        organization_code=demo_org.code,
        leads=len(lead_pks),
        followups=followups,
        other_organization_name=other_org.name,
        other_leads=other_leads,
    )
