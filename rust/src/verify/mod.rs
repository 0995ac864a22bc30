//! Verifying proofs with public material only (certificates, keys, measurements): the full
//! node never touches a model. Each failure has a name, recorded on the inference.
pub mod llm;
pub mod tee;
pub mod tee_cache;

use alloy_primitives::{keccak256, B256, U256};

pub use llm::{verify_llm_response, LlmRejection};
pub use tee::{attest, check_answer, verify_tee, Attested, TeeEvidence, TeePolicy, TeeRejection, TeeVerified};
pub use tee_cache::{verify_tee_cached, AttestationCache, CacheStats};

/// The 32-byte message an enclave (TEE answers) or a gateway (LLM answers) signs:
/// keccak256(request_hash ‖ output_hash ‖ uint256(timestamp)), timestamp in ms.
pub fn response_message(request_hash: &B256, output_hash: &B256, timestamp: u64) -> B256 {
    let mut m = [0u8; 96];
    m[..32].copy_from_slice(request_hash.as_slice());
    m[32..64].copy_from_slice(output_hash.as_slice());
    m[64..].copy_from_slice(&U256::from(timestamp).to_be_bytes::<32>());
    keccak256(m)
}

/// What an enclave sends with an answer: `response_message` signed by its secp256k1 key
/// `key`, r ‖ s ‖ v (v 27 or 28), as `eth_sign` over a hash and `ecrecover` expect. The devnet's
/// enclaves sign with it; `tee::check_answer` recovers it.
pub fn sign_response(key: &B256, request_hash: &B256, output_hash: &B256, timestamp: u64) -> Result<[u8; 65], String> {
    use alloy_signer::SignerSync;
    let signer = alloy_signer_local::PrivateKeySigner::from_bytes(key).map_err(|e| format!("not a secp256k1 private key: {e}"))?;
    let sig = signer.sign_hash_sync(&response_message(request_hash, output_hash, timestamp)).map_err(|e| e.to_string())?;
    Ok(sig.as_bytes())
}
