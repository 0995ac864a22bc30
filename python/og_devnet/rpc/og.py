"""og_* methods: the devnet's own objects (models, inferences, nodes, PIPE)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from og_devnet.errors import InvalidParams
from og_devnet.inference.catalog import ModelError
from og_devnet.rpc import params as p
from og_devnet.rpc.registry import RpcContext, method


@method("og_models")
def models(ctx: RpcContext, params: list[Any]) -> list[dict[str, Any]]:
    return ctx.node.catalog.list()


@method("og_registerModel")
def register_model(ctx: RpcContext, params: list[Any]) -> dict[str, Any]:
    """[{"path": "/abs/model.onnx", "name": "optional", "zkml": false}]: a file on this
    machine; with zkml, its circuit is set up in the background (og_models shows progress)."""
    spec = p.arg(params, 0, "model")
    if not isinstance(spec, dict) or not isinstance(spec.get("path"), str):
        raise InvalidParams('model: expected {"path": "/path/to/model.onnx|.gguf", "name": "..."}')
    name = spec.get("name")
    if name is not None and (not isinstance(name, str) or not 0 < len(name) <= 100):
        raise InvalidParams("model.name: expected a string of 1 to 100 characters")
    zkml = spec.get("zkml", False)
    if not isinstance(zkml, bool):
        raise InvalidParams("model.zkml: expected true or false")
    try:
        return ctx.node.catalog.add_file(Path(spec["path"]).expanduser(), name, zkml=zkml)
    except (ModelError, OSError) as e:
        raise InvalidParams(f"cannot register {spec['path']}: {e}") from e


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
