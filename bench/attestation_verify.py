"""Attestation verification throughput: the Rust verifier, full and cached, against a Python
reference.

Builds honest TEE evidence as a devnet node does (`_attest` in inference/nodes.py): a
Nitro-style attestation (COSE_Sign1 ES384 over a CBOR payload; leaf <- intermediate <- root,
P-384) and a response signature by the attested secp256k1 key, as Ethereum signs a hash
(r || s || v over keccak256(request_hash || output_hash || uint256(time))).
Then verifies answers with each verifier in the same run and prints verifications/s side by
side, with their ratios:

- Rust, cached: `og_devnet._core.verify_tee(..., cache=AttestationCache())`, what PIPE and
  settlement run. The document was checked in full once (before timing); each answer costs
  one secp256k1 recovery (the response signature, libsecp256k1) plus a SHA-256 of the
  document, a lookup, the
  PCR, validity and freshness comparisons and the binding.
- Rust, full: `og_devnet._core.verify_tee` without a cache: each verification parses CBOR and
  three X.509 certificates, checks four ECDSA P-384 signatures (chain, COSE) and
  recovers the response signature.
- Python: `verify_tee_reference` below, the checks of rust/src/verify/tee.rs in the same
  order with the same rejection names, on cbor2, cryptography (OpenSSL) and coincurve
  (libsecp256k1, the response signature), in full.
- coincurve's recovery of the response signature alone: the one public-key operation every
  answer needs, the floor of any per-answer verifier.

The Rust figures are through the PyO3 binding as the node calls it: argument conversion,
copies, the JSON verdict and `json.loads`. Each timed pass verifies the same distinct answers
(one document, a different request, output, time and signature each), the verifiers in turn,
for several rounds; the table gives each one's median and best round. First, all three must
agree on honest and tampered evidence (the cached one with the document not yet cached and
cached), or the bench stops. The CPU may be shared: the load average is printed with the
machine.

    python bench/attestation_verify.py [--count 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable, Mapping
from importlib.metadata import version
from typing import Any

import cbor2
import coincurve
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.backends.openssl import backend
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from og_devnet._core import AttestationCache, keccak256, verify_tee
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


def secp256k1_address(load: Callable[[], object]) -> bytes | None:
    """The Ethereum address of the key `load` gives if it is a secp256k1 one."""
    try:
        key = load()
    except MALFORMED:
        return None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256k1":
        return None
    point = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return keccak256(point[1:])[12:]


SECP256K1_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0


def response_signer(signature: bytes, message: bytes) -> bytes | None:
    """Who signed `message` (r || s || v, v 27/28, low s: EIP-2), as an address; None if the
    signature is malformed or does not recover."""
    if len(signature) != 65 or signature[64] not in (27, 28) or int.from_bytes(signature[32:64]) > SECP256K1_HALF_N:
        return None
    try:
        key = coincurve.PublicKey.from_signature_and_message(signature[:64] + bytes([signature[64] - 27]), message, hasher=None)
    except ValueError:
        return None
    return keccak256(key.format(compressed=False)[1:])[12:]


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
    response_key = secp256k1_address(lambda: serialization.load_der_public_key(doc["public_key"]))
    if response_key is None:
        return "malformed_attestation"
    message = keccak256(req + out + timestamp_ms.to_bytes(32, "big"))  # U256 big-endian
    if response_signer(response_signature, message) != response_key:
        return "bad_response_signature"
    if req != d_req:
        return "request_mismatch"
    return "output_mismatch" if out != d_out else None


def verify_tee_rust(**kwargs: Any) -> str | None:
    verdict = json.loads(verify_tee(**kwargs))
    return None if verdict["ok"] else verdict["reason"]


def cached_verifier(cache: AttestationCache) -> Callable[..., str | None]:
    """The Rust verifier with an attestation cache, as PIPE and settlement use it."""

    def verify_tee_rust_cached(**kwargs: Any) -> str | None:
        verdict = json.loads(verify_tee(**kwargs, cache=cache))
        return None if verdict["ok"] else verdict["reason"]

    return verify_tee_rust_cached


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
    p384_spki = x.key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
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
        ("a P-384 response key", "malformed_attestation",
         {**good, "attestation": resign(lambda d: d.update(public_key=p384_spki))}),
        ("signed by another enclave", "bad_response_signature",
         {**good, "response_signature": x.sign_response(req, out, now)}),
        ("v as 0/1, not 27/28", "bad_response_signature",
         {**good, "response_signature": good["response_signature"][:64] + bytes([good["response_signature"][64] - 27])}),
    ]  # fmt: skip


def answers(enclave: Enclave, good: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """`count` honest answers vouched for by `good`'s document, as one node gives them while
    its attestation lasts: each its own request, output, time and response signature."""
    found = []
    for i in range(count):
        req, out = keccak256(b"request %d" % i), keccak256(b"output %d" % i)
        t = good["timestamp_ms"] + i
        hexes = {"request_hash": "0x" + req.hex(), "output_hash": "0x" + out.hex()}
        delivered = {f"delivered_{name}": value for name, value in hexes.items()}
        found.append({**good, **hexes, **delivered, "timestamp_ms": t, "now_ms": t,
                      "response_signature": enclave.sign_response(req, out, t)})  # fmt: skip
    return found


def recovery_alone(enclave: Enclave) -> Callable[..., str | None]:
    """The one public-key operation of the cached path on its own, in coincurve
    (libsecp256k1): recovering the response signature's signer over keccak256(request_hash ||
    output_hash || uint256(time)). Every answer needs at least this, so it is the floor of a
    per-answer verifier."""
    address = bytes.fromhex(enclave.response_address[2:])

    def verify(**kw: Any) -> str | None:
        message = keccak256(bytes.fromhex(kw["request_hash"][2:]) + bytes.fromhex(kw["output_hash"][2:]) + kw["timestamp_ms"].to_bytes(32, "big"))
        return None if response_signer(kw["response_signature"], message) == address else "bad_response_signature"

    return verify


def seconds(verify: Callable[..., str | None], evidence: list[dict[str, Any]], n: int) -> tuple[float, float]:
    """Wall time and this process's CPU time of `n` verifications, cycling through `evidence`
    (all honest). On a shared CPU the wall time includes waiting for it; the CPU time does not."""
    batch = list(itertools.islice(itertools.cycle(evidence), n))
    t0, c0 = time.perf_counter(), time.process_time()
    for kwargs in batch:
        verify(**kwargs)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    if any(verify(**kwargs) is not None for kwargs in evidence):  # after timing: all were honest
        raise SystemExit(f"{verify.__name__} refused an honest answer")
    return elapsed, cpu


def threaded(verify: Callable[..., str | None], evidence: list[dict[str, Any]], n: int, threads: int) -> float:
    """Verifications per second with `threads` threads verifying `n` answers each at once, as
    the node's inference threads do when answers arrive together (the binding lets go of the
    GIL while Rust verifies; PIPE checks an answer's evidence before taking its lock)."""
    batch = list(itertools.islice(itertools.cycle(evidence), n))
    start = threading.Barrier(threads + 1)

    def work() -> None:
        start.wait()
        for kwargs in batch:
            verify(**kwargs)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in pool:
        t.join()
    return threads * n / (time.perf_counter() - t0)


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    return (
        f"machine: {platform.machine()} {cpu}, {os.cpu_count()} cores, load average {loadavg()}; "
        f"Python {platform.python_version()}, cryptography {version('cryptography')} "
        f"({backend.openssl_version_text()}), cbor2 {version('cbor2')}"
    )


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def run(n: int, rounds: int = 3) -> dict[str, float]:
    """Checks the verifiers agree, times them, prints the table; returns verifications/s
    (median round) by verifier: "cached", "full", "python"."""
    print(machine())
    ca = DevnetCA.create()
    table = cases(ca, enclave := Enclave(ca, "node-0"))
    cache = AttestationCache()
    rust_cached = cached_verifier(cache)
    for label, expected, kwargs in table:  # sanity first: same verdict, case by case
        cold, warm = rust_cached(**kwargs), rust_cached(**kwargs)
        rust, python = verify_tee_rust(**kwargs), verify_tee_reference(**kwargs)
        if not cold == warm == rust == python == expected:
            msg = f"{label!r}: expected {expected}, Rust cached says {cold} then {warm}, Rust full {rust}, Python {python}"
            raise SystemExit(f"verifiers disagree on {msg}")
        print(f"  all three: {label:<32} {expected or 'accepted'}")

    good = table[0][2]
    evidence = answers(enclave, good, 64)
    verifiers = {  # key: (label, verifier, verifications per round)
        "cached": ("Rust verify_tee, cached document", rust_cached, 5 * n),
        "full": ("Rust verify_tee, full check", verify_tee_rust, n),
        "python": ("Python verify_tee_reference, full", verify_tee_reference, n),
        "alone": ("coincurve: the signer's recovery alone", recovery_alone(enclave), 5 * n),
    }  # fmt: skip
    before = json.loads(cache.stats_json())
    rates: dict[str, list[float]] = {k: [] for k in verifiers}
    cpu_rates: dict[str, list[float]] = {k: [] for k in verifiers}
    for _ in range(rounds):  # in turn, so that a busy spell on a shared CPU hits them all
        for key, (_, verify, count) in verifiers.items():
            wall, cpu = seconds(verify, evidence, count)
            rates[key].append(count / wall)
            cpu_rates[key].append(count / cpu)
    cores = os.cpu_count() or 1
    parallel = [threaded(rust_cached, evidence, 5 * n // cores, cores) for _ in range(rounds)]
    stats = json.loads(cache.stats_json())
    if stats["misses"] != before["misses"]:
        raise SystemExit(f"the cached path checked a document again while timed: {before} -> {stats}")
    median = {k: statistics.median(v) for k, v in rates.items()}
    cpu_median = {k: statistics.median(v) for k, v in cpu_rates.items()}
    print(f"{len(evidence)} distinct honest answers under one document ({len(good['attestation'])} B), "
          f"{rounds} rounds, verifiers in turn; per round: {5 * n} cached and recovery alone, {n} each of the others")  # fmt: skip
    print("verif/s: wall clock, median round; best/s: best round; per CPU-s: by this process's CPU time (median)")
    print(f"{'verifier (PyO3 call + json.loads for Rust)':<44} {'verif/s':>8} {'best/s':>8} {'per CPU-s':>9} "
          f"{'mean µs':>8} {'vs Python':>9}")  # fmt: skip
    for key, (name, _, _) in verifiers.items():
        rate = median[key]
        print(f"{name:<44} {rate:>8.0f} {max(rates[key]):>8.0f} {cpu_median[key]:>9.0f} {1e6 / rate:>8.1f} "
              f"{rate / median['python']:>8.2f}x")  # fmt: skip
    for label, m in (("wall clock", median), ("CPU time", cpu_median)):
        print(f"ratios ({label}): cached/full {m['cached'] / m['full']:.2f}   cached/Python {m['cached'] / m['python']:.2f}"
              f"   full/Python {m['full'] / m['python']:.2f}")  # fmt: skip
    print(f"cached path / the response signature's recovery alone (coincurve): {median['cached'] / median['alone']:.2f}x")
    print(f"attestation cache: {stats['hits']} hits, {stats['misses']} misses (the sanity pass), {stats['entries']} entries")
    whole = statistics.median(parallel)
    print(f"Rust verify_tee, cached, {cores} threads at once (the whole machine): {whole:.0f}/s median, "
          f"{max(parallel):.0f}/s best; {whole / median['cached']:.2f}x one thread")  # fmt: skip
    target = 5000
    for label, rate in (("one core", median["cached"]), (f"{cores} cores", whole)):
        verdict = "met" if rate >= target else "NOT met"
        print(f"target >= {target}/s on the cached path, {label}: {verdict} ({rate:.0f}/s)")
    print(f"load average now {loadavg()}")
    return {**median, "cached_parallel": whole}


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--count", type=int, default=2000, help="timed per round for the full verifiers (5x for the cached one)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds, the verifiers in turn in each")
    args = ap.parse_args()
    run(args.count, args.rounds)


if __name__ == "__main__":
    main()
