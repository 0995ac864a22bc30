"""Model runtimes: loaded once per model, shared by every simulated node.

onnxruntime sessions are thread-safe and release the GIL while they run; a llama.cpp context
is not thread-safe, so calls to one model are serialised (they release the GIL too)."""

from __future__ import annotations

import codecs
import contextlib
import os
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from og_devnet.inference.fixedpoint import array_from_fixed, array_to_fixed

#: Context window given to language models (capped by what the model was trained with).
DEFAULT_N_CTX = 2048

if TYPE_CHECKING:
    import numpy as np

#: ONNX element types → numpy dtype names (numpy is imported with onnxruntime, when a model loads).
_ONNX_DTYPES = {
    "float": "float32", "double": "float64", "float16": "float16", "int64": "int64", "int32": "int32",
    "int16": "int16", "int8": "int8", "uint8": "uint8", "bool": "bool", "string": "object",
}  # fmt: skip


class InferenceError(Exception):
    """The node could not run this request; the message becomes the attempt's reason."""


class BadInputError(InferenceError):
    """The request itself cannot run, on any node (e.g. a prompt over the context length)."""


@dataclass
class Generation:
    """How a `LlamaRuntime.generate` ended: the whole text (what the pieces add up to)."""

    text: str
    finish_reason: str  # "stop" (end of turn or a stop sequence), "length", or "cancelled"
    usage: dict[str, int]


class _Captured(Exception):
    """Carries the arguments llama-cpp-python's chat handler passes to create_completion."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        super().__init__("captured")
        self.kwargs = kwargs


#: What llama.cpp's sampler reads, of create_completion's arguments (its `generate` takes temp).
_SAMPLING = ("top_k", "top_p", "min_p", "typical_p", "repeat_penalty", "frequency_penalty", "presence_penalty",
             "tfs_z", "mirostat_mode", "mirostat_tau", "mirostat_eta", "logits_processor", "stopping_criteria",
             "grammar")  # fmt: skip
#: create_completion's own defaults (a plain completion sets nothing else).
_COMPLETION_DEFAULTS = {"top_k": 40, "top_p": 0.95, "min_p": 0.05, "typical_p": 1.0, "repeat_penalty": 1.0}


class Runtime(Protocol):
    kind: str
    #: "cpu" or "cuda:N": where it runs; `fallback` says why not on the device asked for.
    device: str
    fallback: str | None

    def spec(self) -> dict[str, Any]: ...
    def run(self, payload: dict[str, Any]) -> dict[str, Any]: ...


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silences what C code writes to file descriptor 2 (llama.cpp logs there directly)."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _dims(shape: list[Any]) -> list[int]:
    return [d if isinstance(d, int) and d >= 0 else -1 for d in shape]


class OnnxRuntime:
    kind = "onnx"

    def __init__(self, path: Path, device: str = "cpu") -> None:
        import onnxruntime as ort

        providers: list[Any] = ["CPUExecutionProvider"]
        self.device, self.fallback = "cpu", None
        if device.startswith("cuda"):
            if "CUDAExecutionProvider" in ort.get_available_providers():
                providers.insert(0, ("CUDAExecutionProvider", {"device_id": int(device.split(":")[1])}))
                self.device = device
            else:
                self.fallback = "onnxruntime has no CUDA provider (pip install onnxruntime-gpu)"
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # nodes run side by side; one thread each
        try:
            self.session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
        except Exception as e:
            raise InferenceError(f"onnxruntime cannot load {path.name}: {e}") from e
        if self.device != "cpu" and self.session.get_providers()[0] != "CUDAExecutionProvider":
            self.device, self.fallback = "cpu", "onnxruntime could not start its CUDA provider"
        self.inputs = [{"name": i.name, "dtype": i.type.removeprefix("tensor(").rstrip(")"), "shape": _dims(i.shape)}
                       for i in self.session.get_inputs()]  # fmt: skip
        self.outputs = [{"name": o.name, "dtype": o.type.removeprefix("tensor(").rstrip(")"), "shape": _dims(o.shape)}
                        for o in self.session.get_outputs()]  # fmt: skip

    def spec(self) -> dict[str, Any]:
        return {"inputs": self.inputs, "outputs": self.outputs, "context_length": 0}

    def run(self, payload: dict[str, Any]) -> dict[str, Any]:
        return output_tensors(self.outputs, self.run_arrays(input_arrays(self.inputs, payload)))

    def run_arrays(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        try:
            return self.session.run(None, feeds)
        except Exception as e:
            raise InferenceError(f"onnxruntime: {e}") from e


def batchable(runtime: Runtime) -> bool:
    """Whether jobs for this model can run as one batch: a tensor model whose every input and
    output has a leading dimension of any size (or any shape at all), none of them strings."""
    if runtime.kind not in ("onnx", "torch"):
        return False
    tensors = runtime.inputs + runtime.outputs  # type: ignore[attr-defined]
    return bool(runtime.inputs) and all(  # type: ignore[attr-defined]
        t["dtype"] != "string" and (t.get("any_shape") or (t["shape"] and t["shape"][0] == -1)) for t in tensors
    )


def run_batch(runtime: Any, payloads: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """Runs several jobs of one `batchable` model as one call: their inputs stacked along the
    leading dimension, the outputs split back by each job's share. None when they cannot be
    stacked (other trailing shapes, an input the model refuses, outputs without the batch
    dimension): the caller runs them one by one, so each job gets its own answer or error."""
    import numpy as np

    names = [t["name"] for t in runtime.inputs]
    try:
        feeds = [input_arrays(runtime.inputs, p) for p in payloads]
    except InferenceError:
        return None
    sizes = []
    for f in feeds:
        leading = {f[n].shape[0] if f[n].ndim else -1 for n in names}
        if len(leading) != 1 or -1 in leading:
            return None
        sizes.append(leading.pop())
    if any(len({f[n].shape[1:] for f in feeds}) != 1 for n in names):
        return None
    try:
        results = runtime.run_arrays({n: np.concatenate([f[n] for f in feeds]) for n in names})
    except InferenceError:
        return None
    if any(np.ndim(r) == 0 or np.shape(r)[0] != sum(sizes) for r in results):
        return None
    bounds = np.cumsum(sizes)[:-1]
    parts = [np.split(np.asarray(r), bounds) for r in results]
    return [output_tensors(runtime.outputs, [p[j] for p in parts]) for j in range(len(payloads))]


def parse_job(payload_json: str) -> dict[str, Any]:
    """A job payload as the nodes take it: its number tensors decoded to float64 by the core
    without the GIL (`split_job_numbers`: a tensor's `values` become `"f64": i` into
    `payload["_floats"]`), the rest parsed by orjson. `_json` keeps the payload as sent, for
    the exact pairs an integer input needs."""
    import orjson

    if '"numbers"' not in payload_json:  # a language model's job: nothing to decode
        return orjson.loads(payload_json)
    from og_devnet._core import split_job_numbers

    light, floats = split_job_numbers(payload_json)
    payload = orjson.loads(light)
    if floats:
        payload["_floats"], payload["_json"] = floats, payload_json
    return payload


def _pairs(payload: dict[str, Any], tensor: dict[str, Any]) -> list[list[str]]:
    """A number tensor's (value, decimals) pairs, from the payload as sent if `parse_job` took
    them out."""
    if "values" in tensor:
        return tensor["values"]
    import orjson

    index = next(i for i, t in enumerate(payload["numbers"]) if t is tensor)
    return orjson.loads(payload["_json"])["numbers"][index]["values"]


def input_arrays(inputs: list[dict[str, Any]], payload: dict[str, Any]) -> dict[str, np.ndarray]:
    """A job's input tensors as arrays, by name, in the dtypes of the model's `inputs`."""
    import numpy as np

    given = {t["name"]: t for t in payload.get("numbers", [])}
    strings = {t["name"]: t for t in payload.get("strings", [])}
    feeds = {}
    for spec in inputs:
        dtype = _ONNX_DTYPES.get(spec["dtype"])
        if dtype is None:
            raise InferenceError(f"input {spec['name']}: element type {spec['dtype']} is not supported")
        if spec["name"] in given:
            t, np_dtype = given[spec["name"]], np.dtype(dtype)
            if "values" not in t and np_dtype.kind == "f":  # decoded by `parse_job`: the same floats
                feeds[spec["name"]] = np.frombuffer(payload["_floats"][t["f64"]], "<f8").astype(np_dtype).reshape(t["shape"])
            else:
                feeds[spec["name"]] = array_from_fixed(_pairs(payload, t), t["shape"], np_dtype)
        elif spec["name"] in strings:
            feeds[spec["name"]] = np.array(strings[spec["name"]]["values"], dtype=object)
        else:
            raise InferenceError(f"missing input {spec['name']}")
    return feeds


def output_tensors(outputs: list[dict[str, Any]], results: list[Any]) -> dict[str, Any]:
    """A model's output arrays as the job's result: numbers in fixed point, strings as text."""
    import numpy as np

    out: dict[str, Any] = {"numbers": [], "strings": [], "jsons": []}
    for spec, arr in zip(outputs, results, strict=True):
        arr = np.asarray(arr)
        if arr.dtype == object or arr.dtype.kind in "US":
            out["strings"].append({"name": spec["name"], "values": [str(x) for x in arr.flatten()]})
        else:
            try:
                values = array_to_fixed(arr)
            except ValueError as e:
                raise InferenceError(f"output {spec['name']}: {e}") from e
            out["numbers"].append({"name": spec["name"], "values": values, "shape": list(arr.shape)})
    return out


#: The chat format of GGUF models that carry no chat template (base models such as the demo
#: Gemma 3 270M): a plain transcript, which a base model continues as the assistant. Without
#: it llama-cpp-python falls back to Llama 2's [INST] format, which such models end at once.
TRANSCRIPT_FORMAT = "og-devnet-transcript"
_transcript_registered = False


def _register_transcript_format() -> None:
    global _transcript_registered
    if _transcript_registered:
        return
    from llama_cpp import llama_chat_format as formats

    @formats.register_chat_format(TRANSCRIPT_FORMAT)
    def transcript(messages: list[dict[str, Any]], **_: Any) -> formats.ChatFormatterResponse:
        names = {"system": "System", "user": "User", "assistant": "Assistant", "tool": "Tool", "function": "Tool"}
        lines = [f"{names.get(m['role'], m['role'].title())}: {m.get('content') or ''}" for m in messages]
        return formats.ChatFormatterResponse(prompt="\n".join(lines) + "\nAssistant:", stop=["\nUser:", "\nSystem:"])

    _transcript_registered = True


class LlamaRuntime:
    kind = "gguf"

    def __init__(self, path: Path, n_ctx: int = DEFAULT_N_CTX, device: str = "cpu") -> None:
        import llama_cpp

        self.device, self.fallback = "cpu", None
        if device.startswith("cuda"):
            if llama_cpp.llama_supports_gpu_offload():
                self.device = device
            else:
                self.fallback = "llama-cpp-python was built without GPU offload (CMAKE_ARGS=-DGGML_CUDA=on)"
        gpu = -1 if self.device != "cpu" else 0  # every layer, or none
        try:
            # The context window: what the model was trained with, at most n_ctx.
            with _quiet_stderr():  # a vocab-only load warns about a 0 training context
                meta = llama_cpp.Llama(str(path), vocab_only=True, verbose=False).metadata
            trained = int(next((v for k, v in meta.items() if k.endswith(".context_length")), n_ctx))
            chat_format = None
            if "tokenizer.chat_template" not in meta:
                _register_transcript_format()
                chat_format = TRANSCRIPT_FORMAT
            self.llm = llama_cpp.Llama(str(path), n_ctx=min(n_ctx, trained), n_gpu_layers=gpu, n_threads=1, seed=0,
                                       chat_format=chat_format, verbose=False)  # fmt: skip
        except Exception as e:
            raise InferenceError(f"llama.cpp cannot load {path.name}: {e}") from e
        self.n_ctx = min(n_ctx, self.llm.n_ctx())
        self._lock = threading.Lock()

    def spec(self) -> dict[str, Any]:
        return {"inputs": [], "outputs": [], "context_length": self.n_ctx}

    def count_tokens(self, text: str) -> int:
        with self._lock:
            return len(self.llm.tokenize(text.encode(), add_bos=True))

    def prompt_of(self, payload: dict[str, Any]) -> str:
        if payload["kind"] == "completion":
            return payload["prompt"]
        return "".join(f"<|{m['role']}|>\n{m['content']}\n" for m in payload["messages"]) + "<|assistant|>\n"

    def check_fits(self, payload: dict[str, Any]) -> None:
        """Refuses a prompt that, with max_tokens, does not fit in the context window."""
        tokens = self.count_tokens(self.prompt_of(payload))
        if payload["kind"] == "chat":
            tokens += 8 * len(payload["messages"])  # room for the model's own chat template
        if tokens + int(payload["max_tokens"]) > self.n_ctx:
            raise BadInputError(
                f"prompt over the context length: {tokens} prompt tokens + {payload['max_tokens']} max_tokens "
                f"> {self.n_ctx}"
            )

    def run(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.check_fits(payload)
        # The contracts carry temperature as a uint32 in hundredths (70 = 0.7).
        args = dict(max_tokens=int(payload["max_tokens"]), temperature=int(payload["temperature"]) / 100,
                    stop=list(payload.get("stop") or []) or None)  # fmt: skip
        if payload["kind"] == "completion":
            r = self.create("completion", payload["prompt"], **args)
            return {"answer": r["choices"][0]["text"]}
        messages = [{"role": m["role"], "content": m["content"]} for m in payload["messages"]]
        r = self.create("chat", messages, **args)
        choice = r["choices"][0]
        return {"finish_reason": choice.get("finish_reason") or "stop",
                "message": {"role": "assistant", "content": choice["message"].get("content") or ""}}  # fmt: skip

    def create(self, kind: str, request: Any, **args: Any) -> dict[str, Any]:
        """llama.cpp's create_completion (kind "completion", `request` the prompt) or
        create_chat_completion (kind "chat", `request` the messages), one call at a time, from
        a fresh context with seed 0: the same request always gets the same text. Also used by
        the LLM gateways (og_devnet.llm)."""
        with self._lock:
            self.llm.reset()
            try:
                if kind == "completion":
                    return self.llm.create_completion(request, seed=0, **args)  # type: ignore[return-value]
                return self.llm.create_chat_completion(messages=request, seed=0, **args)  # type: ignore[return-value]
            except ValueError as e:  # llama-cpp-python: "Requested tokens ... exceed context window"
                raise BadInputError(f"prompt over the context length: {e}") from e

    def grammar(self, schema: dict[str, Any]) -> Any:
        """A llama.cpp grammar that holds output to the JSON `schema`. ValueError (with the
        reason) when llama.cpp cannot convert the schema or compile its grammar."""
        import json

        import llama_cpp
        from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf

        try:
            gbnf = json_schema_to_gbnf(json.dumps(schema))
        except Exception as e:  # the converter asserts on what it does not support
            raise ValueError(f"llama.cpp cannot use this JSON schema: {str(e)[:300] or type(e).__name__}") from None
        # llama-cpp-python compiles a grammar only once sampling starts: compile it here first,
        # so a bad one is refused up front (llama.cpp prints why on stderr).
        with self._lock:
            sampler = llama_cpp.llama_sampler_init_grammar(llama_cpp.llama_model_get_vocab(self.llm.model),
                                                           gbnf.encode(), b"root")  # fmt: skip
        if not sampler:
            raise ValueError("llama.cpp cannot compile the grammar of this JSON schema")
        llama_cpp.llama_sampler_free(sampler)
        return LlamaGrammar.from_string(gbnf)

    def generate(self, kind: str, request: Any, *, max_tokens: int | None = None, temperature: float = 0.0,
                 stop: list[str] | None = None, response_format: dict[str, Any] | None = None, grammar: Any = None,
                 cancel: threading.Event | None = None) -> Generator[str, None, Generation]:  # fmt: skip
        """Generates as `create` does (a fresh context, seed 0, the model's chat template for
        kind "chat"), yielding the text as it comes, and returns the whole `Generation`.

        The pieces add up to the Generation's text exactly, streamed or not: token bytes are
        decoded incrementally (a character split across tokens is kept whole), and text that
        may begin a stop sequence is held back until it is known not to. The runtime is held
        until the generator ends or is closed; a set `cancel` ends it at the next token."""
        import llama_cpp

        with self._lock:
            self.llm.reset()
            if kind == "completion":
                prompt: list[int] = self.llm.tokenize(request.encode(), add_bos=True, special=True)
                args: dict[str, Any] = {**_COMPLETION_DEFAULTS, "stop": stop, "grammar": grammar}
            else:
                args = self._chat_args(request, temperature, stop, response_format, grammar)
                prompt = args["prompt"]
            if len(prompt) + (max_tokens or 1) > self.n_ctx:
                raise BadInputError(f"prompt over the context length: {len(prompt)} prompt tokens + "
                                    f"{max_tokens or 1} max_tokens > {self.n_ctx}")  # fmt: skip
            limit = max_tokens or self.n_ctx - len(prompt)
            stops = [s for s in args.get("stop") or [] if s]
            vocab = llama_cpp.llama_model_get_vocab(self.llm.model)
            decoder = codecs.getincrementaldecoder("utf-8")(errors="ignore")  # as create's text
            text, sent, count, finish, cut = "", 0, 0, "length", None
            self.llm.set_seed(0)
            tokens = self.llm.generate(prompt, temp=temperature, **{k: args[k] for k in _SAMPLING if k in args})
            try:
                for token in tokens:
                    if llama_cpp.llama_vocab_is_eog(vocab, token):
                        finish = "stop"
                        break
                    count += 1
                    text += decoder.decode(self.llm.detokenize([token]))
                    if (cut := _find_stop(text, sent, stops)) is not None:
                        break
                    if (safe := len(text) - _held_back(text, stops)) > sent:
                        yield text[sent:safe]
                        sent = safe
                    if cancel is not None and cancel.is_set():
                        finish = "cancelled"
                        break
                    if count >= limit:
                        break
                else:  # llama.cpp stopped by itself: the chat template's end-of-turn token
                    finish = "stop"
            finally:
                tokens.close()
            usage = {"prompt_tokens": len(prompt), "completion_tokens": count, "total_tokens": len(prompt) + count}
            if finish == "cancelled":
                return Generation(text[:sent], finish, usage)
            if cut is None:
                text += decoder.decode(b"", final=True)
                cut = _find_stop(text, sent, stops)
            if cut is not None:
                text, finish = text[:cut], "stop"
            if len(text) > sent:
                yield text[sent:]
            return Generation(text, finish, usage)

    def _chat_args(self, messages: list[dict[str, Any]], temperature: float, stop: list[str] | None,
                   response_format: dict[str, Any] | None, grammar: Any) -> dict[str, Any]:  # fmt: skip
        """What create_chat_completion passes to create_completion: the prompt's tokens (the
        model's chat template applied), the template's stop strings and end-of-turn check, the
        chat sampling defaults, response_format's grammar. Captured, not re-implemented, so
        every chat format llama-cpp-python knows works as in `create`. Under the lock."""

        def capture(**args: Any) -> None:
            raise _Captured(args)

        self.llm.create_completion = capture  # type: ignore[method-assign]  # shadows the method
        try:
            self.llm.create_chat_completion(messages=messages, temperature=temperature, stop=stop, seed=0,
                                            response_format=response_format, grammar=grammar)  # type: ignore[arg-type]  # fmt: skip
        except _Captured as c:
            return c.kwargs
        finally:
            del self.llm.create_completion
        raise InferenceError("llama-cpp-python's chat handler did not reach create_completion")


def _find_stop(text: str, start: int, stops: list[str]) -> int | None:
    """Where the first stop sequence begins in `text` (none begins before `start`, the text
    already sent)."""
    return min((i for s in stops if (i := text.find(s, start)) >= 0), default=None)


def _held_back(text: str, stops: list[str]) -> int:
    """How many characters at the end of `text` could begin a stop sequence."""
    for k in range(min(len(text), max(map(len, stops), default=1) - 1), 0, -1):
        if any(s.startswith(text[-k:]) for s in stops):
            return k
    return 0


def load_runtime(path: Path, device: str = "cpu") -> Runtime:
    """A runtime for the model file at `path`, chosen by its content: GGUF magic, a torch
    archive (see torch_runtime.py), or else ONNX; on `device` ("cpu" or "cuda:N") where its
    library can use it, else on the CPU (its `fallback` says why)."""
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic == b"GGUF":
        return LlamaRuntime(path, device=device)
    from og_devnet.inference.torch_runtime import TorchRuntime, torch_format  # no torch import here

    fmt = torch_format(path)
    if fmt is not None:
        return TorchRuntime(path, fmt, device)
    return OnnxRuntime(path, device)
