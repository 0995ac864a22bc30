//! The node signing for its unlocked dev accounts: transactions (`eth_sendTransaction`,
//! `eth_signTransaction`), personal messages (`eth_sign`, EIP-191) and typed data
//! (`eth_signTypedData_v4`, EIP-712).
use alloy_dyn_abi::TypedData;
use alloy_primitives::{Address, Signature};

use super::{BlockTag, Chain, ChainError, SUGGESTED_TIP};
use crate::eth::keys::UnsignedFields;
use crate::eth::{SignedTx, TxRequest};

impl Chain {
    /// Fills in what `req` leaves out as `eth_sendTransaction` does (nonce from the pool,
    /// gas from an estimate, fees from the next base fee, the chain id) and signs it.
    pub fn sign_transaction(&self, req: &TxRequest) -> Result<SignedTx, ChainError> {
        let from = req.from.ok_or_else(|| ChainError::InvalidArgument("'from' is required".into()))?;
        let impersonated = self.impersonated.contains(&from) && !self.keys.is_unlocked(from);
        if !self.keys.is_unlocked(from) && !impersonated {
            return Err(ChainError::UnknownAccount(from));
        }
        let gas = match req.gas {
            Some(g) => g,
            None => self.estimate_gas(req)?,
        };
        // As geth: without an explicit tip, suggest one but never above the given max fee.
        let tip = req
            .max_priority_fee_per_gas
            .unwrap_or_else(|| req.max_fee_per_gas.map_or(SUGGESTED_TIP, |m| m.min(SUGGESTED_TIP)));
        let fields = UnsignedFields {
            chain_id: self.chain_id,
            nonce: match req.nonce {
                Some(n) => n,
                None => self.nonce(&from, BlockTag::Pending)?,
            },
            to: req.to,
            value: req.value.unwrap_or_default(),
            data: req.data.clone().unwrap_or_default(),
            gas,
            gas_price: req.gas_price,
            // Room for the base fee to double before the transaction stops fitting.
            max_fee_per_gas: req.max_fee_per_gas.unwrap_or(2 * self.base_fee() as u128 + tip),
            max_priority_fee_per_gas: tip,
        };
        if impersonated {
            let envelope = crate::eth::keys::envelope(fields, |_| Ok(crate::eth::tx::impersonation_signature(from)))?;
            return SignedTx::from_envelope(envelope);
        }
        SignedTx::from_envelope(self.keys.sign(from, fields)?)
    }

    /// `anvil_impersonateAccount` (on) / `anvil_stopImpersonatingAccount` (off): the node
    /// sends transactions as `address` without its key (eth_sendTransaction only).
    pub fn impersonate(&mut self, address: Address, on: bool) {
        if on {
            self.impersonated.insert(address);
        } else {
            self.impersonated.remove(&address);
        }
    }

    /// `eth_sign`: an EIP-191 personal-message signature ("\x19Ethereum Signed Message:\n"
    /// ‖ length ‖ message).
    pub fn sign_message(&self, from: Address, message: &[u8]) -> Result<Signature, ChainError> {
        self.keys.sign_message(from, message)
    }

    /// `eth_signTypedData_v4`: an EIP-712 signature over typed data given as JSON.
    pub fn sign_typed_data(&self, from: Address, typed_json: &str) -> Result<Signature, ChainError> {
        let typed: TypedData =
            serde_json::from_str(typed_json).map_err(|e| ChainError::InvalidArgument(format!("typed data: {e}")))?;
        let hash = typed.eip712_signing_hash().map_err(|e| ChainError::InvalidArgument(format!("typed data: {e}")))?;
        self.keys.sign_hash(from, &hash)
    }
}
