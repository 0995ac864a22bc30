use alloy_primitives::{Address, B256, U256};
use serde_json::{json, Value};

use super::*;

const NODE: Address = Address::repeat_byte(0x11);
const WATCHER: Address = Address::repeat_byte(0x22);

/// A record as its block gave it: mode `mode`, result at 1 000, included at 1 500 in block 10.
fn delivered(mode: Mode, status: Status) -> InferenceRecord {
    let mut r = InferenceRecord::new(B256::repeat_byte(1), B256::repeat_byte(1), None, "m".into(), Some(CallKind::Model), mode, status, 900);
    r.t_result = Some(1_000);
    r.t_included = Some(1_500);
    r.block_number = Some(10);
    r.winner_node = Some(0);
    r.winner_address = Some(NODE);
    r.included(10, 3);
    r
}

fn step(mode: Mode, outcome: StepOutcome, block: u64, t_settled: u64) -> SettlementStep {
    SettlementStep {
        id: B256::repeat_byte(1),
        tx_hash: B256::repeat_byte(1),
        mode,
        node: NODE,
        outcome,
        reason: None,
        t_result: 1_000,
        t_proof_submitted: None,
        proof_hash: None,
        proof_bytes: None,
        fee: U256::from(7),
        slashed: U256::ZERO,
        slashed_account: None,
        challenger: None,
        reward: U256::ZERO,
        t_settled,
        settlement_block: block,
    }
}

fn wire(r: &InferenceRecord) -> Value {
    serde_json::to_value(r).unwrap()
}

#[test]
fn modes_are_numbers_on_the_wire_with_one_table_of_names() {
    for (i, m) in Mode::ALL.into_iter().enumerate() {
        assert_eq!(m.number() as usize, i);
        assert_eq!(Mode::try_from(i as u8), Ok(m));
        assert_eq!(serde_json::to_value(m).unwrap(), json!(i));
        assert_eq!(serde_json::from_value::<Mode>(json!(i)).unwrap(), m);
        assert_eq!(Mode::from_name(&m.name().to_lowercase()), Some(m));
        assert_eq!(crate::chain::native::models::MODE_NAMES[i], m.name());
    }
    assert_eq!(Mode::ALL.map(Mode::name), ["VANILLA", "ZKML", "TEE", "OPTIMISTIC"]);
    assert_eq!(Mode::BY_STRENGTH.map(Mode::name), ["VANILLA", "OPTIMISTIC", "TEE", "ZKML"]);
    assert_eq!(Mode::try_from(4).unwrap_err().to_string(), "unknown inference mode 4 (0 VANILLA, 1 ZKML, 2 TEE, 3 OPTIMISTIC)");
    assert!(serde_json::from_value::<Mode>(json!(9)).is_err());
    assert_eq!(crate::chain::native::models::mode_name(9), "mode 9");
}

#[test]
fn enum_wire_strings_are_their_serde_names() {
    for s in Status::ALL {
        assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
        assert_eq!(Status::parse(s.as_str()), Some(s));
    }
    use AttemptOutcome::*;
    for o in [Queued, Running, Valid, Won, Agreed, Disagreed, Invalid, Failed, BadInput, TimedOut, Cancelled, Late] {
        assert_eq!(serde_json::to_value(o).unwrap(), json!(o.as_str()));
    }
    for o in [StepOutcome::Settled, StepOutcome::Rejected, StepOutcome::Disputed, StepOutcome::Slashed, StepOutcome::Penalised] {
        assert_eq!(serde_json::to_value(o).unwrap(), json!(o.as_str()));
        assert_eq!(StepOutcome::parse(o.as_str()), Some(o));
    }
}

#[test]
fn inclusion_settles_vanilla_opens_the_optimistic_window_and_keeps_the_delivered_status() {
    let v = delivered(Mode::Vanilla, Status::Settled);
    assert_eq!((v.t_settled, v.trust_gap_ms, v.settlement_block), (Some(1_500), Some(500), Some(10)));
    assert_eq!(v.delivered_status, Some(Status::Settled));
    let o = delivered(Mode::Optimistic, Status::Challengeable);
    assert_eq!((o.challenge_window_ends, o.t_settled), (Some(13), None));
    let t = delivered(Mode::Tee, Status::Delivered);
    assert_eq!((t.challenge_window_ends, t.t_settled, t.delivered_status), (None, None, Some(Status::Delivered)));
    // Fields no step has set yet are absent, not null.
    let w = wire(&t);
    for key in ["t_settled", "settlement_block", "trust_gap_ms", "fee_paid", "rejection_reason", "t_disputed", "penalties", "settlement_steps", "challenge_window_ends"] {
        assert!(w.get(key).is_none(), "{key}");
    }
    assert_eq!((w["mode"].clone(), w["mode_name"].clone(), w["status"].clone()), (json!(2), json!("TEE"), json!("delivered")));
    assert_eq!(w["delivered_status"], "delivered");
}

#[test]
fn a_failed_transaction_fails_every_call_with_a_reason() {
    let mut r = delivered(Mode::Tee, Status::Delivered);
    let mut other = r.clone();
    r.fail_with_tx();
    assert_eq!((r.status, r.error.as_deref()), (Status::Failed, Some("the transaction failed: another call of it failed or it ran out of gas")));
    other.error = Some("no valid result".into());
    other.fail_with_tx();
    assert_eq!(other.error.as_deref(), Some("no valid result"));
}

#[test]
fn a_proof_settles_in_a_later_block_with_the_trust_gap_and_the_fee() {
    let mut r = delivered(Mode::Tee, Status::Delivered);
    let mut st = step(Mode::Tee, StepOutcome::Settled, 11, 1_700);
    st.t_proof_submitted = Some(1_000);
    st.proof_hash = Some(B256::repeat_byte(9));
    st.proof_bytes = Some(321);
    r.apply(&st);
    assert_eq!(r.status, Status::Settled);
    assert_eq!((r.t_settled, r.settlement_block, r.trust_gap_ms, r.last_step_block()), (Some(1_700), Some(11), Some(700), Some(11)));
    let w = wire(&r);
    assert_eq!(w["fee_paid"], "7");
    assert_eq!(w["slashed"], "0");
    assert_eq!(w["proof_bytes"], 321);
    assert_eq!(w["rejection_reason"], Value::Null, "present, null: a step set it");
    assert_eq!(w["settlement_steps"].as_array().unwrap().len(), 1);
    assert_eq!(w["settlement_steps"][0]["fee"], "7");
    assert_eq!(w["settlement_steps"][0]["outcome"], "settled");
    assert_eq!(w["delivered_status"], "delivered");
}

#[test]
fn a_rejected_proof_pays_nothing_and_counts_what_the_node_lost() {
    let mut r = delivered(Mode::Zkml, Status::Delivered);
    let mut st = step(Mode::Zkml, StepOutcome::Rejected, 12, 2_000);
    st.reason = Some("output_mismatch: x".into());
    st.slashed = U256::from(50);
    st.slashed_account = Some(NODE);
    r.apply(&st);
    let s = r.settlement.as_ref().unwrap();
    assert_eq!((r.status, s.fee_paid, s.slashed, s.rejection_reason.as_deref()), (Status::Rejected, U256::ZERO, U256::from(50), Some("output_mismatch: x")));
    assert_eq!(r.trust_gap_ms, Some(1_000));
}

#[test]
fn optimistic_disputed_then_slashed_or_kept() {
    let mut r = delivered(Mode::Optimistic, Status::Challengeable);
    let mut dispute = step(Mode::Optimistic, StepOutcome::Disputed, 11, 1_600);
    dispute.challenger = Some(WATCHER);
    let mut kept = r.clone();
    r.apply(&dispute);
    assert_eq!(r.status, Status::Disputed);
    assert_eq!(r.dispute, Some(Dispute { t_disputed: 1_600, dispute_block: 11, challenger: Some(WATCHER) }));
    assert!(r.t_settled.is_none(), "a dispute is not a settlement");
    let mut slash = step(Mode::Optimistic, StepOutcome::Slashed, 12, 1_800);
    (slash.slashed, slash.slashed_account, slash.challenger) = (U256::from(50), Some(NODE), Some(WATCHER));
    r.apply(&slash);
    assert_eq!((r.status, r.settlement.as_ref().unwrap().slashed, r.t_settled), (Status::Slashed, U256::from(50), Some(1_800)));
    assert_eq!(wire(&r)["t_disputed"], 1_600, "the dispute stays on the record");
    // The referee agreed with the node: it settles, and the challenger's bond is not the node's loss.
    kept.apply(&dispute);
    let mut settle = step(Mode::Optimistic, StepOutcome::Settled, 12, 1_800);
    (settle.slashed, settle.slashed_account) = (U256::from(50), Some(WATCHER));
    kept.apply(&settle);
    assert_eq!((kept.status, kept.settlement.as_ref().unwrap().slashed, kept.settlement.as_ref().unwrap().fee_paid), (Status::Settled, U256::ZERO, U256::from(7)));
}

#[test]
fn a_penalty_is_noted_and_leaves_the_status_alone() {
    let mut r = delivered(Mode::Vanilla, Status::Settled);
    let mut p = step(Mode::Vanilla, StepOutcome::Penalised, 11, 1_600);
    (p.node, p.reason, p.slashed) = (WATCHER, Some("outvoted".into()), U256::from(5));
    r.apply(&p);
    assert_eq!(r.status, Status::Settled);
    assert_eq!(r.penalties, Some(vec![PenaltyNote { node: WATCHER, reason: Some("outvoted".into()), slashed: U256::from(5) }]));
    assert_eq!(r.settlement_block, Some(10), "VANILLA settled at inclusion");
}

#[test]
fn a_revert_undoes_the_steps_after_its_head() {
    let mut r = delivered(Mode::Optimistic, Status::Challengeable);
    let mut dispute = step(Mode::Optimistic, StepOutcome::Disputed, 11, 1_600);
    dispute.challenger = Some(WATCHER);
    r.apply(&dispute);
    r.apply(&step(Mode::Optimistic, StepOutcome::Settled, 13, 1_900));
    let mut back = r.clone();
    back.revert_to(12);
    assert_eq!((back.status, back.t_settled, back.settlement.is_none(), back.last_step_block()), (Status::Disputed, None, true, Some(11)));
    back.revert_to(10);
    let w = wire(&back);
    assert_eq!((w["status"].clone(), w["settlement_steps"].clone()), (json!("challengeable"), json!([])));
    assert!(w.get("t_settled").is_none() && w.get("t_disputed").is_none() && w.get("fee_paid").is_none());
    assert_eq!(back.last_step_block(), None);
    // Undone and redone, the record is as it was.
    let mut again = back.clone();
    again.apply(&dispute);
    again.apply(&step(Mode::Optimistic, StepOutcome::Settled, 13, 1_900));
    assert_eq!(again, r);
    // VANILLA keeps what its inclusion settled.
    let mut v = delivered(Mode::Vanilla, Status::Settled);
    v.apply(&step(Mode::Vanilla, StepOutcome::Penalised, 11, 1_600));
    v.revert_to(10);
    assert_eq!((v.status, v.t_settled, v.penalties.clone(), v.settlement_steps.clone()), (Status::Settled, Some(1_500), None, Some(vec![])));
}

#[test]
fn a_stored_record_reads_back_as_it_was_written() {
    let mut r = delivered(Mode::Optimistic, Status::Challengeable);
    r.input = Some(json!({"model_id": "m", "numbers": []}));
    r.output = Some(json!({"numbers": [{"name": "y", "values": [["1", "0"]], "shape": [1]}]}));
    r.attempts.push(AttemptRecord { node: 0, node_address: NODE, hedge: false, dispatched_ms: 900, started_ms: Some(901), ended_ms: None, outcome: AttemptOutcome::Invalid, detail: Some("bad".into()) });
    for s in [Status::Challengeable, Status::Disputed] {
        let mut copy = r.clone();
        if s == Status::Disputed {
            copy.apply(&SettlementStep { challenger: Some(WATCHER), ..step(Mode::Optimistic, StepOutcome::Disputed, 11, 1_600) });
            copy.apply(&step(Mode::Optimistic, StepOutcome::Settled, 12, 1_700));
            copy.apply(&step(Mode::Optimistic, StepOutcome::Penalised, 12, 1_700));
        }
        let text = serde_json::to_string(&copy).unwrap();
        let back: InferenceRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(back, copy);
        assert_eq!(serde_json::to_string(&back).unwrap(), text);
    }
    let mut t = delivered(Mode::Tee, Status::Delivered);
    t.proof = Some(ProofCheck::Tee(TeeCheck {
        verified_at_result: true,
        module_id: "node-0".into(),
        attestation_timestamp_ms: 1,
        response_timestamp_ms: 2,
        attestation_bytes: 3,
        request_hash: B256::repeat_byte(4),
        output_hash: B256::repeat_byte(5),
    }));
    let w = wire(&t);
    assert_eq!((w["proof"]["kind"].clone(), w["proof"]["attestation_bytes"].clone()), (json!("tee"), json!(3)));
    assert_eq!(serde_json::from_value::<InferenceRecord>(w).unwrap(), t);
}

#[test]
fn a_run_many_transaction_is_settled_when_every_call_is() {
    let call = |mode, status, t_settled: Option<u64>| {
        let mut r = delivered(mode, Status::Delivered);
        (r.status, r.t_settled) = (status, t_settled);
        r
    };
    let many = |calls: Vec<InferenceRecord>| ManyRecord::new(B256::repeat_byte(1), calls);
    let all = many(vec![call(Mode::Vanilla, Status::Settled, Some(1_500)), call(Mode::Tee, Status::Settled, Some(1_800))]);
    assert_eq!((all.status, all.t_settled, all.trust_gap_ms, all.t_request, all.t_result), (Status::Settled, Some(1_800), Some(800), 900, 1_000));
    assert!(all.many && all.block_number == Some(10));
    let part = many(vec![call(Mode::Vanilla, Status::Settled, Some(1_500)), call(Mode::Zkml, Status::Rejected, Some(1_900))]);
    assert_eq!((part.status, part.t_settled), (Status::PartlyRejected, Some(1_900)));
    assert_eq!(many(vec![call(Mode::Tee, Status::Slashed, None), call(Mode::Tee, Status::Rejected, None)]).status, Status::Rejected);
    assert_eq!(many(vec![call(Mode::Tee, Status::Failed, None), call(Mode::Tee, Status::Failed, None)]).status, Status::Failed);
    let settling = many(vec![call(Mode::Vanilla, Status::Settled, Some(1_500)), call(Mode::Tee, Status::Delivered, None)]);
    assert_eq!((settling.status, settling.t_settled, settling.trust_gap_ms), (Status::Settling, None, None));
    assert_eq!(many(vec![call(Mode::Tee, Status::ResultReady, None), call(Mode::Tee, Status::Settled, Some(1))]).status, Status::Pending);
    let w = serde_json::to_value(TxInference::Many(all)).unwrap();
    assert_eq!((w["many"].clone(), w["status"].clone(), w["calls"].as_array().unwrap().len()), (json!(true), json!("settled"), 2));
}
