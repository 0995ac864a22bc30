//! The OpenGradient contracts' ABI (SDK 1.1.4: `inference.abi`, `InferencePrecompile.abi`),
//! generated with alloy's `sol!` so encodings are byte-for-byte those of Solidity.
use alloy_sol_types::sol;

sol! {
    #![sol(all_derives)]
    struct Number { int128 value; int128 decimals; }
    struct MultiDimensionalNumberTensor { string name; Number[] values; uint32[] shape; }
    struct StringTensor { string name; string[] values; }
    struct ModelInput { MultiDimensionalNumberTensor[] numbers; StringTensor[] strings; }
    struct JsonScalar { string name; string value; }
    struct ModelOutput {
        MultiDimensionalNumberTensor[] numbers;
        StringTensor[] strings;
        JsonScalar[] jsons;
        bool is_simulation_result;
    }

    struct LLMCompletionRequest {
        uint8 mode; string modelCID; string prompt; uint32 max_tokens; string[] stop_sequence; uint32 temperature;
    }
    struct LLMCompletionResponse { string answer; }
    struct ToolCall { string id; string name; string arguments; }
    struct ChatMessage { string role; string content; string name; string tool_call_id; ToolCall[] tool_calls; }
    struct ToolDefinition { string description; string name; string parameters; }
    struct LLMChatRequest {
        uint8 mode; string modelCID; ChatMessage[] messages; ToolDefinition[] tools; string tool_choice;
        uint32 max_tokens; string[] stop_sequence; uint32 temperature;
    }
    struct LLMChatResponse { string finish_reason; ChatMessage message; }
    struct ModelInferenceRequest { uint8 mode; string modelCID; ModelInput input; }

    // The inference hub.
    event InferenceResult(ModelOutput output);
    event LLMCompletionResult(LLMCompletionResponse response);
    event LLMChatResult(LLMChatResponse response);
    function run(string modelId, uint8 inferenceMode, ModelInput modelInput) returns (ModelOutput);
    function runLLMCompletion(LLMCompletionRequest request) returns (LLMCompletionResponse);
    function runLLMChat(LLMChatRequest request) returns (LLMChatResponse);
    // Devnet extension: several model calls, each with its own mode, in one transaction.
    // One `InferenceResult` per call, in call order.
    struct RunRequest { string modelId; uint8 inferenceMode; ModelInput modelInput; }
    function runMany(RunRequest[] requests) returns (ModelOutput[]);

    // The precompile at 0x..F4.
    function runModelInference(ModelInferenceRequest request) returns (ModelOutput);
    event ModelInferenceEvent(string inferenceID, ModelInferenceRequest request, ModelOutput response);
    event LLMCompletionEvent(string inferenceID, LLMCompletionRequest request, LLMCompletionResponse response);
    event LLMChat(string inferenceID, LLMChatRequest request, LLMChatResponse response);

    // OGHistorical, the precompile at 0x..F5 (what SDK 1.1.4's PriceHistoryInference calls).
    // order: 0 ascending, 1 descending; candle_types (SDK 1.1.4 CandleType): 0 high, 1 low, 2 open, 3 close, 4 volume.
    struct HistoricalInputQuery {
        string base; string quote; uint32 total_candles; uint32 candle_duration_in_mins; uint8 order; uint8[] candle_types;
    }
    function queryHistoricalCandles(HistoricalInputQuery query) returns (Number[]);
    function runInferenceOnPriceFeed(string model_id, string input_name, HistoricalInputQuery query) returns (ModelOutput);

    // The workflow scheduler at 0x7179…8eF6: registerTask is SDK 1.1.4's WorkflowScheduler.abi;
    // the rest is the devnet's (cancel, reads, events).
    function registerTask(address contractAddress, uint256 endTime, uint256 frequency);
    function cancelTask(uint256 taskId);
    function taskCount() returns (uint256);
    function getTask(uint256 taskId) returns (
        address contractAddress, address owner, uint256 endTime, uint256 frequency, uint256 nextRun, uint256 runs,
        uint256 failures, bool cancelled
    );
    event TaskRegistered(uint256 indexed taskId, address indexed contractAddress, address indexed owner, uint256 endTime, uint256 frequency);
    event TaskCancelled(uint256 indexed taskId);

    // SDK 1.1.4's PriceHistoryInference (what new_workflow deploys): the reads a workflow page shows.
    function modelId() returns (string);
    function inputName() returns (string);
    function inputQuery() returns (string base, string quote, uint32 total_candles, uint32 candle_duration_in_mins, uint8 order);
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{b256, hex};
    use alloy_sol_types::{SolCall, SolEvent};

    #[test]
    fn event_topics_match_the_sdk() {
        // From shared/reference/README.md: the topic the SDK looks for.
        assert_eq!(
            InferenceResult::SIGNATURE_HASH,
            b256!("c1396ff68bc2d8630100df29ce5561fa99078c602e8676ab72a53e37095d7168")
        );
        assert_eq!(
            InferenceResult::SIGNATURE,
            "InferenceResult(((string,(int128,int128)[],uint32[])[],(string,string[])[],(string,string)[],bool))"
        );
    }

    #[test]
    fn run_round_trips() {
        let call = runCall {
            modelId: "abc".into(),
            inferenceMode: 2,
            modelInput: ModelInput {
                numbers: vec![MultiDimensionalNumberTensor {
                    name: "input".into(),
                    values: vec![Number { value: 15, decimals: 1 }],
                    shape: vec![1],
                }],
                strings: vec![],
            },
        };
        let data = call.abi_encode();
        assert_eq!(hex::encode(&data[..4]), hex::encode(runCall::SELECTOR));
        let back = runCall::abi_decode(&data).unwrap();
        assert_eq!(back.modelId, "abc");
        assert_eq!(back.modelInput.numbers[0].values[0].value, 15);
    }

    #[test]
    fn historical_selectors_match_the_sdk_contract() {
        // PriceHistoryInference.bin (SDK 1.1.4) calls runInferenceOnPriceFeed by this selector.
        assert_eq!(hex::encode(runInferenceOnPriceFeedCall::SELECTOR), "a192a0f9");
        assert_eq!(queryHistoricalCandlesCall::SIGNATURE, "queryHistoricalCandles((string,string,uint32,uint32,uint8,uint8[]))");
    }
}

/// The TEE registry (SDK 1.1.4 `TEERegistry.abi`).
pub mod tee_registry {
    use alloy_sol_types::sol;

    sol! {
        #![sol(all_derives)]
        struct OHTTPConfig { uint8 keyId; uint16 kemId; uint16 kdfId; uint16 aeadId; bytes publicKey; bytes keyConfig; uint256 registeredAt; }
        struct TEEInfo {
            address owner; address paymentAddress; string endpoint; bytes publicKey; bytes tlsCertificate;
            bytes32 pcrHash; uint8 teeType; bool enabled; uint256 registeredAt; uint256 lastHeartbeatAt; OHTTPConfig ohttpConfig;
        }
        function getActiveTEEs(uint8 teeType) returns (TEEInfo[]);
        function getEnabledTEEs(uint8 teeType) returns (bytes32[]);
        function getTEEsByType(uint8 teeType) returns (bytes32[]);
        function getTEE(bytes32 teeId) returns (TEEInfo);
        function isTEEActive(bytes32 teeId) returns (bool);
        function isTEEEnabled(bytes32 teeId) returns (bool);
    }
}
