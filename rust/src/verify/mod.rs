//! Verifying proofs with public material only (certificates, keys, measurements): the full
//! node never touches a model. Each failure has a name, recorded on the inference.
pub mod llm;
pub mod tee;

pub use llm::{llm_message, verify_llm_response, LlmRejection};
pub use tee::{verify_tee, TeeEvidence, TeePolicy, TeeRejection, TeeVerified};
