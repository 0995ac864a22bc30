//! The workflow scheduler at `0x7179…8eF6` (SDK 1.1.4's `WorkflowScheduler.abi`): contracts
//! registered with `registerTask(contract, endTime, frequency)` have their `run()` called by
//! the chain itself, once per period, until `endTime`.
//!
//! Tasks live in the scheduler's own EVM storage, so snapshots, reverts, a restart and the
//! state root cover them like any contract's state (layout below). The chain reads the due
//! tasks before each block ([`due_tasks`]) and sends each a *system transaction* — `run()`
//! from [`SCHEDULER_ACCOUNT`], pre-executed on PIPE like any inference transaction — and, as
//! the block executes it, records the run ([`record_run`]): a reverted run counts as failed
//! and the task runs again at its next period. Missed periods (the clock moved past several)
//! are skipped, not replayed: the next run is the first period boundary after the block.
//!
//! Storage (all at [`WORKFLOW_SCHEDULER`]):
//! - `keccak256("og-devnet.scheduler.count")`: the number of tasks; ids are 1, 2, …
//! - task `id`, field `f` at `keccak256("og-devnet.scheduler.task" ‖ id) + f`: 0 contract,
//!   1 owner, 2 end time, 3 frequency (s), 4 next run (s), 5 runs, 6 failed runs, 7 cancelled;
//! - run `j` (0-based) of task `id` at `r = keccak256("og-devnet.scheduler.run" ‖ id ‖ j)`:
//!   `r`: block number | due time << 64 | tx index << 128 | ok << 160 | has output << 161;
//!   `r + 1`: the transaction's hash; `r + 2`: its first inference output, the first value of
//!   the first number tensor as (value: int128 | decimals: int128 << 128) — kept here so a
//!   workflow's history reads without its blocks' bodies.
use alloy_primitives::{address, keccak256, Address, Bytes, IntoLogData, Log, B256, U256};
use alloy_sol_types::SolCall;

use crate::eth::abi;
use crate::evm::{InferenceAnswer, NativeContext};

pub const WORKFLOW_SCHEDULER: Address = address!("7179724De4e7FF9271FA40C0337c7f90C0508eF6");
/// The account the chain sends scheduled runs from: EIP-4788's system address. Funded at
/// genesis ([`SCHEDULER_BALANCE`]); it pays gas and inference fees as any sender does, and no
/// one else can send as it (its transactions carry no real signature).
pub const SCHEDULER_ACCOUNT: Address = address!("fffffffffffffffffffffffffffffffffffffffe");
pub const SCHEDULER_BALANCE_OPG: u64 = 1_000_000;
/// Gas of `registerTask` (eight slots written, one event), flat so estimates are exact.
pub const REGISTER_GAS: u64 = 180_000;
pub const CANCEL_GAS: u64 = 30_000;
pub const READ_GAS: u64 = 2_600;
/// Gas limit of a scheduled run whose estimate fails (it will revert and count as failed).
pub const FALLBACK_RUN_GAS: u64 = 1_000_000;
/// `run()`: what the scheduler calls.
pub const RUN_SELECTOR: [u8; 4] = [0xc0, 0x40, 0x62, 0x26];

/// One registered task, as its storage holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: u64,
    pub contract: Address,
    pub owner: Address,
    pub end_time: u64,
    pub frequency: u64,
    pub next_run: u64,
    pub runs: u64,
    pub failures: u64,
    pub cancelled: bool,
}

impl Task {
    /// Due at a block of time `timestamp`.
    pub fn is_due(&self, timestamp: u64) -> bool {
        !self.cancelled && self.next_run <= timestamp && self.next_run <= self.end_time
    }

    /// Still to run some day.
    pub fn is_active(&self) -> bool {
        !self.cancelled && self.next_run <= self.end_time
    }
}

/// One run of a task: the block and transaction that called `run()`, and its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskRun {
    pub block: u64,
    /// The period it ran for (s).
    pub due: u64,
    pub tx_index: u32,
    pub ok: bool,
    pub tx_hash: B256,
    /// The first inference result's first value, as (value, decimals).
    pub output: Option<(i128, i128)>,
}

/// Reads of the scheduler's storage, wherever it is held.
pub trait Slots {
    fn load(&mut self, slot: U256) -> U256;
}

/// Writes too (the EVM's journal during a call, the block's ledger when a run is recorded).
pub trait SlotsMut: Slots {
    fn store(&mut self, slot: U256, value: U256);
}

fn count_slot() -> U256 {
    keccak256(b"og-devnet.scheduler.count").into()
}

fn field_slot(id: u64, field: u8) -> U256 {
    let base: U256 = keccak256([b"og-devnet.scheduler.task".as_slice(), &id.to_be_bytes()].concat()).into();
    base.wrapping_add(U256::from(field))
}

fn run_slot(id: u64, j: u64) -> U256 {
    keccak256([b"og-devnet.scheduler.run".as_slice(), &id.to_be_bytes(), &j.to_be_bytes()].concat()).into()
}

fn to_u64(v: U256) -> u64 {
    v.saturating_to()
}

fn to_address(v: U256) -> Address {
    Address::from_word(v.into())
}

pub fn task_count(s: &mut dyn Slots) -> u64 {
    to_u64(s.load(count_slot()))
}

pub fn task(s: &mut dyn Slots, id: u64) -> Option<Task> {
    if id == 0 || id > task_count(s) {
        return None;
    }
    let mut f = |field| s.load(field_slot(id, field));
    Some(Task {
        id,
        contract: to_address(f(0)),
        owner: to_address(f(1)),
        end_time: to_u64(f(2)),
        frequency: to_u64(f(3)),
        next_run: to_u64(f(4)),
        runs: to_u64(f(5)),
        failures: to_u64(f(6)),
        cancelled: !f(7).is_zero(),
    })
}

pub fn tasks(s: &mut dyn Slots) -> Vec<Task> {
    (1..=task_count(s)).filter_map(|id| task(s, id)).collect()
}

/// The tasks due in a block of time `timestamp`, by id.
pub fn due_tasks(s: &mut dyn Slots, timestamp: u64) -> Vec<Task> {
    tasks(s).into_iter().filter(|t| t.is_due(timestamp)).collect()
}

/// The earliest next run of any active task (s).
pub fn next_due(s: &mut dyn Slots) -> Option<u64> {
    tasks(s).into_iter().filter(Task::is_active).map(|t| t.next_run).min()
}

/// Task `id`'s runs, oldest first; at most the last `limit`.
pub fn runs(s: &mut dyn Slots, id: u64, limit: usize) -> Vec<TaskRun> {
    let Some(t) = task(s, id) else { return vec![] };
    (t.runs.saturating_sub(limit as u64)..t.runs)
        .map(|j| {
            let base = run_slot(id, j);
            let v = s.load(base);
            let bits = |shift: usize, n: usize| to_u64((v >> shift) & ((U256::from(1) << n) - U256::from(1)));
            let output = (bits(161, 1) == 1).then(|| {
                let o = s.load(base + U256::from(2));
                let half = |w: U256| w.to::<u128>() as i128;
                (half(o & U256::from(u128::MAX)), half(o >> 128))
            });
            TaskRun {
                block: bits(0, 64),
                due: bits(64, 64),
                tx_index: bits(128, 32) as u32,
                ok: bits(160, 1) == 1,
                tx_hash: s.load(base + U256::from(1)).into(),
                output,
            }
        })
        .collect()
}

/// Records `run` of `contract`'s due task (its `due` is filled in here) in a block of time
/// `timestamp`, and moves the task to its next period. Returns the task's id, or None when
/// no task of `contract` was due.
pub fn record_run(s: &mut dyn SlotsMut, contract: Address, timestamp: u64, mut run: TaskRun) -> Option<u64> {
    let reader: &mut dyn Slots = &mut *s;
    let t = due_tasks(reader, timestamp).into_iter().find(|t| t.contract == contract)?;
    run.due = t.next_run;
    let base = run_slot(t.id, t.runs);
    let packed = U256::from(run.block)
        | (U256::from(run.due) << 64)
        | (U256::from(run.tx_index) << 128)
        | (U256::from(run.ok as u8) << 160)
        | (U256::from(run.output.is_some() as u8) << 161);
    s.store(base, packed);
    s.store(base + U256::from(1), run.tx_hash.into());
    if let Some((value, decimals)) = run.output {
        s.store(base + U256::from(2), U256::from(value as u128) | (U256::from(decimals as u128) << 128));
    }
    s.store(field_slot(t.id, 5), U256::from(t.runs + 1));
    if !run.ok {
        s.store(field_slot(t.id, 6), U256::from(t.failures + 1));
    }
    // The first period boundary after this block: missed periods are skipped.
    let periods = (timestamp - t.next_run) / t.frequency + 1;
    s.store(field_slot(t.id, 4), U256::from(t.next_run.saturating_add(periods.saturating_mul(t.frequency))));
    Some(t.id)
}

/// What a call into the scheduler sees of the block.
pub struct Env {
    pub timestamp: u64,
    /// The interval block time (ms; 0 when blocks are not timed): no task may run more often.
    pub block_time_ms: u64,
}

struct JournalSlots<'c>(&'c mut dyn NativeContext);

impl Slots for JournalSlots<'_> {
    fn load(&mut self, slot: U256) -> U256 {
        self.0.sload(WORKFLOW_SCHEDULER, slot)
    }
}

impl SlotsMut for JournalSlots<'_> {
    fn store(&mut self, slot: U256, value: U256) {
        self.0.sstore(WORKFLOW_SCHEDULER, slot, value)
    }
}

fn revert(reason: String, gas: u64) -> InferenceAnswer {
    InferenceAnswer::Revert { data: super::hub::revert_data(&format!("WorkflowScheduler: {reason}")).into(), gas }
}

fn output(data: Vec<u8>, gas: u64, logs: Vec<Log>) -> InferenceAnswer {
    InferenceAnswer::Output { data: Bytes::from(data), gas, logs }
}

/// A call into the scheduler from `caller` (a transaction or a contract).
pub fn call(input: &[u8], caller: Address, context: &mut dyn NativeContext, env: &Env) -> InferenceAnswer {
    let selector: [u8; 4] = match input.get(..4) {
        Some(s) => s.try_into().expect("4 bytes"),
        None => return revert("no function selector".into(), READ_GAS),
    };
    // Under DELEGATECALL the caller is the outer caller: a contract could act as its user.
    if context.is_delegated() {
        return revert("cannot be called by DELEGATECALL or CALLCODE".into(), READ_GAS);
    }
    if context.transfers_value() {
        return revert("does not accept value".into(), READ_GAS);
    }
    let writes = matches!(selector, abi::registerTaskCall::SELECTOR | abi::cancelTaskCall::SELECTOR);
    if writes && context.is_static() {
        return revert("registerTask and cancelTask change state: not in a static call".into(), READ_GAS);
    }
    match selector {
        abi::registerTaskCall::SELECTOR => match abi::registerTaskCall::abi_decode(input) {
            Ok(c) => register(c, caller, context, env),
            Err(e) => revert(format!("registerTask: malformed arguments ({e})"), REGISTER_GAS),
        },
        abi::cancelTaskCall::SELECTOR => match abi::cancelTaskCall::abi_decode(input) {
            Ok(c) => cancel(c.taskId, caller, context),
            Err(e) => revert(format!("cancelTask: malformed arguments ({e})"), CANCEL_GAS),
        },
        abi::taskCountCall::SELECTOR => {
            let n = task_count(&mut JournalSlots(context));
            output(abi::taskCountCall::abi_encode_returns(&U256::from(n)), READ_GAS, vec![])
        }
        abi::getTaskCall::SELECTOR => {
            let id = abi::getTaskCall::abi_decode(input).map(|c| c.taskId).unwrap_or_default();
            let Some(t) = u64::try_from(id).ok().and_then(|id| task(&mut JournalSlots(context), id)) else {
                return revert(format!("no task {id}"), READ_GAS);
            };
            let ret = abi::getTaskReturn {
                contractAddress: t.contract,
                owner: t.owner,
                endTime: U256::from(t.end_time),
                frequency: U256::from(t.frequency),
                nextRun: U256::from(t.next_run),
                runs: U256::from(t.runs),
                failures: U256::from(t.failures),
                cancelled: t.cancelled,
            };
            output(abi::getTaskCall::abi_encode_returns(&ret), READ_GAS * 8, vec![])
        }
        _ => revert(format!("unknown function 0x{}", alloy_primitives::hex::encode(selector)), READ_GAS),
    }
}

fn register(c: abi::registerTaskCall, owner: Address, context: &mut dyn NativeContext, env: &Env) -> InferenceAnswer {
    let gas = REGISTER_GAS;
    if !context.has_code(c.contractAddress) {
        return revert(format!("{} is not a contract (it has no code to run)", c.contractAddress), gas);
    }
    let end_time = u64::try_from(c.endTime).unwrap_or(u64::MAX);
    if end_time <= env.timestamp {
        return revert(format!("endTime {} is not after the block's time {}", c.endTime, env.timestamp), gas);
    }
    if c.frequency.is_zero() {
        return revert("frequency must be at least 1 second".into(), gas);
    }
    let frequency = u64::try_from(c.frequency).unwrap_or(u64::MAX);
    if frequency.saturating_mul(1000) < env.block_time_ms {
        return revert(format!("frequency {frequency} s is below the block time ({} ms)", env.block_time_ms), gas);
    }
    if env.timestamp.saturating_add(frequency) > end_time {
        return revert(format!("endTime {end_time} comes before the first run (block time {} + frequency {frequency})", env.timestamp), gas);
    }
    let mut s = JournalSlots(context);
    let id = task_count(&mut s) + 1;
    s.store(count_slot(), U256::from(id));
    let words = [
        c.contractAddress.into_word().into(),
        owner.into_word().into(),
        U256::from(end_time),
        U256::from(frequency),
        U256::from(env.timestamp.saturating_add(frequency)),
    ];
    for (field, value) in words.into_iter().enumerate() {
        s.store(field_slot(id, field as u8), value);
    }
    let event = abi::TaskRegistered {
        taskId: U256::from(id),
        contractAddress: c.contractAddress,
        owner,
        endTime: U256::from(end_time),
        frequency: U256::from(frequency),
    };
    output(vec![], gas, vec![Log { address: WORKFLOW_SCHEDULER, data: event.to_log_data() }])
}

fn cancel(id: U256, caller: Address, context: &mut dyn NativeContext) -> InferenceAnswer {
    let mut s = JournalSlots(context);
    let Some(t) = u64::try_from(id).ok().and_then(|id| task(&mut s, id)) else {
        return revert(format!("no task {id}"), CANCEL_GAS);
    };
    if t.owner != caller {
        return revert(format!("task {id} belongs to {}, not {caller}", t.owner), CANCEL_GAS);
    }
    if t.cancelled {
        return revert(format!("task {id} is already cancelled"), CANCEL_GAS);
    }
    s.store(field_slot(t.id, 7), U256::from(1));
    let event = abi::TaskCancelled { taskId: id };
    output(vec![], CANCEL_GAS, vec![Log { address: WORKFLOW_SCHEDULER, data: event.into_log_data() }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_selector_is_run() {
        assert_eq!(&keccak256(b"run()")[..4], &RUN_SELECTOR);
    }

    #[derive(Default)]
    struct Mem(std::collections::HashMap<U256, U256>);
    impl Slots for Mem {
        fn load(&mut self, slot: U256) -> U256 {
            self.0.get(&slot).copied().unwrap_or_default()
        }
    }
    impl SlotsMut for Mem {
        fn store(&mut self, slot: U256, value: U256) {
            self.0.insert(slot, value);
        }
    }

    fn run(block: u64, tx_index: u32, ok: bool, output: Option<(i128, i128)>) -> TaskRun {
        TaskRun { block, due: 0, tx_index, ok, tx_hash: B256::repeat_byte(block as u8), output }
    }

    fn with_task(next_run: u64, frequency: u64, end_time: u64) -> Mem {
        let mut m = Mem::default();
        m.store(count_slot(), U256::from(1));
        m.store(field_slot(1, 0), Address::repeat_byte(7).into_word().into());
        m.store(field_slot(1, 2), U256::from(end_time));
        m.store(field_slot(1, 3), U256::from(frequency));
        m.store(field_slot(1, 4), U256::from(next_run));
        m
    }

    #[test]
    fn a_run_moves_the_task_to_its_next_period_and_skips_missed_ones() {
        let mut m = with_task(100, 10, 1_000);
        assert!(due_tasks(&mut m, 99).is_empty());
        assert_eq!(record_run(&mut m, Address::repeat_byte(7), 101, run(5, 2, true, Some((-15, 1)))), Some(1));
        assert_eq!(task(&mut m, 1).unwrap().next_run, 110);
        // The clock jumped 95 s: one run, then the next boundary after it.
        assert_eq!(record_run(&mut m, Address::repeat_byte(7), 205, run(6, 0, false, None)), Some(1));
        let t = task(&mut m, 1).unwrap();
        assert_eq!((t.next_run, t.runs, t.failures), (210, 2, 1));
        assert_eq!(
            runs(&mut m, 1, 10),
            vec![
                TaskRun { due: 100, ..run(5, 2, true, Some((-15, 1))) },
                TaskRun { due: 110, ..run(6, 0, false, None) }
            ]
        );
        assert_eq!(runs(&mut m, 1, 1).len(), 1);
        // Not due yet: nothing recorded.
        assert_eq!(record_run(&mut m, Address::repeat_byte(7), 209, run(7, 0, true, None)), None);
    }

    #[test]
    fn a_task_ends_at_its_end_time() {
        let mut m = with_task(100, 10, 105);
        record_run(&mut m, Address::repeat_byte(7), 100, run(1, 0, true, None));
        let t = task(&mut m, 1).unwrap();
        assert!(!t.is_active() && !t.is_due(1_000));
        assert_eq!(next_due(&mut m), None);
    }
}
