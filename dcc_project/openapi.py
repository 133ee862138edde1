"""drf-spectacular postprocessing: document the error responses of the ``/api/v1/`` resources.

drf-spectacular documents only the success response of a DRF viewset. The resources also answer 400 (invalid
filter or body), 401 (no or a wrong token), 403 (a user without an organization), 404 (another organization's
object, a page past the end), 409 (the task's state forbids the action, or the same Idempotency-Key is still
running), 413/415 (body too large / not JSON), 422 (Idempotency-Key reused with another body), 429 (throttled,
or the organization's daily call budget is used up) and 502 (the outbound-call provider failed). Their bodies
are DRF's shape: ``{"detail": "…", "code": "…"}`` or validation errors ``{"field": ["…"]}``.
"""

from __future__ import annotations

REST_PREFIX = "/api/v1/"

ERROR_DETAIL = {
    "type": "object",
    "description": 'DRF error: {"detail": "…"} (with a machine-readable "code" for domain errors), or validation '
    'errors {"field": ["message", …]}.',
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "data": {"type": "object", "additionalProperties": True},
    },
    "additionalProperties": True,
}

DESCRIPTIONS = {
    400: "invalid filter, pagination or request body",
    401: "no or invalid token",
    403: "the user has no organization",
    404: "not found: another organization's object, or a page past the end",
    409: "the task's state does not allow the action, or the same Idempotency-Key is still being processed",
    413: "request body too large",
    415: "the request body is not JSON",
    422: "Idempotency-Key reused with a different request body",
    429: "too many requests, or the organization's daily call budget is used up",
    502: "the outbound-call provider failed",
}

# Task actions that call the provider or change the task's state.
_STATE_ACTIONS = ("start/", "pause/", "resume/", "cancel/", "sync/", "check-completion/")


def _codes(method: str, path: str) -> set[int]:
    codes = {400, 401, 403}
    if "{" in path or method == "get":
        codes.add(404)
    if method in ("post", "put", "patch"):
        codes |= {413, 415}
    if method == "delete":
        codes |= {409, 502}
    if path.startswith(f"{REST_PREFIX}call-tasks/"):
        if method == "post" and path.endswith(_STATE_ACTIONS):
            codes |= {409, 502}
        if method == "post" and (path.endswith("start/") or path == f"{REST_PREFIX}call-tasks/"):
            codes |= {409, 422, 429, 502}
    return codes


def document_rest_errors(result, generator, request, public):
    """Add the error responses (shared ``ErrorDetail`` component) to every ``/api/v1/`` operation."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ErrorDetail", ERROR_DETAIL)
    reference = {"$ref": "#/components/schemas/ErrorDetail"}
    for path, operations in result.get("paths", {}).items():
        if not path.startswith(REST_PREFIX):
            continue
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code in sorted(_codes(method, path)):
                responses.setdefault(
                    str(code),
                    {"description": DESCRIPTIONS[code], "content": {"application/json": {"schema": reference}}},
                )
    return result
