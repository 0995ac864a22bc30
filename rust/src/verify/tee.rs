//! TEE attestations in the AWS Nitro format: a COSE_Sign1 (ES384) whose CBOR payload carries
//! `module_id`, `digest`, `timestamp`, `pcrs`, `certificate`, `cabundle`, `public_key`,
//! `user_data`, `nonce`; the leaf certificate chains to the devnet's root (P-384). The
//! enclave's `public_key` (secp256k1, SubjectPublicKeyInfo DER) signs each response as an
//! Ethereum account signs a hash: r ‖ s ‖ v (v 27 or 28, low s) over
//! keccak256(request_hash ‖ output_hash ‖ uint256(timestamp_ms)), so that a contract can check
//! an answer with `ecrecover` against the enclave's address.
use alloy_primitives::{Address, B256};
use ciborium::Value;
use coset::{CborSerializable, CoseSign1, TaggedCborSerializable};
use der::{Decode, Encode};
use p384::ecdsa::signature::{self, Verifier};
use p384::ecdsa::{Signature, VerifyingKey};
use x509_cert::Certificate;

/// Why an attestation or a signed response is not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeeRejection {
    /// A stable name: malformed_attestation, unknown_root, bad_certificate_chain,
    /// expired_certificate, bad_signature, pcr_mismatch, stale_attestation,
    /// bad_response_signature, request_mismatch, output_mismatch.
    pub reason: &'static str,
    pub detail: String,
}

fn reject(reason: &'static str, detail: impl Into<String>) -> TeeRejection {
    TeeRejection { reason, detail: detail.into() }
}

/// What the verifier is given: all of it public.
#[derive(Debug, Clone)]
pub struct TeeEvidence {
    /// The COSE_Sign1 attestation document (tagged or not).
    pub attestation: Vec<u8>,
    /// r ‖ s ‖ v (65 bytes, v 27 or 28) by the attested `public_key` over `response_message`.
    pub response_signature: Vec<u8>,
    pub timestamp_ms: u64,
    /// What the enclave says it answered: keccak256 of the request and of the output.
    pub request_hash: B256,
    pub output_hash: B256,
}

#[derive(Debug, Clone)]
pub struct TeePolicy {
    /// DER of the devnet root certificate, fixed at genesis.
    pub root_der: Vec<u8>,
    /// An attestation older than this (relative to the response it vouches for) is stale.
    pub max_attestation_age_ms: u64,
    /// Clocks may disagree by this much.
    pub max_clock_skew_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeeVerified {
    pub module_id: String,
    pub attestation_timestamp_ms: u64,
    pub pcrs: Vec<Vec<u8>>,
}

struct Document {
    module_id: String,
    timestamp_ms: u64,
    pcrs: Vec<(i128, Vec<u8>)>,
    certificate: Vec<u8>,
    cabundle: Vec<Vec<u8>>,
    public_key: Vec<u8>,
}

fn parse_document(payload: &[u8]) -> Result<Document, String> {
    let value: Value = ciborium::from_reader(payload).map_err(|e| format!("payload is not CBOR: {e}"))?;
    let map = value.as_map().ok_or("payload is not a CBOR map")?;
    let field = |name: &str| map.iter().find(|(k, _)| k.as_text() == Some(name)).map(|(_, v)| v);
    let bytes = |name: &str| -> Result<Vec<u8>, String> {
        field(name).and_then(Value::as_bytes).cloned().ok_or_else(|| format!("field {name} missing or not bytes"))
    };
    let digest = field("digest").and_then(Value::as_text).ok_or("field digest missing")?;
    if digest != "SHA384" {
        return Err(format!("digest is {digest}, not SHA384"));
    }
    let timestamp_ms = field("timestamp")
        .and_then(Value::as_integer)
        .and_then(|i| u64::try_from(i).ok())
        .ok_or("field timestamp missing or not an unsigned integer")?;
    let pcrs = field("pcrs")
        .and_then(Value::as_map)
        .ok_or("field pcrs missing or not a map")?
        .iter()
        .map(|(k, v)| {
            let index = k.as_integer().map(i128::from).ok_or("a PCR index is not an integer")?;
            let value = v.as_bytes().cloned().ok_or("a PCR value is not bytes")?;
            if value.len() != 48 {
                return Err(format!("PCR{index} has {} bytes, not 48 (SHA-384)", value.len()));
            }
            Ok((index, value))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let cabundle = field("cabundle")
        .and_then(Value::as_array)
        .ok_or("field cabundle missing or not an array")?
        .iter()
        .map(|c| c.as_bytes().cloned().ok_or("a cabundle entry is not bytes"))
        .collect::<Result<Vec<_>, _>>()?;
    if cabundle.is_empty() {
        return Err("cabundle is empty".into());
    }
    Ok(Document {
        module_id: field("module_id").and_then(Value::as_text).ok_or("field module_id missing")?.to_string(),
        timestamp_ms,
        pcrs,
        certificate: bytes("certificate")?,
        cabundle,
        public_key: bytes("public_key")?,
    })
}

/// A P-384 public key. `p384` parses and validates it (SEC1, compressed or not, on the curve,
/// not the identity) as it does signatures (DER or r ‖ s, 0 < r, s < n); the ECDSA-SHA384
/// check itself runs on AWS-LC, whose assembly P-384 is ~5x faster than `p384`'s arithmetic
/// (~0.19 ms against ~1.1 ms a verification; a full `verify_tee` makes four: the chain and the
/// COSE signature). Same checks either way: high-S is accepted by both, and a failure is `signature::Error` as before.
/// AWS-LC's copy of the key is parsed once, when the key is made: a key kept in the
/// attestation cache is not parsed again for each response it verifies.
pub(crate) struct P384Key {
    key: aws_lc_rs::signature::ParsedPublicKey,
}

impl std::fmt::Debug for P384Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("P384Key").field("point", &alloy_primitives::hex::encode(self.key.as_ref())).finish()
    }
}

impl P384Key {
    fn from_sec1_bytes(bytes: &[u8]) -> Result<Self, signature::Error> {
        use aws_lc_rs::signature::{ParsedPublicKey, ECDSA_P384_SHA384_FIXED};
        // The validated point, uncompressed (0x04 ‖ x ‖ y), as AWS-LC takes it.
        let point = VerifyingKey::from_sec1_bytes(bytes)?.to_encoded_point(false);
        let key = ParsedPublicKey::new(&ECDSA_P384_SHA384_FIXED, point.as_bytes()).map_err(|_| signature::Error::new())?;
        Ok(Self { key })
    }
}

impl Verifier<Signature> for P384Key {
    fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), signature::Error> {
        self.key.verify_sig(message, &signature.to_bytes()).map_err(|_| signature::Error::new())
    }
}

fn spki_key(cert: &Certificate) -> Result<P384Key, String> {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    P384Key::from_sec1_bytes(spki.subject_public_key.raw_bytes()).map_err(|e| format!("not a P-384 key: {e}"))
}

/// Checks `cert` was signed by `issuer` (ecdsa-with-SHA384).
fn signed_by(cert: &Certificate, issuer: &Certificate) -> Result<(), String> {
    let key = spki_key(issuer)?;
    let tbs = cert.tbs_certificate.to_der().map_err(|e| e.to_string())?;
    let sig = Signature::from_der(cert.signature.raw_bytes()).map_err(|e| format!("certificate signature: {e}"))?;
    key.verify(&tbs, &sig).map_err(|_| "certificate signature does not verify".to_string())
}

fn subject(cert: &Certificate) -> String {
    cert.tbs_certificate.subject.to_string()
}

/// What the document-level checks of an attestation established, kept so that they are made
/// once per document (see `tee_cache`): the COSE_Sign1 structure and field rules, the chain from
/// the leaf to the cabundle's root, and the COSE signature by the leaf. Nothing here depends on
/// the answer, the time or the model expected: `check_answer` checks those on every use.
#[derive(Debug)]
pub struct Attested {
    pub module_id: String,
    /// When the enclave made the document (its `timestamp`).
    pub timestamp_ms: u64,
    /// PCR index → value (48 bytes), in the document's order.
    pub pcrs: Vec<(i128, Vec<u8>)>,
    /// `cabundle[0]`, the root the chain was checked up to: it must be the policy's root.
    root_der: Vec<u8>,
    /// Each certificate of the chain (leaf first, root last): subject, valid from, valid until
    /// (ms). Checked against `now` on every use, without parsing the certificates again.
    validity: Vec<(String, u64, u64)>,
    /// The address of the attested response-signing key, parsed once; or why it is not a
    /// secp256k1 SPKI (reported as `malformed_attestation` where the full check reports it).
    response_key: Result<Address, String>,
}

impl Attested {
    /// `expired_certificate` unless every certificate of the chain is valid at `now_ms`.
    fn check_validity(&self, now_ms: u64) -> Result<(), TeeRejection> {
        match self.validity.iter().find(|(_, from, until)| now_ms < *from || now_ms > *until) {
            Some((subject, from, until)) => {
                Err(reject("expired_certificate", format!("{subject} is valid {from}..{until} ms, now is {now_ms}")))
            }
            None => Ok(()),
        }
    }
}

/// The document-level checks of an attestation (the first half of `verify_tee`): structure and
/// field rules, root, chain and COSE signature. `now_ms` only orders the rejections as the full
/// check always has (an expired certificate is named before a bad COSE signature); a document
/// that passes is returned whether or not its certificates are valid at `now_ms`.
pub fn attest(attestation: &[u8], policy: &TeePolicy, now_ms: u64) -> Result<Attested, TeeRejection> {
    let malformed = |d: String| reject("malformed_attestation", d);
    let sign1 = CoseSign1::from_tagged_slice(attestation)
        .or_else(|_| CoseSign1::from_slice(attestation))
        .map_err(|e| malformed(format!("not a COSE_Sign1: {e:?}")))?;
    let alg = sign1.protected.header.alg.clone();
    if alg != Some(coset::Algorithm::Assigned(coset::iana::Algorithm::ES384)) {
        return Err(malformed(format!("algorithm is {alg:?}, not ES384")));
    }
    let payload = sign1.payload.as_deref().ok_or_else(|| malformed("no payload".into()))?;
    let doc = parse_document(payload).map_err(malformed)?;

    // The chain: cabundle[0] must be the devnet root; each certificate signed by the next up.
    if doc.cabundle[0] != policy.root_der {
        return Err(reject("unknown_root", "the cabundle's root is not the devnet root"));
    }
    let parse = |der: &[u8], what: &str| Certificate::from_der(der).map_err(|e| malformed(format!("{what}: {e}")));
    let leaf = parse(&doc.certificate, "certificate")?;
    let bundle: Vec<Certificate> = doc.cabundle.iter().map(|c| parse(c, "cabundle entry")).collect::<Result<_, _>>()?;
    let mut chain: Vec<&Certificate> = vec![&leaf];
    chain.extend(bundle.iter().rev());
    for pair in chain.windows(2) {
        signed_by(pair[0], pair[1])
            .map_err(|e| reject("bad_certificate_chain", format!("{} is not signed by {}: {e}", subject(pair[0]), subject(pair[1]))))?;
    }
    let root = chain.last().expect("root");
    signed_by(root, root).map_err(|e| reject("bad_certificate_chain", format!("root is not self-signed: {e}")))?;
    let validity = chain
        .iter()
        .map(|cert| {
            let v = &cert.tbs_certificate.validity;
            (subject(cert), v.not_before.to_unix_duration().as_millis() as u64, v.not_after.to_unix_duration().as_millis() as u64)
        })
        .collect();
    let Document { module_id, timestamp_ms, pcrs, cabundle, public_key, .. } = doc;
    let attested = Attested {
        module_id,
        timestamp_ms,
        pcrs,
        root_der: cabundle.into_iter().next().expect("cabundle is not empty"),
        validity,
        response_key: spki_from_der(&public_key),
    };
    let signed = spki_key(&leaf).map_err(malformed).and_then(|leaf_key| {
        sign1
            .verify_signature(b"", |sig, data| {
                let sig = Signature::from_slice(sig).map_err(|e| e.to_string())?;
                leaf_key.verify(data, &sig).map_err(|e| e.to_string())
            })
            .map_err(|e| reject("bad_signature", format!("the attestation's COSE signature does not verify: {e}")))
    });
    match signed {
        Ok(()) => Ok(attested),
        // Validity was always checked before the leaf key and the COSE signature.
        Err(e) => Err(attested.check_validity(now_ms).err().unwrap_or(e)),
    }
}

/// The checks of one answer against an attested document (the second half of `verify_tee`):
/// the root is the policy's, the certificates are valid at `now_ms`, the PCRs are the ones
/// expected (for this model), the document is fresh for the response, and the response
/// signature by the attested key binds the delivered request and output.
pub fn check_answer(
    attested: &Attested,
    evidence: &TeeEvidence,
    expected_pcrs: &[Vec<u8>],
    policy: &TeePolicy,
    now_ms: u64,
    delivered_request_hash: B256,
    delivered_output_hash: B256,
) -> Result<TeeVerified, TeeRejection> {
    if attested.root_der != policy.root_der {
        return Err(reject("unknown_root", "the cabundle's root is not the devnet root"));
    }
    attested.check_validity(now_ms)?;
    for (i, expected) in expected_pcrs.iter().enumerate() {
        let got = attested.pcrs.iter().find(|(k, _)| *k == i as i128).map(|(_, v)| v);
        if got != Some(expected) {
            return Err(reject("pcr_mismatch", format!("PCR{i} does not match the registered measurement")));
        }
    }
    if attested.timestamp_ms > evidence.timestamp_ms + policy.max_clock_skew_ms
        || evidence.timestamp_ms.saturating_sub(attested.timestamp_ms) > policy.max_attestation_age_ms
        || evidence.timestamp_ms > now_ms + policy.max_clock_skew_ms
    {
        return Err(reject(
            "stale_attestation",
            format!("attested at {} ms, response at {} ms, now {now_ms} ms", attested.timestamp_ms, evidence.timestamp_ms),
        ));
    }
    let response_key = attested.response_key.as_ref().map_err(|e| reject("malformed_attestation", e.clone()))?;
    let message = super::response_message(&evidence.request_hash, &evidence.output_hash, evidence.timestamp_ms);
    let signer = recover_response_signer(&evidence.response_signature, message).map_err(|e| reject("bad_response_signature", e))?;
    if signer != *response_key {
        return Err(reject("bad_response_signature", format!("signed by {signer}, not by the attested key ({response_key})")));
    }
    if evidence.request_hash != delivered_request_hash {
        return Err(reject("request_mismatch", "the signed request is not this inference's request"));
    }
    if evidence.output_hash != delivered_output_hash {
        return Err(reject("output_mismatch", "the signed output is not the delivered output"));
    }
    Ok(TeeVerified {
        module_id: attested.module_id.clone(),
        attestation_timestamp_ms: attested.timestamp_ms,
        pcrs: attested.pcrs.iter().map(|(_, v)| v.clone()).collect(),
    })
}

/// Verifies a TEE result in full: the document (`attest`) and the answer (`check_answer`).
/// `expected_pcrs` are the registered measurements (PCR0, PCR1, PCR2: runtime image, node
/// software, model); `delivered_*` are what the chain knows independently. The attestation
/// cache (`verify_tee_cached`) gives the same verdict, checking each document once.
pub fn verify_tee(
    evidence: &TeeEvidence,
    expected_pcrs: &[Vec<u8>],
    policy: &TeePolicy,
    now_ms: u64,
    delivered_request_hash: B256,
    delivered_output_hash: B256,
) -> Result<TeeVerified, TeeRejection> {
    let attested = attest(&evidence.attestation, policy, now_ms)?;
    check_answer(&attested, evidence, expected_pcrs, policy, now_ms, delivered_request_hash, delivered_output_hash)
}

const EC_PUBLIC_KEY: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256K1: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.3.132.0.10");

/// The Ethereum address of a secp256k1 public key given as SubjectPublicKeyInfo DER (the point
/// compressed or not, validated on the curve).
fn spki_from_der(der_bytes: &[u8]) -> Result<Address, String> {
    let spki = spki::SubjectPublicKeyInfoRef::from_der(der_bytes).map_err(|e| format!("public_key is not SPKI: {e}"))?;
    let curve = spki.algorithm.parameters_oid().ok();
    if spki.algorithm.oid != EC_PUBLIC_KEY || curve != Some(SECP256K1) {
        return Err(format!("public_key is not a secp256k1 key (algorithm {}, curve {curve:?})", spki.algorithm.oid));
    }
    let point = secp256k1::PublicKey::from_slice(spki.subject_public_key.raw_bytes()).map_err(|e| format!("public_key is not a secp256k1 point: {e}"))?;
    Ok(Address::from_raw_public_key(&point.serialize_uncompressed()[1..]))
}

/// Who signed `message`: r ‖ s ‖ v with v 27 or 28 and s in the lower half (EIP-2), as
/// `ecrecover` takes it; recovered by libsecp256k1.
fn recover_response_signer(signature: &[u8], message: B256) -> Result<Address, String> {
    let [.., v] = signature else { return Err("an empty signature".into()) };
    if signature.len() != 65 || !matches!(v, 27 | 28) {
        return Err(format!("not r ‖ s ‖ v (65 bytes, v 27 or 28): {} bytes, last {v}", signature.len()));
    }
    let sig = alloy_primitives::Signature::from_raw(signature).map_err(|e| e.to_string())?;
    alloy_consensus::crypto::secp256k1::recover_signer(&sig, message).map_err(|e| format!("does not recover: {e}"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloy_primitives::hex;

    /// The honest vector (testdata/attestation.json): node-0's document and a response it
    /// signed. The cache's tests use it too.
    pub(crate) struct Vector {
        pub evidence: TeeEvidence,
        pub policy: TeePolicy,
        pub pcrs: Vec<Vec<u8>>,
    }

    pub(crate) fn vector() -> Vector {
        let v: serde_json::Value = serde_json::from_str(include_str!("testdata/attestation.json")).unwrap();
        let h = |k: &str| hex::decode(v[k].as_str().unwrap()).unwrap();
        Vector {
            evidence: TeeEvidence {
                attestation: h("attestation"),
                response_signature: h("response_signature"),
                timestamp_ms: v["timestamp_ms"].as_u64().unwrap(),
                request_hash: B256::from_slice(&h("request_hash")),
                output_hash: B256::from_slice(&h("output_hash")),
            },
            policy: TeePolicy { root_der: h("root_der"), max_attestation_age_ms: 600_000, max_clock_skew_ms: 5_000 },
            pcrs: v["pcrs"].as_array().unwrap().iter().map(|p| hex::decode(p.as_str().unwrap()).unwrap()).collect(),
        }
    }

    fn check(v: &Vector, now: u64) -> Result<TeeVerified, TeeRejection> {
        verify_tee(&v.evidence, &v.pcrs, &v.policy, now, v.evidence.request_hash, v.evidence.output_hash)
    }

    #[test]
    fn the_vector_verifies_at_its_time_and_not_long_after() {
        let v = vector();
        let t = v.evidence.timestamp_ms;
        assert_eq!(check(&v, t).unwrap().module_id, "node-0");
        // The enclave certificate is valid for a day.
        assert_eq!(check(&v, t + 2 * 86_400_000).unwrap_err().reason, "expired_certificate");
    }

    #[test]
    fn tampering_is_named() {
        let mut v = vector();
        let t = v.evidence.timestamp_ms;
        v.pcrs[2][0] ^= 1;
        assert_eq!(check(&v, t).unwrap_err().reason, "pcr_mismatch");
        let mut v = vector();
        v.evidence.response_signature[0] ^= 1;
        assert_eq!(check(&v, t).unwrap_err().reason, "bad_response_signature");
        let mut v = vector();
        v.policy.root_der[40] ^= 1;
        assert_eq!(check(&v, t).unwrap_err().reason, "unknown_root");
        let v = vector();
        let err = verify_tee(&v.evidence, &v.pcrs, &v.policy, t, v.evidence.request_hash, B256::ZERO).unwrap_err();
        assert_eq!(err.reason, "output_mismatch");
        let mut v = vector();
        v.evidence.attestation.truncate(20);
        assert_eq!(check(&v, t).unwrap_err().reason, "malformed_attestation");
    }

    #[test]
    fn a_response_is_signed_as_ecrecover_takes_it() {
        use alloy_signer::SignerSync;
        let key = B256::repeat_byte(7);
        let signer = alloy_signer_local::PrivateKeySigner::from_bytes(&key).unwrap();
        let (rh, oh) = (B256::repeat_byte(1), B256::repeat_byte(2));
        let sig = crate::verify::sign_response(&key, &rh, &oh, 1_700_000_000_000).unwrap();
        let message = crate::verify::response_message(&rh, &oh, 1_700_000_000_000);
        assert!(matches!(sig[64], 27 | 28));
        assert_eq!(recover_response_signer(&sig, message).unwrap(), signer.address());
        // What a contract's ecrecover(message, v, r, s) gives: the same signer, by k256 too.
        assert_eq!(signer.sign_hash_sync(&message).unwrap().recover_address_from_prehash(&message).unwrap(), signer.address());
        // Another time, a flipped v, v as 0/1, a high s (n - s), 64 bytes: refused or another signer.
        let other = crate::verify::response_message(&rh, &oh, 1_700_000_000_001);
        assert_ne!(recover_response_signer(&sig, other).ok(), Some(signer.address()));
        let mut flipped = sig;
        flipped[64] ^= 27 ^ 28;
        assert_ne!(recover_response_signer(&flipped, message).ok(), Some(signer.address()));
        let mut raw_v = sig;
        raw_v[64] -= 27;
        assert!(recover_response_signer(&raw_v, message).unwrap_err().contains("v 27 or 28"));
        let n = alloy_primitives::U256::from_str_radix("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", 16).unwrap();
        let mut high = sig;
        high[32..64].copy_from_slice(&(n - alloy_primitives::U256::from_be_slice(&sig[32..64])).to_be_bytes::<32>());
        high[64] ^= 27 ^ 28;
        assert!(recover_response_signer(&high, message).is_err());
        assert!(recover_response_signer(&sig[..64], message).is_err());
        assert!(recover_response_signer(&[], message).is_err());
    }

    #[test]
    fn the_response_key_must_be_a_secp256k1_spki() {
        let v = vector();
        let cbor: Value = ciborium::from_reader(&CoseSign1::from_tagged_slice(&v.evidence.attestation).unwrap().payload.unwrap()[..]).unwrap();
        let key = cbor.as_map().unwrap().iter().find(|(k, _)| k.as_text() == Some("public_key")).unwrap().1.as_bytes().unwrap().clone();
        let address = spki_from_der(&key).unwrap();
        let message = crate::verify::response_message(&v.evidence.request_hash, &v.evidence.output_hash, v.evidence.timestamp_ms);
        assert_eq!(recover_response_signer(&v.evidence.response_signature, message).unwrap(), address);
        // The root certificate's key: P-384, refused with the curve named.
        let root = Certificate::from_der(&v.policy.root_der).unwrap();
        let p384_spki = root.tbs_certificate.subject_public_key_info.to_der().unwrap();
        assert!(spki_from_der(&p384_spki).unwrap_err().contains("not a secp256k1 key"));
        let mut off_curve = key.clone();
        *off_curve.last_mut().unwrap() ^= 1;
        assert!(spki_from_der(&off_curve).unwrap_err().contains("not a secp256k1 point"));
        assert!(spki_from_der(&key[..10]).unwrap_err().contains("not SPKI"));
    }

    #[test]
    fn the_p384_check_accepts_what_p384_did() {
        use p384::ecdsa::signature::Signer;
        use p384::ecdsa::SigningKey;
        let signer = SigningKey::from_slice(&[7; 48]).unwrap();
        let reference = VerifyingKey::from(&signer);
        for compress in [false, true] {
            let point = reference.to_encoded_point(compress);
            let key = P384Key::from_sec1_bytes(point.as_bytes()).unwrap();
            for message in [&b""[..], b"attestation", &[0xab; 300]] {
                let sig: Signature = signer.sign(message);
                let (r, s) = sig.split_scalars();
                // ECDSA as `p384` verifies it accepts s and n - s alike (no low-S rule).
                let flipped = Signature::from_scalars(r, -*s).unwrap();
                let mut other = message.to_vec();
                other.push(1);
                for (m, sig) in [(message, sig), (message, flipped), (&other[..], sig)] {
                    assert_eq!(key.verify(m, &sig).is_ok(), reference.verify(m, &sig).is_ok());
                }
                assert!(key.verify(message, &flipped).is_ok());
                assert!(key.verify(&other, &sig).is_err());
            }
        }
        // Not on the curve: refused when parsed, as before.
        let mut point = reference.to_encoded_point(false).as_bytes().to_vec();
        point[60] ^= 1;
        assert!(P384Key::from_sec1_bytes(&point).is_err());
    }
}
