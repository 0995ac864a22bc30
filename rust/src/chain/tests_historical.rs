//! OGHistorical (0x..F5) on the chain: candle reads from transactions' code and eth_call, and
//! `runInferenceOnPriceFeed` pre-executed, raced on PIPE and served like any contract inference.
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{Address, Bytes, B256};
use alloy_sol_types::{SolCall, SolEvent};

use super::native::historical::{PriceFeeds, Query};
use super::native::models::ModelSpec;
use super::native::OG_HISTORICAL;
use super::tests::mine;
use super::tests_evm::{call_tx, deploy, F4_CALLER};
use super::*;
use crate::eth::abi;
use crate::pipe::{ManualClock, PipeConfig};

const NOW: u64 = 1_700_000_000_000;

/// A chain on a manual clock with model "m" (input x [1]) and model "candles" (input
/// price_data [1, 10, 4]).
fn chain() -> (Chain, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(NOW));
    let mut c = Chain::with_pipe(&Genesis::new(0), MiningMode::Manual, PipeConfig::default(), clock.clone()).unwrap();
    c.register_model(ModelSpec::test_onnx("m", ("x", vec![1]), ("y", vec![1]), vec![0, 2, 3])).unwrap();
    c.register_model(ModelSpec::test_onnx("candles", ("price_data", vec![1, 10, 4]), ("y", vec![1]), vec![0])).unwrap();
    (c, clock)
}

/// Forwards its calldata to 0x..F5 (the 0x..F4 caller with its target changed).
fn f5_caller() -> Vec<u8> {
    let mut code = F4_CALLER.to_vec();
    assert_eq!(code[16], 0xf4);
    code[16] = 0xf5;
    code
}

fn query(base: &str, total: u32, minutes: u32) -> abi::HistoricalInputQuery {
    abi::HistoricalInputQuery {
        base: base.into(),
        quote: "USD".into(),
        total_candles: total,
        candle_duration_in_mins: minutes,
        order: 0,
        candle_types: vec![0, 1, 2, 3],
    }
}

fn run_on_feed(model: &str, input: &str, q: abi::HistoricalInputQuery) -> Bytes {
    abi::runInferenceOnPriceFeedCall { model_id: model.into(), input_name: input.into(), query: q }.abi_encode().into()
}

fn req(c: &Chain, to: Address, data: Bytes) -> TxRequest {
    TxRequest { from: Some(c.keys().addresses()[0]), to: Some(to), data: Some(data), ..Default::default() }
}

fn reverted(r: Result<impl std::fmt::Debug, ChainError>) -> String {
    match r {
        Err(ChainError::Reverted { reason, .. }) => reason,
        other => panic!("expected a revert, got {other:?}"),
    }
}

/// Takes the next dispatched job and completes it with output y = `value`.
fn serve(c: &Chain, value: &str) -> String {
    let pipe = c.pipe().clone();
    let (node, work) = (0..4).find_map(|n| pipe.take(n, Duration::ZERO).map(|w| (n, w))).expect("dispatched");
    let output = format!(r#"{{"numbers":[{{"name":"y","values":[["{value}","2"]],"shape":[1]}}]}}"#);
    pipe.complete(node, work.job, work.attempt, Ok(output), false);
    work.payload
}

#[test]
fn candles_are_read_by_eth_call_and_bad_queries_revert_at_estimate() {
    let (mut c, _) = chain();
    assert_eq!(c.code(&OG_HISTORICAL, BlockTag::Latest).unwrap().as_ref(), &[0xfe]);
    mine(&mut c, NOW);
    let head = c.block(BlockTag::Latest).unwrap().unwrap().header.timestamp;
    let data: Bytes = abi::queryHistoricalCandlesCall { query: query("ETH", 10, 30) }.abi_encode().into();
    let out = c.call(&req(&c, OG_HISTORICAL, data.clone()), BlockTag::Latest).unwrap();
    let numbers = abi::queryHistoricalCandlesCall::abi_decode_returns(&out).unwrap();
    let want = PriceFeeds::default().values(&Query::parse(&query("ETH", 10, 30)).unwrap(), head).unwrap();
    assert_eq!(numbers, want);
    assert!(c.estimate_gas(&req(&c, OG_HISTORICAL, data)).unwrap() > 21_000);
    // A CSV feed replaces the synthetic market for its pair.
    c.set_price_feed("ETH/USD", "timestamp,open,high,low,close,volume\n1699990000,1,2,0.5,1.5,7\n").unwrap();
    let data: Bytes = abi::queryHistoricalCandlesCall { query: query("ETH", 1, 60) }.abi_encode().into();
    let out = c.call(&req(&c, OG_HISTORICAL, data), BlockTag::Latest).unwrap();
    let values: Vec<i128> = abi::queryHistoricalCandlesCall::abi_decode_returns(&out).unwrap().iter().map(|n| n.value).collect();
    // Types [0, 1, 2, 3]: high, low, open, close (SDK 1.1.4's CandleType).
    assert_eq!(values, [200_000_000, 50_000_000, 100_000_000, 150_000_000]);
    assert!(c.set_price_feed("ETH/USD", "nonsense").is_err());
    // Bad queries: reverts with the reason, at eth_call and eth_estimateGas.
    let bad = |q: abi::HistoricalInputQuery| {
        let data: Bytes = abi::queryHistoricalCandlesCall { query: q }.abi_encode().into();
        let at_call = reverted(c.call(&req(&c, OG_HISTORICAL, data.clone()), BlockTag::Latest));
        assert_eq!(at_call, reverted(c.estimate_gas(&req(&c, OG_HISTORICAL, data))));
        at_call
    };
    assert!(bad(query("XYZ", 1, 1)).starts_with("unknown pair XYZ/USD"));
    assert!(bad(query("BTC", 0, 1)).contains("total_candles must be 1 to 1000"));
    assert!(bad(query("BTC", 1001, 1)).contains("total_candles"));
    assert!(bad(abi::HistoricalInputQuery { candle_types: vec![9], ..query("BTC", 1, 1) }).contains("unknown candle type 9"));
    assert!(bad(abi::HistoricalInputQuery { order: 3, ..query("BTC", 1, 1) }).contains("unknown candle order 3"));
    // A model whose input does not take the candle tensor.
    let why = reverted(c.estimate_gas(&req(&c, OG_HISTORICAL, run_on_feed("m", "x", query("BTC", 10, 30)))));
    assert!(why.contains("runInferenceOnPriceFeed: input \"x\" has shape [1, 10, 4], the model expects [1]"), "{why}");
    let why = reverted(c.estimate_gas(&req(&c, OG_HISTORICAL, run_on_feed("candles", "prices", query("BTC", 10, 30)))));
    assert!(why.contains("unexpected input tensor \"prices\""), "{why}");
    let why = reverted(c.estimate_gas(&req(&c, OG_HISTORICAL, run_on_feed("candles", "price_data", query("BTC", 12, 30)))));
    assert!(why.contains("has shape [1, 12, 4]"), "{why}");
}

#[test]
fn a_contract_running_a_model_on_a_price_feed_is_pre_executed_dispatched_and_served() {
    let (mut c, clock) = chain();
    let caller = deploy(&mut c, 0, &f5_caller(), NOW);
    let data = run_on_feed("candles", "price_data", query("ETH", 10, 30));
    let h = c.submit(call_tx(&c, 1, caller, data.clone())).unwrap();
    mine(&mut c, NOW + 1000);
    assert!(c.receipt(&h).unwrap().is_none(), "waits for its inference");
    let payload: serde_json::Value = serde_json::from_str(&serve(&c, "42")).unwrap();
    let tensor = &payload["numbers"][0];
    assert_eq!((tensor["name"].as_str(), payload["model_id"].as_str(), payload["mode"].as_u64()), (Some("price_data"), Some("candles"), Some(0)));
    assert_eq!(tensor["shape"], serde_json::json!([1, 10, 4]));
    clock.advance(2000);
    mine(&mut c, NOW + 2000);
    let (block, i) = c.receipt(&h).unwrap().expect("included once decided");
    let r = &block.receipts[i];
    assert!(r.status, "{:?}", r.revert_reason);
    assert_eq!((r.logs[0].address, r.logs[0].topics()[0]), (OG_HISTORICAL, abi::InferenceResult::SIGNATURE_HASH));
    let event = abi::InferenceResult::decode_log_data(&r.logs[0].data).unwrap();
    assert_eq!((event.output.numbers[0].values[0].value, event.output.is_simulation_result), (42, false));
    assert_eq!(c.storage(&caller, &B256::ZERO, BlockTag::Latest).unwrap(), B256::with_last_byte(1));
    // The model was given the candles queryHistoricalCandles serves at the run's block.
    let q: Bytes = abi::queryHistoricalCandlesCall { query: query("ETH", 10, 30) }.abi_encode().into();
    let served = abi::queryHistoricalCandlesCall::abi_decode_returns(&c.call(&req(&c, OG_HISTORICAL, q), BlockTag::Latest).unwrap()).unwrap();
    let given: Vec<(String, String)> = serde_json::from_value(tensor["values"].clone()).unwrap();
    assert_eq!(given, served.iter().map(|n| (n.value.to_string(), n.decimals.to_string())).collect::<Vec<_>>());
    // A trace replays it from the receipt: the call into 0x..F5 returns the served output.
    let trace = c.trace_transaction(&h, Some(&serde_json::json!({"tracer": "callTracer"}))).unwrap();
    let inner = &trace["calls"][0];
    assert_eq!(inner["to"], "0x00000000000000000000000000000000000000f5");
    let out: Bytes = inner["output"].as_str().unwrap().parse().unwrap();
    assert_eq!(abi::runInferenceOnPriceFeedCall::abi_decode_returns(&out).unwrap().numbers[0].values[0].value, 42);
    // eth_call straight to 0x..F5 races the inference, then answers with its result.
    let CallDispatch::Inference(key) = c.call_or_dispatch(&req(&c, OG_HISTORICAL, data), BlockTag::Latest).unwrap() else {
        panic!("needs inference")
    };
    serve(&c, "7");
    assert!(c.pipe().wait_decided(&key, Duration::from_secs(5)));
    let out = abi::runInferenceOnPriceFeedCall::abi_decode_returns(&c.call_served(&key).unwrap()).unwrap();
    assert_eq!(out.numbers[0].values[0].value, 7);
}

#[test]
fn candles_that_close_between_simulation_and_execution_mean_a_new_simulation() {
    let (mut c, clock) = chain();
    let caller = deploy(&mut c, 0, &f5_caller(), NOW);
    // One-minute candles: the simulation (at 1_700_000_000) sees those up to 1_699_999_980.
    let mut q = query("SOL", 10, 1);
    q.candle_types = vec![3];
    c.register_model(ModelSpec::test_onnx("closes", ("p", vec![1, 10, 1]), ("y", vec![1]), vec![0])).unwrap();
    let h = c.submit(call_tx(&c, 1, caller, run_on_feed("closes", "p", q))).unwrap();
    let first = serve(&c, "1");
    // The block comes a minute later: another candle has closed, so the execution asks for
    // other input than the simulation recorded. It is simulated again and re-dispatched.
    clock.advance(60_000);
    mine(&mut c, NOW + 60_000);
    assert!(c.receipt(&h).unwrap().is_none());
    let second = serve(&c, "2");
    assert_ne!(first, second, "the new job carries the new candles");
    mine(&mut c, NOW + 61_000);
    let (block, i) = c.receipt(&h).unwrap().expect("included");
    assert!(block.receipts[i].status, "{:?}", block.receipts[i].revert_reason);
    let event = abi::InferenceResult::decode_log_data(&block.receipts[i].logs[0].data).unwrap();
    assert_eq!(event.output.numbers[0].values[0].value, 2);
}
