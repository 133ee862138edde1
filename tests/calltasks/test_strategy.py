"""The task's calling strategy → StrategyJson (SPEC §4 "Start")."""

from __future__ import annotations

import pytest

from calltasks.services.errors import ValidationFailed
from calltasks.strategy import build_strategy, default_strategy, parse_windows, provider_strategy_json


def test_parse_windows():
    assert parse_windows("09:00-12:00, 13:30:15-20:00") == [
        {"beginTime": "09:00:00", "endTime": "12:00:00"},
        {"beginTime": "13:30:15", "endTime": "20:00:00"},
    ]
    assert parse_windows("") == []


@pytest.mark.parametrize("bad", ["9-12", "12:00-09:00", "25:00-26:00", "09:60-10:00", "10:00-10:00"])
def test_parse_windows_rejects(bad):
    with pytest.raises(ValidationFailed):
        parse_windows(bad)


def test_default_strategy_from_settings(settings):
    settings.CALLTASKS_WORKING_TIME = "10:00-11:00"
    settings.CALLTASKS_MAX_ATTEMPTS_PER_DAY = 4
    settings.CALLTASKS_MIN_ATTEMPT_INTERVAL_MINUTES = 20
    assert default_strategy() == {
        "workingTime": [{"beginTime": "10:00:00", "endTime": "11:00:00"}],
        "maxAttemptsPerDay": 4,
        "minAttemptInterval": 20,
    }
    assert build_strategy(None) == default_strategy()


def test_overrides_in_both_spellings():
    snake = build_strategy({"working_time": "08:30-09:30", "max_attempts_per_day": 2, "min_attempt_interval": 30})
    camel = build_strategy(
        {"workingTime": [{"beginTime": "08:30", "endTime": "09:30"}], "maxAttemptsPerDay": 2, "minAttemptInterval": 30}
    )
    assert snake == camel
    assert snake["workingTime"] == [{"beginTime": "08:30:00", "endTime": "09:30:00"}]


@pytest.mark.parametrize(
    "overrides",
    [
        {"max_attempts_per_day": 0},
        {"max_attempts_per_day": 11},
        {"max_attempts_per_day": True},
        {"max_attempts_per_day": "3"},
        {"min_attempt_interval": 0},
        {"min_attempt_interval": 1441},
        {"working_time": "20:00-08:00"},
    ],
)
def test_invalid_overrides(overrides):
    with pytest.raises(ValidationFailed):
        build_strategy(overrides)


def test_provider_strategy_json():
    strategy = build_strategy({"working_time": "09:00-12:00", "max_attempts_per_day": 2, "min_attempt_interval": 15})
    assert provider_strategy_json(strategy) == {
        "workingTime": [{"beginTime": "09:00:00", "endTime": "12:00:00"}],
        "maxAttemptsPerDay": 2,
        "minAttemptInterval": 15,
        "repeatBy": "Once",
    }
    # an empty stored strategy (older tasks) falls back to the defaults
    assert provider_strategy_json({})["workingTime"] == default_strategy()["workingTime"]
