//! The chain: state, gas mempool, block building and the mining schedule behind one facade,
//! [`Chain`]. Knows nothing of Python; `py/` wraps it.
pub mod archive;
pub mod block;
mod body_cache;
pub mod config;
pub mod contracts;
pub mod economics;
pub mod error;
pub mod fees;
pub mod genesis;
pub mod llm;
pub mod logs;
pub mod mempool;
pub mod merkle;
pub mod miner;
pub mod native;
pub mod settlement;
pub mod state;

mod build;
pub mod evm_txs;
mod pending;
pub mod preexec;
mod signing;
mod tracing;
mod workflows;

use std::collections::HashMap;
use std::sync::Arc;

use alloy_primitives::{Address, Bytes, B256, U256};

pub use archive::{RestoredBlock, DEFAULT_BODY_WINDOW};
pub use block::{Block, Header, Receipt, StoredBlock};
pub use config::ChainConfig;
pub use contracts::Contracts;
pub use error::ChainError;
pub use evm_txs::CallDispatch;
pub use fees::{BaseFeeRule, FeeHistory};
pub use genesis::Genesis;
pub use logs::LogFilter;
pub use mempool::GasMempool;
pub use miner::{MiningMode, Schedule};
pub use state::{Account, MemoryState, StateDb};

use crate::eth::keys::DevKeys;
use crate::eth::{decode_raw_transaction, decode_raw_transactions, intrinsic_gas, SignedTx, TxRequest};
use crate::pipe::{Clock, Pipe, PipeConfig, SystemClock};
use native::hub;
use native::models::{ModelRegistry, ModelSpec};

pub const POOL_CAPACITY: usize = 10_000;
pub const DEFAULT_CHALLENGE_WINDOW: u64 = 20;
/// Tip eth_sendTransaction and eth_maxPriorityFeePerGas suggest.
pub const SUGGESTED_TIP: u128 = 1_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockTag {
    Number(u64),
    Earliest,
    Latest,
    Safe,
    Finalized,
    Pending,
    /// A block by its hash (EIP-1898); this chain has no forks, so every known hash is
    /// canonical.
    Hash(B256),
}

struct Snapshot {
    id: u64,
    head: u64,
    state: Box<dyn StateDb>,
    /// Results awaiting settlement then: a revert must bring back those settled since.
    deliveries: Vec<settlement::Delivery>,
}

/// A transaction found by hash, with (block, index) once it is in a published block.
pub type FoundTx<'a> = (&'a SignedTx, Option<(&'a Block, usize)>);

pub struct Chain {
    chain_id: u64,
    /// How each block's base fee follows from its parent's header.
    base_fee_rule: BaseFeeRule,
    gas_limit: u64,
    /// Code and storage from genesis (served, not executed).
    contracts: Contracts,
    coinbase: Address,
    keys: DevKeys,
    state: Box<dyn StateDb>,
    pool: GasMempool,
    /// Index = block number; bodies only for recent blocks (see `archive.rs`). The last block
    /// may be staged (sealed but not yet published).
    blocks: archive::Blocks,
    /// Highest block readers may see: it has been committed to the store.
    published: u64,
    tx_index: HashMap<B256, (u64, usize)>,
    schedule: Schedule,
    snapshots: Vec<Snapshot>,
    next_snapshot_id: u64,
    models: ModelRegistry,
    pipe: Arc<Pipe>,
    /// Proofs of delivered inferences, settled by the next block.
    deliveries: Vec<settlement::Delivery>,
    /// The pending proofs as they were before the staged block, to restore if it is discarded.
    deliveries_before_staged: Vec<settlement::Delivery>,
    /// Nodes the staged block slashes: counted when it is published, handed back to PIPE if
    /// its commit fails.
    staged_penalties: Vec<settlement::Penalty>,
    staged_slashed_nodes: Vec<usize>,
    /// The unsettled results changed since they were last saved.
    deliveries_changed: bool,
    economics: economics::Economics,
    /// Re-executes OPTIMISTIC results and posts challenges from its own stake.
    watcher: Address,
    /// OPTIMISTIC results settle this many blocks after their inclusion, if unchallenged.
    challenge_window: u64,
    tee_registry: native::tee_registry::TeeRegistry,
    /// What OGHistorical (0x..F5) serves: CSV feeds, then the synthetic market.
    price_feeds: native::historical::PriceFeeds,
    /// Contract transactions in the pool whose simulation recorded inference calls.
    preexec: HashMap<B256, preexec::PreExec>,
    /// evm_setNextBlockTimestamp: the next block's timestamp (s).
    next_timestamp: Option<u64>,
    /// evm_increaseTime: how far the EVM's clock is ahead of the wall clock (s).
    time_offset_s: i64,
    /// The hard fork transactions run under.
    hardfork: crate::evm::SpecId,
    /// Accounts the node sends transactions for without their keys (anvil_impersonateAccount).
    impersonated: std::collections::HashSet<Address>,
    /// eth_calls waiting for their inference (see `evm_txs.rs`), and how many were made.
    pending_calls: HashMap<B256, evm_txs::PendingCall>,
    call_counter: u64,
    /// LLM gateway answers waiting in batches for their settlement (see `llm/`).
    llm: llm::LlmBatches,
}

impl Chain {
    /// A new chain whose block 0 funds the dev accounts and the genesis allocations, with
    /// default PIPE settings on the wall clock.
    pub fn new(genesis: &Genesis, mode: MiningMode) -> Result<Chain, ChainError> {
        Chain::with_pipe(genesis, mode, PipeConfig::default(), Arc::new(SystemClock::new()))
    }

    pub fn with_pipe(genesis: &Genesis, mode: MiningMode, pipe_config: PipeConfig, clock: Arc<dyn Clock>) -> Result<Chain, ChainError> {
        genesis.validate()?;
        // The nodes' keys, then the watcher's: each has a stake account funded at genesis.
        let mut node_addresses = DevKeys::node_keys(&genesis.mnemonic, genesis.nodes + 1)?.addresses();
        let watcher = node_addresses.pop().expect("watcher key");
        let pipe = Arc::new(Pipe::new(pipe_config, node_addresses.clone(), clock));
        let keys = DevKeys::from_mnemonic(&genesis.mnemonic, genesis.accounts)?;
        let mut funded: Vec<(Address, U256)> =
            keys.addresses().into_iter().map(|a| (a, genesis.balance)).collect();
        let stake = genesis.economics.node_stake;
        funded.extend(node_addresses.iter().chain([&watcher]).map(|a| (economics::stake_address(a), stake)));
        // The account scheduled workflow runs are sent from pays their gas and fees.
        let scheduler_funds = U256::from(native::scheduler::SCHEDULER_BALANCE_OPG) * U256::from(genesis::OPG);
        funded.push((native::scheduler::SCHEDULER_ACCOUNT, scheduler_funds));
        // So do the accounts LLM batch settlements are sent from.
        let llm_funds = U256::from(llm::LLM_ACCOUNT_BALANCE_OPG) * U256::from(genesis::OPG);
        funded.extend([(llm::LLM_BATCH_ACCOUNT, llm_funds), (llm::LLM_SINGLE_ACCOUNT, llm_funds)]);
        let mut state = MemoryState::default();
        for (address, balance) in &funded {
            state.set_account(*address, 0, Account { balance: *balance, nonce: 0 });
        }
        for (address, alloc) in &genesis.alloc {
            state.set_account(*address, 0, Account { balance: alloc.balance, nonce: alloc.nonce });
        }
        let contracts = genesis.contracts();
        seed_contracts(&mut state, &contracts);
        let header = Header {
            number: 0,
            parent_hash: B256::ZERO,
            timestamp: genesis.timestamp_ms / 1000,
            timestamp_ms: genesis.timestamp_ms,
            coinbase: Address::ZERO,
            gas_limit: genesis.gas_limit,
            gas_used: 0,
            base_fee: genesis.base_fee,
            transactions_root: B256::ZERO,
            receipts_root: B256::ZERO,
            state_root: state.state_root(0),
            logs_bloom: Default::default(),
            settlements_root: B256::ZERO,
        };
        let block0 = Block {
            hash: header.hash(),
            header,
            transactions: vec![],
            receipts: vec![],
            state_changes: state.accounts_at(0),
            evm_changes: Default::default(),
            settlements: vec![],
        };
        Ok(Chain {
            chain_id: genesis.chain_id,
            base_fee_rule: BaseFeeRule::new(genesis.base_fee, genesis.base_fee_change),
            gas_limit: genesis.gas_limit,
            contracts,
            coinbase: Address::ZERO,
            keys,
            state: Box::new(state),
            pool: GasMempool::new(POOL_CAPACITY),
            blocks: archive::Blocks::new(block0, DEFAULT_BODY_WINDOW),
            published: 0,
            tx_index: HashMap::new(),
            schedule: Schedule::new(mode),
            snapshots: Vec::new(),
            next_snapshot_id: 0,
            models: ModelRegistry::default(),
            pipe,
            deliveries: Vec::new(),
            deliveries_before_staged: Vec::new(),
            staged_penalties: Vec::new(),
            staged_slashed_nodes: Vec::new(),
            deliveries_changed: false,
            economics: genesis.economics.clone(),
            watcher,
            challenge_window: DEFAULT_CHALLENGE_WINDOW,
            tee_registry: Default::default(),
            price_feeds: Default::default(),
            preexec: HashMap::new(),
            next_timestamp: None,
            time_offset_s: 0,
            hardfork: crate::evm::DEFAULT_SPEC,
            impersonated: Default::default(),
            pending_calls: HashMap::new(),
            call_counter: 0,
            llm: Default::default(),
        })
    }

    /// Resumes a chain from its stored blocks (block 0 first) and the latest account values
    /// (which include balance changes made between blocks, e.g. by `anvil_setBalance`).
    pub fn restore(
        genesis: &Genesis,
        mode: MiningMode,
        stored: Vec<StoredBlock>,
        accounts: Vec<(Address, Account)>,
    ) -> Result<Chain, ChainError> {
        let restored = stored
            .into_iter()
            .map(|s| Block::from_stored(s, genesis.chain_id).map(RestoredBlock::Full))
            .collect::<Result<Vec<_>, _>>()?;
        Chain::restore_with_pipe(genesis, mode, restored, accounts, PipeConfig::default(), Arc::new(SystemClock::new()))
    }

    /// As [`Chain::restore`], from blocks read in full (the last window's) or without their
    /// bodies (older ones: see [`RestoredBlock`]).
    pub fn restore_with_pipe(
        genesis: &Genesis,
        mode: MiningMode,
        stored: impl IntoIterator<Item = RestoredBlock>,
        accounts: Vec<(Address, Account)>,
        pipe_config: PipeConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Chain, ChainError> {
        let mut chain = Chain::with_pipe(genesis, mode, pipe_config, clock)?;
        let mut state = MemoryState::default();
        // Genesis code and storage are not in block 0's record: they come from the genesis.
        seed_contracts(&mut state, &chain.contracts);
        let mut blocks = archive::Blocks::empty(chain.blocks.window());
        for (expected, restored) in stored.into_iter().enumerate() {
            let header = restored.header();
            if header.number != expected as u64 || (expected > 0 && header.parent_hash != blocks.hash(expected as u64 - 1)) {
                return Err(ChainError::InvalidArgument(format!("stored blocks are not a chain at block {expected}")));
            }
            let number = header.number;
            for (address, account) in restored.state_changes() {
                state.set_account(*address, number, *account);
            }
            restored.evm_changes().apply(&mut state, number);
            for (i, hash) in blocks.push_restored(restored)?.into_iter().enumerate() {
                chain.tx_index.insert(hash, (number, i));
            }
        }
        if blocks.len() == 0 {
            return Err(ChainError::InvalidArgument("store has no genesis block".into()));
        }
        let head = blocks.len() as u64 - 1;
        // Base fees come from the stored headers: the next one follows the head's.
        chain.base_fee_rule = BaseFeeRule::new(blocks.header(0).base_fee, genesis.base_fee_change);
        chain.gas_limit = blocks.header(head).gas_limit;
        // The account table is complete: an account missing from it is empty. Where it differs
        // from the blocks (anvil_setBalance between blocks), it is the layer above the head.
        let table: HashMap<Address, Account> = accounts.into_iter().collect();
        let mut overrides: Vec<(Address, Account)> = table
            .iter()
            .filter(|(a, acc)| state.account_at(a, head) != **acc)
            .map(|(a, acc)| (*a, *acc))
            .collect();
        for (address, _) in state.accounts_at(head) {
            if !table.contains_key(&address) {
                overrides.push((address, Account::default()));
            }
        }
        for (address, account) in overrides {
            state.set_account(address, head + 1, account);
        }
        chain.state = Box::new(state);
        chain.blocks.replace(blocks, head);
        chain.published = head;
        Ok(chain)
    }

    // ---- reading ----------------------------------------------------------------------

    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }
    /// The base fee of the next block: what new transactions are checked and ordered by.
    pub fn base_fee(&self) -> u64 {
        self.base_fee_rule.next(&self.blocks.last().header)
    }
    pub fn base_fee_rule(&self) -> BaseFeeRule {
        self.base_fee_rule
    }
    pub fn gas_limit(&self) -> u64 {
        self.gas_limit
    }
    pub fn keys(&self) -> &DevKeys {
        &self.keys
    }
    pub fn pipe(&self) -> &Arc<Pipe> {
        &self.pipe
    }
    pub fn economics(&self) -> &economics::Economics {
        &self.economics
    }

    /// The fee of a transaction's inference calls.
    pub fn inference_fee(&self, calls: &[hub::InferenceCall]) -> U256 {
        calls.iter().fold(U256::ZERO, |sum, c| sum.saturating_add(self.economics.fee(&c.model_id, c.mode)))
    }

    pub fn watcher(&self) -> Address {
        self.watcher
    }

    pub fn challenge_window(&self) -> u64 {
        self.challenge_window
    }

    pub fn set_challenge_window(&mut self, blocks: u64) {
        self.challenge_window = blocks;
    }

    /// Verifiable results delivered and not yet settled.
    pub fn unsettled(&self) -> &[settlement::Delivery] {
        &self.deliveries
    }

    /// A ZKML proof for inference `id`, with the full node's verdict on it. It is settled
    /// (or rejected) in the next block.
    pub fn submit_proof(&mut self, id: B256, proof: String, t_ms: u64, verdict: settlement::Verdict) -> Result<(), ChainError> {
        self.update_delivery(&id, 1, |d| {
            if d.verdict.is_some() {
                return Err(ChainError::InvalidArgument(format!("inference {id} already has a proof")));
            }
            d.proof = Some(proof.clone());
            d.t_proof_submitted = Some(t_ms);
            d.verdict = Some(verdict.clone());
            Ok(())
        })
    }

    /// A challenge by the watcher to OPTIMISTIC result `id`: its re-execution gave `output`.
    pub fn challenge(&mut self, id: B256, output: String, t_ms: u64) -> Result<(), ChainError> {
        let (window, head, watcher) = (self.challenge_window, self.head(), self.watcher);
        self.update_delivery(&id, 3, |d| {
            if d.challenge.is_some() {
                return Err(ChainError::InvalidArgument(format!("inference {id} is already challenged")));
            }
            if head >= d.included_block + window {
                return Err(ChainError::InvalidArgument(format!("the challenge window of inference {id} has closed")));
            }
            d.challenge =
                Some(settlement::Challenge { challenger: watcher, output: output.clone(), t_ms, disputed_block: None, referee_output: None });
            Ok(())
        })
    }

    /// The referee's re-execution of challenged result `id`: the next block slashes whichever
    /// side it contradicts.
    pub fn referee(&mut self, id: B256, output: String) -> Result<(), ChainError> {
        self.update_delivery(&id, 3, |d| match d.challenge.as_mut() {
            Some(c) if c.disputed_block.is_some() && c.referee_output.is_none() => {
                c.referee_output = Some(output.clone());
                Ok(())
            }
            _ => Err(ChainError::InvalidArgument(format!("inference {id} has no dispute awaiting a referee"))),
        })
    }

    /// Applies `f` to unsettled result `id`. While a sealed block awaits its commit, also to
    /// the copy a failed commit would restore, so the update survives either way.
    fn update_delivery(
        &mut self,
        id: &B256,
        mode: u8,
        f: impl Fn(&mut settlement::Delivery) -> Result<(), ChainError>,
    ) -> Result<(), ChainError> {
        let d = self
            .deliveries
            .iter_mut()
            .find(|d| d.id == *id && d.mode == mode)
            .ok_or_else(|| ChainError::InvalidArgument(format!("no unsettled {} result with id {id}", native::models::mode_name(mode))))?;
        f(d)?;
        self.deliveries_changed = true;
        if self.tip() != self.published {
            if let Some(before) = self.deliveries_before_staged.iter_mut().find(|d| d.id == *id) {
                let _ = f(before);
            }
        }
        Ok(())
    }

    /// Whether the next block would take a settlement step (automine seals one for it, so
    /// results settle without waiting for unrelated traffic). TEE evidence counts as due
    /// without being checked here; OPTIMISTIC windows count only once closed.
    pub fn settlement_due(&self, now_ms: u64) -> bool {
        let number = self.tip() + 1;
        self.pipe.has_penalties()
            || self.llm_settlement_due()
            || self.deliveries.iter().any(|d| {
                d.included_block < number
                    && settlement::next_step(d, number, now_ms, self.challenge_window, || Ok(())) != settlement::Step::Wait
            })
    }

    /// Brings back the unsettled results saved with the chain (after a restart).
    pub fn restore_deliveries(&mut self, deliveries: Vec<settlement::Delivery>) {
        self.deliveries = deliveries;
    }

    /// Whether the unsettled results changed since the last call (then they must be saved).
    pub fn take_deliveries_changed(&mut self) -> bool {
        std::mem::take(&mut self.deliveries_changed)
    }

    pub fn register_model(&mut self, spec: ModelSpec) -> Result<(), ChainError> {
        self.models.register(spec)
    }
    pub fn models(&self) -> &ModelRegistry {
        &self.models
    }
    pub fn register_enclave(&mut self, record: native::tee_registry::EnclaveRecord) {
        self.tee_registry.register(record)
    }

    /// Serves `pair` (`BASE/QUOTE`) at OGHistorical from CSV text (columns in
    /// `native/historical/csv.rs`) instead of the synthetic market, from now on.
    pub fn set_price_feed(&mut self, pair: &str, csv_text: &str) -> Result<(), ChainError> {
        self.price_feeds.set(pair, csv_text).map_err(ChainError::InvalidArgument)
    }

    pub fn price_feeds(&self) -> &native::historical::PriceFeeds {
        &self.price_feeds
    }

    /// What the native contracts read in a block of time `timestamp` (s).
    pub(super) fn natives_at(&self, timestamp: u64) -> preexec::NativeState<'_> {
        preexec::NativeState {
            models: &self.models,
            tee: &self.tee_registry,
            feeds: &self.price_feeds,
            now_ms: timestamp.saturating_mul(1000),
            timestamp,
            block_time_ms: match self.schedule.mode {
                MiningMode::Interval { block_time_ms } => block_time_ms,
                _ => 0,
            },
        }
    }
    /// The latest published block number.
    pub fn head(&self) -> u64 {
        self.published
    }
    /// The latest sealed block number (one past head while a block awaits its commit).
    fn tip(&self) -> u64 {
        self.blocks.len() as u64 - 1
    }

    /// Where state edits between blocks (anvil_setBalance) are written and where new
    /// transactions are checked: the layer of the next block, so sealed history never changes.
    fn next_layer(&self) -> u64 {
        self.tip() + 1
    }

    /// What "latest" reads: the head plus edits made since, unless a sealed block is still
    /// being committed (its layer is not visible yet).
    fn latest_layer(&self) -> u64 {
        if self.tip() == self.published { self.published + 1 } else { self.published }
    }

    pub fn resolve(&self, tag: BlockTag) -> Result<u64, ChainError> {
        match tag {
            BlockTag::Number(n) if n <= self.published => Ok(n),
            BlockTag::Number(n) => Err(ChainError::InvalidArgument(format!(
                "block {n} does not exist yet (head is {})",
                self.published
            ))),
            BlockTag::Earliest => Ok(0),
            BlockTag::Latest | BlockTag::Safe | BlockTag::Finalized | BlockTag::Pending => Ok(self.published),
            BlockTag::Hash(h) => self.blocks.number_of(&h, self.published).ok_or(ChainError::BlockNotFound(h)),
        }
    }

    pub fn account(&self, address: &Address, tag: BlockTag) -> Result<Account, ChainError> {
        Ok(self.state.account_at(address, self.layer(tag)?))
    }

    /// Transaction count; with `Pending` it counts the sender's pooled transactions too.
    pub fn nonce(&self, address: &Address, tag: BlockTag) -> Result<u64, ChainError> {
        let account = self.account(address, tag)?;
        Ok(if tag == BlockTag::Pending { self.pool.pending_nonce(address, account.nonce) } else { account.nonce })
    }

    /// The layer a read at `tag` sees (see `latest_layer` and `next_layer`).
    fn layer(&self, tag: BlockTag) -> Result<u64, ChainError> {
        Ok(match tag {
            BlockTag::Pending => self.next_layer(),
            BlockTag::Latest | BlockTag::Safe | BlockTag::Finalized => self.latest_layer(),
            other => self.resolve(other)?,
        })
    }

    /// Code at `address` as of block `tag`: a native contract's marker, or EVM code.
    pub fn code(&self, address: &Address, tag: BlockTag) -> Result<Bytes, ChainError> {
        let at = self.layer(tag)?;
        Ok(self.state.code_at(address, at).map(|(_, c)| c).unwrap_or_else(|| native::code(address)))
    }

    /// Storage slot `slot` of `address` as of block `tag`.
    pub fn storage(&self, address: &Address, slot: &B256, tag: BlockTag) -> Result<B256, ChainError> {
        let at = self.layer(tag)?;
        Ok(self.state.storage_at(address, U256::from_be_bytes(slot.0), at).into())
    }

    /// Code and storage from genesis.
    pub fn contracts(&self) -> &Contracts {
        &self.contracts
    }

    /// The state root of block `at`.
    fn state_root(&self, at: u64) -> B256 {
        self.state.state_root(at)
    }

    /// Every non-empty account with its latest value (edits included), sorted by address.
    pub fn accounts(&self) -> Vec<(Address, Account)> {
        self.state.accounts_at(self.next_layer())
    }

    /// A published block; None for `Pending` (see [`Chain::pending_block`]) and for blocks
    /// that do not exist; `BodyArchived` for one whose body is in the store only.
    pub fn block(&self, tag: BlockTag) -> Result<Option<&Block>, ChainError> {
        if tag == BlockTag::Pending {
            return Ok(None);
        }
        match self.resolve(tag) {
            Ok(n) => self.body(n).map(Some),
            Err(_) => Ok(None),
        }
    }

    pub fn block_by_hash(&self, hash: &B256) -> Result<Option<&Block>, ChainError> {
        match self.blocks.number_of(hash, self.published) {
            Some(n) => self.body(n).map(Some),
            None => Ok(None),
        }
    }

    /// A transaction by hash, with (block, index) when it is in a published block.
    pub fn transaction(&self, hash: &B256) -> Result<Option<FoundTx<'_>>, ChainError> {
        Ok(match self.tx_index.get(hash) {
            Some((n, i)) if *n <= self.published => {
                let block = self.body(*n)?;
                Some((&block.transactions[*i], Some((block, *i))))
            }
            Some(_) => None,
            None => self.pool.get(hash).map(|tx| (tx, None)),
        })
    }

    pub fn receipt(&self, hash: &B256) -> Result<Option<(&Block, usize)>, ChainError> {
        match self.tx_index.get(hash) {
            Some((n, i)) if *n <= self.published => Ok(Some((self.body(*n)?, *i))),
            _ => Ok(None),
        }
    }

    pub fn logs(&self, filter: &LogFilter) -> Result<Vec<logs::LogRef<'_>>, ChainError> {
        let numbers: Vec<u64> = match filter.block_hash {
            Some(h) => vec![self.blocks.number_of(&h, self.published).ok_or(ChainError::BlockNotFound(h))?],
            None => {
                if filter.from_block > filter.to_block {
                    return Err(ChainError::InvalidArgument(format!(
                        "fromBlock {} is after toBlock {}",
                        filter.from_block, filter.to_block
                    )));
                }
                (filter.from_block..=filter.to_block.min(self.published)).collect()
            }
        };
        // Headers' blooms first: only blocks that may hold a matching log need their body.
        let candidates = numbers.into_iter().filter(|n| filter.may_match(&self.blocks.header(*n).logs_bloom));
        logs::query(&self.blocks.bodies(candidates)?, filter)
    }

    pub fn pool_counts(&self) -> (usize, usize) {
        let at = self.next_layer();
        self.pool.counts(|a| self.state.account_at(a, at).nonce)
    }

    // ---- transactions -----------------------------------------------------------------

    pub fn submit_raw(&mut self, raw: &[u8]) -> Result<B256, ChainError> {
        let tx = decode_raw_transaction(raw, self.chain_id)?;
        self.submit(tx)
    }

    /// `submit_raw` for each of `raws`, in order, with the same result each would have alone
    /// (one's error changes nothing for the others). Senders are recovered in parallel first;
    /// a caller that holds the chain behind a lock should decode before taking it
    /// ([`decode_raw_transactions`], then [`Chain::submit`] each).
    pub fn submit_raw_batch<T: AsRef<[u8]> + Sync>(&mut self, raws: &[T]) -> Vec<Result<B256, ChainError>> {
        decode_raw_transactions(raws, self.chain_id).into_iter().map(|tx| self.submit(tx?)).collect()
    }

    /// Checks a signed transaction against the tip state and pools it. On error nothing
    /// changes.
    pub fn submit(&mut self, tx: SignedTx) -> Result<B256, ChainError> {
        if tx.is_impersonated() && !self.impersonated.contains(&tx.sender) {
            return Err(ChainError::InvalidSignature(format!(
                "the transaction carries a stand-in signature for {}, which is not impersonated (anvil_impersonateAccount)",
                tx.sender
            )));
        }
        self.admit(tx)
    }

    /// `submit` without the signature check: the chain's own (system) transactions too.
    fn admit(&mut self, tx: SignedTx) -> Result<B256, ChainError> {
        let base_fee = self.base_fee() as u128;
        if tx.max_fee_per_gas() < base_fee {
            return Err(ChainError::FeeTooLow { offered: tx.max_fee_per_gas(), base_fee });
        }
        if tx.max_priority_fee_per_gas() > tx.max_fee_per_gas() {
            return Err(ChainError::TipAboveMaxFee { tip: tx.max_priority_fee_per_gas(), max_fee: tx.max_fee_per_gas() });
        }
        let needed = tx.intrinsic_gas();
        if tx.gas_limit() < needed {
            return Err(ChainError::IntrinsicGasTooLow { gas: tx.gas_limit(), needed });
        }
        if tx.gas_limit() > self.gas_limit {
            return Err(ChainError::GasLimitExceeded { gas: tx.gas_limit(), block_gas_limit: self.gas_limit });
        }
        let account = self.state.account_at(&tx.sender, self.next_layer());
        // This tx must be affordable after the sender's earlier pooled ones, or it would be
        // accepted now and silently dropped at sealing.
        let need = self
            .pool
            .cost_before(&tx.sender, tx.nonce())
            .zip(max_cost(&tx))
            .and_then(|(before, this)| before.checked_add(this));
        match need {
            Some(need) if need <= account.balance => {}
            need => {
                return Err(ChainError::InsufficientFunds {
                    address: tx.sender,
                    have: account.balance,
                    need: need.unwrap_or(U256::MAX),
                })
            }
        }
        let hash = tx.hash;
        if let Some(code) = tx.to().is_none().then(|| tx.input().len()).filter(|n| *n > crate::evm::MAX_INITCODE_SIZE) {
            return Err(ChainError::InvalidArgument(format!(
                "max initcode size exceeded: {code} bytes, the limit is {} (EIP-3860)",
                crate::evm::MAX_INITCODE_SIZE
            )));
        }
        let ledger = build::Ledger::new(&*self.state, &self.blocks, self.next_layer());
        if self.needs_evm(&ledger, tx.to()) {
            // Simulated now: its inference calls start racing while it waits in the pool.
            let (recorded, calls) = self.simulate(&tx);
            let fee = self.inference_fee(&calls);
            let need = need.expect("checked").saturating_add(fee);
            if need > account.balance {
                return Err(ChainError::InsufficientFunds { address: tx.sender, have: account.balance, need });
            }
            if let Some(replaced) = self.pool.insert_costing(tx, account.nonce, fee)? {
                self.forget_jobs(&[replaced]);
            }
            if !calls.is_empty() {
                self.preexec.insert(hash, preexec::PreExec { calls: recorded, simulations: 1, fee });
                self.pipe.submit(hash, calls, true);
            }
            return Ok(hash);
        }
        // An inference call is checked now; a bad one is still mined (status 0), as a
        // reverting call would be, but no node ever sees it.
        let to = tx.to().expect("creations run on the EVM");
        let many = hub::is_many(to, tx.input());
        let inference = hub::is_inference_contract(tx.to()).then(|| hub::parse_all(to, tx.input(), &self.models));
        // The inference fee comes on top of gas and value (and counts for later txs too).
        let fee = match &inference {
            Some(Ok(calls)) => self.inference_fee(calls),
            _ => U256::ZERO,
        };
        let need = need.expect("checked").saturating_add(fee);
        if need > account.balance {
            return Err(ChainError::InsufficientFunds { address: tx.sender, have: account.balance, need });
        }
        if let Some(replaced) = self.pool.insert_costing(tx, account.nonce, fee)? {
            self.forget_jobs(&[replaced]);
        }
        match inference {
            Some(Ok(calls)) => self.pipe.submit(hash, calls, many),
            Some(Err(reason)) => self.pipe.submit_failed(hash, None, String::new(), 0, reason),
            None => {}
        }
        Ok(hash)
    }

    /// `eth_sendTransaction`: fills in nonce, gas and fees, signs with the dev key, submits.
    pub fn send_transaction(&mut self, req: &TxRequest) -> Result<B256, ChainError> {
        let signed = self.sign_transaction(req)?;
        self.submit(signed)
    }

    /// Gas a transaction would use. Transfers and calls to accounts without code use only
    /// intrinsic gas.
    pub fn estimate_gas(&self, req: &TxRequest) -> Result<u64, ChainError> {
        let ledger = build::Ledger::new(&*self.state, &self.blocks, self.next_layer());
        if self.needs_evm(&ledger, req.to) {
            return self.estimate_evm(req);
        }
        let data = req.data.clone().unwrap_or_default();
        let mut gas = intrinsic_gas(&data, false, 0, 0);
        let mut fee = U256::ZERO;
        if hub::is_inference_contract(req.to) {
            let calls = hub::parse_all(req.to.expect("checked"), &data, &self.models).map_err(ChainError::Revert)?;
            gas += calls.iter().map(|c| hub::gas_for(c.kind)).sum::<u64>();
            fee = self.inference_fee(&calls);
        }
        if let Some(from) = req.from {
            let have = self.state.account_at(&from, self.next_layer()).balance;
            let need = req.value.unwrap_or_default().saturating_add(fee);
            if have < need {
                return Err(ChainError::InsufficientFunds { address: from, have, need });
            }
        }
        Ok(gas)
    }

    /// `eth_call`. Accounts without code return empty data, as on Ethereum.
    pub fn call(&self, req: &TxRequest, tag: BlockTag) -> Result<Bytes, ChainError> {
        let ledger = build::Ledger::new(&*self.state, &self.blocks, self.layer(tag)?);
        if self.needs_evm(&ledger, req.to) {
            return self.call_evm(req, tag);
        }
        match req.to {
            None => unreachable!("creations run on the EVM"),
            Some(to) if hub::is_inference_contract(Some(to)) => {
                hub::parse_all(to, req.data.as_ref().map(|d| d.as_ref()).unwrap_or_default(), &self.models).map_err(ChainError::Revert)?;
                Err(ChainError::Unsupported(
                    "eth_call cannot run inference: send a transaction; its result arrives in the receipt's event".into(),
                ))
            }
            Some(native::TEE_REGISTRY) => self
                .tee_registry
                .call(req.data.as_ref().map(|d| d.as_ref()).unwrap_or_default(), self.blocks.header(self.published).timestamp_ms)
                .map(Bytes::from)
                .map_err(ChainError::Revert),
            Some(to) if native::is_native(&to) => Err(ChainError::Unsupported(format!(
                "eth_call: the native contract at {to} does not answer calls in this version"
            ))),
            Some(_) => Ok(Bytes::new()),
        }
    }

    // ---- development controls ---------------------------------------------------------

    pub fn set_balance(&mut self, address: Address, balance: U256) -> Account {
        self.modify_account(address, |a| a.balance = balance)
    }

    pub fn set_nonce(&mut self, address: Address, nonce: u64) -> Account {
        self.modify_account(address, |a| a.nonce = nonce)
    }

    fn modify_account(&mut self, address: Address, f: impl FnOnce(&mut Account)) -> Account {
        let at = self.next_layer();
        let mut account = self.state.account_at(&address, at);
        f(&mut account);
        self.state.set_account(address, at, account);
        let state = &self.state;
        let dropped = self.pool.prune(|a| state.account_at(a, at).nonce);
        self.forget_jobs(&dropped);
        account
    }

    pub fn mining_mode(&self) -> MiningMode {
        self.schedule.mode
    }

    pub fn set_mining_mode(&mut self, mode: MiningMode) {
        self.schedule.set_mode(mode)
    }

    pub fn next_block_due(&mut self, now_ms: u64) -> Option<u64> {
        self.schedule.next_due(now_ms)
    }

    /// Saves the current state and height; returns the snapshot id. Ids are never reused.
    pub fn snapshot(&mut self) -> Result<u64, ChainError> {
        self.require_no_staged()?;
        let id = self.next_snapshot_id;
        self.next_snapshot_id += 1;
        self.snapshots.push(Snapshot { id, head: self.published, state: self.state.boxed_clone(), deliveries: self.deliveries.clone() });
        Ok(id)
    }

    /// Height and accounts that reverting to snapshot `id` would leave, so the store can be
    /// reverted first; None for an unknown or used-up id.
    pub fn snapshot_state(&self, id: u64) -> Option<(u64, Vec<(Address, Account)>)> {
        let snap = self.snapshots.iter().find(|s| s.id == id)?;
        Some((snap.head, snap.state.accounts_at(snap.head + 1)))
    }

    /// Goes back to snapshot `id`: state, height and blocks; the snapshot and every later one
    /// are used up. Returns false for an unknown or used-up id (nothing changes).
    pub fn revert(&mut self, id: u64) -> Result<bool, ChainError> {
        self.require_no_staged()?;
        let Some(pos) = self.snapshots.iter().position(|s| s.id == id) else {
            return Ok(false);
        };
        let snap = self.snapshots.drain(pos..).next().expect("found above");
        self.deliveries = snap.deliveries;
        self.deliveries_changed = true;
        // Dropped blocks may be archived: the index, not their bodies, says which txs go.
        self.blocks.truncate_after(snap.head);
        self.tx_index.retain(|_, (n, _)| *n <= snap.head);
        self.state = snap.state;
        self.published = snap.head;
        let (state, at) = (&self.state, snap.head + 1);
        let mut dropped = self.pool.prune(|a| state.account_at(a, at).nonce);
        dropped.extend(self.llm_reverted());
        self.forget_jobs(&dropped);
        Ok(true)
    }

    fn require_no_staged(&self) -> Result<(), ChainError> {
        if self.tip() != self.published {
            return Err(ChainError::InvalidArgument("a sealed block is still being committed; retry".into()));
        }
        Ok(())
    }

    /// Publishes the staged block `number` once the store has committed it.
    pub fn publish(&mut self, number: u64) -> Result<(), ChainError> {
        if number != self.tip() || number != self.published + 1 {
            return Err(ChainError::InvalidArgument(format!("block {number} is not the staged block")));
        }
        self.published = number;
        self.staged_penalties.clear();
        self.llm_published();
        for node in std::mem::take(&mut self.staged_slashed_nodes) {
            self.pipe.note_penalty(node);
        }
        // Its inference jobs are done with: their records went to the store with the block.
        let done: Vec<B256> = self
            .blocks
            .last()
            .transactions
            .iter()
            .filter(|t| hub::is_inference_contract(t.to()) || self.preexec.contains_key(&t.hash))
            .map(|t| t.hash)
            .collect();
        self.forget_jobs(&done);
        // Committed: bodies that left the window are in the store now.
        self.blocks.archive(number);
        Ok(())
    }

    /// Drops the staged block (its commit failed): its transactions go back to the pool.
    pub fn discard_staged(&mut self) {
        if self.tip() == self.published {
            return;
        }
        let block = self.blocks.pop();
        self.deliveries = std::mem::take(&mut self.deliveries_before_staged);
        // The nodes the block would have slashed are slashed by the next one instead.
        self.pipe.restore_penalties(std::mem::take(&mut self.staged_penalties));
        self.staged_slashed_nodes.clear();
        self.llm_discarded();
        // Edits made between blocks were folded into the staged block's layer and go with it.
        self.state.truncate_after(self.published);
        for tx in block.transactions {
            self.tx_index.remove(&tx.hash);
            let nonce = self.state.account_at(&tx.sender, self.published + 1).nonce;
            let _ = self.pool.insert(tx, nonce);
        }
    }
}

/// Writes the genesis code and storage into block 0 of `state`.
fn seed_contracts(state: &mut MemoryState, contracts: &Contracts) {
    for (address, c) in contracts.iter() {
        if !c.code.is_empty() {
            state.set_code(*address, 0, c.code.clone());
        }
        for (slot, value) in &c.storage {
            state.set_storage(*address, 0, U256::from_be_bytes(slot.0), U256::from_be_bytes(value.0));
        }
    }
}

/// What a transaction can cost at most: gas limit × max fee + value; None if that does not
/// fit in 256 bits (no account can pay it).
fn max_cost(tx: &SignedTx) -> Option<U256> {
    U256::from(tx.gas_limit()).checked_mul(U256::from(tx.max_fee_per_gas()))?.checked_add(tx.value())
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_wire;
#[cfg(test)]
mod tests_archive;
#[cfg(test)]
mod tests_evm;
#[cfg(test)]
mod tests_historical;
#[cfg(test)]
mod tests_workflows;
#[cfg(test)]
mod tests_llm;
