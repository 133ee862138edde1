"""Task completion notifications (SPEC §4): an email to the creator and an optional signed webhook.

``task_completed_notify`` is called by the completion check after the 3 → 4 commit. It only enqueues
(django-q2 ``async_task``; synchronous in tests) so the completion path is not slowed down; the job
``task_completed_deliver`` sends. Nothing here ever raises into the caller: failures are logged.

Webhook: ``POST NOTIFY_WEBHOOK_URL`` with a JSON body, ``X-DCC-Timestamp: <unix seconds>`` and
``X-DCC-Signature: sha256=<hex HMAC-SHA256 of the raw body with NOTIFY_WEBHOOK_SECRET>``; bounded retries
with backoff on network errors and 5xx/429.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Count, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from calltasks.models import CallTask, LeadTask
from followups.models import Interest

logger = logging.getLogger(__name__)

WEBHOOK_EVENT = "task.completed"
WEBHOOK_TIMEOUT = (5.0, 10.0)
WEBHOOK_ATTEMPTS = 3
WEBHOOK_BACKOFF_SECONDS = 1.0
SIGNATURE_HEADER = "X-DCC-Signature"
TIMESTAMP_HEADER = "X-DCC-Timestamp"


def task_completed_notify(*, task_id: int) -> None:
    """Queue the notifications of a task that reached 4; never raises."""
    try:
        from django_q.tasks import async_task

        async_task(
            "calltasks.tasks.task_completed_deliver",
            task_id=task_id,
            group="notifications",
            task_name=f"notify-task-{task_id}"[:100],
        )
    except Exception:  # a broken queue must not break the completion path
        logger.exception("Could not queue the completion notifications of task %s", task_id)


def completion_summary(task_id: int) -> dict | None:
    """The facts the email and the webhook report (one read of the task, one aggregate over its rows)."""
    task = (
        CallTask.objects.filter(pk=task_id)
        .values("pk", "task_name", "leads_count", "followups_done_at", "created_by_id", "organization_id")
        .first()
    )
    if task is None:
        return None
    counts = LeadTask.objects.filter(task_id=task_id).aggregate(
        total=Count("id"),
        connected=Count("id", filter=Q(is_connected=True)),
        interested=Count("id", filter=Q(is_interested=Interest.INTERESTED)),
        not_interested=Count("id", filter=Q(is_interested=Interest.NOT_INTERESTED)),
        unknown=Count("id", filter=Q(is_interested=Interest.UNDECIDED)),
    )
    completed_at = task["followups_done_at"] or timezone.now()
    return {
        "event": WEBHOOK_EVENT,
        "task_id": task["pk"],
        "task_name": task["task_name"],
        "organization_id": task["organization_id"],
        "leads_count": counts["total"] or task["leads_count"],
        "connected": counts["connected"],
        "failed": counts["total"] - counts["connected"],
        "interest": {
            "interested": counts["interested"],
            "not_interested": counts["not_interested"],
            "unknown": counts["unknown"],
        },
        "completed_at": completed_at.isoformat(),
        "_created_by_id": task["created_by_id"],
    }


def task_completed_deliver(*, task_id: int) -> dict:
    """Send the email and the webhook now (the queued job). Returns what was sent; never raises."""
    sent = {"email": False, "webhook": False}
    try:
        summary = completion_summary(task_id)
    except Exception:
        logger.exception("Could not read task %s for its completion notifications", task_id)
        return sent
    if summary is None:
        return sent
    creator_id = summary.pop("_created_by_id")
    try:
        sent["email"] = _send_email(summary, creator_id)
    except Exception:
        logger.exception("Completion email of task %s failed", task_id)
    try:
        sent["webhook"] = _send_webhook(summary)
    except Exception:
        logger.exception("Completion webhook of task %s failed", task_id)
    return sent


# --- email -------------------------------------------------------------------------------------------------


def _send_email(summary: dict, creator_id: int | None) -> bool:
    if creator_id is None:
        return False
    from django.contrib.auth import get_user_model

    email = get_user_model().objects.filter(pk=creator_id, is_active=True).values_list("email", flat=True).first()
    if not email:
        return False
    interest = summary["interest"]
    params = {
        "name": summary["task_name"],
        "id": summary["task_id"],
        "leads": summary["leads_count"],
        "connected": summary["connected"],
        "failed": summary["failed"],
        "interested": interest["interested"],
        "not_interested": interest["not_interested"],
        "unknown": interest["unknown"],
    }
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("Task %(name)s (ID: %(id)s): all leads followed up") % params
        body = (
            _(
                "The AI outbound-call task %(name)s (ID: %(id)s) is complete: every lead has a follow-up record.\n\n"
                "Leads: %(leads)s\nConnected: %(connected)s\nNot connected: %(failed)s\n"
                "Interested: %(interested)s\nNot interested: %(not_interested)s\nCannot tell: %(unknown)s\n"
            )
            % params
        )
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email], fail_silently=False)
    return True


# --- webhook -----------------------------------------------------------------------------------------------


@sensitive_variables("secret")
def webhook_signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def webhook_body(summary: dict) -> bytes:
    return json.dumps(summary, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


@sensitive_variables("headers")
def _send_webhook(summary: dict) -> bool:
    url = settings.NOTIFY_WEBHOOK_URL
    if not url:
        return False
    body = webhook_body(summary)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "dcc-call-automation/1",
        TIMESTAMP_HEADER: str(int(time.time())),
    }
    if settings.NOTIFY_WEBHOOK_SECRET:
        headers[SIGNATURE_HEADER] = webhook_signature(body, settings.NOTIFY_WEBHOOK_SECRET)
    for attempt in range(1, WEBHOOK_ATTEMPTS + 1):
        try:
            response = requests.post(url, data=body, headers=headers, timeout=WEBHOOK_TIMEOUT, allow_redirects=False)
        except requests.RequestException as exc:
            reason = type(exc).__name__
        else:
            if 200 <= response.status_code < 300:
                return True
            reason = f"HTTP {response.status_code}"
            if response.status_code < 500 and response.status_code != 429:
                logger.warning("Completion webhook of task %s refused: %s", summary["task_id"], reason)
                return False
        logger.warning(
            "Completion webhook of task %s failed (attempt %s/%s): %s",
            summary["task_id"],
            attempt,
            WEBHOOK_ATTEMPTS,
            reason,
        )
        if attempt < WEBHOOK_ATTEMPTS:
            time.sleep(WEBHOOK_BACKOFF_SECONDS * attempt)
    return False
