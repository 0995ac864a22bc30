//! Account state behind a trait, with per-block history: balances and nonces, and the EVM's
//! code and storage.
use std::collections::BTreeMap;

use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
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

    /// The code at `address` as of block `at`, with its keccak hash (None: no code).
    fn code_at(&self, address: &Address, at: u64) -> Option<(B256, Bytes)>;
    /// Sets the code from block `at` on (empty code removes it).
    fn set_code(&mut self, address: Address, at: u64, code: Bytes);
    /// Storage slot `slot` of `address` as of block `at` (zero if never set).
    fn storage_at(&self, address: &Address, slot: U256, at: u64) -> U256;
    fn set_storage(&mut self, address: Address, at: u64, slot: U256, value: U256);
    /// The code and storage set exactly at block `at`.
    fn evm_changes_at(&self, at: u64) -> EvmChanges;

    /// blake3 Merkle root of every account at `at`: (address ‖ balance ‖ nonce), followed for
    /// accounts with code or storage by keccak(code) and the root of their non-zero slots.
    fn state_root(&self, at: u64) -> B256;
}

/// Code and storage a block set (the EVM's half of a block's state changes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvmChanges {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub storage: Vec<(Address, U256, U256)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub code: Vec<(Address, Bytes)>,
}

impl EvmChanges {
    pub fn is_empty(&self) -> bool {
        self.storage.is_empty() && self.code.is_empty()
    }

    /// Writes these changes into `state` at block `at`.
    pub fn apply(&self, state: &mut dyn StateDb, at: u64) {
        for (address, code) in &self.code {
            state.set_code(*address, at, code.clone());
        }
        for (address, slot, value) in &self.storage {
            state.set_storage(*address, at, *slot, *value);
        }
    }
}

/// blake3 Merkle root over (address ‖ balance ‖ nonce) of `accounts`, sorted by address,
/// empty accounts left out.
pub fn accounts_root(accounts: impl IntoIterator<Item = (Address, Account)>) -> B256 {
    let leaves: Vec<Vec<u8>> = accounts
        .into_iter()
        .filter(|(_, acc)| *acc != Account::default())
        .map(|(a, acc)| account_leaf(&a, &acc))
        .collect();
    merkle::root(leaves.iter().map(|l| l.as_slice()))
}

fn account_leaf(a: &Address, acc: &Account) -> Vec<u8> {
    let mut leaf = Vec::with_capacity(20 + 32 + 8 + 64);
    leaf.extend_from_slice(a.as_slice());
    leaf.extend_from_slice(&acc.balance.to_be_bytes::<32>());
    leaf.extend_from_slice(&acc.nonce.to_be_bytes());
    leaf
}

/// A value's history: (block, value) changes in block order.
type History<T> = Vec<(u64, T)>;

fn value_at<T: Clone>(changes: &History<T>, at: u64) -> Option<T> {
    let idx = changes.partition_point(|(n, _)| *n <= at);
    (idx > 0).then(|| changes[idx - 1].1.clone())
}

fn set_value<T>(changes: &mut History<T>, at: u64, value: T) {
    match changes.last_mut() {
        Some((n, v)) if *n == at => *v = value,
        _ => {
            debug_assert!(changes.last().is_none_or(|(n, _)| *n < at));
            changes.push((at, value))
        }
    }
}

fn truncate<T>(changes: &mut History<T>, at: u64) {
    let keep = changes.partition_point(|(n, _)| *n <= at);
    changes.truncate(keep);
}

/// In-memory state: per account, the list of (block, value) changes in block order.
#[derive(Debug, Clone, Default)]
pub struct MemoryState {
    history: BTreeMap<Address, History<Account>>,
    /// Code by account: (keccak, code); empty code once removed.
    code: BTreeMap<Address, History<(B256, Bytes)>>,
    storage: BTreeMap<Address, BTreeMap<U256, History<U256>>>,
}

impl StateDb for MemoryState {
    fn account_at(&self, address: &Address, at: u64) -> Account {
        self.history.get(address).and_then(|h| value_at(h, at)).unwrap_or_default()
    }

    fn set_account(&mut self, address: Address, at: u64, account: Account) {
        set_value(self.history.entry(address).or_default(), at, account);
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
            truncate(changes, at);
        }
        self.history.retain(|_, c| !c.is_empty());
        for changes in self.code.values_mut() {
            truncate(changes, at);
        }
        self.code.retain(|_, c| !c.is_empty());
        for slots in self.storage.values_mut() {
            for changes in slots.values_mut() {
                truncate(changes, at);
            }
            slots.retain(|_, c| !c.is_empty());
        }
        self.storage.retain(|_, s| !s.is_empty());
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

    fn code_at(&self, address: &Address, at: u64) -> Option<(B256, Bytes)> {
        value_at(self.code.get(address)?, at).filter(|(_, c)| !c.is_empty())
    }

    fn set_code(&mut self, address: Address, at: u64, code: Bytes) {
        let hash = if code.is_empty() { B256::ZERO } else { keccak256(&code) };
        set_value(self.code.entry(address).or_default(), at, (hash, code));
    }

    fn storage_at(&self, address: &Address, slot: U256, at: u64) -> U256 {
        self.storage.get(address).and_then(|s| s.get(&slot)).and_then(|h| value_at(h, at)).unwrap_or_default()
    }

    fn set_storage(&mut self, address: Address, at: u64, slot: U256, value: U256) {
        set_value(self.storage.entry(address).or_default().entry(slot).or_default(), at, value);
    }

    fn evm_changes_at(&self, at: u64) -> EvmChanges {
        let mut changes = EvmChanges::default();
        for (address, history) in &self.code {
            if let Some((n, (_, code))) = history.last() {
                if *n == at {
                    changes.code.push((*address, code.clone()));
                }
            }
        }
        for (address, slots) in &self.storage {
            for (slot, history) in slots {
                if let Some((n, value)) = history.last() {
                    if *n == at {
                        changes.storage.push((*address, *slot, *value));
                    }
                }
            }
        }
        changes
    }

    fn state_root(&self, at: u64) -> B256 {
        let leaves: Vec<Vec<u8>> = self
            .history
            .keys()
            .chain(self.code.keys())
            .chain(self.storage.keys())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .filter_map(|a| {
                let acc = self.account_at(a, at);
                let code = self.code_at(a, at);
                let slots: Vec<[u8; 64]> = self
                    .storage
                    .get(a)
                    .into_iter()
                    .flatten()
                    .filter_map(|(slot, h)| {
                        let v = value_at(h, at).unwrap_or_default();
                        (!v.is_zero()).then(|| {
                            let mut leaf = [0u8; 64];
                            leaf[..32].copy_from_slice(&slot.to_be_bytes::<32>());
                            leaf[32..].copy_from_slice(&v.to_be_bytes::<32>());
                            leaf
                        })
                    })
                    .collect();
                if acc == Account::default() && code.is_none() && slots.is_empty() {
                    return None;
                }
                let mut leaf = account_leaf(a, &acc);
                if code.is_some() || !slots.is_empty() {
                    leaf.extend_from_slice(code.map(|(h, _)| h).unwrap_or_default().as_slice());
                    leaf.extend_from_slice(merkle::root(slots.iter().map(|l| l.as_slice())).as_slice());
                }
                Some(leaf)
            })
            .collect();
        merkle::root(leaves.iter().map(|l| l.as_slice()))
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

    #[test]
    fn code_and_storage_have_history_and_count_in_the_root() {
        let a = address!("0000000000000000000000000000000000000002");
        let mut s = MemoryState::default();
        s.set_account(a, 0, Account { balance: U256::from(1), nonce: 1 });
        let bare = s.state_root(1);
        s.set_code(a, 1, Bytes::from_static(&[0x60, 0x00]));
        s.set_storage(a, 2, U256::from(7), U256::from(9));
        assert!(s.code_at(&a, 0).is_none());
        assert_eq!(s.code_at(&a, 1).unwrap().0, keccak256([0x60, 0x00]));
        assert_eq!(s.storage_at(&a, U256::from(7), 1), U256::ZERO);
        assert_eq!(s.storage_at(&a, U256::from(7), 2), U256::from(9));
        assert_ne!(s.state_root(1), bare);
        assert_ne!(s.state_root(2), s.state_root(1));
        assert_eq!(s.evm_changes_at(2).storage, vec![(a, U256::from(7), U256::from(9))]);
        s.truncate_after(1);
        assert_eq!(s.storage_at(&a, U256::from(7), 5), U256::ZERO);
        assert!(s.code_at(&a, 5).is_some());
        s.truncate_after(0);
        assert!(s.code_at(&a, 5).is_none());
        assert_eq!(s.state_root(1), bare);
    }
}
