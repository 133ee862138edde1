"""PhoneMaskFilter keeps phone numbers out of every log line (message, arguments and tracebacks)."""

from __future__ import annotations

import logging

import pytest

from dcc_project.logging import PhoneMaskFilter


@pytest.fixture
def captured():
    records: list[str] = []

    class ListHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = ListHandler()
    handler.addFilter(PhoneMaskFilter())
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("tests.phone_mask")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, records
    logger.removeHandler(handler)


def test_phone_in_message_is_masked(captured):
    logger, records = captured
    logger.info("calling 13812345678")
    assert records == ["calling 138****5678"]


def test_phone_in_arguments_is_masked(captured):
    logger, records = captured
    logger.info("lead %s phone %s", "L1", "13812345678")
    assert records == ["lead L1 phone 138****5678"]


def test_phone_in_exception_text_is_masked(captured):
    logger, records = captured
    try:
        raise ValueError("bad number 13812345678")
    except ValueError:
        logger.exception("failed for %s", "+86 138-1234-5678")
    assert "13812345678" not in records[0]
    assert "138-1234-5678" not in records[0]
    assert "138****5678" in records[0]


def test_message_without_phones_is_unchanged(captured):
    logger, records = captured
    logger.info("检查任务: %s (ID: %d)", "测试任务", 123)
    assert records == ["检查任务: 测试任务 (ID: 123)"]


def test_broken_format_string_does_not_lose_the_line(captured):
    logger, records = captured
    logger.info("oops %s %s 13812345678", "only-one")
    assert records and "13812345678" not in records[0]


def test_settings_attach_the_filter_to_the_console_handler(settings):
    assert "mask_phones" in settings.LOGGING["handlers"]["console"]["filters"]
