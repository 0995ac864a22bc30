//! LLM gateway answers settled on chain. A gateway (Python) hands each signed answer to
//! [`Chain::submit_llm_inference`]; it joins a *batch*, whose SYSTEM transaction
//! `settleBatch(batchId)` to [`LLM_SETTLEMENT`] is made and pooled when the batch opens, so its
//! hash is known at once (the root is not in the calldata). When that transaction executes
//! (`execute.rs`) the full node checks every answer's signature against the TEE registry's
//! current key, publishes the keccak Merkle root of the valid answers (`merkle.rs`), rejects
//! the others with a named reason and burns their node's bond.
//!
//! - `batch`: the shared batch; ready for inclusion once `batch_blocks` blocks have passed
//!   since it opened; later answers join it until it is included (or full).
//! - `individual`: a batch of its own, ready in the next block.
//! - `private`: as individual, but its leaf is not published (counted only), and the gateway
//!   does not tell the client a settlement hash.
//!
//! Until its batch settles an answer's record is LIVE here ([`Chain::llm_inference_json`]);
//! the block that settles it carries it (delivered, under "inferences") and its settlement
//! step, which the store applies, as for any TEE result. Open batches live in memory only:
//! a restart loses them (their transactions were never journaled, so no nonce is left
//! waiting), and `evm_revert` drops them with their transactions. A batch included by the
//! staged block stays here until the block is published, and goes back to open if the
//! block's commit fails: the store never holds a half-settled batch.
use alloy_primitives::{address, Address, Bytes, B256, U256};
use alloy_sol_types::{sol, SolCall};

use super::native::hub::CallKind;
use super::native::LLM_SETTLEMENT;
use super::settlement::SettlementRecord;
use super::{BlockTag, Chain, ChainError, SUGGESTED_TIP};
use crate::eth::keys::{envelope, UnsignedFields};
use crate::eth::tx::impersonation_signature;
use crate::eth::SignedTx;
use crate::pipe::{InferenceRecord, ManyRecord, Mode, SettlementStep, Status};

mod execute;
pub mod merkle;
mod types;

pub use execute::BatchOutcome;
pub use types::{LlmPayment, LlmSettlement, LlmSubmission, SettlementType};

/// Sends the shared batches. Apart from [`LLM_SINGLE_ACCOUNT`] because a sender's
/// transactions go in nonce order: a shared batch waiting out its blocks must not hold back
/// an individual one. Both are funded at genesis and pay gas as any sender does.
pub const LLM_BATCH_ACCOUNT: Address = address!("fffffffffffffffffffffffffffffffffffffffd");
/// Sends the individual and private batches.
pub const LLM_SINGLE_ACCOUNT: Address = address!("fffffffffffffffffffffffffffffffffffffffc");
pub const LLM_ACCOUNT_BALANCE_OPG: u64 = 1_000_000;
pub const DEFAULT_LLM_BATCH_BLOCKS: u64 = 3;
/// Gas of a batch transaction: intrinsic + this per answer (an RSA-2048 check, a leaf, a log).
pub const LLM_ITEM_GAS: u64 = 10_000;
/// A shared batch's gas limit is fixed when it opens, so its size is capped: a full batch
/// stops taking answers and the next answer opens another.
pub const LLM_MAX_BATCH_ITEMS: usize = 256;

sol! {
    function settleBatch(uint256 batchId);
    event LLMBatchSettled(uint256 indexed batchId, bytes32 root, uint256 settled, uint256 rejected);
    event LLMInferenceRejected(bytes32 indexed id, bytes32 indexed teeId, string reason);
}

/// An open batch: its transaction is pooled, not yet in a sealed block.
#[derive(Debug, Clone)]
pub(super) struct Batch {
    pub id: u64,
    pub tx_hash: B256,
    /// The first block number its transaction may go in.
    pub ready_at: u64,
    /// The answers' records, delivered (the record's `llm` holds what is verified).
    pub items: Vec<InferenceRecord>,
}

/// A batch the staged block settled: its records as that block carries them (delivered) and
/// the step it took for each.
#[derive(Debug, Clone)]
struct SettledBatch {
    batch: Batch,
    block: u64,
    steps: Vec<SettlementStep>,
}

#[derive(Debug)]
pub(super) struct LlmBatches {
    pub batch_blocks: u64,
    pub open: Vec<Batch>,
    /// The tx hash of the shared batch new `batch` answers join.
    shared: Option<B256>,
    staged: Vec<SettledBatch>,
}

impl Default for LlmBatches {
    fn default() -> Self {
        LlmBatches { batch_blocks: DEFAULT_LLM_BATCH_BLOCKS, open: vec![], shared: None, staged: vec![] }
    }
}

/// Whether `tx` is a batch settlement the chain sent.
pub(super) fn is_batch_tx(tx: &SignedTx) -> bool {
    matches!(tx.sender, LLM_BATCH_ACCOUNT | LLM_SINGLE_ACCOUNT) && tx.to() == Some(LLM_SETTLEMENT)
}

fn invalid(msg: String) -> ChainError {
    ChainError::InvalidArgument(msg)
}

impl Chain {
    pub fn set_llm_batch_blocks(&mut self, blocks: u64) {
        self.llm.batch_blocks = blocks;
    }

    /// Puts a signed answer in a batch: (its record id, the hash of the transaction that will
    /// settle it; None for a private answer). Nothing is verified yet: the full node does
    /// that when the batch executes, and a bad answer is rejected there, at its node's cost.
    pub fn submit_llm_inference(&mut self, s: LlmSubmission) -> Result<(B256, Option<B256>), ChainError> {
        if !matches!(s.kind, CallKind::Chat | CallKind::Completion) {
            return Err(invalid("an LLM answer's kind is chat or completion".into()));
        }
        if s.signature.is_empty() {
            return Err(invalid("an LLM answer needs its signature".into()));
        }
        // The same request answered twice in one second signs the same tuple: two answers,
        // each delivered (and paid), so two records, not a duplicate to refuse.
        let shared = self.llm.shared.filter(|_| s.settlement_type == SettlementType::Batch);
        let position = self.llm.open.iter().position(|b| Some(b.tx_hash) == shared && b.items.len() < LLM_MAX_BATCH_ITEMS);
        let position = match position {
            Some(p) => p,
            None => self.open_batch(s.settlement_type)?,
        };
        let batch = &mut self.llm.open[position];
        let index = batch.items.len();
        let id = crate::pipe::call_id(&batch.tx_hash, index);
        let mut r = InferenceRecord::new(id, batch.tx_hash, Some(index as u32), s.model_id, Some(s.kind), Mode::Tee, Status::Delivered, s.t_request_ms);
        r.t_result = Some(s.t_result_ms);
        r.input = Some(s.input);
        r.output = Some(s.output);
        r.winner_node = s.node_index;
        r.winner_address = Some(s.node);
        r.llm = Some(LlmSettlement {
            tee_id: s.tee_id,
            request_hash: s.request_hash,
            output_hash: s.output_hash,
            timestamp: s.timestamp,
            signature: s.signature,
            settlement_type: s.settlement_type,
            batch_id: batch.id,
            batch_tx_hash: batch.tx_hash,
            node: s.node,
            delivered_hash: alloy_primitives::keccak256(s.delivered.as_bytes()),
            merkle_root: None,
            leaf: None,
            leaf_index: None,
            payment: s.payment,
        });
        batch.items.push(r);
        Ok((id, (s.settlement_type != SettlementType::Private).then_some(batch.tx_hash)))
    }

    /// Makes and pools a batch's transaction; returns the batch's position in `open`.
    fn open_batch(&mut self, kind: SettlementType) -> Result<usize, ChainError> {
        let sender = if kind == SettlementType::Batch { LLM_BATCH_ACCOUNT } else { LLM_SINGLE_ACCOUNT };
        // Every batch takes one nonce of one of the two accounts: their sum numbers batches
        // uniquely on chain, restarts included.
        let id = self.nonce(&LLM_BATCH_ACCOUNT, BlockTag::Pending)? + self.nonce(&LLM_SINGLE_ACCOUNT, BlockTag::Pending)?;
        let data: Bytes = settleBatchCall { batchId: U256::from(id) }.abi_encode().into();
        let items = if kind == SettlementType::Batch { LLM_MAX_BATCH_ITEMS } else { 1 };
        let fields = UnsignedFields {
            chain_id: self.chain_id,
            nonce: self.nonce(&sender, BlockTag::Pending)?,
            to: Some(LLM_SETTLEMENT),
            value: U256::ZERO,
            gas: crate::eth::intrinsic_gas(&data, false, 0, 0) + LLM_ITEM_GAS * items as u64,
            data,
            gas_price: None,
            max_fee_per_gas: 2 * self.base_fee() as u128 + SUGGESTED_TIP,
            max_priority_fee_per_gas: SUGGESTED_TIP,
        };
        let tx = SignedTx::from_envelope(envelope(fields, |_| Ok(impersonation_signature(sender)))?)?;
        let tx_hash = self.admit(tx)?;
        let waits = if kind == SettlementType::Batch { self.llm.batch_blocks } else { 0 };
        self.llm.open.push(Batch { id, tx_hash, ready_at: self.tip() + 1 + waits, items: vec![] });
        if kind == SettlementType::Batch {
            self.llm.shared = Some(tx_hash);
        }
        Ok(self.llm.open.len() - 1)
    }

    /// A live LLM answer (JSON) by its record id, or a live batch's answers together (a
    /// `ManyRecord`) by its transaction hash; None once published (the store has it then).
    pub fn llm_inference_json(&self, key: &B256) -> Option<String> {
        let open = self.llm.open.iter().map(|b| (b, vec![]));
        let staged = self.llm.staged.iter().map(|s| (&s.batch, s.steps.clone()));
        for (batch, steps) in open.chain(staged) {
            let live = |i: usize| {
                let mut r = batch.items[i].clone();
                if let Some(step) = steps.get(i) {
                    r.apply(step);
                }
                r
            };
            if batch.tx_hash == *key {
                let calls = (0..batch.items.len()).map(live).collect();
                return Some(serde_json::to_string(&ManyRecord::new(batch.tx_hash, calls)).expect("a record is JSON"));
            }
            if let Some(i) = batch.items.iter().position(|r| r.id == *key) {
                return Some(serde_json::to_string(&live(i)).expect("a record is JSON"));
            }
        }
        None
    }

    /// The records (delivered, included in block `number`) of the answers the staged block
    /// settled: its record's "inferences"; their steps are in its settlements.
    pub fn llm_block_records(&self, number: u64) -> Vec<InferenceRecord> {
        self.llm.staged.iter().filter(|s| s.block == number).flat_map(|s| s.batch.items.iter().cloned()).collect()
    }

    /// An open batch waits for its transaction: automine seals blocks until it is included.
    pub(super) fn llm_settlement_due(&self) -> bool {
        !self.llm.open.is_empty()
    }

    /// Transactions that left the pool unmined (dropped, replaced, pruned): their batches
    /// can never settle.
    pub(super) fn llm_forget(&mut self, gone: &[B256]) {
        self.llm.open.retain(|b| !gone.contains(&b.tx_hash));
        if self.llm.shared.is_some_and(|h| gone.contains(&h)) {
            self.llm.shared = None;
        }
    }

    /// The staged block included the batches of `outcomes`: they leave `open` with their
    /// records finished; returns their settlement records, for the block.
    pub(super) fn llm_sealed(&mut self, outcomes: Vec<BatchOutcome>, number: u64, t_ms: u64) -> Vec<SettlementRecord> {
        let mut records = Vec::new();
        for outcome in outcomes {
            let Some(pos) = self.llm.open.iter().position(|b| b.tx_hash == outcome.tx_hash) else { continue };
            let mut batch = self.llm.open.remove(pos);
            if self.llm.shared == Some(batch.tx_hash) {
                self.llm.shared = None;
            }
            let mut steps = Vec::new();
            for (r, verdict) in batch.items.iter_mut().zip(&outcome.verdicts) {
                r.t_included = Some(t_ms);
                r.block_number = Some(number);
                if let Some(l) = r.llm.as_mut() {
                    (l.leaf, l.leaf_index) = (verdict.leaf, verdict.leaf_index);
                    l.merkle_root = verdict.leaf.map(|_| outcome.root);
                }
                r.included(number, 0);
                let settled = execute::step_record(r, verdict);
                steps.push(SettlementStep::new(&settled, t_ms, number).expect("an LLM step is TEE, settled or rejected"));
                if let (Some(node), true) = (r.winner_node, verdict.rejection.is_some()) {
                    self.staged_slashed_nodes.push(node);
                }
                records.push(settled);
            }
            self.llm.staged.push(SettledBatch { batch, block: number, steps });
        }
        records
    }

    /// The staged block is published: the store holds its batches now.
    pub(super) fn llm_published(&mut self) {
        self.llm.staged.clear();
    }

    /// The staged block is discarded: its batches are open again (their transactions go
    /// back to the pool with the block's others).
    pub(super) fn llm_discarded(&mut self) {
        for s in std::mem::take(&mut self.llm.staged) {
            let mut batch = s.batch;
            for r in &mut batch.items {
                (r.t_included, r.block_number, r.delivered_status) = (None, None, None);
                if let Some(l) = r.llm.as_mut() {
                    (l.merkle_root, l.leaf, l.leaf_index) = (None, None, None);
                }
            }
            self.llm.open.push(batch);
        }
    }

    /// `evm_revert`: open batches are dropped with their transactions (their accounts'
    /// nonces go back, so later batches would never be ready).
    pub(super) fn llm_reverted(&mut self) -> Vec<B256> {
        self.llm.open.clear();
        self.llm.shared = None;
        let mut gone = self.pool.evict_from(&LLM_BATCH_ACCOUNT, 0);
        gone.extend(self.pool.evict_from(&LLM_SINGLE_ACCOUNT, 0));
        gone
    }
}
