//! Everything a chain is made from, in one value: its genesis, how blocks are mined, PIPE's
//! settings, the settlement window, how many block bodies stay in memory, the hard fork.
use std::sync::Arc;

use super::archive::{RestoredBlock, DEFAULT_BODY_WINDOW};
use super::{Account, Chain, ChainError, Genesis, MiningMode, DEFAULT_CHALLENGE_WINDOW};
use crate::pipe::{Clock, PipeConfig};

#[derive(Debug, Clone)]
pub struct ChainConfig {
    pub genesis: Genesis,
    pub mining: MiningMode,
    pub pipe: PipeConfig,
    /// OPTIMISTIC results settle this many blocks after their inclusion, if unchallenged.
    pub challenge_window: u64,
    /// Blocks whose bodies stay in memory (older ones are read back from the store).
    pub body_window: u64,
    pub hardfork: crate::evm::SpecId,
    /// A shared LLM batch is ready for its block once this many blocks have passed since it
    /// opened (see `llm/`).
    pub llm_batch_blocks: u64,
}

impl ChainConfig {
    /// `genesis` with the defaults for everything else.
    pub fn new(genesis: Genesis, mining: MiningMode) -> Self {
        ChainConfig {
            genesis,
            mining,
            pipe: PipeConfig::default(),
            challenge_window: DEFAULT_CHALLENGE_WINDOW,
            body_window: DEFAULT_BODY_WINDOW,
            hardfork: crate::evm::DEFAULT_SPEC,
            llm_batch_blocks: super::llm::DEFAULT_LLM_BATCH_BLOCKS,
        }
    }
}

impl Chain {
    /// A new chain from block 0, on `clock`.
    pub fn from_config(config: &ChainConfig, clock: Arc<dyn Clock>) -> Result<Chain, ChainError> {
        let mut chain = Chain::with_pipe(&config.genesis, config.mining, config.pipe.clone(), clock)?;
        chain.configure(config);
        Ok(chain)
    }

    /// A chain resumed from its stored blocks (block 0 first) and the latest account values.
    pub fn restore_from_config(
        config: &ChainConfig,
        stored: impl IntoIterator<Item = RestoredBlock>,
        accounts: Vec<(alloy_primitives::Address, Account)>,
        clock: Arc<dyn Clock>,
    ) -> Result<Chain, ChainError> {
        let mut chain = Chain::restore_with_pipe(&config.genesis, config.mining, stored, accounts, config.pipe.clone(), clock)?;
        chain.configure(config);
        Ok(chain)
    }

    fn configure(&mut self, config: &ChainConfig) {
        self.set_challenge_window(config.challenge_window);
        self.set_body_window(config.body_window);
        self.set_hardfork(config.hardfork);
        self.set_llm_batch_blocks(config.llm_batch_blocks);
    }
}
