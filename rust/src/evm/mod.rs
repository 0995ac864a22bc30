//! The EVM: transactions and calls executed on revm over a [`StateView`], with the native
//! contracts (inference hub, precompile 0x…F4, TEE registry) as precompiles that ask an
//! [`InferenceHost`] for their answers. Knows nothing of blocks, pools or RPC: the chain gives
//! it a view of the state and an environment, and applies the [`StateDiff`] it returns.
mod db;
mod exec;
mod host;
mod precompiles;
pub mod trace;

use alloy_primitives::{Address, Bytes, Log, B256, U256};

pub use exec::{execute, EvmContext, ExecOptions};
pub use trace::{access_list, trace, Tracer};
pub use revm::primitives::hardfork::SpecId;

/// EIP-170: the most code a contract may hold.
pub const MAX_CODE_SIZE: usize = 24_576;
/// EIP-3860: the most initcode a creation may carry.
pub const MAX_INITCODE_SIZE: usize = 2 * MAX_CODE_SIZE;
/// The hard fork transactions run under unless the chain picks another.
pub const DEFAULT_SPEC: SpecId = SpecId::PRAGUE;

/// The hard forks a chain can pick (`--hardfork`), by name.
pub const HARDFORKS: [(&str, SpecId); 5] = [
    ("london", SpecId::LONDON),
    ("shanghai", SpecId::SHANGHAI),
    ("cancun", SpecId::CANCUN),
    ("prague", SpecId::PRAGUE),
    ("osaka", SpecId::OSAKA),
];

pub fn hardfork(name: &str) -> Result<SpecId, String> {
    HARDFORKS.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, s)| *s).ok_or_else(|| {
        format!("unknown hard fork {name:?} (one of: {})", HARDFORKS.map(|(n, _)| n).join(", "))
    })
}
pub use host::{InferenceAnswer, InferenceHost, NativeContext, NoInference};

use crate::chain::Account;

/// The state a transaction runs against: the chain's state at one block plus whatever the
/// block being built has changed so far.
pub trait StateView {
    fn account(&self, address: &Address) -> Account;
    /// The account's code with its keccak hash; None for an account without code.
    fn code(&self, address: &Address) -> Option<(B256, Bytes)>;
    fn storage(&self, address: &Address, slot: U256) -> U256;
    /// The hash of block `number` (zero if unknown), for BLOCKHASH.
    fn block_hash(&self, number: u64) -> B256;
}

/// The block a transaction executes in.
#[derive(Debug, Clone)]
pub struct BlockEnv {
    pub spec: SpecId,
    pub chain_id: u64,
    pub number: u64,
    pub timestamp: u64,
    pub coinbase: Address,
    pub base_fee: u64,
    pub gas_limit: u64,
}

/// One transaction (or call) to execute.
#[derive(Debug, Clone, Default)]
pub struct TxInput {
    pub caller: Address,
    /// None: contract creation.
    pub to: Option<Address>,
    pub value: U256,
    pub data: Bytes,
    pub gas_limit: u64,
    /// Legacy gas price, or EIP-1559 max fee per gas.
    pub max_fee_per_gas: u128,
    /// EIP-1559's tip (None for legacy and EIP-2930 transactions).
    pub max_priority_fee_per_gas: Option<u128>,
    /// None: not checked (calls).
    pub nonce: Option<u64>,
    pub access_list: Vec<(Address, Vec<B256>)>,
    pub tx_type: u8,
}

/// What executing a transaction changed: every account it touched with its new value,
/// storage slots written, code deployed (or removed by SELFDESTRUCT of a new contract).
#[derive(Debug, Clone, Default)]
pub struct StateDiff {
    pub accounts: Vec<(Address, Account)>,
    pub storage: Vec<(Address, U256, U256)>,
    pub code: Vec<(Address, Bytes)>,
}

/// How an executed transaction ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// REVERT, with its data (e.g. `Error(string)`, `Panic(uint256)`, a custom error).
    Revert(Bytes),
    /// The EVM stopped it: out of gas, an invalid opcode, code over the size limit, ...
    Halt(String),
}

#[derive(Debug, Clone)]
pub struct Executed {
    pub outcome: Outcome,
    pub gas_used: u64,
    /// Return data (or the revert data).
    pub output: Bytes,
    pub logs: Vec<Log>,
    pub created: Option<Address>,
    pub diff: StateDiff,
}

impl Executed {
    pub fn success(&self) -> bool {
        self.outcome == Outcome::Success
    }

    /// Why it failed, readable as is; None for a success.
    pub fn reason(&self) -> Option<String> {
        match &self.outcome {
            Outcome::Success => None,
            Outcome::Revert(data) => Some(revert_reason(data)),
            Outcome::Halt(why) => Some(why.clone()),
        }
    }
}

/// A transaction the EVM refuses to run at all (nonce, balance, fee, gas limit): nothing
/// changes, as for a transaction that was never sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidTx(pub String);

/// Decodes revert data as Solidity does: `Error(string)`, `Panic(uint256)`, or else a custom
/// error shown by its selector.
pub fn revert_reason(data: &[u8]) -> String {
    use alloy_sol_types::{Panic, Revert, SolError};
    if data.is_empty() {
        return "execution reverted".into();
    }
    if let Ok(r) = Revert::abi_decode(data) {
        return r.reason;
    }
    if let Ok(p) = Panic::abi_decode(data) {
        let code = p.code;
        let what = match p.kind() {
            Some(kind) => format!("{kind:?}"),
            None => "unknown panic".into(),
        };
        return format!("panic code {code:#x} ({what})");
    }
    match data.get(..4) {
        Some(selector) => format!("custom error 0x{} ({} bytes of data)", alloy_primitives::hex::encode(selector), data.len()),
        None => format!("execution reverted with {} bytes of data", data.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revert_reasons_read_as_solidity_writes_them() {
        use alloy_sol_types::{Revert, SolError};
        assert_eq!(revert_reason(&Revert { reason: "nope".into() }.abi_encode()), "nope");
        let panic = alloy_sol_types::Panic { code: U256::from(0x11) }.abi_encode();
        assert!(revert_reason(&panic).starts_with("panic code 0x11"), "{}", revert_reason(&panic));
        assert!(revert_reason(&[0xde, 0xad, 0xbe, 0xef, 1]).starts_with("custom error 0xdeadbeef"));
        assert_eq!(revert_reason(&[]), "execution reverted");
    }
}
