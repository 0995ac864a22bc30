//! The workflow scheduler on the chain: registering, bad registrations reverting at estimate,
//! the chain's own `run()` transactions at each period, failed runs, skipped periods.
use alloy_primitives::{Address, Bytes, U256};
use alloy_sol_types::SolCall;

use super::native::scheduler::{SCHEDULER_ACCOUNT, WORKFLOW_SCHEDULER};
use super::tests::mine;
use super::tests_evm::{call_tx, deploy};
use super::*;
use crate::eth::abi;

const T: u64 = 1_700_000_000_000;
const T_S: u64 = T / 1000;
/// Adds 1 to slot 0 whatever it is called with.
const COUNTER: &[u8] = &[0x60, 0x00, 0x54, 0x60, 0x01, 0x01, 0x60, 0x00, 0x55, 0x00];
/// Reverts whatever it is called with.
const REVERTER: &[u8] = &[0x60, 0x00, 0x60, 0x00, 0xfd];

fn register(contract: Address, end: u64, frequency: u64) -> Bytes {
    abi::registerTaskCall { contractAddress: contract, endTime: U256::from(end), frequency: U256::from(frequency) }.abi_encode().into()
}

fn req(c: &Chain, data: Bytes) -> TxRequest {
    TxRequest { from: Some(c.keys().addresses()[0]), to: Some(WORKFLOW_SCHEDULER), data: Some(data), ..Default::default() }
}

fn reverted(r: Result<impl std::fmt::Debug, ChainError>) -> String {
    match r {
        Err(ChainError::Reverted { reason, .. }) => reason,
        other => panic!("expected a revert, got {other:?}"),
    }
}

fn counter(c: &Chain, a: Address) -> u64 {
    U256::from_be_bytes(c.storage(&a, &Default::default(), BlockTag::Latest).unwrap().0).to::<u64>()
}

/// Mines at `t_ms` and returns the block's transactions' (sender, to, status).
fn mine_at(c: &mut Chain, t_ms: u64) -> Vec<(Address, Option<Address>, bool)> {
    let n = mine(c, t_ms);
    let b = c.block(BlockTag::Number(n)).unwrap().unwrap();
    b.transactions.iter().zip(&b.receipts).map(|(t, r)| (t.sender, t.to(), r.status)).collect()
}

#[test]
fn the_chain_runs_a_registered_task_once_per_period_until_its_end() {
    let mut c = Chain::new(&Genesis::new(T), MiningMode::Manual).unwrap();
    let target = deploy(&mut c, 0, COUNTER, T);
    let h = c.submit(call_tx(&c, 1, WORKFLOW_SCHEDULER, register(target, T_S + 100, 10))).unwrap();
    mine(&mut c, T + 1_000);
    let (b, i) = c.receipt(&h).unwrap().unwrap();
    assert!(b.receipts[i].status, "{:?}", b.receipts[i].revert_reason);
    assert_eq!(b.receipts[i].logs[0].address, WORKFLOW_SCHEDULER);
    let count = c.call(&req(&c, abi::taskCountCall {}.abi_encode().into()), BlockTag::Latest).unwrap();
    assert_eq!(U256::from_be_slice(&count), U256::from(1));
    let task = &c.workflows(10, None)[0];
    assert_eq!((task.contract, task.owner, task.next_run, task.frequency), (target, c.keys().addresses()[0], T_S + 11, 10));

    assert!(mine_at(&mut c, T + 5_000).is_empty(), "not due yet");
    assert_eq!(mine_at(&mut c, T + 11_000), vec![(SCHEDULER_ACCOUNT, Some(target), true)]);
    assert_eq!(counter(&c, target), 1);
    assert!(mine_at(&mut c, T + 12_000).is_empty(), "one run per period");
    // The clock jumps over three periods: one run, then the next boundary after it.
    assert_eq!(mine_at(&mut c, T + 45_000).len(), 1);
    let task = &c.workflows(10, None)[0];
    assert_eq!((task.runs, task.failures, task.next_run), (2, 0, T_S + 51));
    assert_eq!(task.recent_runs.iter().map(|r| r.due).collect::<Vec<_>>(), vec![T_S + 11, T_S + 21]);
    let run = &task.recent_runs[0];
    let (b, i) = c.receipt(&run.tx_hash).unwrap().unwrap();
    assert_eq!((b.header.number, i, run.timestamp), (run.block, 0, T_S + 11));

    // Past the end: never again.
    mine_at(&mut c, T + 101_000);
    assert!(mine_at(&mut c, T + 200_000).is_empty());
    let task = &c.workflows(10, None)[0];
    assert!(!task.active);
    assert_eq!(counter(&c, target), task.runs);
    assert_eq!(c.next_task_due_ms(T + 300_000), None);
}

#[test]
fn a_reverting_run_is_recorded_as_failed_and_retried_next_period() {
    let mut c = Chain::new(&Genesis::new(T), MiningMode::Manual).unwrap();
    let target = deploy(&mut c, 0, REVERTER, T);
    c.submit(call_tx(&c, 1, WORKFLOW_SCHEDULER, register(target, T_S + 100, 5))).unwrap();
    mine(&mut c, T);
    assert_eq!(mine_at(&mut c, T + 5_000), vec![(SCHEDULER_ACCOUNT, Some(target), false)]);
    assert_eq!(mine_at(&mut c, T + 10_000), vec![(SCHEDULER_ACCOUNT, Some(target), false)]);
    let task = &c.workflows(10, None)[0];
    assert_eq!((task.runs, task.failures), (2, 2));
    assert!(task.recent_runs.iter().all(|r| !r.ok));
}

#[test]
fn bad_registrations_revert_at_estimate_with_a_reason_and_schedule_nothing() {
    // Estimates see the wall clock here (the pipe's clock is the system's).
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let (t, t_s) = (now, now / 1000);
    let mut c = Chain::new(&Genesis::new(t), MiningMode::Interval { block_time_ms: 2_000 }).unwrap();
    let target = deploy(&mut c, 0, COUNTER, t);
    let eoa = c.keys().addresses()[1];
    let cases = [
        (register(eoa, t_s + 100, 10), "is not a contract"),
        (register(target, t_s - 1, 10), "is not after the block's time"),
        (register(target, t_s + 100, 0), "frequency must be at least 1 second"),
        (register(target, t_s + 100, 1), "below the block time (2000 ms)"),
    ];
    for (data, why) in cases {
        let reason = reverted(c.estimate_gas(&req(&c, data.clone())));
        assert!(reason.starts_with("WorkflowScheduler: ") && reason.contains(why), "{reason}");
        assert_eq!(reason, reverted(c.call(&req(&c, data), BlockTag::Latest)));
    }
    // Mined anyway: status 0, no task.
    let h = c.submit(call_tx(&c, 1, WORKFLOW_SCHEDULER, register(eoa, t_s + 100, 10))).unwrap();
    mine(&mut c, t + 1_000);
    let (b, i) = c.receipt(&h).unwrap().unwrap();
    assert!(!b.receipts[i].status);
    assert!(c.workflows(10, None).is_empty());
    // Only the owner cancels; a cancelled task never runs.
    c.submit(call_tx(&c, 2, WORKFLOW_SCHEDULER, register(target, t_s + 100, 10))).unwrap();
    mine(&mut c, t + 2_000);
    let cancel: Bytes = abi::cancelTaskCall { taskId: U256::from(1) }.abi_encode().into();
    let mut other = req(&c, cancel.clone());
    other.from = Some(eoa);
    assert!(reverted(c.estimate_gas(&other)).contains("belongs to"));
    c.submit(call_tx(&c, 3, WORKFLOW_SCHEDULER, cancel)).unwrap();
    mine(&mut c, t + 3_000);
    assert!(mine_at(&mut c, t + 20_000).is_empty());
    assert!(c.workflows(10, None)[0].cancelled);
}

#[test]
fn no_one_else_sends_as_the_scheduler_account() {
    let mut c = Chain::new(&Genesis::new(T), MiningMode::Manual).unwrap();
    let fields = crate::eth::keys::UnsignedFields {
        chain_id: c.chain_id(),
        nonce: 0,
        to: Some(Address::repeat_byte(1)),
        value: U256::from(1),
        data: Default::default(),
        gas: 21_000,
        gas_price: None,
        max_fee_per_gas: 3_000_000_000,
        max_priority_fee_per_gas: 1,
    };
    let env = crate::eth::keys::envelope(fields, |_| Ok(crate::eth::tx::impersonation_signature(SCHEDULER_ACCOUNT))).unwrap();
    let err = c.submit(SignedTx::from_envelope(env).unwrap()).unwrap_err();
    assert!(matches!(err, ChainError::InvalidSignature(_)), "{err:?}");
}

#[test]
fn a_contract_cannot_act_for_its_caller_by_delegatecall_nor_send_value() {
    let mut c = Chain::new(&Genesis::new(T), MiningMode::Manual).unwrap();
    let target = deploy(&mut c, 0, COUNTER, T);
    // DELEGATECALL(gas, scheduler, calldata) and SSTORE(0, success).
    let mut delegator = vec![0x36, 0x60, 0x00, 0x60, 0x00, 0x37, 0x60, 0x00, 0x60, 0x00, 0x36, 0x60, 0x00, 0x73];
    delegator.extend_from_slice(WORKFLOW_SCHEDULER.as_slice());
    delegator.extend_from_slice(&[0x5a, 0xf4, 0x60, 0x00, 0x55, 0x00]);
    let proxy = deploy(&mut c, 1, &delegator, T);
    c.submit(call_tx(&c, 2, proxy, register(target, T_S + 100, 10))).unwrap();
    mine(&mut c, T + 1_000);
    assert_eq!(counter(&c, proxy), 0, "the delegated call reverted");
    assert!(c.workflows(10, None).is_empty());
    let mut paying = req(&c, register(target, T_S + 100, 10));
    paying.value = Some(U256::from(1));
    assert!(reverted(c.estimate_gas(&paying)).contains("does not accept value"));
    // A task that would end before its first run is refused.
    // (Estimates run at the wall clock here.)
    let now_s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let why = reverted(c.estimate_gas(&req(&c, register(target, now_s + 5, 10))));
    assert!(why.contains("comes before the first run"), "{why}");
}
