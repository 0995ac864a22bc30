//! PIPE pre-execution of transactions to contracts (DESIGN §10). An inference called from a
//! contract cannot run inside the EVM (a block never waits for a model), so a transaction is
//! simulated when it arrives, against the pending state, with a [`RecordingHost`] that answers
//! each inference call with a placeholder and records it; each recorded call becomes a PIPE
//! job. Once all are decided the transaction executes for real with a [`ServingHost`] that
//! serves each call its decided result, matched by call order and calldata (for OGHistorical's
//! `runInferenceOnPriceFeed`, by the request it becomes, candles included). A call the
//! simulation did not record means the state changed in between: the transaction is
//! simulated again and its jobs re-dispatched, at most [`MAX_SIMULATIONS`] times in all.
use alloy_primitives::{Address, Bytes};

use super::native::hub::{self, InferenceCall};
use super::native::historical::{self, PriceFeeds};
use super::native::models::ModelRegistry;
use super::native::tee_registry::TeeRegistry;
use super::native::{returns, scheduler, INFERENCE_HUB, INFERENCE_PRECOMPILE, OG_HISTORICAL, TEE_REGISTRY, WORKFLOW_SCHEDULER};
use crate::evm::{InferenceAnswer, InferenceHost, NativeContext};
use crate::pipe::CallResult;

/// Simulations a transaction gets (the one at submission included) before a real execution
/// that still asks for unrecorded inference fails with a named reason.
pub const MAX_SIMULATIONS: u32 = 3;

/// Gas of a call into the TEE registry (a read).
const REGISTRY_GAS: u64 = 2_600;

/// What the simulations of a contract transaction recorded.
#[derive(Debug, Clone, Default)]
pub struct PreExec {
    /// Each inference call as (native contract, calldata), in call order.
    pub calls: Vec<(Address, Bytes)>,
    pub simulations: u32,
    /// Their inference fee, owed on top of gas and value.
    pub fee: alloy_primitives::U256,
}

/// The reason a transaction fails when its calls never settle down.
pub fn diverged_reason(simulations: u32) -> String {
    format!(
        "inference calls changed between simulation and execution {simulations} times: the contract asks for an \
         inference that depends on state other transactions keep changing"
    )
}

fn revert(reason: &str, gas: u64) -> InferenceAnswer {
    InferenceAnswer::Revert { data: hub::revert_data(reason).into(), gas }
}

/// What the native contracts read while a transaction or call executes.
#[derive(Clone, Copy)]
pub struct NativeState<'a> {
    pub models: &'a ModelRegistry,
    pub tee: &'a TeeRegistry,
    pub feeds: &'a PriceFeeds,
    /// The TEE registry's clock (ms).
    pub now_ms: u64,
    /// The block's timestamp (s): OGHistorical serves the candles that end by it.
    pub timestamp: u64,
    /// The interval block time (ms, 0 if untimed): the scheduler's shortest frequency.
    pub block_time_ms: u64,
}

/// The native contracts every host answers for.
const ADDRESSES: [Address; 5] = [INFERENCE_HUB, INFERENCE_PRECOMPILE, TEE_REGISTRY, OG_HISTORICAL, WORKFLOW_SCHEDULER];

/// Calls every host answers the same way (`Err`): reads of the TEE registry and of price
/// candles, the workflow scheduler, and what a contract may not call. `Ok`: an inference call to record or serve,
/// parsed, with the calldata it is recorded under (for 0x..F5, the `run` request it becomes,
/// so an execution that sees other candles than its simulation is simulated again).
fn common(
    address: Address,
    caller: Address,
    input: &[u8],
    n: &NativeState<'_>,
    context: &mut dyn NativeContext,
) -> Result<(Bytes, InferenceCall), InferenceAnswer> {
    if address == WORKFLOW_SCHEDULER {
        let env = scheduler::Env { timestamp: n.timestamp, block_time_ms: n.block_time_ms };
        return Err(scheduler::call(input, caller, context, &env));
    }
    if address == TEE_REGISTRY {
        return Err(match n.tee.call(input, n.now_ms) {
            Ok(data) => InferenceAnswer::Output { data: data.into(), gas: REGISTRY_GAS, logs: vec![] },
            Err(reason) => revert(&reason, REGISTRY_GAS),
        });
    }
    if address == OG_HISTORICAL {
        let key: Bytes = match historical::call(input, n.feeds, n.timestamp) {
            Ok(historical::Call::Answered(data)) => {
                return Err(InferenceAnswer::Output { data, gas: historical::QUERY_GAS, logs: vec![] })
            }
            Ok(historical::Call::Run(run)) => alloy_sol_types::SolCall::abi_encode(&run).into(),
            Err(reason) => return Err(revert(&reason, historical::QUERY_GAS)),
        };
        return match hub::parse(OG_HISTORICAL, &key, n.models) {
            Ok(call) => Ok((key, call)),
            Err(reason) => Err(revert(&format!("runInferenceOnPriceFeed: {reason}"), hub::MODEL_GAS)),
        };
    }
    if hub::is_many(address, input) {
        return Err(revert("runMany is for transactions: a contract calls run once per inference", hub::MODEL_GAS));
    }
    match hub::parse(address, input, n.models) {
        Ok(call) => Ok((Bytes::copy_from_slice(input), call)),
        Err(reason) => Err(revert(&reason, hub::MODEL_GAS)),
    }
}

/// Records each inference call and answers it with a placeholder.
pub struct RecordingHost<'a> {
    pub natives: NativeState<'a>,
    pub recorded: Vec<(Address, Bytes)>,
    pub calls: Vec<InferenceCall>,
}

impl<'a> RecordingHost<'a> {
    pub fn new(natives: NativeState<'a>) -> Self {
        RecordingHost { natives, recorded: vec![], calls: vec![] }
    }
}

impl InferenceHost for RecordingHost<'_> {
    fn addresses(&self) -> Vec<Address> {
        ADDRESSES.to_vec()
    }

    fn call(&mut self, address: Address, caller: Address, input: &[u8], context: &mut dyn NativeContext) -> InferenceAnswer {
        match common(address, caller, input, &self.natives, context) {
            Err(answer) => answer,
            Ok((key, call)) => {
                let answer = InferenceAnswer::Output { data: returns::placeholder(&call), gas: hub::gas_for(call.kind), logs: vec![] };
                self.recorded.push((address, key));
                self.calls.push(call);
                answer
            }
        }
    }
}

/// Serves each recorded call its decided result.
pub struct ServingHost<'a> {
    pub natives: NativeState<'a>,
    expected: &'a [(Address, Bytes)],
    outcomes: Vec<Result<CallResult, String>>,
    next: usize,
    /// Set when the execution asked for a call the simulation did not record.
    pub mismatch: Option<String>,
    /// The results served, in call order (their fees are charged, their proofs settled).
    pub served: Vec<CallResult>,
}

impl<'a> ServingHost<'a> {
    pub fn new(natives: NativeState<'a>, expected: &'a [(Address, Bytes)], outcomes: Vec<Result<CallResult, String>>) -> Self {
        ServingHost { natives, expected, outcomes, next: 0, mismatch: None, served: vec![] }
    }
}

impl InferenceHost for ServingHost<'_> {
    fn addresses(&self) -> Vec<Address> {
        ADDRESSES.to_vec()
    }

    fn call(&mut self, address: Address, caller: Address, input: &[u8], context: &mut dyn NativeContext) -> InferenceAnswer {
        let (key, call) = match common(address, caller, input, &self.natives, context) {
            Err(answer) => return answer,
            Ok(call) => call,
        };
        let gas = hub::gas_for(call.kind);
        let i = self.next;
        let recorded = self.expected.get(i).is_some_and(|(a, data)| *a == address && *data == key);
        if !recorded {
            self.mismatch = Some(format!("inference call {i} to {address} was not recorded by the simulation"));
            return revert("inference call differs from the simulation's", gas);
        }
        self.next += 1;
        match self.outcomes.get(i).cloned() {
            Some(Ok(result)) => match returns::served(&call, &result.logs) {
                Ok(data) => {
                    let logs = result.logs.clone();
                    self.served.push(result);
                    InferenceAnswer::Output { data, gas, logs }
                }
                Err(reason) => revert(&reason, gas),
            },
            Some(Err(reason)) => revert(&reason, gas),
            None => revert("inference not decided", gas),
        }
    }
}

/// Serves each inference call the result a mined transaction's receipt holds (its events,
/// in call order): re-executing a mined transaction for a trace needs no node.
pub struct ReplayHost<'a> {
    pub natives: NativeState<'a>,
    logs: Vec<alloy_primitives::Log>,
    next: usize,
}

impl<'a> ReplayHost<'a> {
    pub fn new(natives: NativeState<'a>, receipt_logs: &[alloy_primitives::Log]) -> Self {
        let inference = [INFERENCE_HUB, INFERENCE_PRECOMPILE, OG_HISTORICAL];
        let logs = receipt_logs.iter().filter(|l| inference.contains(&l.address)).cloned().collect();
        ReplayHost { natives, logs, next: 0 }
    }
}

impl InferenceHost for ReplayHost<'_> {
    fn addresses(&self) -> Vec<Address> {
        ADDRESSES.to_vec()
    }

    fn call(&mut self, address: Address, caller: Address, input: &[u8], context: &mut dyn NativeContext) -> InferenceAnswer {
        // A transaction straight to the hub may be runMany: one event per call.
        if hub::is_many(address, input) {
            let Ok(calls) = hub::parse_all(address, input, self.natives.models) else {
                return revert("runMany: malformed", hub::MODEL_GAS);
            };
            let gas = calls.iter().map(|c| hub::gas_for(c.kind)).sum();
            let logs: Vec<_> = self.logs.iter().skip(self.next).take(calls.len()).cloned().collect();
            self.next += logs.len();
            return InferenceAnswer::Output { data: Bytes::new(), gas, logs };
        }
        let call = match common(address, caller, input, &self.natives, context) {
            Err(answer) => return answer,
            Ok((_, call)) => call,
        };
        let gas = hub::gas_for(call.kind);
        let Some(log) = self.logs.get(self.next).cloned() else {
            return revert("the receipt holds no result for this inference call", gas);
        };
        self.next += 1;
        match returns::served(&call, std::slice::from_ref(&log)) {
            Ok(data) => InferenceAnswer::Output { data, gas, logs: vec![log] },
            Err(reason) => revert(&reason, gas),
        }
    }
}
