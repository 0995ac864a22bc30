"""Attestation verification throughput: the Rust verifier against a Python reference.

Builds honest TEE evidence as a devnet node does (`_attest` in inference/nodes.py): a
Nitro-style attestation (COSE_Sign1 ES384 over a CBOR payload; leaf <- intermediate <- root,
P-384) and an ES384 response signature over request_hash || output_hash || uint256(time).
Then verifies it N times with each verifier in the same run and prints verifications/s:

- Rust: `og_devnet._core.verify_tee`, called through its PyO3 binding as the node does; the
  figures include the binding (argument conversion, copies, JSON verdict) and `json.loads`.
- Python: `verify_tee_reference` below, the checks of rust/src/verify/tee.rs in the same
  order with the same rejection names, on cbor2 and cryptography (OpenSSL).

Each verification parses CBOR and three X.509 certificates and checks five ECDSA P-384
signatures. First, both must agree on honest and tampered evidence, or the bench stops.

    python bench/attestation_verify.py [--count 2000]
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import platform
import time
from collections.abc import Callable, Mapping
from importlib.metadata import version
from typing import Any

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.backends.openssl import backend
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from og_devnet._core import keccak256, verify_tee
from og_devnet.inference.tee import COSE_ES384, DevnetCA, Enclave, measurements
from og_devnet.inference.tee import _raw_signature as sign_raw

ES384 = ec.ECDSA(hashes.SHA384())
# What cbor2 and cryptography raise on malformed input: Rust says malformed_attestation.
MALFORMED = (cbor2.CBORError, ValueError, TypeError, UnsupportedAlgorithm)
MALFORMED_X509 = (*MALFORMED, x509.InvalidVersion)


def loads_exact(data: bytes) -> Any:
    """One CBOR item and nothing after it (coset rejects extraneous data)."""
    fp = io.BytesIO(data)
    value = cbor2.CBORDecoder(fp).decode()
    if fp.tell() != len(data):
        raise ValueError("extraneous data after the CBOR item")
    return value


def p384(load: Callable[[], object]) -> ec.EllipticCurvePublicKey | None:
    """The key `load` gives if it is a P-384 one (Rust parses the point as P-384)."""
    try:
        key = load()
    except MALFORMED:
        return None
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp384r1":
        return key
    return None


def parse_cose(attestation: bytes) -> tuple[bytes, bytes, bytes]:
    """COSE_Sign1, tag 18 or untagged: [protected, unprotected, payload, signature]."""
    sign1 = loads_exact(attestation)
    if isinstance(sign1, cbor2.CBORTag) and sign1.tag == 18:
        sign1 = sign1.value
    protected, unprotected, payload, signature = sign1
    if not all(isinstance(b, bytes) for b in (protected, payload, signature)):
        raise TypeError("protected, payload and signature must be byte strings")
    header = loads_exact(protected) if protected else {}
    if not isinstance(unprotected, Mapping) or not isinstance(header, Mapping):
        raise TypeError("headers must be maps")
    alg = header.get(1)
    if type(alg) is not int or alg != COSE_ES384:  # type(): a float -35.0 is not ES384
        raise ValueError(f"algorithm is {alg!r}, not ES384")
    return protected, payload, signature


def parse_document(payload: bytes) -> Mapping[Any, Any]:
    """The payload's field rules, as `parse_document` in rust/src/verify/tee.rs."""
    doc = cbor2.loads(payload)  # like ciborium::from_reader: trailing bytes not checked
    if not isinstance(doc, Mapping) or doc.get("digest") != "SHA384":
        raise ValueError("payload is not a map with digest SHA384")
    ts = doc.get("timestamp")
    if type(ts) is not int or not 0 <= ts < 2**64:  # type(): a CBOR bool is no integer
        raise ValueError("timestamp missing or not a u64")
    pcrs, bundle = doc.get("pcrs"), doc.get("cabundle")
    if not isinstance(pcrs, Mapping) or not isinstance(bundle, (list, tuple)):
        raise TypeError("pcrs is not a map or cabundle not an array")
    for i, value in pcrs.items():
        if type(i) is not int or not isinstance(value, bytes) or len(value) != 48:
            raise ValueError(f"PCR{i} is not 48 bytes (SHA-384) at an integer index")
    if not bundle or not all(isinstance(c, bytes) for c in bundle):
        raise ValueError("cabundle is empty or not byte strings")
    kinds = {"module_id": str, "certificate": bytes, "public_key": bytes}
    if not all(isinstance(doc.get(k), t) for k, t in kinds.items()):
        raise TypeError("module_id, certificate or public_key missing")
    return doc


def verifies(key: ec.EllipticCurvePublicKey | None, der: bytes, data: bytes) -> bool:
    """ECDSA-SHA384 over `data`, as p384's VerifyingKey (whatever the cert's algorithm)."""
    if key is None:
        return False
    try:
        key.verify(der, data, ES384)
    except InvalidSignature:
        return False
    return True


def raw_to_der(raw: bytes) -> bytes:
    """ES384 as COSE and the response carry it, r || s (48 bytes each), to DER."""
    if len(raw) != 96:
        return b""  # Rust: not a signature; OpenSSL: does not verify
    return encode_dss_signature(int.from_bytes(raw[:48]), int.from_bytes(raw[48:]))


def verify_tee_reference(*, attestation: bytes, response_signature: bytes, timestamp_ms: int,
                         request_hash: str, output_hash: str, expected_pcrs: list[bytes], root_der: bytes,
                         now_ms: int, delivered_request_hash: str, delivered_output_hash: str,
                         max_attestation_age_ms: int = 600_000, max_clock_skew_ms: int = 5_000) -> str | None:  # fmt: skip
    """rust/src/verify/tee.rs in Python: None if accepted, else the rejection's name."""
    # Like the binding, hashes are parsed first: bad hex raises rather than rejects.
    hashes_ = (request_hash, output_hash, delivered_request_hash, delivered_output_hash)
    req, out, d_req, d_out = (bytes.fromhex(h.removeprefix("0x")) for h in hashes_)
    try:
        protected, payload, signature = parse_cose(attestation)
        doc = parse_document(payload)
    except MALFORMED:
        return "malformed_attestation"
    # The chain: cabundle[0] must be the devnet root; each certificate signed by the next.
    if doc["cabundle"][0] != root_der:
        return "unknown_root"
    try:
        leaf = x509.load_der_x509_certificate(doc["certificate"])
        bundle = [x509.load_der_x509_certificate(c) for c in doc["cabundle"]]
    except MALFORMED_X509:
        return "malformed_attestation"
    chain = [leaf, *reversed(bundle)]
    # As Rust's `signed_by`: by the issuer's key, names not compared; the root self-signs.
    for cert, issuer in [*itertools.pairwise(chain), (chain[-1], chain[-1])]:
        key = p384(issuer.public_key)
        if not verifies(key, cert.signature, cert.tbs_certificate_bytes):
            return "bad_certificate_chain"
    for cert in chain:  # at now_ms, as Rust does (not at the attestation's time)
        times = (cert.not_valid_before_utc, cert.not_valid_after_utc)
        start, end = (int(t.timestamp()) * 1000 for t in times)
        if not start <= now_ms <= end:
            return "expired_certificate"
    if (leaf_key := p384(leaf.public_key)) is None:
        return "malformed_attestation"
    # Sig_structure over the protected header's bytes as received (coset keeps them).
    to_sign = cbor2.dumps(["Signature1", protected, b"", payload])
    if not verifies(leaf_key, raw_to_der(signature), to_sign):
        return "bad_signature"
    if any(doc["pcrs"].get(i) != pcr for i, pcr in enumerate(expected_pcrs)):
        return "pcr_mismatch"
    att = doc["timestamp"]
    if (
        att > timestamp_ms + max_clock_skew_ms
        or max(0, timestamp_ms - att) > max_attestation_age_ms  # saturating_sub
        or timestamp_ms > now_ms + max_clock_skew_ms
    ):
        return "stale_attestation"
    response_key = p384(lambda: serialization.load_der_public_key(doc["public_key"]))
    if response_key is None:
        return "malformed_attestation"
    message = req + out + timestamp_ms.to_bytes(32, "big")  # U256 big-endian
    if not verifies(response_key, raw_to_der(response_signature), message):
        return "bad_response_signature"
    if req != d_req:
        return "request_mismatch"
    return "output_mismatch" if out != d_out else None


def verify_tee_rust(**kwargs: Any) -> str | None:
    verdict = json.loads(verify_tee(**kwargs))
    return None if verdict["ok"] else verdict["reason"]


def cases(ca: DevnetCA, enclave: Enclave) -> list[tuple[str, str | None, dict[str, Any]]]:  # fmt: skip
    """(label, expected verdict, arguments): honest evidence as `_attest` makes it, and
    tamperings, one per rejection."""
    now = int(time.time() * 1000)
    req, out = keccak256(b'{"prompt": "bench"}'), keccak256(b'{"answer": "ok"}')
    hexes = {"request_hash": "0x" + req.hex(), "output_hash": "0x" + out.hex()}

    def evidence(at: int = now, model: bytes = b"bench", t: int = now) -> dict[str, Any]:  # fmt: skip
        return {"attestation": enclave.attest(measurements(model), at, nonce=req), "timestamp_ms": t,
                "response_signature": enclave.sign_response(req, out, t), **hexes, "now_ms": t,
                "expected_pcrs": measurements(b"bench"), "root_der": ca.root_der,
                **{f"delivered_{k}": v for k, v in hexes.items()}}  # fmt: skip

    good = evidence()

    def resign(edit: Callable[[dict[str, Any]], None], by: Enclave = enclave) -> bytes:
        """The document with `edit` applied, COSE-signed again by `by`."""
        protected, _, payload, _ = cbor2.loads(good["attestation"]).value
        doc = dict(cbor2.loads(payload))
        edit(doc)
        payload = cbor2.dumps(doc)
        sig = sign_raw(by.key, cbor2.dumps(["Signature1", protected, b"", payload]))
        return cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, sig]))

    def flip(data: bytes, i: int) -> bytes:
        return data[:i] + bytes([data[i] ^ 1]) + data[i + 1 :]

    x = Enclave(DevnetCA.create(), "node-x")
    x_leaf = x.certificate.public_bytes(serialization.Encoding.DER)
    zero = "0x" + "00" * 32
    att = good["attestation"]
    untagged = cbor2.dumps(list(cbor2.loads(att).value))
    return [
        ("honest evidence", None, good),
        ("honest, untagged", None, {**good, "attestation": untagged}),
        ("COSE signature byte flipped", "bad_signature", {**good, "attestation": flip(att, -5)}),
        ("another CA's root", "unknown_root", {**good, "root_der": x.ca.root_der}),
        ("another CA's leaf", "bad_certificate_chain",
         {**good, "attestation": resign(lambda d: d.update(certificate=x_leaf), x)}),
        ("400 days later", "expired_certificate", evidence(at=now + 400 * 86_400_000, t=now + 400 * 86_400_000)),
        ("PCR2 of another model", "pcr_mismatch", evidence(model=b"another model")),
        ("attested an hour before", "stale_attestation", evidence(at=now - 3_600_000)),
        ("response signature byte flipped", "bad_response_signature",
         {**good, "response_signature": flip(good["response_signature"], 10)}),
        ("unsigned timestamp", "bad_response_signature", {**good, "timestamp_ms": now + 1}),
        ("another request delivered", "request_mismatch", {**good, "delivered_request_hash": zero}),
        ("another output delivered", "output_mismatch", {**good, "delivered_output_hash": zero}),
        ("truncated document", "malformed_attestation", {**good, "attestation": att[:20]}),
        ("digest SHA256", "malformed_attestation",
         {**good, "attestation": resign(lambda d: d.update(digest="SHA256"))}),
        ("32-byte PCR0", "malformed_attestation",
         {**good, "attestation": resign(lambda d: d.update(pcrs={**d["pcrs"], 0: bytes(32)}))}),
    ]  # fmt: skip


def seconds(verify: Callable[..., str | None], kwargs: dict[str, Any], n: int) -> float:
    """Wall time of `n` verifications of the same evidence (the sanity pass warmed up)."""
    t0 = time.perf_counter()
    for _ in range(n):
        verify(**kwargs)
    return time.perf_counter() - t0


def run(n: int) -> float:
    """Checks both verifiers agree, times them, prints the table; returns the ratio."""
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, cryptography {version('cryptography')} "
        f"({backend.openssl_version_text()}), cbor2 {version('cbor2')}"
    )
    table = cases(ca := DevnetCA.create(), Enclave(ca, "node-0"))
    for label, expected, kwargs in table:  # sanity first: same verdict, case by case
        rust, python = verify_tee_rust(**kwargs), verify_tee_reference(**kwargs)
        if not rust == python == expected:
            msg = f"{label!r}: expected {expected}, Rust says {rust}, Python {python}"
            raise SystemExit(f"verifiers disagree on {msg}")
        print(f"  both: {label:<32} {expected or 'accepted'}")

    good = table[0][2]
    rows = [
        ("Rust _core.verify_tee (PyO3 call + json.loads)", seconds(verify_tee_rust, good, n)),
        ("Python verify_tee_reference (cbor2+OpenSSL)", seconds(verify_tee_reference, good, n)),
    ]  # fmt: skip
    print(f"{n} verifications each of the honest evidence ({len(good['attestation'])} B)")  # fmt: skip
    print(f"{'verifier':<48} {'verif/s':>8} {'mean µs':>8}")
    for name, s in rows:
        print(f"{name:<48} {n / s:>8.0f} {s / n * 1e6:>8.1f}")
    ratio = rows[1][1] / rows[0][1]
    print(f"ratio Rust/Python (verifications/s): {ratio:.2f}")
    return ratio


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--count", type=int, default=2000, help="timed per verifier")
    run(ap.parse_args().count)


if __name__ == "__main__":
    main()
