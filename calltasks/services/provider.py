"""Where the services get their OutboundBot client (one place, so commands and tests can swap settings)."""

from __future__ import annotations


def get_provider_client():
    from calltasks.provider.client import OutboundBotClient

    return OutboundBotClient.from_settings()
