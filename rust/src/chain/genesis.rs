//! Genesis: chain parameters and the funded accounts, from a mnemonic or a geth-style file.
use std::collections::BTreeMap;

use alloy_primitives::{Address, Bytes, B256, U256};
use serde::Deserialize;

use super::contracts::{ContractState, Contracts};
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
    /// Accounts from a genesis file's `alloc`; these override a dev account's balance.
    pub alloc: Vec<(Address, AllocAccount)>,
    pub timestamp_ms: u64,
    pub base_fee: u64,
    pub gas_limit: u64,
    /// Simulated inference nodes.
    pub nodes: u32,
    /// Prices, stakes and bonds.
    pub economics: super::economics::Economics,
    /// EIP-1559: the base fee follows gas use (false keeps `base_fee` for every block).
    pub base_fee_change: bool,
}

/// One account of a geth-style `alloc`: every field geth knows but `secretKey`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllocAccount {
    pub balance: U256,
    pub nonce: u64,
    pub contract: ContractState,
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
            base_fee_change: true,
        }
    }

    /// The code and storage of the `alloc` accounts that have any.
    pub fn contracts(&self) -> Contracts {
        let mut contracts = Contracts::default();
        for (address, account) in &self.alloc {
            contracts.insert(*address, account.contract.clone());
        }
        contracts
    }

    /// `contracts` as an `alloc` object (code and storage only), which `apply_json` reads
    /// back: how a restarted chain gets them again.
    pub fn contracts_alloc_json(contracts: &Contracts) -> serde_json::Value {
        serde_json::Value::Object(
            contracts.iter().map(|(a, c)| (a.to_string(), serde_json::to_value(c).expect("serialisable"))).collect(),
        )
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
        /// Unknown fields are refused: a field the devnet would drop must not pass silently.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Alloc {
            balance: Option<Num>,
            nonce: Option<Num>,
            code: Option<String>,
            #[serde(default)]
            storage: BTreeMap<String, String>,
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
            let bad = |what: &str, value: &str| ChainError::InvalidArgument(format!("genesis: alloc {address}: bad {what} {value:?}"));
            // Storage keys and values are 32-byte words; shorter hex is left-padded.
            let word = |what: &str, s: &str| -> Result<B256, ChainError> {
                match s.strip_prefix("0x") {
                    Some(h) if h.len() <= 64 => U256::from_str_radix(if h.is_empty() { "0" } else { h }, 16)
                        .map(B256::from)
                        .map_err(|_| bad(what, s)),
                    _ => Err(bad(&format!("{what} (0x-prefixed hex of at most 32 bytes)"), s)),
                }
            };
            let code = match &alloc.code {
                Some(c) => c.parse::<Bytes>().map_err(|_| bad("code (0x-prefixed hex)", c))?,
                None => Bytes::new(),
            };
            if super::native::is_native(address) && (!code.is_empty() || !alloc.storage.is_empty()) {
                return Err(ChainError::InvalidArgument(format!(
                    "genesis: alloc {address} is a native contract's address; it cannot be given code or storage"
                )));
            }
            let storage = alloc
                .storage
                .iter()
                .map(|(k, v)| Ok((word("storage key", k)?, word("storage value", v)?)))
                .collect::<Result<BTreeMap<B256, B256>, ChainError>>()?;
            let account = AllocAccount {
                balance: alloc.balance.as_ref().map(num).transpose()?.unwrap_or_default(),
                nonce: alloc.nonce.as_ref().map(|n| small(n, "nonce")).transpose()?.unwrap_or_default(),
                contract: ContractState { code, storage },
            };
            self.alloc.push((*address, account));
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
        assert_eq!(g.alloc[0].1.balance, U256::from(100));
        assert_eq!(g.alloc[1].1.balance, U256::from(1000));
        assert!(Genesis::new(0).apply_json("{not json").is_err());
    }

    #[test]
    fn keeps_every_alloc_field_and_refuses_unknown_ones() {
        let g = Genesis::new(0)
            .apply_json(
                r#"{"alloc":{"0x00000000000000000000000000000000000000c0":{
                "balance":"0x1","nonce":"0x5","code":"0x6000","storage":{"0x01":"0x2a",
                "0x0000000000000000000000000000000000000000000000000000000000000002":"0x07"}}}}"#,
            )
            .unwrap();
        let (_, a) = &g.alloc[0];
        assert_eq!((a.balance, a.nonce), (U256::from(1), 5));
        assert_eq!(a.contract.code.as_ref(), &[0x60, 0x00]);
        assert_eq!(a.contract.storage[&B256::with_last_byte(1)], B256::with_last_byte(0x2a));
        assert_eq!(a.contract.storage[&B256::with_last_byte(2)], B256::with_last_byte(7));
        // What a restart stores and reads back.
        let saved = Genesis::contracts_alloc_json(&g.contracts());
        let back = Genesis::new(0).apply_json(&serde_json::json!({ "alloc": saved }).to_string()).unwrap();
        assert_eq!(back.contracts(), g.contracts());

        let err = |text: &str| Genesis::new(0).apply_json(text).unwrap_err().to_string();
        let unknown = err(r#"{"alloc":{"0x00000000000000000000000000000000000000c0":{"balance":"0x1","secretKey":"0x01"}}}"#);
        assert!(unknown.contains("unknown field `secretKey`"), "{unknown}");
        let bad_slot = err(r#"{"alloc":{"0x00000000000000000000000000000000000000c0":{"storage":{"12":"0x1"}}}}"#);
        assert!(bad_slot.contains("storage key"), "{bad_slot}");
        let native = err(r#"{"alloc":{"0x00000000000000000000000000000000000000F4":{"code":"0x00"}}}"#);
        assert!(native.contains("native contract"), "{native}");
    }
}
