"""JWS compact: the RFC examples, the classic JOSE attacks, and interop with PyJWT/joserfc.

Vectors: ``tests/fixtures/vectors/jws/`` (RFC 7515 Appendix A, RFC 8037 Appendix A).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from hypothesis import given
from hypothesis import strategies as st
from joserfc import jws as jose_jws
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, OKPKey

from hub.errors import AlgorithmNotAllowed, BadSignature, Malformed
from hub.exchange.canonical import b64url_decode, b64url_encode, canonicalize, loads_strict
from hub.exchange.jws import (
    ALLOWED_ALGORITHMS,
    ENVELOPE_TYP,
    ParsedJWS,
    _signature,
    parse_compact,
    sign,
    sign_json,
    verify,
)
from hub.exchange.keys import (
    PrivateKey,
    generate_private_key,
    load_private_jwk,
    load_public_jwk,
    public_jwk,
)

VECTORS = {
    v["name"]: v
    for v in json.loads(
        (
            Path(__file__).resolve().parents[1]
            / "fixtures"
            / "vectors"
            / "jws"
            / "jws_vectors.json"
        ).read_text()
    )
}
ED_KEY = generate_private_key("EdDSA")
EC_KEY = generate_private_key("ES256")
KEYS: dict[str, PrivateKey] = {"EdDSA": ED_KEY, "ES256": EC_KEY}
KID = "bkk/2025-01"


def _public_only(jwk: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in jwk.items() if k != "d"}


def _token(header: object, payload: bytes, signature: bytes) -> str:
    header_b64 = header if isinstance(header, str) else b64url_encode(json.dumps(header).encode())
    return f"{header_b64}.{b64url_encode(payload)}.{b64url_encode(signature)}"


def _flip_bit(data: bytes, index: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


# --- the RFC examples, through our code only -----------------------------------------------


@pytest.mark.parametrize(
    ("name", "alg"), [("RFC7515-A.3-ES256", "ES256"), ("RFC8037-A.4-EdDSA-Ed25519", "EdDSA")]
)
def test_rfc_example_verifies(name: str, alg: str) -> None:
    vector = VECTORS[name]
    key, registered = load_public_jwk(_public_only(vector["jwk"]))
    assert registered == alg
    parsed = parse_compact(vector["jws"], require_kid=False)
    assert parsed.payload == vector["payload"].encode()  # CRLFs and spaces kept exactly
    assert parsed.signing_input == vector["signing_input"].encode()
    assert parsed.compact == vector["jws"]
    verify(parsed, key, alg=alg)


@pytest.mark.parametrize("name", ["RFC7515-A.1-HS256", "RFC7515-A.2-RS256", "RFC7515-A.4-ES512"])
def test_rfc_examples_with_other_algorithms_are_refused(name: str) -> None:
    with pytest.raises(AlgorithmNotAllowed):
        parse_compact(VECTORS[name]["jws"], require_kid=False)


@pytest.mark.parametrize(
    ("name", "alg"), [("RFC7515-A.3-ES256", "ES256"), ("RFC8037-A.4-EdDSA-Ed25519", "EdDSA")]
)
@pytest.mark.parametrize("part", ["payload", "signature"])
def test_rfc_example_with_a_flipped_bit_is_refused(name: str, alg: str, part: str) -> None:
    vector = VECTORS[name]
    key, _ = load_public_jwk(_public_only(vector["jwk"]))
    payload = b64url_decode(vector["payload_b64"])
    signature = b64url_decode(vector["signature_b64"])
    if part == "payload":
        payload = _flip_bit(payload, 3)
    else:
        signature = _flip_bit(signature, 40)
    parsed = parse_compact(_token(vector["protected_b64"], payload, signature), require_kid=False)
    with pytest.raises(BadSignature):
        verify(parsed, key, alg=alg)


def test_rfc8037_signature_is_reproduced_by_our_key_handling() -> None:
    """Ed25519 is deterministic: the same key and input give the RFC's signature."""
    vector = VECTORS["RFC8037-A.4-EdDSA-Ed25519"]
    key = load_private_jwk(vector["jwk"])
    assert _signature(key, vector["signing_input"].encode()).hex() == vector["signature_hex"]


# --- sign / parse / verify ---------------------------------------------------------------


@pytest.mark.parametrize("alg", sorted(ALLOWED_ALGORITHMS))
def test_sign_parse_verify(alg: str) -> None:
    token = sign(b'{"id":"x"}', KEYS[alg], kid=KID)
    parsed = parse_compact(token, expected_typ=ENVELOPE_TYP)
    assert parsed.header == {"alg": alg, "kid": KID, "typ": ENVELOPE_TYP}
    assert parsed.payload == b'{"id":"x"}'
    assert len(parsed.signature) == 64
    verify(parsed, KEYS[alg].public_key(), alg=alg)


def test_header_is_canonical_json() -> None:
    token = sign(b"x", ED_KEY, kid=KID, extra_headers={"cty": "json", "x-trace": "ไทย"})
    header_b64 = token.split(".")[0]
    header = {"alg": "EdDSA", "cty": "json", "kid": KID, "typ": ENVELOPE_TYP, "x-trace": "ไทย"}
    assert b64url_decode(header_b64) == canonicalize(header)


def test_sign_json_signs_canonical_bytes() -> None:
    token = sign_json({"b": 1, "a": "ศาลากลาง"}, ED_KEY, kid=KID)
    assert parse_compact(token).payload == '{"a":"ศาลากลาง","b":1}'.encode()


def test_typ_can_be_left_out() -> None:
    assert "typ" not in parse_compact(sign(b"x", ED_KEY, kid=KID, typ=None)).header


def test_ed25519_signing_is_deterministic() -> None:
    assert sign(b"same", ED_KEY, kid=KID) == sign(b"same", ED_KEY, kid=KID)


@pytest.mark.parametrize(
    "key",
    [
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec.generate_private_key(ec.SECP384R1()),
        Ed448PrivateKey.generate(),
    ],
    ids=["RSA", "P-384", "Ed448"],
)
def test_sign_refuses_other_key_types(key: Any) -> None:
    with pytest.raises(ValueError, match="unsupported key type"):
        sign(b"x", key, kid=KID)


@pytest.mark.parametrize("headers", [{"alg": "none"}, {"kid": "other"}, {"crit": ["exp"]}])
def test_sign_refuses_extra_headers_that_override_ours(headers: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="extra_headers"):
        sign(b"x", ED_KEY, kid=KID, extra_headers=headers)


def test_sign_needs_a_kid() -> None:
    with pytest.raises(ValueError, match="kid"):
        sign(b"x", ED_KEY, kid="")


@given(payload=st.binary(max_size=512), alg=st.sampled_from(sorted(ALLOWED_ALGORITHMS)))
def test_round_trip_any_payload(payload: bytes, alg: str) -> None:
    parsed = parse_compact(sign(payload, KEYS[alg], kid=KID))
    assert parsed.payload == payload
    verify(parsed, KEYS[alg].public_key(), alg=alg)


@given(obj=st.dictionaries(st.text(max_size=5), st.text(max_size=20) | st.integers(-1000, 1000)))
def test_round_trip_json(obj: dict[str, Any]) -> None:
    parsed = parse_compact(sign_json(obj, EC_KEY, kid=KID))
    verify(parsed, EC_KEY.public_key(), alg="ES256")
    assert json.loads(parsed.payload) == obj


# --- attacks -------------------------------------------------------------------------------


@pytest.fixture
def good() -> str:
    return sign_json({"type": "case.create", "id": "bkk:1"}, ED_KEY, kid=KID)


def test_alg_none_is_refused(good: str) -> None:
    _, payload, _ = good.split(".")
    forged = _token({"alg": "none", "kid": KID}, b64url_decode(payload), b"")
    with pytest.raises(AlgorithmNotAllowed):
        parse_compact(forged)
    with pytest.raises(AlgorithmNotAllowed):
        parse_compact(_token({"alg": "None", "kid": KID}, b"{}", b""))


@pytest.mark.parametrize("encoding", ["raw", "pem"])
def test_hs256_with_the_public_key_as_secret_is_refused(encoding: str) -> None:
    public = ED_KEY.public_key()
    assert isinstance(public, Ed25519PublicKey)
    secret = (
        public.public_bytes_raw()
        if encoding == "raw"
        else public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    header = b64url_encode(canonicalize({"alg": "HS256", "kid": KID, "typ": ENVELOPE_TYP}))
    signing_input = f"{header}.{b64url_encode(b'{}')}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(AlgorithmNotAllowed):
        parse_compact(f"{signing_input}.{b64url_encode(mac)}")


def test_es256_header_on_an_ed25519_key_is_refused() -> None:
    """Algorithm confusion: the attacker signs with their own P-256 key, claims ES256."""
    forged = sign(b'{"id":"evil"}', EC_KEY, kid=KID)  # header alg ES256
    parsed = parse_compact(forged)
    with pytest.raises(AlgorithmNotAllowed, match="registered for EdDSA"):
        verify(parsed, ED_KEY.public_key(), alg="EdDSA")


def test_eddsa_header_on_an_es256_key_is_refused() -> None:
    parsed = parse_compact(sign(b"{}", ED_KEY, kid=KID))
    with pytest.raises(AlgorithmNotAllowed):
        verify(parsed, EC_KEY.public_key(), alg="ES256")


def test_registered_alg_must_fit_the_key(good: str) -> None:
    parsed = parse_compact(good)
    with pytest.raises(AlgorithmNotAllowed):
        verify(parsed, ED_KEY.public_key(), alg="ES256")
    with pytest.raises(AlgorithmNotAllowed):
        verify(parsed, ED_KEY.public_key(), alg="HS256")
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    es_parsed = parse_compact(sign(b"{}", EC_KEY, kid=KID))
    with pytest.raises(AlgorithmNotAllowed):
        verify(es_parsed, p384, alg="ES256")


def test_tampered_payload_is_refused(good: str) -> None:
    header, _, signature = good.split(".")
    payload = b64url_encode(canonicalize({"type": "case.create", "id": "bkk:2"}))
    tampered = f"{header}.{payload}.{signature}"
    with pytest.raises(BadSignature):
        verify(parse_compact(tampered), ED_KEY.public_key(), alg="EdDSA")


def test_tampered_header_is_refused(good: str) -> None:
    _, payload, signature = good.split(".")
    header = b64url_encode(canonicalize({"alg": "EdDSA", "kid": "other/1"}))
    with pytest.raises(BadSignature):
        verify(parse_compact(f"{header}.{payload}.{signature}"), ED_KEY.public_key(), alg="EdDSA")


def test_signature_from_another_key_is_refused(good: str) -> None:
    with pytest.raises(BadSignature):
        verify(parse_compact(good), generate_private_key().public_key(), alg="EdDSA")


@pytest.mark.parametrize(
    ("cut", "error"),
    [
        (lambda t: t[: len(t) // 2], Malformed),  # lost its signature part
        (lambda t: t.rsplit(".", 1)[0], Malformed),
        (lambda t: t[:-1], Malformed),  # 85 base64url characters cannot be
        (lambda t: t[:-2], BadSignature),  # 63-byte signature
        (lambda t: t.rsplit(".", 1)[0] + ".", BadSignature),  # empty signature
    ],
)
def test_truncated_token_is_refused(good: str, cut: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        verify(parse_compact(cut(good)), ED_KEY.public_key(), alg="EdDSA")


@pytest.mark.parametrize("extra", [".", ".e30", "..", ".x.y"])
def test_wrong_number_of_parts_is_malformed(good: str, extra: str) -> None:
    with pytest.raises(Malformed, match="three parts"):
        parse_compact(good + extra)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t.replace("-", "+").replace("_", "/") + "+",
        lambda t: t + "==",
        lambda t: " " + t,
        lambda t: t + "\n",
        lambda t: t.replace(".", ".!", 1),
        lambda t: t[:-1] + ("B" if t[-1] != "B" else "D"),  # non-canonical trailing bits
    ],
)
def test_invalid_base64url_is_malformed(good: str, mutate: Any) -> None:
    with pytest.raises(Malformed):
        parse_compact(mutate(good))


@pytest.mark.parametrize("header", [b"[]", b'"EdDSA"', b"1", b"null", b"not json", b"\xff{}"])
def test_non_object_header_is_malformed(header: bytes) -> None:
    with pytest.raises(Malformed):
        parse_compact(_token(b64url_encode(header), b"{}", b"s" * 64))


@pytest.mark.parametrize(
    "header",
    [
        {"kid": KID},  # no alg
        {"alg": ["EdDSA"], "kid": KID},
        {"alg": "EdDSA"},  # no kid
        {"alg": "EdDSA", "kid": ""},
        {"alg": "EdDSA", "kid": 7},
        {"alg": "EdDSA", "kid": KID, "crit": ["exp"], "exp": 1},
        {"alg": "EdDSA", "kid": KID, "crit": ["b64"], "b64": False},
        {"alg": "EdDSA", "kid": KID, "b64": False},
        {"alg": "EdDSA", "kid": KID, "typ": "JWT"},
    ],
)
def test_header_profile_violations_are_malformed(header: dict[str, Any]) -> None:
    with pytest.raises(Malformed):
        parse_compact(_token(header, b"{}", b"s" * 64), expected_typ=ENVELOPE_TYP)


def test_duplicate_alg_in_header_is_malformed() -> None:
    header = b64url_encode(b'{"alg":"HS256","alg":"EdDSA","kid":"k"}')
    with pytest.raises(Malformed, match="duplicate"):
        parse_compact(_token(header, b"{}", b"s" * 64))


def test_kid_is_optional_only_when_asked() -> None:
    token = _token({"alg": "EdDSA"}, b"{}", b"s" * 64)
    assert parse_compact(token, require_kid=False).header == {"alg": "EdDSA"}


def test_oversized_header_is_malformed() -> None:
    header = {"alg": "EdDSA", "kid": KID, "x": "a" * 5000}
    with pytest.raises(Malformed, match="header larger"):
        parse_compact(_token(header, b"{}", b"s" * 64))


@pytest.mark.parametrize("token", ["é.e30.e30", b"\xff.e30.e30", 12, None])
def test_non_ascii_or_non_string_token_is_malformed(token: Any) -> None:
    with pytest.raises(Malformed):
        parse_compact(token)


def test_bytes_token_is_accepted(good: str) -> None:
    assert parse_compact(good.encode()).compact == good


def test_der_encoded_es256_signature_is_refused() -> None:
    """RFC 7518 §3.4: ES256 signatures are raw R||S; DER (as OpenSSL emits) is not."""
    token = sign(b"{}", EC_KEY, kid=KID)
    parsed = parse_compact(token)
    r = int.from_bytes(parsed.signature[:32], "big")
    s = int.from_bytes(parsed.signature[32:], "big")
    der = encode_dss_signature(r, s)
    forged = f"{token.rsplit('.', 1)[0]}.{b64url_encode(der)}"
    with pytest.raises(BadSignature, match="64 bytes"):
        verify(parse_compact(forged), EC_KEY.public_key(), alg="ES256")


def test_invalid_utf8_payload_is_kept_as_bytes_and_refused_by_loads_strict() -> None:
    parsed = parse_compact(sign(b'{"a":"\xff"}', ED_KEY, kid=KID))
    verify(parsed, ED_KEY.public_key(), alg="EdDSA")  # JWS signs octets, not text
    with pytest.raises(Malformed, match="UTF-8"):
        loads_strict(parsed.payload)


def test_parsed_jws_is_immutable(good: str) -> None:
    parsed = parse_compact(good)
    with pytest.raises(AttributeError):
        parsed.payload = b"other"  # type: ignore[misc]
    assert isinstance(parsed, ParsedJWS)


# --- interop: PyJWT and joserfc ------------------------------------------------------------


@pytest.fixture
def quiet_joserfc() -> Iterator[None]:
    """joserfc flags ``EdDSA`` as deprecated by RFC 9864 (in favour of ``Ed25519``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        yield


def _joserfc_key(alg: str, jwk: dict[str, Any]) -> OKPKey | ECKey:
    return OKPKey.import_key(jwk) if alg == "EdDSA" else ECKey.import_key(jwk)


@pytest.mark.parametrize("alg", sorted(ALLOWED_ALGORITHMS))
def test_joserfc_signs_we_verify(alg: str, quiet_joserfc: None) -> None:
    their_key = OKPKey.generate_key("Ed25519") if alg == "EdDSA" else ECKey.generate_key("P-256")
    token = jose_jws.serialize_compact(
        {"alg": alg, "kid": KID, "typ": ENVELOPE_TYP}, b'{"from":"joserfc"}', their_key, [alg]
    )
    key, registered = load_public_jwk(their_key.as_dict(private=False))
    assert registered == alg
    parsed = parse_compact(token, expected_typ=ENVELOPE_TYP)
    verify(parsed, key, alg=alg)
    assert parsed.payload == b'{"from":"joserfc"}'


@pytest.mark.parametrize("alg", sorted(ALLOWED_ALGORITHMS))
def test_we_sign_joserfc_verifies(alg: str, quiet_joserfc: None) -> None:
    token = sign_json({"to": "joserfc", "ข้อความ": "ทดสอบ"}, KEYS[alg], kid=KID)
    their_key = _joserfc_key(alg, public_jwk(KEYS[alg], kid=KID))
    result = jose_jws.deserialize_compact(token, their_key, algorithms=[alg])
    assert result.protected == {"alg": alg, "kid": KID, "typ": ENVELOPE_TYP}
    assert json.loads(result.payload) == {"to": "joserfc", "ข้อความ": "ทดสอบ"}


@pytest.mark.parametrize("alg", sorted(ALLOWED_ALGORITHMS))
def test_pyjwt_interop_both_ways(alg: str) -> None:
    ours = sign(b"payload", KEYS[alg], kid=KID)
    assert jwt.PyJWS().decode(ours, KEYS[alg].public_key(), algorithms=[alg]) == b"payload"
    theirs = jwt.PyJWS().encode(b"payload", KEYS[alg], algorithm=alg, headers={"kid": KID})
    verify(parse_compact(theirs), KEYS[alg].public_key(), alg=alg)


def test_es256_signature_is_raw_r_s() -> None:
    """Our ES256 signature bytes decode as (r, s) the way cryptography's DER does."""
    token = sign(b"x", EC_KEY, kid=KID)
    raw = parse_compact(token).signature
    der = jwt.utils.raw_to_der_signature(raw, ec.SECP256R1())
    assert decode_dss_signature(der) == (
        int.from_bytes(raw[:32], "big"),
        int.from_bytes(raw[32:], "big"),
    )
    assert base64.urlsafe_b64decode(token.rsplit(".", 1)[1] + "==") == raw
