"""The supervisors' task admin: list (badges, progress, interest, constant queries), task page, lead-row page
(dialogue, recording), actions against the simulator, Excel export, re-judge and organization scoping."""

from __future__ import annotations

import io
import re

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from calltasks.models import CallTask, LeadTask, OutboundCallRecord
from calltasks.provider import statuses
from calltasks.services.recordings import recording_storage
from calltasks.states import TaskState
from followups.demo import supervisor_group
from followups.models import FollowUp
from tests.calltasks.services.conftest import make_task
from tests.factories import OutboundCallRecordFactory, UserFactory
from tests.test_e2e_pipeline import Clock, run_until_done, started_task

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:calltasks_calltask_changelist"
HEADERS = ["姓名", "手机号", "有无意向", "下次跟进时间", "备注", "通话时长", "跟进时间"]


@pytest.fixture
def supervisor(org):
    user = UserFactory(organization=org, is_staff=True)
    user.groups.add(supervisor_group())
    return user


@pytest.fixture
def client_sv(supervisor):
    client = Client()
    client.force_login(supervisor)
    return client


@pytest.fixture
def client_admin(db):
    client = Client()
    client.force_login(UserFactory(organization=None, is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def private_storage(tmp_path):
    storage = recording_storage()
    old = storage.location
    storage._location = str(tmp_path)
    storage.__dict__.pop("base_location", None)
    storage.__dict__.pop("location", None)
    yield tmp_path
    storage._location = old
    storage.__dict__.pop("base_location", None)
    storage.__dict__.pop("location", None)


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _task_url(task) -> str:
    return reverse("admin:calltasks_calltask_change", args=[task.pk])


def _row_url(row) -> str:
    return reverse("admin:calltasks_leadtask_change", args=[row.pk])


def _sheet(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content) if response.streaming else response.content))
    assert workbook.sheetnames == ["跟进记录"]
    return workbook["跟进记录"]


def _set_outcomes(task):
    """Rows 0-3 final, rows 0-2 connected, follow-ups: interested, not interested, cannot tell."""
    rows = list(LeadTask.objects.filter(task=task).select_related("lead").order_by("id"))
    for index, row in enumerate(rows[:4]):
        row.final_at = task.create_time
        row.is_connected = index < 3
        row.call_status = "Succeeded" if index < 3 else "Failed"
        row.last_task_status = "SucceededFinish" if index < 3 else "NoAnswer"
        row.save()
    for row, interest in zip(rows[:3], (1, 2, 0), strict=True):
        follow_up = FollowUp.objects.create(
            lead=row.lead, lead_task=row, source=FollowUp.Source.AI_CALL, is_interested=interest, leads_remark="备注"
        )
        LeadTask.objects.filter(pk=row.pk).update(leads_follow=follow_up, is_interested=interest)
    return rows


# --- task list -------------------------------------------------------------------------------------------------


def test_changelist_shows_badges_progress_and_interest(client_sv, org):
    task = make_task(org, 6, task_type=TaskState.CALLING, task_name="十一月回访")
    _set_outcomes(task)
    response = client_sv.get(reverse(CHANGELIST))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<span class="state-badge state-2"' in html and "十一月回访" in html
    assert 'data-called="4" data-connected="3" data-followed="3" data-total="6"' in html
    for label, count in (("有意向", 1), ("无意向", 1), ("无法判断", 1), ("待跟进", 3)):
        assert re.search(rf"{label} <b>{count}</b>", html), label
    # Filters and search are there and work.
    assert client_sv.get(reverse(CHANGELIST), {"task_type__exact": "1"}).content.decode().count("十一月回访") == 0
    assert "十一月回访" in client_sv.get(reverse(CHANGELIST), {"q": "十一月"}).content.decode()
    assert "十一月回访" not in client_sv.get(reverse(CHANGELIST), {"q": "不存在"}).content.decode()


def _changelist_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    return len(queries)


def test_changelist_query_count_does_not_grow_with_tasks(client_sv, org, supervisor):
    for _ in range(5):
        make_task(org, 3, created_by=supervisor)
    client_sv.get(reverse(CHANGELIST))  # warm the per-process caches (content types)
    five = _changelist_queries(client_sv)
    for _ in range(95):
        make_task(org, 3, created_by=supervisor)
    hundred = _changelist_queries(client_sv)
    assert CallTask.objects.filter(organization=org).count() == 100
    assert hundred == five


def test_add_view_is_the_create_form(client_sv):
    response = client_sv.get(reverse("admin:calltasks_calltask_add"))
    assert response.status_code == 200
    assert 'name="_task_action"' not in response.content.decode()


def _page_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_task_page_and_row_list_queries_do_not_grow_with_rows(client_sv, org):
    small, large = make_task(org, 5), make_task(org, 120)
    _set_outcomes(small)
    _set_outcomes(large)
    client_sv.get(_task_url(small))  # warm the per-process caches (content types)
    assert _page_queries(client_sv, _task_url(small)) == _page_queries(client_sv, _task_url(large))
    rows = reverse("admin:calltasks_leadtask_changelist")
    assert _page_queries(client_sv, f"{rows}?task__id__exact={small.pk}") == _page_queries(
        client_sv, f"{rows}?task__id__exact={large.pk}"
    )


def test_every_provider_status_has_a_chinese_label_in_the_row_list(client_sv, org):
    names = list(statuses.TASK_STATUSES)
    task = make_task(org, len(names))
    for row, name in zip(LeadTask.objects.filter(task=task).order_by("pk"), names, strict=True):
        LeadTask.objects.filter(pk=row.pk).update(last_task_status=name, call_status=statuses.JOB_FAILED)
    html = client_sv.get(reverse("admin:calltasks_leadtask_changelist"), {"task__id__exact": task.pk}).content.decode()
    for name, (_code, label, _connected) in statuses.TASK_STATUSES.items():
        assert str(label) in html, name
        assert re.search(r"[\u4e00-\u9fff]", str(label)), (name, str(label))  # translated, not the English msgid
    assert f">{statuses.status_label(statuses.JOB_FAILED)}<" in html


# --- scoping ------------------------------------------------------------------------------------------------


def test_supervisor_sees_only_their_organization(client_sv, client_admin, org, other_org):
    mine = make_task(org, 2, task_name="本店任务")
    theirs = make_task(other_org, 2, task_name="别家任务")
    their_row = LeadTask.objects.filter(task=theirs).first()
    record = OutboundCallRecordFactory(lead_task=their_row, provider_task_id="their-call")

    html = client_sv.get(reverse(CHANGELIST)).content.decode()
    assert "本店任务" in html and "别家任务" not in html
    for url in (_task_url(theirs), _row_url(their_row),
                reverse("admin:calltasks_outboundcallrecord_change", args=[record.pk])):
        response = client_sv.get(url)
        assert response.status_code in (302, 404)
        assert "别家任务" not in response.content.decode()
    rows_html = client_sv.get(reverse("admin:calltasks_leadtask_changelist")).content.decode()
    assert their_row.leads_name not in rows_html
    assert "their-call" not in client_sv.get(reverse("admin:calltasks_outboundcallrecord_changelist")).content.decode()
    # A button posted at another organization's task is a 404, and nothing happens.
    assert client_sv.post(_task_url(theirs), {"_task_action": "pause"}).status_code == 404
    # The creator filter lists only users whose tasks are visible.
    assert client_sv.get(reverse(CHANGELIST), {"q": "别家"}).status_code == 200
    # A superuser sees everything.
    html = client_admin.get(reverse(CHANGELIST)).content.decode()
    assert "本店任务" in html and "别家任务" in html
    assert client_admin.get(_task_url(theirs)).status_code == 200
    assert mine.pk != theirs.pk


# --- task page ----------------------------------------------------------------------------------------------


def test_task_page_summary_buttons_rows_and_read_only_fields(client_sv, org):
    task = make_task(org, 4, task_type=TaskState.CALLING, job_group_id="jg-page", strategy={"maxAttemptsPerDay": 3})
    rows = _set_outcomes(task)
    response = client_sv.get(_task_url(task))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<div id="task-actions"' in html
    buttons = re.findall(r'name="_task_action" value="(\w+)"', html)
    assert buttons == ["pause", "cancel", "check", "export"]
    assert 'class="task-progress" data-called="4" data-connected="3" data-followed="3" data-total="4"' in html
    assert "maxAttemptsPerDay" in html
    # Lead rows with Chinese statuses, masked phones, links to the row pages.
    assert _row_url(rows[0]) in html and rows[0].leads_phone not in html
    assert "已接通" in html or "接通" in html
    # Only the name is editable on a running task.
    form = response.context["adminform"].form
    assert list(form.fields) == ["task_name"]
    response = client_sv.post(_task_url(task), {"task_name": "改名后的任务"})
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.task_name == "改名后的任务" and task.task_type == TaskState.CALLING and task.job_group_id == "jg-page"


def test_created_task_offers_start_and_its_script(client_sv, org):
    task = make_task(org, 2, task_type=TaskState.CREATED)
    response = client_sv.get(_task_url(task))
    assert re.findall(r'name="_task_action" value="(\w+)"', response.content.decode()) == ["start", "export"]
    assert set(response.context["adminform"].form.fields) == {"task_name", "script_id"}


def test_lead_row_page_masks_phone_without_permission(client_sv, org):
    task = make_task(org, 1)
    row = LeadTask.objects.get(task=task)
    assert row.leads_phone in client_sv.get(_row_url(row)).content.decode()  # the supervisor group may see it
    plain = UserFactory(organization=org, is_staff=True)
    plain.groups.add(supervisor_group())
    plain.user_permissions.clear()
    from django.contrib.auth.models import Group, Permission

    limited = Group.objects.create(name="no-phones")
    limited.permissions.set(Permission.objects.filter(content_type__app_label="calltasks"))
    plain.groups.set([limited])
    client = Client()
    client.force_login(plain)
    html = client.get(_row_url(row)).content.decode()
    assert row.leads_phone not in html and row.masked_phone in html
    # The row page is read-only.
    assert client.post(_row_url(row), {"leads_name": "x"}).status_code == 403
    # Their export masks phone numbers too; the supervisor's has them in full.
    sheet = _sheet(client.post(_task_url(task), {"_task_action": "export"}))
    assert sheet.cell(row=2, column=2).value == row.masked_phone
    sheet = _sheet(client_sv.post(_task_url(task), {"_task_action": "export"}))
    assert sheet.cell(row=2, column=2).value == row.leads_phone


# --- actions against the simulator ----------------------------------------------------------------------------


def _action(client, name, tasks, **extra):
    data = {"action": name, "_selected_action": [t.pk for t in tasks], **extra}
    return client.post(reverse(CHANGELIST), data, follow=True)


@pytest.mark.django_db(transaction=True)
def test_start_pause_resume_check_cancel_through_the_admin(simulator, client_sv, org):
    task = make_task(org, 5, task_type=TaskState.CREATED, script_id="script-admin")

    # Start from the list: a confirmation page first, nothing started yet.
    response = _action(client_sv, "start_tasks", [task])
    assert response.status_code == 200 and 'id="confirm-action"' in response.content.decode()
    assert CallTask.objects.get(pk=task.pk).task_type == TaskState.CREATED
    response = _action(client_sv, "start_tasks", [task], confirm="yes")
    task.refresh_from_db()
    assert task.task_type == TaskState.CALLING and task.job_group_id
    assert any("已开始" in m or "started" in m for m in _messages(response)), _messages(response)
    # A double click: a clear error, not a 500, no second job group.
    response = _action(client_sv, "start_tasks", [task], confirm="yes")
    assert response.status_code == 200
    assert any("只有已创建的任务才能启动" in m for m in _messages(response)), _messages(response)
    assert CallTask.objects.filter(job_group_id=task.job_group_id).count() == 1

    # Pause with the task page's button.
    response = client_sv.post(_task_url(task), {"_task_action": "pause"}, follow=True)
    assert CallTask.objects.get(pk=task.pk).task_type == TaskState.PAUSED
    assert response.redirect_chain[-1][0] == _task_url(task)
    # Pausing again: the state error, shown on the page.
    response = client_sv.post(_task_url(task), {"_task_action": "pause"}, follow=True)
    errors = [m for m in get_messages(response.wsgi_request) if m.level_tag == "error"]
    assert response.status_code == 200 and len(errors) == 1
    assert str(errors[0]) in response.content.decode()  # shown on the task page
    # Resume from the list.
    _action(client_sv, "resume_tasks", [task])
    assert CallTask.objects.get(pk=task.pk).task_type == TaskState.CALLING

    # Check now: one monitor turn against the simulator.
    simulator.run_until_final(task.job_group_id)
    response = client_sv.post(_task_url(task), {"_task_action": "check"}, follow=True)
    text = " ".join(_messages(response))
    assert "检查" in text or "checked" in text, text
    assert OutboundCallRecord.objects.filter(call_task=task).exists()


@pytest.mark.django_db(transaction=True)
def test_cancel_from_the_task_page_asks_first(simulator, client_sv, org):
    task = make_task(org, 5, task_type=TaskState.CREATED, script_id="script-admin")
    _action(client_sv, "start_tasks", [task], confirm="yes")
    assert CallTask.objects.get(pk=task.pk).task_type == TaskState.CALLING
    response = client_sv.post(_task_url(task), {"_task_action": "cancel"})
    assert response.status_code == 200 and 'name="confirm" value="yes"' in response.content.decode()
    assert CallTask.objects.get(pk=task.pk).task_type == TaskState.CALLING
    response = client_sv.post(_task_url(task), {"_task_action": "cancel", "confirm": "yes"}, follow=True)
    task.refresh_from_db()
    assert task.task_type in (TaskState.CALLS_DONE, TaskState.FOLLOWUPS_DONE) and task.cancelled_at
    assert not LeadTask.objects.filter(task=task, final_at__isnull=True).exists()
    assert _messages(response)


def test_start_without_provider_shows_an_error_not_a_500(client_sv, org):
    task = make_task(org, 2, task_type=TaskState.CREATED, script_id="")
    response = client_sv.post(_task_url(task), {"_task_action": "start", "confirm": "yes"}, follow=True)
    assert response.status_code == 200
    assert any("script" in m.lower() or "话术" in m for m in _messages(response)), _messages(response)
    assert CallTask.objects.get(pk=task.pk).task_type == TaskState.CREATED


# --- a task run to the end: lead row page, recording, export, re-judge -----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_finished_task_row_page_recording_export_and_rejudge(simulator, private_storage, client_sv, org, supervisor):
    task = started_task(org, supervisor, 12, name="完成任务")
    run_until_done(task.pk, Clock(simulator))
    task.refresh_from_db()
    assert task.task_type == TaskState.FOLLOWUPS_DONE

    row = LeadTask.objects.filter(task=task, is_connected=True).exclude(recording_file="").order_by("pk").first()
    assert row is not None
    html = client_sv.get(_row_url(row)).content.decode()
    assert '<div class="transcript">' in html
    assert 'class="bubble bubble-robot"' in html and 'class="bubble bubble-customer"' in html
    assert "机器人" in html and "客户" in html
    assert 'id="call-attempts"' in html and 'id="follow-up"' in html
    src = re.search(r'<audio controls[^>]*src="([^"]+)"', html).group(1)
    audio = client_sv.get(src)
    assert audio.status_code == 200 and audio["Content-Type"] == "audio/wav"
    assert b"".join(audio.streaming_content)[:4] == b"RIFF"

    # The task page lists the rows and offers export only (the task is done).
    page = client_sv.get(_task_url(task)).content.decode()
    assert re.findall(r'name="_task_action" value="(\w+)"', page) == ["export"]

    # Export the whole task from the task page.
    response = client_sv.post(_task_url(task), {"_task_action": "export"})
    assert "filename*=UTF-8''%E8%B7%9F%E8%BF%9B%E8%AE%B0%E5%BD%95-" in response["Content-Disposition"]
    sheet = _sheet(response)
    assert [c.value for c in sheet[1]] == HEADERS and sheet.max_row == 13
    assert {c.value for c in sheet["C"][1:]} <= {"有意向", "无意向", "无法判断", "待跟进"}
    # ... and from the task list's action.
    sheet = _sheet(_action(client_sv, "export_followups_xlsx", [task]))
    assert sheet.max_row == 13

    # Selected rows from the lead-row list.
    rows = list(LeadTask.objects.filter(task=task).order_by("pk")[:3])
    data = {"action": "export_rows_xlsx", "_selected_action": [r.pk for r in rows]}
    sheet = _sheet(client_sv.post(reverse("admin:calltasks_leadtask_changelist"), data))
    assert [c.value for c in sheet["A"][1:]] == [r.leads_name for r in rows]

    # Re-judge every row: connected rows with a transcript are judged again, the others skipped.
    all_rows = list(LeadTask.objects.filter(task=task).values_list("pk", flat=True))
    judgeable = LeadTask.objects.filter(task=task, is_connected=True, call_conversation__isnull=False).count()
    data = {"action": "rejudge_followups", "_selected_action": all_rows}
    response = client_sv.post(reverse("admin:calltasks_leadtask_changelist"), data, follow=True)
    text = " ".join(_messages(response))
    assert re.search(rf"\b{judgeable}\b", text) and re.search(rf"\b{len(all_rows) - judgeable}\b", text), text

    # The task's rows list (filtered by task) shows masked phones only.
    listing = client_sv.get(reverse("admin:calltasks_leadtask_changelist"), {"task__id__exact": task.pk})
    assert listing.status_code == 200
    body = listing.content.decode()
    assert row.masked_phone in body and row.leads_phone not in body


def test_delete_is_the_soft_delete_service_and_never_for_running_tasks(client_sv, org):
    created = make_task(org, 3, task_type=TaskState.CREATED)
    running = make_task(org, 3, task_type=TaskState.CALLING, job_group_id="jg-running")
    delete = "admin:calltasks_calltask_delete"
    assert client_sv.get(reverse(delete, args=[running.pk])).status_code == 403
    assert client_sv.post(reverse(delete, args=[running.pk]), {"post": "yes"}).status_code == 403
    response = client_sv.post(reverse(delete, args=[created.pk]), {"post": "yes"})
    assert response.status_code == 302
    created.refresh_from_db()
    assert created.deleted_at is not None and LeadTask.objects.filter(task=created).count() == 3
    # Gone from the list and its page; the running task is untouched.
    listing = client_sv.get(reverse(CHANGELIST)).content.decode()
    assert _task_url(created) not in listing and _task_url(running) in listing
    assert CallTask.objects.get(pk=running.pk).deleted_at is None
    assert "delete_selected" not in client_sv.get(reverse(CHANGELIST)).content.decode()
