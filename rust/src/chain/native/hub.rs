//! The inference hub (and the precompile at 0x..F4): decoding a call, validating it against
//! the model's signature, and encoding a delivered result as the SDK's events.
use alloy_primitives::{Address, Log};
use alloy_sol_types::{SolCall, SolError, SolEvent};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::models::{mode_name, ModelRegistry, ModelSpec, TensorSpec};
use super::{INFERENCE_HUB, INFERENCE_PRECOMPILE, OG_HISTORICAL};
use crate::eth::abi;

/// Gas an inference call uses on top of intrinsic gas: a flat price per kind, so estimates
/// are exact and the SDK's 3× margin never runs out.
pub const MODEL_GAS: u64 = 100_000;
pub const LLM_GAS: u64 = 200_000;
/// Larger inputs are refused before any node sees them.
pub const MAX_INPUT_VALUES: usize = 65_536;
/// float32's smallest values need ~45 decimals in the SDK's encoding; keep room.
pub const MAX_DECIMALS: i128 = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallKind {
    Model,
    Completion,
    Chat,
}

/// A decoded call, kept whole so the result event can echo the request (precompile events do).
#[derive(Debug, Clone)]
pub enum Request {
    Run(abi::runCall),
    Precompile(abi::ModelInferenceRequest),
    Completion(abi::LLMCompletionRequest),
    Chat(abi::LLMChatRequest),
}

/// A valid inference call: what a node needs to run it and what the chain needs to encode it.
#[derive(Debug, Clone)]
pub struct InferenceCall {
    pub contract: Address,
    pub kind: CallKind,
    pub model_id: String,
    pub mode: u8,
    pub request: Request,
    pub outputs: Vec<TensorSpec>,
}

pub fn is_inference_contract(to: Option<Address>) -> bool {
    matches!(to, Some(a) if a == INFERENCE_HUB || a == INFERENCE_PRECOMPILE)
}

pub fn gas_for(kind: CallKind) -> u64 {
    if kind == CallKind::Model { MODEL_GAS } else { LLM_GAS }
}

/// Decodes and validates calldata sent to the hub or the precompile. The error is the revert
/// reason, readable as is.
pub fn parse(to: Address, data: &[u8], models: &ModelRegistry) -> Result<InferenceCall, String> {
    let selector: [u8; 4] = data.get(..4).and_then(|s| s.try_into().ok()).ok_or("calldata is shorter than a function selector")?;
    let bad = |e: alloy_sol_types::Error| format!("malformed call arguments: {e}");
    let request = match (to, selector) {
        // At 0x..F5: the request a `runInferenceOnPriceFeed` becomes (see `historical.rs`).
        (INFERENCE_HUB | OG_HISTORICAL, abi::runCall::SELECTOR) => Request::Run(abi::runCall::abi_decode(data).map_err(bad)?),
        (INFERENCE_PRECOMPILE, abi::runModelInferenceCall::SELECTOR) => {
            Request::Precompile(abi::runModelInferenceCall::abi_decode(data).map_err(bad)?.request)
        }
        (_, abi::runLLMCompletionCall::SELECTOR) => {
            Request::Completion(abi::runLLMCompletionCall::abi_decode(data).map_err(bad)?.request)
        }
        (_, abi::runLLMChatCall::SELECTOR) => Request::Chat(abi::runLLMChatCall::abi_decode(data).map_err(bad)?.request),
        (_, s) => return Err(format!("unknown function selector 0x{} for the contract at {to}", alloy_primitives::hex::encode(s))),
    };
    validated(to, request, models)
}

/// At most this many calls in one `runMany`.
pub const MAX_CALLS: usize = 16;

/// Whether `data` is a `runMany` call (a devnet extension): its inferences get ids of their
/// own, derived from the transaction hash and the call's index.
pub fn is_many(to: Address, data: &[u8]) -> bool {
    to == INFERENCE_HUB && data.get(..4) == Some(&abi::runManyCall::SELECTOR[..])
}

/// Every inference a hub or precompile call carries: one, or several for `runMany`.
pub fn parse_all(to: Address, data: &[u8], models: &ModelRegistry) -> Result<Vec<InferenceCall>, String> {
    if !is_many(to, data) {
        return parse(to, data, models).map(|c| vec![c]);
    }
    let many = abi::runManyCall::abi_decode(data).map_err(|e| format!("malformed call arguments: {e}"))?;
    if many.requests.is_empty() || many.requests.len() > MAX_CALLS {
        return Err(format!("runMany takes 1 to {MAX_CALLS} calls, got {}", many.requests.len()));
    }
    many.requests
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let call = abi::runCall { modelId: r.modelId, inferenceMode: r.inferenceMode, modelInput: r.modelInput };
            validated(to, Request::Run(call), models).map_err(|e| format!("call {i}: {e}"))
        })
        .collect()
}

fn validated(to: Address, request: Request, models: &ModelRegistry) -> Result<InferenceCall, String> {
    let (kind, model_id, mode) = match &request {
        Request::Run(c) => (CallKind::Model, c.modelId.clone(), c.inferenceMode),
        Request::Precompile(r) => (CallKind::Model, r.modelCID.clone(), r.mode),
        Request::Completion(r) => (CallKind::Completion, r.modelCID.clone(), r.mode),
        Request::Chat(r) => (CallKind::Chat, r.modelCID.clone(), r.mode),
    };
    let spec = models.get(&model_id).ok_or_else(|| format!("unknown model id {model_id:?}"))?;
    if mode as usize >= super::models::MODE_NAMES.len() {
        return Err(format!("unknown inference mode {mode} (0 VANILLA, 1 ZKML, 2 TEE, 3 OPTIMISTIC)"));
    }
    if !spec.modes.contains(&mode) {
        let supported: Vec<String> = spec.modes.iter().map(|m| mode_name(*m)).collect();
        // Why a mode is missing, when the registry knows (ZKML still being set up, or a
        // circuit ezkl cannot compile).
        let why = spec.unsupported.get(&mode).map(|w| format!(": {w}")).unwrap_or_default();
        return Err(format!(
            "model {} does not support {} inference (supported: {}){why}",
            spec.name,
            mode_name(mode),
            supported.join(", ")
        ));
    }
    match (kind, spec.kind.is_language_model()) {
        (CallKind::Model, true) => {
            return Err(format!("model {} is a language model: call runLLMCompletion or runLLMChat", spec.name))
        }
        (CallKind::Completion | CallKind::Chat, false) => {
            return Err(format!("model {} is not a language model: call run", spec.name))
        }
        _ => {}
    }
    match &request {
        Request::Run(c) => validate_input(spec, &c.modelInput)?,
        Request::Precompile(r) => validate_input(spec, &r.input)?,
        Request::Completion(r) => validate_llm(spec, r.max_tokens, r.prompt.len())?,
        Request::Chat(r) => {
            if r.messages.is_empty() {
                return Err("a chat request needs at least one message".into());
            }
            validate_llm(spec, r.max_tokens, r.messages.iter().map(|m| m.content.len()).sum())?
        }
    }
    Ok(InferenceCall { contract: to, kind, model_id, mode, request, outputs: spec.outputs.clone() })
}

fn validate_llm(spec: &ModelSpec, max_tokens: u32, prompt_bytes: usize) -> Result<(), String> {
    if max_tokens == 0 {
        return Err("max_tokens must be at least 1".into());
    }
    if max_tokens > spec.context_length {
        return Err(format!("max_tokens {max_tokens} is over the context length {} of model {}", spec.context_length, spec.name));
    }
    // A token is at least one byte: a prompt this long cannot fit whatever the tokenizer does.
    // The exact token count is checked by the node that tokenizes it.
    if prompt_bytes > MAX_INPUT_VALUES * 4 {
        return Err(format!("prompt of {prompt_bytes} bytes is over the size limit"));
    }
    Ok(())
}

fn validate_input(spec: &ModelSpec, input: &abi::ModelInput) -> Result<(), String> {
    let total: usize = input.numbers.iter().map(|t| t.values.len()).sum::<usize>()
        + input.strings.iter().map(|t| t.values.len()).sum::<usize>();
    if total > MAX_INPUT_VALUES {
        return Err(format!("input has {total} values, over the limit of {MAX_INPUT_VALUES}"));
    }
    let given: Vec<&str> = input.numbers.iter().map(|t| t.name.as_str()).chain(input.strings.iter().map(|t| t.name.as_str())).collect();
    let expected: Vec<&str> = spec.inputs.iter().map(|t| t.name.as_str()).collect();
    for (i, name) in given.iter().enumerate() {
        if given[..i].contains(name) {
            return Err(format!("input tensor {name:?} is given twice"));
        }
        if !expected.contains(name) {
            return Err(format!("unexpected input tensor {name:?} (model {} takes: {})", spec.name, expected.join(", ")));
        }
    }
    for t in &spec.inputs {
        if !given.contains(&t.name.as_str()) {
            return Err(format!("missing input tensor {:?} ({} {:?})", t.name, t.dtype, t.shape));
        }
    }
    for t in &input.numbers {
        let s = spec.inputs.iter().find(|s| s.name == t.name).expect("checked above");
        if s.is_string() {
            return Err(format!("wrong dtype: input {:?} is a string tensor, numbers were given", t.name));
        }
        check_shape("input", s, &t.shape, t.values.len())?;
        for v in &t.values {
            if v.decimals < 0 || v.decimals > MAX_DECIMALS {
                return Err(format!("input {:?}: decimals {} out of range 0..={MAX_DECIMALS}", t.name, v.decimals));
            }
            if s.is_integer() && v.decimals != 0 {
                return Err(format!("wrong dtype: input {:?} is {}, a fractional number was given", t.name, s.dtype));
            }
            if let Some((lo, hi)) = integer_range(&s.dtype) {
                if v.value < lo || v.value > hi {
                    return Err(format!("wrong dtype: input {:?} is {}, {} is out of its range", t.name, s.dtype, v.value));
                }
            }
        }
    }
    for t in &input.strings {
        let s = spec.inputs.iter().find(|s| s.name == t.name).expect("checked above");
        if !s.is_string() {
            return Err(format!("wrong dtype: input {:?} is {}, strings were given", t.name, s.dtype));
        }
        // String tensors carry no shape in the SDK's encoding: check the count where the
        // model's shape fixes it.
        if s.shape.iter().all(|d| *d >= 0) {
            let needed: i64 = s.shape.iter().product();
            if needed != t.values.len() as i64 {
                return Err(format!("input {:?} has {} strings, its shape {:?} needs {needed}", t.name, t.values.len(), s.shape));
            }
        }
    }
    Ok(())
}

fn integer_range(dtype: &str) -> Option<(i128, i128)> {
    Some(match dtype {
        "bool" => (0, 1),
        "int8" => (i8::MIN as i128, i8::MAX as i128),
        "int16" => (i16::MIN as i128, i16::MAX as i128),
        "int32" => (i32::MIN as i128, i32::MAX as i128),
        "int64" => (i64::MIN as i128, i64::MAX as i128),
        "uint8" => (0, u8::MAX as i128),
        "uint16" => (0, u16::MAX as i128),
        "uint32" => (0, u32::MAX as i128),
        "uint64" => (0, u64::MAX as i128),
        _ => return None,
    })
}

fn check_shape(what: &str, spec: &TensorSpec, shape: &[u32], values: usize) -> Result<(), String> {
    let name = &spec.name;
    let fits = spec.any_shape
        || (shape.len() == spec.shape.len() && shape.iter().zip(&spec.shape).all(|(g, e)| *e < 0 || *g as i64 == *e));
    if !fits {
        return Err(format!("{what} {name:?} has shape {shape:?}, the model expects {:?} (-1: any size)", spec.shape));
    }
    let product: u128 = shape.iter().map(|d| *d as u128).product();
    if product != values as u128 {
        return Err(format!("{what} {name:?} has {values} values, its shape {shape:?} needs {product}"));
    }
    Ok(())
}

impl InferenceCall {
    /// What a node is given to run: JSON the Python workers read.
    pub fn job_payload(&self) -> Value {
        let tensors = |input: &abi::ModelInput| {
            json!({
                "numbers": input.numbers.iter().map(|t| json!({
                    "name": t.name,
                    "values": t.values.iter().map(|v| json!([v.value.to_string(), v.decimals.to_string()])).collect::<Vec<_>>(),
                    "shape": t.shape,
                })).collect::<Vec<_>>(),
                "strings": input.strings.iter().map(|t| json!({"name": t.name, "values": t.values})).collect::<Vec<_>>(),
            })
        };
        let mut payload = match &self.request {
            Request::Run(c) => tensors(&c.modelInput),
            Request::Precompile(r) => tensors(&r.input),
            Request::Completion(r) => json!({
                "prompt": r.prompt, "max_tokens": r.max_tokens, "stop": r.stop_sequence, "temperature": r.temperature,
            }),
            Request::Chat(r) => json!({
                "messages": r.messages.iter().map(|m| json!({"role": m.role, "content": m.content, "name": m.name})).collect::<Vec<_>>(),
                "tools": r.tools.iter().map(|t| json!({"name": t.name, "description": t.description, "parameters": t.parameters})).collect::<Vec<_>>(),
                "tool_choice": r.tool_choice, "max_tokens": r.max_tokens, "stop": r.stop_sequence, "temperature": r.temperature,
            }),
        };
        let obj = payload.as_object_mut().expect("object");
        obj.insert("kind".into(), json!(self.kind));
        obj.insert("model_id".into(), json!(self.model_id));
        obj.insert("mode".into(), json!(self.mode));
        payload
    }

    /// Checks a node's output (JSON) against the model's output signature and encodes the
    /// result event(s). The error says why the output is not valid.
    pub fn encode_result(&self, output: &str, inference_id: &str) -> Result<Vec<Log>, String> {
        let v: Value = serde_json::from_str(output).map_err(|e| format!("output is not JSON: {e}"))?;
        let log = |data: alloy_primitives::LogData| Log { address: self.contract, data };
        Ok(match &self.request {
            Request::Run(_) => vec![log(abi::InferenceResult { output: self.model_output(&v)? }.encode_log_data())],
            Request::Precompile(r) => vec![log(
                abi::ModelInferenceEvent { inferenceID: inference_id.into(), request: r.clone(), response: self.model_output(&v)? }
                    .encode_log_data(),
            )],
            Request::Completion(r) => {
                let response = abi::LLMCompletionResponse { answer: str_field(&v, "answer")? };
                if self.contract == INFERENCE_PRECOMPILE {
                    vec![log(abi::LLMCompletionEvent { inferenceID: inference_id.into(), request: r.clone(), response }.encode_log_data())]
                } else {
                    vec![log(abi::LLMCompletionResult { response }.encode_log_data())]
                }
            }
            Request::Chat(r) => {
                let m = v.get("message").ok_or("output has no message")?;
                let tool_calls = m
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .map(|calls| {
                        calls
                            .iter()
                            .map(|c| {
                                Ok(abi::ToolCall {
                                    id: str_field(c, "id")?,
                                    name: str_field(c, "name")?,
                                    arguments: str_field(c, "arguments")?,
                                })
                            })
                            .collect::<Result<Vec<_>, String>>()
                    })
                    .transpose()?
                    .unwrap_or_default();
                let response = abi::LLMChatResponse {
                    finish_reason: str_field(&v, "finish_reason")?,
                    message: abi::ChatMessage {
                        role: str_field(m, "role")?,
                        content: str_field(m, "content")?,
                        name: String::new(),
                        tool_call_id: String::new(),
                        tool_calls,
                    },
                };
                if self.contract == INFERENCE_PRECOMPILE {
                    vec![log(abi::LLMChat { inferenceID: inference_id.into(), request: r.clone(), response }.encode_log_data())]
                } else {
                    vec![log(abi::LLMChatResult { response }.encode_log_data())]
                }
            }
        })
    }

    fn model_output(&self, v: &Value) -> Result<abi::ModelOutput, String> {
        let mut out = abi::ModelOutput { numbers: vec![], strings: vec![], jsons: vec![], is_simulation_result: false };
        for t in v.get("numbers").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
            let name = str_field(t, "name")?;
            let shape: Vec<u32> = serde_json::from_value(t.get("shape").cloned().unwrap_or_default())
                .map_err(|e| format!("output {name:?}: bad shape: {e}"))?;
            let values = t
                .get("values")
                .and_then(Value::as_array)
                .ok_or_else(|| format!("output {name:?} has no values"))?
                .iter()
                .map(|pair| {
                    let num = |i: usize| -> Option<i128> { pair.get(i).and_then(|x| x.as_str().map(str::to_owned).or_else(|| x.as_i64().map(|n| n.to_string())))?.parse().ok() };
                    match (num(0), num(1)) {
                        (Some(value), Some(decimals)) if (0..=MAX_DECIMALS).contains(&decimals) => Ok(abi::Number { value, decimals }),
                        _ => Err(format!("output {name:?}: {pair} is not a (value, decimals) pair")),
                    }
                })
                .collect::<Result<Vec<_>, String>>()?;
            out.numbers.push(abi::MultiDimensionalNumberTensor { name, values, shape });
        }
        for t in v.get("strings").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
            let values: Vec<String> = serde_json::from_value(t.get("values").cloned().unwrap_or_default())
                .map_err(|e| format!("string output: bad values: {e}"))?;
            out.strings.push(abi::StringTensor { name: str_field(t, "name")?, values });
        }
        for t in v.get("jsons").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
            out.jsons.push(abi::JsonScalar { name: str_field(t, "name")?, value: str_field(t, "value")? });
        }
        // Every declared output, once, with a shape that fits the signature.
        for spec in &self.outputs {
            let found: Vec<(&[u32], usize)> = out
                .numbers
                .iter()
                .filter(|t| t.name == spec.name)
                .map(|t| (t.shape.as_slice(), t.values.len()))
                .chain(out.strings.iter().filter(|t| t.name == spec.name).map(|t| (&[][..], t.values.len())))
                .collect();
            match found.as_slice() {
                [] => return Err(format!("output {:?} is missing", spec.name)),
                [(shape, n)] if !spec.is_string() => check_shape("output", spec, shape, *n)?,
                [_] => {}
                _ => return Err(format!("output {:?} appears more than once", spec.name)),
            }
        }
        if out.numbers.len() + out.strings.len() > self.outputs.len() {
            return Err("output has tensors the model does not declare".into());
        }
        Ok(out)
    }
}

fn str_field(v: &Value, key: &str) -> Result<String, String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned).ok_or_else(|| format!("output field {key:?} missing or not a string"))
}

/// ABI encoding of `Error(string)`: what a revert carries as data.
pub fn revert_data(reason: &str) -> Vec<u8> {
    alloy_sol_types::Revert { reason: reason.into() }.abi_encode()
}

#[cfg(test)]
mod tests;
