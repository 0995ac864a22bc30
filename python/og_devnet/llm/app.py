"""The OpenAI-compatible routes of one gateway: POST /v1/chat/completions (plain or SSE),
POST /v1/completions, GET /v1/models. Errors are OpenAI-style {"error": {message, type,
param, code}}.

Streams are generated first and then sent: llama-cpp-python's own stream decodes each token
on its own and loses characters split across tokens, so its text can differ from the plain
answer's. Generating once keeps a stream's text exactly the plain answer's (and the signature
over it the same)."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from og_devnet.api.security import host_name, is_loopback
from og_devnet.inference.runtimes import BadInputError, InferenceError
from og_devnet.llm import models
from og_devnet.llm.signing import (
    BadRequest,
    canonical_chat,
    canonical_completion,
    proof,
)

if TYPE_CHECKING:
    from og_devnet.llm.gateway import LlmGateway

#: Request bodies over this are refused (413) before they are read in full.
MAX_BODY = 8 * 1024 * 1024


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None) -> None:  # fmt: skip
        super().__init__(message)
        self.status, self.kind, self.code, self.param = status, kind, code, param


def error_response(status: int, message: str, kind: str, code: str | None = None, param: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": code}}, status_code=status)


class LoopbackOnly:
    """Serves loopback Host names only, and no browser page (any Origin): a guard against DNS
    rebinding, as on the node's own port."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            name = host_name(headers.get("host", "127.0.0.1"))
            if name is None or not is_loopback(name) or "origin" in headers:
                why = "web pages" if "origin" in headers else f"the host name {headers.get('host', '')[:100]!r}"
                await error_response(403, f"this devnet LLM gateway does not serve {why}", "permission_error")(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def read_json(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise ApiError(413, f"request body over {MAX_BODY} bytes", code="request_too_large")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise ApiError(413, f"request body over {MAX_BODY} bytes", code="request_too_large")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise ApiError(400, f"the body is not valid JSON: {e}", code="invalid_json") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object", code="invalid_json")
    return body


def sampling(body: dict[str, Any]) -> dict[str, Any]:
    """max_tokens, temperature and stop, checked; as llama.cpp takes them."""
    max_tokens, temperature, stop = body.get("max_tokens"), body.get("temperature"), body.get("stop")
    if max_tokens is not None and (type(max_tokens) is not int or max_tokens < 1):
        raise BadRequest("max_tokens must be a positive integer", "max_tokens")
    if temperature is not None and (type(temperature) not in (int, float) or not 0 <= temperature <= 2):
        raise BadRequest("temperature must be a number from 0 to 2", "temperature")
    if isinstance(stop, str):
        stop = [stop]
    if stop is not None and (not isinstance(stop, list) or not all(isinstance(s, str) for s in stop)):
        raise BadRequest("stop must be a string or an array of strings", "stop")
    return {"max_tokens": max_tokens, "temperature": float(temperature or 0.0), "stop": [s for s in stop or [] if s] or None}


def create_app(gateway: LlmGateway) -> FastAPI:
    app = FastAPI(title=f"og-devnet LLM gateway {gateway.index}", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(LoopbackOnly)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, e: ApiError) -> JSONResponse:
        return error_response(e.status, str(e), e.kind, e.code, e.param)

    @app.exception_handler(BadRequest)
    async def bad_request(_: Request, e: BadRequest) -> JSONResponse:
        return error_response(400, str(e), "invalid_request_error", e.code, e.param)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, e: StarletteHTTPException) -> JSONResponse:
        return error_response(e.status_code, str(e.detail), "invalid_request_error")

    def serve(body: dict[str, Any]) -> models.Served:
        name = body.get("model")
        if not isinstance(name, str) or not name:
            raise BadRequest("'model' must be a non-empty string", "model", "missing_model")
        try:
            served = models.resolve(gateway.catalog, name)
        except models.NoModel as e:
            raise ApiError(503, str(e), "server_error", "model_unavailable") from None
        if served is None:
            raise ApiError(404, f"The model '{name[:100]}' does not exist on this devnet (GET /v1/models lists them)",
                           code="model_not_found", param="model")  # fmt: skip
        return served

    async def generate(served: models.Served, kind: str, request: Any, args: dict[str, Any]) -> dict[str, Any]:
        fits = {"kind": kind, "max_tokens": args["max_tokens"] or 0, "prompt" if kind == "completion" else "messages": request}

        def run() -> dict[str, Any]:
            served.runtime.check_fits(fits)
            return served.runtime.create(kind, request, **{k: v for k, v in args.items() if v is not None or k == "max_tokens"})

        try:
            return await run_in_threadpool(run)
        except BadInputError as e:
            raise ApiError(400, str(e), code="context_length_exceeded") from None
        except InferenceError as e:
            raise ApiError(500, str(e), "server_error") from None
        except Exception as e:  # llama.cpp's template or grammar errors: still an OpenAI-style body
            raise ApiError(500, f"the model could not answer: {type(e).__name__}: {e}"[:500], "server_error") from None

    def headers(served: models.Served) -> dict[str, str]:
        # The id only: a header is Latin-1, and a model's name comes from its file name.
        return {"X-OG-Devnet-Model": str(served.model["id"])}

    @app.get("/v1/models")
    def list_models() -> dict[str, Any]:
        return {"object": "list", "data": models.listing(gateway.catalog)}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = await read_json(request)
        served = serve(body)
        args = sampling(body)
        canonical = canonical_chat(body)
        if body.get("tools"):
            raise BadRequest("tools are not supported: the devnet's local model has no tool-calling chat template",
                             "tools", "tools_not_supported")  # fmt: skip
        args["response_format"] = models.llama_response_format(body.get("response_format"))
        r = await generate(served, "chat", models.llama_messages(canonical["messages"]), args)
        choice = r["choices"][0]
        text, finish = choice["message"].get("content") or "", choice.get("finish_reason") or "stop"
        tee = proof(gateway.identity.signing_key, gateway.identity.tee_id, canonical, text)
        head = {"id": "chatcmpl-" + secrets.token_hex(12), "created": int(time.time()), "model": served.name}
        if body.get("stream") is True:
            return StreamingResponse(sse(head, text, finish, r["usage"], tee), media_type="text/event-stream",
                                     headers={**headers(served), "Cache-Control": "no-cache"})  # fmt: skip
        out = {**head, "object": "chat.completion", "usage": r["usage"], **tee,
               "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}]}  # fmt: skip
        return JSONResponse(out, headers=headers(served))

    @app.post("/v1/completions")
    async def completion(request: Request) -> Any:
        body = await read_json(request)
        served = serve(body)
        if not isinstance(body.get("prompt"), str):
            raise BadRequest("'prompt' must be a string", "prompt", "missing_prompt")
        if body.get("stream"):
            raise BadRequest("streaming completions are not supported; use /v1/chat/completions", "stream")
        args = sampling(body)
        r = await generate(served, "completion", body["prompt"], args)
        choice = r["choices"][0]
        text, finish = choice.get("text") or "", choice.get("finish_reason") or "stop"
        tee = proof(gateway.identity.signing_key, gateway.identity.tee_id, canonical_completion(body), text)
        out = {"id": "cmpl-" + secrets.token_hex(12), "object": "text_completion", "created": int(time.time()),
               "model": served.name, "completion": text, "usage": r["usage"], **tee,
               "choices": [{"index": 0, "text": text, "finish_reason": finish, "logprobs": None}]}  # fmt: skip
        return JSONResponse(out, headers=headers(served))

    return app


async def sse(head: dict[str, Any], text: str, finish: str, usage: dict[str, Any], tee: dict[str, Any]) -> AsyncIterator[bytes]:
    """Deltas word by word, then ONE final event with finish_reason, usage and the tee_*
    fields (the SDK keeps only the last final event), then [DONE]."""

    def event(delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> bytes:
        chunk = {**head, "object": "chat.completion.chunk",
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}], **extra}  # fmt: skip
        return b"data: " + json.dumps(chunk).encode() + b"\n\n"

    for i, piece in enumerate(models.deltas(text)):
        yield event({"role": "assistant", "content": piece} if i == 0 else {"content": piece})
    yield event({}, finish, usage=usage, **tee)
    yield b"data: [DONE]\n\n"
