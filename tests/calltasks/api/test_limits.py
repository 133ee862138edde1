"""Abuse limits on the API: body size (413), scoped throttles (429), the daily call budget, state labels."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.utils import translation
from rest_framework.settings import api_settings
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from calltasks.models import CallTask
from calltasks.provider import statuses
from calltasks.states import TaskState
from tests.calltasks.api.conftest import SeedClient
from tests.calltasks.api.test_envelope import POST_PATHS, PREFIXES, assert_envelope
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

CREATE = {"task_name": "限额", "script_id": "script_demo", "size_desc": {"leads_type": ["C级"]}, "auto_start": False}


@pytest.fixture
def c_leads(org):
    return [LeadFactory(organization=org, leads_type="C级") for _ in range(3)]


# --- body size ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("path", POST_PATHS)
def test_json_body_over_the_limit_is_413_in_the_envelope(seed, settings, prefix, path):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    raw = json.dumps({**CREATE, "task_name": "x" * 2000, "task_id": 1})
    with translation.override("zh-hans"):
        body = assert_envelope(seed.post(prefix + path, raw=raw), 413)
    assert "1000" in body["message"] and "字节" in body["message"], body["message"]
    assert not CallTask.objects.exists()


def test_body_under_the_limit_is_accepted_and_none_is_unlimited(seed, settings, c_leads):
    raw = json.dumps(CREATE)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(raw.encode())
    assert_envelope(seed.post("/create-autoCall-tasks", raw=raw), 200)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = None
    big = json.dumps({**CREATE, "task_name": "大" * 150, "include_active": True})
    assert_envelope(seed.post("/create-autoCall-tasks", raw=big), 200)


def test_rest_json_body_over_the_limit_is_413(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 500
    response = api_client.post("/api/v1/call-tasks/", {**CREATE, "task_name": "x" * 1000}, format="json")
    assert response.status_code == 413 and "detail" in response.json()
    assert not CallTask.objects.exists()


def test_upload_limits_come_from_the_environment():
    from django.conf import settings

    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 5 * 1024 * 1024
    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE == settings.DATA_UPLOAD_MAX_MEMORY_SIZE


# --- throttles --------------------------------------------------------------------------------------------------------


@pytest.fixture
def one_per_minute(settings):
    cache.clear()
    original = ScopedRateThrottle.THROTTLE_RATES
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"task_create": "1/min", "task_start": "1/min", "login": "1/min"},
    }
    ScopedRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    yield
    cache.clear()
    ScopedRateThrottle.THROTTLE_RATES = original


def assert_throttled_envelope(response) -> None:
    assert_envelope(response, 429)
    assert int(response["Retry-After"]) >= 1


def test_seed_start_is_throttled(seed, one_per_minute):
    assert_envelope(seed.post("/start-call-task", {"task_id": 999999}), 404)
    assert_throttled_envelope(seed.post("/start-call-task", {"task_id": 999999}))


def test_login_is_throttled(anon_client, one_per_minute, org):
    user = UserFactory(organization=org)
    client = SeedClient(anon_client)
    assert_envelope(client.post("/api/login", {"username": user.username, "password": "wrong"}), 401)
    response = client.post("/api/login", {"username": user.username, "password": "pass-for-tests-1"})
    assert_throttled_envelope(response)


def test_rest_create_and_start_are_throttled(api_client, one_per_minute, c_leads):
    assert api_client.post("/api/v1/call-tasks/", CREATE, format="json").status_code == 201
    assert api_client.post("/api/v1/call-tasks/", CREATE, format="json").status_code == 429
    task_id = CallTask.objects.get().pk
    assert api_client.post(f"/api/v1/call-tasks/{task_id}/start/", {}, format="json").status_code != 429
    response = api_client.post(f"/api/v1/call-tasks/{task_id}/start/", {}, format="json")
    assert response.status_code == 429 and "Retry-After" in response


def test_throttles_count_per_user(seed, one_per_minute, org):
    assert_envelope(seed.post("/start-call-task", {"task_id": 999999}), 404)
    colleague = APIClient()
    colleague.force_authenticate(UserFactory(organization=org))
    assert_envelope(SeedClient(colleague).post("/start-call-task", {"task_id": 999999}), 404)


# --- daily call budget ------------------------------------------------------------------------------------------------


def test_start_over_the_daily_budget_is_refused_in_chinese(seed, c_leads, simulator, settings):
    settings.CALLTASKS_DAILY_CALL_BUDGET = 2
    task_id = assert_envelope(seed.post("/create-autoCall-tasks", CREATE), 200)["data"]["task_id"]
    with translation.override("zh-hans"):
        body = assert_envelope(seed.post("/start-call-task", {"task_id": task_id}), 429)
    assert "每日" in body["message"] and "CALLTASKS_DAILY_CALL_BUDGET" in body["message"], body["message"]
    assert body["data"] == {"daily_budget": 2, "used_today": 0, "needed": 3}
    assert CallTask.objects.get(pk=task_id).task_type == TaskState.CREATED
    assert simulator.stats()["groups"] == 0


def test_auto_start_over_the_budget_keeps_the_task_created(seed, c_leads, simulator, settings):
    settings.CALLTASKS_DAILY_CALL_BUDGET = 2
    data = assert_envelope(seed.post("/create-autoCall-tasks", {**CREATE, "auto_start": True}), 200)["data"]
    assert data["started"] is False and data["task_type"] == TaskState.CREATED
    assert data["start_error"]["code"] == 429
    assert simulator.stats()["groups"] == 0


def test_rest_start_over_the_budget_is_429(api_client, c_leads, simulator, settings):
    settings.CALLTASKS_DAILY_CALL_BUDGET = 1
    task_id = api_client.post("/api/v1/call-tasks/", CREATE, format="json").json()["id"]
    response = api_client.post(f"/api/v1/call-tasks/{task_id}/start/", {}, format="json")
    assert response.status_code == 429 and response.json()["code"] == "daily_budget"


# --- state labels ----------------------------------------------------------------------------------------------------


def test_state_2_reads_kaishi_waihu_while_the_job_status_reads_hujiaozhong():
    with translation.override("zh-hans"):
        assert [str(label) for label in TaskState.labels] == ["已创建", "开始外呼", "外呼完成", "跟进完成", "已暂停"]
        assert str(statuses.status_label(statuses.JOB_EXECUTING)) == "呼叫中"


def test_started_task_label_in_the_api(seed, c_leads, simulator):
    task_id = assert_envelope(seed.post("/create-autoCall-tasks", CREATE), 200)["data"]["task_id"]
    with translation.override("zh-hans"):
        data = assert_envelope(seed.post("/start-call-task", {"task_id": task_id}, HTTP_ACCEPT_LANGUAGE="zh-hans"), 200)
    assert data["data"]["task_type_label"] == "开始外呼"
