//! geth-compatible tracers (revm-inspectors): `callTracer`, `prestateTracer` and the default
//! struct logger, over the same execution as [`super::execute`].
use alloy_rpc_types_trace::geth::{
    GethDebugBuiltInTracerType as Builtin, GethDebugTracerType, GethDebugTracingOptions, GethTrace,
};
use revm::database_interface::WrapDatabaseRef;
use revm::inspector::InspectEvm;
use revm_inspectors::tracing::{TracingInspector, TracingInspectorConfig};

use super::db::ViewDb;
use super::exec::{context, evm, executed, tx_env};
use super::{BlockEnv, ExecOptions, Executed, InferenceHost, StateView, TxInput};

/// What to trace with, from geth's tracing options (JSON), checked before anything runs.
pub struct Tracer {
    options: GethDebugTracingOptions,
}

impl Tracer {
    pub fn parse(options: Option<&serde_json::Value>) -> Result<Tracer, String> {
        let options: GethDebugTracingOptions = match options {
            None | Some(serde_json::Value::Null) => Default::default(),
            Some(v) => serde_json::from_value(v.clone()).map_err(|e| format!("invalid tracing options: {e}"))?,
        };
        match &options.tracer {
            None | Some(GethDebugTracerType::BuiltInTracer(Builtin::CallTracer | Builtin::PreStateTracer)) => {}
            Some(other) => {
                return Err(format!(
                    "tracer {other:?} is not supported: use callTracer, prestateTracer or the default struct logger"
                ))
            }
        }
        Ok(Tracer { options })
    }

    fn config(&self) -> Result<TracingInspectorConfig, String> {
        let bad = |e: serde_json::Error| format!("invalid tracerConfig: {e}");
        Ok(match &self.options.tracer {
            Some(GethDebugTracerType::BuiltInTracer(Builtin::CallTracer)) => {
                TracingInspectorConfig::from_geth_call_config(&self.options.tracer_config.clone().into_call_config().map_err(bad)?)
            }
            Some(GethDebugTracerType::BuiltInTracer(Builtin::PreStateTracer)) => TracingInspectorConfig::from_geth_prestate_config(
                &self.options.tracer_config.clone().into_pre_state_config().map_err(bad)?,
            ),
            _ => TracingInspectorConfig::from_geth_config(&self.options.config),
        })
    }
}

/// Executes `tx` as [`super::execute`] does, traced by `tracer`: the trace (geth's JSON) and
/// what the execution did.
pub fn trace(
    view: &dyn StateView,
    block: &BlockEnv,
    tx: &TxInput,
    host: &mut dyn InferenceHost,
    options: ExecOptions,
    tracer: &Tracer,
) -> Result<(serde_json::Value, Executed), String> {
    let mut machine = evm(context(view, block, options), host, TracingInspector::new(tracer.config()?), block.spec);
    let raw = machine.inspect_tx(tx_env(tx, block.chain_id)).map_err(|e| e.to_string())?;
    let mut inspector = machine.inspector;
    inspector.set_transaction_gas_limit(tx.gas_limit);
    let builder = inspector.geth_builder();
    let gas_used = raw.result.tx_gas_used();
    let bad = |e: serde_json::Error| format!("invalid tracerConfig: {e}");
    let trace: GethTrace = match &tracer.options.tracer {
        Some(GethDebugTracerType::BuiltInTracer(Builtin::CallTracer)) => {
            builder.geth_call_traces(tracer.options.tracer_config.clone().into_call_config().map_err(bad)?, gas_used).into()
        }
        Some(GethDebugTracerType::BuiltInTracer(Builtin::PreStateTracer)) => {
            let config = tracer.options.tracer_config.clone().into_pre_state_config().map_err(bad)?;
            // The prestate is read from the state before the transaction: the view.
            builder
                .geth_prestate_traces(&raw, &config, WrapDatabaseRef(ViewDb { view }))
                .map_err(|e| format!("prestate: {e:?}"))?
                .into()
        }
        _ => {
            let output = raw.result.output().cloned().unwrap_or_default();
            builder.geth_traces(gas_used, output, tracer.options.config.clone()).into()
        }
    };
    let done = executed(Ok(raw)).map_err(|e| e.0)?;
    Ok((serde_json::to_value(trace).map_err(|e| e.to_string())?, done))
}

/// The storage slots and accounts `tx` touches (`eth_createAccessList`): sender, recipient
/// and precompiles left out, as geth does.
pub fn access_list(
    view: &dyn StateView,
    block: &BlockEnv,
    tx: &TxInput,
    host: &mut dyn InferenceHost,
    options: ExecOptions,
) -> Result<(Vec<(alloy_primitives::Address, Vec<alloy_primitives::B256>)>, Executed), String> {
    use revm_inspectors::access_list::AccessListInspector;
    let mut machine = evm(context(view, block, options), host, AccessListInspector::default(), block.spec);
    let raw = machine.inspect_tx(tx_env(tx, block.chain_id)).map_err(|e| e.to_string())?;
    let list = machine.inspector.into_access_list().0.into_iter().map(|i| (i.address, i.storage_keys)).collect();
    Ok((list, executed(Ok(raw)).map_err(|e| e.0)?))
}
