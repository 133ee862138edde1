"""Completion notifications: email to the creator, HMAC-signed webhook, never raising into completion."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail
from django.utils import timezone

from calltasks.models import CallTask, LeadTask
from calltasks.services import notifications
from calltasks.services.completion import call_task_check_completion
from calltasks.states import TaskState
from tests.calltasks.services.conftest import make_task
from tests.factories import FollowUpFactory

pytestmark = pytest.mark.django_db


class _Hook:
    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.requests: list[tuple[dict, bytes]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - stdlib name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hook.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = hook.statuses.pop(0) if hook.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook(settings):
    hooks = []

    def start(*statuses):
        hook = _Hook(statuses)
        hooks.append(hook)
        settings.NOTIFY_WEBHOOK_URL = hook.url
        settings.NOTIFY_WEBHOOK_SECRET = "whsec-test"
        return hook

    yield start
    for hook in hooks:
        hook.close()


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(notifications, "WEBHOOK_BACKOFF_SECONDS", 0.01)


def _done_task(org, user, rows=3):
    task = make_task(org, rows, task_type=TaskState.CALLS_DONE, created_by=user, task_name="完成任务")
    for i, row in enumerate(LeadTask.objects.filter(task=task)):
        fu = FollowUpFactory(lead=row.lead, lead_task=row, is_interested=i % 3)
        LeadTask.objects.filter(pk=row.pk).update(
            leads_follow=fu, is_interested=i % 3, is_connected=i > 0, final_at=timezone.now(), call_status="Succeeded"
        )
    return task


def test_completion_sends_email_and_signed_webhook(org, user, webhook, django_capture_on_commit_callbacks):
    user.email = "boss@example.com"
    user.save()
    hook = webhook()
    task = _done_task(org, user)
    with django_capture_on_commit_callbacks(execute=True):
        result = call_task_check_completion(task_id=task.pk)
    assert result.task_type == TaskState.FOLLOWUPS_DONE

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["boss@example.com"]
    assert "完成任务" in message.subject and str(task.pk) in message.subject
    assert "13" not in message.body.replace(str(task.pk), "")  # no phone numbers, only counts

    assert len(hook.requests) == 1
    headers, body = hook.requests[0]
    expected = "sha256=" + hmac.new(b"whsec-test", body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-dcc-signature"], expected)
    assert headers["x-dcc-timestamp"].isdigit()
    payload = json.loads(body)
    assert payload["event"] == "task.completed" and payload["task_id"] == task.pk
    assert payload["task_name"] == "完成任务" and payload["leads_count"] == 3 and payload["connected"] == 2
    assert payload["interest"] == {"interested": 1, "not_interested": 1, "unknown": 1}
    assert payload["completed_at"]


def test_webhook_retries_on_5xx_then_gives_up_quietly(org, user, webhook):
    hook = webhook(503, 200)
    task = _done_task(org, user)
    CallTask.objects.filter(pk=task.pk).update(task_type=TaskState.FOLLOWUPS_DONE)
    assert notifications.task_completed_deliver(task_id=task.pk) == {"email": False, "webhook": True}
    assert len(hook.requests) == 2

    failing = webhook(500, 500, 500, 500)
    assert notifications.task_completed_deliver(task_id=task.pk)["webhook"] is False
    assert len(failing.requests) == notifications.WEBHOOK_ATTEMPTS

    refused = webhook(400)
    assert notifications.task_completed_deliver(task_id=task.pk)["webhook"] is False
    assert len(refused.requests) == 1  # a 4xx is not retried


def test_unreachable_webhook_and_broken_mail_never_raise(org, user, settings, monkeypatch):
    settings.NOTIFY_WEBHOOK_URL = "http://127.0.0.1:9/unreachable"
    user.email = "boss@example.com"
    user.save()
    task = _done_task(org, user)

    def broken_mail(*args, **kwargs):
        raise OSError("smtp down")

    monkeypatch.setattr(notifications, "send_mail", broken_mail)
    assert notifications.task_completed_deliver(task_id=task.pk) == {"email": False, "webhook": False}
    notifications.task_completed_notify(task_id=task.pk)  # queued (sync in tests): no exception either


def test_no_email_without_address_and_no_webhook_without_url(org, user, settings):
    settings.NOTIFY_WEBHOOK_URL = ""
    user.email = ""
    user.save()
    task = _done_task(org, user)
    assert notifications.task_completed_deliver(task_id=task.pk) == {"email": False, "webhook": False}
    assert mail.outbox == []
    assert notifications.task_completed_deliver(task_id=999999) == {"email": False, "webhook": False}
