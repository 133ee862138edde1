"""POST /api/login: a DRF token for the access-token header."""

from __future__ import annotations

import pytest
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from tests.calltasks.api.conftest import SeedClient
from tests.calltasks.api.test_envelope import assert_envelope
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
URL = "/api/login"
PASSWORD = "pass-for-tests-1"


def test_login_creates_a_token_that_works_on_the_seed_endpoints(anon_client, org):
    user = UserFactory(organization=org)
    client = SeedClient(anon_client)
    body = assert_envelope(client.post(URL, {"username": user.username, "password": PASSWORD}), 200)
    assert body["message"] == _("Login succeeded")
    data = body["data"]
    token = Token.objects.get(user=user)
    assert data == {
        "access_token": token.key,
        "token_type": "Token",
        "user": {
            "id": user.pk,
            "username": user.username,
            "organization": {"id": org.pk, "name": org.name, "code": org.code},
        },
    }
    # Logging in again returns the same token.
    assert (
        client.post(URL, {"username": user.username, "password": PASSWORD}).json()["data"]["access_token"] == token.key
    )
    anon_client.credentials(HTTP_ACCESS_TOKEN=data["access_token"])
    assert_envelope(client.post("/auto-task", {"action": "start"}), 200)


def test_existing_token_is_returned(anon_client, token):
    data = SeedClient(anon_client).post(URL, {"username": token.user.username, "password": PASSWORD}).json()["data"]
    assert data["access_token"] == token.key


def test_user_without_organization(anon_client):
    user = UserFactory(organization=None)
    data = SeedClient(anon_client).post(URL, {"username": user.username, "password": PASSWORD}).json()["data"]
    assert data["user"]["organization"] is None


@pytest.mark.parametrize("password", ["wrong", ""])
def test_bad_credentials_are_401(anon_client, user, password):
    response = SeedClient(anon_client).post(URL, {"username": user.username, "password": password})
    if password:
        body = assert_envelope(response, 401)
        assert body["message"] == _("Incorrect username or password")
        assert response["WWW-Authenticate"] == "Token"
    else:
        assert "password" in assert_envelope(response, 400)["data"]["errors"]
    assert not Token.objects.filter(user=user).exists()


def test_inactive_user_is_401(anon_client, user):
    user.is_active = False
    user.save()
    assert_envelope(SeedClient(anon_client).post(URL, {"username": user.username, "password": PASSWORD}), 401)


def test_unknown_user_is_401(anon_client):
    assert_envelope(SeedClient(anon_client).post(URL, {"username": "nobody", "password": "x"}), 401)


def test_malformed_json_and_wrong_method(anon_client):
    client = SeedClient(anon_client)
    assert_envelope(client.post(URL, raw="{"), 400)
    assert_envelope(anon_client.get(URL), 405)


def test_a_stale_token_header_does_not_block_login(anon_client, user):
    anon_client.credentials(HTTP_ACCESS_TOKEN="0" * 40)
    assert_envelope(SeedClient(anon_client).post(URL, {"username": user.username, "password": PASSWORD}), 200)
