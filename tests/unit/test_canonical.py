"""RFC 8785 canonical JSON, strict base64url and strict JSON parsing.

The JCS vectors are the RFC author's own (cyberphone/json-canonicalization); see
``tests/fixtures/vectors/jcs/SOURCE.md``.
"""

from __future__ import annotations

import hashlib
import json
import struct
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.errors import Malformed
from hub.exchange.canonical import (
    MAX_DEPTH,
    b64url_decode,
    b64url_encode,
    canonicalize,
    loads_strict,
    sha256_hex,
)

JCS = Path(__file__).resolve().parents[1] / "fixtures" / "vectors" / "jcs"
JCS_PAIRS = sorted(p.stem for p in (JCS / "input").glob("*.json"))
ES6_FIRST_1000_SHA256 = "be18b62b6f69cdab33a7e0dae0d9cfa869fda80ddc712221570f9f40a5878687"


# --- RFC 8785 vectors --------------------------------------------------------------------


def test_all_six_jcs_pairs_are_present() -> None:
    assert JCS_PAIRS == ["arrays", "french", "structures", "unicode", "values", "weird"]


@pytest.mark.parametrize("name", JCS_PAIRS)
def test_jcs_pair_is_byte_exact(name: str) -> None:
    value = loads_strict((JCS / "input" / f"{name}.json").read_bytes())
    expected = (JCS / "output" / f"{name}.json").read_bytes()
    assert canonicalize(value) == expected
    assert expected.hex(" ") == " ".join((JCS / "outhex" / f"{name}.txt").read_text().split())


def _es6_lines() -> list[tuple[str, str]]:
    lines = (JCS / "es6testfile_first1000.txt").read_text(encoding="ascii").splitlines()
    return [tuple(line.split(",")) for line in lines]  # type: ignore[misc]


def test_es6_number_serialisation_first_1000_lines() -> None:
    lines = _es6_lines()
    assert len(lines) == 1000
    failures = []
    for hex_bits, expected in lines:
        (number,) = struct.unpack(">d", bytes.fromhex(hex_bits.zfill(16)))
        got = canonicalize(number).decode("ascii")
        if got != expected:
            failures.append((hex_bits, expected, got))
    assert failures == []


def test_es6_output_matches_published_hash() -> None:
    """Regenerate the file from our output and compare with the RFC author's SHA-256."""
    out = "".join(
        f"{h},{canonicalize(struct.unpack('>d', bytes.fromhex(h.zfill(16)))[0]).decode()}\n"
        for h, _ in _es6_lines()
    )
    assert hashlib.sha256(out.encode("ascii")).hexdigest() == ES6_FIRST_1000_SHA256


# --- canonicalize --------------------------------------------------------------------------


def test_canonicalize_sorts_by_utf16_code_units_and_keeps_thai() -> None:
    value = {"ข้อร้องเรียน": "ถนนชำรุด", "b": [1.0, -0.0, 1e21], "a": None, "\U0001f600": 1}
    assert canonicalize(value) == (
        '{"a":null,"b":[1,0,1e+21],"ข้อร้องเรียน":"ถนนชำรุด","\U0001f600":1}'.encode()
    )


def test_integers_beyond_2_53_only_when_a_double_holds_them_exactly() -> None:
    assert canonicalize([2**53, -(2**53), 10**20, 1e20]) == (
        b"[9007199254740992,-9007199254740992,100000000000000000000,100000000000000000000]"
    )
    assert canonicalize(10**21) == b"1e+21"
    # what JCS prints for the double 7.075159966900839e16, read back as an int by json.loads
    assert canonicalize(70751599669008390) == b"70751599669008390"
    for rounded in (2**53 + 1, {"n": [-(2**53) - 1]}, 10**400):
        with pytest.raises(Malformed, match="exactly representable"):
            canonicalize(rounded)


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), {1: "x"}, "\ud800", {"a": {1, 2}}, [object()]]
)
def test_canonicalize_refuses_what_jcs_cannot_represent(value: object) -> None:
    with pytest.raises(Malformed):
        canonicalize(value)


def test_sha256_hex() -> None:
    assert sha256_hex(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


_json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.text(alphabet=st.characters(min_codepoint=0x0E00, max_codepoint=0x0E7F))
)
json_values = st.recursive(
    _json_leaf,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=8) | st.sampled_from(["ชื่อ", "ที่อยู่"]), children)
    ),
    max_leaves=30,
)


@given(json_values)
def test_canonicalize_is_idempotent(value: object) -> None:
    once = canonicalize(value)
    assert canonicalize(json.loads(once)) == once
    if b"\\u0000" not in once:  # loads_strict refuses NUL on purpose (no database stores it)
        assert canonicalize(loads_strict(once)) == once


def test_loads_strict_refuses_nul_but_not_the_text_backslash_u0000() -> None:
    with pytest.raises(Malformed):
        loads_strict(b'{"\\u0000":null}')
    assert loads_strict(b'["\\\\u0000"]') == ["\\u0000"]


# --- base64url ---------------------------------------------------------------------------


@given(st.binary(max_size=200))
def test_b64url_round_trip_without_padding(data: bytes) -> None:
    encoded = b64url_encode(data)
    assert "=" not in encoded
    assert b64url_decode(encoded) == data


@pytest.mark.parametrize(
    "text",
    [
        "QQ==",  # padding
        "QQ=",
        "a+b/",  # standard alphabet, not URL-safe
        "QQ\n",  # whitespace
        " QQ",
        "Q",  # impossible length
        "QR",  # non-zero trailing bits: "QQ" is the one spelling of b"A"
        "QUJ",  # "QUI" is the one spelling of b"AB"
        "QQé",
    ],
)
def test_b64url_decode_refuses_non_canonical_input(text: str) -> None:
    with pytest.raises(Malformed):
        b64url_decode(text)


def test_b64url_decode_accepts_empty() -> None:
    assert b64url_decode("") == b""


# --- loads_strict ------------------------------------------------------------------------


def test_loads_strict_parses_plain_json() -> None:
    assert loads_strict('{"เรื่อง": [1, 2.5, "x", null, true]}'.encode()) == {
        "เรื่อง": [1, 2.5, "x", None, True]
    }


def test_invalid_utf8_is_malformed() -> None:
    with pytest.raises(Malformed, match="UTF-8"):
        loads_strict(b'{"a": "\xff\xfe"}')


def test_utf8_encoded_surrogate_is_malformed() -> None:
    with pytest.raises(Malformed, match="UTF-8"):
        loads_strict(b'"\xed\xa0\x80"')


@pytest.mark.parametrize(
    "body", [b'{"a":1,"a":2}', b'{"x":{"alg":"EdDSA","alg":"none"}}', b'[{"k":1,"k":1}]']
)
def test_duplicate_keys_are_malformed(body: bytes) -> None:
    with pytest.raises(Malformed, match="duplicate"):
        loads_strict(body)


def test_integers_a_double_would_round_are_malformed() -> None:
    assert loads_strict(b"[9007199254740992,70751599669008390,-9007199254740991]") == [
        2**53,
        70751599669008390,
        -(2**53) + 1,
    ]
    for body in (b"9007199254740993", b'{"id":-12345678901234567891}'):
        with pytest.raises(Malformed, match="lose precision"):
            loads_strict(body)


@pytest.mark.parametrize("body", [b"NaN", b"[Infinity]", b'{"a":-Infinity}', b"[1e400]"])
def test_non_finite_numbers_are_malformed(body: bytes) -> None:
    with pytest.raises(Malformed):
        loads_strict(body)


@pytest.mark.parametrize(
    "body", [b"", b"[1,]", b"{'a':1}", b"[] []", b"\xef\xbb\xbf{}", b"1" * 5000, b'"\\x"']
)
def test_invalid_json_is_malformed(body: bytes) -> None:
    with pytest.raises(Malformed):
        loads_strict(body)


def test_lone_surrogate_escape_is_malformed_but_pairs_are_fine() -> None:
    with pytest.raises(Malformed, match="surrogate"):
        loads_strict(b'{"a":["\\ud800"]}')
    with pytest.raises(Malformed, match="surrogate"):
        loads_strict(b'{"\\udc00":1}')
    assert loads_strict(b'"\\ud83d\\ude02"') == "\U0001f602"


def test_depth_limit_is_exact() -> None:
    ok = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert loads_strict(ok) is not None
    objects = b'{"a":' * MAX_DEPTH + b"1" + b"}" * MAX_DEPTH
    assert loads_strict(objects) is not None
    with pytest.raises(Malformed, match="nested deeper"):
        loads_strict(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))
    with pytest.raises(Malformed, match="nested deeper"):
        loads_strict(b"[1,{" * 33 + b'"a":1' + b"}]" * 33)
    assert loads_strict(b"[[]]", max_depth=2) == [[]]
    with pytest.raises(Malformed):
        loads_strict(b"[[[]]]", max_depth=2)


def test_brackets_inside_strings_do_not_count() -> None:
    body = b'["' + b"[" * 1000 + b'\\"{{{", "]]]"]'
    assert loads_strict(body) == ["[" * 1000 + '"{{{', "]]]"]


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b"[" * 100_000 + b"]" * 100_000,
        b"[[]," * 2_500_000,  # 10 MB, never more than two opening brackets in a row
        b'{"a":' * 2_000_000,
    ],
    ids=["100k-open", "100k-balanced", "10MB-interleaved", "10MB-objects"],
)
def test_deep_nesting_is_refused_quickly(body: bytes) -> None:
    started = time.perf_counter()
    with pytest.raises(Malformed, match="nested deeper"):
        loads_strict(body)
    assert time.perf_counter() - started < 2.0  # typically 0.01-0.3 s


def test_loads_strict_wants_bytes() -> None:
    with pytest.raises(TypeError):
        loads_strict("{}")  # type: ignore[arg-type]
