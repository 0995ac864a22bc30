//! Asynchronous settlement: proof material travels apart from results. A verifiable
//! inference is delivered in one block; its proof is checked and settled in a later one,
//! by the full node, with public material only.
use alloy_primitives::{Address, B256};
use serde::{Deserialize, Serialize};

/// A proof waiting for a block after the one that delivered its result.
#[derive(Debug, Clone)]
pub struct PendingProof {
    pub tx_hash: B256,
    pub mode: u8,
    pub node: Address,
    pub model_id: String,
    pub payload: String,
    pub output: String,
    pub proof: String,
    pub t_result: u64,
    pub t_proof_submitted: u64,
    pub included_block: u64,
}

/// What a block records about each proof it settled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementRecord {
    pub tx_hash: B256,
    pub mode: u8,
    /// The node whose result the proof vouches for.
    pub node: Address,
    /// "settled" or "rejected".
    pub outcome: String,
    /// For a rejection: the verifier's named reason and detail.
    pub reason: Option<String>,
    pub t_result: u64,
    pub t_proof_submitted: u64,
    /// Hash of the proof material (the material itself stays with the node's submission).
    pub proof_hash: B256,
}

impl SettlementRecord {
    pub fn leaf(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("serialisable")
    }
}
