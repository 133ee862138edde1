"""The seed envelope ``{"status", "code", "message", "data"}`` on every seed-endpoint response.

``code`` always equals the HTTP status. Errors of every kind (validation, authentication, parsing, method,
media type, throttling, domain errors of the services, provider failures) are mapped here, so the seed
endpoints never answer in DRF's default shape and never with an HTML error page.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView, set_rollback
from rest_framework.views import exception_handler as drf_exception_handler

from calltasks.provider.errors import ProviderError
from calltasks.services.errors import TaskServiceError

logger = logging.getLogger(__name__)


class RequestTooLarge(exceptions.APIException):
    """A request body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (Django raises ``RequestDataTooBig`` when DRF reads
    the body): 413, never a 500."""

    status_code = 413
    default_detail = gettext_lazy("The request body is too large.")
    default_code = "request_too_large"


def envelope(*, code: int = 200, message: str = "", data=None) -> dict:
    return {
        "status": "success" if code < 400 else "error",
        "code": code,
        "message": str(message),
        "data": {} if data is None else data,
    }


def success(data=None, message: str | None = None, code: int = status.HTTP_200_OK) -> Response:
    return Response(envelope(code=code, message=message or _("Success"), data=data), status=code)


def error(code: int, message: str, data=None, headers: dict | None = None) -> Response:
    return Response(envelope(code=code, message=message, data=data), status=code, headers=headers)


def _first_error(detail, prefix: str = "") -> str:
    """``{"size_desc": {"first_follow_end": ["…"]}}`` → ``size_desc.first_follow_end: …``."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            label = key if key != "non_field_errors" else ""
            found = _first_error(value, f"{prefix}.{label}" if prefix and label else (label or prefix))
            if found:
                return found
        return ""
    if isinstance(detail, list):
        for item in detail:
            found = _first_error(item, prefix)
            if found:
                return found
        return ""
    return f"{prefix}: {detail}" if prefix else str(detail)


def _message_for(exc: exceptions.APIException) -> str:
    if isinstance(exc, exceptions.ValidationError):
        first = _first_error(exc.detail)
        return (
            _("Invalid request parameters: %(detail)s") % {"detail": first}
            if first
            else _("Invalid request parameters.")
        )
    if isinstance(exc, RequestTooLarge):
        return _("The request body is larger than the limit of %(limit)d bytes.") % {
            "limit": settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
        }
    if isinstance(exc, exceptions.ParseError):
        return _("The request body is not valid JSON.")
    if isinstance(exc, exceptions.NotAuthenticated):
        return _("Authentication required: send a valid token in the access-token header.")
    if isinstance(exc, exceptions.AuthenticationFailed):
        return _("Invalid or expired token.")
    if isinstance(exc, exceptions.PermissionDenied):
        return _("You do not have permission to perform this action.")
    if isinstance(exc, exceptions.NotFound):
        return _("Not found.")
    if isinstance(exc, exceptions.MethodNotAllowed):
        return _("Method not allowed.")
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return _("Send the request body as JSON (Content-Type: application/json).")
    if isinstance(exc, exceptions.NotAcceptable):
        return _("Only JSON responses are available.")
    if isinstance(exc, exceptions.Throttled):
        return _("Too many requests. Please try again in %(seconds)s seconds.") % {
            "seconds": exc.wait and int(exc.wait) or 1
        }
    return str(exc.detail) if isinstance(exc.detail, str) else _("The request could not be processed.")


def seed_exception_handler(exc, context):
    """Map any exception raised by a seed view to an enveloped response (never DRF's default shape)."""
    set_rollback()
    if isinstance(exc, TaskServiceError):
        return error(exc.http_status, exc.message, exc.data or None)
    if isinstance(exc, ProviderError):
        logger.warning("Provider call failed in %s: %s", context.get("view").__class__.__name__, exc.code)
        return error(
            status.HTTP_502_BAD_GATEWAY,
            _("The outbound-call provider is unavailable (%(code)s). Please try again later.") % {"code": exc.code},
        )
    if isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    elif isinstance(exc, (Http404, ObjectDoesNotExist)):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.APIException):
        # DRF's handler adds WWW-Authenticate (401) and Retry-After (429) headers.
        response = drf_exception_handler(exc, context)
        headers = {
            key: value
            for key, value in (response.headers.items() if response is not None else [])
            if key in ("WWW-Authenticate", "Retry-After")
        }
        data = {"errors": exc.detail} if isinstance(exc, exceptions.ValidationError) else None
        return error(exc.status_code, _message_for(exc), data, headers=headers)
    logger.exception("Unexpected error in %s", context.get("view").__class__.__name__)
    return error(status.HTTP_500_INTERNAL_SERVER_ERROR, _("Internal server error. Please try again later."))


class EnvelopeAPIView(APIView):
    """Base class of the seed endpoints: JSON in, JSON out, the seed envelope on every response."""

    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]

    def get_exception_handler(self):
        return seed_exception_handler

    def options(self, request, *args, **kwargs):
        return success({"methods": self.allowed_methods})


def rest_exception_handler(exc, context):
    """For the ``/api/v1/`` resources: DRF's usual ``{"detail": …}`` shape, plus the services' domain errors."""
    if isinstance(exc, (TaskServiceError, ProviderError)):
        set_rollback()
    if isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge(_message_for(RequestTooLarge()))
    if isinstance(exc, TaskServiceError):
        body = {"detail": exc.message, "code": exc.code}
        if exc.data:
            body["data"] = exc.data
        return Response(body, status=exc.http_status)
    if isinstance(exc, ProviderError):
        logger.warning("Provider call failed in %s: %s", context.get("view").__class__.__name__, exc.code)
        return Response(
            {
                "detail": _("The outbound-call provider is unavailable (%(code)s). Please try again later.")
                % {"code": exc.code},
                "code": "provider",
            },
            status=status.HTTP_502_BAD_GATEWAY,
        )
    return drf_exception_handler(exc, context)


class DomainErrorsMixin:
    """Viewsets of ``/api/v1/``: map service errors to their HTTP status instead of a 500."""

    def get_exception_handler(self):
        return rest_exception_handler
