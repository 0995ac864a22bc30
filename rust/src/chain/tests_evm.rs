//! Contracts on the chain: creation, calls, storage history, reverts, restore, and PIPE
//! pre-execution of a contract that calls the inference precompile.
use std::time::Duration;

use alloy_primitives::{Address, Bytes, B256, U256};
use alloy_sol_types::{SolCall, SolError, SolEvent};

use super::tests::inference::{chain_with_model, x_input};
use super::tests::{mine, sign_with};
use super::*;
use crate::eth::abi;
use crate::eth::keys::UnsignedFields;

const T: u64 = 1_700_000_000_000;

/// Initcode that deploys `runtime` as is.
pub(super) fn initcode(runtime: &[u8]) -> Bytes {
    let n = runtime.len() as u16;
    let [hi, lo] = n.to_be_bytes();
    let mut code = vec![0x61, hi, lo, 0x60, 0x0e, 0x60, 0x00, 0x39, 0x61, hi, lo, 0x60, 0x00, 0xf3];
    code.extend_from_slice(runtime);
    code.into()
}

/// SSTORE(0, calldata word 0).
const STORE: &[u8] = &[0x60, 0x00, 0x35, 0x60, 0x00, 0x55, 0x00];
/// Reverts with Error("no") when calldata word 0 is zero, else stores it in slot 0.
const GUARDED: &[u8] = &[
    0x60, 0x00, 0x35, 0x80, 0x60, 0x0c, 0x57, // v; JUMPI(0x0c, v)
    0x60, 0x00, 0x60, 0x00, 0xfd, // revert(0, 0) — replaced below by a reasoned revert
    0x5b, 0x60, 0x00, 0x55, 0x00, // JUMPDEST; SSTORE(0, v)
];
/// Forwards its calldata to 0x..F4; stores the call's success in slot 0 and the size of
/// what it returned in slot 1; returns what it returned.
pub(super) const F4_CALLER: &[u8] = &[
    0x36, 0x60, 0x00, 0x60, 0x00, 0x37, // calldatacopy(0, 0, calldatasize)
    0x60, 0x00, 0x60, 0x00, 0x36, 0x60, 0x00, 0x60, 0x00, 0x60, 0xf4, 0x5a, 0xf1, // call(gas, 0xf4, 0, 0, cds, 0, 0)
    0x60, 0x00, 0x55, // sstore(0, success)
    0x3d, 0x60, 0x01, 0x55, // sstore(1, returndatasize)
    0x3d, 0x60, 0x00, 0x60, 0x00, 0x3e, 0x3d, 0x60, 0x00, 0xf3, // return returndata
];

pub(super) fn deploy(c: &mut Chain, nonce: u64, runtime: &[u8], now: u64) -> Address {
    let tx = sign_with(c, 0, nonce, |f| {
        f.to = None;
        f.data = initcode(runtime);
        f.gas = 200_000;
    });
    let h = c.submit(tx).unwrap();
    mine(c, now);
    let (block, i) = c.receipt(&h).unwrap().unwrap();
    assert!(block.receipts[i].status, "{:?}", block.receipts[i].revert_reason);
    block.receipts[i].contract_address.expect("created")
}

pub(super) fn call_tx(c: &Chain, nonce: u64, to: Address, data: Bytes) -> SignedTx {
    sign_with(c, 0, nonce, |f| {
        f.to = Some(to);
        f.data = data;
        f.gas = 300_000;
    })
}

fn word(n: u64) -> Bytes {
    B256::from(U256::from(n)).to_vec().into()
}

#[test]
fn deploys_calls_and_keeps_storage_history() {
    let mut c = Chain::new(&Genesis::new(T), MiningMode::Manual).unwrap();
    let a0 = c.keys().addresses()[0];
    let store = deploy(&mut c, 0, STORE, T + 1000);
    assert_eq!(store, a0.create(0));
    assert_eq!(c.code(&store, BlockTag::Latest).unwrap().as_ref(), STORE);
    assert!(c.code(&store, BlockTag::Number(0)).unwrap().is_empty());
    let h = c.submit(call_tx(&c, 1, store, word(42))).unwrap();
    let n = mine(&mut c, T + 2000);
    assert_eq!(c.storage(&store, &B256::ZERO, BlockTag::Latest).unwrap(), B256::from(U256::from(42)));
    assert_eq!(c.storage(&store, &B256::ZERO, BlockTag::Number(n - 1)).unwrap(), B256::ZERO);
    let (block, i) = c.receipt(&h).unwrap().unwrap();
    assert!(block.receipts[i].status);
    // 21000 + calldata + a cold SSTORE from zero.
    assert!(block.receipts[i].gas_used > 21_000 + 20_000, "{}", block.receipts[i].gas_used);
    assert!(!block.evm_changes.storage.is_empty());
    // A restart rebuilds code and storage from the stored blocks.
    let stored: Vec<StoredBlock> = (0..=c.head())
        .map(|n| serde_json::from_str(&serde_json::to_string(&c.block(BlockTag::Number(n)).unwrap().unwrap().to_stored()).unwrap()).unwrap())
        .collect();
    let r = Chain::restore(&Genesis::new(T), MiningMode::Manual, stored, c.accounts()).unwrap();
    assert_eq!(r.code(&store, BlockTag::Latest).unwrap().as_ref(), STORE);
    assert_eq!(r.storage(&store, &B256::ZERO, BlockTag::Latest).unwrap(), B256::from(U256::from(42)));
    assert_eq!(r.block(BlockTag::Latest).unwrap().unwrap().header.state_root, c.block(BlockTag::Latest).unwrap().unwrap().header.state_root);
}

#[test]
fn reverts_are_errors_at_call_and_status_zero_when_mined() {
    let mut c = Chain::new(&Genesis::new(T), MiningMode::Manual).unwrap();
    let a0 = c.keys().addresses()[0];
    let guarded = deploy(&mut c, 0, GUARDED, T + 1000);
    let req = TxRequest { from: Some(a0), to: Some(guarded), data: Some(word(0)), ..Default::default() };
    assert!(matches!(c.estimate_gas(&req), Err(ChainError::Reverted { .. })));
    assert!(matches!(c.call(&req, BlockTag::Latest), Err(ChainError::Reverted { .. })));
    let ok = TxRequest { data: Some(word(5)), ..req.clone() };
    assert!(c.estimate_gas(&ok).unwrap() > 21_000);
    let h = c.submit(call_tx(&c, 1, guarded, word(0))).unwrap();
    mine(&mut c, T + 2000);
    let (block, i) = c.receipt(&h).unwrap().unwrap();
    let r = &block.receipts[i];
    assert!(!r.status);
    assert_eq!(r.revert_reason.as_deref(), Some("execution reverted"));
    assert_eq!(c.storage(&guarded, &B256::ZERO, BlockTag::Latest).unwrap(), B256::ZERO);
    // The sender paid for the gas and its nonce moved on.
    assert_eq!(c.nonce(&a0, BlockTag::Latest).unwrap(), 2);
    // Out of gas: status 0 with the reason.
    let tx = sign_with(&c, 0, 2, |f| {
        f.to = Some(guarded);
        f.data = word(7);
        f.gas = 21_500;
    });
    let h = c.submit(tx).unwrap();
    mine(&mut c, T + 3000);
    let (block, i) = c.receipt(&h).unwrap().unwrap();
    assert_eq!(block.receipts[i].revert_reason.as_deref(), Some("out of gas"));
    // Code over EIP-170's limit: the creation fails.
    let mut big = vec![0x00u8; crate::evm::MAX_CODE_SIZE + 1];
    big[0] = 0x00;
    let tx = sign_with(&c, 0, 3, |f| {
        f.to = None;
        f.data = initcode(&big);
        f.gas = 5_000_000;
    });
    let h = c.submit(tx).unwrap();
    mine(&mut c, T + 4000);
    let (block, i) = c.receipt(&h).unwrap().unwrap();
    assert!(!block.receipts[i].status);
    assert!(block.receipts[i].revert_reason.as_deref().unwrap().contains("EIP-170"));
    assert_eq!(block.receipts[i].contract_address, None);
}

fn f4_request(model: &str, mode: u8) -> Bytes {
    f4_request_of(model, mode, 2)
}

fn f4_request_of(model: &str, mode: u8, value: i128) -> Bytes {
    abi::runModelInferenceCall { request: abi::ModelInferenceRequest { mode, modelCID: model.into(), input: x_input(value) } }
        .abi_encode()
        .into()
}

#[test]
fn a_contract_calling_the_precompile_is_pre_executed_and_served_its_result() {
    let mut c = chain_with_model();
    let now = c.pipe().now_ms();
    let caller = deploy(&mut c, 0, F4_CALLER, now);
    let h = c.submit(call_tx(&c, 1, caller, f4_request("m", 0))).unwrap();
    // The simulation recorded the call: it races on PIPE, and blocks go on without it.
    mine(&mut c, now + 1000);
    assert!(c.receipt(&h).unwrap().is_none());
    let pipe = c.pipe().clone();
    let (node, work) = (0..4).find_map(|n| pipe.take(n, Duration::ZERO).map(|w| (n, w))).expect("dispatched");
    pipe.complete(node, work.job, work.attempt, Ok(r#"{"numbers":[{"name":"y","values":[["4","0"]],"shape":[1]}]}"#.into()), false);
    mine(&mut c, now + 2000);
    let (block, i) = c.receipt(&h).unwrap().expect("included once decided");
    let r = &block.receipts[i];
    assert!(r.status, "{:?}", r.revert_reason);
    assert_eq!(r.logs[0].address, native::INFERENCE_PRECOMPILE);
    assert_eq!(r.logs[0].topics()[0], abi::ModelInferenceEvent::SIGNATURE_HASH);
    assert_eq!(c.storage(&caller, &B256::ZERO, BlockTag::Latest).unwrap(), B256::with_last_byte(1));
    // What the contract got back is the node's output, not the placeholder.
    let size = U256::from_be_bytes(c.storage(&caller, &B256::with_last_byte(1), BlockTag::Latest).unwrap().0);
    assert!(size > U256::from(32));
    let event = abi::ModelInferenceEvent::decode_log_data(&r.logs[0].data).unwrap();
    assert_eq!(event.response.numbers[0].values[0].value, 4);
    assert!(!event.response.is_simulation_result);
    // The call tracer shows the call into 0x..F4 with its input and the served output.
    let trace = c.trace_transaction(&h, Some(&serde_json::json!({"tracer": "callTracer"}))).unwrap();
    assert_eq!(trace["to"].as_str().unwrap().to_lowercase(), format!("{caller:#x}"));
    let inner = &trace["calls"][0];
    assert_eq!(inner["to"], "0x00000000000000000000000000000000000000f4");
    assert_eq!(inner["input"].as_str().unwrap(), f4_request("m", 0).to_string());
    assert!(inner["output"].as_str().unwrap().len() > 66);
    let structs = c.trace_transaction(&h, None).unwrap();
    assert!(structs["structLogs"].as_array().unwrap().iter().any(|s| s["op"] == "CALL"));
    let pre = c.trace_transaction(&h, Some(&serde_json::json!({"tracer": "prestateTracer"}))).unwrap();
    assert!(pre.as_object().unwrap().keys().any(|k| k.eq_ignore_ascii_case(&format!("{caller:#x}"))), "{pre}");
    assert!(c.trace_transaction(&h, Some(&serde_json::json!({"tracer": "4byteTracer"}))).is_err());
    // eth_call of the same runs its inference through PIPE, then answers with the result.
    let req = TxRequest { from: Some(c.keys().addresses()[0]), to: Some(caller), data: Some(f4_request("m", 2)), ..Default::default() };
    let CallDispatch::Inference(key) = c.call_or_dispatch(&req, BlockTag::Latest).unwrap() else { panic!("needs inference") };
    assert!(!pipe.is_decided(&key));
    let (node, work) = (0..4).find_map(|n| pipe.take(n, Duration::ZERO).map(|w| (n, w))).expect("dispatched");
    assert!(work.payload.contains(r#""mode":0"#), "an eth_call's inference is VANILLA: {}", work.payload);
    pipe.complete(node, work.job, work.attempt, Ok(r#"{"numbers":[{"name":"y","values":[["9","1"]],"shape":[1]}]}"#.into()), false);
    assert!(pipe.wait_decided(&key, Duration::from_secs(5)));
    let out = c.call_served(&key).unwrap();
    let served = abi::runModelInferenceCall::abi_decode_returns(&out).unwrap();
    assert_eq!((served.numbers[0].values[0].value, served.numbers[0].values[0].decimals), (9, 1));
    assert!(c.call_served(&key).is_err(), "answered once");
    // A bad request reverts at once: nothing is dispatched.
    let bad = c.submit(call_tx(&c, 2, caller, f4_request("nope", 0))).unwrap();
    mine(&mut c, now + 3000);
    let (block, i) = c.receipt(&bad).unwrap().expect("mined at once");
    assert!(block.receipts[i].status, "the caller's CALL returned 0 and it went on");
    assert_eq!(c.storage(&caller, &B256::ZERO, BlockTag::Latest).unwrap(), B256::ZERO);
}

/// Increments slot 0 when called without data; otherwise forwards its calldata to 0x..F4
/// with the byte at `k` replaced by slot 0 + 2 (so the request depends on state), storing
/// the call's success in slot 1.
fn drift(k: u16) -> Vec<u8> {
    let [hi, lo] = k.to_be_bytes();
    vec![
        0x36, 0x15, 0x60, 0x26, 0x57, // if calldatasize == 0: goto inc
        0x36, 0x60, 0x00, 0x60, 0x00, 0x37, // calldatacopy(0, 0, calldatasize)
        0x60, 0x00, 0x54, 0x60, 0x02, 0x01, 0x61, hi, lo, 0x53, // mstore8(k, sload(0) + 2)
        0x60, 0x00, 0x60, 0x00, 0x36, 0x60, 0x00, 0x60, 0x00, 0x60, 0xf4, 0x5a, 0xf1, // call(gas, 0xf4, 0, 0, cds, 0, 0)
        0x60, 0x01, 0x55, 0x00, // sstore(1, success)
        0x5b, 0x60, 0x00, 0x54, 0x60, 0x01, 0x01, 0x60, 0x00, 0x55, 0x00, // inc: sstore(0, sload(0) + 1)
    ]
}

#[test]
fn a_request_that_keeps_changing_fails_after_bounded_resimulation() {
    let mut c = chain_with_model();
    let now = c.pipe().now_ms();
    let (two, three) = (f4_request("m", 0), f4_request_of("m", 0, 3));
    let k = two.iter().zip(three.iter()).position(|(a, b)| a != b).expect("the value's byte") as u16;
    let contract = deploy(&mut c, 0, &drift(k), now);
    let b = c.submit(call_tx(&c, 1, contract, two.clone())).unwrap();
    let pipe = c.pipe().clone();
    for round in 0..preexec::MAX_SIMULATIONS as u64 {
        // Another account changes the state the request depends on, ahead of it (higher tip).
        let bump = sign_with(&c, 1, round, |f: &mut UnsignedFields| {
            f.to = Some(contract);
            f.gas = 100_000;
            f.max_priority_fee_per_gas = 2_000_000_000;
        });
        c.submit(bump).unwrap();
        let (node, work) = (0..4).find_map(|n| pipe.take(n, Duration::ZERO).map(|w| (n, w))).expect("dispatched");
        pipe.complete(node, work.job, work.attempt, Ok(r#"{"numbers":[{"name":"y","values":[["4","0"]],"shape":[1]}]}"#.into()), false);
        mine(&mut c, now + 1000 * (round + 1));
        let mined = c.receipt(&b).unwrap().is_some();
        assert_eq!(mined, round + 1 == preexec::MAX_SIMULATIONS as u64, "round {round}");
    }
    let (block, i) = c.receipt(&b).unwrap().unwrap();
    let r = &block.receipts[i];
    assert!(!r.status);
    assert!(r.revert_reason.as_deref().unwrap().contains("changed between simulation and execution 3 times"), "{:?}", r.revert_reason);
    assert_eq!(c.storage(&contract, &B256::with_last_byte(1), BlockTag::Latest).unwrap(), B256::ZERO);
}


#[test]
fn an_impersonated_account_sends_without_its_key() {
    let mut c = Chain::new(&Genesis::new(T), MiningMode::Manual).unwrap();
    let whale = Address::repeat_byte(0x77);
    c.set_balance(whale, U256::from(10u128.pow(20)));
    let req = TxRequest { from: Some(whale), to: Some(Address::repeat_byte(0x01)), value: Some(U256::from(5)), ..Default::default() };
    assert!(matches!(c.send_transaction(&req), Err(ChainError::UnknownAccount(_))));
    c.impersonate(whale, true);
    let req = TxRequest { to: Some(Address::repeat_byte(0x55)), ..req };
    let h = c.send_transaction(&req).unwrap();
    mine(&mut c, T + 1000);
    let (block, i) = c.receipt(&h).unwrap().unwrap();
    assert_eq!(block.transactions[i].sender, whale);
    let raw = block.transactions[i].raw();
    assert_eq!(c.account(&Address::repeat_byte(0x55), BlockTag::Latest).unwrap().balance, U256::from(5));
    // The stand-in signature is only accepted while the account is impersonated.
    c.impersonate(whale, false);
    let replay = crate::eth::decode_raw_transaction(&raw, c.chain_id()).unwrap();
    assert_eq!(replay.sender, whale, "mined blocks read back with their sender");
    let again = TxRequest { nonce: Some(1), ..req.clone() };
    assert!(c.send_transaction(&again).is_err());
    c.impersonate(whale, true);
    let tx = c.sign_transaction(&again).unwrap();
    c.impersonate(whale, false);
    assert!(matches!(c.submit(tx), Err(ChainError::InvalidSignature(_))));
}

#[test]
fn fees_burn_the_base_fee_and_tip_the_coinbase_and_failures_name_their_cause() {
    let mut c = Chain::new(&Genesis::new(T), MiningMode::Manual).unwrap();
    let a0 = c.keys().addresses()[0];
    let store = deploy(&mut c, 0, STORE, T + 1000);
    let coinbase = Address::ZERO;
    let (before_sender, before_coinbase) = (c.account(&a0, BlockTag::Latest).unwrap().balance, c.account(&coinbase, BlockTag::Latest).unwrap().balance);
    let base_fee = c.base_fee() as u128;
    let h = c.submit(call_tx(&c, 1, store, word(1))).unwrap();
    mine(&mut c, T + 2000);
    let (block, i) = c.receipt(&h).unwrap().unwrap();
    let gas = block.receipts[i].gas_used as u128;
    let tip = (3_000_000_000u128 - base_fee).min(1_000_000_000);
    assert_eq!(c.account(&coinbase, BlockTag::Latest).unwrap().balance - before_coinbase, U256::from(gas * tip));
    assert_eq!(before_sender - c.account(&a0, BlockTag::Latest).unwrap().balance, U256::from(gas * (base_fee + tip)));
    // An invalid opcode, a reverting constructor, a panic: status 0, each with its reason.
    let invalid = deploy(&mut c, 2, &[0xfe], T + 3000);
    let panic_runtime: Vec<u8> = {
        // mstore(0, Panic(0x11)) as revert data: selector 4e487b71, code 0x11.
        let mut data = alloy_sol_types::Panic { code: U256::from(0x11) }.abi_encode();
        data.resize(64, 0);
        let mut code = Vec::new();
        for (k, chunk) in data.chunks(32).enumerate() {
            code.push(0x7f);
            code.extend_from_slice(chunk);
            code.extend_from_slice(&[0x60, (k * 32) as u8, 0x52]);
        }
        code.extend_from_slice(&[0x60, 0x24, 0x60, 0x00, 0xfd]);
        code
    };
    let panics = deploy(&mut c, 3, &panic_runtime, T + 4000);
    let reverting_constructor = sign_with(&c, 0, 4, |f| {
        f.to = None;
        f.data = Bytes::from_static(&[0x60, 0x00, 0x60, 0x00, 0xfd]);
        f.gas = 100_000;
    });
    let hashes = [
        c.submit(call_tx(&c, 5, invalid, Bytes::new())).unwrap(),
        c.submit(call_tx(&c, 6, panics, Bytes::new())).unwrap(),
    ];
    let created = c.submit(reverting_constructor).unwrap();
    mine(&mut c, T + 5000);
    let reason = |c: &Chain, h: &B256| {
        let (block, i) = c.receipt(h).unwrap().unwrap();
        assert!(!block.receipts[i].status);
        block.receipts[i].revert_reason.clone().unwrap()
    };
    assert_eq!(reason(&c, &hashes[0]), "invalid opcode");
    assert!(reason(&c, &hashes[1]).starts_with("panic code 0x11"), "{}", reason(&c, &hashes[1]));
    assert_eq!(reason(&c, &created), "execution reverted");
    let (block, i) = c.receipt(&created).unwrap().unwrap();
    assert_eq!(block.receipts[i].contract_address, None);
    assert!(c.code(&a0.create(4), BlockTag::Latest).unwrap().is_empty());
}
