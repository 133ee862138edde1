"""Idempotency-Key on task create and start (seed endpoints and /api/v1/), dcc_project/api/idempotency.py."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from django.db import connections
from django.utils import timezone, translation
from rest_framework.test import APIClient

from calltasks.models import CallTask, IdempotencyRecord
from calltasks.states import TaskState
from dcc_project.api.idempotency import (
    IdempotencyRequestInProgress,
    endpoint_of,
    fingerprint_of,
    idempotency_claim,
)
from tests.calltasks.api.conftest import SeedClient
from tests.calltasks.api.test_envelope import assert_envelope
from tests.factories import LeadFactory, TokenFactory, UserFactory

pytestmark = pytest.mark.django_db

CREATE = {"task_name": "幂等创建", "script_id": "script_demo", "size_desc": {"leads_type": ["C级"]}, "auto_start": False}


@pytest.fixture
def seed(api_client) -> SeedClient:
    return SeedClient(api_client)


@pytest.fixture
def c_leads(org):
    return [LeadFactory(organization=org, leads_type="C级") for _ in range(3)]


def keyed(seed: SeedClient, path: str, body: dict, key: str):
    return seed.post(path, body, HTTP_IDEMPOTENCY_KEY=key)


# --- create ------------------------------------------------------------------------------------------------------


def test_same_key_replays_the_create_and_writes_one_task(seed, c_leads):
    first = keyed(seed, "/create-autoCall-tasks", CREATE, "create-1")
    body = assert_envelope(first, 200)
    assert "Idempotent-Replayed" not in first
    # Same body with another key order, at the other mount and with a trailing slash: the same request.
    reordered = dict(reversed(list(CREATE.items())))
    second = keyed(seed, "/api/create-autoCall-tasks/", reordered, "create-1")
    assert second.status_code == 200
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == body
    assert CallTask.objects.count() == 1
    record = IdempotencyRecord.objects.get()
    assert record.status == IdempotencyRecord.Status.COMPLETED and record.response_status == 200
    assert record.endpoint == "POST /create-autoCall-tasks" and record.organization_id == seed.user.organization_id


def test_without_a_key_every_request_runs(seed, c_leads):
    assert_envelope(seed.post("/create-autoCall-tasks", {**CREATE, "include_active": True}), 200)
    assert_envelope(seed.post("/create-autoCall-tasks", {**CREATE, "include_active": True}), 200)
    assert CallTask.objects.count() == 2
    assert not IdempotencyRecord.objects.exists()


def test_same_key_with_another_body_is_422_in_chinese(seed, c_leads):
    assert_envelope(keyed(seed, "/create-autoCall-tasks", CREATE, "k"), 200)
    with translation.override("zh-hans"):
        response = keyed(seed, "/create-autoCall-tasks", {**CREATE, "task_name": "另一个"}, "k")
    body = assert_envelope(response, 422)
    assert "Idempotency-Key" in body["message"] and "请求" in body["message"], body["message"]
    assert CallTask.objects.count() == 1


def test_the_key_is_per_user_and_per_endpoint(seed, org, c_leads):
    assert_envelope(keyed(seed, "/create-autoCall-tasks", CREATE, "shared"), 200)
    colleague = APIClient()
    colleague.credentials(HTTP_ACCESS_TOKEN=TokenFactory(user=UserFactory(organization=org)).key)
    other = keyed(SeedClient(colleague), "/create-autoCall-tasks", {**CREATE, "include_active": True}, "shared")
    assert_envelope(other, 200)
    assert "Idempotent-Replayed" not in other
    task_id = CallTask.objects.order_by("pk").first().pk
    # The same key on the start endpoint is another request.
    started = keyed(seed, "/start-call-task", {"task_id": task_id}, "shared")
    assert started.status_code != 422
    assert CallTask.objects.count() == 2


@pytest.mark.parametrize("key", ["", "   ", "x" * 256, "键", "bad\x01key"])
def test_malformed_key_is_400_in_the_envelope(seed, c_leads, key):
    with translation.override("zh-hans"):
        body = assert_envelope(keyed(seed, "/create-autoCall-tasks", CREATE, key), 400)
    assert "Idempotency-Key" in body["message"] and "字符" in body["message"], body["message"]
    assert not CallTask.objects.exists() and not IdempotencyRecord.objects.exists()


def test_longest_key_is_accepted(seed, c_leads):
    assert_envelope(keyed(seed, "/create-autoCall-tasks", CREATE, "k" * 255), 200)


def test_request_still_running_with_the_key_is_409(seed, c_leads):
    path_request = type("R", (), {"path": "/create-autoCall-tasks", "method": "POST"})
    idempotency_claim(
        user_id=seed.user.pk,
        organization_id=seed.user.organization_id,
        key="busy",
        endpoint=endpoint_of(path_request),
        fingerprint=fingerprint_of(CREATE),
    )
    with translation.override("zh-hans"):
        body = assert_envelope(keyed(seed, "/create-autoCall-tasks", CREATE, "busy"), 409)
    assert "Idempotency-Key" in body["message"] and "处理" in body["message"], body["message"]
    assert not CallTask.objects.exists()


def test_a_record_left_in_progress_by_a_crash_is_taken_over(seed, c_leads):
    IdempotencyRecord.objects.create(
        user=seed.user,
        organization_id=seed.user.organization_id,
        key="crashed",
        endpoint="POST /create-autoCall-tasks",
        fingerprint=fingerprint_of(CREATE),
        created_at=timezone.now() - dt.timedelta(minutes=11),
    )
    assert_envelope(keyed(seed, "/create-autoCall-tasks", CREATE, "crashed"), 200)
    assert CallTask.objects.count() == 1
    assert IdempotencyRecord.objects.get().status == IdempotencyRecord.Status.COMPLETED


def test_records_expire_after_24_hours(seed, c_leads):
    assert_envelope(keyed(seed, "/create-autoCall-tasks", CREATE, "old"), 200)
    IdempotencyRecord.objects.update(created_at=timezone.now() - dt.timedelta(hours=24, minutes=1))
    again = keyed(seed, "/create-autoCall-tasks", {**CREATE, "include_active": True}, "old")
    assert_envelope(again, 200)
    assert "Idempotent-Replayed" not in again
    assert CallTask.objects.count() == 2
    assert IdempotencyRecord.objects.count() == 1


def test_validation_errors_are_stored_and_replayed(seed, c_leads):
    bad = {"task_name": "", "size_desc": {}}
    first = assert_envelope(keyed(seed, "/create-autoCall-tasks", bad, "bad"), 400)
    second = keyed(seed, "/create-autoCall-tasks", bad, "bad")
    assert second.status_code == 400 and second["Idempotent-Replayed"] == "true"
    assert second.json() == first


# --- start -------------------------------------------------------------------------------------------------------


def created_task(seed) -> int:
    return assert_envelope(seed.post("/create-autoCall-tasks", CREATE), 200)["data"]["task_id"]


def test_same_key_replays_the_start_and_creates_one_job_group(seed, c_leads, simulator):
    task_id = created_task(seed)
    first = assert_envelope(keyed(seed, "/start-call-task", {"task_id": task_id}, "start-1"), 200)
    assert first["data"]["task_type"] == TaskState.CALLING
    second = keyed(seed, "/api/start-call-task", {"task_id": task_id}, "start-1")
    assert second.status_code == 200 and second["Idempotent-Replayed"] == "true"
    assert second.json() == first
    assert simulator.stats()["groups"] == 1
    assert simulator.stats()["requests"].get("CreateJobGroup", 0) == 1
    # Without the key the second start is the usual 409 (already started).
    assert_envelope(seed.post("/start-call-task", {"task_id": task_id}), 409)


def test_a_provider_failure_is_not_stored_so_the_key_can_be_retried(seed, c_leads, simulator):
    task_id = created_task(seed)
    simulator.add_fault("CreateJobGroup", "unavailable", count=10)
    assert_envelope(keyed(seed, "/start-call-task", {"task_id": task_id}, "retry-me"), 502)
    assert not IdempotencyRecord.objects.exists()
    simulator.clear_faults()
    response = keyed(seed, "/start-call-task", {"task_id": task_id}, "retry-me")
    assert assert_envelope(response, 200)["data"]["task_type"] == TaskState.CALLING
    assert "Idempotent-Replayed" not in response


def test_create_with_auto_start_and_a_key_starts_once(seed, c_leads, simulator):
    body = {**CREATE, "auto_start": True}
    first = assert_envelope(keyed(seed, "/create-autoCall-tasks", body, "auto"), 200)
    assert first["data"]["started"] is True
    assert keyed(seed, "/create-autoCall-tasks", body, "auto").json() == first
    assert CallTask.objects.count() == 1 and simulator.stats()["groups"] == 1


# --- REST ----------------------------------------------------------------------------------------------------------


def test_rest_create_and_start_honour_the_key(api_client, c_leads, simulator):
    body = {**CREATE}
    first = api_client.post("/api/v1/call-tasks/", body, format="json", HTTP_IDEMPOTENCY_KEY="rest-c")
    assert first.status_code == 201, first.content
    second = api_client.post("/api/v1/call-tasks/", body, format="json", HTTP_IDEMPOTENCY_KEY="rest-c")
    assert second.status_code == 201 and second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert CallTask.objects.count() == 1

    path = f"/api/v1/call-tasks/{first.json()['id']}/start/"
    started = api_client.post(path, {}, format="json", HTTP_IDEMPOTENCY_KEY="rest-s")
    assert started.status_code == 200, started.content
    again = api_client.post(path, {}, format="json", HTTP_IDEMPOTENCY_KEY="rest-s")
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert simulator.stats()["groups"] == 1

    reused = api_client.post("/api/v1/call-tasks/", {**body, "task_name": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="rest-c")
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"
    bad = api_client.post("/api/v1/call-tasks/", body, format="json", HTTP_IDEMPOTENCY_KEY="")
    assert bad.status_code == 400 and bad.json()["code"] == "idempotency_key_invalid"


# --- concurrency ---------------------------------------------------------------------------------------------------


def _in_thread(target, results: list, barrier: threading.Barrier) -> threading.Thread:
    def run():
        try:
            barrier.wait(timeout=10)
            results.append(target())
        except Exception as exc:  # noqa: BLE001 - collected and asserted by the test
            results.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_of_one_key_let_exactly_one_run(user):
    for attempt in range(10):
        results: list = []
        barrier = threading.Barrier(2)

        def claim(key=f"race-{attempt}"):
            return idempotency_claim(
                user_id=user.pk, organization_id=user.organization_id, key=key, endpoint="POST /x", fingerprint="f"
            )

        threads = [_in_thread(claim, results, barrier) for _ in range(2)]
        for thread in threads:
            thread.join(timeout=30)
        ran = [r for r in results if not isinstance(r, Exception) and r.record is not None]
        refused = [r for r in results if isinstance(r, IdempotencyRequestInProgress)]
        assert len(ran) == 1 and len(refused) == 1, results
    assert IdempotencyRecord.objects.count() == 10


@pytest.mark.django_db(transaction=True)
def test_concurrent_starts_with_one_key_create_one_job_group(token, org, simulator):
    for _ in range(3):
        LeadFactory(organization=org, leads_type="C级")
    client = APIClient()
    client.credentials(HTTP_ACCESS_TOKEN=token.key)
    task_id = created_task(SeedClient(client))
    simulator.add_fault("AssignJobs", "slow", count=1, seconds=0.5)  # keep the first start busy
    results: list = []
    barrier = threading.Barrier(2)

    def start():
        thread_client = APIClient()
        thread_client.credentials(HTTP_ACCESS_TOKEN=token.key)
        response = SeedClient(thread_client).post("/start-call-task", {"task_id": task_id}, HTTP_IDEMPOTENCY_KEY="dbl")
        return response.status_code, response.get("Idempotent-Replayed"), json.loads(response.content)

    threads = [_in_thread(start, results, barrier) for _ in range(2)]
    for thread in threads:
        thread.join(timeout=60)
    assert not [r for r in results if isinstance(r, Exception)], results
    executed = [r for r in results if r[0] == 200 and r[1] is None]
    others = [r for r in results if r not in executed]
    assert len(executed) == 1, results
    assert others[0][0] == 409 or others[0][1] == "true", results
    assert simulator.stats()["groups"] == 1
    assert simulator.stats()["requests"].get("CreateJobGroup", 0) == 1
    assert CallTask.objects.get(pk=task_id).task_type == TaskState.CALLING


def test_a_replay_costs_a_constant_handful_of_queries(seed, c_leads, django_assert_max_num_queries):
    assert_envelope(keyed(seed, "/create-autoCall-tasks", CREATE, "cheap"), 200)
    # token lookup, expiry purge, savepoint + failed insert + rollback, read of the stored record
    with django_assert_max_num_queries(7):
        replay = keyed(seed, "/create-autoCall-tasks", CREATE, "cheap")
    assert replay["Idempotent-Replayed"] == "true"
    assert CallTask.objects.count() == 1
