//! PIPE: the inference mempool and its scheduler. Each inference transaction becomes an
//! [`InferenceJob`]; the scheduler races it across simulated inference nodes (Python workers
//! that `take` attempts and `complete` them), hedges when a job lingers, and decides the
//! winner. Block production only ever asks "is it decided?": it never waits.
pub mod clock;
mod job;
pub mod job_numbers;
pub mod record;
pub mod stats;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256};
use serde_json::{json, Value};

pub use clock::{Clock, ManualClock, SystemClock};
pub use job::{Attempt, InferenceJob, JobStatus, Outcome};
pub use record::{InferenceRecord, ManyRecord, Mode, ProofCheck, SettlementStep, Status, TeeCheck, TxInference};
use stats::Samples;

use crate::chain::native::hub::{CallKind, InferenceCall};
use crate::chain::settlement::{Delivery, Penalty};

#[derive(Debug, Clone)]
pub struct PipeConfig {
    /// First copies of each job (≥ 2 means results must agree: a quorum of 2).
    pub redundancy: usize,
    /// Hedge when no valid result has come by `hedge_multiple` × this quantile of the
    /// model's recent result latencies (default 2 × the median: what a healthy node takes,
    /// with room; the quantile of all latencies would land in a slow node's mode).
    pub hedge_quantile: f64,
    pub hedge_multiple: f64,
    /// Speculative duplicates at most this share of jobs.
    pub hedge_budget: f64,
    pub hedge_floor_ms: u64,
    /// Hedge delay while a model has too few samples.
    pub hedge_initial_ms: u64,
    /// An attempt running longer than max(floor, 5 × p99) is given up (language models: 6×).
    pub timeout_floor_ms: u64,
    /// A node that timed out or returned an invalid result is avoided this long.
    pub cooldown_ms: u64,
    pub max_attempts: usize,
    /// Route by each node's learnt latency (peak-EWMA × outstanding work); false: the least
    /// loaded node, in rotation (what PIPE did before; kept for comparison).
    pub route_by_latency: bool,
}

/// Peak-EWMA decay time (ms): a sample below a node's estimate pulls it down with weight
/// 1 − exp(−Δt / 1 s), Δt the time since the node's previous sample (a sample above it
/// replaces it at once). Nodes sampled often move smoothly; a node not heard from for
/// seconds takes its next sample nearly as is.
pub const EWMA_DECAY_MS: f64 = 1_000.0;
/// Every 50th dispatch is a probe (2 % of jobs): it goes to the eligible node whose estimate
/// is oldest, so a slowed node that recovers is noticed.
pub const PROBE_EVERY: u64 = 50;
/// A probed node whose estimate is over 4 × the median estimate runs the probe as an extra
/// copy (the job also goes to its best node, and is not delayed by the probe); a probe copy
/// is never cancelled, so its answer always times the node, and replaces its estimate.
pub const PROBE_COPY_FACTOR: f64 = 4.0;
/// Dispatches remembered for each node's share of recent traffic.
pub const RECENT_DISPATCHES: usize = 200;

impl Default for PipeConfig {
    fn default() -> Self {
        PipeConfig {
            redundancy: 1,
            hedge_quantile: 0.5,
            hedge_multiple: 2.0,
            hedge_budget: 0.10,
            hedge_floor_ms: 20,
            hedge_initial_ms: 1_000,
            timeout_floor_ms: 5_000,
            cooldown_ms: 5_000,
            max_attempts: 8,
            route_by_latency: true,
        }
    }
}

/// One attempt handed to a node's worker.
#[derive(Debug, Clone)]
pub struct WorkItem {
    pub job: B256,
    pub attempt: usize,
    pub payload: String,
}

#[derive(Debug, Clone)]
struct NodeState {
    address: Address,
    fault: String,
    queue: VecDeque<(B256, usize)>,
    running: usize,
    avoid_until_ms: u64,
    wins: u64,
    agreed: u64,
    late: u64,
    failures: u64,
    timeouts: u64,
    invalid: u64,
    disagreements: u64,
    cancelled: u64,
    latency: Samples,
    /// Times the node was caught with a wrong result or proof (and slashed).
    penalties: u64,
    /// When the node's worker last asked for work: a worker that stops asking is dead.
    last_take_ms: u64,
    /// Peak-EWMA of its attempts' result latency (dispatch to answer, ms); None: unknown.
    estimate: Option<f64>,
    /// When the estimate last took a sample.
    estimate_at_ms: u64,
    dispatched: u64,
    probes: u64,
}

impl NodeState {
    /// Takes a latency sample (ms): above the estimate it replaces it, below it decays
    /// toward it (see `EWMA_DECAY_MS`).
    fn observe(&mut self, sample_ms: u64, now: u64) {
        let x = sample_ms as f64;
        self.estimate = Some(match self.estimate {
            Some(e) if x < e => {
                let w = (-(now.saturating_sub(self.estimate_at_ms) as f64) / EWMA_DECAY_MS).exp();
                e * w + x * (1.0 - w)
            }
            _ => x,
        });
        self.estimate_at_ms = now;
    }

    /// A probe copy's answer: the question was "has it changed?", so it replaces the estimate.
    fn observe_probe(&mut self, sample_ms: u64, now: u64) {
        self.estimate = Some(sample_ms as f64);
        self.estimate_at_ms = now;
    }

    /// An attempt not answered after `elapsed_ms` (cancelled or still running): the node
    /// takes at least that long, so a higher estimate is raised to it.
    fn observe_at_least(&mut self, elapsed_ms: u64, now: u64) {
        if self.estimate.is_some_and(|e| (elapsed_ms as f64) > e) {
            self.observe(elapsed_ms, now);
        }
    }
}

#[derive(Debug, Clone)]
struct ModelTiming {
    /// Dispatch to valid result, queueing included: what hedging is about.
    result: Samples,
    /// Start to end of a valid execution: what timeouts are about.
    exec: Samples,
}

/// What TEE results are checked against: the devnet root and the enclaves' PCR0/PCR1 (PCR2
/// is the model's measurement: SHA-384 of its content id). The attestation cache is shared by
/// every copy: the races' checks and settlement's re-checks check each document once.
#[derive(Debug, Clone)]
pub struct TeeSetup {
    pub root_der: Vec<u8>,
    pub pcr0: Vec<u8>,
    pub pcr1: Vec<u8>,
    pub attestations: Arc<crate::verify::AttestationCache>,
}

impl TeeSetup {
    pub fn new(root_der: Vec<u8>, pcr0: Vec<u8>, pcr1: Vec<u8>) -> Self {
        TeeSetup { root_der, pcr0, pcr1, attestations: Arc::default() }
    }
}

/// A TEE result is valid only with an attestation and a response signature that verify
/// against the request the node was given and the output it returned, at `now` (settlement
/// passes the time the proof was submitted).
pub fn check_tee(setup: Option<&TeeSetup>, model_id: &str, payload: &str, output: &str, proof: Option<&str>, now: u64) -> Result<ProofCheck, String> {
    use sha2::Digest;
    let setup = setup.ok_or("no TEE root is configured")?;
    let proof: Value = serde_json::from_str(proof.ok_or("missing TEE proof (attestation and response signature)")?)
        .map_err(|e| format!("malformed_attestation: proof is not JSON: {e}"))?;
    let hex_field = |k: &str| -> Result<Vec<u8>, String> {
        alloy_primitives::hex::decode(proof.get(k).and_then(Value::as_str).unwrap_or_default())
            .map_err(|e| format!("malformed_attestation: {k}: {e}"))
    };
    let b256 = |k: &str| -> Result<B256, String> {
        let v = hex_field(k)?;
        (v.len() == 32).then(|| B256::from_slice(&v)).ok_or_else(|| format!("malformed_attestation: {k} is not 32 bytes"))
    };
    let evidence = crate::verify::TeeEvidence {
        attestation: hex_field("attestation")?,
        response_signature: hex_field("response_signature")?,
        timestamp_ms: proof.get("timestamp_ms").and_then(Value::as_u64).ok_or("malformed_attestation: timestamp_ms")?,
        request_hash: b256("request_hash")?,
        output_hash: b256("output_hash")?,
    };
    let policy = crate::verify::TeePolicy { root_der: setup.root_der.clone(), max_attestation_age_ms: 600_000, max_clock_skew_ms: 5_000 };
    let pcrs = vec![setup.pcr0.clone(), setup.pcr1.clone(), sha2::Sha384::digest(model_id.as_bytes()).to_vec()];
    let request_hash = alloy_primitives::keccak256(payload.as_bytes());
    let output_hash = alloy_primitives::keccak256(output.as_bytes());
    // The enclave's document is checked in full the first time it is seen; each answer then
    // costs its response signature, the PCRs for this model and the times (same verdicts).
    let v = crate::verify::verify_tee_cached(&setup.attestations, &evidence, &pcrs, &policy, now, request_hash, output_hash)
        .map_err(|r| format!("{}: {}", r.reason, r.detail))?;
    Ok(ProofCheck::Tee(TeeCheck {
        verified_at_result: true,
        module_id: v.module_id,
        attestation_timestamp_ms: v.attestation_timestamp_ms,
        response_timestamp_ms: evidence.timestamp_ms,
        attestation_bytes: evidence.attestation.len(),
        request_hash,
        output_hash,
    }))
}

struct PipeState {
    tee: Option<TeeSetup>,
    config: PipeConfig,
    nodes: Vec<NodeState>,
    jobs: HashMap<B256, InferenceJob>,
    /// The jobs of each `runMany` transaction, in call order (single-call transactions have
    /// one job keyed by their own hash).
    groups: HashMap<B256, Vec<B256>>,
    /// Nodes caught out while racing, for the next block to slash.
    penalties: Vec<Penalty>,
    /// Undecided jobs, oldest first.
    active: Vec<B256>,
    models: HashMap<String, ModelTiming>,
    jobs_total: u64,
    decided: u64,
    failed: u64,
    executions: u64,
    hedges: u64,
    retries: u64,
    wasted_ms: u64,
    rotation: usize,
    /// Dispatches so far (every `PROBE_EVERY`th is a probe), and the last few's nodes.
    dispatch_count: u64,
    recent: VecDeque<usize>,
    probes: u64,
    /// Probe copies in flight: (job, attempt) → (node, dispatched at). They run to the end
    /// even when the job is decided (or forgotten) first, to time their node.
    probe_copies: HashMap<(B256, usize), (usize, u64)>,
    /// Things other than a decision that may call for a block (a penalty, a proof, a
    /// challenge, a new mining mode; see `nudge`), and how many `wait_decided_change` saw.
    nudges: u64,
    nudges_seen: u64,
}

pub struct Pipe {
    state: Mutex<PipeState>,
    work: Condvar,
    wake_scheduler: Condvar,
    /// Notified whenever a job is decided (or fails), a job is forgotten, or the pipe is nudged.
    decided: Condvar,
    clock: Arc<dyn Clock>,
}

impl Pipe {
    pub fn new(config: PipeConfig, node_addresses: Vec<Address>, clock: Arc<dyn Clock>) -> Pipe {
        let start = clock.now_ms();
        let nodes = node_addresses
            .into_iter()
            .map(|address| NodeState {
                address,
                fault: "ok".into(),
                queue: VecDeque::new(),
                running: 0,
                avoid_until_ms: 0,
                wins: 0,
                agreed: 0,
                late: 0,
                failures: 0,
                timeouts: 0,
                invalid: 0,
                disagreements: 0,
                cancelled: 0,
                latency: Samples::new(1000),
                penalties: 0,
                last_take_ms: start,
                estimate: None,
                estimate_at_ms: 0,
                dispatched: 0,
                probes: 0,
            })
            .collect();
        Pipe {
            state: Mutex::new(PipeState {
                tee: None,
                config,
                nodes,
                jobs: HashMap::new(),
                groups: HashMap::new(),
                penalties: Vec::new(),
                active: Vec::new(),
                models: HashMap::new(),
                jobs_total: 0,
                decided: 0,
                failed: 0,
                executions: 0,
                hedges: 0,
                retries: 0,
                wasted_ms: 0,
                rotation: 0,
                dispatch_count: 0,
                recent: VecDeque::with_capacity(RECENT_DISPATCHES),
                probes: 0,
                probe_copies: HashMap::new(),
                nudges: 0,
                nudges_seen: 0,
            }),
            work: Condvar::new(),
            wake_scheduler: Condvar::new(),
            decided: Condvar::new(),
            clock,
        }
    }

    fn lock(&self) -> MutexGuard<'_, PipeState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    pub fn node_count(&self) -> usize {
        self.lock().nodes.len()
    }

    pub fn node_address(&self, node: usize) -> Option<Address> {
        self.lock().nodes.get(node).map(|n| n.address)
    }

    /// Sets what TEE results are verified against.
    pub fn set_tee(&self, setup: TeeSetup) {
        self.lock().tee = Some(setup);
    }

    /// Records a node's fault mode for display (the worker acts it out).
    pub fn set_fault(&self, node: usize, fault: &str) -> bool {
        let mut s = self.lock();
        match s.nodes.get_mut(node) {
            Some(n) => {
                n.fault = fault.to_string();
                // A node said to be healthy again gets a fresh chance.
                if fault == "ok" {
                    n.avoid_until_ms = 0;
                }
                true
            }
            None => false,
        }
    }

    /// New jobs for a transaction's valid inference calls (one, or several for `runMany`),
    /// each dispatched at once to `redundancy` nodes.
    pub fn submit(&self, tx_hash: B256, calls: Vec<InferenceCall>, many: bool) {
        let mut s = self.lock();
        let now = self.now_ms();
        if s.jobs.contains_key(&tx_hash) || s.groups.contains_key(&tx_hash) {
            return;
        }
        let quorum = if s.config.redundancy >= 2 { 2 } else { 1 };
        let ids: Vec<B256> = if many { (0..calls.len()).map(|i| call_id(&tx_hash, i)).collect() } else { vec![tx_hash] };
        if many {
            s.groups.insert(tx_hash, ids.clone());
        }
        let copies = s.config.redundancy.max(1);
        for (i, (id, call)) in ids.into_iter().zip(calls).enumerate() {
            s.jobs.insert(id, InferenceJob::new(id, tx_hash, many.then_some(i as u32), call, quorum, now));
            s.active.push(id);
            s.jobs_total += 1;
            for _ in 0..copies {
                s.dispatch(id, false, now);
            }
        }
        drop(s);
        self.work.notify_all();
        self.wake_scheduler.notify_all();
    }

    /// A job that failed before any node saw it (invalid input mined anyway). Its mode only
    /// labels it: a number that is no mode shows as VANILLA.
    pub fn submit_failed(&self, tx_hash: B256, kind: Option<CallKind>, model_id: String, mode: u8, reason: String) {
        let mut s = self.lock();
        let now = self.now_ms();
        if let std::collections::hash_map::Entry::Vacant(e) = s.jobs.entry(tx_hash) {
            let mode = Mode::try_from(mode).unwrap_or(Mode::Vanilla);
            e.insert(InferenceJob::failed(tx_hash, kind, model_id, mode, reason, now));
            s.jobs_total += 1;
            s.failed += 1;
        }
        drop(s);
        self.decided.notify_all();
    }

    /// Waits up to `timeout` for the next attempt assigned to `node`.
    pub fn take(&self, node: usize, timeout: Duration) -> Option<WorkItem> {
        let deadline = std::time::Instant::now() + timeout;
        let mut s = self.lock();
        loop {
            let now = self.clock.now_ms();
            if let Some(n) = s.nodes.get_mut(node) {
                n.last_take_ms = now;
            }
            if let Some(item) = s.pop_work(node, now) {
                return Some(item);
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return None;
            }
            s = self.work.wait_timeout(s, left).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    /// Whether a running attempt is still wanted (a worker may skip finishing a loser).
    pub fn is_wanted(&self, job: &B256, attempt: usize) -> bool {
        let s = self.lock();
        if s.probe_copies.contains_key(&(*job, attempt)) {
            return true; // a probe copy runs to the end: its answer times the node
        }
        s.jobs.get(job).is_some_and(|j| !j.is_decided() && j.attempts.get(attempt).is_some_and(|a| a.outcome == Outcome::Running))
    }

    /// A node's answer: `Ok(output JSON)` or `Err(what went wrong)`. `bad_input` says the
    /// request itself cannot run (a prompt too long, say): once two nodes agree on that, the
    /// job fails at once instead of being retried.
    pub fn complete(&self, node: usize, job: B256, attempt: usize, result: Result<String, String>, bad_input: bool) {
        self.complete_with_proof(node, job, attempt, result, bad_input, None)
    }

    /// As `complete`, with the proof material a verifiable mode needs (TEE: attestation and
    /// response signature, JSON with hex fields).
    pub fn complete_with_proof(
        &self,
        node: usize,
        job: B256,
        attempt: usize,
        result: Result<String, String>,
        bad_input: bool,
        proof: Option<String>,
    ) {
        // A TEE answer's evidence is checked before the lock is taken (a P-384 signature
        // check, ~0.25 ms): nodes answering at once verify on all cores, and the scheduler is
        // not held up. The job may be decided meanwhile; then the verdict is not used.
        let verdict = match (&result, &proof) {
            (Ok(output), Some(_)) => {
                let s = self.lock();
                let tee_job = s.jobs.get(&job).filter(|j| j.mode == Mode::Tee).map(|j| (j.model_id.clone(), j.payload.clone()));
                let setup = s.tee.clone();
                drop(s);
                tee_job.map(|(model_id, payload)| check_tee(setup.as_ref(), &model_id, &payload, output, proof.as_deref(), self.now_ms()))
            }
            _ => None,
        };
        let mut s = self.lock();
        let now = self.now_ms();
        let before = s.progress();
        s.complete(node, job, attempt, result, bad_input, proof, verdict, now);
        let changed = s.progress() != before;
        drop(s);
        self.work.notify_all();
        if changed {
            self.decided.notify_all();
        }
    }

    /// How many jobs have been decided so far (automine seals when this moves).
    pub fn decided_count(&self) -> u64 {
        let s = self.lock();
        s.decided + s.failed
    }

    /// Waits up to `timeout` (wall clock) until the decided count differs from `last`, or the
    /// pipe was nudged since the last such wait returned; the decided count then. Lets the
    /// miner sleep until a job is decided instead of polling.
    pub fn wait_decided_change(&self, last: u64, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        let mut s = self.lock();
        loop {
            let count = s.decided + s.failed;
            let left = deadline.saturating_duration_since(Instant::now());
            if count != last || s.nudges != s.nudges_seen || left.is_zero() {
                s.nudges_seen = s.nudges;
                return count;
            }
            s = self.decided.wait_timeout(s, left).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    /// Wakes `wait_decided_change`: something other than a decision may call for a block (a
    /// proof or a challenge to settle, a new mining mode).
    pub fn nudge(&self) {
        self.lock().nudges += 1;
        self.decided.notify_all();
    }

    /// Timeouts and hedges due at the clock's now. Returns when the next one may be due.
    pub fn tick(&self) -> Option<u64> {
        let mut s = self.lock();
        let now = self.now_ms();
        let before = s.progress();
        let next = s.tick(now);
        let changed = s.progress() != before;
        drop(s);
        self.work.notify_all();
        if changed {
            self.decided.notify_all();
        }
        next
    }

    /// Runs `tick` on its own thread until `stop` is set.
    pub fn spawn_scheduler(self: &Arc<Self>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
        let pipe = Arc::clone(self);
        std::thread::Builder::new()
            .name("og-devnet-pipe".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let next = pipe.tick();
                    let now = pipe.now_ms();
                    let wait = next.map(|n| n.saturating_sub(now)).unwrap_or(50).clamp(1, 50);
                    let s = pipe.lock();
                    let _ = pipe.wake_scheduler.wait_timeout(s, Duration::from_millis(wait));
                }
            })
            .expect("spawn scheduler thread")
    }

    /// Whether every inference of transaction `tx` is decided (true when it has none).
    pub fn is_decided(&self, tx: &B256) -> bool {
        self.lock().is_decided(tx)
    }

    /// The decided results of transaction `tx`'s inferences, in call order, or the reason
    /// the first failed one failed.
    pub fn outcome(&self, tx: &B256) -> Result<Vec<CallResult>, String> {
        let outcomes = self.call_outcomes(tx);
        let many = outcomes.len() > 1;
        outcomes
            .into_iter()
            .enumerate()
            .map(|(i, o)| o.map_err(|e| if many { format!("call {i}: {e}") } else { e }))
            .collect()
    }

    /// Waits (wall clock) until every inference of `tx` is decided; whether they are.
    pub fn wait_decided(&self, tx: &B256, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut s = self.lock();
        loop {
            if s.is_decided(tx) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            s = self.decided.wait_timeout(s, left).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    /// Each of transaction `tx`'s inferences, in call order: its decided result or why it
    /// failed (a contract's calls fail one by one, each reverting where it was made).
    pub fn call_outcomes(&self, tx: &B256) -> Vec<Result<CallResult, String>> {
        let s = self.lock();
        s.ids(tx)
            .iter()
            .map(|id| {
                let job = s.jobs.get(id).ok_or_else(|| "no inference job for this call".to_string())?;
                match &job.status {
                    JobStatus::Ready => {
                        let winner = job.winner.and_then(|a| job.attempts.get(a)).map(|a| a.node).unwrap_or_default();
                        Ok(CallResult {
                            id: *id,
                            logs: job.logs.clone(),
                            winner: s.nodes[winner].address,
                            kind: job.kind.unwrap_or(CallKind::Model),
                            mode: job.mode.into(),
                            model_id: job.model_id.clone(),
                        })
                    }
                    JobStatus::Failed => Err(job.error.clone().unwrap_or_else(|| "inference failed".into())),
                    _ => Err("inference not decided yet".into()),
                }
            })
            .collect()
    }

    /// Whether transaction `tx` has inference jobs.
    pub fn has_jobs(&self, tx: &B256) -> bool {
        let s = self.lock();
        s.ids(tx).iter().any(|id| s.jobs.contains_key(id))
    }

    /// Extra gas the transaction's inferences use (flat per call), if it has any.
    pub fn gas_of(&self, tx: &B256) -> Option<u64> {
        let s = self.lock();
        let jobs: Vec<&InferenceJob> = s.ids(tx).iter().filter_map(|id| s.jobs.get(id)).collect();
        (!jobs.is_empty()).then(|| jobs.iter().map(|j| crate::chain::native::hub::gas_for(j.kind.unwrap_or(CallKind::Model))).sum())
    }

    /// Whether nodes were caught out that no block has slashed yet.
    pub fn has_penalties(&self) -> bool {
        !self.lock().penalties.is_empty()
    }

    /// Nodes caught out since the last call, for the next block to slash.
    pub fn take_penalties(&self) -> Vec<Penalty> {
        std::mem::take(&mut self.lock().penalties)
    }

    /// Penalties a discarded block had taken: the next block slashes them.
    pub fn restore_penalties(&self, mut penalties: Vec<Penalty>) {
        let mut s = self.lock();
        penalties.append(&mut s.penalties);
        s.penalties = penalties;
    }

    /// The settlement slashed `node` (counted in its stats).
    pub fn note_penalty(&self, node: usize) {
        if let Some(n) = self.lock().nodes.get_mut(node) {
            n.penalties += 1;
        }
    }

    pub fn tee_setup(&self) -> Option<TeeSetup> {
        self.lock().tee.clone()
    }

    /// What settling the verifiable results of `tx` (delivered in block `included_block`)
    /// needs, taken from each winning attempt. VANILLA results need nothing.
    pub fn deliveries(&self, tx: &B256, included_block: u64) -> Vec<Delivery> {
        let s = self.lock();
        s.ids(tx)
            .iter()
            .filter_map(|id| {
                let job = s.jobs.get(id).filter(|j| j.mode != Mode::Vanilla && j.status == JobStatus::Ready)?;
                let att = job.attempts.get(job.winner?)?;
                Some(Delivery {
                    id: *id,
                    tx_hash: *tx,
                    mode: job.mode.into(),
                    node: s.nodes[att.node].address,
                    node_index: att.node,
                    model_id: job.model_id.clone(),
                    payload: job.payload.clone(),
                    output: att.output.clone()?,
                    // TEE evidence comes with the result; a ZKML proof comes later.
                    proof: att.proof_raw.clone(),
                    verdict: None,
                    t_result: job.t_result?,
                    t_proof_submitted: att.proof_raw.as_ref().and(att.ended_ms),
                    included_block,
                    sender: Address::ZERO,
                    fee: alloy_primitives::U256::ZERO,
                    challenge: None,
                })
            })
            .collect()
    }

    pub fn mark_included(&self, tx: &B256, block: u64, timestamp_ms: u64, challenge_window: u64) {
        let mut s = self.lock();
        for id in s.ids(tx) {
            if let Some(j) = s.jobs.get_mut(&id) {
                j.block = Some(block);
                j.t_included = Some(timestamp_ms);
                j.challenge_window = Some(challenge_window);
            }
        }
    }

    /// Drops jobs that are done with: their block is committed (the store keeps the record),
    /// or their transaction left the pool unmined (replaced, pruned, reverted).
    pub fn forget(&self, txs: &[B256]) {
        let mut s = self.lock();
        for tx in txs {
            let ids = s.ids(tx);
            s.groups.remove(tx);
            for id in &ids {
                let Some(job) = s.jobs.remove(id) else { continue };
                s.active.retain(|h| h != id);
                for (i, att) in job.attempts.iter().enumerate() {
                    let node = &mut s.nodes[att.node];
                    match att.outcome {
                        Outcome::Queued => {
                            node.queue.retain(|(h, _)| h != id);
                            s.probe_copies.remove(&(*id, i));
                        }
                        Outcome::Running => node.running = node.running.saturating_sub(1),
                        _ => {}
                    }
                }
            }
        }
        drop(s);
        // A waiter for these jobs' decision need not wait any longer.
        self.decided.notify_all();
    }

    /// The inference of transaction `tx`: its record, or for `runMany` the records of its
    /// calls together.
    pub fn inference(&self, tx: &B256) -> Option<TxInference> {
        let s = self.lock();
        match s.groups.get(tx) {
            None => s.jobs.get(tx).map(|j| TxInference::One(Box::new(s.record(j)))),
            Some(ids) => Some(TxInference::Many(ManyRecord::new(*tx, ids.iter().filter_map(|id| s.jobs.get(id)).map(|j| s.record(j)).collect()))),
        }
    }

    /// `inference` as JSON.
    pub fn job_json(&self, tx: &B256) -> Option<Value> {
        self.inference(tx).map(|i| serde_json::to_value(i).expect("a record is JSON"))
    }

    /// The records of transaction `tx`'s inferences (one per call), in call order.
    pub fn records(&self, tx: &B256) -> Vec<InferenceRecord> {
        let s = self.lock();
        s.ids(tx).iter().filter_map(|id| s.jobs.get(id)).map(|j| s.record(j)).collect()
    }

    /// The record of one inference by its id (a `runMany` call's own id, or a tx hash).
    pub fn record(&self, id: &B256) -> Option<InferenceRecord> {
        let s = self.lock();
        s.jobs.get(id).map(|j| s.record(j))
    }

    pub fn stats_json(&self) -> Value {
        let now = self.now_ms();
        let s = self.lock();
        let healthy = s.nodes.iter().filter(|n| n.avoid_until_ms <= now && n.fault != "down").count();
        let nodes: Vec<Value> = s
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                json!({
                    "id": i, "address": n.address, "fault": n.fault, "healthy": n.avoid_until_ms <= now && n.fault != "down",
                    "wins": n.wins, "agreed": n.agreed, "late": n.late, "failures": n.failures, "timeouts": n.timeouts,
                    "invalid": n.invalid, "disagreements": n.disagreements, "cancelled": n.cancelled, "penalties": n.penalties,
                    "queued": n.queue.len(), "running": n.running,
                    "estimate_ms": n.estimate.map(|e| (e * 10.0).round() / 10.0),
                    "estimate_age_ms": n.estimate.map(|_| now.saturating_sub(n.estimate_at_ms)),
                    "dispatched": n.dispatched, "probes": n.probes,
                    "dispatch_share": if s.recent.is_empty() { 0.0 } else {
                        (s.recent.iter().filter(|x| **x == i).count() as f64 / s.recent.len() as f64 * 1000.0).round() / 1000.0
                    },
                    "latency_ms": {"count": n.latency.len(), "p50": n.latency.quantile(0.5), "p95": n.latency.quantile(0.95), "p99": n.latency.quantile(0.99)},
                })
            })
            .collect();
        let models: serde_json::Map<String, Value> = s
            .models
            .iter()
            .map(|(id, t)| {
                (id.clone(), json!({
                    "samples": t.result.len(),
                    "hedge_delay_ms": s.hedge_delay(id),
                    "result_ms": {"p50": t.result.quantile(0.5), "p95": t.result.quantile(0.95), "p99": t.result.quantile(0.99)},
                }))
            })
            .collect();
        let (decided, failed) = (s.decided, s.failed);
        let c = &s.config;
        json!({
            "jobs": s.jobs_total, "decided": decided, "failed": failed, "active": s.active.len(),
            "executions": s.executions, "hedges": s.hedges, "probes": s.probes, "retries": s.retries, "wasted_ms": s.wasted_ms,
            "attempts_per_job": if s.jobs_total > 0 { s.executions as f64 / s.jobs_total as f64 } else { 0.0 },
            "healthy_nodes": healthy, "degraded": healthy < c.redundancy.max(1),
            "config": {"redundancy": c.redundancy, "hedge_quantile": c.hedge_quantile, "hedge_multiple": c.hedge_multiple,
                       "hedge_budget": c.hedge_budget, "route_by_latency": c.route_by_latency, "probe_every": PROBE_EVERY,
                       "hedge_floor_ms": c.hedge_floor_ms, "timeout_floor_ms": c.timeout_floor_ms},
            "nodes": nodes, "models": models,
            // TEE attestation documents checked in full (misses) and answers checked against
            // one already attested (hits), races and settlement together.
            "tee_attestations": s.tee.as_ref().map(|t| t.attestations.stats()),
        })
    }
}

/// One decided inference of a transaction.
#[derive(Debug, Clone)]
pub struct CallResult {
    pub id: B256,
    pub logs: Vec<alloy_primitives::Log>,
    pub winner: Address,
    pub kind: CallKind,
    pub mode: u8,
    pub model_id: String,
}

/// The id of call `index` of a `runMany` transaction.
pub fn call_id(tx: &B256, index: usize) -> B256 {
    let mut seed = tx.to_vec();
    seed.extend_from_slice(&(index as u32).to_be_bytes());
    alloy_primitives::keccak256(seed)
}

impl PipeState {
    /// The jobs of transaction `tx`, in call order.
    fn ids(&self, tx: &B256) -> Vec<B256> {
        self.groups.get(tx).cloned().unwrap_or_else(|| vec![*tx])
    }

    fn is_decided(&self, tx: &B256) -> bool {
        self.ids(tx).iter().all(|id| self.jobs.get(id).is_none_or(|j| j.is_decided()))
    }

    /// What `wait_decided_change` watches: jobs decided (or failed), and nudges.
    fn progress(&self) -> (u64, u64) {
        (self.decided + self.failed, self.nudges)
    }

    fn record(&self, job: &InferenceJob) -> InferenceRecord {
        job.record(|n| self.nodes[n].address)
    }

    /// A node caught giving a wrong result: slashed in the next block (which it calls for).
    fn penalise(&mut self, key: B256, node: usize, reason: String, now: u64) {
        let Some(job) = self.jobs.get(&key) else { return };
        self.nudges += 1;
        self.penalties.push(Penalty {
            id: key,
            tx_hash: job.tx_hash,
            mode: job.mode,
            node: self.nodes[node].address,
            node_index: node,
            reason,
            t_ms: now,
        });
    }

    /// What a healthy node takes, with room: `hedge_multiple` × the `hedge_quantile` (the
    /// median by default) of the model's recent result latencies, never below the floor.
    /// Routing keeps slow nodes' samples rare, so the median is a healthy node's.
    fn hedge_delay(&self, model: &str) -> u64 {
        match self.models.get(model) {
            Some(t) if t.result.len() >= 10 => {
                let q = t.result.quantile(self.config.hedge_quantile).unwrap_or(0) as f64;
                ((q * self.config.hedge_multiple).ceil() as u64).max(self.config.hedge_floor_ms)
            }
            _ => self.config.hedge_initial_ms,
        }
    }

    /// The median of the known nodes' estimates (what an unknown node is assumed to take).
    fn median_estimate(&self) -> Option<f64> {
        let mut known: Vec<f64> = self.nodes.iter().filter_map(|n| n.estimate).collect();
        if known.is_empty() {
            return None;
        }
        known.sort_by(|a, b| a.total_cmp(b));
        Some(known[(known.len() - 1) / 2])
    }

    fn timeout(&self, model: &str, kind: Option<CallKind>) -> u64 {
        let floor = match kind {
            Some(CallKind::Completion | CallKind::Chat) => self.config.timeout_floor_ms * 6,
            _ => self.config.timeout_floor_ms,
        };
        let p99 = self.models.get(model).and_then(|t| t.exec.quantile(0.99)).unwrap_or(0);
        floor.max(p99 * 5)
    }

    /// Starts one more attempt of `key` on the best node for it. False if none is left.
    fn dispatch(&mut self, key: B256, hedge: bool, now: u64) -> bool {
        let n = self.nodes.len();
        let Some(job) = self.jobs.get(&key) else { return false };
        if n == 0 || job.attempts.len() >= self.config.max_attempts {
            return false;
        }
        // Never a node already on this job or one whose answer was wrong; prefer healthy,
        // untried nodes; then (routing by latency) the lowest expected cost, estimate ×
        // (outstanding work + 1), an unknown node counting as the median; else the least
        // loaded; rotate among equals.
        let excluded = |i: usize| job.attempts.iter().any(|a| a.node == i && (a.is_pending() || a.was_wrong() || a.answered()));
        let tried = |i: usize| job.attempts.iter().any(|a| a.node == i);
        let rotation = self.rotation;
        let by_latency = self.config.route_by_latency;
        let median = self.median_estimate();
        let cost = |i: usize| -> f64 {
            let node = &self.nodes[i];
            let load = (node.queue.len() + node.running) as f64;
            if by_latency {
                node.estimate.or(median).unwrap_or(1.0).max(0.1) * (load + 1.0)
            } else {
                load
            }
        };
        let eligible: Vec<usize> = (0..n).filter(|i| !excluded(*i)).collect();
        let best = eligible.iter().copied().min_by(|a, b| {
            let key = |i: usize| (self.nodes[i].avoid_until_ms > now, tried(i));
            key(*a)
                .cmp(&key(*b))
                .then(cost(*a).total_cmp(&cost(*b)))
                .then(((a + n - rotation % n) % n).cmp(&((b + n - rotation % n) % n)))
        });
        let Some(mut node) = best else { return false };
        // Every PROBE_EVERY-th first dispatch is a probe: the eligible node heard from least
        // recently (a slow node routing avoids; has it recovered?).
        let mut probe_copy = None;
        if by_latency && !hedge {
            self.dispatch_count += 1;
            if self.dispatch_count % PROBE_EVERY == 0 {
                let oldest = eligible
                    .iter()
                    .copied()
                    .filter(|i| self.nodes[*i].avoid_until_ms <= now)
                    .min_by_key(|i| (self.nodes[*i].estimate.is_some(), self.nodes[*i].estimate_at_ms));
                if let Some(p) = oldest.filter(|p| *p != node) {
                    let slow = match (self.nodes[p].estimate, median) {
                        (Some(e), Some(m)) => e > PROBE_COPY_FACTOR * m,
                        _ => false,
                    };
                    if slow {
                        probe_copy = Some(p); // an extra copy: the job is not delayed by it
                    } else {
                        node = p; // believed healthy: it takes the job itself
                    }
                    self.probes += 1;
                    self.nodes[p].probes += 1;
                }
            }
        }
        self.rotation += 1;
        self.enqueue(key, node, hedge, now);
        if let Some(p) = probe_copy {
            let idx = self.enqueue(key, p, false, now);
            self.probe_copies.insert((key, idx), (p, now));
        }
        if hedge {
            self.hedges += 1;
        }
        true
    }

    /// Queues one attempt of `key` on `node`; its index.
    fn enqueue(&mut self, key: B256, node: usize, hedge: bool, now: u64) -> usize {
        let job = self.jobs.get_mut(&key).expect("enqueueing a known job");
        job.attempts.push(Attempt::queued(node, now, hedge));
        job.last_dispatch_ms = now;
        let idx = job.attempts.len() - 1;
        let state = &mut self.nodes[node];
        state.queue.push_back((key, idx));
        state.dispatched += 1;
        if self.recent.len() == RECENT_DISPATCHES {
            self.recent.pop_front();
        }
        self.recent.push_back(node);
        self.executions += 1;
        idx
    }

    fn pop_work(&mut self, node: usize, now: u64) -> Option<WorkItem> {
        while let Some((key, idx)) = self.nodes.get_mut(node)?.queue.pop_front() {
            let Some(job) = self.jobs.get_mut(&key) else { continue };
            let att = &mut job.attempts[idx];
            if att.outcome != Outcome::Queued {
                continue;
            }
            att.outcome = Outcome::Running;
            att.started_ms = Some(now);
            self.nodes[node].running += 1;
            return Some(WorkItem { job: key, attempt: idx, payload: job.payload.clone() });
        }
        None
    }

    #[allow(clippy::too_many_arguments)]
    /// `verdict`: the TEE check of this answer's proof, made before the lock was taken (None:
    /// not made, so made here if the job needs it).
    fn complete(
        &mut self,
        node: usize,
        key: B256,
        idx: usize,
        result: Result<String, String>,
        bad_input: bool,
        proof: Option<String>,
        verdict: Option<Result<ProofCheck, String>>,
        now: u64,
    ) {
        let raw_proof = proof.clone();
        let probe = self.probe_copies.remove(&(key, idx));
        let running = self.jobs.get(&key).and_then(|j| j.attempts.get(idx)).is_some_and(|a| a.node == node && a.outcome == Outcome::Running);
        if !running {
            // A probe copy's answer after its job was settled (or forgotten) still times its node.
            if let Some((pn, at)) = probe.filter(|(pn, _)| *pn == node && result.is_ok()) {
                self.nodes[pn].observe_probe(now.saturating_sub(at), now);
            }
            return; // unknown, timed out or already answered: nothing to do
        }
        let job = self.jobs.get_mut(&key).expect("checked above");
        let decided = job.is_decided();
        let att = &mut job.attempts[idx];
        att.ended_ms = Some(now);
        let exec_ms = now.saturating_sub(att.started_ms.unwrap_or(now));
        let result_ms = now.saturating_sub(att.dispatched_ms);
        let n = &mut self.nodes[node];
        n.running = n.running.saturating_sub(1);
        if decided {
            att.outcome = Outcome::Late;
            n.late += 1;
            if result.is_ok() {
                if probe.is_some() {
                    n.observe_probe(result_ms, now);
                } else {
                    n.observe(result_ms, now);
                }
            }
            self.wasted_ms += exec_ms;
            return;
        }
        match result {
            Err(reason) => {
                att.outcome = if bad_input { Outcome::BadInput(reason) } else { Outcome::Failed(reason) };
                n.failures += 1;
                self.wasted_ms += exec_ms;
                // Two nodes saying the request cannot run settle it (one could be lying).
                let agreeing = job.attempts.iter().filter(|a| matches!(a.outcome, Outcome::BadInput(_))).count();
                if bad_input && (agreeing >= 2 || self.nodes.len() == 1) {
                    let reason = match &job.attempts[idx].outcome { Outcome::BadInput(r) => r.clone(), _ => unreachable!() };
                    self.fail(key, reason, now);
                    return;
                }
            }
            Ok(output) => match job
                .call
                .as_ref()
                .ok_or_else(|| "job has no call".to_string())
                .and_then(|c| c.encode_result(&output, &key.to_string()))
                .and_then(|logs| {
                    // TEE: the result counts only with an attestation that verifies.
                    let proof = if job.mode == Mode::Tee {
                        Some(match verdict {
                            Some(checked) => checked?,
                            None => check_tee(self.tee.as_ref(), &job.model_id, &job.payload, &output, proof.as_deref(), now)?,
                        })
                    } else {
                        None
                    };
                    Ok((logs, proof))
                }) {
                Ok((logs, proof)) => {
                    att.outcome = Outcome::Valid;
                    att.output = Some(output);
                    att.logs = logs;
                    if proof.is_some() {
                        att.proof_raw = raw_proof;
                    }
                    att.proof = proof;
                    n.latency.push(exec_ms);
                    if probe.is_some() {
                        n.observe_probe(result_ms, now);
                    } else {
                        n.observe(result_ms, now);
                    }
                    let timing = self.models.entry(job.model_id.clone()).or_insert_with(|| ModelTiming {
                        result: Samples::new(200),
                        exec: Samples::new(200),
                    });
                    timing.result.push(result_ms);
                    timing.exec.push(exec_ms);
                    if let Some(winner) = job.quorum_reached() {
                        self.decide(key, winner, now);
                        return;
                    }
                }
                Err(reason) => {
                    att.outcome = Outcome::Invalid(reason.clone());
                    n.invalid += 1;
                    n.avoid_until_ms = now + self.config.cooldown_ms;
                    self.wasted_ms += exec_ms;
                    // A result with evidence that does not verify is a lie caught; a garbled
                    // output is a fault either way.
                    self.penalise(key, node, reason, now);
                }
            },
        }
        self.ensure_progress(key, now);
    }

    /// The race is won by attempt `winner`: record it, and settle every other attempt.
    fn decide(&mut self, key: B256, winner: usize, now: u64) {
        let job = self.jobs.get_mut(&key).expect("deciding a known job");
        let winning_logs = job.attempts[winner].logs.clone();
        job.status = JobStatus::Ready;
        job.t_result = Some(now);
        job.winner = Some(winner);
        job.logs = winning_logs.clone();
        let mut outvoted = Vec::new();
        for (i, att) in job.attempts.iter_mut().enumerate() {
            let node = &mut self.nodes[att.node];
            if i != winner && att.is_pending() {
                // Not answered yet: the node takes at least this long.
                node.observe_at_least(now.saturating_sub(att.dispatched_ms), now);
                if self.probe_copies.contains_key(&(key, i)) {
                    continue; // a probe copy runs on to time its node
                }
            }
            match &att.outcome {
                _ if i == winner => {
                    att.outcome = Outcome::Won;
                    node.wins += 1;
                }
                Outcome::Valid if att.logs == winning_logs => {
                    att.outcome = Outcome::Agreed;
                    node.agreed += 1;
                }
                Outcome::Valid => {
                    // Outvoted: its answer differs from the quorum's.
                    att.outcome = Outcome::Disagreed;
                    node.disagreements += 1;
                    node.avoid_until_ms = now + self.config.cooldown_ms;
                    outvoted.push(att.node);
                }
                Outcome::Queued => {
                    att.outcome = Outcome::Cancelled;
                    node.cancelled += 1;
                    node.queue.retain(|(h, _)| *h != key);
                }
                Outcome::Running => {
                    // Cancelled: the worker sees it is no longer wanted and stops; an answer
                    // that still comes is ignored.
                    att.outcome = Outcome::Cancelled;
                    att.ended_ms = Some(now);
                    node.cancelled += 1;
                    node.running = node.running.saturating_sub(1);
                    self.wasted_ms += now.saturating_sub(att.started_ms.unwrap_or(now));
                }
                _ => {}
            }
        }
        self.active.retain(|h| *h != key);
        self.decided += 1;
        for node in outvoted {
            self.penalise(key, node, "outvoted: its output differs from the quorum's".into(), now);
        }
    }

    /// Fails an undecided job: its transaction is included with status 0.
    fn fail(&mut self, key: B256, reason: String, now: u64) {
        let Some(job) = self.jobs.get_mut(&key) else { return };
        job.status = JobStatus::Failed;
        job.t_result = Some(now);
        job.error = Some(reason);
        for att in job.attempts.iter_mut().filter(|a| a.is_pending()) {
            let node = &mut self.nodes[att.node];
            if att.outcome == Outcome::Running {
                node.running = node.running.saturating_sub(1);
            } else {
                node.queue.retain(|(h, _)| *h != key);
            }
            att.outcome = Outcome::Cancelled;
            att.ended_ms = Some(now);
        }
        self.active.retain(|h| *h != key);
        self.failed += 1;
    }

    /// Makes sure an undecided job has enough attempts in flight to reach its quorum, or
    /// fails it when no node is left to ask.
    fn ensure_progress(&mut self, key: B256, now: u64) {
        let Some(job) = self.jobs.get(&key) else { return };
        if job.is_decided() {
            return;
        }
        let needed = job.results_still_needed();
        let in_flight = job.attempts.iter().filter(|a| a.is_pending()).count();
        for _ in in_flight..needed {
            if self.dispatch(key, false, now) {
                self.retries += 1;
            }
        }
        let job = self.jobs.get(&key).expect("still there");
        if !job.attempts.iter().any(|a| a.is_pending()) {
            let reasons: Vec<String> = job.attempts.iter().map(|a| a.outcome.describe()).collect();
            let reason = format!("no valid result after {} attempt(s): {}", job.attempts.len(), reasons.join("; "));
            self.fail(key, reason, now);
        }
    }

    fn tick(&mut self, now: u64) -> Option<u64> {
        let mut next: Option<u64> = None;
        let mut soonest = |t: u64| next = Some(next.map_or(t, |n: u64| n.min(t)));
        // Probe copies whose answer never came (their job failed or was forgotten while queued).
        self.probe_copies.retain(|_, (_, at)| now.saturating_sub(*at) < 600_000);
        // A worker that has not asked for work for a while is gone: its queue times out.
        let floor = self.config.timeout_floor_ms;
        let dead: Vec<usize> = (0..self.nodes.len())
            .filter(|i| !self.nodes[*i].queue.is_empty() && now.saturating_sub(self.nodes[*i].last_take_ms) > floor)
            .collect();
        for i in dead {
            let queued: Vec<(B256, usize)> = self.nodes[i].queue.drain(..).collect();
            self.nodes[i].avoid_until_ms = now + self.config.cooldown_ms;
            for (key, idx) in queued {
                if let Some(att) = self.jobs.get_mut(&key).and_then(|j| j.attempts.get_mut(idx)) {
                    if att.outcome == Outcome::Queued {
                        att.outcome = Outcome::TimedOut;
                        att.ended_ms = Some(now);
                        self.nodes[i].timeouts += 1;
                        self.nodes[i].observe(now.saturating_sub(att.dispatched_ms), now);
                    }
                }
                self.ensure_progress(key, now);
            }
        }
        // Delays per model, computed once per tick (each sorts the model's samples).
        let mut delays: HashMap<(String, Option<CallKind>), (u64, u64)> = HashMap::new();
        for key in self.active.clone() {
            let Some(job) = self.jobs.get(&key) else { continue };
            let (timeout, hedge_delay) = *delays
                .entry((job.model_id.clone(), job.kind))
                .or_insert_with(|| (self.timeout(&job.model_id, job.kind), self.hedge_delay(&job.model_id)));
            // Give up on attempts that run too long: the node is probably down.
            let expired: Vec<usize> = job
                .attempts
                .iter()
                .enumerate()
                .filter(|(_, a)| a.outcome == Outcome::Running && a.started_ms.is_some_and(|t| now >= t + timeout))
                .map(|(i, _)| i)
                .collect();
            for i in &expired {
                let job = self.jobs.get_mut(&key).expect("active job");
                let att = &mut job.attempts[*i];
                att.outcome = Outcome::TimedOut;
                att.ended_ms = Some(now);
                let node = &mut self.nodes[att.node];
                node.running = node.running.saturating_sub(1);
                node.timeouts += 1;
                node.avoid_until_ms = now + self.config.cooldown_ms;
                // A timeout is a sample of its elapsed time.
                node.observe(now.saturating_sub(att.dispatched_ms), now);
                self.wasted_ms += timeout;
            }
            if !expired.is_empty() {
                self.ensure_progress(key, now);
            }
            let Some(job) = self.jobs.get(&key) else { continue };
            if job.is_decided() {
                continue;
            }
            for a in job.attempts.iter().filter(|a| a.outcome == Outcome::Running) {
                if let Some(t) = a.started_ms {
                    soonest(t + timeout);
                }
            }
            // Hedge: no valid result by the hedge delay since the last dispatch.
            let due = job.last_dispatch_ms + hedge_delay;
            let within_budget = (self.hedges + 1) as f64 <= self.config.hedge_budget * self.jobs_total as f64;
            if now >= due {
                if within_budget && self.dispatch(key, true, now) {
                    soonest(now + hedge_delay);
                }
            } else {
                soonest(due);
            }
        }
        next
    }
}

#[cfg(test)]
mod tests;
