//! What an inference call made from a contract returns: during the pre-execution simulation
//! a placeholder (`is_simulation_result = true`, every declared output present and zero, so
//! a contract that reads `numbers[0].values[0]` does not fail on the placeholder), and
//! during the real execution the decided result, taken from the event the call emits.
use alloy_primitives::{Bytes, Log};
use alloy_sol_types::{SolCall, SolEvent};

use super::hub::{InferenceCall, Request};
use crate::eth::abi;

/// ABI-encoded return value of `call` during a simulation.
pub fn placeholder(call: &InferenceCall) -> Bytes {
    match &call.request {
        Request::Run(_) | Request::Precompile(_) => {
            let mut out = abi::ModelOutput { numbers: vec![], strings: vec![], jsons: vec![], is_simulation_result: true };
            for spec in &call.outputs {
                let shape: Vec<u32> = spec.shape.iter().map(|d| if *d < 0 { 1 } else { *d as u32 }).collect();
                let count = shape.iter().map(|d| *d as usize).product::<usize>().min(4096);
                if spec.is_string() {
                    out.strings.push(abi::StringTensor { name: spec.name.clone(), values: vec![String::new(); count] });
                } else {
                    let zero = abi::Number { value: 0, decimals: 0 };
                    out.numbers.push(abi::MultiDimensionalNumberTensor { name: spec.name.clone(), values: vec![zero; count], shape });
                }
            }
            model_output(&call.request, out)
        }
        Request::Completion(_) => abi::runLLMCompletionCall::abi_encode_returns(&abi::LLMCompletionResponse { answer: String::new() }).into(),
        Request::Chat(_) => abi::runLLMChatCall::abi_encode_returns(&abi::LLMChatResponse {
            finish_reason: String::new(),
            message: abi::ChatMessage {
                role: "assistant".into(),
                content: String::new(),
                name: String::new(),
                tool_call_id: String::new(),
                tool_calls: vec![],
            },
        })
        .into(),
    }
}

fn model_output(request: &Request, out: abi::ModelOutput) -> Bytes {
    match request {
        Request::Run(_) => abi::runCall::abi_encode_returns(&out).into(),
        _ => abi::runModelInferenceCall::abi_encode_returns(&out).into(),
    }
}

/// ABI-encoded return value of `call` from the event its decided result emitted.
pub fn served(call: &InferenceCall, logs: &[Log]) -> Result<Bytes, String> {
    let log = logs.first().ok_or("the decided result has no event")?;
    let bad = |e: alloy_sol_types::Error| format!("the decided result's event does not decode: {e}");
    Ok(match &call.request {
        Request::Run(_) => model_output(&call.request, abi::InferenceResult::decode_log_data(&log.data).map_err(bad)?.output),
        Request::Precompile(_) => {
            model_output(&call.request, abi::ModelInferenceEvent::decode_log_data(&log.data).map_err(bad)?.response)
        }
        Request::Completion(_) => {
            let response = match abi::LLMCompletionEvent::decode_log_data(&log.data) {
                Ok(e) => e.response,
                Err(_) => abi::LLMCompletionResult::decode_log_data(&log.data).map_err(bad)?.response,
            };
            abi::runLLMCompletionCall::abi_encode_returns(&response).into()
        }
        Request::Chat(_) => {
            let response = match abi::LLMChat::decode_log_data(&log.data) {
                Ok(e) => e.response,
                Err(_) => abi::LLMChatResult::decode_log_data(&log.data).map_err(bad)?.response,
            };
            abi::runLLMChatCall::abi_encode_returns(&response).into()
        }
    })
}
