//! The pending block (`"pending"` in JSON-RPC): what the next block would hold if it were
//! sealed now — its number, the base fee it will have, and the pool's ready transactions
//! run in the order the miner would take them. Nothing is sealed or changed.
use super::build::{Execution, Ledger};
use super::{Block, Chain, Header};

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
        let timestamp = self.evm_timestamp(self.next_timestamp, timestamp_ms, parent.header.timestamp);
        let env = self.block_env(number, timestamp, base_fee);
        let mut ledger = Ledger::new(&*self.state, &self.blocks, number);
        let Execution { included, receipts, gas_used, .. } = self.execute_ready(&mut ledger, &env);
        // The root of the state the block would leave: a copy with its changes written in.
        let mut state = self.state.boxed_clone();
        ledger.into_changes().commit(&mut *state);
        let header = Header {
            number,
            parent_hash: parent.hash,
            timestamp,
            timestamp_ms,
            coinbase: self.coinbase,
            gas_limit: self.gas_limit,
            gas_used,
            base_fee,
            state_root: state.state_root(number),
            ..Block::body_header(&included, &receipts)
        };
        Block { hash: header.hash(), header, transactions: included, receipts, state_changes: vec![], evm_changes: Default::default(), settlements: vec![] }
    }
}
