//! Bodies out of memory: chains whose window is two blocks, so old bodies are archived,
//! reads name the blocks they need, and loaded bodies answer exactly as before.
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{address, U256};
use alloy_sol_types::SolEvent;
use serde_json::Value;

use super::*;
use crate::chain::native::models::ModelSpec;
use crate::chain::native::INFERENCE_HUB;
use crate::eth::keys::UnsignedFields;
use crate::eth::{abi, rpc_json};
use crate::pipe::{ManualClock, PipeConfig};

const GWEI: u128 = 1_000_000_000;
const T0: u64 = 1_700_000_000_000;
const Y4: &str = r#"{"numbers":[{"name":"y","values":[["4","0"]],"shape":[1]}]}"#;

/// A chain with a model, mining by hand, and what the store would hold of each block.
struct Devnet {
    c: Chain,
    /// StoredBlock JSON by block number, as committed.
    stored: Vec<String>,
    nonces: [u64; 2],
}

impl Devnet {
    fn new(window: u64) -> Devnet {
        let clock = Arc::new(ManualClock::new(T0));
        let mut c = Chain::with_pipe(&Genesis::new(0), MiningMode::Manual, PipeConfig::default(), clock).unwrap();
        c.register_model(ModelSpec::test_onnx("m", ("x", vec![1]), ("y", vec![1]), vec![0, 2, 3])).unwrap();
        c.set_body_window(window);
        let genesis = serde_json::to_string(&c.block(BlockTag::Earliest).unwrap().unwrap().to_stored()).unwrap();
        Devnet { c, stored: vec![genesis], nonces: [0, 0] }
    }

    fn sign(&mut self, from: usize, edit: impl FnOnce(&mut UnsignedFields)) -> SignedTx {
        let mut fields = UnsignedFields {
            chain_id: self.c.chain_id(),
            nonce: self.nonces[from],
            to: Some(address!("00000000000000000000000000000000000000aa")),
            value: U256::from(7),
            data: Default::default(),
            gas: 21_000,
            gas_price: None,
            max_fee_per_gas: 10 * GWEI,
            max_priority_fee_per_gas: (from as u128 + 1) * GWEI,
        };
        edit(&mut fields);
        self.nonces[from] += 1;
        let keys = self.c.keys();
        SignedTx::from_envelope(keys.sign(keys.addresses()[from], fields).unwrap()).unwrap()
    }

    fn transfer(&mut self, from: usize) -> B256 {
        let tx = self.sign(from, |_| {});
        self.c.submit(tx).unwrap()
    }

    /// An inference of account 0, answered at once: its block has an InferenceResult log.
    fn inference(&mut self) -> B256 {
        let data = super::tests::inference::run_data("m", 0);
        let tx = self.sign(0, |f| {
            f.to = Some(INFERENCE_HUB);
            f.data = data;
            f.gas = 500_000;
        });
        let hash = self.c.submit(tx).unwrap();
        let pipe = self.c.pipe().clone();
        for n in 0..4 {
            while let Some(w) = pipe.take(n, Duration::ZERO) {
                pipe.complete(n, w.job, w.attempt, Ok(Y4.into()), false);
            }
        }
        hash
    }

    /// Seals, "commits" and publishes the next block.
    fn mine(&mut self) -> u64 {
        let number = self.stored.len() as u64;
        let block = self.c.seal_block(T0 + number * 1000).unwrap();
        self.stored.push(serde_json::to_string(&block.to_stored()).unwrap());
        self.c.publish(number).unwrap();
        number
    }

    /// What the store gives back for `numbers`, decoded as `load_bodies` expects.
    fn records(&self, numbers: &[u64]) -> Vec<Block> {
        numbers
            .iter()
            .map(|n| Block::from_stored(serde_json::from_str(&self.stored[*n as usize]).unwrap(), self.c.chain_id()).unwrap())
            .collect()
    }
}

/// Everything a client reads of a block, as JSON-RPC shapes it.
fn reads(c: &Chain, n: u64) -> Result<Value, ChainError> {
    let block = c.block(BlockTag::Number(n))?.unwrap();
    let txs: Vec<Value> = block
        .transactions
        .iter()
        .map(|tx| {
            let (tx, at) = c.transaction(&tx.hash).unwrap().unwrap();
            let (b, i) = c.receipt(&tx.hash).unwrap().unwrap();
            serde_json::json!([rpc_json::transaction(tx, at, 0), rpc_json::receipt(b, i), tx.raw()])
        })
        .collect();
    let by_hash = c.block_by_hash(&block.hash)?.map(|b| rpc_json::block(b, false));
    Ok(serde_json::json!([rpc_json::block(block, true), by_hash, txs]))
}

fn archived<T>(result: Result<T, ChainError>) -> Vec<u64> {
    match result {
        Err(ChainError::BodyArchived { blocks }) => blocks,
        Err(other) => panic!("expected BodyArchived, got {other:?}"),
        Ok(_) => panic!("expected BodyArchived, got an answer"),
    }
}

fn hub_logs() -> LogFilter {
    LogFilter { from_block: 0, to_block: u64::MAX, addresses: vec![INFERENCE_HUB], ..Default::default() }
}

/// Blocks 1 (inference + transfer), 2 (transfer), 3 (empty), 4 (inference), 5 and 6
/// (transfers): with a window of two, 1, 2 and 4 are archived; 3 keeps its empty body.
fn six_blocks(d: &mut Devnet) -> Vec<Value> {
    let mut before = vec![reads(&d.c, 0).unwrap()];
    for txs in ["it", "t", "", "i", "t", "t"] {
        for kind in txs.chars() {
            if kind == 'i' {
                d.inference();
            } else {
                d.transfer(1);
            }
        }
        let n = d.mine();
        before.push(reads(&d.c, n).unwrap());
    }
    before
}

#[test]
fn old_bodies_leave_memory_and_reads_name_the_blocks_they_need() {
    let mut d = Devnet::new(2);
    let before = six_blocks(&mut d);
    let fees = d.c.fee_history(6, BlockTag::Latest, &[0.0, 50.0, 100.0]).unwrap();
    assert_eq!(d.c.head(), 6);
    for n in [1, 2, 4] {
        assert_eq!(archived(reads(&d.c, n)), vec![n]);
    }
    for n in [0, 3, 5, 6] {
        assert_eq!(reads(&d.c, n).unwrap(), before[n as usize], "block {n} is in memory");
    }
    let in_block_2 = d.c.blocks.header(2).number;
    assert_eq!(in_block_2, 2, "headers stay");
    assert_eq!(d.c.resolve(BlockTag::Hash(d.c.blocks.hash(1))).unwrap(), 1, "hashes stay");
    // Only blocks whose bloom may hold a match are needed: the inference blocks.
    assert_eq!(archived(d.c.logs(&hub_logs())), vec![1, 4]);
    assert_eq!(archived(d.c.logs(&LogFilter { to_block: u64::MAX, ..Default::default() })), vec![1, 4]);
    let topic = abi::InferenceResult::SIGNATURE_HASH;
    let by_topic = LogFilter { to_block: u64::MAX, topics: vec![Some(vec![topic])], ..Default::default() };
    assert_eq!(archived(d.c.logs(&by_topic)), vec![1, 4]);
    let nowhere = LogFilter { to_block: u64::MAX, addresses: vec![Address::repeat_byte(0x11)], ..Default::default() };
    assert!(d.c.logs(&nowhere).unwrap().is_empty(), "no bloom matches: nothing to load");
    // Fee history keeps each block's tips: no body needed.
    assert_eq!(d.c.fee_history(6, BlockTag::Latest, &[0.0, 50.0, 100.0]).unwrap(), fees);

    assert_eq!(d.c.load_bodies(d.records(&[1, 2, 4])), 3);
    assert_eq!(d.c.cached_bodies(), 3);
    for n in 0..=6 {
        assert_eq!(reads(&d.c, n).unwrap(), before[n as usize], "block {n} answers as before");
    }
    let logs: Vec<Value> = d.c.logs(&hub_logs()).unwrap().iter().map(rpc_json::log).collect();
    let expected: Vec<Value> = [1, 4]
        .iter()
        .flat_map(|n| before[*n][2].as_array().unwrap().iter().flat_map(|t| t[1]["logs"].as_array().unwrap().clone()))
        .collect();
    assert_eq!(logs.len(), 2);
    assert_eq!(logs, expected);
    // A record that is not an archived block of this chain is left out.
    assert_eq!(d.c.load_bodies(d.records(&[5])), 0);
}

#[test]
fn a_revert_across_the_window_drops_archived_blocks_and_their_cache() {
    let mut d = Devnet::new(2);
    d.transfer(1);
    d.mine();
    let id = d.c.snapshot().unwrap();
    let (kept, after) = (d.c.accounts(), d.nonces);
    let mut gone = vec![];
    for _ in 0..4 {
        gone.push(d.transfer(1));
        d.mine();
    }
    assert_eq!(d.c.load_bodies(d.records(&[2, 3])), 2);
    assert!(d.c.revert(id).unwrap());
    assert_eq!((d.c.head(), d.c.accounts()), (1, kept));
    assert_eq!(d.c.cached_bodies(), 0, "the cache held blocks that no longer exist");
    for hash in &gone {
        assert!(d.c.transaction(hash).unwrap().is_none() && d.c.receipt(hash).unwrap().is_none());
    }
    assert_eq!(archived(d.c.block(BlockTag::Number(1))), vec![1], "the head stays archived until read");
    // New blocks reuse the numbers: records of the old ones no longer load.
    d.stored.truncate(2);
    d.nonces = after;
    d.transfer(0);
    d.mine();
    let old = Block::from_stored(serde_json::from_str(&d.stored[1]).unwrap(), d.c.chain_id()).unwrap();
    let mut stale = old.clone();
    stale.header.number = 2;
    assert_eq!(d.c.load_bodies(vec![stale]), 0);
    assert_eq!(d.c.load_bodies(vec![old]), 1);
    assert_eq!(d.c.block(BlockTag::Number(2)).unwrap().unwrap().transactions[0].sender, d.c.keys().addresses()[0]);
}

#[test]
fn a_restart_decodes_only_the_last_window_and_loads_the_rest() {
    let mut d = Devnet::new(2);
    let before = six_blocks(&mut d);
    let fees = d.c.fee_history(6, BlockTag::Latest, &[25.0, 75.0]).unwrap();
    let head = d.c.head();
    let (old, recent) = d.stored.split_at(head as usize - 1);
    let restored = old.iter().map(|json| RestoredBlock::parse_archived(json).unwrap());
    let restored = restored.chain(RestoredBlock::parse_recent(recent, d.c.chain_id()).unwrap());
    let clock = Arc::new(ManualClock::new(T0));
    let mut r = Chain::restore_with_pipe(&Genesis::new(0), MiningMode::Manual, restored, d.c.accounts(), PipeConfig::default(), clock)
        .unwrap();
    r.set_body_window(2);
    assert_eq!(r.head(), 6);
    for n in [1, 2, 4] {
        assert_eq!(archived(reads(&r, n)), vec![n]);
    }
    let in_block_1 = before[1][2][0][0]["hash"].as_str().unwrap().parse().unwrap();
    assert_eq!(archived(r.receipt(&in_block_1)), vec![1], "the transaction index covers archived blocks");
    // Tips of archived blocks are unknown until their bodies are read once.
    assert_eq!(archived(r.fee_history(6, BlockTag::Latest, &[25.0, 75.0])), vec![1, 2, 4]);
    assert_eq!(r.fee_history(6, BlockTag::Latest, &[]).unwrap(), FeeHistory { reward: None, ..fees.clone() });
    r.load_bodies(d.records(&[1, 2, 4]));
    for n in 0..=6 {
        assert_eq!(reads(&r, n).unwrap(), before[n as usize]);
    }
    assert_eq!(r.fee_history(6, BlockTag::Latest, &[25.0, 75.0]).unwrap(), fees);
    assert_eq!(r.base_fee(), d.c.base_fee());
}

#[test]
fn a_small_window_keeps_the_staged_block_and_the_head() {
    let mut d = Devnet::new(1);
    d.transfer(1);
    d.mine();
    let staged = d.transfer(1);
    let n = d.c.seal_block(T0 + 5_000).unwrap().header.number;
    assert!(d.c.pending_block().transactions.iter().any(|t| t.hash == staged));
    d.c.discard_staged();
    assert_eq!(d.c.block(BlockTag::Latest).unwrap().unwrap().header.number, 1, "the head's body stays");
    let n2 = d.c.seal_block(T0 + 6_000).unwrap().header.number;
    assert_eq!(n, n2);
    d.c.publish(n2).unwrap();
    assert_eq!(archived(d.c.block(BlockTag::Number(1))), vec![1]);
    assert!(d.c.receipt(&staged).unwrap().is_some());
}
