"""A lead row of a finished task in a real browser: the transcript as a dialogue and a playable recording."""

from __future__ import annotations

import pytest

from calltasks.models import LeadTask
from tests.browser.conftest import demo_task, drive_to_done, save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_lead_row_shows_transcript_bubbles_and_a_recording_that_serves_audio(supervisor_page, demo, simulator):
    page = supervisor_page
    task = demo_task(demo, leads=8, name="通话详情测试")
    drive_to_done(task, simulator)
    row = (
        LeadTask.objects.filter(task=task, is_connected=True)
        .exclude(recording_file="")
        .exclude(call_conversation=None)
        .order_by("pk")
        .first()
    )
    assert row is not None, "the simulator connected no call with a recording and a transcript"

    page.goto(f"/admin/calltasks/leadtask/{row.pk}/change/")
    transcript = page.locator(".transcript").first
    assert transcript.is_visible()
    robot = transcript.locator(".bubble.bubble-robot")
    customer = transcript.locator(".bubble.bubble-customer")
    assert robot.count() >= 1 and customer.count() >= 1
    # The bubbles carry the words of the stored dialogue.
    assert robot.first.inner_text().strip()

    audio = page.locator("audio[controls]").first
    src = audio.get_attribute("src")
    assert src, "the <audio> element has no src"
    # Fetched with the page's cookies (the recording is only served to the row's organization).
    response = page.request.get(src)
    assert response.status == 200
    assert response.headers["content-type"].startswith("audio/")
    body = response.body()
    assert body[:4] == b"RIFF" and len(body) > 44  # a WAV file with data
    # The browser itself can load it (the player says preload="none": ask for the metadata) and knows its length.
    audio.evaluate("el => { el.preload = 'metadata'; el.load(); }")
    page.wait_for_function("el => el.readyState >= 1 && el.duration > 0", arg=audio.element_handle())
    save_screenshot(page, "lead-row")

    # Logged out, the same URL serves nothing.
    anonymous = page.context.browser.new_context(base_url=page.url.split("/admin/")[0])
    try:
        assert anonymous.request.get(src).status in (401, 403, 404)
    finally:
        anonymous.close()
