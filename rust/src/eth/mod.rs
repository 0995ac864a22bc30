//! Ethereum wire formats: signed transaction decoding and sender recovery, dev keys,
//! and the JSON shapes of blocks, transactions and receipts served over JSON-RPC.
pub mod abi;
pub mod keys;
pub mod rpc_json;
pub mod tx;

pub use keys::DevKeys;
pub use tx::{decode_raw_transaction, decode_raw_transactions, intrinsic_gas, SignedTx, TxRequest};
