# pragma version ~=0.4.3
# Calls OpenGradient's inference precompile (0x...F4) inside its own transaction, keeps the
# first output number and logs it.

struct Number:
    value: int128
    decimals: int128

struct MultiDimensionalNumberTensor:
    name: String[64]
    values: DynArray[Number, 64]
    shape: DynArray[uint32, 8]

struct StringTensor:
    name: String[64]
    values: DynArray[String[256], 8]

struct ModelInput:
    numbers: DynArray[MultiDimensionalNumberTensor, 4]
    strings: DynArray[StringTensor, 4]

struct ModelInferenceRequest:
    mode: uint8
    modelCID: String[128]
    input: ModelInput

struct JsonScalar:
    name: String[64]
    value: String[256]

struct ModelOutput:
    numbers: DynArray[MultiDimensionalNumberTensor, 4]
    strings: DynArray[StringTensor, 4]
    jsons: DynArray[JsonScalar, 4]
    is_simulation_result: bool

interface InferencePrecompile:
    def runModelInference(request: ModelInferenceRequest) -> ModelOutput: nonpayable

PRECOMPILE: constant(address) = 0x00000000000000000000000000000000000000F4

event Predicted:
    caller: indexed(address)
    value: int128
    decimals: int128

model: public(String[128])
value: public(int128)
decimals: public(int128)
simulated: public(bool)


@deploy
def __init__(model: String[128]):
    self.model = model


@external
def predict(mode: uint8, x: DynArray[Number, 64], shape: DynArray[uint32, 8]):
    tensor: MultiDimensionalNumberTensor = MultiDimensionalNumberTensor(name="input", values=x, shape=shape)
    request: ModelInferenceRequest = ModelInferenceRequest(
        mode=mode, modelCID=self.model, input=ModelInput(numbers=[tensor], strings=[])
    )
    out: ModelOutput = extcall InferencePrecompile(PRECOMPILE).runModelInference(request)
    first: Number = out.numbers[0].values[0]
    self.value = first.value
    self.decimals = first.decimals
    self.simulated = out.is_simulation_result
    log Predicted(caller=msg.sender, value=first.value, decimals=first.decimals)


@external
def peek(x: DynArray[Number, 64], shape: DynArray[uint32, 8]) -> (int128, int128, bool):
    """What the model says for `x`, without storing it: for eth_call (whose inference PIPE runs)."""
    tensor: MultiDimensionalNumberTensor = MultiDimensionalNumberTensor(name="input", values=x, shape=shape)
    request: ModelInferenceRequest = ModelInferenceRequest(
        mode=0, modelCID=self.model, input=ModelInput(numbers=[tensor], strings=[])
    )
    out: ModelOutput = extcall InferencePrecompile(PRECOMPILE).runModelInference(request)
    first: Number = out.numbers[0].values[0]
    return first.value, first.decimals, out.is_simulation_result
