//! What gateways hand the chain (`LlmSubmission`, JSON from Python) and what an LLM answer's
//! record adds (`LlmSettlement`, its `llm` field on the wire).
use alloy_primitives::{Address, Bytes, B256, U256};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::chain::native::hub::CallKind;
use crate::pipe::record::decimal;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SettlementType {
    Batch,
    Individual,
    Private,
}

/// The x402 payment made for an answer (on the devnet's "Base"; this chain only records it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmPayment {
    pub payer: Address,
    #[serde(with = "decimal")]
    pub amount: U256,
    #[serde(default)]
    pub tx_hash: Option<B256>,
}

/// One signed answer as a gateway submits it (JSON). `signature` is 0x-hex.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmSubmission {
    pub tee_id: B256,
    pub request_hash: B256,
    pub output_hash: B256,
    /// Unix seconds, as signed.
    pub timestamp: u64,
    pub signature: Bytes,
    pub settlement_type: SettlementType,
    pub model_id: String,
    /// chat | completion.
    pub kind: CallKind,
    pub input: Value,
    pub output: Value,
    /// The answer as delivered, as the SDK's `tee_verify` hashes it (the text, or the tool
    /// calls' JSON): the full node checks that the signed output hash is its hash.
    pub delivered: String,
    pub t_request_ms: u64,
    pub t_result_ms: u64,
    /// The gateway operator's node: its stake backs the answer.
    pub node: Address,
    #[serde(default)]
    pub node_index: Option<usize>,
    #[serde(default)]
    pub payment: Option<LlmPayment>,
}

/// What an LLM answer's record adds (`llm` on the wire): what was signed, and where it settles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmSettlement {
    pub tee_id: B256,
    pub request_hash: B256,
    pub output_hash: B256,
    pub timestamp: u64,
    pub signature: Bytes,
    pub settlement_type: SettlementType,
    pub batch_id: u64,
    /// The same as the record's `tx_hash`.
    pub batch_tx_hash: B256,
    pub node: Address,
    /// keccak256 of the answer the gateway delivered; a signed `output_hash` other than this
    /// is a lie about the output (a byzantine gateway).
    pub delivered_hash: B256,
    /// Once settled and valid (never for private answers): the batch's root, this answer's
    /// leaf and its index among the published leaves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merkle_root: Option<B256>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf: Option<B256>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf_index: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<LlmPayment>,
}
