//! Which block bodies stay in memory. Every block keeps its header, hash and fee summary:
//! they grow with time, not with traffic. Only the last `window` published blocks (and a
//! staged one) keep their transactions and receipts, no more of them than [`WINDOW_BYTES`]
//! hold; older bodies live in the store. A read that needs one fails with
//! [`ChainError::BodyArchived`] naming every block it needs; the caller loads those records
//! from the store, hands them to [`Chain::load_bodies`] (a small cache) and asks again. The
//! chain never calls out to fetch them itself: it runs under a lock that threads holding the
//! GIL wait for.
use alloy_primitives::{Address, B256};
use serde::Deserialize;

use super::body_cache::BodyCache;
use super::fees::{tip_runs, TipRuns};
use super::{Account, Block, Chain, ChainError, Header, StoredBlock};

/// Published blocks whose bodies stay in memory by default: at the default 0.5 s block time a
/// minute of blocks, which covers what clients poll (receipts of transactions just sent, the
/// explorer's first pages, log filters over recent blocks) without a store read.
pub const DEFAULT_BODY_WINDOW: u64 = 128;

/// The most the window's bodies may hold, whatever its length: under heavy traffic blocks are
/// big (~70 inferences, ~200 KB each in the growth benchmark), and 128 of them would hold
/// ~25 MB. 4 MiB is ~1,500 inferences or ~8,000 transfers: still the recent blocks clients
/// poll. The head's body always stays.
pub const WINDOW_BYTES: usize = 4 << 20;

/// Archived blocks one read may need. More (an `eth_getLogs` over a long range whose bloom
/// filters match many blocks) is refused with a message to narrow the range, as hosted nodes
/// refuse long log ranges; each one is decoded in memory for the retried read.
pub const MAX_ARCHIVED_PER_READ: usize = 2_000;

/// One block in memory.
struct Entry {
    /// The header and hash always; transactions and receipts only while `archived` is false.
    /// State changes and settlement records are dropped with the body: only the stored record
    /// needs them.
    block: Block,
    archived: bool,
    /// For `eth_feeHistory`; None for a block restored without its body, until it is loaded.
    tips: Option<TipRuns>,
}

/// Every block of the chain, bodies of recent ones, and archived bodies loaded for reads.
pub(super) struct Blocks {
    entries: Vec<Entry>,
    window: u64,
    /// Entries below this one have been through [`Blocks::archive`].
    archived_below: u64,
    /// What the bodies from `archived_below` on hold ([`Block::body_bytes`]).
    window_bytes: usize,
    cache: BodyCache,
}

impl Blocks {
    pub fn new(genesis: Block, window: u64) -> Blocks {
        let mut blocks = Blocks::empty(window);
        blocks.push(genesis);
        blocks
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn window(&self) -> u64 {
        self.window
    }

    pub fn header(&self, number: u64) -> &Header {
        &self.entries[number as usize].block.header
    }

    pub fn hash(&self, number: u64) -> B256 {
        self.entries[number as usize].block.hash
    }

    /// The newest block (staged or head), whose body is always in memory.
    pub fn last(&self) -> &Block {
        &self.entries.last().expect("genesis exists").block
    }

    /// The number of the block with `hash`, among blocks up to `upto`.
    pub fn number_of(&self, hash: &B256, upto: u64) -> Option<u64> {
        // Block hashes are few and requests for them rare: a scan from the top is enough.
        self.entries[..=upto as usize].iter().rev().find(|e| e.block.hash == *hash).map(|e| e.block.header.number)
    }

    pub fn push(&mut self, block: Block) {
        let tips = Some(tip_runs(&block));
        self.window_bytes += block.body_bytes();
        self.entries.push(Entry { block, archived: false, tips });
    }

    pub fn pop(&mut self) -> Block {
        let entry = self.entries.pop().expect("a block to pop");
        self.after_truncation();
        entry.block
    }

    /// Drops every block after `head` (`evm_revert`); archived ones are dropped as well.
    pub fn truncate_after(&mut self, head: u64) {
        self.entries.truncate(head as usize + 1);
        self.after_truncation();
    }

    fn after_truncation(&mut self) {
        let len = self.entries.len() as u64;
        self.archived_below = self.archived_below.min(len);
        self.window_bytes = self.entries[self.archived_below as usize..].iter().map(|e| e.block.body_bytes()).sum();
        self.cache.truncate_after(len - 1);
    }

    /// The body of block `number` if it is in memory (recent, empty, or loaded).
    pub fn body(&self, number: u64) -> Option<&Block> {
        let entry = &self.entries[number as usize];
        if entry.archived {
            self.cache.get(number)
        } else {
            Some(&entry.block)
        }
    }

    /// The bodies of `numbers`, or the error naming every one not in memory.
    pub fn bodies(&self, numbers: impl IntoIterator<Item = u64>) -> Result<Vec<&Block>, ChainError> {
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for number in numbers {
            match self.body(number) {
                Some(block) => found.push(block),
                None => missing.push(number),
            }
        }
        if missing.len() > MAX_ARCHIVED_PER_READ {
            return Err(ChainError::InvalidArgument(format!(
                "query range too large: it needs {} archived blocks, at most {MAX_ARCHIVED_PER_READ} per request; \
                 narrow the block range or the filter",
                missing.len()
            )));
        }
        if !missing.is_empty() {
            return Err(ChainError::BodyArchived { blocks: missing });
        }
        Ok(found)
    }

    pub fn tips(&self, number: u64) -> Option<&[(u128, u64)]> {
        self.entries[number as usize].tips.as_deref()
    }

    pub fn set_window(&mut self, window: u64, published: u64) {
        self.window = window.max(1);
        self.archive(published);
    }

    /// Moves the bodies of blocks that left the window (`published` is the newest published
    /// block) out of memory: the oldest first, until the window is no longer than `window`
    /// blocks nor holds more than [`WINDOW_BYTES`]. Blocks without transactions keep their
    /// (empty) body: it costs nothing and spares a store read.
    pub fn archive(&mut self, published: u64) {
        while self.archived_below + self.window <= published
            || (self.window_bytes > WINDOW_BYTES && self.archived_below < published)
        {
            let entry = &mut self.entries[self.archived_below as usize];
            let block = &mut entry.block;
            self.window_bytes -= block.body_bytes();
            block.state_changes = Vec::new();
            block.evm_changes = Default::default();
            block.settlements = Vec::new();
            if !block.transactions.is_empty() {
                block.transactions = Vec::new();
                block.receipts = Vec::new();
                entry.archived = true;
            }
            self.archived_below += 1;
        }
    }

    /// Takes loaded bodies into the cache. A body that is not the archived block of that
    /// number (a revert replaced it since the read asked) is left out: the retried read
    /// reports it again.
    pub fn load(&mut self, bodies: Vec<Block>) -> usize {
        let mut kept = Vec::new();
        for mut block in bodies {
            let number = block.header.number;
            let Some(entry) = self.entries.get_mut(number as usize) else { continue };
            if !entry.archived || entry.block.hash != block.hash {
                continue;
            }
            if entry.tips.is_none() {
                entry.tips = Some(tip_runs(&block));
            }
            block.state_changes = Vec::new();
            block.evm_changes = Default::default();
            block.settlements = Vec::new();
            kept.push(block);
        }
        let count = kept.len();
        self.cache.insert(kept);
        count
    }

    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    /// Appends a block read back from the store (restore), in order.
    pub fn push_restored(&mut self, restored: RestoredBlock) -> Result<Vec<B256>, ChainError> {
        Ok(match restored {
            RestoredBlock::Full(block) => {
                let hashes = block.transactions.iter().map(|t| t.hash).collect();
                self.push(block);
                hashes
            }
            RestoredBlock::Archived(record) => {
                if record.header.hash() != record.hash {
                    return Err(ChainError::InvalidArgument(format!(
                        "stored block {} is corrupt: hash does not match",
                        record.header.number
                    )));
                }
                let hashes: Vec<B256> = record.receipts.iter().map(|r| r.tx_hash).collect();
                let archived = !hashes.is_empty();
                let block = Block {
                    header: record.header,
                    hash: record.hash,
                    transactions: vec![],
                    receipts: vec![],
                    state_changes: vec![],
                    evm_changes: Default::default(),
                    settlements: vec![],
                };
                // An empty block's body is known without reading it.
                let tips = (!archived).then(TipRuns::new);
                self.entries.push(Entry { block, archived, tips });
                hashes
            }
        })
    }

    /// Replaces every entry (restore), then archives what is older than the window.
    pub fn replace(&mut self, other: Blocks, published: u64) {
        let window = self.window;
        *self = other;
        self.window = window;
        self.archive(published);
    }

    /// An empty container to restore into.
    pub fn empty(window: u64) -> Blocks {
        Blocks { entries: Vec::new(), window, archived_below: 0, window_bytes: 0, cache: BodyCache::default() }
    }
}

/// A stored block as a restart reads it: decoded in full (the last window's), or only what
/// every block keeps in memory, skipping the transactions, logs and settlement records (no
/// signature is recovered, nothing of them allocated).
pub enum RestoredBlock {
    Full(Block),
    Archived(ArchivedRecord),
}

#[derive(Deserialize)]
pub struct ArchivedRecord {
    header: Header,
    hash: B256,
    state_changes: Vec<(Address, Account)>,
    #[serde(default)]
    evm_changes: super::state::EvmChanges,
    /// Only each receipt's transaction hash, for the transaction index.
    #[serde(default)]
    receipts: Vec<ReceiptHash>,
}

#[derive(Deserialize)]
struct ReceiptHash {
    tx_hash: B256,
}

impl RestoredBlock {
    /// Parses a stored record (`StoredBlock` JSON) without its body.
    pub fn parse_archived(json: &str) -> Result<RestoredBlock, ChainError> {
        Ok(RestoredBlock::Archived(serde_json::from_str(json).map_err(bad_record)?))
    }

    /// Parses and decodes a stored record in full (recovering every sender).
    pub fn parse_full(json: &str, chain_id: u64) -> Result<RestoredBlock, ChainError> {
        let stored: StoredBlock = serde_json::from_str(json).map_err(bad_record)?;
        Ok(RestoredBlock::Full(Block::from_stored(stored, chain_id)?))
    }

    /// Parses the last records of a chain (oldest first; at most the window's length) for a
    /// restart: newest first, in full until their bodies pass [`WINDOW_BYTES`], the older
    /// ones without their bodies, so no more is decoded than the window keeps.
    pub fn parse_recent(records: &[String], chain_id: u64) -> Result<Vec<RestoredBlock>, ChainError> {
        let mut bytes = 0;
        let mut out = records
            .iter()
            .rev()
            .map(|json| {
                if bytes > WINDOW_BYTES {
                    return RestoredBlock::parse_archived(json);
                }
                let restored = RestoredBlock::parse_full(json, chain_id)?;
                if let RestoredBlock::Full(block) = &restored {
                    bytes += block.body_bytes();
                }
                Ok(restored)
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.reverse();
        Ok(out)
    }

    pub fn header(&self) -> &Header {
        match self {
            RestoredBlock::Full(b) => &b.header,
            RestoredBlock::Archived(r) => &r.header,
        }
    }

    pub fn state_changes(&self) -> &[(Address, Account)] {
        match self {
            RestoredBlock::Full(b) => &b.state_changes,
            RestoredBlock::Archived(r) => &r.state_changes,
        }
    }

    pub fn evm_changes(&self) -> &super::state::EvmChanges {
        match self {
            RestoredBlock::Full(b) => &b.evm_changes,
            RestoredBlock::Archived(r) => &r.evm_changes,
        }
    }
}

fn bad_record(e: serde_json::Error) -> ChainError {
    ChainError::InvalidArgument(format!("stored block: {e}"))
}

impl Chain {
    /// How many recent published blocks keep their bodies in memory (at least 1).
    pub fn body_window(&self) -> u64 {
        self.blocks.window()
    }

    /// Sets the window; bodies older than it leave memory now.
    pub fn set_body_window(&mut self, window: u64) {
        self.blocks.set_window(window, self.published);
    }

    /// Takes archived bodies loaded from the store (decoded with `Block::from_stored`, outside
    /// the chain's lock: that recovers every sender) so the read that asked for them can be
    /// retried. Returns how many were taken; the others no longer match this chain's blocks.
    pub fn load_bodies(&mut self, bodies: Vec<Block>) -> usize {
        self.blocks.load(bodies)
    }

    /// Archived bodies held in the cache (for tests and diagnostics).
    pub fn cached_bodies(&self) -> usize {
        self.blocks.cached()
    }

    /// The body of published block `number`, or the error naming it if it is archived.
    pub(super) fn body(&self, number: u64) -> Result<&Block, ChainError> {
        self.blocks.body(number).ok_or(ChainError::BodyArchived { blocks: vec![number] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eth::keys::{DevKeys, UnsignedFields};
    use crate::eth::SignedTx;

    fn block(number: u64, tx: &SignedTx) -> Block {
        let (transactions, receipts) = (vec![tx.clone()], vec![super::super::Receipt::new(tx.hash, true, 21_000, 21_000, 1, vec![])]);
        let header = Header { number, ..Block::body_header(&transactions, &receipts) };
        Block { hash: header.hash(), header, transactions, receipts, state_changes: vec![], evm_changes: Default::default(), settlements: vec![] }
    }

    /// A transaction carrying `data_bytes` of input.
    fn tx(data_bytes: usize) -> SignedTx {
        let keys = DevKeys::from_mnemonic(&super::super::Genesis::new(0).mnemonic, 1).unwrap();
        let fields = UnsignedFields {
            chain_id: 1,
            nonce: 0,
            to: None,
            value: Default::default(),
            data: vec![7; data_bytes].into(),
            gas: 21_000,
            gas_price: None,
            max_fee_per_gas: 2,
            max_priority_fee_per_gas: 1,
        };
        SignedTx::from_envelope(keys.sign(keys.addresses()[0], fields).unwrap()).unwrap()
    }

    #[test]
    fn the_window_holds_no_more_than_its_bytes_but_always_the_head() {
        let mib = tx(1 << 20);
        let mut blocks = Blocks::new(block(0, &mib), 1_000);
        for n in 1..=5 {
            blocks.push(block(n, &mib));
            blocks.archive(n);
        }
        // Four bodies of just over 1 MiB each would pass 4 MiB: three stay.
        let kept: Vec<u64> = (0..=5).filter(|n| blocks.body(*n).is_some()).collect();
        assert_eq!(kept, vec![3, 4, 5]);
        blocks.push(block(6, &tx(5 << 20)));
        blocks.archive(6);
        assert!(blocks.body(6).is_some() && blocks.body(5).is_none(), "the head stays, however big");
        blocks.truncate_after(4);
        assert_eq!(blocks.window_bytes, 0, "what is left is archived");
    }

    #[test]
    fn a_restart_decodes_no_more_than_the_window_keeps() {
        let mib = tx(1 << 20);
        let records: Vec<String> = (0..6).map(|n| serde_json::to_string(&block(n, &mib).to_stored()).unwrap()).collect();
        let restored = RestoredBlock::parse_recent(&records, 1).unwrap();
        let full: Vec<bool> = restored.iter().map(|r| matches!(r, RestoredBlock::Full(_))).collect();
        // Newest first until past 4 MiB: the window keeps three; the fourth is the one
        // decoded past the budget.
        assert_eq!(full, vec![false, false, true, true, true, true]);
    }

    #[test]
    fn a_read_needing_too_many_archived_blocks_is_refused_not_loaded() {
        let tx = tx(0);
        let last = MAX_ARCHIVED_PER_READ as u64 + 2;
        let mut blocks = Blocks::new(block(0, &tx), 1);
        for n in 1..=last {
            blocks.push(block(n, &tx));
            blocks.archive(n);
        }
        assert!(blocks.body(last).is_some() && blocks.body(last - 1).is_none());
        let all = MAX_ARCHIVED_PER_READ as u64;
        assert!(matches!(blocks.bodies(0..all), Err(ChainError::BodyArchived { blocks }) if blocks.len() == all as usize));
        assert!(matches!(blocks.bodies(0..=all), Err(ChainError::InvalidArgument(m)) if m.starts_with("query range too large")));
    }
}
