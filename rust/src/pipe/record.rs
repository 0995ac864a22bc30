//! The inference record: one typed shape for what `og_getInference` returns, what the store
//! keeps and what the explorer reads.
//!
//! A record is made from a PIPE job ([`InferenceJob::record`](super::InferenceJob::record)),
//! finished when its block seals ([`InferenceRecord::included`], [`InferenceRecord::fail_with_tx`])
//! and moved on by the settlement steps of later blocks ([`InferenceRecord::apply`]); the store
//! saves it as given. Its JSON is the wire the RPC and REST API have always shown: the same
//! field names and value shapes, and the fields a later step adds are absent until it comes.
use std::fmt;

use alloy_primitives::{Address, B256, U256};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::chain::llm::LlmSettlement;
use crate::chain::native::hub::CallKind;
use crate::chain::settlement::SettlementRecord;

/// A verification mode, numbered as the SDK's `InferenceMode` (OPTIMISTIC is the devnet's).
/// On the wire a `mode` is its number; `mode_name` fields carry [`Mode::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Mode {
    /// No proof: settled at inclusion, shown as unverified.
    Vanilla = 0,
    /// A zero-knowledge proof of the model run, made after the result.
    Zkml = 1,
    /// Enclave attestation and a signed response.
    Tee = 2,
    /// A bonded result, a challenge window, slashing.
    Optimistic = 3,
}

/// A mode number that is none of [`Mode::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownMode(pub u8);

impl fmt::Display for UnknownMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown inference mode {} (", self.0)?;
        for (i, m) in Mode::ALL.iter().enumerate() {
            write!(f, "{}{} {}", if i > 0 { ", " } else { "" }, *m as u8, m.name())?;
        }
        write!(f, ")")
    }
}

impl std::error::Error for UnknownMode {}

impl Mode {
    /// Every mode, by number.
    pub const ALL: [Mode; 4] = [Mode::Vanilla, Mode::Zkml, Mode::Tee, Mode::Optimistic];
    /// From the cheapest and weakest guarantee to the dearest and strongest.
    pub const BY_STRENGTH: [Mode; 4] = [Mode::Vanilla, Mode::Optimistic, Mode::Tee, Mode::Zkml];

    pub const fn name(self) -> &'static str {
        match self {
            Mode::Vanilla => "VANILLA",
            Mode::Zkml => "ZKML",
            Mode::Tee => "TEE",
            Mode::Optimistic => "OPTIMISTIC",
        }
    }

    pub const fn number(self) -> u8 {
        self as u8
    }

    pub fn from_number(n: u8) -> Option<Mode> {
        Mode::ALL.get(n as usize).copied()
    }

    /// By name, in any case ("zkml", "ZKML").
    pub fn from_name(name: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// What backs a result of this mode, in words.
    pub const fn verification(self) -> &'static str {
        match self {
            Mode::Vanilla => "none: VANILLA results carry no proof (no verification)",
            Mode::Zkml => "ZKML: the winning node proves after answering; the full node verifies the proof with the verifying key, settings and SRS, bound to the request and the delivered output",
            Mode::Tee => "TEE: attestation and response signature checked when the result arrived, and again by the full node at settlement",
            Mode::Optimistic => "OPTIMISTIC: the result is bonded from the node's stake; a watcher re-executes and may challenge within the window; a referee re-execution decides",
        }
    }
}

impl TryFrom<u8> for Mode {
    type Error = UnknownMode;
    fn try_from(n: u8) -> Result<Mode, UnknownMode> {
        Mode::from_number(n).ok_or(UnknownMode(n))
    }
}

impl From<Mode> for u8 {
    fn from(m: Mode) -> u8 {
        m as u8
    }
}

impl PartialEq<u8> for Mode {
    fn eq(&self, n: &u8) -> bool {
        *self as u8 == *n
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// As its number: the `mode` of every record, settlement and delivery on the wire.
impl Serialize for Mode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(*self as u8)
    }
}

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Mode, D::Error> {
        Mode::try_from(u8::deserialize(d)?).map_err(D::Error::custom)
    }
}

/// Where an inference stands, as `status` says on the wire.
///
/// One call: `pending → result_ready` (or `failing`) while it races; at inclusion `failed`,
/// `settled` (VANILLA), `challengeable` (OPTIMISTIC) or `delivered` (TEE, ZKML); then
/// `delivered → settled | rejected` and `challengeable → settled | disputed → slashed | settled`.
/// A `runMany` transaction as a whole is also `settling` or `partly_rejected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Racing on PIPE: no decision yet.
    Pending,
    /// A valid result won; its transaction is not in a block yet.
    ResultReady,
    /// No valid result (or a bad input); its transaction is not in a block yet.
    Failing,
    /// In a block; its proof is settled in a later one (TEE, ZKML).
    Delivered,
    /// In a block, with its challenge window open (OPTIMISTIC).
    Challengeable,
    /// A watcher challenged it; the referee decides (OPTIMISTIC).
    Disputed,
    Settled,
    /// The proof failed (the node is slashed), or none came (refunded).
    Rejected,
    /// The referee sided with the challenger: the node's bond is gone.
    Slashed,
    /// Included with status 0: nothing was delivered.
    Failed,
    /// A `runMany` transaction: some calls are still settling.
    Settling,
    /// A `runMany` transaction: every call is final, and not every one settled.
    PartlyRejected,
}

impl Status {
    pub const ALL: [Status; 12] = [
        Status::Pending,
        Status::ResultReady,
        Status::Failing,
        Status::Delivered,
        Status::Challengeable,
        Status::Disputed,
        Status::Settled,
        Status::Rejected,
        Status::Slashed,
        Status::Failed,
        Status::Settling,
        Status::PartlyRejected,
    ];

    /// The wire string.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::ResultReady => "result_ready",
            Status::Failing => "failing",
            Status::Delivered => "delivered",
            Status::Challengeable => "challengeable",
            Status::Disputed => "disputed",
            Status::Settled => "settled",
            Status::Rejected => "rejected",
            Status::Slashed => "slashed",
            Status::Failed => "failed",
            Status::Settling => "settling",
            Status::PartlyRejected => "partly_rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Nothing more will happen to it.
    pub const fn is_final(self) -> bool {
        matches!(self, Status::Settled | Status::Rejected | Status::Slashed | Status::Failed | Status::PartlyRejected)
    }

    /// Not decided, or decided and not in a block yet.
    const fn before_inclusion(self) -> bool {
        matches!(self, Status::Pending | Status::ResultReady | Status::Failing)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What became of one attempt, as `attempts[].outcome` says (the detail goes apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    Queued,
    Running,
    Valid,
    Won,
    Agreed,
    Disagreed,
    Invalid,
    Failed,
    BadInput,
    TimedOut,
    Cancelled,
    Late,
}

impl AttemptOutcome {
    pub const fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Queued => "queued",
            AttemptOutcome::Running => "running",
            AttemptOutcome::Valid => "valid",
            AttemptOutcome::Won => "won",
            AttemptOutcome::Agreed => "agreed",
            AttemptOutcome::Disagreed => "disagreed",
            AttemptOutcome::Invalid => "invalid",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::BadInput => "bad_input",
            AttemptOutcome::TimedOut => "timed_out",
            AttemptOutcome::Cancelled => "cancelled",
            AttemptOutcome::Late => "late",
        }
    }
}

/// One node attempt of an inference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    pub node: usize,
    pub node_address: Address,
    pub hedge: bool,
    pub dispatched_ms: u64,
    pub started_ms: Option<u64>,
    pub ended_ms: Option<u64>,
    pub outcome: AttemptOutcome,
    /// Why an attempt was invalid, failed or refused its input.
    pub detail: Option<String>,
}

/// What the verifier found in the winning attempt's proof material when the result came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ProofCheck {
    Tee(TeeCheck),
}

/// A TEE result's attestation and response signature, verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeeCheck {
    pub verified_at_result: bool,
    pub module_id: String,
    pub attestation_timestamp_ms: u64,
    pub response_timestamp_ms: u64,
    pub attestation_bytes: usize,
    pub request_hash: B256,
    pub output_hash: B256,
}

/// What a settlement step (settled, rejected, slashed) adds to the record. `fee_paid` is what
/// the node was paid, `slashed` what the result's node lost (a failed challenge slashes the
/// challenger instead, which is not counted here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    pub t_proof_submitted: Option<u64>,
    pub rejection_reason: Option<String>,
    pub proof_hash: Option<B256>,
    pub proof_bytes: Option<u64>,
    #[serde(with = "decimal")]
    pub fee_paid: U256,
    #[serde(with = "decimal")]
    pub slashed: U256,
}

/// A challenge recorded against an OPTIMISTIC result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dispute {
    pub t_disputed: u64,
    pub dispute_block: u64,
    pub challenger: Option<Address>,
}

/// A losing attempt's node caught lying (the inference itself is unaffected).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PenaltyNote {
    pub node: Address,
    pub reason: Option<String>,
    #[serde(with = "decimal")]
    pub slashed: U256,
}

/// A settlement step's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    Settled,
    Rejected,
    /// A challenge arrived; the referee decides in a later block.
    Disputed,
    Slashed,
    /// A losing attempt's node was slashed for a wrong result or proof.
    Penalised,
}

impl StepOutcome {
    pub const fn as_str(self) -> &'static str {
        match self {
            StepOutcome::Settled => "settled",
            StepOutcome::Rejected => "rejected",
            StepOutcome::Disputed => "disputed",
            StepOutcome::Slashed => "slashed",
            StepOutcome::Penalised => "penalised",
        }
    }

    pub fn parse(s: &str) -> Option<StepOutcome> {
        [StepOutcome::Settled, StepOutcome::Rejected, StepOutcome::Disputed, StepOutcome::Slashed, StepOutcome::Penalised]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// One settlement step as a block's record lists it and an inference's `settlement_steps`
/// keep it: the chain's [`SettlementRecord`] (amounts in decimal), with when and where it was
/// taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementStep {
    pub id: B256,
    pub tx_hash: B256,
    pub mode: Mode,
    pub node: Address,
    pub outcome: StepOutcome,
    pub reason: Option<String>,
    pub t_result: u64,
    pub t_proof_submitted: Option<u64>,
    pub proof_hash: Option<B256>,
    pub proof_bytes: Option<u64>,
    #[serde(with = "decimal")]
    pub fee: U256,
    #[serde(with = "decimal")]
    pub slashed: U256,
    pub slashed_account: Option<Address>,
    pub challenger: Option<Address>,
    #[serde(with = "decimal")]
    pub reward: U256,
    /// The settling block's timestamp.
    pub t_settled: u64,
    pub settlement_block: u64,
}

/// A settlement record the wire cannot show (an outcome or a mode it does not know).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadStep(pub String);

impl fmt::Display for BadStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadStep {}

impl SettlementStep {
    /// Settlement record `r`, taken by block `settlement_block` sealed at `t_settled`.
    pub fn new(r: &SettlementRecord, t_settled: u64, settlement_block: u64) -> Result<Self, BadStep> {
        Ok(SettlementStep {
            id: r.id,
            tx_hash: r.tx_hash,
            mode: Mode::try_from(r.mode).map_err(|e| BadStep(e.to_string()))?,
            node: r.node,
            outcome: StepOutcome::parse(&r.outcome).ok_or_else(|| BadStep(format!("unknown settlement outcome {:?}", r.outcome)))?,
            reason: r.reason.clone(),
            t_result: r.t_result,
            t_proof_submitted: r.t_proof_submitted,
            proof_hash: r.proof_hash,
            proof_bytes: r.proof_bytes,
            fee: r.fee,
            slashed: r.slashed,
            slashed_account: r.slashed_account,
            challenger: r.challenger,
            reward: r.reward,
            t_settled,
            settlement_block,
        })
    }
}

/// One inference, as `og_getInference` returns it (a `runMany` call on its own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InferenceRecord {
    /// The transaction's hash, or for a call of `runMany` an id derived from it.
    pub id: B256,
    pub tx_hash: B256,
    pub call_index: Option<u32>,
    pub model_id: String,
    pub kind: Option<CallKind>,
    pub mode: Mode,
    /// [`Mode::name`] of `mode`.
    pub mode_name: String,
    pub status: Status,
    /// [`Mode::verification`] of `mode`, as it read when the record was made.
    pub verification: String,
    pub proof: Option<ProofCheck>,
    /// The job the nodes were given.
    pub input: Option<Value>,
    pub t_request: u64,
    pub t_result: Option<u64>,
    pub t_included: Option<u64>,
    pub block_number: Option<u64>,
    pub winner_node: Option<usize>,
    pub winner_address: Option<Address>,
    pub output: Option<Value>,
    pub error: Option<String>,
    #[serde(default)]
    pub attempts: Vec<AttemptRecord>,
    /// The status its block gave it, which settlement steps start from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_status: Option<Status>,
    /// OPTIMISTIC: the block whose sealing closes the challenge window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge_window_ends: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t_settled: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_block: Option<u64>,
    /// t_settled − t_result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_gap_ms: Option<i64>,
    #[serde(flatten)]
    pub settlement: Option<Settlement>,
    #[serde(flatten)]
    pub dispute: Option<Dispute>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub penalties: Option<Vec<PenaltyNote>>,
    /// Every settlement step taken for it, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_steps: Option<Vec<SettlementStep>>,
    /// An LLM gateway answer (`chain/llm`): what was signed, its batch, its Merkle leaf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<LlmSettlement>,
}

impl InferenceRecord {
    /// A record of what is known before any block: made by PIPE (see `InferenceJob::record`).
    #[allow(clippy::too_many_arguments)]
    pub fn new(id: B256, tx_hash: B256, call_index: Option<u32>, model_id: String, kind: Option<CallKind>, mode: Mode, status: Status, t_request: u64) -> Self {
        InferenceRecord {
            id,
            tx_hash,
            call_index,
            model_id,
            kind,
            mode,
            mode_name: mode.name().into(),
            status,
            verification: mode.verification().into(),
            proof: None,
            input: None,
            t_request,
            t_result: None,
            t_included: None,
            block_number: None,
            winner_node: None,
            winner_address: None,
            output: None,
            error: None,
            attempts: vec![],
            delivered_status: None,
            challenge_window_ends: None,
            t_settled: None,
            settlement_block: None,
            trust_gap_ms: None,
            settlement: None,
            dispute: None,
            penalties: None,
            settlement_steps: None,
            llm: None,
        }
    }

    /// The transaction holding this inference failed (another of its calls failed, or it ran
    /// out of gas): nothing was delivered.
    pub fn fail_with_tx(&mut self) {
        self.status = Status::Failed;
        if self.error.is_none() {
            self.error = Some("the transaction failed: another call of it failed or it ran out of gas".into());
        }
    }

    /// Sealed in block `number`: VANILLA settles there and then (with nothing to verify), an
    /// OPTIMISTIC result's challenge window opens, and settlement starts from the status the
    /// block gave.
    pub fn included(&mut self, number: u64, challenge_window: u64) {
        match (self.mode, self.status) {
            (Mode::Vanilla, Status::Settled) => {
                self.t_settled = self.t_included;
                self.trust_gap_ms = gap(self.t_included, self.t_result);
                self.settlement_block = Some(number);
            }
            (Mode::Optimistic, Status::Challengeable) => self.challenge_window_ends = Some(number + challenge_window),
            _ => {}
        }
        self.delivered_status = Some(self.status);
    }

    /// A settlement step a later block took for this inference: kept in `settlement_steps`,
    /// and applied.
    pub fn apply(&mut self, step: &SettlementStep) {
        self.settlement_steps.get_or_insert_with(Vec::new).push(step.clone());
        self.take(step);
    }

    fn take(&mut self, st: &SettlementStep) {
        match st.outcome {
            StepOutcome::Penalised => {
                self.penalties.get_or_insert_with(Vec::new).push(PenaltyNote { node: st.node, reason: st.reason.clone(), slashed: st.slashed })
            }
            StepOutcome::Disputed => {
                self.status = Status::Disputed;
                self.dispute = Some(Dispute { t_disputed: st.t_settled, dispute_block: st.settlement_block, challenger: st.challenger });
            }
            StepOutcome::Settled | StepOutcome::Rejected | StepOutcome::Slashed => {
                self.status = match st.outcome {
                    StepOutcome::Settled => Status::Settled,
                    StepOutcome::Rejected => Status::Rejected,
                    _ => Status::Slashed,
                };
                self.t_settled = Some(st.t_settled);
                self.settlement_block = Some(st.settlement_block);
                self.trust_gap_ms = gap(Some(st.t_settled), Some(st.t_result));
                self.settlement = Some(Settlement {
                    t_proof_submitted: st.t_proof_submitted,
                    rejection_reason: st.reason.clone(),
                    proof_hash: st.proof_hash,
                    proof_bytes: st.proof_bytes,
                    fee_paid: if st.outcome == StepOutcome::Settled { st.fee } else { U256::ZERO },
                    slashed: if st.slashed_account == Some(st.node) { st.slashed } else { U256::ZERO },
                });
            }
        }
    }

    /// Undoes the settlement steps that blocks after `head` took (`evm_revert`): back to the
    /// status its block gave, then the steps up to `head` again.
    pub fn revert_to(&mut self, head: u64) {
        let steps: Vec<SettlementStep> = self.settlement_steps.take().unwrap_or_default().into_iter().filter(|s| s.settlement_block <= head).collect();
        // VANILLA's settlement comes from its inclusion, not from a step.
        if self.mode != Mode::Vanilla {
            (self.t_settled, self.settlement_block, self.trust_gap_ms) = (None, None, None);
        }
        (self.settlement, self.dispute, self.penalties) = (None, None, None);
        self.status = self.delivered_status.unwrap_or(self.status);
        for st in &steps {
            self.take(st);
        }
        self.settlement_steps = Some(steps);
    }

    /// The block of the latest settlement step, if any.
    pub fn last_step_block(&self) -> Option<u64> {
        self.settlement_steps.as_ref().and_then(|steps| steps.iter().map(|s| s.settlement_block).max())
    }
}

fn gap(end: Option<u64>, start: Option<u64>) -> Option<i64> {
    Some(end? as i64 - start? as i64)
}

/// A `runMany` transaction's inferences together: its calls, and where the whole stands (it
/// is settled when every call is).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManyRecord {
    pub tx_hash: B256,
    /// Always true: tells this shape from a single inference's.
    pub many: bool,
    pub status: Status,
    pub calls: Vec<InferenceRecord>,
    pub block_number: Option<u64>,
    pub t_request: u64,
    /// When the last call's result came.
    pub t_result: u64,
    pub t_settled: Option<u64>,
    pub trust_gap_ms: Option<i64>,
}

impl ManyRecord {
    pub fn new(tx_hash: B256, calls: Vec<InferenceRecord>) -> Self {
        let all = |f: &dyn Fn(Status) -> bool| calls.iter().all(|c| f(c.status));
        let status = if !calls.is_empty() && all(&|s| s == Status::Settled) {
            Status::Settled
        } else if !calls.is_empty() && all(&|s| s == Status::Failed) {
            Status::Failed
        } else if all(&|s| matches!(s, Status::Rejected | Status::Slashed)) {
            Status::Rejected
        } else if calls.iter().any(|c| c.status.before_inclusion()) {
            Status::Pending
        } else if all(&|s| matches!(s, Status::Settled | Status::Rejected | Status::Slashed | Status::Failed)) {
            Status::PartlyRejected
        } else {
            Status::Settling
        };
        let t_settled = matches!(status, Status::Settled | Status::PartlyRejected)
            .then(|| calls.iter().map(|c| c.t_settled.unwrap_or(0)).max().unwrap_or(0));
        let t_result = calls.iter().map(|c| c.t_result.unwrap_or(0)).max().unwrap_or(0);
        ManyRecord {
            tx_hash,
            many: true,
            status,
            block_number: calls.first().and_then(|c| c.block_number),
            t_request: calls.iter().map(|c| c.t_request).min().unwrap_or(0),
            t_result,
            t_settled,
            trust_gap_ms: gap(t_settled, Some(t_result)),
            calls,
        }
    }
}

/// A transaction's inference as `og_getInference` shows it by the transaction's hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TxInference {
    Many(ManyRecord),
    One(Box<InferenceRecord>),
}

/// Wei amounts as decimal strings (the record's and settlement steps' amounts).
pub mod decimal {
    use alloy_primitives::U256;
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &U256, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<U256, D::Error> {
        let text = String::deserialize(d)?;
        U256::from_str_radix(&text, 10).map_err(|e| D::Error::custom(format!("{text:?} is not a decimal amount: {e}")))
    }
}

#[cfg(test)]
mod tests;
