use alloy_primitives::{Address, B256, U256};

/// Every way the chain refuses a request. Each variant becomes one Python exception class in
/// `py/errors.rs` and from there one JSON-RPC error code, so messages here are user-facing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("malformed transaction: {0}")]
    MalformedTransaction(String),
    #[error("invalid transaction signature: {0}")]
    InvalidSignature(String),
    #[error("wrong chain id: this devnet is chain {expected}, the transaction is for {}", got.map(|g| g.to_string()).unwrap_or_else(|| "no chain (pre-EIP-155, replayable)".into()))]
    WrongChainId { expected: u64, got: Option<u64> },
    #[error("transaction type {0} is not supported (legacy, EIP-2930 and EIP-1559 are)")]
    UnsupportedTxType(u8),
    #[error("nonce too low: account {address} has nonce {expected}, the transaction has {got}")]
    NonceTooLow { address: Address, expected: u64, got: u64 },
    #[error("nonce too high: account {address} expects nonce {expected}, the transaction has {got} (at most {max_ahead} ahead are held back)")]
    NonceTooHigh { address: Address, expected: u64, got: u64, max_ahead: u64 },
    #[error("insufficient funds for gas * price + value: account {address} has {have} wei, needs {need} wei")]
    InsufficientFunds { address: Address, have: U256, need: U256 },
    #[error("fee too low: max fee per gas {offered} wei is less than the block base fee {base_fee} wei")]
    FeeTooLow { offered: u128, base_fee: u128 },
    #[error("max priority fee per gas {tip} is higher than max fee per gas {max_fee}")]
    TipAboveMaxFee { tip: u128, max_fee: u128 },
    #[error("replacement transaction underpriced: a transaction with nonce {nonce} is pending; raise both fees by at least 10% to replace it")]
    ReplacementUnderpriced { nonce: u64 },
    #[error("intrinsic gas too low: gas limit {gas} is below the {needed} the transaction needs")]
    IntrinsicGasTooLow { gas: u64, needed: u64 },
    #[error("gas limit {gas} exceeds the block gas limit {block_gas_limit}")]
    GasLimitExceeded { gas: u64, block_gas_limit: u64 },
    #[error("transaction already known: {0}")]
    AlreadyKnown(String),
    #[error("transaction pool is full ({0} transactions): mine blocks or wait")]
    PoolFull(usize),
    #[error("{0}")]
    Unsupported(String),
    #[error("account {0} is not unlocked: the node signs (eth_sendTransaction, eth_sign, eth_signTransaction, eth_signTypedData_v4) only for the devnet's dev accounts; sign locally and use eth_sendRawTransaction")]
    UnknownAccount(Address),
    /// A block asked for by hash that this chain does not have (geth: "header not found").
    #[error("header not found: no block with hash {0} on this chain")]
    BlockNotFound(B256),
    #[error("{0}")]
    InvalidArgument(String),
    /// A contract call that fails: the reason is returned as `Error(string)` revert data.
    #[error("execution reverted: {0}")]
    Revert(String),
    /// EVM code reverted (or halted): `data` is its revert data, returned as is.
    #[error("execution reverted: {reason}")]
    Reverted { reason: String, data: alloy_primitives::Bytes },
    /// The read needs the bodies of these blocks, which left memory for the store (see
    /// `archive.rs`): the caller loads them with `Chain::load_bodies` and asks again.
    #[error("{}", archived_message(blocks))]
    BodyArchived { blocks: Vec<u64> },
}

fn archived_message(blocks: &[u64]) -> String {
    match blocks {
        [one] => format!("the body of block {one} is archived in the store and could not be loaded; retry"),
        [first, .., last] => format!(
            "the bodies of {} blocks ({first} to {last}) are archived in the store and could not be loaded; retry",
            blocks.len()
        ),
        [] => "no archived block is needed".into(),
    }
}
