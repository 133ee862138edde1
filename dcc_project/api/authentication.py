"""DRF authentication by the seed's ``access-token`` header (a DRF token)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import TokenAuthentication


class AccessTokenAuthentication(TokenAuthentication):
    """``access-token: <token>`` as in the seed's curl examples; an optional ``Bearer``/``Token`` prefix is accepted."""

    header = "HTTP_ACCESS_TOKEN"

    def authenticate(self, request):
        raw = request.META.get(self.header, "")
        if isinstance(raw, bytes):
            raw = raw.decode("latin-1")
        raw = raw.strip()
        if not raw:
            return None
        for prefix in ("Bearer ", "Token "):
            if raw.startswith(prefix):
                raw = raw[len(prefix):].strip()
        return self.authenticate_credentials(raw)

    def authenticate_header(self, request):
        return "Token"


class AccessTokenScheme(OpenApiAuthenticationExtension):
    target_class = "dcc_project.api.authentication.AccessTokenAuthentication"
    name = "accessToken"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "access-token"}
