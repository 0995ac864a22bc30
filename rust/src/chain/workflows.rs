//! Scheduled workflow runs (see `native/scheduler.rs`): the chain sends `run()` to each due
//! task as a system transaction, and reads tasks with their runs for `og_workflows`.
use std::collections::HashSet;

use alloy_primitives::{Address, Bytes, B256, U256};
use alloy_sol_types::{SolCall, SolEvent};
use serde::Serialize;

use super::build::Ledger;
use super::native::scheduler::{self, Slots, SlotsMut, Task, TaskRun, SCHEDULER_ACCOUNT, WORKFLOW_SCHEDULER};
use super::{BlockTag, Chain, ChainError, SUGGESTED_TIP};
use crate::eth::abi;
use crate::eth::keys::{envelope, UnsignedFields};
use crate::eth::tx::impersonation_signature;
use crate::eth::{SignedTx, TxRequest};
use crate::evm::{ExecOptions, StateView};

/// Gas for each read of a workflow contract's getters (modelId, inputName, inputQuery).
const READ_GAS_LIMIT: u64 = 500_000;

/// The scheduler's storage as a read-only view of the state sees it.
struct ViewSlots<'a>(&'a dyn StateView);

impl Slots for ViewSlots<'_> {
    fn load(&mut self, slot: U256) -> U256 {
        self.0.storage(&WORKFLOW_SCHEDULER, slot)
    }
}

impl Slots for Ledger<'_> {
    fn load(&mut self, slot: U256) -> U256 {
        StateView::storage(self, &WORKFLOW_SCHEDULER, slot)
    }
}

impl SlotsMut for Ledger<'_> {
    fn store(&mut self, slot: U256, value: U256) {
        self.storage.insert((WORKFLOW_SCHEDULER, slot), value);
    }
}

/// A task with its latest runs, as `og_workflows` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Workflow {
    pub id: u64,
    pub contract: Address,
    pub owner: Address,
    #[serde(rename = "endTime")]
    pub end_time: u64,
    pub frequency: u64,
    #[serde(rename = "nextRun")]
    pub next_run: u64,
    pub runs: u64,
    pub failures: u64,
    pub cancelled: bool,
    pub active: bool,
    /// What an SDK workflow contract (PriceHistoryInference) says it runs; None for others.
    #[serde(rename = "modelId")]
    pub model_id: Option<String>,
    #[serde(rename = "inputName")]
    pub input_name: Option<String>,
    pub query: Option<WorkflowQuery>,
    #[serde(rename = "recentRuns")]
    pub recent_runs: Vec<WorkflowRun>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkflowQuery {
    pub base: String,
    pub quote: String,
    #[serde(rename = "totalCandles")]
    pub total_candles: u32,
    #[serde(rename = "candleDurationMins")]
    pub candle_duration_mins: u32,
    pub order: u8,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkflowRun {
    pub block: u64,
    /// The period it ran for (s, the EVM's clock).
    pub due: u64,
    #[serde(rename = "txHash")]
    pub tx_hash: B256,
    pub ok: bool,
    /// The block's time: EVM seconds and wall-clock ms.
    pub timestamp: u64,
    #[serde(rename = "timestampMs")]
    pub timestamp_ms: u64,
    /// The first value of the first number tensor of the run's first inference result (a
    /// plot's y), if it made one.
    pub output: Option<f64>,
}

impl Chain {
    /// The EVM time of a block sealed at wall-clock `now_ms`.
    fn evm_time_at(&self, now_ms: u64) -> u64 {
        self.evm_timestamp(self.next_timestamp, now_ms, self.blocks.last().header.timestamp)
    }

    /// Contracts that have a scheduled run waiting in the pool.
    fn runs_pending(&self) -> HashSet<Address> {
        self.pool.from_sender(&SCHEDULER_ACCOUNT).filter_map(|tx| tx.to()).collect()
    }

    fn scheduled_tasks(&self) -> Vec<Task> {
        let ledger = Ledger::new(&*self.state, &self.blocks, self.next_layer());
        scheduler::tasks(&mut ViewSlots(&ledger))
    }

    /// Sends `run()` to each task due in a block sealed at `now_ms` that has no run waiting
    /// yet. Returns the system transactions' hashes.
    pub fn enqueue_due_tasks(&mut self, now_ms: u64) -> Vec<B256> {
        let timestamp = self.evm_time_at(now_ms);
        let pending = self.runs_pending();
        let due: Vec<Task> =
            self.scheduled_tasks().into_iter().filter(|t| t.is_due(timestamp) && !pending.contains(&t.contract)).collect();
        // A run that cannot even be pooled (the scheduler account ran dry) is tried again at
        // the next look; the task stays due.
        due.iter().filter_map(|t| self.send_scheduled_run(t.contract).ok()).collect()
    }

    /// Wall-clock ms at which the next task without a waiting run falls due (`now_ms` if one
    /// is due already), or None.
    pub fn next_task_due_ms(&self, now_ms: u64) -> Option<u64> {
        let pending = self.runs_pending();
        let due = self.scheduled_tasks().into_iter().filter(|t| t.is_active() && !pending.contains(&t.contract)).map(|t| t.next_run).min()?;
        if due <= self.evm_time_at(now_ms) {
            return Some(now_ms);
        }
        // The EVM clock is the wall clock moved by evm_increaseTime (a forced next timestamp
        // is handled above when it is already past `due`).
        let wall_ms = (i128::from(due) - i128::from(self.time_offset_s)).saturating_mul(1000);
        Some(u64::try_from(wall_ms).unwrap_or(if wall_ms < 0 { 0 } else { u64::MAX }).max(now_ms))
    }

    fn send_scheduled_run(&mut self, contract: Address) -> Result<B256, ChainError> {
        let data = Bytes::from_static(&scheduler::RUN_SELECTOR);
        let req = TxRequest { from: Some(SCHEDULER_ACCOUNT), to: Some(contract), data: Some(data.clone()), ..Default::default() };
        let gas = self.scheduled_run_gas(&req);
        let fields = UnsignedFields {
            chain_id: self.chain_id,
            nonce: self.nonce(&SCHEDULER_ACCOUNT, BlockTag::Pending)?,
            to: Some(contract),
            value: U256::ZERO,
            data,
            gas,
            gas_price: None,
            max_fee_per_gas: 2 * self.base_fee() as u128 + SUGGESTED_TIP,
            max_priority_fee_per_gas: SUGGESTED_TIP,
        };
        let signed = SignedTx::from_envelope(envelope(fields, |_| Ok(impersonation_signature(SCHEDULER_ACCOUNT)))?)?;
        self.admit(signed)
    }

    /// The gas limit of a scheduled run: what one execution used plus a tenth (the 63/64
    /// rule of its calls; served results may cost a little more to store than placeholders),
    /// checked once; the full search only if that is not enough. Not `eth_estimateGas`'s
    /// tightest limit: that search runs the contract ~25 times, every period, for every task,
    /// which bounded how many tasks the chain kept on time. A run that reverts gets
    /// [`scheduler::FALLBACK_RUN_GAS`] (it will fail and count as failed).
    fn scheduled_run_gas(&self, req: &TxRequest) -> u64 {
        let at_limit = TxRequest { gas: Some(self.gas_limit), ..req.clone() };
        let used = match self.run_request(&at_limit, BlockTag::Pending, ExecOptions::estimate()) {
            Ok((e, _, _)) if e.success() => e.gas_used,
            _ => return scheduler::FALLBACK_RUN_GAS,
        };
        let guess = used.saturating_add(used / 10).min(self.gas_limit);
        let with_guess = TxRequest { gas: Some(guess), ..req.clone() };
        match self.run_request(&with_guess, BlockTag::Pending, ExecOptions::estimate()) {
            Ok((e, _, _)) if e.success() => guess,
            _ => self.estimate_gas(req).unwrap_or(scheduler::FALLBACK_RUN_GAS),
        }
    }

    /// Every task (or only task `only`) with its last `recent` runs, at the latest block.
    pub fn workflows(&self, recent: usize, only: Option<u64>) -> Vec<Workflow> {
        let ledger = Ledger::new(&*self.state, &self.blocks, self.latest_layer());
        let mut slots = ViewSlots(&ledger);
        let tasks = match only {
            Some(id) => scheduler::task(&mut slots, id).into_iter().collect(),
            None => scheduler::tasks(&mut slots),
        };
        tasks
            .into_iter()
            .map(|t| {
                let recent_runs = scheduler::runs(&mut slots, t.id, recent).into_iter().map(|r| self.run_view(r)).collect();
                Workflow {
                    id: t.id,
                    contract: t.contract,
                    owner: t.owner,
                    end_time: t.end_time,
                    frequency: t.frequency,
                    next_run: t.next_run,
                    runs: t.runs,
                    failures: t.failures,
                    cancelled: t.cancelled,
                    active: t.is_active(),
                    model_id: self.read_string(t.contract, abi::modelIdCall {}.abi_encode()),
                    input_name: self.read_string(t.contract, abi::inputNameCall {}.abi_encode()),
                    query: self.read_query(t.contract),
                    recent_runs,
                }
            })
            .collect()
    }

    fn read(&self, contract: Address, data: Vec<u8>) -> Option<Bytes> {
        // A getter's budget: a contract whose getter burns the block's gas must not stall the
        // chain for each page view.
        let req = TxRequest { to: Some(contract), data: Some(data.into()), gas: Some(READ_GAS_LIMIT), ..Default::default() };
        self.call(&req, BlockTag::Latest).ok()
    }

    fn read_string(&self, contract: Address, data: Vec<u8>) -> Option<String> {
        let out = self.read(contract, data)?;
        <alloy_sol_types::sol_data::String as alloy_sol_types::SolType>::abi_decode(&out).ok()
    }

    fn read_query(&self, contract: Address) -> Option<WorkflowQuery> {
        let out = self.read(contract, abi::inputQueryCall {}.abi_encode())?;
        let q = abi::inputQueryCall::abi_decode_returns(&out).ok()?;
        Some(WorkflowQuery {
            base: q.base,
            quote: q.quote,
            total_candles: q.total_candles,
            candle_duration_mins: q.candle_duration_in_mins,
            order: q.order,
        })
    }

    fn run_view(&self, r: TaskRun) -> WorkflowRun {
        // Headers stay in memory however old the block (bodies may be in the store only).
        let header = (r.block <= self.head()).then(|| self.blocks.header(r.block));
        WorkflowRun {
            block: r.block,
            due: r.due,
            tx_hash: r.tx_hash,
            ok: r.ok,
            timestamp: header.map_or(0, |h| h.timestamp),
            timestamp_ms: header.map_or(0, |h| h.timestamp_ms),
            output: r.output.and_then(|(v, d)| Some(v as f64 / 10f64.powi(i32::try_from(d).ok()?))),
        }
    }
}

/// The first value of an `InferenceResult` event's first number tensor (value, decimals),
/// if the event comes from an inference contract (a workflow contract could emit its own).
fn first_output(log: &alloy_primitives::Log) -> Option<(i128, i128)> {
    use super::native::{INFERENCE_HUB, INFERENCE_PRECOMPILE, OG_HISTORICAL};
    if ![INFERENCE_HUB, INFERENCE_PRECOMPILE, OG_HISTORICAL].contains(&log.address) {
        return None;
    }
    let event = abi::InferenceResult::decode_log_data(&log.data).ok()?;
    let n = event.output.numbers.first()?.values.first()?;
    Some((n.value, n.decimals))
}

/// Records the scheduled run `tx` (at `index` in block `number` of time `timestamp`) in the
/// scheduler's storage, if it is one.
pub(super) fn record_if_scheduled(ledger: &mut Ledger<'_>, tx: &SignedTx, number: u64, timestamp: u64, index: usize, receipt: &super::Receipt) {
    if tx.sender != SCHEDULER_ACCOUNT {
        return;
    }
    let Some(contract) = tx.to() else { return };
    let run = TaskRun {
        block: number,
        due: 0,
        tx_index: index as u32,
        ok: receipt.status,
        tx_hash: tx.hash,
        output: receipt.logs.iter().find_map(first_output),
    };
    scheduler::record_run(ledger, contract, timestamp, run);
}
