//! LLM gateway answers (docs/wire/og-llm-sdk-1.1.4.md §3): the gateway signs
//! `message = keccak256(request_hash ‖ output_hash ‖ uint256_be(timestamp))` with RSA-PSS
//! (SHA-256, MGF1-SHA-256, salt 32) under the RSA key whose SPKI DER the TEE registry holds.
//! PSS hashes the 32-byte message again with SHA-256: the message is not a prehash.
use std::fmt;

use alloy_primitives::B256;
use aws_lc_rs::signature::{UnparsedPublicKey, RSA_PSS_2048_8192_SHA256};
use der::Decode;
use spki::SubjectPublicKeyInfoRef;

/// rsaEncryption (PKCS#1), the only key algorithm a gateway may register.
const RSA_ENCRYPTION: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// Why a signed answer is not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmRejection {
    /// A stable name: malformed_key, unsupported_key, bad_signature.
    pub reason: &'static str,
    pub detail: String,
}

impl fmt::Display for LlmRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.detail)
    }
}

impl std::error::Error for LlmRejection {}

fn reject(reason: &'static str, detail: impl Into<String>) -> LlmRejection {
    LlmRejection { reason, detail: detail.into() }
}

/// Checks `signature` over the answer with the gateway key `spki_der` (SubjectPublicKeyInfo
/// DER of an RSA key, 2048 to 8192 bits).
pub fn verify_llm_response(spki_der: &[u8], request_hash: &B256, output_hash: &B256, timestamp: u64, signature: &[u8]) -> Result<(), LlmRejection> {
    let info = SubjectPublicKeyInfoRef::from_der(spki_der).map_err(|e| reject("malformed_key", format!("the registered key is not SPKI DER: {e}")))?;
    if info.algorithm.oid != RSA_ENCRYPTION {
        return Err(reject("unsupported_key", format!("the registered key is {}, not RSA: gateways sign with RSA-PSS", info.algorithm.oid)));
    }
    // The inner PKCS#1 RSAPublicKey: what the verifier parses (it also takes SPKI, but the
    // algorithm check above must not be skipped).
    let rsa_key = info.subject_public_key.as_bytes().ok_or_else(|| reject("malformed_key", "the key's bit string has unused bits"))?;
    let message = super::response_message(request_hash, output_hash, timestamp);
    UnparsedPublicKey::new(&RSA_PSS_2048_8192_SHA256, rsa_key)
        .verify(message.as_slice(), signature)
        .map_err(|_| reject("bad_signature", "the RSA-PSS signature does not match the request hash, output hash and timestamp under the registered key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made with Python `cryptography` (see the file's comment).
    fn vector() -> (Vec<u8>, B256, B256, u64, Vec<u8>, serde_json::Value) {
        let v: serde_json::Value = serde_json::from_str(include_str!("testdata/llm_response.json")).unwrap();
        let h = |k: &str| alloy_primitives::hex::decode(v[k].as_str().unwrap()).unwrap();
        (h("spki_der"), B256::from_slice(&h("request_hash")), B256::from_slice(&h("output_hash")), v["timestamp"].as_u64().unwrap(), h("signature"), v)
    }

    #[test]
    fn a_signature_made_by_python_cryptography_verifies() {
        let (key, rh, oh, ts, sig, _) = vector();
        assert_eq!(verify_llm_response(&key, &rh, &oh, ts, &sig), Ok(()));
    }

    #[test]
    fn anything_changed_fails_as_bad_signature() {
        let (key, rh, oh, ts, sig, _) = vector();
        let mut flipped = sig.clone();
        flipped[100] ^= 1;
        let other = B256::repeat_byte(7);
        for (rh, oh, ts, sig) in [(rh, oh, ts, &flipped), (rh, other, ts, &sig), (other, oh, ts, &sig), (rh, oh, ts + 1, &sig)] {
            assert_eq!(verify_llm_response(&key, &rh, &oh, ts, sig).unwrap_err().reason, "bad_signature");
        }
        assert_eq!(verify_llm_response(&key, &rh, &oh, ts, &sig[..10]).unwrap_err().reason, "bad_signature");
    }

    #[test]
    fn keys_that_are_not_rsa_spki_are_refused_by_name() {
        let (_, rh, oh, ts, sig, v) = vector();
        let p384 = alloy_primitives::hex::decode(v["p384_spki_der"].as_str().unwrap()).unwrap();
        let e = verify_llm_response(&p384, &rh, &oh, ts, &sig).unwrap_err();
        assert_eq!(e.reason, "unsupported_key", "{e}");
        assert!(e.detail.contains("1.2.840.10045.2.1"), "{e}");
        assert_eq!(verify_llm_response(b"not der", &rh, &oh, ts, &sig).unwrap_err().reason, "malformed_key");
    }
}
