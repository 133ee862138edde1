"""Tenant isolation matrix: a supervisor of organization A against every route, aimed at organization B's objects.

Every non-admin route of the URL resolver has an entry in ``API_MATRIX`` (``test_matrix_covers_every_route`` fails
when a new route appears without one). Each probe targets B's objects (tasks in every state, lead rows, call
records, follow-ups, leads, the stored recording) with A's token and must answer 404/403 — or, for lists and
batch calls, 200 without any of B's data. After every probe B's objects are unchanged, and no response body
contains B's customer names, phone numbers (full or masked), task names, remarks or recording bytes. Positive
controls prove each detail route works for A's own object, so a 404 means scoping, not a broken route.

The admin half of the matrix (every registered model with an organization: changelist, change, delete, history;
the dashboard, the monitor page and the custom task/lead views) is in ``test_admin_isolation.py``.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass

import pytest
from django.test import Client

from calltasks.models import CallTask, LeadTask, OutboundCallRecord
from followups.models import FollowUp, Lead
from tests.security.conftest import Tenant
from tests.security.routes import api_routes

pytestmark = pytest.mark.django_db

DENIED = frozenset({403, 404})
OK = frozenset({200})


@dataclass(frozen=True)
class Probe:
    method: str
    path: str
    body: dict | None = None
    expect: frozenset = DENIED
    session: bool = False  # admin-style session login instead of the API token


def _seed(prefix: str, slash: str):
    """Probes of one mount of the seed endpoints (``/`` or ``/api/``), with or without the trailing slash."""

    def route(name: str) -> str:
        return f"{prefix}{name}{slash}"

    return {
        "task-create": lambda b: [
            Probe(
                "POST",
                route("create-autoCall-tasks"),
                {"task_name": "越权任务", "leads_ids": _lead_ids(b)},
                frozenset({400, 404, 409, 422}),
            ),
        ],
        "task-execution": lambda b: [
            Probe("POST", route("query-task-execution"), {"task_id": b.done_task.pk}),
            Probe("POST", route("query-task-execution"), {"task_id": b.calling_task.pk, "refresh": True}),
        ],
        "auto-task": lambda b: [Probe("POST", route("auto-task"), {"action": "check"}, OK)],
        "completion-check": lambda b: [
            Probe("POST", route("check_task_completion"), {"task_id": b.calling_task.pk}),
            Probe("POST", route("check_task_completion"), {"task_ids": [t.pk for t in b.tasks]}, OK),
        ],
        "completion-check-detail": lambda b: [Probe("GET", route(f"check_task_completion/{b.calling_task.pk}"))],
        "task-followup-records": lambda b: [Probe("GET", route(f"task_followup_records/{b.done_task.pk}"))],
        "task-start": lambda b: [Probe("POST", route("start-call-task"), {"task_id": b.created_task.pk})],
        "task-suspend-resume": lambda b: [
            Probe("POST", route("suspend-resume-task"), {"action": "suspend", "task_id": b.calling_task.pk}),
            Probe("POST", route("suspend-resume-task"), {"action": "resume", "task_id": b.calling_task.pk}),
        ],
        "task-cancel": lambda b: [Probe("POST", route("cancel-call-task"), {"task_id": b.calling_task.pk})],
        "task-delete": lambda b: [
            Probe("POST", route("delete-call-task"), {"task_id": b.done_task.pk}),
            Probe("POST", route("delete-call-task"), {"task_id": b.created_task.pk}),
        ],
    }


def _lead_ids(tenant: Tenant) -> list[str]:
    return [lead.leads_id for lead in tenant.leads]


def _rest():
    v1 = "/api/v1"
    return {
        "api-root": lambda b: [Probe("GET", f"{v1}/", expect=OK)],
        "lead-list": lambda b: [
            Probe("GET", f"{v1}/leads/", expect=OK),
            Probe("GET", f"{v1}/leads/?leads_id={b.leads[0].leads_id}", expect=OK),
        ],
        "lead-detail": lambda b: [Probe("GET", f"{v1}/leads/{b.leads[0].pk}/")],
        "call-task-list": lambda b: [
            Probe("GET", f"{v1}/call-tasks/", expect=OK),
            Probe("GET", f"{v1}/call-tasks/?task_name=乙", expect=OK),
            Probe(
                "POST",
                f"{v1}/call-tasks/",
                {"task_name": "越权任务", "leads_ids": _lead_ids(b)},
                frozenset({400, 404, 409, 422}),
            ),
        ],
        "call-task-detail": lambda b: [
            Probe("GET", f"{v1}/call-tasks/{b.done_task.pk}/"),
            Probe("DELETE", f"{v1}/call-tasks/{b.done_task.pk}/"),
            Probe("DELETE", f"{v1}/call-tasks/{b.created_task.pk}/"),
        ],
        "call-task-start": lambda b: [Probe("POST", f"{v1}/call-tasks/{b.created_task.pk}/start/", {})],
        "call-task-pause": lambda b: [Probe("POST", f"{v1}/call-tasks/{b.calling_task.pk}/pause/", {})],
        "call-task-resume": lambda b: [Probe("POST", f"{v1}/call-tasks/{b.calling_task.pk}/resume/", {})],
        "call-task-cancel": lambda b: [Probe("POST", f"{v1}/call-tasks/{b.calling_task.pk}/cancel/", {})],
        "call-task-sync": lambda b: [Probe("POST", f"{v1}/call-tasks/{b.calling_task.pk}/sync/", {})],
        "call-task-check-completion": lambda b: [
            Probe("POST", f"{v1}/call-tasks/{b.calling_task.pk}/check-completion/", {})
        ],
        "call-task-stats": lambda b: [Probe("GET", f"{v1}/call-tasks/{b.done_task.pk}/stats/")],
        "lead-row-list": lambda b: [
            Probe("GET", f"{v1}/lead-rows/", expect=OK),
            Probe("GET", f"{v1}/lead-rows/?task={b.done_task.pk}", expect=OK),
        ],
        "lead-row-detail": lambda b: [Probe("GET", f"{v1}/lead-rows/{b.rows[0].pk}/")],
        "call-record-list": lambda b: [
            Probe("GET", f"{v1}/call-records/", expect=OK),
            Probe("GET", f"{v1}/call-records/?task={b.done_task.pk}", expect=OK),
        ],
        "call-record-detail": lambda b: [Probe("GET", f"{v1}/call-records/{b.records[0].pk}/")],
        "follow-up-list": lambda b: [
            Probe("GET", f"{v1}/follow-ups/", expect=OK),
            Probe("GET", f"{v1}/follow-ups/?lead={b.leads[0].pk}", expect=OK),
            Probe("GET", f"{v1}/follow-ups/?task={b.done_task.pk}", expect=OK),
        ],
        "follow-up-detail": lambda b: [Probe("GET", f"{v1}/follow-ups/{b.follow_ups[0].pk}/")],
        "task-statistics-list": lambda b: [Probe("GET", f"{v1}/task-statistics/", expect=OK)],
        "task-statistics-detail": lambda b: [Probe("GET", f"{v1}/task-statistics/{b.done_task.pk}/")],
        "recording": lambda b: [
            Probe("GET", f"/recordings/{b.recording_row.pk}/"),
            Probe("GET", f"/recordings/{b.recording_row.pk}/", session=True),
        ],
        # Not object-scoped, but must not reveal another organization either.
        "api-login": lambda b: [
            Probe("POST", "/api/login", {"username": b.user.username, "password": "wrong"}, frozenset({401}))
        ],
        "api-schema": lambda b: [Probe("GET", "/api/schema/", expect=OK)],
        "api-docs": lambda b: [Probe("GET", "/api/docs/", expect=OK)],
    }


def _build_matrix() -> dict:
    matrix = dict(_rest())
    for namespace, prefix in (("seed", "/"), ("seed-api", "/api/")):
        for slash, suffix in (("", ""), ("/", "-slash")):
            for name, probes in _seed(prefix, slash).items():
                matrix[f"{namespace}:{name}{suffix}"] = probes
    return matrix


API_MATRIX = _build_matrix()


def test_matrix_covers_every_route():
    """A new route without isolation probes fails here: add it to API_MATRIX."""
    routes = {route.name: route.pattern for route in api_routes()}
    missing = sorted(f"{name} ({pattern})" for name, pattern in routes.items() if name not in API_MATRIX)
    stale = sorted(set(API_MATRIX) - set(routes))
    assert not missing, f"routes without tenant-isolation probes: {missing}"
    assert not stale, f"probes for routes that no longer exist: {stale}"


# --- running probes ---------------------------------------------------------------------------------------------


def client_for(tenant: Tenant, *, session: bool = False) -> Client:
    client = Client()
    if session:
        client.force_login(tenant.user)
    else:
        client.defaults["HTTP_ACCESS_TOKEN"] = tenant.token.key
    return client


def send(client: Client, probe: Probe):
    if probe.method == "GET":
        return client.get(probe.path)
    payload = json.dumps(probe.body) if probe.body is not None else ""
    return client.generic(probe.method, probe.path, payload, content_type="application/json")


def body_texts(response) -> str:
    """The body as sent, plus JSON re-serialized without ASCII escapes (so ``\\u4e59`` cannot hide a name)."""
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    text = raw.decode("utf-8", errors="replace")
    with contextlib.suppress(ValueError):
        text += "\n" + json.dumps(json.loads(raw), ensure_ascii=False)
    return text


def snapshot(tenant: Tenant) -> dict:
    """Everything a probe could change about B's objects."""
    org = tenant.organization
    return {
        "tasks": list(
            CallTask.objects.filter(organization=org)
            .order_by("pk")
            .values_list(
                "pk",
                "task_type",
                "deleted_at",
                "paused_at",
                "cancelled_at",
                "started_at",
                "job_group_id",
                "last_checked_at",
                "task_name",
            )
        ),
        "rows": list(
            LeadTask.objects.filter(task__organization=org)
            .order_by("pk")
            .values_list("pk", "call_status", "final_at", "is_interested", "leads_follow_id")
        ),
        "records": OutboundCallRecord.objects.filter(call_task__organization=org).count(),
        "follow_ups": FollowUp.objects.filter(lead__organization=org).count(),
        "leads": Lead.objects.filter(organization=org).count(),
        "b_leads_in_other_tasks": LeadTask.objects.filter(lead__organization=org)
        .exclude(task__organization=org)
        .count(),
    }


def test_isolation_matrix(tenant_a: Tenant, tenant_b: Tenant):
    """Every probe of every route (one setup for the whole matrix; all failures are reported together)."""
    failures, probes_run = [], 0
    before = snapshot(tenant_b)
    for route_name in sorted(API_MATRIX):
        probes = API_MATRIX[route_name](tenant_b)
        assert probes, route_name
        for probe in probes:
            probes_run += 1
            response = send(client_for(tenant_a, session=probe.session), probe)
            text = body_texts(response)
            if response.status_code not in probe.expect:
                failures.append(f"{route_name}: {probe.method} {probe.path} → {response.status_code}: {text[:300]}")
            leaked = tenant_b.leaked_in(text)
            if leaked:
                failures.append(f"{route_name}: {probe.method} {probe.path} leaked {leaked}")
            if snapshot(tenant_b) != before:
                failures.append(f"{route_name}: {probe.method} {probe.path} changed organization B's objects")
                before = snapshot(tenant_b)
    assert not failures, "\n".join(failures)
    assert probes_run >= len(API_MATRIX)


# --- positive controls: the same routes work for the owner -----------------------------------------------------------

OWN_GETS = {
    "lead-list": lambda a: ("/api/v1/leads/", a.leads[0].leads_user_name),
    "lead-detail": lambda a: (f"/api/v1/leads/{a.leads[0].pk}/", a.leads[0].leads_user_name),
    "call-task-list": lambda a: ("/api/v1/call-tasks/", a.done_task.task_name),
    "call-task-detail": lambda a: (f"/api/v1/call-tasks/{a.done_task.pk}/", a.done_task.task_name),
    "call-task-stats": lambda a: (f"/api/v1/call-tasks/{a.done_task.pk}/stats/", '"total_leads"'),
    "lead-row-list": lambda a: (f"/api/v1/lead-rows/?task={a.done_task.pk}", a.rows[-1].leads_name),
    "lead-row-detail": lambda a: (f"/api/v1/lead-rows/{a.recording_row.pk}/", a.recording_row.leads_name),
    "call-record-list": lambda a: (f"/api/v1/call-records/?task={a.done_task.pk}", a.records[0].job_id),
    "call-record-detail": lambda a: (f"/api/v1/call-records/{a.records[0].pk}/", a.records[0].job_id),
    "follow-up-list": lambda a: ("/api/v1/follow-ups/", a.follow_ups[0].leads_remark),
    "follow-up-detail": lambda a: (f"/api/v1/follow-ups/{a.follow_ups[0].pk}/", a.follow_ups[0].leads_remark),
    "task-statistics-list": lambda a: ("/api/v1/task-statistics/", a.done_task.task_name),
    "task-statistics-detail": lambda a: (f"/api/v1/task-statistics/{a.done_task.pk}/", a.done_task.task_name),
    "seed:task-followup-records": lambda a: (f"/task_followup_records/{a.done_task.pk}", a.follow_ups[-1].leads_remark),
    "seed-api:completion-check-detail": lambda a: (f"/api/check_task_completion/{a.done_task.pk}", '"is_completed"'),
    "recording": lambda a: (f"/recordings/{a.recording_row.pk}/", "甲录音内容"),
}


def test_owner_sees_own_objects(tenant_a: Tenant, tenant_b: Tenant):
    failures = []
    for route_name in sorted(OWN_GETS):
        path, expected = OWN_GETS[route_name](tenant_a)
        response = client_for(tenant_a).get(path)
        text = body_texts(response)
        if response.status_code != 200 or expected not in text:
            failures.append(f"{route_name}: GET {path} → {response.status_code}, {expected!r} missing: {text[:200]}")
        if tenant_b.leaked_in(text):
            failures.append(f"{route_name}: GET {path} leaked {tenant_b.leaked_in(text)}")
    assert not failures, "\n".join(failures)


def test_owner_posts_reach_own_tasks(tenant_a: Tenant, tenant_b: Tenant):
    """The POST probes above are 404 because of scoping: the same calls on A's own tasks succeed."""
    client = client_for(tenant_a)
    post = lambda path, body: client.generic("POST", path, json.dumps(body), content_type="application/json")  # noqa: E731
    assert post("/query-task-execution", {"task_id": tenant_a.done_task.pk}).status_code == 200
    assert post("/api/check_task_completion", {"task_id": tenant_a.done_task.pk}).status_code == 200
    assert post(f"/api/v1/call-tasks/{tenant_a.done_task.pk}/check-completion/", {}).status_code == 200
    assert post("/delete-call-task", {"task_id": tenant_a.done_task.pk}).status_code == 200
    assert CallTask.objects.get(pk=tenant_a.done_task.pk).deleted_at is not None
