//! Blocks, headers and receipts, and the stored form a block is persisted and restored from.
use alloy_primitives::{keccak256, Address, Bloom, Bytes, Log, LogData, B256};
use alloy_rlp::Encodable;
use serde::{Deserialize, Serialize};

use super::merkle;
use super::settlement::SettlementRecord;
use super::state::{Account, EvmChanges};
use super::ChainError;
use crate::eth::{decode_raw_transaction, SignedTx};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub number: u64,
    pub parent_hash: B256,
    /// Seconds, as Ethereum tools expect; never less than the parent's.
    pub timestamp: u64,
    /// Milliseconds, for sub-second block times and the trust-gap clock.
    pub timestamp_ms: u64,
    pub coinbase: Address,
    pub gas_limit: u64,
    pub gas_used: u64,
    pub base_fee: u64,
    pub transactions_root: B256,
    pub receipts_root: B256,
    pub state_root: B256,
    pub logs_bloom: Bloom,
    /// blake3 Merkle root of the settlement records this block carries.
    #[serde(default)]
    pub settlements_root: B256,
}

impl Header {
    /// keccak256 of the RLP list of every header field, in declaration order.
    pub fn hash(&self) -> B256 {
        let mut payload = Vec::with_capacity(512);
        self.number.encode(&mut payload);
        self.parent_hash.encode(&mut payload);
        self.timestamp.encode(&mut payload);
        self.timestamp_ms.encode(&mut payload);
        self.coinbase.encode(&mut payload);
        self.gas_limit.encode(&mut payload);
        self.gas_used.encode(&mut payload);
        self.base_fee.encode(&mut payload);
        self.transactions_root.encode(&mut payload);
        self.receipts_root.encode(&mut payload);
        self.state_root.encode(&mut payload);
        self.logs_bloom.encode(&mut payload);
        self.settlements_root.encode(&mut payload);
        let mut out = Vec::with_capacity(payload.len() + 4);
        alloy_rlp::Header { list: true, payload_length: payload.len() }.encode(&mut out);
        out.extend_from_slice(&payload);
        keccak256(out)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub tx_hash: B256,
    pub status: bool,
    pub gas_used: u64,
    pub cumulative_gas_used: u64,
    pub effective_gas_price: u128,
    pub logs: Vec<Log>,
    pub logs_bloom: Bloom,
    /// The account a creation transaction made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_address: Option<Address>,
    /// Why a failed transaction failed (its revert reason, the EVM's halt, or why its
    /// inference calls could not be served), readable as is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revert_reason: Option<String>,
}

impl Receipt {
    pub fn new(tx_hash: B256, status: bool, gas_used: u64, cumulative: u64, price: u128, logs: Vec<Log>) -> Self {
        let mut logs_bloom = Bloom::default();
        for log in &logs {
            logs_bloom.accrue_log(log);
        }
        Receipt {
            tx_hash,
            status,
            gas_used,
            cumulative_gas_used: cumulative,
            effective_gas_price: price,
            logs,
            logs_bloom,
            contract_address: None,
            revert_reason: None,
        }
    }

    /// Bytes hashed into the receipts root.
    fn leaf(&self) -> Vec<u8> {
        let mut leaf = Vec::new();
        leaf.extend_from_slice(self.tx_hash.as_slice());
        leaf.push(self.status as u8);
        leaf.extend_from_slice(&self.cumulative_gas_used.to_be_bytes());
        leaf.extend_from_slice(self.logs_bloom.as_slice());
        for log in &self.logs {
            leaf.extend_from_slice(log.address.as_slice());
            for t in log.topics() {
                leaf.extend_from_slice(t.as_slice());
            }
            leaf.extend_from_slice(&keccak256(&log.data.data).0);
        }
        leaf
    }
}

/// A sealed block with its transactions, receipts and the state it left behind.
#[derive(Debug, Clone)]
pub struct Block {
    pub header: Header,
    pub hash: B256,
    pub transactions: Vec<SignedTx>,
    pub receipts: Vec<Receipt>,
    /// Every account this block changed, with its value after the block.
    pub state_changes: Vec<(Address, Account)>,
    /// The code and storage this block set.
    pub evm_changes: EvmChanges,
    /// Proofs this block checked and settled (or rejected).
    pub settlements: Vec<SettlementRecord>,
}

/// A block as the store keeps it: raw transactions instead of decoded ones.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredBlock {
    pub header: Header,
    pub hash: B256,
    pub transactions: Vec<Bytes>,
    pub receipts: Vec<Receipt>,
    pub state_changes: Vec<(Address, Account)>,
    #[serde(default, skip_serializing_if = "EvmChanges::is_empty")]
    pub evm_changes: EvmChanges,
    #[serde(default)]
    pub settlements: Vec<SettlementRecord>,
}

impl Block {
    pub fn roots(transactions: &[SignedTx], receipts: &[Receipt]) -> (B256, B256) {
        let tx_root = merkle::root(transactions.iter().map(|t| t.hash.as_slice()));
        let leaves: Vec<Vec<u8>> = receipts.iter().map(Receipt::leaf).collect();
        (tx_root, merkle::root(leaves.iter().map(|l| l.as_slice())))
    }

    /// A header with the fields the body determines (transactions and receipts roots, logs
    /// bloom) filled in and the rest zero.
    pub fn body_header(transactions: &[SignedTx], receipts: &[Receipt]) -> Header {
        let (transactions_root, receipts_root) = Block::roots(transactions, receipts);
        let mut logs_bloom = Bloom::default();
        for r in receipts {
            logs_bloom.accrue_bloom(&r.logs_bloom);
        }
        Header { transactions_root, receipts_root, logs_bloom, ..Header::default() }
    }

    pub fn to_stored(&self) -> StoredBlock {
        StoredBlock {
            header: self.header.clone(),
            hash: self.hash,
            transactions: self.transactions.iter().map(|t| t.raw()).collect(),
            receipts: self.receipts.clone(),
            state_changes: self.state_changes.clone(),
            evm_changes: self.evm_changes.clone(),
            settlements: self.settlements.clone(),
        }
    }

    /// Roughly what the decoded transactions and receipts take in memory (0 for an empty
    /// block): what the body window and the archive cache count.
    pub fn body_bytes(&self) -> usize {
        use std::mem::size_of;
        let txs: usize = self.transactions.iter().map(|t| size_of::<SignedTx>() + t.input().len()).sum();
        let receipts: usize = self
            .receipts
            .iter()
            .map(|r| {
                size_of::<Receipt>()
                    + r.logs.iter().map(|l| size_of::<Log>() + 32 * l.topics().len() + l.data.data.len()).sum::<usize>()
            })
            .sum();
        txs + receipts
    }

    pub fn settlements_root(settlements: &[SettlementRecord]) -> B256 {
        let leaves: Vec<Vec<u8>> = settlements.iter().map(SettlementRecord::leaf).collect();
        merkle::root(leaves.iter().map(|l| l.as_slice()))
    }

    /// Rebuilds a block from the store, checking that its hash and roots still match.
    pub fn from_stored(stored: StoredBlock, chain_id: u64) -> Result<Block, ChainError> {
        let transactions = stored
            .transactions
            .iter()
            .map(|raw| decode_raw_transaction(raw, chain_id))
            .collect::<Result<Vec<_>, _>>()?;
        let (tx_root, receipts_root) = Block::roots(&transactions, &stored.receipts);
        let corrupt = |what: &str| {
            ChainError::InvalidArgument(format!("stored block {} is corrupt: {what} does not match", stored.header.number))
        };
        if stored.header.hash() != stored.hash {
            return Err(corrupt("hash"));
        }
        if tx_root != stored.header.transactions_root {
            return Err(corrupt("transactions root"));
        }
        if receipts_root != stored.header.receipts_root {
            return Err(corrupt("receipts root"));
        }
        if Block::settlements_root(&stored.settlements) != stored.header.settlements_root {
            return Err(corrupt("settlements root"));
        }
        Ok(Block {
            header: stored.header,
            hash: stored.hash,
            transactions,
            receipts: stored.receipts,
            state_changes: stored.state_changes,
            evm_changes: stored.evm_changes,
            settlements: stored.settlements,
        })
    }
}

/// Builds a log the way contracts emit them (used by native contracts).
pub fn make_log(address: Address, topics: Vec<B256>, data: Bytes) -> Log {
    Log { address, data: LogData::new_unchecked(topics, data) }
}
