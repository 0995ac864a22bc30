//! Dev accounts derived from a BIP-39 mnemonic at m/44'/60'/0'/0/i, the same keys anvil and
//! hardhat print, and signing of transactions on behalf of those unlocked accounts.
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy_primitives::{Address, Signature, TxKind, B256};
use alloy_signer::SignerSync;
use alloy_signer_local::{coins_bip39::English, MnemonicBuilder, PrivateKeySigner};

use crate::chain::ChainError;

pub const DEFAULT_MNEMONIC: &str = "test test test test test test test test test test test junk";

#[derive(Clone, Default)]
pub struct DevKeys {
    signers: Vec<PrivateKeySigner>,
}

impl std::fmt::Debug for DevKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.signers.iter().map(|s| s.address())).finish()
    }
}

impl DevKeys {
    pub fn from_mnemonic(phrase: &str, count: u32) -> Result<Self, ChainError> {
        Self::derive(phrase, "m/44'/60'/0'/0/0", count)
    }

    /// Identity keys of the simulated inference nodes: the same mnemonic on another account
    /// path (m/44'/60'/1'/0/i), so they never collide with the dev accounts.
    pub fn node_keys(phrase: &str, count: u32) -> Result<Self, ChainError> {
        Self::derive(phrase, "m/44'/60'/1'/0/0", count)
    }

    /// Keys 0..count under the parent of `first_path`. The seed (PBKDF2, 2,048 rounds) and
    /// the hardened parent are derived once, not once per key (~3 ms each: start-up time).
    fn derive(phrase: &str, first_path: &str, count: u32) -> Result<Self, ChainError> {
        let err = |e: alloy_signer_local::LocalSignerError| ChainError::InvalidArgument(format!("mnemonic: {e}"));
        let parent = MnemonicBuilder::<English>::default()
            .phrase(phrase)
            .derivation_path(first_path)
            .and_then(|b| b.build_parent_key())
            .map_err(err)?;
        let signers = (0..count).map(|i| parent.child(i).map(|k| k.signer()).map_err(err)).collect::<Result<Vec<_>, _>>()?;
        Ok(DevKeys { signers })
    }

    pub fn addresses(&self) -> Vec<Address> {
        self.signers.iter().map(|s| s.address()).collect()
    }

    pub fn private_keys(&self) -> Vec<B256> {
        self.signers.iter().map(|s| s.to_bytes()).collect()
    }

    fn signer(&self, address: Address) -> Option<&PrivateKeySigner> {
        self.signers.iter().find(|s| s.address() == address)
    }

    pub fn is_unlocked(&self, address: Address) -> bool {
        self.signer(address).is_some()
    }

    /// Signs a 32-byte digest (EIP-712 signing hashes) for an unlocked account.
    pub fn sign_hash(&self, from: Address, hash: &B256) -> Result<Signature, ChainError> {
        let signer = self.signer(from).ok_or(ChainError::UnknownAccount(from))?;
        signer.sign_hash_sync(hash).map_err(|e| ChainError::InvalidSignature(e.to_string()))
    }

    /// Signs `message` as an EIP-191 personal message for an unlocked account.
    pub fn sign_message(&self, from: Address, message: &[u8]) -> Result<Signature, ChainError> {
        let signer = self.signer(from).ok_or(ChainError::UnknownAccount(from))?;
        signer.sign_message_sync(message).map_err(|e| ChainError::InvalidSignature(e.to_string()))
    }

    /// Signs a fully specified transaction for an unlocked account: EIP-1559 unless a legacy
    /// `gas_price` is given.
    pub fn sign(&self, from: Address, fields: UnsignedFields) -> Result<TxEnvelope, ChainError> {
        let signer = self.signer(from).ok_or(ChainError::UnknownAccount(from))?;
        envelope(fields, |hash| signer.sign_hash_sync(&hash).map_err(|e| ChainError::InvalidSignature(e.to_string())))
    }
}

/// The transaction `fields` describe, signed by `sign` (given the signing hash).
pub fn envelope(
    fields: UnsignedFields,
    sign: impl FnOnce(B256) -> Result<alloy_primitives::Signature, ChainError>,
) -> Result<TxEnvelope, ChainError> {
    let kind = fields.to.map(TxKind::Call).unwrap_or(TxKind::Create);
    Ok(match fields.gas_price {
        Some(gas_price) => {
            let tx = TxLegacy {
                chain_id: Some(fields.chain_id),
                nonce: fields.nonce,
                gas_price,
                gas_limit: fields.gas,
                to: kind,
                value: fields.value,
                input: fields.data,
            };
            let sig = sign(tx.signature_hash())?;
            tx.into_signed(sig).into()
        }
        None => {
            let tx = TxEip1559 {
                chain_id: fields.chain_id,
                nonce: fields.nonce,
                gas_limit: fields.gas,
                max_fee_per_gas: fields.max_fee_per_gas,
                max_priority_fee_per_gas: fields.max_priority_fee_per_gas,
                to: kind,
                value: fields.value,
                access_list: Default::default(),
                input: fields.data,
            };
            let sig = sign(tx.signature_hash())?;
            tx.into_signed(sig).into()
        }
    })
}

/// Every field of a transaction to sign, already filled in.
#[derive(Debug, Clone)]
pub struct UnsignedFields {
    pub chain_id: u64,
    pub nonce: u64,
    pub to: Option<Address>,
    pub value: alloy_primitives::U256,
    pub data: alloy_primitives::Bytes,
    pub gas: u64,
    pub gas_price: Option<u128>,
    pub max_fee_per_gas: u128,
    pub max_priority_fee_per_gas: u128,
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::address;

    #[test]
    fn derives_the_well_known_dev_accounts() {
        let keys = DevKeys::from_mnemonic(DEFAULT_MNEMONIC, 10).unwrap();
        let addrs = keys.addresses();
        assert_eq!(addrs.len(), 10);
        assert_eq!(addrs[0], address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266"));
        assert_eq!(addrs[1], address!("70997970C51812dc3A010C7d01b50e0d17dc79C8"));
        assert_eq!(addrs[9], address!("a0Ee7A142d267C1f36714E4a8F75612F20a79720"));
        assert_eq!(
            keys.private_keys()[0].to_string(),
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
        );
    }

    #[test]
    fn node_keys_are_the_accounts_of_path_1() {
        // Derived from one parent key: the same as each full path built on its own.
        let keys = DevKeys::node_keys(DEFAULT_MNEMONIC, 3).unwrap();
        for (i, got) in keys.addresses().into_iter().enumerate() {
            let alone = MnemonicBuilder::<English>::default()
                .phrase(DEFAULT_MNEMONIC)
                .derivation_path(format!("m/44'/60'/1'/0/{i}"))
                .unwrap()
                .build()
                .unwrap();
            assert_eq!(got, alone.address(), "node key {i}");
        }
        assert!(DevKeys::from_mnemonic("not a mnemonic", 1).is_err());
    }

    #[test]
    fn signs_personal_messages_recoverably() {
        let keys = DevKeys::from_mnemonic(DEFAULT_MNEMONIC, 1).unwrap();
        let a = keys.addresses()[0];
        let sig = keys.sign_message(a, b"hello").unwrap();
        assert_eq!(sig.recover_address_from_msg(b"hello").unwrap(), a);
        assert!(matches!(keys.sign_message(Address::ZERO, b"x"), Err(ChainError::UnknownAccount(_))));
    }

    #[test]
    fn rejects_a_bad_mnemonic() {
        assert!(matches!(
            DevKeys::from_mnemonic("not a real mnemonic", 1),
            Err(ChainError::InvalidArgument(_))
        ));
    }
}
