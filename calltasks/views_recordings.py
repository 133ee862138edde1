"""Serve a stored call recording to a logged-in user of the owning organization (never a public URL)."""

from __future__ import annotations

import mimetypes

from django.http import FileResponse, Http404
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from calltasks.models import LeadTask
from calltasks.services.recordings import recording_storage


class RecordingView(APIView):
    """``GET /recordings/<lead_task_id>/``: session (staff) or token (API user) of the row's organization.

    Anything else that is authenticated — another organization, a non-staff session, a row without a
    file — gets 404, so the existence of other organizations' rows is not revealed.
    """

    permission_classes = [IsAuthenticated]
    # Streamed bytes, not an API resource.
    schema = None

    def get(self, request, lead_task_id: int):
        user = request.user
        qs = LeadTask.objects.filter(pk=lead_task_id, task__deleted_at__isnull=True).exclude(recording_file="")
        if not user.is_superuser:
            organization_id = getattr(user, "organization_id", None)
            via_session = isinstance(request.successful_authenticator, SessionAuthentication)
            if organization_id is None or (via_session and not user.is_staff):
                raise Http404()
            qs = qs.filter(task__organization_id=organization_id)
        name = qs.values_list("recording_file", flat=True).first()
        storage = recording_storage()
        if not name or not storage.exists(name):
            raise Http404()
        content_type = mimetypes.guess_type(name)[0] or "audio/wav"
        if content_type in ("audio/x-wav", "audio/wave"):
            content_type = "audio/wav"
        response = FileResponse(storage.open(name, "rb"), content_type=content_type, filename=f"{lead_task_id}.wav")
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response
