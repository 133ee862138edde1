"""Fixtures of the security suite: two fully populated tenants and a WSGI app that stays inside the test transaction.

``tenant_a`` / ``tenant_b`` each own leads, manual and AI follow-ups, a calling task and a finished task with lead
rows, call records, a stored recording, a staff supervisor holding every permission of the project's apps (the
strongest non-superuser there is) and an API token. Organization B's customer names, phone numbers (full and masked)
and task names are distinctive strings, so a response body can be searched for any of them.
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass, field

import pytest
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from rest_framework.authtoken.models import Token

from calltasks.models import CallTask, LeadTask, OutboundCallRecord
from calltasks.provider import statuses
from calltasks.services.lifecycle import call_task_start
from calltasks.services.recordings import recording_storage
from calltasks.states import TaskState
from dcc_project.phones import mask_phone
from followups.models import FollowUp, Lead, Organization, User
from tests.factories import (
    CallTaskFactory,
    FollowUpFactory,
    LeadFactory,
    LeadTaskFactory,
    OrganizationFactory,
    OutboundCallRecordFactory,
    TokenFactory,
    UserFactory,
)

PROJECT_APPS = ("followups", "calltasks", "django_q", "authtoken")


@dataclass
class Tenant:
    organization: Organization
    user: User
    token: Token
    leads: list[Lead]
    calling_task: CallTask
    done_task: CallTask
    created_task: CallTask
    rows: list[LeadTask]
    records: list[OutboundCallRecord]
    follow_ups: list[FollowUp]
    recording_row: LeadTask
    secrets: list[str] = field(default_factory=list)

    @property
    def tasks(self) -> list[CallTask]:
        return [self.calling_task, self.done_task, self.created_task]

    def leaked_in(self, body: str) -> list[str]:
        """The tenant's distinctive strings (names, full and masked phones, task names) found in ``body``."""
        return [secret for secret in self.secrets if secret in body]


def _phone(block: str, n: int) -> str:
    # 171 virtual-operator prefix, a per-tenant block and a per-tenant suffix range: 11 digits, and the masked
    # forms (171****1001 vs 171****2001) differ between tenants too.
    return f"171{block}{block[0]}{n:03d}"


def build_tenant(tag: str, code: str, phone_block: str) -> Tenant:
    """One organization with every kind of object the API and the admin show (needs the simulator)."""
    organization = OrganizationFactory(name=f"{tag}经销商", code=code)
    user = UserFactory(organization=organization, username=f"sup-{code.lower()}", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=PROJECT_APPS))
    token = TokenFactory(user=user)
    leads = [
        LeadFactory(
            organization=organization,
            leads_id=f"{code}-L{n}",
            leads_user_name=f"{tag}客户{n}号",
            leads_user_phone=_phone(phone_block, n),
            leads_type="H级",
            leads_product="星越L",
        )
        for n in range(1, 5)
    ]
    manual = [FollowUpFactory(lead=lead, leads_remark=f"{tag}人工备注{lead.pk}") for lead in leads[:2]]
    now = timezone.now()
    # Both tasks are started for real on the simulator, so provider calls about them (pause, cancel, sync) work;
    # the finished task's rows are then given their final outcome as the sync and the follow-up writer would.
    calling_task = CallTaskFactory(
        organization=organization, task_name=f"{tag}外呼任务", script_id="script_demo", leads_count=2, created_by=user
    )
    done_task = CallTaskFactory(
        organization=organization, task_name=f"{tag}已完成任务", script_id="script_demo", leads_count=2, created_by=user
    )
    created_task = CallTaskFactory(
        organization=organization, task_name=f"{tag}新建任务", task_type=TaskState.CREATED, leads_count=1
    )
    for lead in leads[:2]:
        LeadTaskFactory(task=calling_task, lead=lead)
    for lead in leads[2:4]:
        LeadTaskFactory(task=done_task, lead=lead)
    LeadTaskFactory(task=created_task, lead=leads[3])
    calling_task = call_task_start(task_id=calling_task.pk, organization_id=organization.pk)
    call_task_start(task_id=done_task.pk, organization_id=organization.pk)
    CallTask.objects.filter(pk=done_task.pk).update(
        task_type=TaskState.FOLLOWUPS_DONE, calls_done_at=now, followups_done_at=now
    )
    done_task.refresh_from_db()
    rows, records, ai_follow_ups = [], [], []
    for n, row in enumerate(LeadTask.objects.filter(task=done_task).select_related("lead").order_by("pk"), start=1):
        row.call_status = statuses.JOB_SUCCEEDED
        row.last_task_status = "SucceededFinish"
        row.is_connected = True
        row.final_at = now
        row.attempts = 1
        row.call_duration = 30
        row.call_conversation = [
            {"Speaker": "Robot", "Script": "您好"},
            {"Speaker": "Contact", "Script": f"{tag}客户说周末到店"},
        ]
        follow = FollowUpFactory(
            lead=row.lead, lead_task=row, is_interested=1, source="ai_call", leads_remark=f"{tag}AI跟进{n}"
        )
        row.leads_follow = follow
        row.is_interested = 1
        row.save()
        rows.append(row)
        ai_follow_ups.append(follow)
        records.append(
            OutboundCallRecordFactory(
                lead_task=row,
                call_task=done_task,
                job_group_id=done_task.job_group_id,
                called_number=mask_phone(row.lead.leads_user_phone),
            )
        )
    recording_row = rows[0]
    name = recording_storage().save(
        f"recordings/security-tests/{uuid.uuid4().hex}.wav",
        ContentFile(b"RIFF" + f"{tag}录音内容".encode() + b"WAVEfmt "),
    )
    LeadTask.objects.filter(pk=recording_row.pk).update(recording_file=name)
    recording_row.refresh_from_db()
    secrets = [organization.name, f"{tag}录音内容"]
    for lead in leads:
        secrets += [lead.leads_user_name, lead.leads_user_phone, mask_phone(lead.leads_user_phone)]
    secrets += [task.task_name for task in (calling_task, done_task, created_task)]
    secrets += [follow.leads_remark for follow in manual + ai_follow_ups]
    return Tenant(
        organization=organization,
        user=user,
        token=token,
        leads=leads,
        calling_task=calling_task,
        done_task=done_task,
        created_task=created_task,
        rows=list(LeadTask.objects.filter(task__organization=organization).order_by("pk")),
        records=records,
        follow_ups=manual + ai_follow_ups,
        recording_row=recording_row,
        secrets=secrets,
    )


def _remove_recordings(*tenants: Tenant) -> None:
    storage = recording_storage()
    for tenant in tenants:
        name = tenant.recording_row.recording_file.name
        if name and storage.exists(name):
            storage.delete(name)


@pytest.fixture
def tenant_a(db, shared_simulator) -> Tenant:
    tenant = build_tenant("甲", "SEC-A", "1111")
    yield tenant
    _remove_recordings(tenant)


@pytest.fixture
def tenant_b(db, shared_simulator) -> Tenant:
    tenant = build_tenant("乙", "SEC-B", "2222")
    yield tenant
    _remove_recordings(tenant)


@pytest.fixture
def wsgi_app(db):
    """The project's real WSGI application, called in-process.

    Like Django's test client, the request signals do not close the database connection, so requests see and
    change the test's transaction (rolled back afterwards) instead of breaking it.
    """
    from django.core.wsgi import get_wsgi_application

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Figures of the fuzzing run (for docs/reliability.md)."""
    module = sys.modules.get("tests.security.test_fuzz_api")
    stats = getattr(module, "FUZZ_STATS", None)
    if not stats or not stats["examples"]:
        return
    terminalreporter.section("schemathesis fuzzing")
    by_class = ", ".join(f"{key}: {value}" for key, value in sorted(stats["by_class"].items()))
    terminalreporter.write_line(
        f"operations fuzzed: {len(stats['operations'])}, examples run: {stats['examples']} ({by_class}), "
        f"server errors: {stats['server_errors']}"
    )
    for line in sorted(stats["undocumented"]):
        terminalreporter.write_line(f"undocumented status: {line}")
