"""TEE attestations: real P-384 certificates and ES384 signatures from mock enclaves, answers
signed by the attested secp256k1 key, checked by the Rust verifier with public material only.
Tampering with any part gets its named rejection."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_der_public_key

from og_devnet._core import AttestationCache, keccak256, verify_tee
from og_devnet.inference.tee import REATTEST_AFTER_MS, DevnetCA, Enclave, measurements

REQUEST = bytes.fromhex("11" * 32)
OUTPUT = bytes.fromhex("22" * 32)
MODEL = b"model bytes"


@pytest.fixture(scope="module")
def ca() -> DevnetCA:
    return DevnetCA.create()


@pytest.fixture(scope="module")
def enclave(ca: DevnetCA) -> Enclave:
    return Enclave(ca, "node-0")


def evidence(enclave: Enclave, **change: Any) -> dict[str, Any]:
    now = int(time.time() * 1000)
    pcrs = change.pop("pcrs", measurements(MODEL))
    att_time = change.pop("attested_at", now)
    ev = {
        "attestation": enclave.attest(pcrs, att_time),
        "timestamp_ms": now,
        "request_hash": "0x" + REQUEST.hex(),
        "output_hash": "0x" + OUTPUT.hex(),
    }
    ev["response_signature"] = enclave.sign_response(REQUEST, OUTPUT, now)
    ev.update(change)
    return ev


def check(ca: DevnetCA, ev: dict[str, Any], *, root: bytes | None = None, now: int | None = None,
          output: bytes = OUTPUT, request: bytes = REQUEST, cache: AttestationCache | None = None) -> dict[str, Any]:  # fmt: skip
    return json.loads(verify_tee(
        **ev, expected_pcrs=measurements(MODEL), root_der=root or ca.root_der, now_ms=now or int(time.time() * 1000),
        delivered_request_hash="0x" + request.hex(), delivered_output_hash="0x" + output.hex(), cache=cache,
    ))  # fmt: skip


def test_an_honest_attestation_verifies(ca: DevnetCA, enclave: Enclave) -> None:
    result = check(ca, evidence(enclave))
    assert result == {"ok": True, "module_id": "node-0", "attestation_timestamp_ms": result["attestation_timestamp_ms"]}


def resign(enclave: Enclave, attestation: bytes, edit: Any) -> bytes:
    """Re-encodes the document with `edit` applied and a valid COSE signature by `enclave`."""
    from og_devnet.inference.tee import _raw_signature

    protected, _, payload, _ = cbor2.loads(attestation).value
    doc = cbor2.loads(payload)
    edit(doc)
    payload = cbor2.dumps(doc)
    sig = _raw_signature(enclave.key, cbor2.dumps(["Signature1", protected, b"", payload]))
    return cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, sig]))


def test_each_tampered_part_gets_its_named_rejection(ca: DevnetCA, enclave: Enclave) -> None:
    good = evidence(enclave)
    other_ca = DevnetCA.create()
    stranger = Enclave(other_ca, "node-x")

    def cases() -> dict[str, dict[str, Any]]:
        flipped = bytearray(good["attestation"])
        flipped[-5] ^= 0x01  # inside the COSE signature
        wrong_sig = bytearray(good["response_signature"])
        wrong_sig[10] ^= 0x01
        return {
            "bad_signature": {**good, "attestation": bytes(flipped)},
            "unknown_root": evidence(stranger),
            # A leaf from another CA presented with our bundle: the chain breaks.
            "bad_certificate_chain": {**good, "attestation": resign(stranger, good["attestation"], lambda d: d.update(
                certificate=stranger.certificate.public_bytes(Encoding.DER)))},
            "pcr_mismatch": evidence(enclave, pcrs=measurements(b"another model")),
            "stale_attestation": evidence(enclave, attested_at=int(time.time() * 1000) - 3_600_000),
            "bad_response_signature": {**good, "response_signature": bytes(wrong_sig)},
            "malformed_attestation": {**good, "attestation": b"\xa0not cose"},
        }

    for reason, ev in cases().items():
        result = check(ca, ev)
        assert result["ok"] is False and result["reason"] == reason, (reason, result)
    # Validity: the same attestation checked a year later: certificates have expired.
    later = int((time.time() + 400 * 86400) * 1000)
    late = check(ca, {**good, "timestamp_ms": later, "attestation": enclave.attest(measurements(MODEL), later),
                      "response_signature": enclave.sign_response(REQUEST, OUTPUT, later)}, now=later)  # fmt: skip
    assert late["reason"] == "expired_certificate", late
    # Binding: a valid signature over another output or request.
    assert check(ca, good, output=bytes(32))["reason"] == "output_mismatch"
    assert check(ca, good, request=bytes(32))["reason"] == "request_mismatch"
    # A timestamp that was not signed: the response signature no longer verifies.
    assert check(ca, {**good, "timestamp_ms": good["timestamp_ms"] + 1})["reason"] == "bad_response_signature"
    # A root the chain does not trust.
    assert check(ca, good, root=other_ca.root_der)["reason"] == "unknown_root"


def test_an_answer_is_signed_as_ecrecover_checks_it(ca: DevnetCA, enclave: Enclave) -> None:
    """What a contract does with an answer: ecrecover(keccak256(request_hash ‖ output_hash ‖
    uint256(t)), v, r, s) is the enclave's address (eth-keys here, not the devnet's code)."""
    from eth_keys import keys

    t = int(time.time() * 1000)
    sig = enclave.sign_response(REQUEST, OUTPUT, t)
    assert len(sig) == 65 and sig[64] in (27, 28)
    r, s, v = int.from_bytes(sig[:32]), int.from_bytes(sig[32:64]), sig[64] - 27
    message = keccak256(REQUEST + OUTPUT + t.to_bytes(32, "big"))
    signer = keys.Signature(vrs=(v, r, s)).recover_public_key_from_msg_hash(message).to_checksum_address()
    assert signer == enclave.response_address
    # The attested key is that address's: an SPKI of a secp256k1 point.
    doc = cbor2.loads(cbor2.loads(enclave.attest(measurements(MODEL), t)).value[2])
    point = load_der_public_key(doc["public_key"]).public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    assert keys.PublicKey(point[1:]).to_checksum_address() == enclave.response_address


def test_a_response_key_other_than_secp256k1_or_a_malleable_signature_is_refused(ca: DevnetCA, enclave: Enclave) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    good = evidence(enclave)
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    result = check(ca, {**good, "attestation": resign(enclave, good["attestation"], lambda d: d.update(public_key=p384))})
    assert result["reason"] == "malformed_attestation" and "not a secp256k1 key" in result["detail"], result
    sig = good["response_signature"]
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    high_s = sig[:32] + (n - int.from_bytes(sig[32:64])).to_bytes(32, "big") + bytes([sig[64] ^ 27 ^ 28])
    for bad in (high_s, sig[:64] + bytes([sig[64] - 27]), sig[:64], sig + b"\x00"):
        result = check(ca, {**good, "response_signature": bad})
        assert result["reason"] == "bad_response_signature", (bad.hex(), result)
    assert check(ca, good)["ok"] is True


def test_digest_and_pcr_field_rules(ca: DevnetCA, enclave: Enclave) -> None:
    good = evidence(enclave)
    sha256 = resign(enclave, good["attestation"], lambda d: d.update(digest="SHA256"))
    assert check(ca, {**good, "attestation": sha256})["reason"] == "malformed_attestation"
    short = resign(enclave, good["attestation"], lambda d: d["pcrs"].update({0: b"\x00" * 32}))
    result = check(ca, {**good, "attestation": short})
    assert result["reason"] == "malformed_attestation" and "48" in result["detail"]


def test_the_ca_survives_a_restart(tmp_path: Any) -> None:
    a = DevnetCA.load_or_create(tmp_path / "tee")
    b = DevnetCA.load_or_create(tmp_path / "tee")
    assert a.root_der == b.root_der
    assert "development only" in a.root.subject.rfc4514_string()
    assert b.intermediate.not_valid_after_utc > dt.datetime.now(dt.timezone.utc)


def test_a_cached_attestation_gets_the_full_verdicts(ca: DevnetCA, enclave: Enclave) -> None:
    """The attestation cache checks a document once, then each answer against it: the verdict
    (reason and detail) is the full check's, whether the document was cached or not."""
    cache = AttestationCache(capacity=16)
    now = int(time.time() * 1000)
    good = evidence(enclave)
    stranger = Enclave(DevnetCA.create(), "node-x")
    flipped = bytearray(good["attestation"])
    flipped[-5] ^= 0x01
    other_request, other_output = bytes.fromhex("33" * 32), bytes.fromhex("44" * 32)
    answer2 = {**good, "request_hash": "0x" + other_request.hex(), "output_hash": "0x" + other_output.hex(),
               "response_signature": enclave.sign_response(other_request, other_output, good["timestamp_ms"])}  # fmt: skip
    late = {**good, "timestamp_ms": now + 600_001, "response_signature": enclave.sign_response(REQUEST, OUTPUT, now + 600_001)}
    cases: list[tuple[str | None, dict[str, Any], dict[str, Any]]] = [
        (None, good, {}),
        (None, answer2, {"request": other_request, "output": other_output}),  # another answer, same document
        ("bad_response_signature", {**good, "response_signature": good["response_signature"][::-1]}, {}),
        ("bad_response_signature", {**good, "timestamp_ms": good["timestamp_ms"] + 1}, {}),
        ("output_mismatch", good, {"output": bytes(32)}),
        ("request_mismatch", good, {"request": bytes(32)}),
        ("unknown_root", good, {"root": stranger.ca.root_der}),
        ("expired_certificate", good, {"now": now + 2 * 86_400_000}),  # the enclave's certificate: a day
        ("stale_attestation", late, {"now": now + 600_001}),
        ("bad_signature", {**good, "attestation": bytes(flipped)}, {}),
        ("malformed_attestation", {**good, "attestation": good["attestation"][:20]}, {}),
        ("pcr_mismatch", evidence(enclave, pcrs=measurements(b"another model")), {}),
    ]
    for reason, ev, kw in cases:
        full = check(ca, ev, **kw)
        cold, warm = check(ca, ev, **kw, cache=cache), check(ca, ev, **kw, cache=cache)
        assert full == cold == warm, (reason, full, cold, warm)
        assert full.get("reason") == reason, (reason, full)
    stats = json.loads(cache.stats_json())
    # One document for `good` and its answers, one for the other model; the rest were refused.
    assert stats["entries"] == 2 and stats["capacity"] == 16, stats
    assert stats["misses"] == 2 + 2 * 2, stats  # the tampered documents are checked in full each time
    assert stats["hits"] == 2 * len(cases) - stats["misses"], stats


def test_a_document_of_the_other_model_in_the_cache_does_not_vouch_for_this_one(ca: DevnetCA, enclave: Enclave) -> None:
    cache = AttestationCache()
    other = evidence(enclave, pcrs=measurements(b"another model"))
    assert check(ca, other, cache=cache)["reason"] == "pcr_mismatch"
    assert check(ca, other, cache=cache)["reason"] == "pcr_mismatch"
    assert json.loads(cache.stats_json())["hits"] == 1


def test_an_enclave_attests_once_per_model_and_again_when_its_document_ages(ca: DevnetCA) -> None:
    enclave = Enclave(ca, "node-r")
    t = int(time.time() * 1000)
    pcrs, other = measurements(MODEL), measurements(b"another model")
    first = enclave.attestation(pcrs, t)
    assert enclave.attestation(pcrs, t + 1_000) == first, "reused for the next answer"
    assert enclave.attestation(pcrs, t + REATTEST_AFTER_MS - 1) == first
    assert enclave.attestation(other, t + 1_000) != first, "one document per model"
    renewed = enclave.attestation(pcrs, t + REATTEST_AFTER_MS)
    assert renewed != first and cbor2.loads(cbor2.loads(renewed).value[2])["timestamp"] == t + REATTEST_AFTER_MS
    # A new response key is attested at once.
    from cryptography.hazmat.primitives.asymmetric import ec

    enclave.response_key = ec.generate_private_key(ec.SECP256K1())
    rekeyed = enclave.attestation(pcrs, t + REATTEST_AFTER_MS + 1)
    assert rekeyed != renewed and cbor2.loads(cbor2.loads(rekeyed).value[2])["public_key"] == enclave.public_key_der
    # Each reused document verifies every answer it carries.
    for at in (t + REATTEST_AFTER_MS + 1, t + REATTEST_AFTER_MS + 200_000):
        ev = {"attestation": rekeyed, "timestamp_ms": at, "request_hash": "0x" + REQUEST.hex(),
              "output_hash": "0x" + OUTPUT.hex(), "response_signature": enclave.sign_response(REQUEST, OUTPUT, at)}  # fmt: skip
        assert check(ca, ev, now=at)["ok"] is True
