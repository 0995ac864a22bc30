//! Blocks, transactions, receipts and logs in the JSON shapes of the Ethereum JSON-RPC API.
use alloy_consensus::{Transaction, TxEnvelope};
use alloy_primitives::Signature;
use serde_json::{json, Value};

use crate::chain::logs::LogRef;
use crate::chain::{Block, FeeHistory};
use crate::eth::SignedTx;

fn q<T: std::fmt::LowerHex>(v: T) -> String {
    format!("{v:#x}")
}

/// Whether a block is sealed or the pending block. As geth shows it, the pending block has
/// no hash, nonce or miner yet (null); its transactions no block hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    Sealed,
    Pending,
}

pub fn block(block: &Block, full_transactions: bool) -> Value {
    block_of_kind(block, full_transactions, BlockKind::Sealed)
}

pub fn block_of_kind(block: &Block, full_transactions: bool, kind: BlockKind) -> Value {
    let h = &block.header;
    let transactions: Vec<Value> = if full_transactions {
        block
            .transactions
            .iter()
            .enumerate()
            .map(|(i, tx)| transaction_in(tx, block, i, kind))
            .collect()
    } else {
        block.transactions.iter().map(|tx| json!(tx.hash)).collect()
    };
    let size: usize = 600 + block.transactions.iter().map(|t| t.raw().len()).sum::<usize>();
    let mut v = json!({
        "number": q(h.number),
        "hash": block.hash,
        "parentHash": h.parent_hash,
        "timestamp": q(h.timestamp),
        "timestampMs": q(h.timestamp_ms),
        "miner": h.coinbase,
        "gasLimit": q(h.gas_limit),
        "gasUsed": q(h.gas_used),
        "baseFeePerGas": q(h.base_fee),
        "transactionsRoot": h.transactions_root,
        "receiptsRoot": h.receipts_root,
        "stateRoot": h.state_root,
        "logsBloom": h.logs_bloom,
        "difficulty": "0x0",
        "totalDifficulty": "0x0",
        "nonce": "0x0000000000000000",
        "mixHash": alloy_primitives::B256::ZERO,
        "sha3Uncles": "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347",
        "extraData": "0x",
        "size": q(size),
        "uncles": [],
        "transactions": transactions,
    });
    if kind == BlockKind::Pending {
        for field in ["hash", "nonce", "miner"] {
            v[field] = Value::Null;
        }
    }
    v
}

/// The transaction at `index` of `block`.
pub fn transaction_in(tx: &SignedTx, block: &Block, index: usize, kind: BlockKind) -> Value {
    let mut v = transaction(tx, Some((block, index)), block.header.base_fee as u128);
    if kind == BlockKind::Pending {
        v["blockHash"] = Value::Null;
    }
    v
}

/// A transaction; `at` is (block, index) once included, None while pooled (then the
/// block fields are null and `gasPrice` is what it would pay at `base_fee`).
pub fn transaction(tx: &SignedTx, at: Option<(&Block, usize)>, base_fee: u128) -> Value {
    let env = &tx.envelope;
    let sig: &Signature = env.signature();
    let mut v = json!({
        "hash": tx.hash,
        "type": q(tx.tx_type()),
        "from": tx.sender,
        "to": tx.to(),
        "nonce": q(tx.nonce()),
        "gas": q(tx.gas_limit()),
        "value": q(tx.value()),
        "input": tx.input(),
        "chainId": env.chain_id().map(q),
        "r": q(sig.r()),
        "s": q(sig.s()),
        "yParity": q(sig.v() as u8),
        "blockHash": at.map(|(b, _)| b.hash),
        "blockNumber": at.map(|(b, _)| q(b.header.number)),
        "transactionIndex": at.map(|(_, i)| q(i)),
        // execution-apis' TransactionInfo: the including block's timestamp.
        "blockTimestamp": at.map(|(b, _)| q(b.header.timestamp)),
    });
    let obj = v.as_object_mut().expect("object");
    match env {
        TxEnvelope::Legacy(t) => {
            let v_value = match t.tx().chain_id {
                Some(id) => id * 2 + 35 + sig.v() as u64,
                None => 27 + sig.v() as u64,
            };
            obj.insert("v".into(), json!(q(v_value)));
            obj.insert("gasPrice".into(), json!(q(t.tx().gas_price)));
            obj.remove("yParity");
        }
        _ => {
            obj.insert("v".into(), json!(q(sig.v() as u8)));
            // Included: the price paid; pooled: what it would pay at the current base fee.
            obj.insert("gasPrice".into(), json!(q(tx.effective_gas_price(base_fee))));
            obj.insert("accessList".into(), json!(env.access_list().cloned().unwrap_or_default()));
            if let Some(tip) = env.max_priority_fee_per_gas() {
                obj.insert("maxFeePerGas".into(), json!(q(env.max_fee_per_gas())));
                obj.insert("maxPriorityFeePerGas".into(), json!(q(tip)));
            }
        }
    }
    v
}

pub fn receipt(block: &Block, index: usize) -> Value {
    let tx = &block.transactions[index];
    let r = &block.receipts[index];
    let first_log_index: usize = block.receipts[..index].iter().map(|r| r.logs.len()).sum();
    let logs: Vec<Value> = r
        .logs
        .iter()
        .enumerate()
        .map(|(i, log)| self::log(&LogRef { block, tx_index: index, log_index: first_log_index + i, log }))
        .collect();
    let mut v = json!({
        "transactionHash": tx.hash,
        "transactionIndex": q(index),
        "blockHash": block.hash,
        "blockNumber": q(block.header.number),
        "from": tx.sender,
        "to": tx.to(),
        "contractAddress": r.contract_address,
        "cumulativeGasUsed": q(r.cumulative_gas_used),
        "gasUsed": q(r.gas_used),
        "effectiveGasPrice": q(r.effective_gas_price),
        "status": q(r.status as u8),
        "type": q(tx.tx_type()),
        "logs": logs,
        "logsBloom": r.logs_bloom,
    });
    // As Besu and hardhat do: a failed transaction says why (geth clients ignore the field).
    if let Some(reason) = &r.revert_reason {
        v["revertReason"] = json!(reason);
    }
    v
}

pub fn log(l: &LogRef<'_>) -> Value {
    json!({
        "address": l.log.address,
        "topics": l.log.topics(),
        "data": l.log.data.data,
        "blockHash": l.block.hash,
        "blockNumber": q(l.block.header.number),
        "transactionHash": l.block.transactions[l.tx_index].hash,
        "transactionIndex": q(l.tx_index),
        "logIndex": q(l.log_index),
        "removed": false,
    })
}

pub fn fee_history(h: &FeeHistory) -> Value {
    let mut v = json!({
        "oldestBlock": q(h.oldest_block),
        "baseFeePerGas": h.base_fee_per_gas.iter().map(|f| q(*f)).collect::<Vec<_>>(),
        "gasUsedRatio": h.gas_used_ratio,
    });
    if let Some(reward) = &h.reward {
        v["reward"] = json!(reward.iter().map(|r| r.iter().map(|t| q(*t)).collect::<Vec<_>>()).collect::<Vec<_>>());
    }
    v
}
