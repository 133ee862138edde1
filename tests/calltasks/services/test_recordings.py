"""Recordings: fetched from the simulator into private storage, SSRF guard, served only to the owning org."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from calltasks.models import LeadTask
from calltasks.provider.types import Recording
from calltasks.services.recordings import host_allowed, recording_storage, recordings_fetch_for_task
from tests.factories import LeadTaskFactory, TokenFactory, UserFactory
from tests.test_e2e_pipeline import Clock, run_until_done, started_task

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def private_storage(settings, tmp_path):
    storage = recording_storage()
    old = storage.location
    storage._location = str(tmp_path)  # FileSystemStorage caches its location
    storage.__dict__.pop("base_location", None)
    storage.__dict__.pop("location", None)
    yield tmp_path
    storage._location = old
    storage.__dict__.pop("base_location", None)
    storage.__dict__.pop("location", None)


@pytest.mark.parametrize(
    ("url", "allowed", "ok"),
    [
        ("http://127.0.0.1:8765/oss/a.wav", ["127.0.0.1"], True),
        ("https://bucket.oss-cn-shanghai.aliyuncs.com/a.wav", [".aliyuncs.com"], True),
        ("https://aliyuncs.com/a.wav", [".aliyuncs.com"], True),
        ("https://evilaliyuncs.com/a.wav", [".aliyuncs.com"], False),
        ("https://aliyuncs.com.evil.example/a.wav", [".aliyuncs.com"], False),
        ("http://169.254.169.254/latest/meta-data", [".aliyuncs.com"], False),
        ("file:///etc/passwd", ["127.0.0.1"], False),
        ("ftp://127.0.0.1/a.wav", ["127.0.0.1"], False),
        ("http://user:pw@127.0.0.1/a.wav", ["127.0.0.1"], False),
        ("http://127.0.0.1:notaport/a.wav", ["127.0.0.1"], False),
        ("", ["127.0.0.1"], False),
    ],
)
def test_host_allowed(url, allowed, ok):
    assert host_allowed(url, allowed) is ok


def _connected_rows(task):
    return LeadTask.objects.filter(task=task, is_connected=True).exclude(call_task_id="")


@pytest.mark.django_db(transaction=True)
def test_fetch_from_the_simulator_and_serve_to_the_owning_org_only(simulator, org, user, other_org):
    task = started_task(org, user, 20, name="录音任务")
    run_until_done(task.pk, Clock(simulator))
    connected = _connected_rows(task)
    assert connected.exists()
    # The monitor already copied them (bounded per pass); clear and fetch again explicitly.
    assert all(row.recording_file for row in connected)
    LeadTask.objects.filter(task=task).update(recording_file="", recording_url="")
    result = recordings_fetch_for_task(task_id=task.pk, limit=3)
    assert result.fetched == 3 and result.failed == 0
    result = recordings_fetch_for_task(task_id=task.pk)
    assert result.fetched == connected.count() - 3
    assert recordings_fetch_for_task(task_id=task.pk).fetched == 0  # nothing left to do
    row = connected.order_by("pk").first()
    assert row.recording_file.name == f"recordings/{org.pk}/{task.pk}/{row.pk}.wav"
    assert row.recording_url.startswith(simulator.url)
    data = recording_storage().open(row.recording_file.name).read()
    assert data[:4] == b"RIFF"

    url = reverse("recording", args=[row.pk])
    owner = APIClient()
    owner.credentials(HTTP_ACCESS_TOKEN=TokenFactory(user=user).key)
    response = owner.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "audio/wav"
    assert b"".join(response.streaming_content) == data
    assert "no-store" in response["Cache-Control"]

    session = APIClient()
    session.force_login(user)
    assert session.get(url).status_code == 200

    stranger = APIClient()
    stranger.credentials(HTTP_ACCESS_TOKEN=TokenFactory(user=UserFactory(organization=other_org)).key)
    assert stranger.get(url).status_code == 404
    non_staff = APIClient()
    non_staff.force_login(UserFactory(organization=org, is_staff=False))
    assert non_staff.get(url).status_code == 404
    assert APIClient().get(url).status_code in (401, 403)
    assert owner.get(reverse("recording", args=[999999])).status_code == 404


class _FakeClient:
    def __init__(self, url):
        self.url = url
        self.calls = 0

    def download_recording(self, *, task_id):
        self.calls += 1
        return Recording(url=self.url)


def test_disallowed_host_is_refused_and_retried_later(org, settings):
    settings.RECORDING_ALLOWED_HOSTS = [".aliyuncs.com"]
    row = LeadTaskFactory(task__organization=org, is_connected=True, call_task_id="t-1")
    client = _FakeClient("http://169.254.169.254/latest/meta-data/recording.wav")
    result = recordings_fetch_for_task(task_id=row.task_id, client=client)
    assert result.fetched == 0 and result.failed == 1
    row.refresh_from_db()
    assert not row.recording_file
    assert recordings_fetch_for_task(task_id=row.task_id, client=client).failed == 1  # asked again: fresh URL
    assert client.calls == 2


@pytest.mark.django_db(transaction=True)
def test_size_cap(simulator, org, user, settings):
    task = started_task(org, user, 10, name="录音上限")
    run_until_done(task.pk, Clock(simulator))
    LeadTask.objects.filter(task=task).update(recording_file="")
    settings.RECORDING_MAX_BYTES = 10
    result = recordings_fetch_for_task(task_id=task.pk)
    assert result.fetched == 0 and result.failed == _connected_rows(task).count()
    assert not any(row.recording_file for row in _connected_rows(task))
