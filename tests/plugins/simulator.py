"""pytest plugin: an in-process OutboundBot + LLM simulator on a free loopback port.

Fixtures:

- ``simulator``: a fresh simulator per test (speed 600, fixed seed, virtual clock starting today
  10:00 Asia/Shanghai so the default working windows are open), with the Django settings pointed at
  it; stopped afterwards.
- ``simulator_factory(**kwargs)``: the same with custom ``start_simulator`` arguments (e.g.
  ``instant=True``, ``speed=0``, ``llm_api_key=...``); each call starts another simulator.
- ``simulator_session``: one simulator for the whole session (not wired into settings); use
  ``shared_simulator`` to get it reset and wired into settings for one test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from calltasks.simulator.clock import today_at_shanghai
from calltasks.simulator.server import SimulatorHandle, start_simulator

SIMULATOR_SEED = 20261123
SIMULATOR_SPEED = 600.0


def _defaults() -> dict:
    return {"speed": SIMULATOR_SPEED, "seed": SIMULATOR_SEED, "start_time": today_at_shanghai(10)}


def _point_settings_at(settings, handle: SimulatorHandle) -> None:  # noqa: ANN001 - pytest-django fixture
    settings.OUTBOUNDBOT_ENDPOINT = handle.url
    settings.OUTBOUNDBOT_INSTANCE_ID = handle.instance_id
    settings.ALIBABA_CLOUD_ACCESS_KEY_ID = handle.access_key_id
    settings.ALIBABA_CLOUD_ACCESS_KEY_SECRET = handle.access_key_secret
    settings.LLM_BASE_URL = handle.llm_base_url
    allowed = list(getattr(settings, "RECORDING_ALLOWED_HOSTS", []) or [])
    if handle.host not in allowed:
        allowed.append(handle.host)
    settings.RECORDING_ALLOWED_HOSTS = allowed


@pytest.fixture
def simulator_factory(settings) -> Iterator[Callable[..., SimulatorHandle]]:  # noqa: ANN001
    handles: list[SimulatorHandle] = []

    def factory(**kwargs) -> SimulatorHandle:  # noqa: ANN003
        handle = start_simulator(**{**_defaults(), **kwargs})
        handles.append(handle)
        _point_settings_at(settings, handle)
        return handle

    yield factory
    for handle in handles:
        handle.stop()


@pytest.fixture
def simulator(simulator_factory) -> SimulatorHandle:  # noqa: ANN001
    return simulator_factory()


@pytest.fixture(scope="session")
def simulator_session() -> Iterator[SimulatorHandle]:
    handle = start_simulator(**_defaults())
    yield handle
    handle.stop()


@pytest.fixture
def shared_simulator(simulator_session: SimulatorHandle, settings) -> SimulatorHandle:  # noqa: ANN001
    simulator_session.reset()
    _point_settings_at(settings, simulator_session)
    return simulator_session
