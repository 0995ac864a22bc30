//! One inference job and its attempts, and the record (`og_getInference`, the store, the
//! explorer) made from them.
use alloy_primitives::{Address, Log, B256};

use super::record::{AttemptOutcome, AttemptRecord, InferenceRecord, Mode, ProofCheck, Status};
use crate::chain::native::hub::{CallKind, InferenceCall};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStatus {
    /// Attempts queued or running, no decision yet.
    Running,
    /// A valid result won; the transaction can be included.
    Ready,
    /// No valid result (or invalid input): the transaction is included with status 0.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Queued,
    Running,
    /// Well-formed, waiting for agreement (redundancy ≥ 2).
    Valid,
    Won,
    /// Valid and equal to the winner's, but later.
    Agreed,
    /// Valid but outvoted by the quorum: a wrong answer.
    Disagreed,
    /// Not well-formed for the model's output signature.
    Invalid(String),
    /// The node reported an error.
    Failed(String),
    /// The node says the request itself cannot run (e.g. a prompt over the context length).
    BadInput(String),
    TimedOut,
    /// Dropped from the node's queue: the race was decided first.
    Cancelled,
    /// Finished after the race was decided: discarded.
    Late,
}

impl Outcome {
    /// The outcome without its detail, as the record shows it.
    pub fn kind(&self) -> AttemptOutcome {
        match self {
            Outcome::Queued => AttemptOutcome::Queued,
            Outcome::Running => AttemptOutcome::Running,
            Outcome::Valid => AttemptOutcome::Valid,
            Outcome::Won => AttemptOutcome::Won,
            Outcome::Agreed => AttemptOutcome::Agreed,
            Outcome::Disagreed => AttemptOutcome::Disagreed,
            Outcome::Invalid(_) => AttemptOutcome::Invalid,
            Outcome::Failed(_) => AttemptOutcome::Failed,
            Outcome::BadInput(_) => AttemptOutcome::BadInput,
            Outcome::TimedOut => AttemptOutcome::TimedOut,
            Outcome::Cancelled => AttemptOutcome::Cancelled,
            Outcome::Late => AttemptOutcome::Late,
        }
    }

    pub fn name(&self) -> &'static str {
        self.kind().as_str()
    }

    /// Why an attempt was invalid, failed or refused its input.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Outcome::Invalid(r) | Outcome::Failed(r) | Outcome::BadInput(r) => Some(r),
            _ => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Outcome::Invalid(r) => format!("invalid output ({r})"),
            Outcome::Failed(r) => format!("node error ({r})"),
            Outcome::BadInput(r) => format!("bad input ({r})"),
            other => other.name().replace('_', " "),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Attempt {
    pub node: usize,
    pub hedge: bool,
    pub dispatched_ms: u64,
    pub started_ms: Option<u64>,
    pub ended_ms: Option<u64>,
    pub outcome: Outcome,
    pub output: Option<String>,
    pub logs: Vec<Log>,
    /// What the verifier found in the attempt's proof material (TEE: the attestation).
    pub proof: Option<ProofCheck>,
    /// The proof material as the node submitted it, for settlement.
    pub proof_raw: Option<String>,
}

impl Attempt {
    pub fn queued(node: usize, now: u64, hedge: bool) -> Self {
        Attempt {
            node,
            hedge,
            dispatched_ms: now,
            started_ms: None,
            ended_ms: None,
            outcome: Outcome::Queued,
            output: None,
            logs: vec![],
            proof: None,
            proof_raw: None,
        }
    }
    /// Queued or running: an answer may still come.
    pub fn is_pending(&self) -> bool {
        matches!(self.outcome, Outcome::Queued | Outcome::Running)
    }
    /// The node answered wrongly for this job: never ask it again.
    pub fn was_wrong(&self) -> bool {
        matches!(self.outcome, Outcome::Invalid(_) | Outcome::Disagreed)
    }
    /// The node gave a well-formed answer: asking it again adds no independent vote.
    pub fn answered(&self) -> bool {
        matches!(self.outcome, Outcome::Valid | Outcome::Won | Outcome::Agreed | Outcome::BadInput(_))
    }
}

#[derive(Debug, Clone)]
pub struct InferenceJob {
    /// The inference's id: its transaction's hash, or for a call of `runMany` one derived
    /// from the hash and the call's index.
    pub id: B256,
    pub tx_hash: B256,
    pub call_index: Option<u32>,
    pub call: Option<InferenceCall>,
    pub kind: Option<CallKind>,
    pub model_id: String,
    pub mode: Mode,
    pub payload: String,
    pub quorum: usize,
    pub status: JobStatus,
    pub t_request: u64,
    pub t_result: Option<u64>,
    pub t_included: Option<u64>,
    pub block: Option<u64>,
    /// OPTIMISTIC: the chain's challenge window when the job's block was sealed, so the live
    /// record (read between sealing and storing) already says when the window closes.
    pub challenge_window: Option<u64>,
    pub attempts: Vec<Attempt>,
    pub winner: Option<usize>,
    pub logs: Vec<Log>,
    pub error: Option<String>,
    pub last_dispatch_ms: u64,
}

impl InferenceJob {
    /// A job for a valid call (one whose mode is not a known one fails at once: the hub
    /// never lets such a call through).
    pub fn new(id: B256, tx_hash: B256, call_index: Option<u32>, call: InferenceCall, quorum: usize, now: u64) -> Self {
        let mode = match Mode::try_from(call.mode) {
            Ok(mode) => mode,
            Err(e) => {
                let mut job = InferenceJob::failed(tx_hash, Some(call.kind), call.model_id, Mode::Vanilla, e.to_string(), now);
                (job.id, job.call_index) = (id, call_index);
                return job;
            }
        };
        InferenceJob {
            id,
            tx_hash,
            call_index,
            kind: Some(call.kind),
            model_id: call.model_id.clone(),
            mode,
            payload: call.job_payload().to_string(),
            call: Some(call),
            quorum,
            status: JobStatus::Running,
            t_request: now,
            t_result: None,
            t_included: None,
            challenge_window: None,
            block: None,
            attempts: vec![],
            winner: None,
            logs: vec![],
            error: None,
            last_dispatch_ms: now,
        }
    }

    pub fn failed(tx_hash: B256, kind: Option<CallKind>, model_id: String, mode: Mode, reason: String, now: u64) -> Self {
        InferenceJob {
            id: tx_hash,
            tx_hash,
            call_index: None,
            call: None,
            kind,
            model_id,
            mode,
            payload: String::new(),
            quorum: 1,
            status: JobStatus::Failed,
            t_request: now,
            t_result: Some(now),
            t_included: None,
            challenge_window: None,
            block: None,
            attempts: vec![],
            winner: None,
            logs: vec![],
            error: Some(reason),
            last_dispatch_ms: now,
        }
    }

    pub fn is_decided(&self) -> bool {
        self.status != JobStatus::Running
    }

    /// Distinct nodes among the valid attempts that share `a`'s output.
    fn votes_for(&self, a: &Attempt) -> usize {
        let mut nodes: Vec<usize> =
            self.attempts.iter().filter(|b| b.outcome == Outcome::Valid && b.logs == a.logs).map(|b| b.node).collect();
        nodes.sort_unstable();
        nodes.dedup();
        nodes.len()
    }

    /// The earliest valid attempt whose output `quorum` distinct nodes share, if any.
    pub fn quorum_reached(&self) -> Option<usize> {
        self.attempts
            .iter()
            .enumerate()
            .filter(|(_, a)| a.outcome == Outcome::Valid && self.votes_for(a) >= self.quorum)
            .min_by_key(|(_, a)| a.ended_ms)
            .map(|(i, _)| i)
    }

    /// How many more matching results (from other nodes) the quorum needs.
    pub fn results_still_needed(&self) -> usize {
        let best = self.attempts.iter().filter(|a| a.outcome == Outcome::Valid).map(|a| self.votes_for(a)).max().unwrap_or(0);
        self.quorum.saturating_sub(best)
    }

    /// Status in the settlement vocabulary: pending → result_ready → delivered (settled for
    /// VANILLA, challengeable for OPTIMISTIC) once in a block. What follows is the settlement's
    /// (later blocks).
    pub fn status(&self) -> Status {
        match (&self.status, self.block) {
            (JobStatus::Failed, Some(_)) => Status::Failed,
            (JobStatus::Failed, None) => Status::Failing,
            (JobStatus::Running, _) => Status::Pending,
            (JobStatus::Ready, None) => Status::ResultReady,
            (JobStatus::Ready, Some(_)) => match self.mode {
                Mode::Vanilla => Status::Settled,
                Mode::Optimistic => Status::Challengeable,
                Mode::Zkml | Mode::Tee => Status::Delivered,
            },
        }
    }

    /// The job's inference record; `address_of` gives a node's address.
    pub fn record(&self, address_of: impl Fn(usize) -> Address) -> InferenceRecord {
        let winner = self.winner.and_then(|w| self.attempts.get(w));
        let mut r = InferenceRecord::new(self.id, self.tx_hash, self.call_index, self.model_id.clone(), self.kind, self.mode, self.status(), self.t_request);
        r.proof = winner.and_then(|a| a.proof.clone());
        r.input = serde_json::from_str(&self.payload).ok();
        r.t_result = self.t_result;
        r.t_included = self.t_included;
        r.block_number = self.block;
        r.winner_node = winner.map(|a| a.node);
        r.winner_address = winner.map(|a| address_of(a.node));
        r.output = winner.and_then(|a| a.output.as_deref()).and_then(|o| serde_json::from_str(o).ok());
        r.error = self.error.clone();
        // Settlement fields come with the block's record; when the window closes is known now.
        if let (Mode::Optimistic, Status::Challengeable, Some(block), Some(window)) = (r.mode, r.status, self.block, self.challenge_window) {
            r.challenge_window_ends = Some(block + window);
        }
        r.attempts = self
            .attempts
            .iter()
            .map(|a| AttemptRecord {
                node: a.node,
                node_address: address_of(a.node),
                hedge: a.hedge,
                dispatched_ms: a.dispatched_ms,
                started_ms: a.started_ms,
                ended_ms: a.ended_ms,
                outcome: a.outcome.kind(),
                detail: a.outcome.detail().map(str::to_string),
            })
            .collect();
        r
    }
}
