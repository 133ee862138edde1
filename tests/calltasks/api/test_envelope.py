"""Every seed endpoint answers in the seed envelope, on success and on every kind of error, at both mounts."""

from __future__ import annotations

import pytest
from django.utils.translation import gettext as _

from tests.calltasks.api.conftest import SeedClient

pytestmark = pytest.mark.django_db

POST_PATHS = [
    "create-autoCall-tasks",
    "query-task-execution",
    "auto-task",
    "check_task_completion",
    "start-call-task",
    "suspend-resume-task",
    "cancel-call-task",
    "delete-call-task",
]
GET_PATHS = ["check_task_completion/1", "task_followup_records/1"]
PREFIXES = ["/", "/api/"]


def assert_envelope(response, code: int) -> dict:
    assert response.status_code == code, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"status", "code", "message", "data"}
    assert body["code"] == code
    assert body["status"] == ("success" if code < 400 else "error")
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["data"], dict)
    return body


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("path", POST_PATHS)
def test_post_without_token_is_401_in_the_envelope(anon_client, prefix, path):
    response = SeedClient(anon_client).post(prefix + path, {"task_id": 1})
    body = assert_envelope(response, 401)
    assert body["message"] == _("Authentication required: send a valid token in the access-token header.")
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("path", GET_PATHS)
def test_get_without_token_is_401_in_the_envelope(anon_client, prefix, path):
    assert_envelope(anon_client.get(prefix + path), 401)


@pytest.mark.parametrize("path", POST_PATHS[:2])
def test_invalid_token_is_401(anon_client, path):
    anon_client.credentials(HTTP_ACCESS_TOKEN="f" * 40)
    body = assert_envelope(SeedClient(anon_client).post("/" + path, {}), 401)
    assert body["message"] == _("Invalid or expired token.")


def test_authorization_token_header_is_accepted(token, anon_client):
    anon_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert_envelope(SeedClient(anon_client).post("/auto-task", {"action": "nope"}), 400)


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("path", POST_PATHS)
def test_malformed_json_is_400_in_the_envelope(seed, prefix, path):
    body = assert_envelope(seed.post(prefix + path, raw='{"task_id": 1,'), 400)
    assert body["message"] == _("The request body is not valid JSON.")


@pytest.mark.parametrize("path", POST_PATHS)
def test_non_object_json_is_400(seed, path):
    body = assert_envelope(seed.post("/" + path, raw="[1, 2]"), 400)
    assert "errors" in body["data"]


@pytest.mark.parametrize("path", POST_PATHS)
def test_form_body_is_415_in_the_envelope(seed, path):
    response = seed.client.post("/" + path, {"task_id": 1})  # multipart form
    body = assert_envelope(response, 415)
    assert body["message"] == _("Send the request body as JSON (Content-Type: application/json).")


@pytest.mark.parametrize("path", POST_PATHS)
def test_wrong_method_is_405_in_the_envelope(seed, path):
    assert_envelope(seed.client.get("/" + path), 405)
    assert_envelope(seed.client.put("/api/" + path, {}, format="json"), 405)


@pytest.mark.parametrize("path", GET_PATHS)
def test_post_to_get_endpoint_is_405(seed, path):
    assert_envelope(seed.post("/" + path, {}), 405)


def test_validation_errors_name_the_field(seed):
    body = assert_envelope(seed.post("/query-task-execution", {"task_id": "abc", "page_size": 500}), 400)
    assert set(body["data"]["errors"]) == {"task_id", "page_size"}
    assert body["message"].startswith(_("Invalid request parameters: %(detail)s") % {"detail": ""})


@pytest.mark.parametrize("path", ["check_task_completion/abc", "task_followup_records/0"])
def test_bad_path_id_is_400(seed, path):
    body = assert_envelope(seed.get("/" + path), 400)
    assert "task_id" in body["data"]["errors"]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_missing_task_is_404(seed, prefix):
    body = assert_envelope(seed.post(prefix + "query-task-execution", {"task_id": 999999}), 404)
    assert body["message"] == _("Task not found.")


def test_trailing_slash_is_accepted(seed):
    assert_envelope(seed.post("/api/check_task_completion/", {"task_id": 999999}), 404)


def test_user_without_organization_is_403(anon_client):
    from tests.factories import TokenFactory, UserFactory

    token = TokenFactory(user=UserFactory(organization=None))
    anon_client.credentials(HTTP_ACCESS_TOKEN=token.key)
    assert_envelope(SeedClient(anon_client).post("/query-task-execution", {"task_id": 1}), 403)


def test_throttled_is_429_in_the_envelope(seed, settings, leads):
    from django.core.cache import cache

    cache.clear()
    from rest_framework.throttling import ScopedRateThrottle

    original = ScopedRateThrottle.THROTTLE_RATES
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"task_create": "1/min", "task_start": "1/min", "login": "1/min"},
    }
    from rest_framework.settings import api_settings

    ScopedRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    try:
        body = {"task_name": "限流", "size_desc": {"leads_type": ["H级"]}}
        assert_envelope(seed.post("/create-autoCall-tasks", body), 200)
        response = seed.post("/create-autoCall-tasks", body)
        assert_envelope(response, 429)
        assert int(response["Retry-After"]) >= 1
    finally:
        cache.clear()
        ScopedRateThrottle.THROTTLE_RATES = original


HUGE = 99999999999999999999999


@pytest.mark.parametrize(
    ("path", "payload", "field"),
    [
        ("/query-task-execution", {"task_id": HUGE}, "task_id"),
        ("/start-call-task", {"task_id": HUGE}, "task_id"),
        ("/check_task_completion", {"task_id": HUGE}, "task_id"),
        ("/check_task_completion", {"task_ids": [1, HUGE]}, "task_ids"),
    ],
)
def test_ids_beyond_64_bits_are_400_not_a_driver_overflow(seed, path, payload, field):
    body = assert_envelope(seed.post(path, payload), 400)
    assert field in body["data"]["errors"]
    assert_envelope(seed.get(f"/check_task_completion/{HUGE}"), 400)


def test_invalid_strategy_is_400(seed, leads):
    payload = {"task_name": "坏策略", "size_desc": {}, "strategy": {"working_time": "bad"}}
    assert_envelope(seed.post("/create-autoCall-tasks", payload), 400)
    payload["strategy"] = "bad"
    assert "strategy" in assert_envelope(seed.post("/create-autoCall-tasks", payload), 400)["data"]["errors"]
