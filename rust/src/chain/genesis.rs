//! Genesis: chain parameters and the funded accounts, from a mnemonic or a geth-style file.
use alloy_primitives::{Address, U256};
use serde::Deserialize;

use super::ChainError;
use crate::eth::keys::DEFAULT_MNEMONIC;

/// Distinct from OpenGradient's public chains (10740, 262144) and from anvil's 31337.
pub const DEFAULT_CHAIN_ID: u64 = 10744;
pub const DEFAULT_BASE_FEE: u64 = 1_000_000_000;
pub const DEFAULT_GAS_LIMIT: u64 = 30_000_000;
pub const OPG: u128 = 1_000_000_000_000_000_000;

#[derive(Debug, Clone)]
pub struct Genesis {
    pub chain_id: u64,
    pub mnemonic: String,
    /// Number of dev accounts derived from the mnemonic (unlocked, funded).
    pub accounts: u32,
    /// Balance of each dev account, in wei.
    pub balance: U256,
    /// Extra funded accounts; these override a dev account's balance.
    pub alloc: Vec<(Address, U256)>,
    pub timestamp_ms: u64,
    pub base_fee: u64,
    pub gas_limit: u64,
    /// Simulated inference nodes.
    pub nodes: u32,
    /// Prices, stakes and bonds.
    pub economics: super::economics::Economics,
}

impl Genesis {
    pub fn new(timestamp_ms: u64) -> Self {
        Genesis {
            chain_id: DEFAULT_CHAIN_ID,
            mnemonic: DEFAULT_MNEMONIC.into(),
            accounts: 10,
            balance: U256::from(10_000 * OPG),
            alloc: Vec::new(),
            timestamp_ms,
            base_fee: DEFAULT_BASE_FEE,
            gas_limit: DEFAULT_GAS_LIMIT,
            nodes: 4,
            economics: Default::default(),
        }
    }

    /// Applies a geth-style genesis JSON (`config.chainId`, `alloc`, `timestamp`, `gasLimit`,
    /// `baseFeePerGas`; numbers as hex or decimal) on top of these defaults.
    pub fn apply_json(mut self, text: &str) -> Result<Self, ChainError> {
        #[derive(Deserialize)]
        struct File {
            #[serde(default)]
            config: Option<Config>,
            #[serde(default)]
            alloc: std::collections::BTreeMap<Address, Alloc>,
            timestamp: Option<Num>,
            #[serde(rename = "gasLimit")]
            gas_limit: Option<Num>,
            #[serde(rename = "baseFeePerGas")]
            base_fee: Option<Num>,
            /// og-devnet's own section: prices, multipliers, stakes, bonds.
            economics: Option<super::economics::Economics>,
        }
        #[derive(Deserialize)]
        struct Config {
            #[serde(rename = "chainId")]
            chain_id: Option<u64>,
        }
        #[derive(Deserialize)]
        struct Alloc {
            balance: Num,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Num {
            Int(u64),
            Text(String),
        }
        let num = |n: &Num| -> Result<U256, ChainError> {
            match n {
                Num::Int(i) => Ok(U256::from(*i)),
                Num::Text(s) => s
                    .parse::<U256>()
                    .map_err(|e| ChainError::InvalidArgument(format!("genesis: bad number {s:?}: {e}"))),
            }
        };
        let small = |n: &Num, what: &str| -> Result<u64, ChainError> {
            u64::try_from(num(n)?).map_err(|_| ChainError::InvalidArgument(format!("genesis: {what} too large")))
        };
        let file: File = serde_json::from_str(text)
            .map_err(|e| ChainError::InvalidArgument(format!("genesis file: {e}")))?;
        if let Some(id) = file.config.and_then(|c| c.chain_id) {
            self.chain_id = id;
        }
        if let Some(t) = &file.timestamp {
            self.timestamp_ms = small(t, "timestamp")? * 1000;
        }
        if let Some(g) = &file.gas_limit {
            self.gas_limit = small(g, "gasLimit")?;
        }
        if let Some(b) = &file.base_fee {
            self.base_fee = small(b, "baseFeePerGas")?;
        }
        if let Some(e) = file.economics {
            self.economics = e;
        }
        for (address, alloc) in &file.alloc {
            self.alloc.push((*address, num(&alloc.balance)?));
        }
        Ok(self)
    }

    pub fn validate(&self) -> Result<(), ChainError> {
        if self.chain_id == 0 {
            return Err(ChainError::InvalidArgument("chain id must be positive".into()));
        }
        self.economics.validate()?;
        if self.gas_limit < 21_000 {
            return Err(ChainError::InvalidArgument("block gas limit must be at least 21000".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_geth_style_file() {
        let g = Genesis::new(0)
            .apply_json(
                r#"{"config":{"chainId":777},"timestamp":"0x10","alloc":{
                "0x0000000000000000000000000000000000000001":{"balance":"0x64"},
                "0x0000000000000000000000000000000000000002":{"balance":"1000"}}}"#,
            )
            .unwrap();
        assert_eq!(g.chain_id, 777);
        assert_eq!(g.timestamp_ms, 16_000);
        assert_eq!(g.alloc.len(), 2);
        assert_eq!(g.alloc[0].1, U256::from(100));
        assert_eq!(g.alloc[1].1, U256::from(1000));
        assert!(Genesis::new(0).apply_json("{not json").is_err());
    }
}
