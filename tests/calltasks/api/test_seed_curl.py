"""The seed documents' curl examples, as written, against a live test server (real HTTP, requests)."""

from __future__ import annotations

import pytest
import requests
from django.utils.translation import gettext as _

from calltasks.models import MonitorState
from calltasks.services.monitor import monitor_is_enabled
from tests.calltasks.api.conftest import finish_row, make_task
from tests.factories import OutboundCallRecordFactory, TokenFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def your_token(org) -> str:
    return TokenFactory(user=UserFactory(organization=org)).key


def curl_post(base: str, path: str, token: str, data: str) -> requests.Response:
    """curl -X POST "<base><path>" -H "Content-Type: application/json" -H "access-token: <token>" -d '<data>'"""
    return requests.post(
        f"{base}{path}",
        headers={"Content-Type": "application/json", "access-token": token},
        data=data.encode(),
        timeout=10,
    )


@pytest.mark.parametrize("prefix", ["", "/api"])
def test_seed_000_curl_examples(live_server, your_token, prefix):
    base = live_server.url + prefix

    started = curl_post(base, "/auto-task", your_token, '{"action": "start"}')
    assert started.status_code == 200
    assert started.json() == {
        "status": "success",
        "code": 200,
        "message": _("Automatic task monitoring started"),
        "data": {"is_running": True, "action": "start"},
    }

    stopped = curl_post(base, "/auto-task", your_token, '{"action": "stop"}')
    assert stopped.status_code == 200
    assert stopped.json()["data"] == {"is_running": False, "action": "stop"}
    assert monitor_is_enabled() is False

    checked = curl_post(base, "/auto-task", your_token, '{"action": "check"}')
    assert checked.status_code == 200 and checked.json()["data"]["action"] == "check"

    curl_post(base, "/auto-task", your_token, '{"action": "start"}')
    assert MonitorState.objects.get().enabled is True


def test_seed_000_without_a_token(live_server):
    response = requests.post(
        f"{live_server.url}/auto-task",
        headers={"Content-Type": "application/json"},
        data=b'{"action": "start"}',
        timeout=10,
    )
    assert response.status_code == 401
    assert response.json()["status"] == "error" and response.json()["code"] == 401


def test_seed_002_requests(live_server, org, your_token):
    task = make_task(org, rows=5)
    for row in task.lead_rows.all():
        finish_row(row, connected=True, status="SucceededFinish")
        OutboundCallRecordFactory(
            lead_task=row, call_task=task, job_group_id=task.job_group_id, call_status="Succeeded"
        )

    response = curl_post(
        live_server.url, "/check_task_completion", your_token, f'{{"task_id": {task.pk}, "task_type": 2}}'
    )

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success" and body["code"] == 200
    assert body["message"] == _("The task is complete: every call was connected")
    assert {k: body["data"][k] for k in ("task_id", "task_type", "is_completed", "total_calls", "connected_calls")} == {
        "task_id": task.pk,
        "task_type": 3,
        "is_completed": True,
        "total_calls": 5,
        "connected_calls": 5,
    }
    headers = {"access-token": your_token}
    same = requests.get(f"{live_server.url}/check_task_completion/{task.pk}", headers=headers, timeout=10).json()
    assert same["data"]["task_type"] == 3 and same["data"]["total_calls"] == 5
    records = requests.get(f"{live_server.url}/api/task_followup_records/{task.pk}", headers=headers, timeout=10)
    assert records.status_code == 200 and records.json()["data"]["task_info"]["is_completed"] is True


def test_malformed_json_over_http(live_server, your_token):
    response = curl_post(live_server.url, "/auto-task", your_token, '{"action": ')
    assert response.status_code == 400
    assert response.json()["code"] == 400 and response.json()["status"] == "error"
