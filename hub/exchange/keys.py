"""Agency signing keys: generation, JWK/PEM import and export, certificates, key files.

Only two key types exist in the hub: Ed25519 (JWS ``EdDSA``) and NIST P-256 (``ES256``).
Every loader refuses anything else, and refuses it loudly, because a key the hub cannot
verify with is a registration mistake, not something to work around.

Errors are ``ValueError`` subclasses, so the caller decides what they mean where it stands
(a 400 at key registration, a 500 for a corrupt row of our own): key material that cannot
be accepted (bad JWK, PEM or certificate bytes, a wrong key type, curve or ``alg``, a point
off the curve) raises :class:`InvalidKey`; a certificate chain that does not lead to a
trusted root at ``now`` raises :class:`UntrustedCertificate`. Programmer errors (an
unsupported algorithm name, an empty trust store) raise plain ``ValueError``.

Decision on :func:`load_public_jwk` and private members: it *refuses* a JWK that carries
``d`` (or any RSA private member). Silently stripping would hide the fact that an agency
just sent its private key over the wire; refusing tells them to rotate it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from hub.errors import Malformed
from hub.exchange.canonical import b64url_decode, b64url_encode, canonicalize, loads_strict

__all__ = [
    "AGENCY_URN_PREFIX",
    "InvalidKey",
    "PrivateKey",
    "PublicKey",
    "UntrustedCertificate",
    "agency_code_from_certificate",
    "algorithm_for_key",
    "generate_private_key",
    "issue_agency_certificate",
    "jwk_thumbprint",
    "load_certificate_chain",
    "load_private_jwk",
    "load_public_jwk",
    "load_public_pem",
    "make_dev_ca",
    "private_jwk",
    "public_jwk",
    "read_jwk",
    "verify_certificate_chain",
    "write_private_jwk",
]

PublicKey = Ed25519PublicKey | ec.EllipticCurvePublicKey
PrivateKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey

AGENCY_URN_PREFIX = "urn:th-complaint-hub:agency:"
# Agency codes end up in kids (``<agency-code>/<key-id>``) and URNs: no ``/`` or ``:``.
_AGENCY_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_P256_COORD_BYTES = 32
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_THUMBPRINT_MEMBERS = {
    "OKP": ("crv", "kty", "x"),
    "EC": ("crv", "kty", "x", "y"),
    "RSA": ("e", "kty", "n"),
    "oct": ("k", "kty"),
}


class InvalidKey(ValueError):
    """Key, JWK, PEM or certificate material the hub refuses to use."""


class UntrustedCertificate(ValueError):
    """The certificate chain does not lead to a trusted root at the given time."""


# --- key types -------------------------------------------------------------------------


def algorithm_for_key(key: PublicKey | PrivateKey) -> str:
    """The JWS ``alg`` for a key: Ed25519 → ``EdDSA``, P-256 → ``ES256``; else ValueError."""
    if isinstance(key, Ed25519PrivateKey | Ed25519PublicKey):
        return "EdDSA"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) and isinstance(
        key.curve, ec.SECP256R1
    ):
        return "ES256"
    raise ValueError(f"unsupported key type {type(key).__name__}: only Ed25519 and P-256")


def generate_private_key(alg: str = "EdDSA") -> PrivateKey:
    """A fresh signing key for ``alg`` (``EdDSA`` or ``ES256``); other names: ValueError."""
    if alg == "EdDSA":
        return Ed25519PrivateKey.generate()
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"unsupported algorithm {alg!r}: only EdDSA and ES256")


# --- JWK export ------------------------------------------------------------------------


def public_jwk(key: PublicKey | PrivateKey, *, kid: str | None = None) -> dict[str, str]:
    """The public JWK (RFC 7517 / RFC 8037) with ``alg`` and ``use: sig``; ``kid`` if given."""
    alg = algorithm_for_key(key)
    pub = (
        key.public_key() if isinstance(key, Ed25519PrivateKey | ec.EllipticCurvePrivateKey) else key
    )
    if isinstance(pub, Ed25519PublicKey):
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(pub.public_bytes_raw())}
    else:
        numbers = pub.public_numbers()
        jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url_encode(numbers.x.to_bytes(_P256_COORD_BYTES, "big")),
            "y": b64url_encode(numbers.y.to_bytes(_P256_COORD_BYTES, "big")),
        }
    jwk.update(alg=alg, use="sig")
    if kid is not None:
        jwk["kid"] = kid
    return jwk


def private_jwk(key: PrivateKey, *, kid: str | None = None) -> dict[str, str]:
    """The private JWK: :func:`public_jwk` plus ``d``. Store it with :func:`write_private_jwk`."""
    jwk = public_jwk(key, kid=kid)
    if isinstance(key, Ed25519PrivateKey):
        jwk["d"] = b64url_encode(key.private_bytes_raw())
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        d = key.private_numbers().private_value
        jwk["d"] = b64url_encode(d.to_bytes(_P256_COORD_BYTES, "big"))
    else:
        raise ValueError("private_jwk needs a private key")
    return jwk


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint: base64url SHA-256 of the required members, canonical JSON.

    JCS of a dict of strings is exactly RFC 7638's "no whitespace, sorted keys" form. A
    good default key id, because anyone holding the public key can recompute it.
    """
    members = _THUMBPRINT_MEMBERS.get(jwk.get("kty"))  # type: ignore[arg-type]
    if members is None:
        raise InvalidKey(f"cannot thumbprint JWK with kty {jwk.get('kty')!r}")
    try:
        required = {name: jwk[name] for name in members}
    except KeyError as exc:
        raise InvalidKey(f"JWK lacks required member {exc.args[0]!r}") from exc
    if not all(isinstance(v, str) for v in required.values()):
        raise InvalidKey("JWK thumbprint members must be strings")
    return b64url_encode(hashlib.sha256(canonicalize(required)).digest())


# --- JWK import ------------------------------------------------------------------------


def load_public_jwk(jwk: dict[str, Any]) -> tuple[PublicKey, str]:
    """Load a public JWK; return ``(key, alg)``, ``alg`` derived from the key type.

    Refuses (:class:`InvalidKey`): non-objects, private members (see the module
    docstring), ``kty`` other than OKP/EC, curves other than Ed25519/P-256, an ``alg`` that
    does not match the key type, ``use`` other than ``sig``, badly encoded or wrong-length
    coordinates, and a P-256 point that is not on the curve.
    """
    if not isinstance(jwk, dict):
        raise InvalidKey("JWK must be a JSON object")
    leaked = _PRIVATE_MEMBERS & jwk.keys()
    if leaked:
        raise InvalidKey(f"public JWK carries private members {sorted(leaked)}; rotate this key")
    return _load_jwk_public_part(jwk)


def load_private_jwk(jwk: dict[str, Any]) -> PrivateKey:
    """Load a private JWK (Ed25519 or P-256 with ``d``); ``d`` must match ``x``/``y``."""
    if not isinstance(jwk, dict):
        raise InvalidKey("JWK must be a JSON object")
    public, _alg = _load_jwk_public_part(jwk)
    d = _coordinate(jwk, "d")
    private: PrivateKey
    try:
        if isinstance(public, Ed25519PublicKey):
            private = Ed25519PrivateKey.from_private_bytes(d)
        else:
            private = ec.derive_private_key(int.from_bytes(d, "big"), ec.SECP256R1())
    except ValueError as exc:
        raise InvalidKey(f"JWK private key invalid: {exc}") from exc
    if public_jwk(private) != public_jwk(public):
        raise InvalidKey("JWK private member d does not match the public key")
    return private


def _load_jwk_public_part(jwk: dict[str, Any]) -> tuple[PublicKey, str]:
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "OKP" and crv == "Ed25519":
        alg = "EdDSA"
        key: PublicKey = Ed25519PublicKey.from_public_bytes(_coordinate(jwk, "x"))
    elif kty == "EC" and crv == "P-256":
        alg = "ES256"
        key = _p256_public_key(_coordinate(jwk, "x"), _coordinate(jwk, "y"))
    elif kty in ("OKP", "EC"):
        raise InvalidKey(f"unsupported curve {crv!r} for kty {kty}: only Ed25519 and P-256")
    else:
        raise InvalidKey(f"unsupported kty {kty!r}: only OKP (Ed25519) and EC (P-256)")
    if jwk.get("alg", alg) != alg:
        raise InvalidKey(f"JWK alg {jwk['alg']!r} does not match a {crv} key ({alg})")
    if jwk.get("use", "sig") != "sig":
        raise InvalidKey(f"JWK use {jwk['use']!r} is not 'sig'")
    return key, alg


def _coordinate(jwk: dict[str, Any], name: str) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise InvalidKey(f"JWK member {name!r} missing or not a string")
    try:
        raw = b64url_decode(value)
    except Malformed as exc:
        raise InvalidKey(f"JWK member {name!r}: {exc.detail}") from exc
    if len(raw) != _P256_COORD_BYTES:  # Ed25519 x/d and P-256 x/y/d are all 32 bytes
        raise InvalidKey(f"JWK member {name!r} must be 32 bytes, got {len(raw)}")
    return raw


def _p256_public_key(x: bytes, y: bytes) -> ec.EllipticCurvePublicKey:
    numbers = ec.EllipticCurvePublicNumbers(
        int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
    )
    try:
        return numbers.public_key()
    except ValueError as exc:
        raise InvalidKey("JWK point is not on the P-256 curve") from exc


def load_public_pem(data: bytes) -> tuple[PublicKey, str]:
    """Load a PEM SubjectPublicKeyInfo; return ``(key, alg)``. Other key types: InvalidKey."""
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InvalidKey(f"not a PEM public key: {exc}") from exc
    return _supported_public_key(key)


def _supported_public_key(key: object) -> tuple[PublicKey, str]:
    if isinstance(key, Ed25519PublicKey | ec.EllipticCurvePublicKey):
        try:
            return key, algorithm_for_key(key)
        except ValueError as exc:
            raise InvalidKey(str(exc)) from exc
    raise InvalidKey(f"unsupported key type {type(key).__name__}: only Ed25519 and P-256")


# --- key files -------------------------------------------------------------------------


def write_private_jwk(path: str | os.PathLike[str], jwk: dict[str, Any]) -> None:
    """Write a private JWK to ``path`` atomically, mode 0600 from the first byte.

    The data goes to a fresh sibling file opened with ``O_CREAT | O_EXCL`` and mode 0600
    (so it is never world-readable, even briefly, and never follows a planted symlink),
    is fsynced, then renamed over ``path`` (and the directory fsynced).
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    data = json.dumps(jwk, indent=2, sort_keys=True).encode("utf-8") + b"\n"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(target.parent)


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_jwk(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a JWK file written by :func:`write_private_jwk` (or any JSON object file)."""
    try:
        value = loads_strict(Path(path).read_bytes())
    except Malformed as exc:
        raise InvalidKey(f"{path}: {exc.detail}") from exc
    if not isinstance(value, dict):
        raise InvalidKey(f"{path}: JWK file must hold a JSON object")
    return value


# --- X.509 -----------------------------------------------------------------------------


def load_certificate_chain(pem: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle, leaf first as given. None found: InvalidKey."""
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise InvalidKey(f"not a PEM certificate chain: {exc}") from exc


def verify_certificate_chain(
    chain: list[x509.Certificate],
    trusted_roots: list[x509.Certificate],
    *,
    now: dt.datetime,
) -> PublicKey:
    """Check ``chain`` (leaf first, then intermediates) against ``trusted_roots`` at ``now``.

    Uses cryptography's RFC 5280 path builder (``x509.verification``) with its *client*
    verifier: agencies are clients of the hub, the leaf must carry ``clientAuth``, and no
    DNS name is matched (we read the agency code from the SAN URI instead). Returns the
    leaf's public key (Ed25519 or P-256). Raises :class:`UntrustedCertificate`; an empty
    trust store or a naive ``now`` raise ``ValueError`` (a trust policy must refuse an
    empty setup rather than accept everything).
    """
    if not trusted_roots:
        raise ValueError("empty trust store: refusing to verify against no roots")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not chain:
        raise UntrustedCertificate("empty certificate chain")
    verifier = (
        PolicyBuilder()
        .store(Store(trusted_roots))
        .time(now.astimezone(dt.UTC))
        .build_client_verifier()
    )
    try:
        verifier.verify(chain[0], chain[1:])
    except VerificationError as exc:
        raise UntrustedCertificate(f"certificate chain not trusted: {exc}") from exc
    key, _alg = _supported_public_key(chain[0].public_key())
    return key


def make_dev_ca(
    common_name: str, *, now: dt.datetime, days: int = 3650
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed P-256 development CA, with the extensions RFC 5280 verifiers demand.

    For development and tests only: production roots come from the operator's real CA.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        _builder(name, name, key.public_key(), key.public_key(), now=now, days=days)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issue_agency_certificate(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    agency_code: str,
    public_key: PublicKey,
    *,
    now: dt.datetime,
    days: int = 365,
) -> x509.Certificate:
    """An end-entity certificate binding ``public_key`` to ``agency_code``.

    The code goes in the subject CN and in a SAN URI ``urn:th-complaint-hub:agency:<code>``;
    the certificate is a non-CA, digitalSignature, clientAuth certificate.
    """
    _check_agency_code(agency_code)
    algorithm_for_key(public_key)  # only keys the hub can verify with get certified
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, agency_code)])
    san = x509.SubjectAlternativeName(
        [x509.UniformResourceIdentifier(AGENCY_URN_PREFIX + agency_code)]
    )
    issuer_key = ca_cert.public_key()
    if not isinstance(issuer_key, ec.EllipticCurvePublicKey):
        raise ValueError("the development CA is a P-256 key; see make_dev_ca")
    return (
        _builder(subject, ca_cert.subject, public_key, issuer_key, now=now, days=days)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(san, critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def agency_code_from_certificate(cert: x509.Certificate) -> str:
    """The agency code of a certificate issued by :func:`issue_agency_certificate`.

    Read from the single ``urn:th-complaint-hub:agency:`` SAN URI; a subject CN, if
    present, must agree. Anything ambiguous raises :class:`InvalidKey`.
    """
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound as exc:
        raise InvalidKey("certificate has no subjectAltName") from exc
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    codes = [u.removeprefix(AGENCY_URN_PREFIX) for u in uris if u.startswith(AGENCY_URN_PREFIX)]
    if len(codes) != 1:
        raise InvalidKey(f"certificate must name exactly one agency URN, found {len(codes)}")
    code = codes[0]
    _check_agency_code(code)
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if cns and cns[0].value != code:
        raise InvalidKey(f"certificate CN {cns[0].value!r} disagrees with SAN agency {code!r}")
    return code


def _check_agency_code(code: str) -> None:
    if not _AGENCY_CODE.fullmatch(code):
        raise InvalidKey(f"invalid agency code {code!r}")


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: PublicKey,
    issuer_public_key: ec.EllipticCurvePublicKey,
    *,
    now: dt.datetime,
    days: int,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public_key),
            critical=False,
        )
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
