//! Asynchronous settlement: proof material travels apart from results. A verifiable
//! inference is delivered in one block; its proof (TEE evidence, a ZKML proof) or its bond's
//! challenge window (OPTIMISTIC) is settled in later ones, by the full node, with public
//! material only.
//!
//! States: `delivered → proof_submitted → settled | rejected` (TEE, ZKML) and
//! `challengeable → settled | disputed → slashed` (OPTIMISTIC). VANILLA settles at inclusion.
use alloy_primitives::{Address, B256, U256};
use serde::{Deserialize, Serialize};

use crate::pipe::record::{decimal, UnknownMode};
use crate::pipe::Mode;

/// How long a ZKML result may wait for its proof before it is rejected.
pub const ZK_PROOF_DEADLINE_MS: u64 = 600_000;

/// A dispute the referee has not decided within this many blocks settles in the node's
/// favour, and costs the challenger nothing.
pub const REFEREE_DEADLINE_BLOCKS: u64 = 20;

/// A challenge to an OPTIMISTIC result, posted with a bond by a watcher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    pub challenger: Address,
    pub output: String,
    pub t_ms: u64,
    /// The block whose "disputed" record holds the challenge.
    pub disputed_block: Option<u64>,
    /// The referee's re-execution, once it has run.
    pub referee_output: Option<String>,
}

/// The full node's verdict on a ZKML proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    Valid,
    /// The proof fails: the node lied (or tampered); it is slashed.
    Invalid(String),
    /// No proof could be made, for reasons that are not the node's lie (the devnet's prover
    /// failed, an input outside the calibrated range): refunded, nobody slashed.
    Unproven(String),
}

/// A verifiable result delivered in `included_block`, waiting for its settlement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: B256,
    pub tx_hash: B256,
    pub mode: u8,
    pub node: Address,
    pub node_index: usize,
    pub model_id: String,
    pub payload: String,
    pub output: String,
    /// TEE: the evidence given with the result. ZKML: the proof, once submitted.
    pub proof: Option<String>,
    /// ZKML: the full node's check of the submitted proof.
    pub verdict: Option<Verdict>,
    pub t_result: u64,
    pub t_proof_submitted: Option<u64>,
    pub included_block: u64,
    pub sender: Address,
    /// Held by the hub until settlement.
    pub fee: U256,
    pub challenge: Option<Challenge>,
}

/// What the node's settlement duties (Python) are told of a delivery: enough to prove it
/// (ZKML) or re-execute it (OPTIMISTIC); the proof and the challenge stay with the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryNotice {
    pub id: B256,
    pub tx_hash: B256,
    pub mode: Mode,
    pub node: Address,
    pub node_index: usize,
    pub model_id: String,
    pub payload: String,
    pub output: String,
    pub t_result: u64,
    pub included_block: u64,
    /// Held by the hub until settlement.
    #[serde(with = "decimal")]
    pub fee: U256,
    pub has_proof: bool,
    pub challenged: bool,
}

impl TryFrom<&Delivery> for DeliveryNotice {
    type Error = UnknownMode;
    fn try_from(d: &Delivery) -> Result<Self, UnknownMode> {
        Ok(DeliveryNotice {
            id: d.id,
            tx_hash: d.tx_hash,
            mode: Mode::try_from(d.mode)?,
            node: d.node,
            node_index: d.node_index,
            model_id: d.model_id.clone(),
            payload: d.payload.clone(),
            output: d.output.clone(),
            t_result: d.t_result,
            included_block: d.included_block,
            fee: d.fee,
            has_proof: d.proof.is_some(),
            challenged: d.challenge.is_some(),
        })
    }
}

/// A node caught giving a wrong result while a race was run (an attestation that does not
/// verify, an answer the quorum outvoted): it loses a bond from its stake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Penalty {
    pub id: B256,
    pub tx_hash: B256,
    pub mode: Mode,
    pub node: Address,
    pub node_index: usize,
    pub reason: String,
    pub t_ms: u64,
}

/// What a block records about each settlement step it took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementRecord {
    pub id: B256,
    pub tx_hash: B256,
    pub mode: u8,
    /// The node whose result (or attempt) this is about.
    pub node: Address,
    /// settled | rejected | disputed | slashed | penalised.
    pub outcome: String,
    /// Rejections and penalties: the named reason and detail.
    pub reason: Option<String>,
    pub t_result: u64,
    pub t_proof_submitted: Option<u64>,
    /// Hash of the proof material (the material itself stays with the node's submission).
    pub proof_hash: Option<B256>,
    /// Size of the proof material, in bytes.
    #[serde(default)]
    pub proof_bytes: Option<u64>,
    /// Paid to the node (settled) or refunded to the sender (rejected, slashed).
    pub fee: U256,
    /// Taken from the loser's stake.
    pub slashed: U256,
    /// Whose stake was slashed (the node, or a challenger that was wrong).
    pub slashed_account: Option<Address>,
    pub challenger: Option<Address>,
    /// Paid to the challenger out of the slashed bond.
    pub reward: U256,
}

impl SettlementRecord {
    pub fn new(d: &Delivery, outcome: &str) -> Self {
        SettlementRecord {
            id: d.id,
            tx_hash: d.tx_hash,
            mode: d.mode,
            node: d.node,
            outcome: outcome.into(),
            reason: None,
            t_result: d.t_result,
            t_proof_submitted: d.t_proof_submitted,
            proof_hash: d.proof.as_ref().map(|p| alloy_primitives::keccak256(p.as_bytes())),
            proof_bytes: d.proof.as_ref().map(|p| p.len() as u64),
            fee: U256::ZERO,
            slashed: U256::ZERO,
            slashed_account: None,
            challenger: d.challenge.as_ref().map(|c| c.challenger),
            reward: U256::ZERO,
        }
    }

    pub fn penalty(p: &Penalty) -> Self {
        SettlementRecord {
            id: p.id,
            tx_hash: p.tx_hash,
            mode: p.mode.into(),
            node: p.node,
            outcome: "penalised".into(),
            reason: Some(p.reason.clone()),
            t_result: p.t_ms,
            t_proof_submitted: None,
            proof_hash: None,
            proof_bytes: None,
            fee: U256::ZERO,
            slashed: U256::ZERO,
            slashed_account: None,
            challenger: None,
            reward: U256::ZERO,
        }
    }

    pub fn leaf(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("serialisable")
    }
}

/// What the full node does with a delivery in block `number`.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing yet: no proof, the window is open, the referee has not spoken.
    Wait,
    /// The result holds: the node is paid.
    Settle,
    /// The proof failed: the sender is refunded, the node slashed.
    Reject(String),
    /// No proof, through no lie of the node's: the sender is refunded, nobody is slashed.
    Void(String),
    /// A challenge arrived: recorded, the referee decides next.
    Dispute,
    /// The referee agreed with the challenger: the node's bond goes, the challenger is rewarded.
    SlashNode,
    /// The referee agreed with the node: the result settles, the challenger's bond goes.
    SlashChallenger,
}

/// The settlement rule for every mode but TEE (whose evidence the caller verifies and passes
/// in as `tee_verdict`). `window` is the OPTIMISTIC challenge window in blocks.
pub fn next_step(d: &Delivery, number: u64, now_ms: u64, window: u64, tee_verdict: impl FnOnce() -> Result<(), String>) -> Step {
    match Mode::from_number(d.mode) {
        Some(Mode::Tee) => match tee_verdict() {
            Ok(()) => Step::Settle,
            Err(reason) => Step::Reject(reason),
        },
        Some(Mode::Zkml) => match &d.verdict {
            Some(Verdict::Valid) => Step::Settle,
            Some(Verdict::Invalid(reason)) => Step::Reject(reason.clone()),
            Some(Verdict::Unproven(reason)) => Step::Void(reason.clone()),
            None if now_ms.saturating_sub(d.t_result) > ZK_PROOF_DEADLINE_MS => {
                Step::Void(format!("no_proof: no ZKML proof within {} s of the result", ZK_PROOF_DEADLINE_MS / 1000))
            }
            None => Step::Wait,
        },
        Some(Mode::Optimistic) => match &d.challenge {
            Some(Challenge { disputed_block: None, .. }) => Step::Dispute,
            Some(Challenge { referee_output: Some(referee), .. }) => {
                if same_output(referee, &d.output) {
                    Step::SlashChallenger
                } else {
                    Step::SlashNode
                }
            }
            // The referee never spoke: the node keeps its result and the challenger its bond.
            Some(Challenge { disputed_block: Some(b), .. }) if number >= b + REFEREE_DEADLINE_BLOCKS => Step::Settle,
            Some(_) => Step::Wait,
            None if number >= d.included_block + window => Step::Settle,
            None => Step::Wait,
        },
        _ => Step::Settle,
    }
}

/// Outputs compared as JSON values (key order and spacing do not matter).
pub fn same_output(a: &str, b: &str) -> bool {
    match (serde_json::from_str::<serde_json::Value>(a), serde_json::from_str::<serde_json::Value>(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(mode: u8) -> Delivery {
        Delivery {
            id: B256::ZERO,
            tx_hash: B256::ZERO,
            mode,
            node: Address::ZERO,
            node_index: 0,
            model_id: "m".into(),
            payload: "{}".into(),
            output: r#"{"a": 1, "b": 2}"#.into(),
            proof: None,
            verdict: None,
            t_result: 1_000,
            t_proof_submitted: None,
            included_block: 10,
            sender: Address::ZERO,
            fee: U256::ZERO,
            challenge: None,
        }
    }

    #[test]
    fn zkml_waits_for_its_verdict_then_settles_or_rejects() {
        let mut d = delivery(1);
        assert_eq!(next_step(&d, 11, 2_000, 20, || unreachable!()), Step::Wait);
        assert!(matches!(next_step(&d, 11, 1_000 + ZK_PROOF_DEADLINE_MS + 1, 20, || Ok(())), Step::Void(r) if r.starts_with("no_proof")));
        d.verdict = Some(Verdict::Valid);
        assert_eq!(next_step(&d, 11, 2_000, 20, || unreachable!()), Step::Settle);
        d.verdict = Some(Verdict::Invalid("output_mismatch: x".into()));
        assert_eq!(next_step(&d, 11, 2_000, 20, || unreachable!()), Step::Reject("output_mismatch: x".into()));
        d.verdict = Some(Verdict::Unproven("unprovable: out of range".into()));
        assert_eq!(next_step(&d, 11, 2_000, 20, || unreachable!()), Step::Void("unprovable: out of range".into()));
    }

    #[test]
    fn optimistic_settles_when_the_window_closes_unless_challenged() {
        let mut d = delivery(3);
        assert_eq!(next_step(&d, 29, 0, 20, || unreachable!()), Step::Wait);
        assert_eq!(next_step(&d, 30, 0, 20, || unreachable!()), Step::Settle);
        d.challenge = Some(Challenge { challenger: Address::ZERO, output: "{}".into(), t_ms: 0, disputed_block: None, referee_output: None });
        assert_eq!(next_step(&d, 30, 0, 20, || unreachable!()), Step::Dispute);
        d.challenge.as_mut().unwrap().disputed_block = Some(30);
        assert_eq!(next_step(&d, 31, 0, 20, || unreachable!()), Step::Wait);
        assert_eq!(next_step(&d, 30 + REFEREE_DEADLINE_BLOCKS, 0, 20, || unreachable!()), Step::Settle, "a silent referee");
        d.challenge.as_mut().unwrap().referee_output = Some(r#"{"b":2,"a":1}"#.into());
        assert_eq!(next_step(&d, 31, 0, 20, || unreachable!()), Step::SlashChallenger);
        d.challenge.as_mut().unwrap().referee_output = Some(r#"{"a":1,"b":3}"#.into());
        assert_eq!(next_step(&d, 31, 0, 20, || unreachable!()), Step::SlashNode);
    }

    #[test]
    fn tee_follows_its_verifier() {
        let d = delivery(2);
        assert_eq!(next_step(&d, 11, 0, 20, || Ok(())), Step::Settle);
        assert_eq!(next_step(&d, 11, 0, 20, || Err("pcr_mismatch: PCR0".into())), Step::Reject("pcr_mismatch: PCR0".into()));
    }
}
