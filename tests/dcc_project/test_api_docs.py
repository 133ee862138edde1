"""The OpenAPI schema and Swagger UI are served without authentication."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_openapi_schema(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert "/api/v1/leads/" in schema["paths"]
    assert "accessToken" in schema["components"]["securitySchemes"]


def test_swagger_ui(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
