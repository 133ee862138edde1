from __future__ import annotations

import pytest

from tests.calltasks.simulator.rpc_client import SimClient


def make_client(handle, version: str = "v3") -> SimClient:
    return SimClient(
        handle.url, key_id=handle.access_key_id, secret=handle.access_key_secret, instance_id=handle.instance_id, version=version
    )


@pytest.fixture
def client(simulator) -> SimClient:
    return make_client(simulator)


@pytest.fixture
def client_v1(simulator) -> SimClient:
    return make_client(simulator, "v1")
