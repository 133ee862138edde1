"""Property-based fuzzing of every operation in the OpenAPI schema (``/api/schema/``) with schemathesis.

The schema is loaded from the running WSGI app, every operation gets positive and negative examples (bounded and
derandomized for CI), and each request carries organization A's valid token. Every response must be:

- not a server error (schemathesis' ``not_a_server_error``: no 5xx);
- on an error (4xx), in the documented shape: the seed envelope ``{"status": "error", "code": <HTTP status>,
  "message", "data": {}}`` on the seed endpoints, DRF's ``{"detail": …}`` / ``{"field": ["…"]}`` on ``/api/v1/``;
- a status code the schema documents for the operation (the /api/v1/ error responses are added to the schema
  by dcc_project/openapi.py);
- free of organization B's data (names, phone numbers full or masked, task names, remarks).

Figures (operations, examples, status classes, undocumented status codes) are printed in the terminal summary.
"""

from __future__ import annotations

import json
import re

import pytest
import schemathesis
from django.urls import resolve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from tests.security.conftest import Tenant
from tests.security.routes import api_routes

MAX_EXAMPLES = 25
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)

# Filled while the fuzz tests run; printed by tests/security/conftest.py's terminal summary.
FUZZ_STATS: dict = {"operations": set(), "examples": 0, "by_class": {}, "server_errors": 0, "undocumented": set()}


def _operation_labels() -> list[str]:
    """``METHOD /path`` of every operation in the schema (generated here only to name the parametrized tests)."""
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    return sorted(f"{method.upper()} {path}" for path, operations in paths.items() for method in operations)


OPERATION_LABELS = _operation_labels()


_SERVED_SCHEMA: list = []


@pytest.fixture
def served_schema(wsgi_app):
    """The schema exactly as the app serves it at ``/api/schema/`` (fetched once per run: it does not change)."""
    if not _SERVED_SCHEMA:
        _SERVED_SCHEMA.append(schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app))
    return _SERVED_SCHEMA[0]


def _is_seed_operation(path: str) -> bool:
    return not path.startswith("/api/v1/")


def assert_seed_error_envelope(body, status_code: int) -> None:
    assert isinstance(body, dict), body
    assert set(body) == {"status", "code", "message", "data"}, body
    assert body["status"] == "error", body
    assert body["code"] == status_code, body
    assert isinstance(body["message"], str) and body["message"], body
    assert isinstance(body["data"], dict), body


def _is_drf_field_errors(value) -> bool:
    if isinstance(value, str):
        return True
    if isinstance(value, list):
        return all(_is_drf_field_errors(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _is_drf_field_errors(item) for key, item in value.items())
    return False


def assert_drf_error_shape(body) -> None:
    """DRF's error shapes: ``{"detail": "…"[, "code": …]}`` or validation errors ``{"field": ["…"], …}``."""
    assert isinstance(body, dict) and body, body
    if "detail" in body:
        assert isinstance(body["detail"], str) and body["detail"], body
        assert set(body) <= {"detail", "code", "data"}, body
    else:
        assert _is_drf_field_errors(body), body


def assert_documented_error(path: str, response) -> None:
    assert response.headers.get("content-type", [""])[0].startswith("application/json"), response.headers
    body = json.loads(response.content)
    if _is_seed_operation(path):
        assert_seed_error_envelope(body, response.status_code)
    else:
        assert_drf_error_shape(body)


def record(case, response) -> None:
    operation = case.operation
    FUZZ_STATS["operations"].add(f"{operation.method.upper()} {operation.path}")
    FUZZ_STATS["examples"] += 1
    status_class = f"{response.status_code // 100}xx"
    FUZZ_STATS["by_class"][status_class] = FUZZ_STATS["by_class"].get(status_class, 0) + 1
    if response.status_code >= 500:
        FUZZ_STATS["server_errors"] += 1
    documented = set(operation.definition.raw.get("responses", {}))
    if str(response.status_code) not in documented and "default" not in documented:
        FUZZ_STATS["undocumented"].add(f"{operation.method.upper()} {operation.path} → {response.status_code}")


@pytest.mark.parametrize("label", OPERATION_LABELS)
def test_api_fuzz(label, served_schema, wsgi_app, tenant_a: Tenant, tenant_b: Tenant, shared_simulator):
    operation = served_schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is not in the served schema"
    headers = {"access-token": tenant_a.token.key}
    strategy = st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in MODES))

    @given(case=strategy)
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case):
        response = case.call(app=wsgi_app, headers=headers)
        record(case, response)
        case.validate_response(response, checks=[not_a_server_error])
        documented = set(case.operation.definition.raw.get("responses", {}))
        assert str(response.status_code) in documented, (label, response.status_code, sorted(documented))
        if 400 <= response.status_code < 500:
            assert_documented_error(case.operation.path, response)
        body = response.content.decode("utf-8", errors="replace")
        assert not tenant_b.leaked_in(body), (case.operation.path, tenant_b.leaked_in(body))

    fuzz()


NOT_IN_SCHEMA = {"api-schema", "api-docs", "api-root", "recording"}


def test_schema_lists_every_api_route(served_schema):
    """Every API route (seed paths at both mounts, /api/v1/ resources, login) is in the schema, so it is fuzzed.

    Left out on purpose: the trailing-slash twins of the seed paths, the schema and docs views, DRF's API root
    (links only) and the streamed ``/recordings/<id>/`` (not a JSON resource; covered by the isolation matrix).
    """
    documented = set()
    for path in served_schema.raw_schema["paths"]:
        match = resolve(re.sub(r"\{[^}]+\}", "1", path))
        documented.add(match.view_name)
    expected = {
        route.name for route in api_routes() if route.name not in NOT_IN_SCHEMA and not route.name.endswith("-slash")
    }
    assert expected - documented == set(), sorted(expected - documented)
    assert len(OPERATION_LABELS) >= len(expected)
