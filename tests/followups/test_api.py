"""/api/v1/follow-ups/: scoping, phone masking, filters (interest incl. pending, judge, next follow-up range)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission

from tests.factories import CallTaskFactory, FollowUpFactory, LeadFactory, LeadTaskFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/follow-ups/"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def follow_ups(org):
    lead = LeadFactory(organization=org, leads_user_phone="17012345678")
    task = CallTaskFactory(organization=org)
    row = LeadTaskFactory(task=task, lead=lead)
    return {
        "interested": FollowUpFactory(
            lead=lead,
            lead_task=row,
            is_interested=1,
            judge="llm",
            source="ai_call",
            next_follow_time=dt.datetime(2025, 2, 1, 10, tzinfo=SHANGHAI),
        ),
        "not_interested": FollowUpFactory(lead=LeadFactory(organization=org), is_interested=2, judge="rules"),
        "undecided": FollowUpFactory(
            lead=LeadFactory(organization=org),
            is_interested=0,
            judge="default",
            next_follow_time=dt.datetime(2025, 3, 1, 10, tzinfo=SHANGHAI),
        ),
        "pending": FollowUpFactory(lead=LeadFactory(organization=org), is_interested=None),
        "task": task,
        "row": row,
    }


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["results"]}


def test_list_is_scoped_and_paginated(api_client, follow_ups, other_org):
    FollowUpFactory(lead=LeadFactory(organization=other_org))
    body = api_client.get(URL).json()
    assert body["count"] == 4 and "next" in body


def test_detail_of_another_organization_is_404(api_client, other_org):
    theirs = FollowUpFactory(lead=LeadFactory(organization=other_org))
    assert api_client.get(f"{URL}{theirs.pk}/").status_code == 404


def test_fields_and_masking(api_client, follow_ups):
    follow = follow_ups["interested"]
    body = api_client.get(f"{URL}{follow.pk}/").json()
    assert body["leads_user_phone"] == "170****5678"
    assert body["task_id"] == follow_ups["task"].pk and body["lead_row_id"] == follow_ups["row"].pk
    assert body["is_interested"] == 1 and body["interest_label"]
    assert "17012345678" not in api_client.get(URL).content.decode()
    api_client.user.user_permissions.add(Permission.objects.get(codename="view_full_phone"))
    assert api_client.get(f"{URL}{follow.pk}/").json()["leads_user_phone"] == "17012345678"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"interest": "1"}, ["interested"]),
        ({"interest": "0,2"}, ["not_interested", "undecided"]),
        ({"interest": "pending"}, ["pending"]),
        ({"judge": "llm,default"}, ["interested", "undecided"]),
        ({"source": "ai_call"}, ["interested"]),
        (
            {"next_follow_after": "2025-02-01T00:00:00+08:00", "next_follow_before": "2025-02-02T00:00:00+08:00"},
            ["interested"],
        ),
        ({"next_follow_after": "2025-02-15T00:00:00+08:00"}, ["undecided"]),
    ],
)
def test_filters(api_client, follow_ups, params, expected):
    assert ids(api_client.get(URL, params)) == {follow_ups[name].pk for name in expected}


def test_task_filter(api_client, follow_ups):
    assert ids(api_client.get(URL, {"task": follow_ups["task"].pk})) == {follow_ups["interested"].pk}


def test_invalid_interest_is_400(api_client, follow_ups):
    assert api_client.get(URL, {"interest": "3"}).status_code == 400


def test_ordering(api_client, follow_ups):
    results = api_client.get(URL, {"ordering": "id"}).json()["results"]
    assert [item["id"] for item in results] == sorted(item["id"] for item in results)


def test_read_only(api_client, follow_ups):
    assert api_client.post(URL, {}, format="json").status_code == 405
    assert api_client.delete(f"{URL}{follow_ups['pending'].pk}/").status_code == 405
