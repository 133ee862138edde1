"""OpenAPI helpers for the seed endpoints: enveloped response components and the common error responses."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, inline_serializer
from rest_framework import serializers

_ENVELOPES: dict[str, type[serializers.Serializer]] = {}


def enveloped(data_serializer, name: str):
    """``{"status", "code", "message", "data": <data_serializer>}`` as a named component."""
    if name not in _ENVELOPES:
        _ENVELOPES[name] = inline_serializer(
            name=name,
            fields={
                "status": serializers.ChoiceField(choices=["success", "error"]),
                "code": serializers.IntegerField(help_text="equals the HTTP status"),
                "message": serializers.CharField(),
                "data": data_serializer,
            },
        )
    return _ENVELOPES[name]


ErrorEnvelope = inline_serializer(
    name="ErrorEnvelope",
    fields={
        "status": serializers.CharField(help_text='always "error"'),
        "code": serializers.IntegerField(help_text="equals the HTTP status"),
        "message": serializers.CharField(),
        "data": serializers.DictField(help_text='validation errors are in data.errors: {"field": ["message"]}'),
    },
)


def _error(description: str, code: int, message: str, data=None) -> OpenApiResponse:
    return OpenApiResponse(
        response=ErrorEnvelope,
        description=description,
        examples=[
            OpenApiExample(
                f"error {code}",
                value={"status": "error", "code": code, "message": message, "data": data or {}},
                response_only=True,
                status_codes=[str(code)],
            )
        ],
    )


BAD_REQUEST = _error(
    "validation error or malformed JSON",
    400,
    "请求参数无效：task_id: 该字段是必填项。",
    {"errors": {"task_id": ["该字段是必填项。"]}},
)
UNAUTHORIZED = _error("no or invalid access-token", 401, "需要认证：请在 access-token 请求头中提供有效令牌。")
NOT_FOUND = _error("missing task, or a task of another organization", 404, "任务不存在。")
CONFLICT = _error("the task is not in a state that allows the action", 409, "任务当前状态不允许此操作。")
TOO_LARGE = _error("the request body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE", 413, "请求体过大。")
KEY_REUSED = _error("the Idempotency-Key was used before with a different body", 422, "该幂等键已用于另一个请求，请使用新的键。")
TOO_MANY = _error("throttled, or the organization's daily call budget is used up", 429, "请求过于频繁，请 30 秒后重试。")
BAD_GATEWAY = _error("the outbound-call provider failed", 502, "外呼服务商暂时不可用，请稍后重试。")


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    table = {
        400: BAD_REQUEST,
        401: UNAUTHORIZED,
        404: NOT_FOUND,
        409: CONFLICT,
        413: TOO_LARGE,
        422: KEY_REUSED,
        429: TOO_MANY,
        502: BAD_GATEWAY,
    }
    return {code: table[code] for code in codes}
