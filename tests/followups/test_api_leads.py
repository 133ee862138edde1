"""/api/v1/leads/: authentication headers, tenancy, phone masking, pagination."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from tests.factories import LeadFactory, TokenFactory, UserFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/leads/"


def test_no_token_is_401(anon_client, org):
    LeadFactory(organization=org)
    response = anon_client.get(URL)
    assert response.status_code == 401


def test_access_token_header_works(api_client, org):
    LeadFactory(organization=org)
    response = api_client.get(URL)
    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_authorization_token_header_works(token, org):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get(URL).status_code == 200


def test_wrong_token_is_401(anon_client, token):
    anon_client.credentials(HTTP_ACCESS_TOKEN="0" * 40)
    assert anon_client.get(URL).status_code == 401
    anon_client.credentials(HTTP_AUTHORIZATION="Token nope")
    assert anon_client.get(URL).status_code == 401


def test_inactive_user_token_is_401(token, anon_client):
    token.user.is_active = False
    token.user.save()
    anon_client.credentials(HTTP_ACCESS_TOKEN=token.key)
    assert anon_client.get(URL).status_code == 401


def test_other_organizations_leads_are_invisible(api_client, org, other_org):
    mine = LeadFactory.create_batch(3, organization=org)
    LeadFactory.create_batch(4, organization=other_org)
    body = api_client.get(URL).json()
    assert body["count"] == 3
    assert {row["id"] for row in body["results"]} == {lead.pk for lead in mine}


def test_retrieve_of_another_organizations_lead_is_404(api_client, org, other_org):
    theirs = LeadFactory(organization=other_org)
    mine = LeadFactory(organization=org)
    assert api_client.get(f"{URL}{theirs.pk}/").status_code == 404
    assert api_client.get(f"{URL}{mine.pk}/").status_code == 200


def test_filter_cannot_reach_another_organization(api_client, org, other_org):
    LeadFactory(organization=other_org, leads_id="SHARED-1")
    assert api_client.get(URL, {"leads_id": "SHARED-1"}).json()["count"] == 0


def test_user_without_organization_sees_nothing(org):
    LeadFactory(organization=org)
    token = TokenFactory(user=UserFactory(organization=None))
    client = APIClient()
    client.credentials(HTTP_ACCESS_TOKEN=token.key)
    assert client.get(URL).status_code == 403


def test_phone_numbers_are_masked_in_the_list(api_client, org):
    LeadFactory(organization=org, leads_user_phone="17012345678")
    response = api_client.get(URL)
    assert response.json()["results"][0]["leads_user_phone"] == "170****5678"
    assert "17012345678" not in response.content.decode()


def test_full_phone_with_permission(api_client, org):
    LeadFactory(organization=org, leads_user_phone="17012345678")
    api_client.user.user_permissions.add(Permission.objects.get(codename="view_full_phone"))
    assert api_client.get(URL).json()["results"][0]["leads_user_phone"] == "17012345678"


def test_list_is_paginated(api_client, org):
    LeadFactory.create_batch(25, organization=org)
    body = api_client.get(URL).json()
    assert body["count"] == 25
    assert len(body["results"]) == 20
    assert body["next"]
    second = api_client.get(URL, {"page": 2}).json()
    assert len(second["results"]) == 5
    assert len(api_client.get(URL, {"page_size": 10}).json()["results"]) == 10


def test_filter_by_grade_and_product(api_client, org):
    LeadFactory(organization=org, leads_type="H级", leads_product="星越L")
    LeadFactory(organization=org, leads_type="B级", leads_product="领克06")
    LeadFactory(organization=org, leads_type="C级", leads_product="银河E8")
    assert api_client.get(URL, {"leads_type": "H级,B级"}).json()["count"] == 2
    assert api_client.get(URL, {"leads_product": "银河E8"}).json()["count"] == 1
