//! Executing a batch's `settleBatch(batchId)`: the full node's check of every answer in it,
//! natively (as `execute_native_tx` runs the hub). It changes only the block's ledger and
//! says what it found in a [`BatchOutcome`]; sealing applies that to the batches, a pending
//! block build drops it, so building "pending" settles nothing.
use alloy_primitives::{keccak256, Log, B256, U256};
use alloy_sol_types::{SolCall, SolEvent};

use super::{is_batch_tx, merkle, settleBatchCall, LLMBatchSettled, LLMInferenceRejected, SettlementType, LLM_ITEM_GAS};
use crate::chain::build::{Ledger, TxResult};
use crate::chain::economics::stake_address;
use crate::chain::native::LLM_SETTLEMENT;
use crate::chain::settlement::SettlementRecord;
use crate::chain::{max_cost, Chain, Receipt};
use crate::eth::SignedTx;
use crate::evm::StateView;
use crate::pipe::{InferenceRecord, Mode};
use crate::verify::verify_llm_response;

/// What the full node found for one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// "reason: detail" of a rejected answer.
    pub rejection: Option<String>,
    /// Burnt from the node's stake (a rejected answer).
    pub slashed: U256,
    /// A valid, published answer's leaf and its index among the batch's leaves.
    pub leaf: Option<B256>,
    pub leaf_index: Option<u32>,
}

/// What a batch transaction did: one verdict per answer, in the batch's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchOutcome {
    pub tx_hash: B256,
    pub root: B256,
    pub verdicts: Vec<Verdict>,
}

impl Chain {
    /// Whether batch transaction `tx` may go in block `number`: once its batch's wait is over.
    /// One whose batch this chain does not hold is ready, and settles nothing.
    pub(in crate::chain) fn llm_ready(&self, tx: &SignedTx, number: u64) -> bool {
        !is_batch_tx(tx) || self.llm.open.iter().find(|b| b.tx_hash == tx.hash).is_none_or(|b| b.ready_at <= number)
    }

    /// Why answer `r` fails the full node's check against the registry's current key, if it
    /// does.
    fn llm_rejection(&self, r: &InferenceRecord) -> Option<String> {
        let l = r.llm.as_ref()?;
        let check = match self.tee_registry.get(&l.tee_id) {
            _ if l.delivered_hash != l.output_hash => Err(format!(
                "output_mismatch: the TEE signed output hash {} but the answer it delivered hashes to {}",
                l.output_hash, l.delivered_hash
            )),
            None => Err(format!("unknown_tee: no TEE with id {} in the registry", l.tee_id)),
            Some(e) if !e.enabled => Err(format!("tee_disabled: TEE {} is disabled in the registry", l.tee_id)),
            Some(e) => verify_llm_response(&e.public_key, &l.request_hash, &l.output_hash, l.timestamp, &l.signature).map_err(|e| e.to_string()),
        };
        check.err()
    }

    /// Runs batch transaction `tx` over `ledger`: gas (intrinsic + [`LLM_ITEM_GAS`] an answer)
    /// from the sender, each answer verified, a rejected answer's node losing the bond from
    /// its stake (burnt), the events. Pushes what it found to `outcomes`.
    pub(in crate::chain) fn execute_llm_batch(
        &self,
        ledger: &mut Ledger<'_>,
        base_fee: u128,
        tx: &SignedTx,
        gas_before: u64,
        outcomes: &mut Vec<BatchOutcome>,
    ) -> TxResult {
        let items: &[InferenceRecord] = self.llm.open.iter().find(|b| b.tx_hash == tx.hash).map_or(&[], |b| &b.items);
        let batch_id = settleBatchCall::abi_decode(tx.input()).map(|c| c.batchId).unwrap_or_default();
        let gas = (tx.intrinsic_gas() + LLM_ITEM_GAS * items.len() as u64).min(tx.gas_limit());
        let price = tx.effective_gas_price(base_fee);
        let mut sender = ledger.account(&tx.sender);
        if sender.nonce != tx.nonce() || max_cost(tx).is_none_or(|need| need > sender.balance) {
            return TxResult::Dropped;
        }
        sender.balance -= U256::from(gas) * U256::from(price);
        sender.nonce += 1;
        ledger.accounts.insert(tx.sender, sender);
        let tip = U256::from(gas) * U256::from(tx.effective_tip(base_fee));
        let mut coinbase = ledger.account(&self.coinbase);
        coinbase.balance = coinbase.balance.saturating_add(tip);
        ledger.accounts.insert(self.coinbase, coinbase);

        let (mut leaves, mut verdicts, mut logs) = (Vec::new(), Vec::with_capacity(items.len()), Vec::new());
        for r in items {
            let l = r.llm.as_ref().expect("an LLM answer's record carries its signed fields");
            let mut v = Verdict { rejection: self.llm_rejection(r), slashed: U256::ZERO, leaf: None, leaf_index: None };
            match &v.rejection {
                Some(reason) => {
                    v.slashed = ledger.transfer(stake_address(&l.node), None, self.economics.bond);
                    let event = LLMInferenceRejected { id: r.id, teeId: l.tee_id, reason: reason.clone() };
                    logs.push(Log { address: LLM_SETTLEMENT, data: event.encode_log_data() });
                }
                None if l.settlement_type == SettlementType::Private => {}
                None => {
                    let leaf = merkle::leaf(&l.request_hash, &l.output_hash, &l.signature);
                    (v.leaf, v.leaf_index) = (Some(leaf), Some(leaves.len() as u32));
                    leaves.push(leaf);
                }
            }
            verdicts.push(v);
        }
        let root = merkle::root(&leaves);
        let rejected = verdicts.iter().filter(|v| v.rejection.is_some()).count();
        let event = LLMBatchSettled {
            batchId: batch_id,
            root,
            settled: U256::from(verdicts.len() - rejected),
            rejected: U256::from(rejected),
        };
        logs.push(Log { address: LLM_SETTLEMENT, data: event.encode_log_data() });
        outcomes.push(BatchOutcome { tx_hash: tx.hash, root, verdicts });
        TxResult::Included(Receipt::new(tx.hash, true, gas, gas_before + gas, price, logs))
    }
}

/// The settlement record of answer `r` given its verdict: TEE, settled or rejected, the
/// signature as its proof. No fee moves here: the answer was paid for over x402.
pub(super) fn step_record(r: &InferenceRecord, v: &Verdict) -> SettlementRecord {
    let l = r.llm.as_ref().expect("an LLM answer's record carries its signed fields");
    SettlementRecord {
        id: r.id,
        tx_hash: r.tx_hash,
        mode: Mode::Tee.number(),
        node: l.node,
        outcome: if v.rejection.is_none() { "settled" } else { "rejected" }.into(),
        reason: v.rejection.clone(),
        t_result: r.t_result.unwrap_or(r.t_request),
        t_proof_submitted: r.t_result,
        proof_hash: Some(keccak256(&l.signature)),
        proof_bytes: Some(l.signature.len() as u64),
        fee: U256::ZERO,
        slashed: v.slashed,
        slashed_account: v.rejection.is_some().then_some(l.node),
        challenger: None,
        reward: U256::ZERO,
    }
}
