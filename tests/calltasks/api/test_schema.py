"""The OpenAPI schema documents every seed endpoint (with examples) and REST resource, without warnings."""

from __future__ import annotations

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db

SEED_PATHS = [
    "/create-autoCall-tasks",
    "/query-task-execution",
    "/auto-task",
    "/check_task_completion",
    "/check_task_completion/{task_id}",
    "/task_followup_records/{task_id}",
    "/start-call-task",
    "/suspend-resume-task",
    "/cancel-call-task",
    "/delete-call-task",
]


def test_schema_generates_and_validates_without_warnings(tmp_path):
    call_command("spectacular", "--file", str(tmp_path / "schema.yml"), "--validate", "--fail-on-warn")


def test_seed_endpoints_and_resources_are_documented(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    for path in SEED_PATHS:
        assert path in paths and f"/api{path}" in paths, path
        operation = next(iter(paths[path].values()))
        content = operation["responses"]["200"]["content"]["application/json"]
        assert content.get("examples"), f"no response example for {path}"
    assert "/api/login" in paths
    for resource in ("call-tasks", "lead-rows", "call-records", "follow-ups", "leads", "task-statistics"):
        assert f"/api/v1/{resource}/" in paths, resource
    assert "/api/v1/call-tasks/{id}/start/" in paths
    create = paths["/create-autoCall-tasks"]["post"]
    assert create["requestBody"]["content"]["application/json"]["examples"]
    assert {"400", "401"} <= set(create["responses"])
