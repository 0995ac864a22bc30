//! Ethereum's precompiles plus the native contracts, which the [`InferenceHost`] answers.
use alloy_primitives::{Address, Bytes, U256};
use revm::context::Cfg;
use revm::context_interface::{ContextTr, JournalTr};
use revm::handler::{precompile_output_to_interpreter_result, EthPrecompiles, PrecompileProvider};
use revm::interpreter::{CallInputs, InterpreterResult};
use revm::precompile::PrecompileOutput;
use revm::primitives::hardfork::SpecId;
use revm::primitives::AddressSet;

use super::host::{InferenceAnswer, InferenceHost, NativeContext};

/// [`NativeContext`] over revm's journal.
struct JournalContext<'c, CTX> {
    context: &'c mut CTX,
    is_static: bool,
    is_delegated: bool,
    transfers_value: bool,
}

impl<CTX: ContextTr> NativeContext for JournalContext<'_, CTX> {
    fn has_code(&mut self, address: Address) -> bool {
        self.context.journal_mut().code(address).is_ok_and(|c| !c.data.is_empty())
    }
    fn sload(&mut self, address: Address, slot: U256) -> U256 {
        let journal = self.context.journal_mut();
        // The account must be in the journal before its storage is read or written.
        let _ = journal.load_account(address);
        journal.sload(address, slot).map(|s| s.data).unwrap_or_default()
    }
    fn sstore(&mut self, address: Address, slot: U256, value: U256) {
        let journal = self.context.journal_mut();
        let _ = journal.load_account(address);
        journal.touch_account(address);
        let _ = journal.sstore(address, slot, value);
    }
    fn is_static(&self) -> bool {
        self.is_static
    }
    fn is_delegated(&self) -> bool {
        self.is_delegated
    }
    fn transfers_value(&self) -> bool {
        self.transfers_value
    }
}

pub struct Natives<'h> {
    eth: EthPrecompiles,
    host: &'h mut dyn InferenceHost,
    natives: Vec<Address>,
    warm: AddressSet,
}

impl<'h> Natives<'h> {
    pub fn new(spec: SpecId, host: &'h mut dyn InferenceHost) -> Self {
        let eth = EthPrecompiles::new(spec);
        let natives = host.addresses();
        let mut warm = eth.warm_addresses().clone();
        warm.extend(natives.iter().copied());
        Natives { eth, host, natives, warm }
    }
}

impl<CTX> PrecompileProvider<CTX> for Natives<'_>
where
    CTX: ContextTr<Cfg: Cfg<Spec = SpecId>>,
{
    type Output = InterpreterResult;

    fn set_spec(&mut self, spec: SpecId) -> bool {
        let changed = <EthPrecompiles as PrecompileProvider<CTX>>::set_spec(&mut self.eth, spec);
        self.warm = self.eth.warm_addresses().clone();
        self.warm.extend(self.natives.iter().copied());
        changed
    }

    fn run(&mut self, context: &mut CTX, inputs: &CallInputs) -> Result<Option<InterpreterResult>, String> {
        let address = inputs.bytecode_address;
        if !self.natives.contains(&address) {
            return <EthPrecompiles as PrecompileProvider<CTX>>::run(&mut self.eth, context, inputs);
        }
        let input: Bytes = inputs.input.bytes(context);
        let mut native_context = JournalContext {
            context: &mut *context,
            is_static: inputs.is_static,
            is_delegated: inputs.target_address != inputs.bytecode_address,
            transfers_value: inputs.transfers_value(),
        };
        let answer = self.host.call(address, inputs.caller, &input, &mut native_context);
        let output = match answer {
            InferenceAnswer::Output { data, gas, logs } => {
                // Events go through the journal, so a reverting caller drops them. A static
                // call cannot log.
                if gas <= inputs.gas_limit && !inputs.is_static {
                    for log in logs {
                        context.journal_mut().log(log);
                    }
                }
                PrecompileOutput::new(gas, data, inputs.reservoir)
            }
            InferenceAnswer::Revert { data, gas } => PrecompileOutput::revert(gas, data, inputs.reservoir),
        };
        Ok(Some(precompile_output_to_interpreter_result(output, inputs.gas_limit)))
    }

    fn warm_addresses(&self) -> &AddressSet {
        &self.warm
    }
}
