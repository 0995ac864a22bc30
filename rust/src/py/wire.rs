//! JSON-RPC shapes of what `PyChain` reads by block: the block a tag names (the pending
//! block built for the occasion), its transactions and receipts. Plain functions over
//! the chain; `chain.rs` wraps them as methods. Each fails with `BodyArchived` when the
//! block's body is in the store only.
use serde_json::Value;

use crate::chain::{Block, BlockTag, Chain, ChainError};
use crate::eth::rpc_json::{self, BlockKind};

/// Runs `f` on the block `tag` names and its kind; None when there is no such block.
fn with_block<T>(c: &Chain, tag: BlockTag, f: impl FnOnce(&Block, BlockKind) -> T) -> Result<Option<T>, ChainError> {
    if tag == BlockTag::Pending {
        let pending = c.pending_block();
        return Ok(Some(f(&pending, BlockKind::Pending)));
    }
    Ok(c.block(tag)?.map(|b| f(b, BlockKind::Sealed)))
}

pub fn block(c: &Chain, tag: BlockTag, full: bool) -> Result<Option<Value>, ChainError> {
    with_block(c, tag, |b, kind| rpc_json::block_of_kind(b, full, kind))
}

/// Every receipt of a sealed block; None for the pending block, whose transactions have no
/// receipts yet (as `eth_getTransactionReceipt` has none for a pooled transaction).
pub fn block_receipts(c: &Chain, tag: BlockTag) -> Result<Option<Value>, ChainError> {
    Ok(c.block(tag)?.map(|block| Value::Array((0..block.transactions.len()).map(|i| rpc_json::receipt(block, i)).collect())))
}

pub fn block_transaction(c: &Chain, tag: BlockTag, index: usize) -> Result<Option<Value>, ChainError> {
    Ok(with_block(c, tag, |b, kind| b.transactions.get(index).map(|tx| rpc_json::transaction_in(tx, b, index, kind)))?.flatten())
}

/// The signed bytes of the transaction at `index` of block `tag`, 0x-hex.
pub fn raw_block_transaction(c: &Chain, tag: BlockTag, index: usize) -> Result<Option<String>, ChainError> {
    Ok(with_block(c, tag, |b, _| b.transactions.get(index).map(|tx| tx.raw().to_string()))?.flatten())
}

/// `eth_feeHistory` as JSON.
pub fn fee_history(c: &Chain, count: u64, newest: BlockTag, percentiles: &[f64]) -> Result<Value, ChainError> {
    Ok(rpc_json::fee_history(&c.fee_history(count, newest, percentiles)?))
}
