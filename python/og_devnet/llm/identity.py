"""A gateway's identity: a self-signed TLS certificate (the trust anchor `og.LLM` pins) and
an RSA-2048 response-signing key (the registry's `publicKey`). Kept in the state directory,
so a resumed chain registers the same TEEs. Development only, and named so."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from og_devnet._core import keccak256

#: A certificate this close to expiry is replaced at start.
RENEW_BEFORE = dt.timedelta(days=7)
VALIDITY = dt.timedelta(days=3650)


def _private_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    tmp.replace(path)


def self_signed(key: ec.EllipticCurvePrivateKey, name: str, now: dt.datetime | None = None) -> x509.Certificate:
    """CN and SAN 127.0.0.1 (and localhost); CA:FALSE. `og.LLM` loads it as its only CA."""
    now = now or dt.datetime.now(dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "og-devnet (development only)"),
                         x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, name),
                         x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])  # fmt: skip
    san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")])
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(san, critical=False)
        .sign(key, hashes.SHA256())
    )


@dataclass
class GatewayIdentity:
    directory: Path
    signing_key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def key_file(self) -> Path:
        return self.directory / "tls.key"

    @property
    def cert_file(self) -> Path:
        return self.directory / "tls.pem"

    @property
    def certificate_der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def public_key_der(self) -> bytes:
        """The signing key's SubjectPublicKeyInfo DER: the registry's `publicKey`."""
        return self.signing_key.public_key().public_bytes(serialization.Encoding.DER,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo)  # fmt: skip

    @property
    def tee_id(self) -> str:
        """0x + keccak256(SPKI DER), as `tee_verify.tee_id_for_key` computes it."""
        return "0x" + keccak256(self.public_key_der).hex()

    def saved_port(self) -> int:
        try:
            return int((self.directory / "port").read_text().strip())
        except (OSError, ValueError):
            return 0

    def save_port(self, port: int) -> None:
        (self.directory / "port").write_text(f"{port}\n")

    @classmethod
    def load_or_create(cls, directory: Path, name: str) -> GatewayIdentity:
        directory.mkdir(parents=True, exist_ok=True)
        signing_file, key_file, cert_file = directory / "signing.key", directory / "tls.key", directory / "tls.pem"
        if signing_file.exists():
            # Our own file: skipping the RSA consistency check saves ~40 ms per gateway at start.
            signing_key = serialization.load_pem_private_key(signing_file.read_bytes(), None, unsafe_skip_rsa_key_validation=True)
            if not isinstance(signing_key, rsa.RSAPrivateKey):
                raise ValueError(f"{signing_file} is not an RSA key")
        else:
            signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            _write_private(signing_file, _private_pem(signing_key))
        cert = None
        if key_file.exists() and cert_file.exists():
            cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
            if cert.not_valid_after_utc - RENEW_BEFORE < dt.datetime.now(dt.UTC):
                cert = None
        if cert is None:
            tls_key = ec.generate_private_key(ec.SECP256R1())
            cert = self_signed(tls_key, name)
            _write_private(key_file, _private_pem(tls_key))
            cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cls(directory, signing_key, cert)
