"""Exact bytes: RFC 8785 canonical JSON, base64url without padding, and strict JSON parsing.

Everything the hub hashes or signs goes through :func:`canonicalize`, so two parties that
hold the same value always agree on its bytes. Everything the hub receives goes through
:func:`loads_strict`, which refuses the JSON that parsers disagree about (duplicate keys,
NaN, lone surrogates, invalid UTF-8) and refuses deep nesting *before* the parser runs, so a
hostile body cannot exhaust the stack or the CPU.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from collections.abc import Iterator
from typing import Any

import rfc8785

from hub.errors import Malformed

__all__ = [
    "MAX_DEPTH",
    "b64url_decode",
    "b64url_encode",
    "canonicalize",
    "loads_strict",
    "sha256_hex",
]

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects that :func:`loads_strict` accepts by default."""

_MAX_SAFE_INT = 2**53 - 1
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_B64URL_INDEX = {
    c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}
# A JSON string literal, written so the regex engine never backtracks (unrolled loop).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
_CURLY_TO_SQUARE = bytes.maketrans(b"{}", b"[]")


def canonicalize(obj: object) -> bytes:
    """Return the RFC 8785 (JCS) serialisation of ``obj`` as UTF-8 bytes.

    Delegates to the ``rfc8785`` library: the ES6 number formatting is where home-made
    canonicalisers go wrong. JCS numbers are IEEE doubles, so an integer beyond
    ±(2**53 - 1) is accepted only when it names a double unambiguously (see
    :func:`_is_a_double`: ``2**53``, ``10**20``, or the integer spelling JCS itself prints
    for a large double); one that would be rounded (``2**53 + 1``) is refused rather than
    silently changed. Raises
    :class:`Malformed` for values JCS cannot represent (that, NaN, infinities, non-string
    keys, lone surrogates), because such values usually arrive from a client.
    """
    try:
        try:
            return rfc8785.dumps(obj)  # type: ignore[arg-type]
        except rfc8785.IntegerDomainError:
            return rfc8785.dumps(_exact_doubles(obj))  # type: ignore[arg-type]
    except (rfc8785.CanonicalizationError, RecursionError) as exc:
        raise Malformed(f"value has no canonical JSON form: {exc}") from exc


def _exact_doubles(value: object) -> object:
    """Copy ``value`` with out-of-safe-range ints as doubles, refusing any that would round."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_SAFE_INT:
        if not _is_a_double(value):
            raise Malformed(f"integer {value} is not exactly representable as a JSON number")
        return float(value)
    if isinstance(value, dict):
        return {k: _exact_doubles(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_exact_doubles(v) for v in value]
    return value


def _is_a_double(value: int) -> bool:
    """True if ``value`` is a double's exact value, or the ES6 spelling of the nearest one.

    The second case is what JCS itself prints for large doubles (``7.075159966900839e16``
    prints as ``70751599669008390``), so canonical text always parses back acceptably,
    while ``2**53 + 1``, which no producer prints, is refused instead of rounded.
    """
    try:
        as_double = float(value)
    except OverflowError:
        return False
    return as_double == value or rfc8785.dumps(as_double) == str(value).encode("ascii")


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 of ``data`` (content hashes are over canonical bytes)."""
    return hashlib.sha256(data).hexdigest()


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(s: str) -> bytes:
    """Decode unpadded base64url, accepting exactly one spelling per byte string.

    Refuses padding, characters outside ``A-Z a-z 0-9 - _``, impossible lengths and
    non-zero trailing bits: a lenient decoder lets one signature have several encodings,
    which breaks "the hub keeps the exact bytes it received". Raises :class:`Malformed`.
    """
    if not isinstance(s, str) or not _B64URL.fullmatch(s):
        raise Malformed("invalid base64url: only A-Z a-z 0-9 - _ without padding allowed")
    rem = len(s) % 4
    if rem == 1:
        raise Malformed("invalid base64url: impossible length")
    if rem and _B64URL_INDEX[s[-1]] & (0x0F if rem == 2 else 0x03):
        raise Malformed("invalid base64url: non-canonical trailing bits")
    try:
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    except binascii.Error as exc:  # unreachable after the checks above; kept as a guard
        raise Malformed(f"invalid base64url: {exc}") from exc


def loads_strict(data: bytes, *, max_depth: int = MAX_DEPTH) -> object:
    """Parse untrusted JSON bytes, refusing anything parsers might disagree about.

    Refuses, with :class:`Malformed`: invalid UTF-8 (and a BOM), nesting deeper than
    ``max_depth`` (checked before parsing, without recursion), duplicate object keys,
    ``NaN``/``Infinity`` and numbers that overflow to infinity, integers that a double
    would round (RFC 7493 §2.2; see :func:`canonicalize`), lone UTF-16 surrogates in
    ``\\u`` escapes, and anything else that is not one JSON text.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("loads_strict takes bytes")
    data = bytes(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Malformed(f"not valid UTF-8 at byte {exc.start}") from exc
    _check_depth(data, max_depth)
    try:
        value = json.loads(
            text,
            object_pairs_hook=_object_without_duplicates,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            parse_int=_exact_int,
        )
    except json.JSONDecodeError as exc:
        raise Malformed(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except ValueError as exc:  # e.g. an integer longer than sys.get_int_max_str_digits()
        raise Malformed(f"not valid JSON: {exc}") from exc
    if _ESCAPED_SURROGATE.search(data):
        _refuse_lone_surrogates(value)
    if b"\\u0000" in data and _has_nul(value):  # valid JSON, but no database stores it
        raise Malformed("NUL characters (\\u0000) are not accepted")
    return value


def _has_nul(value: object) -> bool:
    stack = [value]
    while stack:  # iterative: depth is already bounded, but no recursion is cheaper still
        v = stack.pop()
        if isinstance(v, str):
            if "\x00" in v:
                return True
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


def _check_depth(data: bytes, max_depth: int) -> None:
    """Refuse nesting deeper than ``max_depth`` using only C-speed string operations.

    String literals are cut out (brackets inside them do not nest), then only brackets are
    kept. Each pass of ``replace("[]", "")`` removes exactly the innermost pairs, so after
    ``max_depth`` passes anything left was nested deeper (or is unbalanced, which the parser
    would refuse anyway); a run of ``max_depth + 1`` openers settles the common ``[[[[...``
    attack early. Cost: at most ``max_depth`` linear passes in C, no recursion.
    """
    if b'\\"' in data:  # some quote may be escaped: let the regex find string ends
        outside_strings = _JSON_STRING.sub(b"", data)
    else:  # no quote is escaped, so every other run between quotes is inside a string
        outside_strings = b"".join(data.split(b'"')[::2])
    skeleton = outside_strings.translate(_CURLY_TO_SQUARE, _NOT_BRACKETS)
    too_deep = b"[" * (max_depth + 1)
    for _ in range(max_depth):
        if not skeleton:
            return
        if too_deep in skeleton:
            raise Malformed(f"JSON nested deeper than {max_depth} levels")
        skeleton = skeleton.replace(b"[]", b"")
    if skeleton:
        raise Malformed(f"JSON nested deeper than {max_depth} levels (or unbalanced brackets)")


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise Malformed(f"duplicate object key {key!r}")
            seen.add(key)
    return obj


def _refuse_constant(name: str) -> object:
    raise Malformed(f"{name} is not valid JSON")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise Malformed(f"number {literal[:40]} overflows a double")
    return value


def _exact_int(literal: str) -> int:
    value = int(literal)
    if abs(value) > _MAX_SAFE_INT and not _is_a_double(value):
        raise Malformed(f"integer {literal[:40]} would lose precision as a JSON number (I-JSON)")
    return value


def _refuse_lone_surrogates(value: object) -> None:
    """Walk the parsed value (depth already bounded) looking for unpaired surrogates."""
    for s in _strings(value):
        try:
            s.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise Malformed("JSON string contains a lone UTF-16 surrogate") from exc


def _strings(value: object) -> Iterator[str]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            yield from item.keys()
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
