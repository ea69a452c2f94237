"""hub.privacy.scrub: personal data out of free text shown to oversight (PDPA).

A false negative leaks a person; a false positive hides a harmless number. Both directions
are pinned here with Thai text as citizens and call-centre operators write it.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.privacy import MARK, scrub


@pytest.mark.parametrize(
    "secret",
    [
        "0812345678",
        "081-234-5678",
        "081 234 5678",
        "081.234.5678",
        "+66 81 234 5678",
        "+66812345678",
        "+66-81-234-5678",
        "66812345678",
        "0912345678",
        "0612345678",
        "02-123-4567",
        "021234567",
        "053-123-456",  # provincial landline (Chiang Mai)
        "somchai@example.com",
        "somchai.j+1111@mail.go.th",
        "SOMCHAI@EXAMPLE.COM",
        "1-1234-56789-01-2",
        "1 1234 56789 01 2",
        "1123456789012",
    ],
)
def test_personal_data_alone_becomes_the_marker(secret):
    assert scrub(secret) == MARK


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ติดต่อกลับเบอร์ 081-234-5678 ครับ", f"ติดต่อกลับเบอร์ {MARK} ครับ"),
        ("โทร0812345678ด่วน", f"โทร{MARK}ด่วน"),
        ("อีเมล somchai@example.com ขอบคุณค่ะ", f"อีเมล {MARK} ขอบคุณค่ะ"),
        ("บัตรประชาชน 1-1234-56789-01-2 นายสมชาย", f"บัตรประชาชน {MARK} นายสมชาย"),
        ("เลขบัตร1123456789012", f"เลขบัตร{MARK}"),
        ("0812345678, 0898765432", f"{MARK}, {MARK}"),
        ("รหัสไปรษณีย์ 10530 โทร 0812345678", f"รหัสไปรษณีย์ 10530 โทร {MARK}"),
    ],
)
def test_personal_data_inside_thai_text(text, expected):
    assert scrub(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "บ้านเลขที่ 13/45 ซอย 1/4 แขวงกระทุ่มราย",
        "104/120 ซอย 1/4 แขวง บางบอน เขตบางบอน กรุงเทพมหานคร 10150",
        "แจ้งเมื่อปี 2566 ยังไม่แก้ไข",
        "ปีงบประมาณ 2566-2567",
        "ค่าปรับ 1,500 บาท",
        "งบ 1,250,000 บาท",
        "รหัสไปรษณีย์ 10530",
        "เวลา 13.30 น. วันที่ 12/05/2566",
        "หลุมกว้าง 2 เมตร ลึก 30 ซม. 3 จุด",
        "ถนนสาย 3256 กม. 12+500",
        "สายด่วน 1111 และ 1555",
        "เลขที่หนังสือ มท 0808.2/ว 1234",
        "",
    ],
)
def test_ordinary_numbers_survive(text):
    assert scrub(text) == text


def test_none_and_empty_pass_through():
    assert scrub(None) is None
    assert scrub("") == ""


@pytest.mark.parametrize(
    "secret",
    [
        "08-1234-5678",  # mobile grouped 2-4-4
        "08 1234 5678",
        "0-2123-4567",  # Bangkok landline as government letters print it
        "(02) 123 4567",
        "+66 (0) 81 234 5678",
    ],
)
def test_other_common_phone_groupings_are_scrubbed(secret):
    assert scrub(f"โทร {secret} ครับ") == f"โทร {MARK} ครับ"


@pytest.mark.parametrize("secret", ["๐๘๑๒๓๔๕๖๗๘", "๐๘๑-๒๓๔-๕๖๗๘", "๐๒-๑๒๓-๔๕๖๗"])
def test_phones_in_thai_digits_are_scrubbed(secret):
    assert scrub(f"โทร {secret}") == f"โทร {MARK}"


# --------------------------------------------------------------------------- properties

ALPHABET = "0123456789 -+.@/,:()abcxyzกขคงจนมยรลวสหอะาิีึืุูเแโใไ่้๊๋็์ำ\n"
texts = st.text(alphabet=ALPHABET, max_size=80)
thai_words = st.text(alphabet="กขคงจนมยรลวสหอะาิีุูเแโใไ่้ำ ", max_size=20)
separators = st.sampled_from(["", "-", " ", "."])


def digit_runs(text: str) -> list[str]:
    return re.findall(r"[0-9]+", text)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_scrub_is_idempotent(text):
    once = scrub(text)
    assert scrub(once) == once


@settings(max_examples=300, deadline=None)
@given(texts)
def test_scrub_never_makes_or_joins_digits(text):
    out = scrub(text)
    assert out is not None
    assert sum(c.isdigit() for c in out) <= sum(c.isdigit() for c in text)
    for run in digit_runs(out):
        assert run in text  # no run of digits is longer than, or absent from, the input


@settings(max_examples=200, deadline=None)
@given(
    before=thai_words,
    after=thai_words,
    prefix=st.sampled_from(["08", "09", "06"]),
    rest=st.text(alphabet="0123456789", min_size=8, max_size=8),
    sep=separators,
    plus66=st.booleans(),
)
def test_any_mobile_number_in_thai_text_leaves_no_digit(before, after, prefix, rest, sep, plus66):
    number = prefix + rest
    head = f"+66 {number[1:3]}" if plus66 else number[:3]
    written = f"{head}{sep}{number[3:6]}{sep}{number[6:]}"
    out = scrub(f"{before} {written} {after}")
    assert out is not None
    assert not digit_runs(out), (written, out)
    assert MARK in out


@settings(max_examples=200, deadline=None)
@given(
    before=thai_words,
    after=thai_words,
    digits=st.text(alphabet="0123456789", min_size=13, max_size=13),
    dashed=st.booleans(),
)
def test_any_national_id_in_thai_text_leaves_no_digit(before, after, digits, dashed):
    d = digits
    written = f"{d[0]}-{d[1:5]}-{d[5:10]}-{d[10:12]}-{d[12]}" if dashed else d
    out = scrub(f"{before} {written} {after}")
    assert out is not None
    assert not digit_runs(out), (written, out)
