"""dcc_project.phones: normalisation of what spreadsheets produce, validation and masking."""

from __future__ import annotations

import pytest

from dcc_project.phones import InvalidPhoneNumber, mask_phone, mask_phones_in_text, normalize_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800000000", "13800000000"),
        ("13800000000.0", "13800000000"),
        (13800000000.0, "13800000000"),
        (13800000000, "13800000000"),
        ("+86 138-0000-0000", "13800000000"),
        ("0086 13800000000", "13800000000"),
        ("8613800000000", "13800000000"),
        (" 138 0000 0000 ", "13800000000"),
        ("010-12345678", "01012345678"),
        ("17012345678", "17012345678"),
    ],
)
def test_normalize_phone(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "12345", "12800000000", "1380000000", "138000000001", 13800000000.5, "abc"])
def test_invalid_phone_numbers_are_rejected(raw):
    with pytest.raises(InvalidPhoneNumber):
        normalize_phone(raw)


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("13812345678", "138****5678"), ("", ""), (None, ""), ("12345", "*****"), ("01012345678", "010****5678")],
)
def test_mask_phone(phone, masked):
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call 13812345678 now", "call 138****5678 now"),
        ("号码:+86 138-1234-5678。", "号码:138****5678。"),
        ("a 138 1234 5678 b", "a 138****5678 b"),
        ("landline 010-12345678", "landline 010****5678"),
        ("two 13812345678,17012345678", "two 138****5678,170****5678"),
        ("job id 20241122123456789 stays", "job id 20241122123456789 stays"),
        ("nothing here", "nothing here"),
    ],
)
def test_mask_phones_in_text(text, expected):
    assert mask_phones_in_text(text) == expected
