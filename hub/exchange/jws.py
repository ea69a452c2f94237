"""JWS compact serialization (RFC 7515) for hub envelopes: EdDSA (Ed25519) and ES256 only.

Parsing and verifying are separate on purpose. :func:`parse_compact` looks at the token
alone: it is strict about the encoding, refuses any algorithm outside
:data:`ALLOWED_ALGORITHMS` before a key is even looked up, and keeps the payload bytes
exactly as received. The caller then looks up the key by ``kid`` in *its* registry and
calls :func:`verify` with the algorithm registered for that key, so the token never picks
its own verifier.

Why not ``jwt.api_jws.PyJWS`` end to end: its decoder pads and decodes base64url leniently
(several spellings of one signature verify), parses the header with plain ``json.loads``
(duplicate ``alg`` members: last wins), and its encoder lets ``headers={"alg": ...}``
override the algorithm. The parts that matter are a few lines here; the signature math is
``cryptography``'s. PyJWT and joserfc verify our output in the tests (interop).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.hashes import SHA256

from hub.errors import AlgorithmNotAllowed, BadSignature, Malformed
from hub.exchange.canonical import b64url_decode, b64url_encode, canonicalize, loads_strict
from hub.exchange.keys import PrivateKey, PublicKey, algorithm_for_key

__all__ = [
    "ALLOWED_ALGORITHMS",
    "ENVELOPE_TYP",
    "MAX_HEADER_BYTES",
    "ParsedJWS",
    "algorithm_for_key",
    "parse_compact",
    "sign",
    "sign_json",
    "verify",
]

ALLOWED_ALGORITHMS = frozenset({"EdDSA", "ES256"})
ENVELOPE_TYP = "hub-envelope+jws"
MAX_HEADER_BYTES = 4096
"""A protected header is a few short members; anything bigger is refused before parsing."""

_SIGNATURE_BYTES = 64  # Ed25519 signatures and ES256 raw R||S (RFC 7518 §3.4) alike
_COORD_BYTES = 32
_ES256_HASH = SHA256()
_RESERVED_HEADERS = frozenset({"alg", "kid", "typ", "crit", "b64"})


@dataclass(frozen=True)
class ParsedJWS:
    """A structurally valid compact JWS, not yet verified.

    ``payload`` is the exact decoded payload octets; ``signing_input`` is the exact ASCII
    ``header.payload`` the signature covers; ``compact`` is the token as received.
    """

    header: dict[str, Any]
    payload: bytes
    signing_input: bytes
    signature: bytes
    compact: str


def parse_compact(
    token: str | bytes, *, require_kid: bool = True, expected_typ: str | None = None
) -> ParsedJWS:
    """Split and decode a compact JWS without trusting anything in it.

    Steps (RFC 7515 §5.2, narrowed to our profile):

    1. The token is ASCII with exactly three ``.``-separated parts (no JWE, no
       unencoded or detached payloads).
    2. Each part is strict unpadded base64url (:func:`b64url_decode`).
    3. The header is at most :data:`MAX_HEADER_BYTES`, strict JSON (UTF-8, no duplicate
       members) and an object.
    4. ``alg`` is a string in :data:`ALLOWED_ALGORITHMS`, else :class:`AlgorithmNotAllowed`
       (so ``none``, ``HS*``, ``RS*`` never reach a key).
    5. ``kid`` is a non-empty string (required unless ``require_kid=False``).
    6. No ``crit`` (we implement no extensions, RFC 7515 §4.1.11) and no ``b64`` other
       than ``true`` (RFC 7797 unencoded payloads are refused).
    7. ``typ``, when ``expected_typ`` is given, equals it.

    Header members such as ``jwk``, ``jku``, ``x5u`` and ``x5c`` are never consulted: keys
    come from the registry. Raises :class:`Malformed` or :class:`AlgorithmNotAllowed`.
    """
    compact = _ascii(token)
    if compact.count(".") != 2:
        raise Malformed("a compact JWS has exactly three parts separated by '.'")
    header_b64, payload_b64, signature_b64 = compact.split(".")
    if len(header_b64) > MAX_HEADER_BYTES * 4 // 3 + 4:
        raise Malformed(f"JWS header larger than {MAX_HEADER_BYTES} bytes")
    header = _parse_header(b64url_decode(header_b64))
    _check_header(header, require_kid=require_kid, expected_typ=expected_typ)
    return ParsedJWS(
        header=header,
        payload=b64url_decode(payload_b64),
        signing_input=f"{header_b64}.{payload_b64}".encode("ascii"),
        signature=b64url_decode(signature_b64),
        compact=compact,
    )


def verify(parsed: ParsedJWS, key: PublicKey, *, alg: str) -> None:
    """Check the signature of ``parsed`` with ``key``; return ``None`` or raise.

    ``alg`` is the algorithm *registered* for ``key``, never taken from the token.

    Steps (RFC 7515 §5.2 steps 8 and 10, with the RFC 8725 §3.1 algorithm pinning):

    1. ``alg`` is one of :data:`ALLOWED_ALGORITHMS` and ``key`` is of that type
       (Ed25519 for EdDSA, P-256 for ES256), else :class:`AlgorithmNotAllowed`.
    2. The header's ``alg`` equals ``alg``, else :class:`AlgorithmNotAllowed`
       (algorithm confusion: an ES256 header on an Ed25519 key, and so on).
    3. The signature is 64 bytes: Ed25519, or ES256's raw ``R || S`` (RFC 7518 §3.4, not
       DER), else :class:`BadSignature`.
    4. The signature verifies over the exact received ``signing_input``, else
       :class:`BadSignature`.
    """
    _check_key_matches(key, alg)
    if parsed.header.get("alg") != alg:
        raise AlgorithmNotAllowed(
            f"token says alg {parsed.header.get('alg')!r} but the key is registered for {alg}"
        )
    signature = parsed.signature
    if len(signature) != _SIGNATURE_BYTES:
        raise BadSignature(f"{alg} signature must be {_SIGNATURE_BYTES} bytes")
    try:
        if isinstance(key, Ed25519PublicKey):
            key.verify(signature, parsed.signing_input)
        else:
            r = int.from_bytes(signature[:_COORD_BYTES], "big")
            s = int.from_bytes(signature[_COORD_BYTES:], "big")
            key.verify(encode_dss_signature(r, s), parsed.signing_input, ec.ECDSA(_ES256_HASH))
    except InvalidSignature as exc:
        raise BadSignature("signature does not verify") from exc


def sign(
    payload: bytes,
    key: PrivateKey,
    *,
    kid: str,
    typ: str | None = ENVELOPE_TYP,
    extra_headers: dict[str, Any] | None = None,
) -> str:
    """Sign ``payload`` bytes as a compact JWS; ``alg`` follows from the key type.

    The protected header is RFC 8785 canonical JSON (``alg``, ``kid``, ``typ`` and any
    ``extra_headers``), so the same inputs always give the same header bytes. Ed25519 keys
    sign EdDSA, P-256 keys sign ES256; any other key, an empty ``kid``, or extra headers
    that try to set ``alg``/``kid``/``typ``/``crit``/``b64`` raise ``ValueError``.
    """
    alg = algorithm_for_key(key)
    if not isinstance(kid, str) or not kid:
        raise ValueError("kid must be a non-empty string")
    clash = _RESERVED_HEADERS & (extra_headers or {}).keys()
    if clash:
        raise ValueError(f"extra_headers may not set {sorted(clash)}")
    header: dict[str, Any] = {**(extra_headers or {}), "alg": alg, "kid": kid}
    if typ:
        header["typ"] = typ
    signing_input = f"{b64url_encode(canonicalize(header))}.{b64url_encode(payload)}"
    signature = _signature(key, signing_input.encode("ascii"))
    return f"{signing_input}.{b64url_encode(signature)}"


def sign_json(
    obj: object,
    key: PrivateKey,
    *,
    kid: str,
    typ: str | None = ENVELOPE_TYP,
    extra_headers: dict[str, Any] | None = None,
) -> str:
    """:func:`sign` the RFC 8785 canonical bytes of ``obj``."""
    return sign(canonicalize(obj), key, kid=kid, typ=typ, extra_headers=extra_headers)


def _signature(key: PrivateKey, signing_input: bytes) -> bytes:
    if isinstance(key, Ed25519PrivateKey):
        return key.sign(signing_input)
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(_ES256_HASH)))
    return r.to_bytes(_COORD_BYTES, "big") + s.to_bytes(_COORD_BYTES, "big")


def _ascii(token: str | bytes) -> str:
    try:
        if isinstance(token, bytes):
            return token.decode("ascii")
        if isinstance(token, str):
            token.encode("ascii")
            return token
    except UnicodeError as exc:
        raise Malformed("a compact JWS is ASCII only") from exc
    raise Malformed(f"a compact JWS is a string, not {type(token).__name__}")


def _parse_header(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_HEADER_BYTES:
        raise Malformed(f"JWS header larger than {MAX_HEADER_BYTES} bytes")
    try:
        header = loads_strict(raw)
    except Malformed as exc:
        raise Malformed(f"JWS header: {exc.detail}") from exc
    if not isinstance(header, dict):
        raise Malformed("JWS header must be a JSON object")
    return header


def _check_header(header: dict[str, Any], *, require_kid: bool, expected_typ: str | None) -> None:
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise Malformed("JWS header needs an 'alg' string")
    if alg not in ALLOWED_ALGORITHMS:
        raise AlgorithmNotAllowed(f"alg {alg[:32]!r} not allowed; use EdDSA or ES256")
    kid = header.get("kid")
    if (require_kid or kid is not None) and (not isinstance(kid, str) or not kid):
        raise Malformed("JWS header needs a non-empty 'kid' string")
    if "crit" in header:
        raise Malformed(f"unsupported critical header parameters {header['crit']!r}")
    if header.get("b64", True) is not True:
        raise Malformed("unencoded payloads (b64: false) are not supported")
    if expected_typ is not None and header.get("typ") != expected_typ:
        raise Malformed(f"JWS typ must be {expected_typ!r}, got {header.get('typ')!r}")


def _check_key_matches(key: PublicKey, alg: str) -> None:
    if alg == "EdDSA":
        if isinstance(key, Ed25519PublicKey):
            return
    elif alg == "ES256":
        if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
            return
    else:
        raise AlgorithmNotAllowed(f"alg {alg!r} not allowed; use EdDSA or ES256")
    raise AlgorithmNotAllowed(f"a {type(key).__name__} cannot verify {alg}")
