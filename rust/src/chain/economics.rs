//! What inference costs and what backs a result: per-model base prices, per-mode multipliers,
//! node stakes and bonds. Set in genesis (`economics` in the genesis file), fixed afterwards.
use std::collections::BTreeMap;

use alloy_primitives::{keccak256, Address, U256};
use serde::{Deserialize, Serialize};

use super::genesis::OPG;
use super::ChainError;

/// Multipliers by mode, applied to a model's base price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Multipliers {
    pub vanilla: u64,
    pub zkml: u64,
    pub tee: u64,
    pub optimistic: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Economics {
    /// Price of one VANILLA inference of a model without a price of its own, in wei.
    pub base_price: U256,
    pub model_prices: BTreeMap<String, U256>,
    pub multipliers: Multipliers,
    /// Stake each inference node starts with (and the watcher, which posts challenges).
    pub node_stake: U256,
    /// Posted from the stake with each OPTIMISTIC result and with each challenge; also what
    /// a node loses when any of its proofs is caught lying.
    pub bond: U256,
    /// Share of a slashed bond paid to the challenger who caught it; the rest is burnt.
    pub challenger_reward_percent: u64,
    /// The value at risk up to which `og_quote` recommends TEE (trusting the hardware maker)
    /// rather than ZKML.
    pub tee_assurance: U256,
    /// LLM gateways (x402, paid in the OPG ERC-20 on the devnet's "Base"): the price of one
    /// prompt token and of one generated token, in the token's base units (18 decimals).
    pub llm_prompt_token_price: U256,
    pub llm_completion_token_price: U256,
    /// The most one LLM request may cost: the `upto` cap a client signs a permit for. It
    /// must stay under the Permit2 allowance SDK users set (`ensure_opg_approval`, ≥ 0.1 OPG).
    pub llm_payment_cap: U256,
}

impl Default for Economics {
    fn default() -> Self {
        Economics {
            base_price: U256::from(OPG / 1000),
            model_prices: BTreeMap::new(),
            // VANILLA < OPTIMISTIC < TEE < ZKML, with ZKML 10× TEE: proving costs far more
            // than running in an enclave.
            multipliers: Multipliers { vanilla: 1, optimistic: 2, tee: 5, zkml: 50 },
            node_stake: U256::from(1000 * OPG),
            bond: U256::from(10 * OPG),
            challenger_reward_percent: 50,
            tee_assurance: U256::from(100 * OPG),
            // 0.00001 OPG a prompt token, 0.00003 OPG a generated one (output costs more to
            // make, as with hosted models); a 64-token answer to a short prompt ≈ 0.002 OPG.
            llm_prompt_token_price: U256::from(OPG / 100_000),
            llm_completion_token_price: U256::from(3 * OPG / 100_000),
            llm_payment_cap: U256::from(OPG / 10),
        }
    }
}

impl Economics {
    pub fn multiplier(&self, mode: u8) -> u64 {
        let m = &self.multipliers;
        match mode {
            0 => m.vanilla,
            1 => m.zkml,
            2 => m.tee,
            _ => m.optimistic,
        }
    }

    pub fn base_price_of(&self, model_id: &str) -> U256 {
        self.model_prices.get(model_id).copied().unwrap_or(self.base_price)
    }

    /// The fee of one inference: charged to the sender at inclusion, paid to the winning
    /// node when the result settles, refunded if it is rejected.
    pub fn fee(&self, model_id: &str, mode: u8) -> U256 {
        self.base_price_of(model_id).saturating_mul(U256::from(self.multiplier(mode)))
    }

    pub fn reward(&self, slashed: U256) -> U256 {
        slashed * U256::from(self.challenger_reward_percent) / U256::from(100)
    }

    pub fn validate(&self) -> Result<(), ChainError> {
        let m = &self.multipliers;
        if [m.vanilla, m.zkml, m.tee, m.optimistic].contains(&0) {
            return Err(ChainError::InvalidArgument("economics: every mode multiplier must be at least 1".into()));
        }
        if self.llm_payment_cap.is_zero() {
            return Err(ChainError::InvalidArgument("economics: llmPaymentCap must be positive".into()));
        }
        if self.challenger_reward_percent > 100 {
            return Err(ChainError::InvalidArgument("economics: challengerRewardPercent must be 0..=100".into()));
        }
        Ok(())
    }
}

/// Where a node's stake is held: an account of its own, so balances, history, state roots and
/// restarts cover stakes like any other balance (`eth_getBalance(stake_address(node))`).
pub fn stake_address(node: &Address) -> Address {
    let mut seed = b"og-devnet/stake/".to_vec();
    seed.extend_from_slice(node.as_slice());
    Address::from_slice(&keccak256(seed)[12..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_ordered_and_parse_from_genesis_json() {
        let e = Economics::default();
        let fee = |mode| e.fee("m", mode);
        assert!(fee(0) < fee(3) && fee(3) < fee(2) && fee(2) < fee(1));
        assert_eq!(fee(1), fee(2) * U256::from(10));
        let custom: Economics =
            serde_json::from_str(r#"{"basePrice":"0x64","modelPrices":{"m":"0x3e8"},"multipliers":{"vanilla":1,"zkml":9,"tee":3,"optimistic":2}}"#)
                .unwrap();
        assert_eq!(custom.fee("other", 2), U256::from(300));
        assert_eq!(custom.fee("m", 1), U256::from(9000));
        assert_eq!(custom.bond, Economics::default().bond);
        // Economics saved before LLM prices existed read back with the defaults.
        assert_eq!(custom.llm_payment_cap, U256::from(OPG / 10));
        let llm: Economics = serde_json::from_str(r#"{"llmPromptTokenPrice":"0x2","llmCompletionTokenPrice":"0x3","llmPaymentCap":"0x0"}"#).unwrap();
        assert_eq!((llm.llm_prompt_token_price, llm.llm_completion_token_price), (U256::from(2), U256::from(3)));
        assert!(llm.validate().is_err());
        let zero: Economics = serde_json::from_str(r#"{"multipliers":{"vanilla":0,"zkml":1,"tee":1,"optimistic":1}}"#).unwrap();
        assert!(zero.validate().is_err());
        assert_ne!(stake_address(&Address::ZERO), Address::ZERO);
    }
}
