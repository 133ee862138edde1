"""Logging filter that keeps phone numbers out of every log line."""

from __future__ import annotations

import logging

from dcc_project.phones import mask_phones_in_text


class PhoneMaskFilter(logging.Filter):
    """Renders the record's message once, masks phone numbers in it and in any exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the log line
            message = str(record.msg)
        masked = mask_phones_in_text(message)
        if masked != message or record.args:
            record.msg = masked
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_phones_in_text(record.exc_text)
        return True
