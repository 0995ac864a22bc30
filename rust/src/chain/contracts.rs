//! Code and storage of accounts, as a genesis `alloc` gives them. Stored and served
//! (`eth_getCode`, `eth_getStorageAt`) but not run: the chain executes no bytecode yet, so
//! they cannot change after genesis, and transactions to such an account are refused rather
//! than treated as plain transfers.
use std::collections::BTreeMap;

use alloy_primitives::{Address, Bytes, B256};
use serde::{Deserialize, Serialize};

use super::merkle;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractState {
    #[serde(default, skip_serializing_if = "no_code")]
    pub code: Bytes,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub storage: BTreeMap<B256, B256>,
}

fn no_code(code: &Bytes) -> bool {
    code.is_empty()
}

/// Every account with code or storage, by address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contracts {
    by_address: BTreeMap<Address, ContractState>,
}

impl Contracts {
    pub fn insert(&mut self, address: Address, state: ContractState) {
        if state.code.is_empty() && state.storage.values().all(|v| v.is_zero()) {
            self.by_address.remove(&address);
        } else {
            self.by_address.insert(address, state);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_address.is_empty()
    }

    pub fn code(&self, address: &Address) -> Option<&Bytes> {
        self.by_address.get(address).map(|c| &c.code).filter(|c| !c.is_empty())
    }

    /// The value in `slot` (zero when never set).
    pub fn storage(&self, address: &Address, slot: &B256) -> B256 {
        self.by_address.get(address).and_then(|c| c.storage.get(slot)).copied().unwrap_or_default()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Address, &ContractState)> {
        self.by_address.iter()
    }

    /// blake3 Merkle root over (address ‖ keccak(code) ‖ each non-zero slot ‖ value).
    pub fn root(&self) -> B256 {
        let leaves: Vec<Vec<u8>> = self
            .by_address
            .iter()
            .map(|(address, c)| {
                let mut leaf = address.to_vec();
                leaf.extend_from_slice(alloy_primitives::keccak256(&c.code).as_slice());
                for (slot, value) in c.storage.iter().filter(|(_, v)| !v.is_zero()) {
                    leaf.extend_from_slice(slot.as_slice());
                    leaf.extend_from_slice(value.as_slice());
                }
                leaf
            })
            .collect();
        merkle::root(leaves.iter().map(|l| l.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{address, b256};

    #[test]
    fn serves_code_and_storage_and_forgets_empty_accounts() {
        let a = address!("00000000000000000000000000000000000000c0");
        let slot = b256!("0000000000000000000000000000000000000000000000000000000000000001");
        let mut c = Contracts::default();
        c.insert(a, ContractState { code: Bytes::from_static(&[0x60, 0x00]), storage: [(slot, B256::with_last_byte(7))].into() });
        assert_eq!(c.code(&a).unwrap().as_ref(), &[0x60, 0x00]);
        assert_eq!(c.storage(&a, &slot), B256::with_last_byte(7));
        assert_eq!(c.storage(&a, &B256::ZERO), B256::ZERO);
        let root = c.root();
        assert_ne!(root, B256::ZERO);
        c.insert(a, ContractState::default());
        assert!(c.is_empty() && c.code(&a).is_none());
    }
}
