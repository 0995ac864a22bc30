//! Account state (balances, nonces) behind a trait, so an EVM-backed state can replace it.
use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, U256};
use serde::{Deserialize, Serialize};

use super::merkle;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub balance: U256,
    pub nonce: u64,
}

/// State that remembers each account's value per block, so `eth_getBalance(addr, n)` answers
/// for past blocks and `evm_revert` can drop everything after a height.
pub trait StateDb: Send + Sync {
    /// The account as of the end of block `at` (default account if never touched).
    fn account_at(&self, address: &Address, at: u64) -> Account;
    /// Sets the account's value from block `at` on, replacing a value set at that same block.
    fn set_account(&mut self, address: Address, at: u64, account: Account);
    /// Every account's value as of the end of block `at`, sorted by address.
    fn accounts_at(&self, at: u64) -> Vec<(Address, Account)>;
    /// Forgets every value set after block `at`.
    fn truncate_after(&mut self, at: u64);
    /// Every account whose value was set exactly at block `at`, sorted by address.
    fn changes_at(&self, at: u64) -> Vec<(Address, Account)>;
    fn boxed_clone(&self) -> Box<dyn StateDb>;

    /// blake3 Merkle root over (address ‖ balance ‖ nonce) of every account at `at`.
    fn state_root(&self, at: u64) -> B256 {
        accounts_root(self.accounts_at(at))
    }
}

/// blake3 Merkle root over (address ‖ balance ‖ nonce) of `accounts`, sorted by address,
/// empty accounts left out.
pub fn accounts_root(accounts: impl IntoIterator<Item = (Address, Account)>) -> B256 {
    let leaves: Vec<Vec<u8>> = accounts
        .into_iter()
        .filter(|(_, acc)| *acc != Account::default())
        .map(|(a, acc)| {
            let mut leaf = Vec::with_capacity(20 + 32 + 8);
            leaf.extend_from_slice(a.as_slice());
            leaf.extend_from_slice(&acc.balance.to_be_bytes::<32>());
            leaf.extend_from_slice(&acc.nonce.to_be_bytes());
            leaf
        })
        .collect();
    merkle::root(leaves.iter().map(|l| l.as_slice()))
}

/// In-memory state: per account, the list of (block, value) changes in block order.
#[derive(Debug, Clone, Default)]
pub struct MemoryState {
    history: BTreeMap<Address, Vec<(u64, Account)>>,
}

impl StateDb for MemoryState {
    fn account_at(&self, address: &Address, at: u64) -> Account {
        let Some(changes) = self.history.get(address) else { return Account::default() };
        // Last change at or before `at`.
        let idx = changes.partition_point(|(n, _)| *n <= at);
        if idx == 0 { Account::default() } else { changes[idx - 1].1 }
    }

    fn set_account(&mut self, address: Address, at: u64, account: Account) {
        let changes = self.history.entry(address).or_default();
        match changes.last_mut() {
            Some((n, value)) if *n == at => *value = account,
            _ => {
                debug_assert!(changes.last().is_none_or(|(n, _)| *n < at));
                changes.push((at, account))
            }
        }
    }

    fn accounts_at(&self, at: u64) -> Vec<(Address, Account)> {
        self.history
            .keys()
            .map(|a| (*a, self.account_at(a, at)))
            .filter(|(_, acc)| *acc != Account::default())
            .collect()
    }

    fn truncate_after(&mut self, at: u64) {
        for changes in self.history.values_mut() {
            let keep = changes.partition_point(|(n, _)| *n <= at);
            changes.truncate(keep);
        }
        self.history.retain(|_, c| !c.is_empty());
    }

    fn changes_at(&self, at: u64) -> Vec<(Address, Account)> {
        self.history
            .iter()
            .filter_map(|(a, changes)| match changes.last() {
                Some((n, acc)) if *n == at => Some((*a, *acc)),
                _ => None,
            })
            .collect()
    }

    fn boxed_clone(&self) -> Box<dyn StateDb> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::address;

    #[test]
    fn answers_for_past_blocks_and_truncates() {
        let a = address!("0000000000000000000000000000000000000001");
        let mut s = MemoryState::default();
        s.set_account(a, 0, Account { balance: U256::from(10), nonce: 0 });
        s.set_account(a, 3, Account { balance: U256::from(7), nonce: 1 });
        assert_eq!(s.account_at(&a, 2).balance, U256::from(10));
        assert_eq!(s.account_at(&a, 5).nonce, 1);
        let root3 = s.state_root(3);
        assert_ne!(root3, s.state_root(2));
        s.truncate_after(2);
        assert_eq!(s.account_at(&a, 5).balance, U256::from(10));
        assert_eq!(s.accounts_at(9).len(), 1);
    }
}
