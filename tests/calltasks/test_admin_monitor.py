"""The monitor page (/admin/monitor/) and the read-only MonitorRun / MonitorState admin."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from calltasks.models import MonitorRun, MonitorState
from calltasks.services.monitor import monitor_is_enabled, monitor_set_enabled
from calltasks.states import TaskState
from followups.demo import supervisor_group
from tests.factories import CallTaskFactory, TokenFactory, UserFactory

pytestmark = pytest.mark.django_db
URL = "/admin/monitor/"


@pytest.fixture
def supervisor(org):
    user = UserFactory(organization=org, username="supervisor")
    user.groups.add(supervisor_group())
    return user


@pytest.fixture
def supervisor_client(client, supervisor):
    client.force_login(supervisor)
    return client


def _run(**kwargs) -> MonitorRun:
    started = kwargs.pop("started_at", timezone.now())
    return MonitorRun.objects.create(
        driver=MonitorRun.Driver.SCHEDULE,
        started_at=started,
        finished_at=started + dt.timedelta(seconds=2.5),
        **kwargs,
    )


def test_page_shows_status_runs_with_errors_highlighted_and_due_tasks(supervisor_client, org, other_org):
    ok = _run(outcome=MonitorRun.Outcome.OK, tasks_checked=3, records_written=7, followups_created=2)
    bad = _run(
        outcome=MonitorRun.Outcome.PARTIAL,
        tasks_checked=2,
        errors=1,
        error_details=[{"task_id": 9, "step": "sync", "error": "ProviderError: Throttling"}],
    )
    soon = CallTaskFactory(organization=org, task_name="待检查任务", task_type=TaskState.CALLING,
                           next_check_at=timezone.now() + dt.timedelta(minutes=5))
    CallTaskFactory(organization=other_org, task_name="别家待检查", task_type=TaskState.CALLING)
    CallTaskFactory(organization=org, task_name="已完成任务", task_type=TaskState.FOLLOWUPS_DONE)

    response = supervisor_client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert reverse("admin:dcc_monitor") == URL
    assert 'id="monitor-status"' in html and 'data-enabled="1"' in html
    assert 'id="monitor-toggle"' in html
    assert f'data-run="{ok.pk}"' in html and f'data-run="{bad.pk}"' in html
    assert html.count('class="monitor-run run-error"') == 1
    assert "ProviderError: Throttling" in html
    assert "2.5" in html  # duration
    assert [task.pk for task in response.context["due_tasks"]] == [soon.pk]
    assert "别家待检查" not in html and "已完成任务" not in html


def test_page_lists_at_most_50_runs_newest_first(supervisor_client, django_assert_max_num_queries):
    now = timezone.now()
    MonitorRun.objects.bulk_create(
        MonitorRun(driver=MonitorRun.Driver.COMMAND, outcome=MonitorRun.Outcome.OK,
                   started_at=now - dt.timedelta(minutes=i), finished_at=now)
        for i in range(60)
    )
    with django_assert_max_num_queries(12):
        response = supervisor_client.get(URL)
    runs = response.context["runs"]
    assert len(runs) == 50
    assert runs[0].started_at == now and runs == sorted(runs, key=lambda r: r.started_at, reverse=True)


def test_toggle_flips_the_same_switch_as_auto_task(supervisor_client, supervisor):
    response = supervisor_client.post(URL, {"enabled": "0"})
    assert response.status_code == 302 and response["Location"] == URL
    state = MonitorState.objects.get(pk=MonitorState.SINGLETON_ID)
    assert state.enabled is False and state.updated_by == "supervisor"
    assert monitor_is_enabled() is False

    api = APIClient()
    api.credentials(HTTP_ACCESS_TOKEN=TokenFactory(user=supervisor).key)
    body = api.post("/auto-task", {"action": "check"}, format="json").json()
    assert body["data"]["is_running"] is False

    page = supervisor_client.get(URL).content.decode()
    assert 'data-enabled="0"' in page
    assert "supervisor" in page  # who changed it

    # /auto-task start is seen by the page.
    assert api.post("/auto-task", {"action": "start"}, format="json").json()["data"]["is_running"] is True
    assert 'data-enabled="1"' in supervisor_client.get(URL).content.decode()

    supervisor_client.post(URL, {"enabled": "1"})
    assert monitor_is_enabled() is True


def test_invalid_switch_value_is_rejected(supervisor_client):
    assert supervisor_client.post(URL, {"enabled": "maybe"}).status_code == 400
    assert monitor_is_enabled() is True


def test_user_without_permission_sees_the_page_but_cannot_toggle(client, org):
    user = UserFactory(organization=org)
    user.user_permissions.add(Permission.objects.get(codename="view_monitorstate"))
    client.force_login(user)
    page = client.get(URL)
    assert page.status_code == 200
    assert 'id="monitor-toggle"' not in page.content.decode()
    assert client.post(URL, {"enabled": "0"}).status_code == 403
    assert monitor_is_enabled() is True


def test_non_staff_is_sent_to_the_login(client, org):
    client.force_login(UserFactory(organization=org, is_staff=False))
    for method in (client.get, client.post):
        response = method(URL)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
    assert monitor_is_enabled() is True


def test_anonymous_is_sent_to_the_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


def test_django_q_links_resolve(client, supervisor_client):
    links = supervisor_client.get(URL).context["django_q_links"]
    models = {link["model"] for link in links}
    assert {"schedule", "success", "failure"} <= models  # OrmQ too when the ORM broker is in use
    for link in links:
        assert supervisor_client.get(link["url"]).status_code == 200, link
    root = UserFactory(organization=None, is_superuser=True)
    client.force_login(root)
    for link in client.get(URL).context["django_q_links"]:
        assert link["url"] == reverse(f"admin:django_q_{link['model']}_changelist")
        assert client.get(link["url"]).status_code == 200, link


def test_monitor_run_admin_is_read_only(supervisor_client, client):
    run = _run(outcome=MonitorRun.Outcome.FAILED, errors=1, error_details=[{"task_id": None, "step": "pass",
                                                                            "error": "boom"}])
    changelist = supervisor_client.get(reverse("admin:calltasks_monitorrun_changelist"))
    assert changelist.status_code == 200
    assert URL in changelist.content.decode()  # link to the monitor page
    assert supervisor_client.get(reverse("admin:calltasks_monitorrun_add")).status_code == 403
    detail = supervisor_client.get(reverse("admin:calltasks_monitorrun_change", args=[run.pk]))
    assert detail.status_code == 200 and "boom" in detail.content.decode()
    assert supervisor_client.post(reverse("admin:calltasks_monitorrun_change", args=[run.pk]),
                                  {"outcome": "ok"}).status_code == 403
    assert supervisor_client.get(reverse("admin:calltasks_monitorrun_delete", args=[run.pk])).status_code == 403
    run.refresh_from_db()
    assert run.outcome == MonitorRun.Outcome.FAILED

    root = UserFactory(organization=None, is_superuser=True)
    client.force_login(root)
    assert client.get(reverse("admin:calltasks_monitorrun_delete", args=[run.pk])).status_code == 200


def test_monitor_state_admin_links_to_the_page_and_is_not_editable(supervisor_client):
    monitor_set_enabled(enabled=False, by="someone")
    changelist = supervisor_client.get(reverse("admin:calltasks_monitorstate_changelist"))
    assert changelist.status_code == 200 and URL in changelist.content.decode()
    assert supervisor_client.get(reverse("admin:calltasks_monitorstate_add")).status_code == 403
    supervisor_client.post(reverse("admin:calltasks_monitorstate_change", args=[1]), {"enabled": "on"})
    assert monitor_is_enabled() is False
