"""Files for a development CA (``hub certs init`` / ``hub certs issue``). Never for production.

Layout of the directory: ``ca.pem`` (certificate, public), ``ca.key.pem`` (0600),
``<code>.cert.pem`` and, when the key was made here, ``<code>.private.jwk`` (0600).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from hub.exchange.keys import (
    generate_private_key,
    issue_agency_certificate,
    jwk_thumbprint,
    load_private_jwk,
    load_public_jwk,
    make_dev_ca,
    private_jwk,
    public_jwk,
    read_jwk,
    write_private_jwk,
)
from hub.files import write_private_bytes


def init(directory: Path) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    key, cert = make_dev_ca("Complaint Hub Development CA", now=datetime.now(UTC))
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_private_bytes(directory / "ca.key.pem", pem)
    (directory / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    ca = directory / "ca.pem"
    return f"development CA in {ca}; trust it with HUB_TRUSTED_CA_FILE={ca}"


def issue(directory: Path, code: str, *, key_file: Path | None, days: int) -> str:
    ca_key = serialization.load_pem_private_key((directory / "ca.key.pem").read_bytes(), None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError("the development CA key is P-256")
    ca_cert = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
    note = ""
    if key_file is None:
        private = generate_private_key()
        kid = f"{code}/{jwk_thumbprint(public_jwk(private))[:16]}"
        write_private_jwk(directory / f"{code}.private.jwk", private_jwk(private, kid=kid))
        public = private.public_key()
        note = f"; private key {directory}/{code}.private.jwk (0600)"
    else:
        jwk = read_jwk(key_file)
        public = load_private_jwk(jwk).public_key() if "d" in jwk else load_public_jwk(jwk)[0]
    cert = issue_agency_certificate(ca_key, ca_cert, code, public, now=datetime.now(UTC), days=days)
    path = directory / f"{code}.cert.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return f"certificate for {code} at {path}{note}"
