"""Creating a call task from the admin (calltasks/admin_create.py): filter form, live count, create, errors."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from calltasks.admin_create import lead_counts
from calltasks.models import CallTask, LeadTask
from calltasks.states import TaskState
from followups.demo import supervisor_group
from followups.selectors import DateRange, LeadFilterSpec, lead_filter
from tests.factories import CallTaskFactory, FollowUpFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

ADD = reverse("admin:calltasks_calltask_add")
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def supervisor(org):
    user = UserFactory(organization=org, is_staff=True)
    user.groups.add(supervisor_group())
    return user


@pytest.fixture
def client_sv(supervisor):
    client = Client()
    client.force_login(supervisor)
    return client


@pytest.fixture
def pool(org, other_org):
    """Leads of two organizations; the other one has the same products and more leads."""
    mine = [
        LeadFactory(organization=org, leads_id="m1", leads_product="星越L", leads_type="H级"),
        LeadFactory(organization=org, leads_id="m2", leads_product="星越L", leads_type="A级"),
        LeadFactory(organization=org, leads_id="m3", leads_product="帝豪", leads_type="H级"),
        LeadFactory(organization=org, leads_id="m4", leads_product="帝豪", leads_type="B级"),
    ]
    for i in range(6):
        LeadFactory(organization=other_org, leads_id=f"o{i}", leads_product="星越L", leads_type="H级")
    LeadFactory(organization=other_org, leads_id="o-only", leads_product="别家车型", leads_type="Z级")
    return mine


def count(client, **params):
    response = client.get(ADD, {"_count": "1", **params})
    return response.status_code, response.json()


def test_form_renders_inside_the_admin_with_the_orgs_choices(client_sv, pool):
    response = client_sv.get(ADD)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="task-create-form"' in html
    assert '<span id="lead-count">4</span>' in html
    assert 'name="_create"' in html and 'name="_preview"' in html
    assert 'class="breadcrumbs"' in html and "calltasks/task_create.js" in html
    assert 'value="星越L"' in html and 'value="帝豪"' in html
    assert "别家车型" not in html and "Z级" not in html  # another organization's values are not offered
    for name in ("task_name", "products", "grades", "is_arrive", "first_follow_start", "next_follow_end", "leads_ids"):
        assert f'name="{name}"' in html
    assert 'name="organization"' not in html  # a supervisor always creates for their own organization


def test_count_endpoint_matches_lead_filter_and_ignores_other_orgs(client_sv, org, pool):
    status, body = count(client_sv, products=["星越L"])
    expected = lead_filter(organization_id=org.pk, spec=LeadFilterSpec(leads_product=("星越L",))).count()
    assert status == 200 and body["count"] == expected == 2
    status, body = count(client_sv, products=["星越L", "帝豪"], grades=["H级"])
    assert body["count"] == 2
    status, body = count(client_sv)
    assert body == {"count": 4, "callable": 4}
    status, body = count(client_sv, leads_ids="m1, o1 o2\nm3")
    assert body["count"] == 2


def test_count_with_store_visit_and_follow_up_dates(client_sv, org, pool):
    FollowUpFactory(
        lead=pool[0], is_arrive=True, first_arrive_time=dt.datetime(2025, 3, 1, 10, tzinfo=SH),
        next_follow_time=dt.datetime(2025, 3, 10, 23, 30, tzinfo=SH),
    )
    FollowUpFactory(lead=pool[1], next_follow_time=dt.datetime(2025, 3, 11, 0, 30, tzinfo=SH))
    assert count(client_sv, is_arrive="1")[1]["count"] == 1
    assert count(client_sv, is_arrive="0")[1]["count"] == 3
    body = count(client_sv, next_follow_start="2025-03-10", next_follow_end="2025-03-10")[1]
    spec = LeadFilterSpec(date_ranges={"next_follow": (DateRange(dt.date(2025, 3, 10), dt.date(2025, 3, 10)),)})
    assert body == {"count": lead_filter(organization_id=org.pk, spec=spec).count(), "callable": 1}
    assert body["count"] == 1


def test_callable_count_drops_duplicate_phones_and_leads_in_active_tasks(client_sv, org, pool):
    pool[1].leads_user_phone = pool[0].leads_user_phone
    pool[1].save()
    task = CallTaskFactory(organization=org, task_type=TaskState.CALLING)
    LeadTask.objects.create(task=task, lead=pool[2], leads_id="m3", leads_phone=pool[2].leads_user_phone,
                            reference_id="x-1")
    assert count(client_sv)[1] == {"count": 4, "callable": 2}
    assert count(client_sv, include_active="on")[1] == {"count": 4, "callable": 3}
    assert lead_counts(organization_id=org.pk, spec=LeadFilterSpec()) == (4, 2)


def test_count_endpoint_validation_errors_are_400(client_sv, pool):
    status, body = count(client_sv, next_follow_start="2025-03-10", next_follow_end="2025-03-01")
    assert status == 400 and "next_follow_end" in body["errors"]
    status, body = count(client_sv, products=["不存在的车型"])
    assert status == 400 and "products" in body["errors"]
    status, body = count(client_sv, first_follow_start="not-a-date")
    assert status == 400 and "first_follow_start" in body["errors"]


def test_count_query_count_does_not_grow_with_leads(client_sv, org, pool):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            status, _body = count(client_sv, products=["星越L"], next_follow_start="2025-01-01", is_arrive="0")
        assert status == 200
        return len(ctx.captured_queries)

    few = queries()
    LeadFactory.create_batch(60, organization=org, leads_product="星越L")
    assert queries() == few


def test_creating_through_the_form_writes_the_task_and_redirects(client_sv, supervisor, org, pool):
    response = client_sv.post(
        ADD,
        {"task_name": "星越L H级回访", "products": ["星越L", "帝豪"], "grades": ["H级"], "is_arrive": "",
         "script_id": "demo-script", "_create": "1"},
    )
    task = CallTask.objects.get(task_name="星越L H级回访")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:calltasks_calltask_change", args=[task.pk])
    assert task.organization_id == org.pk and task.created_by_id == supervisor.pk
    assert task.task_type == TaskState.CREATED and task.script_id == "demo-script"
    assert set(task.lead_rows.values_list("leads_id", flat=True)) == {"m1", "m3"}
    assert task.leads_count == 2
    assert task.size_desc == {"leads_product": ["星越L", "帝豪"], "leads_type": ["H级"]}
    page = client_sv.get(response["Location"])
    messages = [str(m) for m in page.context["messages"]]
    assert any("星越L H级回访" in m and "2" in m for m in messages), messages


def test_creating_with_explicit_lead_ids_and_dates(client_sv, org, pool):
    response = client_sv.post(
        ADD, {"task_name": "名单", "leads_ids": "m2\nm4 o1", "first_follow_end": "2030-01-01", "_create": "1"}
    )
    assert response.status_code == 200  # nobody has a follow-up: no lead can match a follow-up date
    assert not CallTask.objects.exists()
    response = client_sv.post(ADD, {"task_name": "名单", "leads_ids": "m2\nm4 o1", "_create": "1"})
    task = CallTask.objects.get()
    assert set(task.lead_rows.values_list("leads_id", flat=True)) == {"m2", "m4"}
    assert task.size_desc["leads_ids"] == ["m2", "m4", "o1"]


def test_no_matching_leads_and_bad_input_are_shown_on_the_form(client_sv, pool):
    response = client_sv.post(ADD, {"task_name": "空", "grades": ["B级"], "products": ["星越L"], "_create": "1"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert 'id="task-create-errors"' in response.content.decode()

    response = client_sv.post(
        ADD, {"task_name": "", "next_follow_start": "2025-03-10", "next_follow_end": "2025-03-01", "_create": "1"}
    )
    form = response.context["form"]
    assert response.status_code == 200 and "task_name" in form.errors
    response = client_sv.post(
        ADD, {"task_name": "x", "next_follow_start": "2025-03-10", "next_follow_end": "2025-03-01", "_create": "1"}
    )
    assert "next_follow_end" in response.context["form"].errors
    response = client_sv.post(ADD, {"task_name": "x", "auto_start": "on", "_create": "1"})
    assert "script_id" in response.context["form"].errors
    assert not CallTask.objects.exists()


def test_preview_button_counts_without_javascript_and_creates_nothing(client_sv, pool):
    response = client_sv.post(ADD, {"task_name": "", "products": ["帝豪"], "_preview": "1"})
    assert response.status_code == 200
    assert '<span id="lead-count">2</span>' in response.content.decode()
    assert not CallTask.objects.exists()


def test_add_permission_is_required(org, pool):
    user = UserFactory(organization=org, is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_calltask"))
    client = Client()
    client.force_login(user)
    assert client.get(ADD).status_code == 403
    assert client.get(ADD, {"_count": "1"}).status_code == 403
    assert client.post(ADD, {"task_name": "x", "_create": "1"}).status_code == 403
    assert not CallTask.objects.exists()
    anonymous = Client().get(ADD, {"_count": "1"})
    assert anonymous.status_code == 302  # to the admin login


def test_superuser_without_organization_picks_one(org, other_org, pool):
    admin = UserFactory(organization=None, is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    assert 'name="organization"' in client.get(ADD).content.decode()
    assert count(client, organization=str(other_org.pk))[1]["count"] == 7
    assert count(client)[0] == 400
    response = client.post(ADD, {"organization": str(other_org.pk), "task_name": "别家", "grades": ["Z级"],
                                 "_create": "1"})
    assert response.status_code == 302
    task = CallTask.objects.get()
    assert task.organization_id == other_org.pk
    assert list(task.lead_rows.values_list("leads_id", flat=True)) == ["o-only"]
