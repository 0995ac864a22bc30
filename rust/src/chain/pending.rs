//! The pending block (`"pending"` in JSON-RPC): what the next block would hold if it were
//! sealed now — its number, the base fee it will have, and the pool's ready transactions
//! run in the order the miner would take them. Nothing is sealed or changed.
use std::collections::BTreeMap;

use alloy_primitives::Address;

use super::build::{Execution, Ledger};
use super::state::accounts_root;
use super::{with_contracts, Account, Block, Chain, Header};

impl Chain {
    /// The pending block. While a sealed block awaits its commit, that block is the next
    /// one, so it is returned as is.
    pub fn pending_block(&self) -> Block {
        if self.tip() != self.published {
            return self.blocks.last().clone();
        }
        // No block is staged: the newest is the head.
        let parent = self.blocks.last();
        let number = parent.header.number + 1;
        let base_fee = self.base_fee();
        let timestamp_ms = self.pipe.now_ms().max(parent.header.timestamp_ms);
        // Settlement steps are left out: they move stakes and fees, not what the block holds.
        let mut ledger = Ledger { state: &*self.state, at: number, accounts: BTreeMap::new() };
        let Execution { included, receipts, gas_used, .. } = self.execute_ready(&mut ledger, base_fee as u128);
        let mut accounts: BTreeMap<Address, Account> = self.state.accounts_at(number).into_iter().collect();
        accounts.extend(std::mem::take(&mut ledger.accounts));
        let header = Header {
            number,
            parent_hash: parent.hash,
            timestamp: (timestamp_ms / 1000).max(parent.header.timestamp),
            timestamp_ms,
            coinbase: self.coinbase,
            gas_limit: self.gas_limit,
            gas_used,
            base_fee,
            state_root: with_contracts(accounts_root(accounts), &self.contracts),
            ..Block::body_header(&included, &receipts)
        };
        Block { hash: header.hash(), header, transactions: included, receipts, state_changes: vec![], settlements: vec![] }
    }
}
