//! Native contracts: implemented in Rust at the addresses the OpenGradient SDK uses by
//! default, so only `rpc_url` changes for SDK users.
use alloy_primitives::{address, Address, Bytes};

pub const INFERENCE_HUB: Address = address!("8383C9bD7462F12Eb996DD02F78234C0421A6FaE");
pub const INFERENCE_PRECOMPILE: Address = address!("00000000000000000000000000000000000000F4");
pub const TEE_REGISTRY: Address = address!("703cB174AEadB35D611858369B4b1111dC9Abda6");
/// OGHistorical: price candles, and inference on them (see `historical.rs`). Unlike the others
/// it is reached through the EVM, as Ethereum's precompiles are, even by a transaction sent
/// straight to it.
pub const OG_HISTORICAL: Address = address!("00000000000000000000000000000000000000F5");

/// Where LLM gateway answers are settled in batches (`chain/llm`): the chain's own
/// `settleBatch(batchId)` transactions go here.
pub const LLM_SETTLEMENT: Address = address!("00000000000000000000000000000000000000F6");

pub use scheduler::WORKFLOW_SCHEDULER;

pub const NATIVE_CONTRACTS: [(&str, Address); 6] = [
    ("inference_hub", INFERENCE_HUB),
    ("inference_precompile", INFERENCE_PRECOMPILE),
    ("tee_registry", TEE_REGISTRY),
    ("og_historical", OG_HISTORICAL),
    ("workflow_scheduler", WORKFLOW_SCHEDULER),
    ("llm_settlement", LLM_SETTLEMENT),
];

pub fn is_native(address: &Address) -> bool {
    NATIVE_CONTRACTS.iter().any(|(_, a)| a == address)
}

/// What `eth_getCode` shows for a native contract: a single INVALID opcode, so tools see a
/// contract there while nothing could ever run it as EVM code.
pub fn code(address: &Address) -> Bytes {
    if is_native(address) { Bytes::from_static(&[0xfe]) } else { Bytes::new() }
}

pub mod historical;
pub mod hub;
pub mod models;
pub mod returns;
pub mod scheduler;
pub mod tee_registry;
