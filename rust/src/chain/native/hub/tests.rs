use alloy_primitives::Address;
use alloy_sol_types::{SolCall, SolEvent};

use super::*;
use crate::chain::native::models::{ModelKind, ModelRegistry, ModelSpec};

fn registry() -> ModelRegistry {
    let mut r = ModelRegistry::default();
    r.register(ModelSpec::test_onnx("mlp", ("input", vec![-1, 4]), ("output", vec![-1, 2]), vec![0, 2, 3])).unwrap();
    r.register(ModelSpec {
        id: "llm".into(),
        name: "tiny".into(),
        kind: ModelKind::Gguf,
        inputs: vec![],
        outputs: vec![],
        modes: vec![0, 2, 3],
        context_length: 512,
        unsupported: [(1u8, "ZKML not enabled at registration".to_string())].into(),
    })
    .unwrap();
    r
}

fn run_call(model: &str, mode: u8, name: &str, values: Vec<(i128, i128)>, shape: Vec<u32>) -> Vec<u8> {
    abi::runCall {
        modelId: model.into(),
        inferenceMode: mode,
        modelInput: abi::ModelInput {
            numbers: vec![abi::MultiDimensionalNumberTensor {
                name: name.into(),
                values: values.into_iter().map(|(value, decimals)| abi::Number { value, decimals }).collect(),
                shape,
            }],
            strings: vec![],
        },
    }
    .abi_encode()
}

fn reason(data: Vec<u8>) -> String {
    parse(INFERENCE_HUB, &data, &registry()).unwrap_err()
}

#[test]
fn accepts_a_valid_run_and_describes_the_job() {
    let call = parse(INFERENCE_HUB, &run_call("mlp", 0, "input", vec![(1, 0), (25, 1), (3, 0), (-4, 2)], vec![1, 4]), &registry()).unwrap();
    assert_eq!(call.kind, CallKind::Model);
    let payload = call.job_payload();
    assert_eq!(payload["numbers"][0]["values"][1], serde_json::json!(["25", "1"]));
    assert_eq!(payload["kind"], "model");
}

#[test]
fn every_bad_input_has_a_reason() {
    let four = || vec![(1, 0); 4];
    assert!(reason(run_call("nope", 0, "input", four(), vec![1, 4])).contains("unknown model id"));
    assert!(reason(run_call("mlp", 1, "input", four(), vec![1, 4])).contains("does not support ZKML"));
    assert!(reason(run_call("mlp", 9, "input", four(), vec![1, 4])).contains("unknown inference mode 9"));
    assert!(reason(run_call("mlp", 0, "x", four(), vec![1, 4])).contains("unexpected input tensor \"x\""));
    assert!(reason(run_call("mlp", 0, "input", four(), vec![2, 2])).contains("has shape [2, 2]"));
    assert!(reason(run_call("mlp", 0, "input", vec![(1, 0); 3], vec![1, 4])).contains("has 3 values"));
    assert!(reason(run_call("mlp", 0, "input", vec![(1, -1); 4], vec![1, 4])).contains("decimals -1"));
    assert!(reason(run_call("mlp", 0, "input", vec![(1, 0); MAX_INPUT_VALUES + 4], vec![1, MAX_INPUT_VALUES as u32 + 4])).contains("over the limit"));
    assert!(reason(run_call("llm", 0, "input", four(), vec![1, 4])).contains("is a language model"));
    let empty = abi::runCall { modelId: "mlp".into(), inferenceMode: 0, modelInput: abi::ModelInput { numbers: vec![], strings: vec![] } };
    assert!(reason(empty.abi_encode()).contains("missing input tensor \"input\""));
    assert!(reason(vec![1, 2, 3, 4]).contains("unknown function selector"));
    assert!(reason(vec![1, 2]).contains("shorter than a function selector"));
    let mut truncated = run_call("mlp", 0, "input", four(), vec![1, 4]);
    truncated.truncate(40);
    assert!(reason(truncated).contains("malformed call arguments"));
    let long = abi::runLLMCompletionCall {
        request: abi::LLMCompletionRequest {
            mode: 0,
            modelCID: "llm".into(),
            prompt: "hi".into(),
            max_tokens: 4096,
            stop_sequence: vec![],
            temperature: 0,
        },
    };
    assert!(reason(long.abi_encode()).contains("over the context length 512"));
}

#[test]
fn encodes_a_valid_output_and_refuses_a_malformed_one() {
    let call = parse(INFERENCE_HUB, &run_call("mlp", 0, "input", vec![(1, 0); 4], vec![1, 4]), &registry()).unwrap();
    let logs = call
        .encode_result(r#"{"numbers":[{"name":"output","values":[["15","1"],[-2,0]],"shape":[1,2]}]}"#, "0x01")
        .unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].address, INFERENCE_HUB);
    assert_eq!(logs[0].topics()[0], abi::InferenceResult::SIGNATURE_HASH);
    let decoded = abi::InferenceResult::decode_log_data(&logs[0].data).unwrap();
    assert_eq!(decoded.output.numbers[0].values[0].value, 15);
    assert!(call.encode_result(r#"{"numbers":[{"name":"output","values":[["1","0"]],"shape":[1,2]}]}"#, "x").unwrap_err().contains("has 1 values"));
    assert!(call.encode_result(r#"{"numbers":[]}"#, "x").unwrap_err().contains("missing"));
    assert!(call.encode_result("not json", "x").is_err());
    let _ = Address::ZERO;
}

fn run_request(model: &str, mode: u8, values: Vec<(i128, i128)>) -> abi::RunRequest {
    let call = abi::runCall::abi_decode(&run_call(model, mode, "input", values, vec![1, 4])).unwrap();
    abi::RunRequest { modelId: call.modelId, inferenceMode: call.inferenceMode, modelInput: call.modelInput }
}

#[test]
fn run_many_parses_each_call_with_its_own_mode() {
    let x = vec![(1, 0), (2, 0), (3, 0), (4, 0)];
    let data = abi::runManyCall { requests: vec![run_request("mlp", 0, x.clone()), run_request("mlp", 2, x.clone())] }.abi_encode();
    assert!(is_many(INFERENCE_HUB, &data));
    let calls = parse_all(INFERENCE_HUB, &data, &registry()).unwrap();
    assert_eq!(calls.iter().map(|c| c.mode).collect::<Vec<_>>(), vec![0, 2]);
    // One bad call names its index; an empty batch is refused.
    let bad = abi::runManyCall { requests: vec![run_request("mlp", 0, x.clone()), run_request("mlp", 0, vec![(1, 0)])] }.abi_encode();
    assert!(parse_all(INFERENCE_HUB, &bad, &registry()).unwrap_err().starts_with("call 1: "));
    let empty = abi::runManyCall { requests: vec![] }.abi_encode();
    assert!(parse_all(INFERENCE_HUB, &empty, &registry()).unwrap_err().contains("1 to 16 calls"));
    // The precompile has no runMany.
    assert!(!is_many(INFERENCE_PRECOMPILE, &data));
}

#[test]
fn a_missing_mode_says_why_when_known() {
    let data = abi::runLLMCompletionCall {
        request: abi::LLMCompletionRequest { mode: 1, modelCID: "llm".into(), prompt: "hi".into(), max_tokens: 4, stop_sequence: vec![], temperature: 0 },
    }
    .abi_encode();
    let e = parse(INFERENCE_HUB, &data, &registry()).unwrap_err();
    assert!(e.contains("does not support ZKML") && e.ends_with(": ZKML not enabled at registration"), "{e}");
}

#[test]
fn a_torch_model_takes_run_and_a_torchscript_input_takes_any_shape() {
    let mut r = registry();
    let mut spec = ModelSpec::test_onnx("ts", ("x", vec![]), ("output", vec![]), vec![0, 2, 3]);
    spec.kind = ModelKind::Torch;
    spec.inputs[0].any_shape = true;
    spec.outputs[0].any_shape = true;
    r.register(spec).unwrap();
    for shape in [vec![1, 4], vec![2, 2], vec![4]] {
        let call = parse(INFERENCE_HUB, &run_call("ts", 0, "x", vec![(1, 0); 4], shape.clone()), &r).unwrap();
        assert_eq!(call.job_payload()["numbers"][0]["shape"], serde_json::json!(shape));
    }
    // The values must still fill the shape, and a torch model is no language model.
    let short = parse(INFERENCE_HUB, &run_call("ts", 0, "x", vec![(1, 0); 3], vec![2, 2]), &r).unwrap_err();
    assert!(short.contains("has 3 values, its shape [2, 2] needs 4"), "{short}");
    let chat = abi::runLLMCompletionCall {
        request: abi::LLMCompletionRequest { mode: 0, modelCID: "ts".into(), prompt: "hi".into(), max_tokens: 5,
                                             stop_sequence: vec![], temperature: 0 },
    }
    .abi_encode();
    assert!(parse(INFERENCE_HUB, &chat, &r).unwrap_err().contains("is not a language model: call run"));
}
