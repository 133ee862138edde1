"""Fixtures for the provider contract tests: clients wired to the live in-process simulator."""

from __future__ import annotations

import pytest

from calltasks.provider import OutboundBotClient


class SleepRecorder:
    """Injected instead of ``time.sleep``: records the retry delays without waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def make_client(simulator, sleeps):
    """``make_client(**overrides)``: a client from the (simulator-pointed) settings; sleeps are recorded."""
    clients: list[OutboundBotClient] = []

    def factory(**overrides) -> OutboundBotClient:
        overrides.setdefault("sleep", sleeps)
        client = OutboundBotClient.from_settings(**overrides)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


@pytest.fixture(params=["v3", "v1"])
def client(request, make_client) -> OutboundBotClient:
    """A client in each signing mode."""
    return make_client(signature_version=request.param)
