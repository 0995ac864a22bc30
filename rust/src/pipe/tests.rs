use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{Address, B256};
use alloy_sol_types::SolCall;

use super::*;
use crate::chain::native::hub::parse;
use crate::chain::native::models::{ModelRegistry, ModelSpec};
use crate::chain::native::INFERENCE_HUB;
use crate::eth::abi;

const GOOD: &str = r#"{"numbers":[{"name":"y","values":[["1","0"]],"shape":[1]}]}"#;
const WRONG: &str = r#"{"numbers":[{"name":"y","values":[["666","0"]],"shape":[1]}]}"#;

fn call() -> InferenceCall {
    let mut r = ModelRegistry::default();
    r.register(ModelSpec::test_onnx("m", ("x", vec![1]), ("y", vec![1]), vec![0])).unwrap();
    let data = abi::runCall {
        modelId: "m".into(),
        inferenceMode: 0,
        modelInput: abi::ModelInput {
            numbers: vec![abi::MultiDimensionalNumberTensor { name: "x".into(), values: vec![abi::Number { value: 1, decimals: 0 }], shape: vec![1] }],
            strings: vec![],
        },
    }
    .abi_encode();
    parse(INFERENCE_HUB, &data, &r).unwrap()
}

fn pipe(nodes: usize, config: PipeConfig) -> (Pipe, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(1_000_000));
    let addrs = (0..nodes).map(|i| Address::with_last_byte(i as u8 + 1)).collect();
    (Pipe::new(config, addrs, clock.clone()), clock)
}

fn tx(i: u8) -> B256 {
    B256::with_last_byte(i)
}

fn take(p: &Pipe, node: usize) -> Option<WorkItem> {
    p.take(node, Duration::ZERO)
}

fn outcomes(p: &Pipe, t: B256) -> Vec<String> {
    p.job_json(&t).unwrap()["attempts"].as_array().unwrap().iter().map(|a| a["outcome"].as_str().unwrap().to_string()).collect()
}

#[test]
fn first_valid_result_wins() {
    let (p, clock) = pipe(2, PipeConfig::default());
    p.submit(tx(1), vec![call()], false);
    assert!(!p.is_decided(&tx(1)));
    let (w0, w1) = (take(&p, 0), take(&p, 1));
    let (node, work) = match (w0, w1) {
        (Some(w), None) => (0, w),
        (None, Some(w)) => (1, w),
        other => panic!("exactly one node gets the job with redundancy 1: {other:?}"),
    };
    assert!(work.payload.contains("\"model_id\":\"m\""));
    clock.advance(12);
    p.complete(node, work.job, work.attempt, Ok(GOOD.into()), false);
    assert!(p.is_decided(&tx(1)));
    let won = p.outcome(&tx(1)).unwrap().remove(0);
    let (logs, winner) = (won.logs, won.winner);
    assert_eq!(logs.len(), 1);
    assert_eq!(winner, Address::with_last_byte(node as u8 + 1));
    let j = p.job_json(&tx(1)).unwrap();
    assert_eq!(j["t_result"].as_u64().unwrap() - j["t_request"].as_u64().unwrap(), 12);
    assert_eq!(j["status"], "result_ready");
}

#[test]
fn a_lingering_job_is_hedged_on_another_node_and_the_loser_discarded() {
    let config = PipeConfig { hedge_budget: 1.0, ..Default::default() };
    let (p, clock) = pipe(2, config);
    p.submit(tx(1), vec![call()], false);
    let slow = (0..2).find_map(|n| take(&p, n).map(|w| (n, w))).unwrap();
    clock.advance(999);
    p.tick();
    assert!(take(&p, 1 - slow.0).is_none(), "no hedge before the hedge delay");
    clock.advance(1);
    p.tick();
    let hedge = take(&p, 1 - slow.0).expect("hedged on the other node");
    p.complete(1 - slow.0, hedge.job, hedge.attempt, Ok(GOOD.into()), false);
    assert!(!p.is_wanted(&slow.1.job, slow.1.attempt), "the slow copy is cancelled");
    p.complete(slow.0, slow.1.job, slow.1.attempt, Ok(GOOD.into()), false);
    assert_eq!(outcomes(&p, tx(1)), vec!["cancelled", "won"]);
    assert_eq!(p.stats_json()["nodes"][slow.0]["running"], 0);
    let stats = p.stats_json();
    assert_eq!(stats["hedges"], 1);
    assert_eq!(stats["executions"], 2);
}

#[test]
fn hedges_stay_within_budget() {
    let (p, clock) = pipe(2, PipeConfig::default()); // 10 %
    for i in 0..20 {
        p.submit(tx(i), vec![call()], false);
    }
    clock.advance(1_000);
    p.tick();
    assert_eq!(p.stats_json()["hedges"], 2, "10 % of 20 jobs");
}

#[test]
fn redundancy_two_outvotes_a_wrong_answer() {
    let config = PipeConfig { redundancy: 2, ..Default::default() };
    let (p, _clock) = pipe(3, config);
    p.submit(tx(1), vec![call()], false);
    let mut work: Vec<(usize, WorkItem)> = (0..3).filter_map(|n| take(&p, n).map(|w| (n, w))).collect();
    assert_eq!(work.len(), 2);
    let (byz, honest) = (work.remove(0), work.remove(0));
    p.complete(byz.0, byz.1.job, byz.1.attempt, Ok(WRONG.into()), false);
    p.complete(honest.0, honest.1.job, honest.1.attempt, Ok(GOOD.into()), false);
    assert!(!p.is_decided(&tx(1)), "two different answers: no quorum yet");
    let third = (0..3).find_map(|n| take(&p, n).map(|w| (n, w))).expect("a third node is asked");
    assert!(third.0 != byz.0 && third.0 != honest.0);
    p.complete(third.0, third.1.job, third.1.attempt, Ok(GOOD.into()), false);
    let won = p.outcome(&tx(1)).unwrap().remove(0);
    let (logs, winner) = (won.logs, won.winner);
    assert_eq!(winner, Address::with_last_byte(honest.0 as u8 + 1));
    assert!(!logs.is_empty());
    assert_eq!(outcomes(&p, tx(1)), vec!["disagreed", "won", "agreed"]);
    assert_eq!(p.stats_json()["nodes"][byz.0]["disagreements"], 1);
}

#[test]
fn a_silent_node_times_out_and_the_job_moves_on() {
    let config = PipeConfig { hedge_budget: 0.0, ..Default::default() };
    let (p, clock) = pipe(2, config);
    p.submit(tx(1), vec![call()], false);
    let (down, _lost) = (0..2).find_map(|n| take(&p, n).map(|w| (n, w))).unwrap();
    clock.advance(5_000);
    p.tick();
    let retry = take(&p, 1 - down).expect("retried elsewhere after the timeout");
    p.complete(1 - down, retry.job, retry.attempt, Ok(GOOD.into()), false);
    assert_eq!(outcomes(&p, tx(1)), vec!["timed_out", "won"]);
    let stats = p.stats_json();
    assert_eq!(stats["nodes"][down]["timeouts"], 1);
    assert_eq!(stats["nodes"][down]["healthy"], false);
    // The next job avoids the node that timed out.
    p.submit(tx(2), vec![call()], false);
    assert!(take(&p, down).is_none() && take(&p, 1 - down).is_some());
}

#[test]
fn malformed_and_failed_answers_are_retried_then_the_job_fails() {
    let (p, _clock) = pipe(2, PipeConfig::default());
    p.submit(tx(1), vec![call()], false);
    let (a, wa) = (0..2).find_map(|n| take(&p, n).map(|w| (n, w))).unwrap();
    p.complete(a, wa.job, wa.attempt, Ok(r#"{"numbers":[]}"#.into()), false);
    let (b, wb) = (0..2).find_map(|n| take(&p, n).map(|w| (n, w))).unwrap();
    assert_ne!(a, b, "never back to the node that answered wrongly");
    p.complete(b, wb.job, wb.attempt, Err("flaky".into()), false);
    // Node b failed (not wrong): it may be asked again; node a may not.
    let (c, wc) = (0..2).find_map(|n| take(&p, n).map(|w| (n, w))).unwrap();
    assert_eq!(c, b);
    p.complete(c, wc.job, wc.attempt, Err("flaky again".into()), false);
    // With max_attempts reached or no node left... keep failing until the job gives up.
    while let Some((n, w)) = (0..2).find_map(|n| take(&p, n).map(|w| (n, w))) {
        p.complete(n, w.job, w.attempt, Err("still flaky".into()), false);
    }
    assert!(p.is_decided(&tx(1)));
    let err = p.outcome(&tx(1)).unwrap_err();
    assert!(err.contains("no valid result after") && err.contains("invalid output") && err.contains("flaky"), "{err}");
}

#[test]
fn a_node_never_votes_twice() {
    // Redundancy 2: node 0 lies, node 1 is honest; node 0 must not be asked again to break
    // the tie, or it could agree with itself.
    let config = PipeConfig { redundancy: 2, hedge_budget: 1.0, ..Default::default() };
    let (p, clock) = pipe(3, config);
    p.submit(tx(1), vec![call()], false);
    let w0 = take(&p, 0).unwrap();
    let w1 = take(&p, 1).unwrap();
    p.complete(0, w0.job, w0.attempt, Ok(WRONG.into()), false);
    p.complete(1, w1.job, w1.attempt, Ok(GOOD.into()), false);
    clock.advance(2_000);
    p.tick();
    assert!(take(&p, 0).is_none(), "node 0 already answered");
    let w2 = take(&p, 2).unwrap();
    p.complete(2, w2.job, w2.attempt, Ok(GOOD.into()), false);
    assert_eq!(p.outcome(&tx(1)).unwrap()[0].winner, Address::with_last_byte(2));
}

#[test]
fn two_nodes_agreeing_the_input_is_bad_fail_the_job_at_once() {
    let (p, _clock) = pipe(3, PipeConfig::default());
    p.submit(tx(1), vec![call()], false);
    let (a, wa) = (0..3).find_map(|n| take(&p, n).map(|w| (n, w))).unwrap();
    p.complete(a, wa.job, wa.attempt, Err("prompt over the context length".into()), true);
    assert!(!p.is_decided(&tx(1)), "one node's word is not enough");
    let (b, wb) = (0..3).find_map(|n| take(&p, n).map(|w| (n, w))).unwrap();
    p.complete(b, wb.job, wb.attempt, Err("prompt over the context length".into()), true);
    assert_eq!(p.outcome(&tx(1)).unwrap_err(), "prompt over the context length");
}

#[test]
fn forgetting_a_job_frees_its_nodes_and_a_dead_worker_times_out() {
    let (p, clock) = pipe(2, PipeConfig { hedge_budget: 0.0, ..Default::default() });
    p.submit(tx(1), vec![call()], false);
    let (n, _w) = (0..2).find_map(|n| take(&p, n).map(|w| (n, w))).unwrap();
    assert_eq!(p.stats_json()["nodes"][n]["running"], 1);
    p.forget(&[tx(1)]);
    assert_eq!(p.stats_json()["nodes"][n]["running"], 0);
    assert!(p.job_json(&tx(1)).is_none());
    // A job queued on a node whose worker never asks again times out and moves on.
    p.submit(tx(2), vec![call()], false);
    let stats = p.stats_json();
    let dead = (0..2).find(|i| stats["nodes"][*i]["queued"] == 1).expect("queued somewhere");
    let alive = 1 - dead;
    clock.advance(6_000);
    assert!(take(&p, alive).is_none(), "nothing for the live worker yet");
    p.tick();
    assert_eq!(p.stats_json()["nodes"][dead]["timeouts"], 1);
    let w = take(&p, alive).expect("re-dispatched to the live worker");
    p.complete(alive, w.job, w.attempt, Ok(GOOD.into()), false);
    assert!(p.is_decided(&tx(2)));
}

#[test]
fn a_waiting_miner_wakes_when_a_job_is_decided_or_the_pipe_is_nudged() {
    use std::time::Instant;
    let (p, _clock) = pipe(1, PipeConfig::default());
    let p = Arc::new(p);
    let before = p.decided_count();
    let t0 = Instant::now();
    assert_eq!(p.wait_decided_change(before, Duration::from_millis(30)), before, "nothing decided: it times out");
    assert!(t0.elapsed() >= Duration::from_millis(30));
    assert_eq!(p.wait_decided_change(before + 5, Duration::from_secs(10)), before, "a count it has not seen: at once");
    p.submit(tx(1), vec![call()], false);
    let w = take(&p, 0).unwrap();
    let waiter = {
        let p = p.clone();
        std::thread::spawn(move || {
            let t = Instant::now();
            (p.wait_decided_change(before, Duration::from_secs(10)), p.wait_decided(&tx(1), Duration::from_secs(10)), t.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(20));
    p.complete(0, w.job, w.attempt, Ok(GOOD.into()), false);
    let (count, decided, waited) = waiter.join().unwrap();
    assert_eq!((count, decided), (before + 1, true));
    assert!(waited < Duration::from_secs(5), "woken, not timed out: {waited:?}");
    // A nudge (a proof for the chain, a new mining mode) wakes it once, without a decision.
    p.nudge();
    let t0 = Instant::now();
    assert_eq!(p.wait_decided_change(count, Duration::from_secs(10)), count);
    assert!(t0.elapsed() < Duration::from_secs(5));
    let t0 = Instant::now();
    p.wait_decided_change(count, Duration::from_millis(20));
    assert!(t0.elapsed() >= Duration::from_millis(20), "the nudge was seen");
    // Waiting for a job that is forgotten ends at once.
    p.submit(tx(2), vec![call()], false);
    let waiter = {
        let p = p.clone();
        std::thread::spawn(move || p.wait_decided(&tx(2), Duration::from_secs(10)))
    };
    std::thread::sleep(Duration::from_millis(20));
    let t0 = Instant::now();
    p.forget(&[tx(2)]);
    assert!(waiter.join().unwrap());
    assert!(t0.elapsed() < Duration::from_secs(5));
}

#[test]
fn the_record_of_a_job_is_typed_and_its_json_is_the_wire() {
    let (p, _clock) = pipe(1, PipeConfig::default());
    p.submit(tx(1), vec![call()], false);
    let w = take(&p, 0).unwrap();
    p.complete(0, w.job, w.attempt, Ok(GOOD.into()), false);
    let r = p.record(&tx(1)).unwrap();
    assert_eq!((r.mode, r.status, r.winner_node, r.mode_name.as_str()), (Mode::Vanilla, Status::ResultReady, Some(0), "VANILLA"));
    p.mark_included(&tx(1), 7, 1_000_050, 20);
    let mut r = p.records(&tx(1)).remove(0);
    assert_eq!((r.status, r.block_number), (Status::Settled, Some(7)));
    r.included(7, 20);
    assert_eq!((r.t_settled, r.settlement_block, r.delivered_status), (Some(1_000_050), Some(7), Some(Status::Settled)));
    let j = p.job_json(&tx(1)).unwrap();
    assert_eq!((j["mode"].clone(), j["status"].clone(), j["attempts"][0]["outcome"].clone()), (serde_json::json!(0), serde_json::json!("settled"), serde_json::json!("won")));
    assert!(j.get("t_settled").is_none(), "the live record: settlement fields come with the block's record");
    // An OPTIMISTIC job's live record says when its window closes as soon as it is in a block.
    p.submit(tx(2), vec![InferenceCall { mode: Mode::Optimistic as u8, ..call() }], false);
    let w = take(&p, 0).unwrap();
    p.complete(0, w.job, w.attempt, Ok(GOOD.into()), false);
    p.mark_included(&tx(2), 8, 1_000_060, 20);
    let r = p.record(&tx(2)).unwrap();
    assert_eq!((r.status, r.challenge_window_ends, r.t_settled), (Status::Challengeable, Some(28), None));
}

/// Runs `jobs` inferences one after another: each job's attempts answer after their node's
/// latency (ms), earliest first; returns how many attempts each node was given.
fn run_jobs(p: &Pipe, clock: &ManualClock, first: u8, jobs: usize, latency: &dyn Fn(usize) -> u64) -> Vec<usize> {
    let n = p.node_count();
    let mut given = vec![0; n];
    for j in 0..jobs {
        let t = B256::from(alloy_primitives::U256::from(first as usize * 100_000 + j));
        p.submit(t, vec![call()], false);
        let start = p.now_ms();
        let mut work: Vec<(u64, usize, WorkItem)> = (0..n).filter_map(|i| take(p, i).map(|w| (start + latency(i), i, w))).collect();
        work.sort_by_key(|(at, i, _)| (*at, *i));
        for (at, i, w) in work {
            given[i] += 1;
            clock.advance(at.saturating_sub(p.now_ms()));
            p.complete(i, w.job, w.attempt, Ok(GOOD.into()), false);
        }
        assert!(p.is_decided(&t));
        clock.advance(1);
    }
    given
}

#[test]
fn a_slow_node_gets_little_traffic_is_probed_and_regains_it_when_it_recovers() {
    let (p, clock) = pipe(4, PipeConfig { hedge_budget: 0.0, ..Default::default() });
    let slow = std::cell::Cell::new(true);
    let latency = |i: usize| if i == 0 && slow.get() { 200 } else { 10 };
    // Learning: each node is tried; then node 0 gets probes only (every PROBE_EVERY-th job,
    // as an extra copy: the job itself goes to a fast node).
    let given = run_jobs(&p, &clock, 1, 400, &latency);
    assert!(given[0] <= 2 + 400 / PROBE_EVERY as usize, "slow node: {given:?}");
    assert!(given[0] >= 400 / PROBE_EVERY as usize, "probes still reach the slow node: {given:?}");
    let stats = p.stats_json();
    assert!(stats["nodes"][0]["estimate_ms"].as_f64().unwrap() >= 150.0, "{}", stats["nodes"][0]);
    assert!(stats["nodes"][1]["estimate_ms"].as_f64().unwrap() <= 11.0, "{}", stats["nodes"][1]);
    assert!(stats["nodes"][0]["dispatch_share"].as_f64().unwrap() < 0.05, "{}", stats["nodes"][0]);
    assert!(stats["probes"].as_u64().unwrap() >= 400 / PROBE_EVERY);
    // The jobs routed to a probe copy were not slowed by it: every result in 10 ms... save
    // the learning ones (no hedging here).
    // Node 0 recovers: a probe notices, and it takes its share again.
    slow.set(false);
    run_jobs(&p, &clock, 2, 3 * PROBE_EVERY as usize, &latency);
    let given = run_jobs(&p, &clock, 3, 200, &latency);
    assert!(given[0] >= 30, "a recovered node regains traffic: {given:?}");
    assert!(p.stats_json()["nodes"][0]["estimate_ms"].as_f64().unwrap() <= 12.0);
}

#[test]
fn an_attempt_on_a_slow_node_is_hedged_at_twice_the_healthy_median_and_healthy_runs_are_not() {
    let (p, clock) = pipe(4, PipeConfig { hedge_budget: 0.5, ..Default::default() });
    // All healthy: 100 jobs at 10 ms; the hedge delay settles at max(20, 2 × 10) ms and
    // nothing is hedged.
    run_jobs(&p, &clock, 1, 100, &|_| 10);
    let stats = p.stats_json();
    assert_eq!(stats["hedges"], 0);
    assert_eq!(stats["executions"], 100, "no probe copies among healthy nodes");
    assert_eq!(stats["models"]["m"]["hedge_delay_ms"], 20);
    // Node 2 turns slow: an attempt on it lingers past 20 ms and is hedged on a fast node.
    let t = tx(200);
    let mut placed = None;
    for k in 0..20u8 {
        let t = tx(200 + k);
        p.submit(t, vec![call()], false);
        let w: Vec<(usize, WorkItem)> = (0..4).filter_map(|i| take(&p, i).map(|w| (i, w))).collect();
        if let Some((_, w2)) = w.iter().find(|(i, _)| *i == 2) {
            placed = Some((t, w2.clone()));
            for (i, w) in w.into_iter().filter(|(i, _)| *i != 2) {
                p.complete(i, w.job, w.attempt, Ok(GOOD.into()), false);
            }
            break;
        }
        for (i, w) in w {
            clock.advance(10);
            p.complete(i, w.job, w.attempt, Ok(GOOD.into()), false);
        }
    }
    let _ = t;
    let (t, w2) = placed.expect("node 2 gets a job (it is as fast as the others so far)");
    clock.advance(19);
    p.tick();
    assert_eq!(p.stats_json()["hedges"], 0, "not before 20 ms");
    clock.advance(1);
    p.tick();
    assert_eq!(p.stats_json()["hedges"], 1, "hedged at 2 × the healthy median");
    let (h, hw) = (0..4).find_map(|i| take(&p, i).map(|w| (i, w))).expect("a hedge copy");
    assert_ne!(h, 2);
    clock.advance(10);
    p.complete(h, hw.job, hw.attempt, Ok(GOOD.into()), false);
    assert!(p.is_decided(&t));
    assert!(!p.is_wanted(&w2.job, w2.attempt), "the slow copy is cancelled");
    // The slow node's estimate rose to what it was seen to take (30 ms at least).
    assert!(p.stats_json()["nodes"][2]["estimate_ms"].as_f64().unwrap() >= 30.0);
}
