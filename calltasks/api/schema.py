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
BAD_GATEWAY = _error("the outbound-call provider failed", 502, "外呼服务商暂时不可用，请稍后重试。")


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    table = {400: BAD_REQUEST, 401: UNAUTHORIZED, 404: NOT_FOUND, 409: CONFLICT, 502: BAD_GATEWAY}
    return {code: table[code] for code in codes}
