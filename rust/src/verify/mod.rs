//! Verifying proofs with public material only (certificates, keys, measurements): the full
//! node never touches a model. Each failure has a name, recorded on the inference.
pub mod llm;
pub mod tee;
pub mod tee_cache;

pub use llm::{llm_message, verify_llm_response, LlmRejection};
pub use tee::{attest, check_answer, verify_tee, Attested, TeeEvidence, TeePolicy, TeeRejection, TeeVerified};
pub use tee_cache::{verify_tee_cached, AttestationCache, CacheStats};
