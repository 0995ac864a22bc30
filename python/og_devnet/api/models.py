"""/api/models: list, upload (multipart, streamed to disk), one model."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from og_devnet.api.deps import NodeDep
from og_devnet.api.uploads import UploadError, receive_file
from og_devnet.inference import catalog
from og_devnet.inference.catalog import MAX_NAME, ModelError, display_name

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


#: The request body /docs shows for the upload (the route reads the stream itself).
_UPLOAD_FORM = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary", "description": "An ONNX (.onnx), GGUF (.gguf) or torch program (.pt2 from torch.export.save, .pt from torch.jit.save) file"},
        "name": {"type": "string", "maxLength": MAX_NAME, "description": "A name to show (default: the file name)"},
        "zkml": {"type": "boolean", "default": False, "description": "Set up a ZKML circuit (in the background)"},
    }}}}}}  # fmt: skip


@router.post("", status_code=201, openapi_extra=_UPLOAD_FORM)
async def upload_model(request: Request, node: NodeDep) -> dict[str, Any]:
    """Streams the file to the models directory (never held in memory), with the size cap
    checked as it arrives; a partial file is removed on any failure."""
    cap = catalog.MAX_MODEL_BYTES  # read at call time: tests lower it
    with node.catalog.incoming() as (tmp, f):
        try:
            upload = await receive_file(request, f, cap)
        except UploadError as e:
            # The rest of the body is not read: close, rather than take it all to discard it.
            raise HTTPException(e.status, detail=e.detail, headers={"Connection": "close"}) from None
        f.close()
        if upload.size == 0:
            raise HTTPException(422, detail="the uploaded file is empty")
        name = upload.fields.get("name") or display_name(upload.filename or "")
        if len(name) > MAX_NAME:
            raise HTTPException(422, detail=f"name: at most {MAX_NAME} characters")
        zkml = upload.fields.get("zkml", "false").strip().lower()
        if zkml not in _BOOLEANS:
            raise HTTPException(422, detail=f"zkml: expected true or false, got {zkml[:20]!r}")
        try:
            return await run_in_threadpool(node.catalog.add_upload, tmp, name, _BOOLEANS[zkml])
        except ModelError as e:
            raise HTTPException(422, detail=str(e)) from e


_BOOLEANS = {"true": True, "1": True, "on": True, "yes": True, "false": False, "0": False, "off": False, "no": False, "": False}
