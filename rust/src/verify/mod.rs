//! Verifying proofs with public material only (certificates, keys, measurements): the full
//! node never touches a model. Each failure has a name, recorded on the inference.
pub mod tee;

pub use tee::{verify_tee, TeeEvidence, TeePolicy, TeeRejection, TeeVerified};
