"""manage.py seed_demo: idempotent, usable logins, no phone numbers printed, refuses production."""

from __future__ import annotations

import json
import re
from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from calltasks.models import CallTask
from followups import demo
from followups.models import FollowUp, Lead, Organization, User

pytestmark = pytest.mark.django_db
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {
        "organizations": Organization.objects.count(),
        "users": User.objects.count(),
        "leads": Lead.objects.count(),
        "followups": FollowUp.objects.count(),
        "tasks": CallTask.objects.count(),
    }


def snapshot() -> list[tuple]:
    return list(
        FollowUp.objects.order_by("id").values_list(
            "id", "lead_id", "follow_time", "first_follow_time", "next_follow_time", "is_arrive", "is_interested"
        )
    )


def test_seed_creates_the_demo_data():
    seed()
    org = Organization.objects.get(code=demo.DEMO_ORG[0])
    assert org.name == "演示经销商"
    assert Lead.objects.filter(organization=org).count() == 300
    assert FollowUp.objects.filter(lead__organization=org, source=FollowUp.Source.MANUAL).count() > 100
    other = Organization.objects.get(code=demo.OTHER_ORG[0])
    assert 0 < Lead.objects.filter(organization=other).count() < 50
    grades = set(Lead.objects.values_list("leads_type", flat=True))
    assert grades == {"H级", "A级", "B级", "C级", "N级", "O级", "F级"}
    assert len(set(Lead.objects.values_list("leads_product", flat=True))) >= 5


def test_seed_twice_gives_the_same_rows_and_token():
    first_out = seed("--json")
    first_counts, first_rows = counts(), snapshot()
    lead_ids = sorted(Lead.objects.values_list("id", flat=True))
    second_out = seed("--json")
    assert counts() == first_counts
    assert snapshot() == first_rows
    assert sorted(Lead.objects.values_list("id", flat=True)) == lead_ids
    assert json.loads(first_out)["supervisor"]["token"] == json.loads(second_out)["supervisor"]["token"]


def test_follow_up_dates_are_consistent():
    seed()
    for follow_up in FollowUp.objects.all():
        assert follow_up.first_follow_time <= follow_up.new_follow_time
        assert follow_up.is_arrive or follow_up.first_arrive_time is None
    assert FollowUp.objects.filter(is_arrive=True, first_arrive_time__isnull=False).exists()
    assert FollowUp.objects.filter(next_follow_time__isnull=False).exists()


def test_dates_are_shifted_so_the_newest_lead_is_from_yesterday():
    demo.seed_demo(today=date(2030, 1, 15))
    from django.utils import timezone

    newest = Lead.objects.filter(organization__code=demo.DEMO_ORG[0]).latest("leads_create_time")
    assert timezone.localtime(newest.leads_create_time).date() == date(2030, 1, 14)


def test_output_names_the_logins_and_never_a_phone_number():
    out = seed()
    token = User.objects.get(username="demo").auth_token.key
    assert token in out
    assert "demo" in out and demo.DEFAULT_DEMO_PASSWORD in out
    assert "/admin/" in out
    assert not PHONE.search(out)
    assert not PHONE.search(seed("--json"))


def test_demo_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "another-demo-pass-42")
    seed()
    assert User.objects.get(username="demo").check_password("another-demo-pass-42")


def test_supervisor_permissions():
    seed()
    user = User.objects.get(username="demo")
    assert user.is_staff and not user.is_superuser
    assert user.organization.code == demo.DEMO_ORG[0]
    for perm in [
        "followups.view_full_phone",
        "followups.view_lead",
        "followups.change_followup",
        "calltasks.add_calltask",
        "calltasks.change_calltask",
        "calltasks.view_monitorrun",
    ]:
        assert user.has_perm(perm), perm
    assert not user.has_perm("followups.change_user")
    assert not user.has_perm("followups.change_organization")


def test_demo_login_works_in_the_chinese_admin():
    seed()
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "demo", "password": demo.DEFAULT_DEMO_PASSWORD}, follow=True
    )
    assert response.status_code == 200
    assert response.wsgi_request.user.username == "demo"
    page = response.content.decode()
    assert "站点管理" in page
    assert client.get("/admin/followups/lead/").status_code == 200


def test_admin_superuser_login():
    seed()
    client = Client()
    assert client.login(username="admin", password=demo.DEFAULT_ADMIN_PASSWORD)
    assert client.get("/admin/").status_code == 200


def test_demo_token_reads_only_its_own_organization(client):
    result = json.loads(seed("--json"))
    response = client.get("/api/v1/leads/", HTTP_ACCESS_TOKEN=result["supervisor"]["token"])
    assert response.status_code == 200
    assert response.json()["count"] == 300
    other = client.get("/api/v1/leads/", HTTP_ACCESS_TOKEN=result["other_supervisor"]["token"]).json()
    assert other["count"] == result["other_leads"]
    assert all(row["leads_id"].startswith("OT") for row in other["results"])


def test_refuses_to_run_in_production(settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        seed()
    assert Lead.objects.count() == 0


def test_production_with_force_needs_a_password_and_creates_no_admin(settings, monkeypatch):
    settings.PRODUCTION = True
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    with pytest.raises(CommandError, match="DEMO_PASSWORD"):
        seed("--force")
    monkeypatch.setenv("DEMO_PASSWORD", "a-real-demo-password-77")
    seed("--force")
    assert not User.objects.filter(username="admin").exists()


def test_shipped_file_is_what_the_generator_produces(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    subprocess.run(
        [sys.executable, "scripts/make_demo_leads.py", "--out", str(tmp_path)],
        cwd=root,
        check=True,
        capture_output=True,
    )
    for name in ["demo_leads.csv", "demo_followups.csv", "other_org_leads.csv"]:
        assert (tmp_path / name).read_bytes() == (demo.DEMO_DATA_DIR / name).read_bytes(), name
