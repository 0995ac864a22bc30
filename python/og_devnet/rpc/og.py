"""og_* methods: the devnet's own objects (models, inferences, nodes, PIPE)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from og_devnet.errors import InvalidParams
from og_devnet.inference.catalog import MAX_MODEL_BYTES, MAX_NAME, ModelError, display_name
from og_devnet.inference.model_paths import (
    FileTooLarge,
    ModelDirs,
    PathRefused,
    ReadTimeout,
    copy_regular_file,
    shown,
)
from og_devnet.rpc import params as p
from og_devnet.rpc.registry import RpcContext, method


@method("og_models")
def models(ctx: RpcContext, params: list[Any]) -> list[dict[str, Any]]:
    return ctx.node.catalog.list()


#: A request (a batch counts as one) reads at most this many model bytes in all.
MODEL_BYTES = "model bytes registered"


@method("og_registerModel")
def register_model(ctx: RpcContext, params: list[Any]) -> dict[str, Any]:
    """[{"data": "0x<file bytes>" | "path": "/models/x.onnx", "name": "optional", "zkml": false}]:
    the bytes of an ONNX or GGUF file, or a file under one of the node's --models-dir
    directories; with zkml, its circuit is set up in the background (og_models shows progress)."""
    spec = p.arg(params, 0, "model")
    if not isinstance(spec, dict) or ("path" in spec) == ("data" in spec):
        raise InvalidParams('model: expected {"data": "0x<bytes of an .onnx, .gguf, .pt2 or TorchScript .pt file>"} or '
                            '{"path": "/dir/model.onnx"} (a file under the node\'s --models-dir), with optional "name" and "zkml"')  # fmt: skip
    name = spec.get("name")
    if name is not None and (not isinstance(name, str) or not 0 < len(name) <= MAX_NAME):
        raise InvalidParams(f"model.name: expected a string of 1 to {MAX_NAME} characters")
    zkml = spec.get("zkml", False)
    if not isinstance(zkml, bool):
        raise InvalidParams("model.zkml: expected true or false")
    catalog = ctx.node.catalog
    if "data" in spec:
        data = _model_bytes(spec["data"])
        ctx.spend(MODEL_BYTES, len(data), MAX_MODEL_BYTES)
        try:
            return catalog.add_bytes(data, name or "model", zkml)
        except ModelError as e:
            raise InvalidParams(f"cannot register the model: {e}") from e
    given = spec["path"]
    if not isinstance(given, str):
        raise InvalidParams("model.path: expected a string")
    dirs = ModelDirs(ctx.node.settings.models_dirs)
    try:
        real = dirs.resolve(given)
        with catalog.incoming() as (tmp, f):
            size = copy_regular_file(real, dirs.refusal(given), f, min(MAX_MODEL_BYTES, _left(ctx)))
            ctx.spend(MODEL_BYTES, size, MAX_MODEL_BYTES)
            f.close()
            return catalog.add_upload(tmp, name or display_name(Path(given).name), zkml)
    except PathRefused as e:
        raise InvalidParams(str(e)) from e
    except (ModelError, FileTooLarge, ReadTimeout) as e:
        raise InvalidParams(f"cannot register {shown(given)}: {e}") from e


def _left(ctx: RpcContext) -> int:
    return MAX_MODEL_BYTES - ctx.spent.get(MODEL_BYTES, 0)


def _model_bytes(v: Any) -> bytes:
    # Checked here rather than by params.data: its error echoes the value, megabytes of it.
    if isinstance(v, str) and v.startswith("0x") and len(v) % 2 == 0 and len(v) > 2:
        try:
            return bytes.fromhex(v[2:])
        except ValueError:
            pass
    raise InvalidParams("model.data: expected the file's bytes as 0x-prefixed hex")


@method("og_quote")
def quote(ctx: RpcContext, params: list[Any]) -> dict[str, Any]:
    """[modelId, valueAtRisk?]: per mode price, latency, trust gap and guarantee; with a
    value at risk (wei), the cheapest mode whose guarantee covers it."""
    from og_devnet.inference.quote import quote as make_quote

    model_id = p.arg(params, 0, "modelId")
    if not isinstance(model_id, str) or not model_id:
        raise InvalidParams("modelId: expected a model id string")
    value = p.arg(params, 1, "valueAtRisk", required=False)
    value_at_risk = None if value is None else p.quantity(value, "valueAtRisk")
    try:
        return make_quote(ctx.node, model_id, value_at_risk)
    except KeyError:
        raise InvalidParams(f"modelId: unknown model {model_id!r} (og_models lists them)") from None


@method("og_getInference")
def get_inference(ctx: RpcContext, params: list[Any]) -> dict[str, Any] | None:
    return ctx.node.inference(p.hash32(p.arg(params, 0, "txHash"), "txHash"))


@method("og_pipeStats")
def pipe_stats(ctx: RpcContext, params: list[Any]) -> dict[str, Any]:
    stats = orjson.loads(ctx.node.chain.pipe().stats_json())
    for node, info in zip(stats["nodes"], ctx.node.node_info(), strict=True):
        node["fault"] = info["fault"]
    return stats


@method("og_nodes")
def nodes(ctx: RpcContext, params: list[Any]) -> list[dict[str, Any]]:
    return ctx.node.node_info()


@method("og_setNodeFault")
def set_node_fault(ctx: RpcContext, params: list[Any]) -> dict[str, Any]:
    index = p.quantity(p.arg(params, 0, "node"), "node", 1024)
    fault = p.arg(params, 1, "fault")
    if not isinstance(fault, str):
        raise InvalidParams("fault: expected ok, slow:FACTOR, down, flaky:P or byzantine")
    try:
        return ctx.node.set_node_fault(index, fault)
    except ValueError as e:
        raise InvalidParams(str(e)) from e


#: The most runs og_workflows returns per task.
MAX_RECENT_RUNS = 1000


@method("og_workflows")
def workflows(ctx: RpcContext, params: list[Any]) -> list[dict[str, Any]]:
    """[recent?]: the workflow scheduler's tasks (id, contract, owner, endTime, frequency,
    nextRun, runs, failures, cancelled, active, and for an SDK workflow contract its modelId,
    inputName and query), each with its last `recent` runs (default 20): block, due, txHash,
    ok, timestamp, timestampMs and output (the first value of its first inference result)."""
    recent = p.quantity(p.arg(params, 0, "recent", required=False, default=20), "recent", MAX_RECENT_RUNS + 1)
    return orjson.loads(ctx.node.chain.workflows_json(recent))
