"""Project-wide 404/500 handlers: API paths answer in their documented JSON shape, never with an HTML page.

A URL under ``/api/v1/`` that matches no route (``/api/v1/call-tasks/-1.5/pause/``) gets DRF's ``{"detail": …}``;
a seed path (at the root or under ``/api/``, e.g. ``/check_task_completion/a/b``) or any other ``/api/`` path gets
the seed envelope. Everything else (the admin, the recordings view) keeps Django's default pages.
"""

from __future__ import annotations

from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults

from calltasks.api.urls import ROUTES
from dcc_project.api.envelope import envelope

_SEED_SEGMENTS = {route.split("/", 1)[0] for route, _view, _name in ROUTES}


def _api_kind(path: str) -> str | None:
    if path.startswith("/api/v1/") or path == "/api/v1":
        return "rest"
    if path.startswith("/api/"):
        return "seed"
    first = path.lstrip("/").split("/", 1)[0]
    return "seed" if first in _SEED_SEGMENTS else None


def _json(kind: str, status: int, message: str) -> JsonResponse:
    body = {"detail": message} if kind == "rest" else envelope(code=status, message=message)
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


def page_not_found(request, exception=None):
    kind = _api_kind(request.path)
    if kind is None:
        return defaults.page_not_found(request, exception)
    return _json(kind, 404, _("Not found."))


def server_error(request):
    kind = _api_kind(request.path)
    if kind is None:
        return defaults.server_error(request)
    return _json(kind, 500, _("Internal server error. Please try again later."))
