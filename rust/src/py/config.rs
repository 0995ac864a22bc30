//! `ChainConfig` as Python passes it: one dict (a `TypedDict` in `_core.pyi`), read into the
//! core's [`ChainConfig`].
use pyo3::prelude::*;
use pyo3::types::PyInt;

use super::convert;
use super::errors::to_py;
use crate::chain::{ChainConfig, ChainError, Genesis, MiningMode, DEFAULT_BODY_WINDOW};
use crate::pipe::PipeConfig;

/// PIPE settings as Python passes them.
#[derive(FromPyObject, Default)]
#[pyo3(from_item_all)]
pub struct PipeArgs {
    redundancy: usize,
    hedge_quantile: f64,
    #[pyo3(default = 2.0)]
    hedge_multiple: f64,
    hedge_budget: f64,
    hedge_floor_ms: u64,
    hedge_initial_ms: u64,
    timeout_floor_ms: u64,
    cooldown_ms: u64,
    #[pyo3(default = true)]
    route_by_latency: bool,
}

/// Every setting a chain is made from. Genesis fields of a resumed chain come from its store.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct ConfigArgs<'py> {
    chain_id: u64,
    mnemonic: String,
    accounts: u32,
    balance: Bound<'py, PyInt>,
    #[pyo3(default)]
    timestamp_ms: u64,
    base_fee: u64,
    gas_limit: u64,
    #[pyo3(default = true)]
    base_fee_change: bool,
    /// A geth-style genesis file's text (its `alloc`, `config.chainId`, ...).
    #[pyo3(default)]
    genesis_json: Option<String>,
    #[pyo3(default = "interval".to_string())]
    mining: String,
    #[pyo3(default = 500)]
    block_time_ms: u64,
    #[pyo3(default = 4)]
    nodes: u32,
    #[pyo3(default)]
    pipe: Option<PipeArgs>,
    #[pyo3(default = 20)]
    challenge_window: u64,
    #[pyo3(default = DEFAULT_BODY_WINDOW)]
    body_window: u64,
    #[pyo3(default = "prague".to_string())]
    hardfork: String,
    /// Blocks a shared LLM settlement batch waits before its transaction may be included.
    #[pyo3(default = crate::chain::llm::DEFAULT_LLM_BATCH_BLOCKS)]
    llm_batch_blocks: u64,
    /// Prices, stakes and bonds as saved with a chain (a resumed chain keeps its own).
    #[pyo3(default)]
    economics_json: Option<String>,
    /// Code and storage from the genesis, as `Chain.genesis_contracts_json` gave them.
    #[pyo3(default)]
    contracts_json: Option<String>,
}

fn invalid(what: String) -> PyErr {
    to_py(ChainError::InvalidArgument(what))
}

impl ConfigArgs<'_> {
    pub fn into_config(self) -> PyResult<ChainConfig> {
        let mut g = Genesis::new(self.timestamp_ms);
        g.chain_id = self.chain_id;
        g.mnemonic = self.mnemonic;
        g.accounts = self.accounts;
        g.balance = convert::u256(&self.balance)?;
        g.base_fee = self.base_fee;
        g.gas_limit = self.gas_limit;
        g.base_fee_change = self.base_fee_change;
        if let Some(text) = &self.genesis_json {
            g = g.apply_json(text).map_err(to_py)?;
        }
        if let Some(text) = &self.contracts_json {
            let contracts: serde_json::Value =
                serde_json::from_str(text).map_err(|e| invalid(format!("stored genesis contracts: {e}")))?;
            g = g.apply_json(&serde_json::json!({ "alloc": contracts }).to_string()).map_err(to_py)?;
        }
        g.nodes = self.nodes;
        if let Some(text) = &self.economics_json {
            g.economics = serde_json::from_str(text).map_err(|e| invalid(format!("stored economics: {e}")))?;
        }
        let mut config = ChainConfig::new(g, mode(&self.mining, self.block_time_ms)?);
        config.pipe = pipe_config(self.pipe)?;
        config.challenge_window = self.challenge_window;
        config.body_window = self.body_window;
        config.hardfork = crate::evm::hardfork(&self.hardfork).map_err(invalid)?;
        config.llm_batch_blocks = self.llm_batch_blocks;
        Ok(config)
    }
}

fn pipe_config(args: Option<PipeArgs>) -> PyResult<PipeConfig> {
    let Some(a) = args else { return Ok(PipeConfig::default()) };
    if a.redundancy == 0 || !(0.0..=1.0).contains(&a.hedge_quantile) || !(0.0..=10.0).contains(&a.hedge_budget) || a.hedge_multiple.is_nan() || a.hedge_multiple < 1.0 {
        return Err(invalid("PIPE settings: redundancy ≥ 1, hedge quantile in [0, 1], hedge budget in [0, 10], hedge multiple ≥ 1".into()));
    }
    Ok(PipeConfig {
        redundancy: a.redundancy,
        hedge_quantile: a.hedge_quantile,
        hedge_multiple: a.hedge_multiple,
        route_by_latency: a.route_by_latency,
        hedge_budget: a.hedge_budget,
        hedge_floor_ms: a.hedge_floor_ms,
        hedge_initial_ms: a.hedge_initial_ms,
        timeout_floor_ms: a.timeout_floor_ms,
        cooldown_ms: a.cooldown_ms,
        ..PipeConfig::default()
    })
}

pub fn mode(name: &str, block_time_ms: u64) -> PyResult<MiningMode> {
    Ok(match name {
        "interval" if block_time_ms > 0 => MiningMode::Interval { block_time_ms },
        "interval" => return Err(invalid("block time must be positive".into())),
        "auto" => MiningMode::Auto,
        "manual" => MiningMode::Manual,
        other => return Err(invalid(format!("unknown mining mode {other:?} (interval, auto, manual)"))),
    })
}
