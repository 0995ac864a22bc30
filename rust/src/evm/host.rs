//! What the native contracts answer inside the EVM. The EVM routes every call to a native
//! address to the host; the chain decides what that means (record the inference call during a
//! simulation, serve its decided result during the real execution, answer a registry read).
use alloy_primitives::{Address, Bytes, Log, U256};

/// The answer to one call into a native contract.
#[derive(Debug, Clone)]
pub enum InferenceAnswer {
    /// Return data, the gas the call costs and the events it emits (dropped if a caller
    /// frame reverts).
    Output { data: Bytes, gas: u64, logs: Vec<Log> },
    /// The call reverts with this data (e.g. `Error(string)`), costing `gas`.
    Revert { data: Bytes, gas: u64 },
}

/// The EVM state a native contract may touch during a call (the workflow scheduler keeps its
/// tasks in its own storage): writes go through the journal, so a reverting caller undoes them.
pub trait NativeContext {
    /// Whether `address` holds code (a contract), as EXTCODESIZE > 0 sees it.
    fn has_code(&mut self, address: Address) -> bool;
    fn sload(&mut self, address: Address, slot: U256) -> U256;
    fn sstore(&mut self, address: Address, slot: U256, value: U256);
    /// A STATICCALL: no write may happen.
    fn is_static(&self) -> bool;
    /// A DELEGATECALL or CALLCODE (the code runs on behalf of another account and `caller`
    /// is not who called it), or a call that sends value.
    fn is_delegated(&self) -> bool;
    fn transfers_value(&self) -> bool;
}

pub trait InferenceHost {
    /// The native contracts this host answers for.
    fn addresses(&self) -> Vec<Address>;
    /// A call to native contract `address` with calldata `input`, made by `caller`.
    fn call(&mut self, address: Address, caller: Address, input: &[u8], context: &mut dyn NativeContext) -> InferenceAnswer;
}

/// A host for executions that must not reach inference (none is native).
pub struct NoInference;

impl InferenceHost for NoInference {
    fn addresses(&self) -> Vec<Address> {
        vec![]
    }
    fn call(&mut self, _: Address, _: Address, _: &[u8], _: &mut dyn NativeContext) -> InferenceAnswer {
        unreachable!("no native contract")
    }
}
