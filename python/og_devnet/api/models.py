"""/api/models: list, upload (multipart), one model."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Query, UploadFile
from starlette.concurrency import run_in_threadpool

from og_devnet.api.deps import NodeDep
from og_devnet.inference.catalog import MAX_MODEL_BYTES, ModelError

router = APIRouter(prefix="/api/models", tags=["models"])


@router.get("")
def list_models(node: NodeDep) -> list[dict[str, Any]]:
    return node.catalog.list()


@router.get("/{model_id}")
def get_model(model_id: str, node: NodeDep) -> dict[str, Any]:
    info = node.catalog.get(model_id)
    if info is None:
        raise HTTPException(404, detail=f"no model with id {model_id}")
    return info


@router.get("/{model_id}/quote")
def quote(model_id: str, node: NodeDep, value_at_risk: Annotated[int | None, Query(ge=0, lt=2**256, description="wei")] = None) -> dict[str, Any]:
    """og_quote over REST: per mode price, latency, trust gap and guarantee."""
    from og_devnet.inference.quote import quote as make_quote

    try:
        return make_quote(node, model_id, value_at_risk)
    except KeyError:
        raise HTTPException(404, detail=f"no model with id {model_id}") from None


@router.post("", status_code=201)
async def upload_model(
    node: NodeDep,
    file: Annotated[UploadFile, File(description="An ONNX (.onnx) or GGUF (.gguf) model file")],
    name: Annotated[str | None, Form(max_length=100)] = None,
    zkml: Annotated[bool, Form(description="Set up a ZKML circuit (in the background)")] = False,
) -> dict[str, Any]:
    data = await file.read(MAX_MODEL_BYTES + 1)
    if len(data) > MAX_MODEL_BYTES:
        raise HTTPException(413, detail=f"model files are limited to {MAX_MODEL_BYTES} bytes")
    if not data:
        raise HTTPException(422, detail="the uploaded file is empty")
    try:
        return await run_in_threadpool(node.catalog.add_bytes, data, file.filename or "model", name, zkml)
    except ModelError as e:
        raise HTTPException(422, detail=str(e)) from e
