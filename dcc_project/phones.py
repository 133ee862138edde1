"""Phone numbers: normalisation, validation and masking (phone numbers are personal data)."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"\D+")
# Mainland mobile numbers (11 digits starting with 1) and landlines with area code (10–12 digits).
_VALID = re.compile(r"^(?:1[3-9]\d{9}|0\d{9,11})$")
# Anything in free text that looks like a phone number: 7+ digits, optionally separated.
_IN_TEXT = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?!\d)|(?<!\d)(0\d{2,3})[- ]?(\d{7,8})(?!\d)")


class InvalidPhoneNumber(ValueError):
    pass


def normalize_phone(raw: object) -> str:
    """Return the digits of a phone number, or raise :class:`InvalidPhoneNumber`.

    Accepts what spreadsheets produce: ``13800000000.0`` (a float cell), ``+86 138-0000-0000``,
    ``138 0000 0000``.
    """
    if raw is None:
        raise InvalidPhoneNumber("empty")
    if isinstance(raw, float):
        if not raw.is_integer():
            raise InvalidPhoneNumber("not a whole number")
        raw = str(int(raw))
    text = str(raw).strip()
    if re.fullmatch(r"\d+\.0+", text):
        text = text.split(".", 1)[0]
    digits = _DIGITS.sub("", text)
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not _VALID.match(digits):
        raise InvalidPhoneNumber(text)
    return digits


def mask_phone(phone: str | None) -> str:
    """``13812345678`` → ``138****5678``; short or empty values are masked whole."""
    if not phone:
        return ""
    digits = str(phone)
    if len(digits) >= 7:
        return f"{digits[:3]}****{digits[-4:]}"
    return "*" * len(digits)


def _mask_match(match: re.Match) -> str:
    if match.group(1):
        return f"{match.group(1)}****{match.group(3)}"
    landline = match.group(4) + match.group(5)
    return mask_phone(landline)


def mask_phones_in_text(text: str) -> str:
    """Mask every phone-number-looking run of digits in free text (log lines, error messages)."""
    return _IN_TEXT.sub(_mask_match, text)
