use alloy_primitives::{address, Address, U256};

use super::*;
use crate::eth::keys::UnsignedFields;

const GWEI: u128 = 1_000_000_000;
const OPG_WEI: u128 = genesis::OPG;

fn chain(mode: MiningMode) -> Chain {
    Chain::new(&Genesis::new(1_700_000_000_000), mode).unwrap()
}

/// A signed 21000-gas transfer to 0x..aa from dev account `from`; `edit` adjusts the fields.
pub(super) fn sign_with(c: &Chain, from: usize, nonce: u64, edit: impl FnOnce(&mut UnsignedFields)) -> SignedTx {
    let mut fields = UnsignedFields {
        chain_id: c.chain_id(),
        nonce,
        to: Some(address!("00000000000000000000000000000000000000aa")),
        value: U256::ZERO,
        data: Default::default(),
        gas: 21_000,
        gas_price: None,
        max_fee_per_gas: 3 * GWEI,
        max_priority_fee_per_gas: GWEI,
    };
    edit(&mut fields);
    SignedTx::from_envelope(c.keys().sign(c.keys().addresses()[from], fields).unwrap()).unwrap()
}

pub(super) fn transfer(c: &Chain, from: usize, nonce: u64, value: u64, legacy: bool) -> SignedTx {
    sign_with(c, from, nonce, |f| {
        f.value = U256::from(value);
        f.gas_price = legacy.then_some(2 * GWEI);
    })
}

pub(super) fn mine(c: &mut Chain, now: u64) -> u64 {
    let n = c.seal_block(now).unwrap().header.number;
    c.publish(n).unwrap();
    n
}

#[test]
fn transfers_move_value_and_charge_gas() {
    let mut c = chain(MiningMode::Manual);
    let a0 = c.keys().addresses()[0];
    let to = address!("00000000000000000000000000000000000000aa");
    let before = c.account(&a0, BlockTag::Latest).unwrap().balance;
    c.submit(transfer(&c, 0, 0, 1000, true)).unwrap();
    c.submit(transfer(&c, 0, 1, 500, false)).unwrap();
    assert_eq!(c.nonce(&a0, BlockTag::Pending).unwrap(), 2);
    assert_eq!(c.nonce(&a0, BlockTag::Latest).unwrap(), 0);
    let n = mine(&mut c, 1_700_000_001_000);
    let block = c.block(BlockTag::Number(n)).unwrap().unwrap();
    assert_eq!(block.transactions.len(), 2);
    assert_eq!(block.header.gas_used, 42_000);
    // legacy pays 2 gwei; 1559 pays base (1) + tip (1) = 2 gwei
    let spent = U256::from(1500u64 + 42_000 * 2 * GWEI as u64);
    assert_eq!(c.account(&a0, BlockTag::Latest).unwrap().balance, before - spent);
    assert_eq!(c.account(&to, BlockTag::Latest).unwrap().balance, U256::from(1500));
    assert_eq!(c.nonce(&a0, BlockTag::Latest).unwrap(), 2);
    // history: the balance at block 0 is unchanged
    assert_eq!(c.account(&a0, BlockTag::Number(0)).unwrap().balance, before);
    // coinbase got the tips
    assert_eq!(c.account(&Address::ZERO, BlockTag::Latest).unwrap().balance, U256::from(42_000 * GWEI));
}

#[test]
fn staged_blocks_are_invisible_until_published() {
    let mut c = chain(MiningMode::Manual);
    let hash = c.submit(transfer(&c, 0, 0, 1, false)).unwrap();
    c.seal_block(1_700_000_001_000).unwrap();
    assert_eq!(c.head(), 0);
    assert!(c.receipt(&hash).unwrap().is_none());
    assert!(c.block(BlockTag::Number(1)).unwrap().is_none());
    assert!(matches!(c.seal_block(1_700_000_002_000), Err(ChainError::InvalidArgument(_))));
    c.publish(1).unwrap();
    assert!(c.receipt(&hash).unwrap().is_some());
}

#[test]
fn discarded_block_returns_its_transactions_to_the_pool() {
    let mut c = chain(MiningMode::Manual);
    let a0 = c.keys().addresses()[0];
    c.submit(transfer(&c, 0, 0, 1, false)).unwrap();
    c.seal_block(1_700_000_001_000).unwrap();
    c.discard_staged();
    assert_eq!(c.nonce(&a0, BlockTag::Pending).unwrap(), 1);
    assert_eq!(c.nonce(&a0, BlockTag::Latest).unwrap(), 0);
    mine(&mut c, 1_700_000_002_000);
    assert_eq!(c.nonce(&a0, BlockTag::Latest).unwrap(), 1);
}

#[test]
fn rejected_transactions_change_nothing() {
    let mut c = chain(MiningMode::Manual);
    let a0 = c.keys().addresses()[0];
    c.set_balance(a0, U256::from(1000));
    let before = c.accounts();
    let err = c.submit(transfer(&c, 0, 0, 1, false)).unwrap_err();
    assert!(matches!(err, ChainError::InsufficientFunds { .. }), "{err}");
    let err = c.submit_raw(&[0xc0]).unwrap_err();
    assert!(matches!(err, ChainError::MalformedTransaction(_)), "{err}");
    assert_eq!(c.accounts(), before);
    assert_eq!(c.pool_counts(), (0, 0));
}

#[test]
fn fee_below_base_fee_is_refused() {
    let mut c = chain(MiningMode::Manual);
    let from = c.keys().addresses()[0];
    let env = c
        .keys()
        .sign(
            from,
            UnsignedFields {
                chain_id: c.chain_id(),
                nonce: 0,
                to: Some(from),
                value: U256::ZERO,
                data: Default::default(),
                gas: 21_000,
                gas_price: Some(1),
                max_fee_per_gas: 0,
                max_priority_fee_per_gas: 0,
            },
        )
        .unwrap();
    let err = c.submit(SignedTx::from_envelope(env).unwrap()).unwrap_err();
    assert!(matches!(err, ChainError::FeeTooLow { offered: 1, .. }));
}

#[test]
fn snapshot_and_revert_restore_state_and_height() {
    let mut c = chain(MiningMode::Manual);
    let a0 = c.keys().addresses()[0];
    let before = c.account(&a0, BlockTag::Latest).unwrap();
    let id = c.snapshot().unwrap();
    let hash = c.submit(transfer(&c, 0, 0, 7, false)).unwrap();
    mine(&mut c, 1_700_000_001_000);
    mine(&mut c, 1_700_000_002_000);
    c.set_balance(a0, U256::from(5));
    assert_eq!(c.head(), 2);
    assert!(c.revert(id).unwrap());
    assert_eq!(c.head(), 0);
    assert_eq!(c.account(&a0, BlockTag::Latest).unwrap(), before);
    assert!(c.transaction(&hash).unwrap().is_none());
    assert!(!c.revert(id).unwrap(), "a snapshot is used up by reverting to it");
}

#[test]
fn timestamps_never_go_backwards() {
    let mut c = chain(MiningMode::Manual);
    mine(&mut c, 1_700_000_005_000);
    mine(&mut c, 1_700_000_001_000); // wall clock stepped back
    let b1 = c.block(BlockTag::Number(1)).unwrap().unwrap().header.clone();
    let b2 = c.block(BlockTag::Number(2)).unwrap().unwrap().header.clone();
    assert!(b2.timestamp_ms >= b1.timestamp_ms && b2.timestamp >= b1.timestamp);
}

#[test]
fn restores_from_stored_blocks() {
    let mut c = chain(MiningMode::Manual);
    let a0 = c.keys().addresses()[0];
    let hash = c.submit(transfer(&c, 0, 0, 7, true)).unwrap();
    mine(&mut c, 1_700_000_001_000);
    c.set_balance(a0, U256::from(123_456_789u64));
    let stored: Vec<StoredBlock> = (0..=c.head())
        .map(|n| {
            let json = serde_json::to_string(&c.block(BlockTag::Number(n)).unwrap().unwrap().to_stored()).unwrap();
            serde_json::from_str(&json).unwrap()
        })
        .collect();
    let r = Chain::restore(&Genesis::new(0), MiningMode::Manual, stored.clone(), c.accounts()).unwrap();
    assert_eq!(r.head(), 1);
    assert!(r.receipt(&hash).unwrap().is_some());
    assert_eq!(r.account(&a0, BlockTag::Latest).unwrap().balance, U256::from(123_456_789u64));
    assert_eq!(r.nonce(&a0, BlockTag::Latest).unwrap(), 1);
    // A tampered block is refused.
    let mut bad = stored;
    bad[1].header.gas_used += 1;
    assert!(Chain::restore(&Genesis::new(0), MiningMode::Manual, bad, vec![]).is_err());
}

#[test]
fn block_gas_limit_defers_transactions() {
    let mut g = Genesis::new(0);
    g.gas_limit = 50_000;
    let mut c = Chain::new(&g, MiningMode::Manual).unwrap();
    for i in 0..3 {
        c.submit(transfer(&c, i, 0, 1, false)).unwrap();
    }
    mine(&mut c, 1000);
    assert_eq!(c.block(BlockTag::Latest).unwrap().unwrap().transactions.len(), 2);
    mine(&mut c, 2000);
    assert_eq!(c.block(BlockTag::Latest).unwrap().unwrap().transactions.len(), 1);
}


fn signed(c: &Chain, from: usize, nonce: u64, value: U256, max_fee: u128) -> SignedTx {
    sign_with(c, from, nonce, |f| {
        f.value = value;
        f.max_fee_per_gas = max_fee;
    })
}

#[test]
fn amounts_that_overflow_are_refused() {
    let mut c = chain(MiningMode::Manual);
    let err = c.submit(signed(&c, 0, 0, U256::MAX, 3 * GWEI)).unwrap_err();
    assert!(matches!(err, ChainError::InsufficientFunds { need, .. } if need == U256::MAX));
    // A recipient near 2^256 cannot be credited: the tx is dropped, nothing wraps.
    let to = address!("00000000000000000000000000000000000000aa");
    c.set_balance(to, U256::MAX - U256::from(1));
    c.submit(signed(&c, 0, 0, U256::from(5), 3 * GWEI)).unwrap();
    mine(&mut c, 1_700_000_001_000);
    assert!(c.block(BlockTag::Latest).unwrap().unwrap().transactions.is_empty());
    assert_eq!(c.account(&to, BlockTag::Latest).unwrap().balance, U256::MAX - U256::from(1));
}

#[test]
fn pooled_transactions_must_be_affordable_together() {
    let mut c = chain(MiningMode::Manual);
    let a0 = c.keys().addresses()[0];
    let six_k = U256::from(6_000u64) * U256::from(OPG_WEI);
    c.submit(signed(&c, 0, 0, six_k, 3 * GWEI)).unwrap();
    let err = c.submit(signed(&c, 0, 1, six_k, 3 * GWEI)).unwrap_err();
    assert!(matches!(err, ChainError::InsufficientFunds { address, .. } if address == a0));
}

#[test]
fn snapshot_ids_are_never_reused() {
    let mut c = chain(MiningMode::Manual);
    let first = c.snapshot().unwrap();
    assert!(c.revert(first).unwrap());
    let second = c.snapshot().unwrap();
    assert_ne!(first, second);
    assert!(!c.revert(first).unwrap(), "a used-up id stays used up");
    assert!(c.revert(second).unwrap());
}

#[test]
fn edits_between_blocks_do_not_rewrite_history() {
    let mut c = chain(MiningMode::Manual);
    let a0 = c.keys().addresses()[0];
    mine(&mut c, 1_700_000_001_000);
    let sealed = c.account(&a0, BlockTag::Number(1)).unwrap();
    let root = c.block(BlockTag::Number(1)).unwrap().unwrap().header.state_root;
    c.set_balance(a0, U256::from(42));
    assert_eq!(c.account(&a0, BlockTag::Latest).unwrap().balance, U256::from(42));
    assert_eq!(c.account(&a0, BlockTag::Number(1)).unwrap(), sealed);
    assert_eq!(c.state.state_root(1), root);
    mine(&mut c, 1_700_000_002_000);
    // The edit became part of block 2, whose record carries it for a restart.
    let b2 = c.block(BlockTag::Number(2)).unwrap().unwrap();
    assert!(b2.state_changes.iter().any(|(a, acc)| *a == a0 && acc.balance == U256::from(42)));
}

pub(super) mod inference {
    use std::sync::Arc;
    use std::time::Duration;

    use alloy_sol_types::{SolCall, SolEvent};

    use super::*;
    use crate::chain::native::models::ModelSpec;
    use crate::chain::native::INFERENCE_HUB;
    use crate::eth::abi;
    use crate::pipe::{ManualClock, PipeConfig};

    pub(in crate::chain) fn chain_with_model() -> Chain {
        let clock = Arc::new(ManualClock::new(1_700_000_000_000));
        let mut c = Chain::with_pipe(&Genesis::new(0), MiningMode::Manual, PipeConfig::default(), clock).unwrap();
        c.register_model(ModelSpec::test_onnx("m", ("x", vec![1]), ("y", vec![1]), vec![0, 2, 3])).unwrap();
        c
    }

    /// Calldata of `run(model, mode, {x: [2]})` on the hub.
    pub(in crate::chain) fn run_data(model: &str, mode: u8) -> Bytes {
        abi::runCall {
            modelId: model.into(),
            inferenceMode: mode,
            modelInput: x_input(2),
        }
        .abi_encode()
        .into()
    }

    /// The test model's input: `x` = [value].
    pub(in crate::chain) fn x_input(value: i128) -> abi::ModelInput {
        abi::ModelInput {
            numbers: vec![abi::MultiDimensionalNumberTensor {
                name: "x".into(),
                values: vec![abi::Number { value, decimals: 0 }],
                shape: vec![1],
            }],
            strings: vec![],
        }
    }

    fn hub_tx(c: &Chain, nonce: u64, data: Bytes) -> SignedTx {
        sign_with(c, 0, nonce, |f| {
            f.to = Some(INFERENCE_HUB);
            f.data = data;
            f.gas = 500_000;
        })
    }

    #[test]
    fn an_inference_waits_for_its_result_without_holding_blocks() {
        let mut c = chain_with_model();
        let a0 = c.keys().addresses()[0];
        let req = TxRequest { from: Some(a0), to: Some(INFERENCE_HUB), data: Some(run_data("m", 0)), ..Default::default() };
        let estimate = c.estimate_gas(&req).unwrap();
        assert_eq!(estimate, intrinsic_gas(&run_data("m", 0), false, 0, 0) + hub::MODEL_GAS);
        let h = c.submit(hub_tx(&c, 0, run_data("m", 0))).unwrap();
        let later = c.submit(transfer(&c, 0, 1, 5, false)).unwrap();
        // Not decided yet: blocks go on without it, and the sender's next tx waits behind it.
        mine(&mut c, 1_700_000_001_000);
        assert!(c.block(BlockTag::Latest).unwrap().unwrap().transactions.is_empty());
        let pipe = c.pipe().clone();
        let (node, work) = (0..4).find_map(|n| pipe.take(n, Duration::ZERO).map(|w| (n, w))).unwrap();
        pipe.complete(node, work.job, work.attempt, Ok(r#"{"numbers":[{"name":"y","values":[["4","0"]],"shape":[1]}]}"#.into()), false);
        mine(&mut c, 1_700_000_002_000);
        let block = c.block(BlockTag::Latest).unwrap().unwrap();
        assert_eq!(block.transactions.iter().map(|t| t.hash).collect::<Vec<_>>(), vec![h, later]);
        let r = &block.receipts[0];
        assert!(r.status);
        assert_eq!(r.gas_used, estimate);
        assert_eq!(r.logs[0].topics()[0], abi::InferenceResult::SIGNATURE_HASH);
        // VANILLA settles at inclusion: the winning node earned the fee at once.
        let winner = pipe.node_address(node).unwrap();
        assert_eq!(c.account(&winner, BlockTag::Latest).unwrap().balance, c.economics().fee("m", 0));
        assert!(pipe.job_json(&h).is_none(), "a committed job is handed to the store");
    }

    #[test]
    fn bad_input_reverts_at_estimate_and_fails_when_mined() {
        let mut c = chain_with_model();
        let a0 = c.keys().addresses()[0];
        let req = TxRequest { from: Some(a0), to: Some(INFERENCE_HUB), data: Some(run_data("nope", 0)), ..Default::default() };
        assert!(matches!(c.estimate_gas(&req), Err(ChainError::Revert(r)) if r.contains("unknown model id")));
        assert!(matches!(c.call(&req, BlockTag::Latest), Err(ChainError::Revert(_))));
        let h = c.submit(hub_tx(&c, 0, run_data("m", 1))).unwrap();
        let n = c.seal_block(1_700_000_001_000).unwrap().header.number;
        assert!(c.pipe().job_json(&h).unwrap()["error"].as_str().unwrap().contains("does not support ZKML"));
        c.publish(n).unwrap();
        let (block, i) = c.receipt(&h).unwrap().unwrap();
        assert!(!block.receipts[i].status && block.receipts[i].logs.is_empty());
        assert_eq!(c.nonce(&a0, BlockTag::Latest).unwrap(), 1, "the nonce is used, as on Ethereum");
    }

    use crate::chain::settlement::Verdict;

    const Y4: &str = r#"{"numbers":[{"name":"y","values":[["4","0"]],"shape":[1]}]}"#;
    const Y5: &str = r#"{"numbers":[{"name":"y","values":[["5","0"]],"shape":[1]}]}"#;

    /// Answers every queued attempt with `output`; returns the answering nodes.
    fn answer_all(c: &Chain, output: &str) -> Vec<usize> {
        let pipe = c.pipe().clone();
        let mut nodes = vec![];
        for n in 0..4 {
            while let Some(w) = pipe.take(n, Duration::ZERO) {
                pipe.complete(n, w.job, w.attempt, Ok(output.into()), false);
                nodes.push(n);
            }
        }
        nodes
    }

    fn balance(c: &Chain, a: &Address) -> U256 {
        c.account(a, BlockTag::Latest).unwrap().balance
    }

    #[test]
    fn an_optimistic_lie_is_disputed_then_slashed_and_the_challenger_rewarded() {
        let mut c = chain_with_model();
        c.set_challenge_window(5);
        let a0 = c.keys().addresses()[0];
        let h = c.submit(hub_tx(&c, 0, run_data("m", 3))).unwrap();
        let node = answer_all(&c, Y5)[0]; // a wrong answer: the model doubles its input
        let node_addr = c.pipe().node_address(node).unwrap();
        let (stake, watcher) = (crate::chain::economics::stake_address(&node_addr), c.watcher());
        let before = (balance(&c, &a0), balance(&c, &stake), balance(&c, &watcher));
        mine(&mut c, 1_700_000_001_000);
        let fee = c.economics().fee("m", 3);
        assert_eq!(balance(&c, &INFERENCE_HUB), fee, "the fee waits in the hub");
        assert_eq!(c.unsettled().len(), 1);
        c.challenge(h, Y4.into(), 0).unwrap();
        assert!(c.challenge(h, Y4.into(), 0).is_err(), "one challenge per result");
        assert!(c.referee(h, Y4.into()).is_err(), "the dispute is not recorded yet");
        mine(&mut c, 1_700_000_002_000);
        let settled = &c.block(BlockTag::Latest).unwrap().unwrap().settlements;
        assert_eq!(settled.iter().map(|r| r.outcome.as_str()).collect::<Vec<_>>(), vec!["disputed"]);
        c.referee(h, Y4.into()).unwrap();
        mine(&mut c, 1_700_000_003_000);
        let r = &c.block(BlockTag::Latest).unwrap().unwrap().settlements[0];
        assert_eq!((r.outcome.as_str(), r.challenger), ("slashed", Some(watcher)));
        let bond = c.economics().bond;
        assert_eq!((r.slashed, r.reward, r.fee), (bond, c.economics().reward(bond), fee));
        assert_eq!(balance(&c, &stake), before.1 - bond);
        assert_eq!(balance(&c, &watcher), before.2 + c.economics().reward(bond));
        assert!(balance(&c, &a0) < before.0 && before.0 - balance(&c, &a0) < fee, "the sender paid gas, not the fee");
        assert_eq!(balance(&c, &INFERENCE_HUB), U256::ZERO);
        assert!(c.unsettled().is_empty());
    }

    #[test]
    fn an_unchallenged_optimistic_result_settles_when_the_window_closes() {
        let mut c = chain_with_model();
        c.set_challenge_window(3);
        let h = c.submit(hub_tx(&c, 0, run_data("m", 3))).unwrap();
        let node = c.pipe().node_address(answer_all(&c, Y4)[0]).unwrap();
        mine(&mut c, 1_700_000_001_000);
        let included = c.head();
        for t in 2..=4 {
            mine(&mut c, 1_700_000_000_000 + t * 1000);
            let outcomes: Vec<String> = c.block(BlockTag::Latest).unwrap().unwrap().settlements.iter().map(|r| r.outcome.clone()).collect();
            assert_eq!(outcomes.is_empty(), c.head() < included + 3, "block {}", c.head());
        }
        assert_eq!(balance(&c, &node), c.economics().fee("m", 3));
        assert!(c.challenge(h, Y5.into(), 0).is_err(), "the window has closed");
    }

    #[test]
    fn a_zkml_verdict_settles_or_rejects_in_the_next_block() {
        let mut c = chain_with_model();
        c.register_model(ModelSpec::test_onnx("z", ("x", vec![1]), ("y", vec![1]), vec![0, 1])).unwrap();
        let good = c.submit(hub_tx(&c, 0, run_data("z", 1))).unwrap();
        let bad = c.submit(hub_tx(&c, 1, run_data("z", 1))).unwrap();
        answer_all(&c, Y4);
        mine(&mut c, 1_700_000_001_000);
        mine(&mut c, 1_700_000_002_000);
        assert!(c.block(BlockTag::Latest).unwrap().unwrap().settlements.is_empty(), "no proof yet: nothing to settle");
        c.submit_proof(good, "{}".into(), 5, Verdict::Valid).unwrap();
        c.submit_proof(bad, "{}".into(), 6, Verdict::Invalid("output_mismatch: no".into())).unwrap();
        assert!(c.submit_proof(bad, "{}".into(), 6, Verdict::Valid).is_err(), "one proof per result");
        mine(&mut c, 1_700_000_003_000);
        let rs = &c.block(BlockTag::Latest).unwrap().unwrap().settlements;
        let by = |h: B256| rs.iter().find(|r| r.id == h).unwrap();
        assert_eq!(by(good).outcome, "settled");
        assert_eq!((by(bad).outcome.as_str(), by(bad).reason.as_deref()), ("rejected", Some("output_mismatch: no")));
        assert_eq!(by(bad).slashed, c.economics().bond);
        assert!(c.submit_proof(good, "{}".into(), 7, Verdict::Valid).is_err(), "settled results take no more proofs");
        // The rejected sender was refunded; the hub holds nothing once all is settled.
        assert_eq!(balance(&c, &INFERENCE_HUB), U256::ZERO);
    }

    #[test]
    fn run_many_delivers_every_call_and_settles_each_apart() {
        let mut c = chain_with_model();
        c.set_challenge_window(2);
        let call = |mode: u8| {
            let r = abi::runCall::abi_decode(&run_data("m", mode)).unwrap();
            abi::RunRequest { modelId: r.modelId, inferenceMode: r.inferenceMode, modelInput: r.modelInput }
        };
        let data: Bytes = abi::runManyCall { requests: vec![call(0), call(3)] }.abi_encode().into();
        let req = TxRequest { to: Some(INFERENCE_HUB), data: Some(data.clone()), ..Default::default() };
        assert_eq!(c.estimate_gas(&req).unwrap(), intrinsic_gas(&data, false, 0, 0) + 2 * hub::MODEL_GAS);
        let h = c.submit(hub_tx(&c, 0, data)).unwrap();
        assert_eq!(c.pipe().job_json(&h).unwrap()["calls"].as_array().unwrap().len(), 2);
        answer_all(&c, Y4);
        mine(&mut c, 1_700_000_001_000);
        let block = c.block(BlockTag::Latest).unwrap().unwrap();
        assert_eq!(block.receipts[0].logs.len(), 2, "one InferenceResult per call");
        assert_eq!(c.unsettled().iter().map(|d| (d.tx_hash, d.mode)).collect::<Vec<_>>(), vec![(h, 3)]);
        assert_eq!(c.unsettled()[0].id, crate::pipe::call_id(&h, 1));
    }

    #[test]
    fn a_revert_brings_back_results_settled_after_the_snapshot() {
        let mut c = chain_with_model();
        let h = c.submit(hub_tx(&c, 0, run_data("m", 3))).unwrap();
        answer_all(&c, Y4);
        c.set_challenge_window(2);
        mine(&mut c, 1_700_000_001_000);
        let snap = c.snapshot().unwrap();
        mine(&mut c, 1_700_000_002_000);
        mine(&mut c, 1_700_000_003_000);
        assert!(c.unsettled().is_empty(), "settled when the window closed");
        assert!(c.revert(snap).unwrap());
        assert_eq!(c.unsettled().iter().map(|d| d.id).collect::<Vec<_>>(), vec![h]);
        assert_eq!(balance(&c, &INFERENCE_HUB), c.economics().fee("m", 3), "the fee is back in the hub");
        mine(&mut c, 1_700_000_004_000);
        mine(&mut c, 1_700_000_005_000);
        assert!(c.unsettled().is_empty() && balance(&c, &INFERENCE_HUB).is_zero(), "and settles again");
    }

    #[test]
    fn a_discarded_block_loses_no_settlement_work() {
        let mut c = chain_with_model();
        c.register_model(ModelSpec::test_onnx("z", ("x", vec![1]), ("y", vec![1]), vec![0, 1])).unwrap();
        let h = c.submit(hub_tx(&c, 0, run_data("z", 1))).unwrap();
        answer_all(&c, Y4);
        mine(&mut c, 1_700_000_001_000);
        // A block is sealed; while it awaits its commit the proof arrives; then the commit fails.
        c.seal_block(1_700_000_002_000).unwrap();
        c.submit_proof(h, "{}".into(), 5, Verdict::Valid).unwrap();
        c.discard_staged();
        assert_eq!(c.unsettled()[0].verdict, Some(Verdict::Valid), "the verdict survived the discard");
        mine(&mut c, 1_700_000_003_000);
        assert_eq!(c.block(BlockTag::Latest).unwrap().unwrap().settlements[0].outcome, "settled");
    }

    #[test]
    fn the_inference_fee_counts_toward_what_a_sender_can_pool() {
        let mut c = chain_with_model();
        let a0 = c.keys().addresses()[0];
        // Enough for the gas of many inferences, but only for one fee on top.
        let fee = c.economics().fee("m", 2);
        let gas = U256::from(500_000u64) * U256::from(3_000_000_000u64);
        c.set_balance(a0, gas * U256::from(2) + fee + fee / U256::from(2));
        c.submit(hub_tx(&c, 0, run_data("m", 2))).unwrap();
        let second = c.submit(hub_tx(&c, 1, run_data("m", 2)));
        assert!(matches!(second, Err(ChainError::InsufficientFunds { .. })), "{second:?}");
    }
}

#[test]
fn a_batch_of_raw_transactions_answers_each_as_single_submits_would() {
    let mut single = chain(MiningMode::Manual);
    let mut batched = chain(MiningMode::Manual);
    let c = &single;
    let mut raws: Vec<Vec<u8>> = Vec::new();
    for i in 0..40u64 {
        raws.push(transfer(c, (i % 4) as usize, i / 4, 1 + i, i % 5 == 0).raw().to_vec());
    }
    let good = raws.len();
    raws.push(vec![0xc0]); // malformed
    raws.push(transfer(c, 0, 0, 1, false).raw().to_vec()); // nonce 0 again: replacement underpriced
    raws.push(raws[3].clone()); // already known
    raws.push(transfer(c, 5, 0, u64::MAX, false).raw().to_vec()); // value above nothing: fine
    raws.push(sign_with(c, 6, 0, |f| f.value = U256::MAX).raw().to_vec()); // cannot pay
    raws.push(sign_with(c, 6, 0, |f| f.chain_id = 1).raw().to_vec()); // foreign chain
    raws.push(sign_with(c, 6, 0, |f| f.max_fee_per_gas = 1).raw().to_vec()); // below the base fee
    raws.push(sign_with(c, 6, 0, |f| f.gas = 20_000).raw().to_vec()); // below intrinsic gas
    raws.push(transfer(c, 6, 0, 7, false).raw().to_vec()); // the sender's good one, after its bad ones
    raws.push(transfer(c, 6, 1, 8, false).raw().to_vec()); // and its next, in the same batch
    raws.push(transfer(c, 7, 70, 1, false).raw().to_vec()); // too far ahead
    let singles: Vec<Result<B256, String>> =
        raws.iter().map(|r| single.submit_raw(r).map_err(|e| e.to_string())).collect();
    let batch: Vec<Result<B256, String>> =
        batched.submit_raw_batch(&raws).into_iter().map(|r| r.map_err(|e| e.to_string())).collect();
    assert_eq!(batch, singles);
    assert!(batch[..good].iter().all(|r| r.is_ok()));
    let errors = batch.iter().filter(|r| r.is_err()).count();
    assert_eq!(errors, 8, "{batch:#?}");
    assert!(batch[good + 3].is_ok() && batch[good + 8].is_ok() && batch[good + 9].is_ok());
    assert_eq!(batched.pool_counts(), single.pool_counts());
    for a in batched.keys().addresses() {
        assert_eq!(batched.nonce(&a, BlockTag::Pending).unwrap(), single.nonce(&a, BlockTag::Pending).unwrap());
    }
    let (n1, n2) = (mine(&mut single, 1_700_000_001_000), mine(&mut batched, 1_700_000_001_000));
    let hashes = |c: &Chain, n| c.block(BlockTag::Number(n)).unwrap().unwrap().transactions.iter().map(|t| t.hash).collect::<Vec<_>>();
    assert_eq!(hashes(&batched, n2), hashes(&single, n1));
    assert_eq!(hashes(&batched, n2).len(), good + 3);
    assert!(batched.submit_raw_batch::<Vec<u8>>(&[]).is_empty());
}
