"""The supervisors' dashboard (/admin/dashboard/, calltasks/views_dashboard.py + selectors_dashboard.py + charts.py)."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calltasks import charts
from calltasks.selectors_dashboard import dashboard_timeline
from calltasks.states import TaskState
from followups.demo import supervisor_group
from followups.models import FollowUp
from tests.factories import (
    CallTaskFactory,
    FollowUpFactory,
    LeadFactory,
    LeadTaskFactory,
    OutboundCallRecordFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
URL = "/admin/dashboard/"


def local(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=zoneinfo.ZoneInfo(settings.TIME_ZONE))


@pytest.fixture
def supervisor(org):
    user = UserFactory(organization=org, username="supervisor")
    user.groups.add(supervisor_group())
    return user


@pytest.fixture
def supervisor_client(client, supervisor):
    client.force_login(supervisor)
    return client


@pytest.fixture
def dataset(org, other_org):
    """A hand-built day: task A (calling) with 4 rows and 4 calls, a few other tasks, follow-ups due."""
    today = timezone.localdate()
    yesterday = today - dt.timedelta(days=1)
    task_a = CallTaskFactory(organization=org, task_name="任务A", task_type=TaskState.CALLING)
    CallTaskFactory(organization=org, task_name="任务B", task_type=TaskState.CALLING)
    CallTaskFactory(organization=org, task_name="任务C", task_type=TaskState.FOLLOWUPS_DONE)
    CallTaskFactory(organization=org, task_name="任务D", task_type=TaskState.CREATED)
    CallTaskFactory(organization=org, task_name="已删除任务", task_type=TaskState.CALLING, deleted_at=timezone.now())
    for i in range(3):
        CallTaskFactory(organization=other_org, task_name=f"别家任务{i}", task_type=TaskState.CALLING)

    noon = local(today, 12)
    rows = [
        LeadTaskFactory(task=task_a, final_at=noon, is_connected=True, is_interested=1),
        LeadTaskFactory(task=task_a, final_at=noon, is_connected=True, is_interested=2),
        LeadTaskFactory(task=task_a, final_at=noon, is_connected=False, is_interested=0),
        LeadTaskFactory(task=task_a),  # still calling: pending
    ]
    OutboundCallRecordFactory(lead_task=rows[0], actual_time=noon)
    OutboundCallRecordFactory(lead_task=rows[1], actual_time=noon, call_status="SucceededTransferByIntent")
    OutboundCallRecordFactory(lead_task=rows[2], actual_time=noon, call_status="NoAnswer", has_answered=False)
    OutboundCallRecordFactory(
        lead_task=rows[2], actual_time=local(yesterday, 12), call_status="NoAnswer", has_answered=False
    )
    # Another organization's calls today must not count.
    other_row = LeadTaskFactory(task=CallTaskFactory(organization=other_org, task_type=TaskState.CALLING))
    OutboundCallRecordFactory(lead_task=other_row, actual_time=noon)

    FollowUpFactory(lead=rows[0].lead, source=FollowUp.Source.AI_CALL, is_interested=1, follow_time=noon)
    due_lead = LeadFactory(organization=org, leads_user_name="张三", leads_user_phone="17012345678")
    due = FollowUpFactory(lead=due_lead, next_follow_time=local(today, 15), leads_remark="约周六看车")
    FollowUpFactory(lead=LeadFactory(organization=org), next_follow_time=local(today + dt.timedelta(days=1), 10))
    FollowUpFactory(lead=LeadFactory(organization=other_org), next_follow_time=local(today, 11))
    return {"task_a": task_a, "due": due, "today": today, "yesterday": yesterday}


def test_dashboard_shows_the_supervisors_organization(supervisor_client, dataset):
    response = supervisor_client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<div id="dashboard">' in html
    for kind in ("states", "interest", "timeline"):
        assert re.search(rf'<svg class="chart" data-chart="{kind}"[^>]*role="img"', html)
    assert html.count("<svg class=\"chart\"") == 3

    states = {item["state"]: item["count"] for item in response.context["states"]}
    assert states == {1: 1, 2: 2, 3: 0, 4: 1, 5: 0}  # deleted and other organization's tasks left out
    assert "开始外呼" in html and "跟进完成" in html  # Chinese state labels on the chart (SPEC §3)

    headline = response.context["headline"]
    assert headline.active_tasks == 2
    assert headline.calls_today == 3
    assert headline.leads_called_today == 3
    assert headline.connected_today == 2
    assert headline.connect_rate_today == 66.7
    assert "66.7%" in html

    mix = {item["task"].name: item["task"] for item in response.context["task_mix"]}
    assert set(mix) == {"任务A", "任务B", "任务C", "任务D"}
    task_a = mix["任务A"]
    assert (task_a.total, task_a.called, task_a.connected) == (4, 3, 2)
    assert (task_a.interested, task_a.not_interested, task_a.undecided, task_a.pending) == (1, 1, 1, 1)
    assert task_a.connect_rate == 66.7
    assert "接通率 66.7%" in html

    timeline = {point.day: point for point in response.context["timeline"]}
    today, yesterday = dataset["today"], dataset["yesterday"]
    assert (timeline[today].calls, timeline[today].connected, timeline[today].interested) == (3, 2, 1)
    assert (timeline[yesterday].calls, timeline[yesterday].connected) == (1, 0)

    due = response.context["due"]
    assert due.count == 1
    assert [row.pk for row in due.rows] == [dataset["due"].pk]
    assert "170****5678" in html and "17012345678" not in html
    assert reverse("admin:followups_followup_change", args=[dataset["due"].pk]) in html
    assert reverse("admin:followups_lead_change", args=[dataset["due"].lead_id]) in html
    assert "别家任务" not in html


def test_dashboard_is_in_the_admin_namespace_and_linked_from_the_index(supervisor_client):
    assert reverse("admin:dcc_dashboard") == URL
    index = supervisor_client.get(reverse("admin:index")).content.decode()
    assert f'href="{URL}"' in index and 'id="dcc-dashboard-link"' in index
    assert 'href="/admin/monitor/"' in index
    # Every admin page has both in its header.
    changelist = supervisor_client.get(reverse("admin:calltasks_calltask_changelist")).content.decode()
    assert 'id="nav-dashboard"' in changelist and 'id="nav-monitor"' in changelist


def test_superuser_sees_all_organizations_or_one(client, org, other_org, dataset):
    admin_user = UserFactory(organization=None, is_superuser=True, username="root")
    client.force_login(admin_user)
    everything = client.get(URL)
    assert sum(item["count"] for item in everything.context["states"]) == 4 + 4  # 4 own + 3 + 1 other org
    assert everything.context["headline"].calls_today == 4
    assert everything.context["due"].count == 2
    one = client.get(URL, {"organization": other_org.pk})
    assert {item["state"]: item["count"] for item in one.context["states"]}[TaskState.CALLING] == 4
    assert one.context["headline"].calls_today == 1
    assert f'<option value="{other_org.pk}" selected>' in one.content.decode()


def test_staff_without_organization_sees_no_data(client, db):
    user = UserFactory(organization=None)
    user.groups.add(supervisor_group())
    client.force_login(user)
    response = client.get(URL)
    assert response.status_code == 200
    assert "headline" not in response.context
    assert "<svg class=\"chart\"" not in response.content.decode()


def test_staff_without_task_permission_is_refused(client, org):
    client.force_login(UserFactory(organization=org))
    assert client.get(URL).status_code == 403


def test_non_staff_is_sent_to_the_login(client, org):
    client.force_login(UserFactory(organization=org, is_staff=False))
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def _build(org, count: int) -> None:
    noon = local(timezone.localdate(), 12)
    for i in range(count):
        task = CallTaskFactory(organization=org, task_type=TaskState.CALLING if i % 2 else TaskState.FOLLOWUPS_DONE)
        row = LeadTaskFactory(task=task, final_at=noon, is_connected=True, is_interested=i % 3)
        OutboundCallRecordFactory(lead_task=row, actual_time=noon)
        FollowUpFactory(lead=row.lead, source=FollowUp.Source.AI_CALL, is_interested=1, next_follow_time=noon)


def test_query_count_does_not_grow_with_tasks(supervisor_client, org, django_assert_num_queries):
    _build(org, 5)
    supervisor_client.get(URL)  # warm the session and permission caches
    with CaptureQueriesContext(connection) as small:
        assert supervisor_client.get(URL).status_code == 200
    _build(org, 45)
    with django_assert_num_queries(len(small.captured_queries)):
        response = supervisor_client.get(URL)
    assert len(response.context["task_mix"]) == 20
    assert response.context["due"].count == 50


def test_timeline_groups_by_local_day(org):
    """A call at 23:30 UTC is the next day in Asia/Shanghai."""
    today = timezone.localdate()
    row = LeadTaskFactory(task=CallTaskFactory(organization=org))
    late_utc = dt.datetime.combine(today - dt.timedelta(days=1), dt.time(23, 30), tzinfo=dt.UTC)
    assert timezone.localtime(late_utc).date() == today
    OutboundCallRecordFactory(lead_task=row, actual_time=late_utc, call_status="NoAnswer", has_answered=False)
    # A record without start time counts at its planned time.
    OutboundCallRecordFactory(lead_task=row, actual_time=None, planed_time=local(today, 9), has_answered=False,
                              call_status="NoAnswer")
    points = dashboard_timeline(organization_id=org.pk, today=today)
    assert len(points) == 30 and points[-1].day == today and points[0].day == today - dt.timedelta(days=29)
    assert points[-1].calls == 2
    assert sum(p.calls for p in points) == 2


def test_charts_escape_text_and_carry_accessible_labels():
    svg = charts.bar_chart(kind="states", title="<b>标题</b>", bars=[charts.Bar("<x>", 3, "#000")])
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "&lt;x&gt;: 3" in svg
    assert 'aria-labelledby="chart-states-title chart-states-desc"' in svg
    assert ">3</text>" in svg  # value as a text label
    axis = re.findall(r'<text class="axis"[^>]*>([^<]*)</text>', str(svg))
    assert axis == ["0", "1", "2", "3"]  # whole-number ticks for counts
    big = charts.bar_chart(kind="states", title="t", bars=[charts.Bar("a", 19, "#000")])
    assert re.findall(r'<text class="axis"[^>]*>([^<]*)</text>', str(big)) == ["0", "5", "10", "15", "20"]
    stacked = charts.stacked_bar_chart(
        kind="interest",
        title="t",
        legend=[charts.Segment("有意向", 0, "#198754")],
        rows=[charts.StackedRow("任务", [charts.Segment("有意向", 5, "#198754")], note="接通率 50%")],
    )
    assert "任务: 有意向 5, 接通率 50%" in stacked and ">5</text>" in stacked
    line = charts.line_chart(
        kind="timeline", title="t", x_labels=["11-01", "11-02"], series=[charts.Series("外呼", "#00f", [0, 7])]
    )
    assert "外呼: 11-02 7" in line and 'points="' in line
