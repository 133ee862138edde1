"""Shared fixtures: organizations, users, API clients. Simulator fixtures live in tests/fixtures_simulator.py."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import OrganizationFactory, TokenFactory, UserFactory

pytest_plugins = ["tests.plugins.simulator"]


@pytest.fixture
def org(db):
    return OrganizationFactory(name="演示经销商", code="T-ORG-A")


@pytest.fixture
def other_org(db):
    return OrganizationFactory(name="另一家经销商", code="T-ORG-B")


@pytest.fixture
def user(org):
    return UserFactory(organization=org)


@pytest.fixture
def token(user):
    return TokenFactory(user=user)


@pytest.fixture
def api_client(token):
    """A DRF client authenticated with the seed's ``access-token`` header."""
    client = APIClient()
    client.credentials(HTTP_ACCESS_TOKEN=token.key)
    client.user = token.user
    return client


@pytest.fixture
def anon_client():
    return APIClient()
