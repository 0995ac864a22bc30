"""Mock-hardware TEEs with real cryptography: a devnet CA (root → intermediate, P-384), one
enclave per node with a leaf certificate, attestation documents in the AWS Nitro format
(COSE_Sign1, ES384, CBOR payload) and responses signed by a secp256k1 key the document
attests, as Ethereum accounts sign (so a contract can `ecrecover` an answer). Verification is the Rust
core's (`_core.verify_tee`): it needs only the root certificate and the registered PCRs.
An enclave attests once per model and reuses the document for its answers
(`Enclave.attestation`), so the verifier's attestation cache checks each document once.

The CA is for development only and says so in its names."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from og_devnet._core import address_of_key, sign_tee_response

#: PCR0 and PCR1: what every devnet enclave runs (image, node software); PCR2: the model.
RUNTIME_IMAGE = b"og-devnet enclave image v1 (mock hardware)"
NODE_SOFTWARE = b"og-devnet inference node v1"
COSE_ES384 = -35
#: The verifier's maximum attestation age (`TeePolicy.max_attestation_age_ms` in the Rust core).
MAX_ATTESTATION_AGE_MS = 600_000
#: An enclave attests again once its document is half that old, so the document an answer
#: carries always has minutes left to vouch for it, settlement's re-check included.
REATTEST_AFTER_MS = MAX_ATTESTATION_AGE_MS // 2


def sha384(data: bytes) -> bytes:
    return hashlib.sha384(data).digest()


def measurements(model_measurement: bytes, runtime_image: bytes = RUNTIME_IMAGE) -> list[bytes]:
    """PCR0..2 for an enclave serving a model: PCR2 measures the model (its content id)."""
    return [sha384(runtime_image), sha384(NODE_SOFTWARE), sha384(model_measurement)]


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "og-devnet (development only)"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])  # fmt: skip


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Certificate | None,
          issuer_key: ec.EllipticCurvePrivateKey, ca: bool, not_before: dt.datetime,
          not_after: dt.datetime) -> x509.Certificate:  # fmt: skip
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer.subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    return builder.sign(issuer_key, hashes.SHA384())


def _raw_signature(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """ES384 as COSE wants it: r ‖ s, 48 bytes each."""
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA384())))
    return r.to_bytes(48, "big") + s.to_bytes(48, "big")


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


@dataclass
class DevnetCA:
    root_key: ec.EllipticCurvePrivateKey
    root: x509.Certificate
    intermediate_key: ec.EllipticCurvePrivateKey
    intermediate: x509.Certificate

    @classmethod
    def create(cls, now: dt.datetime | None = None) -> DevnetCA:
        now = now or dt.datetime.now(dt.timezone.utc)
        root_key = ec.generate_private_key(ec.SECP384R1())
        root = _cert("og-devnet root CA", root_key, None, root_key, True, now - dt.timedelta(days=1), now + dt.timedelta(days=3650))
        ikey = ec.generate_private_key(ec.SECP384R1())
        inter = _cert("og-devnet intermediate CA", ikey, root, root_key, True, now - dt.timedelta(days=1), now + dt.timedelta(days=365))
        return cls(root_key, root, ikey, inter)

    @classmethod
    def load_or_create(cls, directory: Path) -> DevnetCA:
        """The CA of a state directory: created once, kept across restarts."""
        directory.mkdir(parents=True, exist_ok=True)
        files = [directory / n for n in ("root.key", "root.pem", "intermediate.key", "intermediate.pem")]
        if all(f.exists() for f in files):
            keys = [serialization.load_pem_private_key(files[i].read_bytes(), None) for i in (0, 2)]
            certs = [x509.load_pem_x509_certificate(files[i].read_bytes()) for i in (1, 3)]
            return cls(keys[0], certs[0], keys[1], certs[1])  # type: ignore[arg-type]
        ca = cls.create()
        pem_key = lambda k: k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,  # noqa: E731
                                            serialization.NoEncryption())  # fmt: skip
        files[0].write_bytes(pem_key(ca.root_key))
        files[1].write_bytes(ca.root.public_bytes(serialization.Encoding.PEM))
        files[2].write_bytes(pem_key(ca.intermediate_key))
        files[3].write_bytes(ca.intermediate.public_bytes(serialization.Encoding.PEM))
        return ca

    @property
    def root_der(self) -> bytes:
        return _der(self.root)


class Enclave:
    """One node's enclave: a leaf key and certificate (P-384, as Nitro's), and a response-signing
    key (secp256k1: an Ethereum address that contracts can check answers against)."""

    def __init__(self, ca: DevnetCA, module_id: str, validity: dt.timedelta = dt.timedelta(days=1)) -> None:
        now = dt.datetime.now(dt.timezone.utc)
        self.ca = ca
        self.module_id = module_id
        self.key = ec.generate_private_key(ec.SECP384R1())
        self.certificate = _cert(f"og-devnet enclave {module_id}", self.key, ca.intermediate, ca.intermediate_key, False,
                                 now - dt.timedelta(minutes=5), now + validity)  # fmt: skip
        self.response_key = ec.generate_private_key(ec.SECP256K1())
        # Measurements → (what was attested: keys and certificate, when, the document).
        self._documents: dict[tuple[bytes, ...], tuple[tuple[bytes, bytes], int, bytes]] = {}
        self._documents_lock = threading.Lock()

    @property
    def public_key_der(self) -> bytes:
        return self.response_key.public_key().public_bytes(serialization.Encoding.DER,
                                                           serialization.PublicFormat.SubjectPublicKeyInfo)  # fmt: skip

    @property
    def response_address(self) -> str:
        """The Ethereum address of the response-signing key: what `ecrecover` of a signed
        answer gives."""
        return address_of_key(self._response_secret())

    def _response_secret(self) -> bytes:
        return self.response_key.private_numbers().private_value.to_bytes(32, "big")

    def attest(self, pcrs: list[bytes], timestamp_ms: int, nonce: bytes | None = None,
               user_data: bytes | None = None) -> bytes:  # fmt: skip
        """A COSE_Sign1 attestation document (tag 18), as an AWS Nitro enclave returns."""
        payload = cbor2.dumps({
            "module_id": self.module_id, "digest": "SHA384", "timestamp": timestamp_ms,
            "pcrs": dict(enumerate(pcrs)), "certificate": _der(self.certificate),
            "cabundle": [_der(self.ca.root), _der(self.ca.intermediate)], "public_key": self.public_key_der,
            "user_data": user_data, "nonce": nonce,
        })  # fmt: skip
        protected = cbor2.dumps({1: COSE_ES384})
        to_sign = cbor2.dumps(["Signature1", protected, b"", payload])
        return cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, _raw_signature(self.key, to_sign)]))

    def attestation(self, pcrs: list[bytes], now_ms: int) -> bytes:
        """The document an answer carries: attested once for these measurements (one per model
        the enclave serves) and reused, so the verifier checks its chain once. Attested again
        when it is REATTEST_AFTER_MS old, or when the enclave's response key or certificate
        changed. Unlike a document per answer, it carries no nonce: the response signature
        binds each answer's request, output and time."""
        identity = (self.public_key_der, _der(self.certificate))
        key = tuple(pcrs)
        with self._documents_lock:
            found = self._documents.get(key)
            if found is not None and found[0] == identity and 0 <= now_ms - found[1] < REATTEST_AFTER_MS:
                return found[2]
            document = self.attest(pcrs, now_ms)
            # Documents too old to use are dropped as new ones are made.
            self._documents = {k: v for k, v in self._documents.items() if now_ms - v[1] < MAX_ATTESTATION_AGE_MS}
            self._documents[key] = (identity, now_ms, document)
            return document

    def sign_response(self, request_hash: bytes, output_hash: bytes, timestamp_ms: int) -> bytes:
        """r ‖ s ‖ v over keccak256(request_hash ‖ output_hash ‖ uint256(timestamp_ms))."""
        return sign_tee_response(self._response_secret(), request_hash, output_hash, timestamp_ms)
