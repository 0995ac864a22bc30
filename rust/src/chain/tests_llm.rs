//! LLM gateway answers settled in batches: the shared batch's wait, the full node's check of
//! every answer (forged, unknown TEE), individual and private batches, the pending block, and
//! a staged block that is discarded or a revert.
use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use alloy_sol_types::SolEvent;
use aws_lc_rs::signature::{RsaKeyPair, RSA_PSS_SHA256};
use serde_json::{json, Value};

use super::economics::stake_address;
use super::llm::{merkle, LLMBatchSettled, LLMInferenceRejected, LlmSubmission, LLM_BATCH_ACCOUNT, LLM_SINGLE_ACCOUNT};
use super::native::tee_registry::EnclaveRecord;
use super::native::LLM_SETTLEMENT;
use super::tests::mine;
use super::*;
use crate::verify::response_message;

const T: u64 = 1_700_000_000_000;

/// A gateway with the RSA key of `verify/testdata/llm_response.json`, registered.
struct Gateway {
    key: RsaKeyPair,
    tee_id: B256,
    node: Address,
}

fn setup() -> (Chain, Gateway) {
    let mut c = Chain::new(&Genesis::new(T), MiningMode::Manual).unwrap();
    let v: Value = serde_json::from_str(include_str!("../verify/testdata/llm_response.json")).unwrap();
    let h = |k: &str| alloy_primitives::hex::decode(v[k].as_str().unwrap()).unwrap();
    let node = c.pipe().node_address(0).unwrap();
    let record = EnclaveRecord {
        owner: node,
        endpoint: "https://127.0.0.1:1".into(),
        public_key: Bytes::from(h("spki_der")),
        certificate: Bytes::new(),
        pcr_hash: B256::ZERO,
        tee_type: 0,
        registered_at_ms: T,
        enabled: true,
    };
    let tee_id = record.id();
    c.register_enclave(record);
    (c, Gateway { key: RsaKeyPair::from_pkcs8(&h("pkcs8_der")).unwrap(), tee_id, node })
}

impl Gateway {
    fn sign(&self, rh: B256, oh: B256, ts: u64) -> Vec<u8> {
        let mut sig = vec![0; self.key.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.key.sign(&RSA_PSS_SHA256, &rng, response_message(&rh, &oh, ts).as_slice(), &mut sig).unwrap();
        sig
    }

    /// Answer `text` to prompt `n`, signed over `signed_text` (the same, unless forged).
    fn answer(&self, n: u64, text: &str, signed_text: &str, settlement_type: &str) -> LlmSubmission {
        let rh = keccak256(format!("prompt {n}"));
        let ts = T / 1000 + n;
        let sig = self.sign(rh, keccak256(signed_text), ts);
        serde_json::from_value(json!({
            "tee_id": self.tee_id, "request_hash": rh, "output_hash": keccak256(text), "timestamp": ts,
            "signature": Bytes::from(sig), "settlement_type": settlement_type, "model_id": "m", "kind": "chat",
            "input": [{"role": "user", "content": format!("prompt {n}")}], "output": text, "delivered": text,
            "t_request_ms": T + n, "t_result_ms": T + n + 5, "node": self.node, "node_index": 0,
            "payment": {"payer": Address::repeat_byte(9), "amount": "1000"},
        }))
        .unwrap()
    }
}

fn live(c: &Chain, key: &B256) -> Value {
    serde_json::from_str(&c.llm_inference_json(key).expect("live")).unwrap()
}

/// Mines a block at `t_ms`: its number and the LLM records it carries.
fn mine_records(c: &mut Chain, t_ms: u64) -> (u64, Vec<crate::pipe::InferenceRecord>) {
    let number = c.seal_block(t_ms).unwrap().header.number;
    let records = c.llm_block_records(number);
    c.publish(number).unwrap();
    (number, records)
}

fn receipt(c: &Chain, h: &B256) -> Option<Receipt> {
    c.receipt(h).unwrap().map(|(b, i)| b.receipts[i].clone())
}

#[test]
fn a_shared_batch_waits_its_blocks_then_settles_under_the_recomputed_root() {
    let (mut c, g) = setup();
    let (a, b) = (g.answer(1, "hello", "hello", "batch"), g.answer(2, "world", "world", "batch"));
    let expected = [&a, &b].map(|s| merkle::leaf(&s.request_hash, &s.output_hash, &s.signature));
    let (id_a, tx) = c.submit_llm_inference(a).unwrap();
    let (id_b, tx_b) = c.submit_llm_inference(b).unwrap();
    let tx = tx.unwrap();
    assert_eq!(tx_b, Some(tx), "the second answer joins the open batch");
    assert_eq!(c.transaction(&tx).unwrap().unwrap().0.sender, LLM_BATCH_ACCOUNT);
    assert_eq!(live(&c, &id_a)["status"], "delivered");
    assert_eq!(live(&c, &tx)["calls"].as_array().unwrap().len(), 2);
    for k in 1..=3 {
        mine(&mut c, T + k * 1_000);
        assert!(receipt(&c, &tx).is_none(), "not before its 3 blocks (block {k})");
    }
    // The pending block holds it now, and settles nothing.
    assert_eq!(c.pending_block().transactions.len(), 1);
    assert_eq!(live(&c, &id_b)["status"], "delivered");

    let number = c.seal_block(T + 4_000).unwrap().header.number;
    // Staged: the live records are settled already; the block carries them delivered.
    let settled = live(&c, &id_b);
    assert_eq!((settled["status"].as_str(), settled["trust_gap_ms"].as_i64()), (Some("settled"), Some(4_000 - 7)));
    assert_eq!(settled["llm"]["leaf_index"], 1);
    let records = c.llm_block_records(number);
    assert_eq!(records.iter().map(|r| (r.id, r.status, r.block_number)).collect::<Vec<_>>(), vec![
        (id_a, crate::pipe::Status::Delivered, Some(number)),
        (id_b, crate::pipe::Status::Delivered, Some(number))
    ]);
    c.publish(number).unwrap();
    assert!(c.llm_inference_json(&id_a).is_none(), "published: the store has it");
    let block = c.block(BlockTag::Number(number)).unwrap().unwrap();
    assert_eq!(block.settlements.iter().map(|s| (s.id, s.outcome.as_str())).collect::<Vec<_>>(), vec![(id_a, "settled"), (id_b, "settled")]);
    let r = receipt(&c, &tx).unwrap();
    assert!(r.status);
    assert_eq!(r.gas_used, c.transaction(&tx).unwrap().unwrap().0.intrinsic_gas() + 2 * llm::LLM_ITEM_GAS);
    let log = r.logs.last().unwrap();
    assert_eq!(log.address, LLM_SETTLEMENT);
    let event = LLMBatchSettled::decode_log_data(&log.data).unwrap();
    assert_eq!((event.root, event.settled, event.rejected), (merkle::root(&expected), U256::from(2), U256::ZERO));
    // The next answer opens a new batch.
    let (_, next) = c.submit_llm_inference(g.answer(3, "again", "again", "batch")).unwrap();
    assert_ne!(next, Some(tx));
}

#[test]
fn a_forged_answer_or_an_unknown_tee_is_rejected_and_its_node_loses_the_bond() {
    let (mut c, g) = setup();
    let stake = |c: &Chain| c.account(&stake_address(&g.node), BlockTag::Latest).unwrap().balance;
    let before = stake(&c);
    // Signed by the registered key, but not over the output it comes with.
    let (forged, tx) = c.submit_llm_inference(g.answer(1, "a lie", "the truth", "individual")).unwrap();
    let mut stranger = g.answer(2, "hi", "hi", "individual");
    stranger.tee_id = B256::repeat_byte(0xab);
    let (unknown, _) = c.submit_llm_inference(stranger).unwrap();
    // Byzantine: a valid signature over an output other than the one it delivered.
    let mut byzantine = g.answer(3, "the truth", "the truth", "individual");
    byzantine.delivered = "a lie".into();
    let (lied, _) = c.submit_llm_inference(byzantine).unwrap();
    let (number, records) = mine_records(&mut c, T + 1_000);
    let bond = c.economics().bond;
    assert_eq!(stake(&c), before - bond - bond - bond);
    let block = c.block(BlockTag::Number(number)).unwrap().unwrap();
    let steps: Vec<_> = block.settlements.iter().map(|s| (s.id, s.outcome.clone(), s.reason.clone().unwrap(), s.slashed)).collect();
    assert_eq!(steps.len(), 3);
    assert_eq!((steps[2].0, steps[2].1.as_str()), (lied, "rejected"));
    assert!(steps[2].2.starts_with("output_mismatch: "), "{}", steps[2].2);
    assert_eq!((steps[0].0, steps[0].1.as_str(), steps[0].3), (forged, "rejected", bond));
    assert!(steps[0].2.starts_with("bad_signature: "), "{}", steps[0].2);
    assert_eq!(steps[1].0, unknown);
    assert!(steps[1].2.starts_with("unknown_tee: "), "{}", steps[1].2);
    let r = receipt(&c, &tx.unwrap()).unwrap();
    let rejected = LLMInferenceRejected::decode_log_data(&r.logs[0].data).unwrap();
    assert_eq!((rejected.id, rejected.teeId), (forged, g.tee_id));
    let settled = LLMBatchSettled::decode_log_data(&r.logs[1].data).unwrap();
    assert_eq!((settled.root, settled.settled, settled.rejected), (B256::ZERO, U256::ZERO, U256::from(1)));
    // The record says so once the store applies the step.
    let mut record = records.into_iter().find(|r| r.id == forged).unwrap();
    record.apply(&crate::pipe::SettlementStep::new(&block.settlements[0], block.header.timestamp_ms, number).unwrap());
    let wire = serde_json::to_value(&record).unwrap();
    assert_eq!((wire["status"].as_str(), wire["slashed"].as_str()), (Some("rejected"), Some(bond.to_string().as_str())));
}

#[test]
fn individual_and_private_answers_settle_next_block_on_their_own() {
    let (mut c, g) = setup();
    let (_, shared) = c.submit_llm_inference(g.answer(1, "a", "a", "batch")).unwrap();
    let (_, single) = c.submit_llm_inference(g.answer(2, "b", "b", "individual")).unwrap();
    let (private, hidden) = c.submit_llm_inference(g.answer(3, "c", "c", "private")).unwrap();
    assert_eq!(hidden, None, "a private answer's settlement hash is not told");
    assert_ne!(shared, single);
    let (number, records) = mine_records(&mut c, T + 1_000);
    let block = c.block(BlockTag::Number(number)).unwrap().unwrap();
    assert_eq!(block.transactions.iter().map(|t| t.sender).collect::<Vec<_>>(), vec![LLM_SINGLE_ACCOUNT; 2]);
    assert!(receipt(&c, &shared.unwrap()).is_none(), "the shared batch still waits");
    let p = records.iter().find(|r| r.id == private).unwrap();
    let l = p.llm.as_ref().unwrap();
    assert_eq!((l.leaf, l.leaf_index, l.merkle_root), (None, None, None), "a private leaf is not published");
    let private_receipt = &block.receipts[1];
    let event = LLMBatchSettled::decode_log_data(&private_receipt.logs[0].data).unwrap();
    assert_eq!((event.root, event.settled), (B256::ZERO, U256::from(1)), "counted only");
    assert!(block.settlements.iter().all(|s| s.outcome == "settled"));
}

#[test]
fn a_discarded_block_reopens_its_batch_and_a_revert_drops_open_ones() {
    let (mut c, g) = setup();
    let (id, tx) = c.submit_llm_inference(g.answer(1, "a", "a", "individual")).unwrap();
    c.seal_block(T + 1_000).unwrap();
    c.discard_staged();
    assert_eq!(live(&c, &id)["status"], "delivered");
    assert!(c.llm_block_records(1).is_empty());
    let number = mine(&mut c, T + 2_000);
    assert_eq!(c.llm_block_records(number).len(), 0, "published: nothing staged");
    assert!(receipt(&c, &tx.unwrap()).unwrap().status);
    assert!(c.llm_inference_json(&id).is_none());

    let snap = c.snapshot().unwrap();
    let (dropped, tx) = c.submit_llm_inference(g.answer(2, "b", "b", "batch")).unwrap();
    assert!(c.settlement_due(T + 3_000), "automine seals blocks for an open batch");
    mine(&mut c, T + 3_000);
    assert!(c.revert(snap).unwrap());
    assert!(c.llm_inference_json(&dropped).is_none());
    assert!(c.transaction(&tx.unwrap()).unwrap().is_none(), "its transaction left the pool");
    assert!(!c.settlement_due(T + 4_000));
    // The next batch starts again from the reverted nonce.
    let (_, again) = c.submit_llm_inference(g.answer(3, "c", "c", "individual")).unwrap();
    mine(&mut c, T + 4_000);
    assert!(receipt(&c, &again.unwrap()).unwrap().status);
}

#[test]
fn the_same_answer_given_twice_in_a_second_is_two_records() {
    let (mut c, g) = setup();
    let (first, tx) = c.submit_llm_inference(g.answer(1, "a", "a", "batch")).unwrap();
    let (second, tx_again) = c.submit_llm_inference(g.answer(1, "a", "a", "batch")).unwrap();
    assert_ne!(first, second);
    assert_eq!(tx, tx_again, "both in the open batch");
    assert_eq!(live(&c, &first)["status"], "delivered");
    assert_eq!(live(&c, &second)["status"], "delivered");
}
