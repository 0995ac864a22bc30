"""The OpenAI-compatible routes of one gateway: POST /v1/chat/completions (plain or SSE),
POST /v1/completions, GET /v1/models. Errors are OpenAI-style {"error": {message, type,
param, code}}.

Each route goes: the request parsed (`chat_job` / `completion_job`), the model started
(`generate`), the answer sent (a JSON body, or SSE deltas as the model writes them) and signed
over exactly the text sent. Plain and streamed answers come from the same generation code
(`LlamaRuntime.generate`), so a stream's deltas add up to the plain answer's text.

The gateway honours its node's fault as it is now (og_setNodeFault, `og-devnet nodes`):
down answers 503, slow answers FACTOR× as late, byzantine signs an output it did not send.

Paid gateways (the default; og_devnet.llm.payment) take the x402 payment once the request is
parsed (a bad request is a 400 that costs nothing; an unpaid one a 402) and settle it once the
answer is made, before it is sent: a plain answer goes out only paid, and a stream's final,
signed event only after its payment is in a block."""

from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from og_devnet.api.security import host_name, is_loopback
from og_devnet.inference.runtimes import BadInputError, Generation, InferenceError
from og_devnet.llm import models, tools
from og_devnet.llm.payment import PaymentRefused, Permit, Settled
from og_devnet.llm.signing import (
    BadRequest,
    canonical_chat,
    canonical_completion,
    proof,
    request_hash,
)
from og_devnet.llm.streaming import DONE, Generating, event

if TYPE_CHECKING:
    from og_devnet.inference.nodes import Fault
    from og_devnet.llm.gateway import LlmGateway

log = logging.getLogger("og_devnet.llm")

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


@dataclass
class Job:
    """A parsed request: what the model is asked, and what the signature covers."""

    served: models.Served
    kind: str  # "chat" or "completion"
    request: Any  # the chat template's messages, or the prompt
    args: dict[str, Any]  # LlamaRuntime.generate's max_tokens, temperature, stop, response_format
    canonical: dict[str, Any]  # the request as its signed hash covers it (signing.py)
    tools: tools.Tools | None = None  # set: the answer is a JSON tool call (or {"content"} under "auto")
    stream: bool = False


@dataclass
class Answer:
    content: str | None
    finish_reason: str
    usage: dict[str, int]
    tool_calls: list[dict[str, Any]] | None = field(default=None)

    @property
    def signed_output(self) -> str:
        """What tee_verify hashes: the tool calls' JSON, or the text."""
        return tools.signed_output(self.tool_calls) if self.tool_calls else self.content or ""

    def message(self) -> dict[str, Any]:
        return {"role": "assistant", "content": self.content, **({"tool_calls": self.tool_calls} if self.tool_calls else {})}


def admit(gateway: LlmGateway) -> Fault | None:
    """The gateway's node's fault, now. A down node (or a flaky one, at its odds) answers 503:
    og.LLM 1.1.4 retries a stream once on another TEE for it, but not a plain chat or
    completion (an HTTP status is final there; it raises "TEE LLM chat failed: HTTP 503")."""
    fault = gateway.fault()
    if fault is not None and (fault.kind == "down" or (fault.kind == "flaky" and gateway.rng.random() < fault.p)):
        raise ApiError(503, f"this TEE is unavailable (node {gateway.node_index} is {fault}); try another one",
                       "server_error", "tee_unavailable")  # fmt: skip
    return fault


def serve(gateway: LlmGateway, body: dict[str, Any]) -> models.Served:
    name = body.get("model")
    if not isinstance(name, str) or not name:
        raise BadRequest("'model' must be a non-empty string", "model", "missing_model")
    try:
        served = models.resolve(gateway.catalog, name, gateway.model_choices)
    except models.NoModel as e:
        raise ApiError(503, str(e), "server_error", "model_unavailable") from None
    if served is None:
        raise ApiError(404, f"The model '{name[:100]}' does not exist on this devnet (GET /v1/models lists them)",
                       code="model_not_found", param="model")  # fmt: skip
    return served


def chat_job(gateway: LlmGateway, body: dict[str, Any]) -> Job:
    served, args, canonical = serve(gateway, body), sampling(body), canonical_chat(body)
    plan = tools.parse(body)
    messages = models.llama_messages(canonical["messages"])
    if plan is None:
        args["response_format"] = models.llama_response_format(body.get("response_format"))
    else:  # the tools' grammar holds the answer; a stop sequence would only cut its JSON short
        messages = tools.with_system_prompt(messages, plan.system_prompt())
        args.update(stop=None, response_format=None)
    return Job(served, "chat", messages, args, canonical, plan, stream=body.get("stream") is True)


def completion_job(gateway: LlmGateway, body: dict[str, Any]) -> Job:
    served = serve(gateway, body)
    if not isinstance(body.get("prompt"), str):
        raise BadRequest("'prompt' must be a string", "prompt", "missing_prompt")
    if body.get("stream"):
        raise BadRequest("streaming completions are not supported; use /v1/chat/completions", "stream")
    return Job(served, "completion", body["prompt"], sampling(body), canonical_completion(body))


async def generate(job: Job, fault: Fault | None) -> Generating:
    """The model started on `job` in a worker thread; raises (as an OpenAI-style error) what
    the model refuses before any of the answer is sent."""
    runtime = job.served.runtime

    def make(cancel: threading.Event) -> Generator[str, None, Generation]:  # in the worker thread
        grammar = None
        if job.tools is not None:
            try:
                grammar = runtime.grammar(job.tools.output_schema())
            except ValueError as e:
                raise BadRequest(f"tools: {e}", "tools", "invalid_tools") from None
        return runtime.generate(job.kind, job.request, grammar=grammar, cancel=cancel, **job.args)

    slow = fault.factor if fault is not None and fault.kind == "slow" else 1.0
    try:
        return await Generating(make, slow).start()
    except (ApiError, BadRequest):
        raise
    except BadInputError as e:
        raise ApiError(400, str(e), code="context_length_exceeded") from None
    except InferenceError as e:
        raise ApiError(500, str(e), "server_error") from None
    except Exception as e:  # llama.cpp's template errors: still an OpenAI-style body
        raise ApiError(500, f"the model could not answer: {type(e).__name__}: {e}"[:500], "server_error") from None


def answer(job: Job, g: Generation) -> Answer:
    if job.tools is None:
        return Answer(g.text, g.finish_reason, g.usage)
    content, calls = tools.read(g.text, request_hash(job.canonical))
    if calls:
        return Answer(None, "tool_calls", g.usage, calls)
    # A text answer under "auto"; or JSON cut short by max_tokens, sent as it is (finish "length").
    return Answer(g.text if content is None else content, g.finish_reason, g.usage)


def sign(gateway: LlmGateway, job: Job, found: Answer, fault: Fault | None) -> dict[str, Any]:
    """The tee_* fields. A byzantine node signs an output other than the one it sends, so
    tee_verify.verify_response fails on its answers (an output hash mismatch)."""
    output = found.signed_output + (" (byzantine)" if fault is not None and fault.kind == "byzantine" else "")
    return proof(gateway.identity.signing_key, gateway.identity.tee_id, job.canonical, output)


async def take_payment(gateway: LlmGateway, request: Request) -> Permit | None:
    """The request's x402 payment, verified and reserved (None on a free gateway); a
    PaymentRefused (→ 402) when there is none or it does not verify."""
    if gateway.payments is None:
        return None
    return await run_in_threadpool(gateway.payments.authorize, request.headers.get("payment-signature"))


async def settle(gateway: LlmGateway, permit: Permit | None, found: Answer) -> Settled | None:
    """Charges what the answer cost, on chain; blocks (off the event loop) until mined."""
    if permit is None or gateway.payments is None:
        return None
    return await run_in_threadpool(gateway.payments.settle, permit, found.usage)


def release(gateway: LlmGateway, permit: Permit | None) -> None:
    if permit is not None and gateway.payments is not None:
        gateway.payments.release(permit)


def paid_headers(settled: Settled | None) -> dict[str, str]:
    return {} if settled is None else {"PAYMENT-RESPONSE": settled.header}


#: X-SETTLEMENT-TYPE as og.LLM sends it (x402SettlementMode: "batch", "private"), with the
#: og-x402 middleware's other names and its misspellings.
SETTLEMENT_TYPES = {"batch": "batch", "batch-hashed": "batch", "private": "private", "pivate": "private",
                    "individual": "individual", "inidvidual": "individual"}  # fmt: skip


def settlement_type(request: Request) -> str:
    given = request.headers.get("x-settlement-type", "batch").strip().lower()
    if given not in SETTLEMENT_TYPES:
        raise BadRequest(f"X-SETTLEMENT-TYPE must be batch, individual or private, not {given[:40]!r}",
                         "X-SETTLEMENT-TYPE", "invalid_settlement_type")  # fmt: skip
    return SETTLEMENT_TYPES[given]


@dataclass
class Recorded:
    """The answer's inference record on chain: its id, and the transaction that settles it
    (None for private answers: payment only)."""

    id: str
    settlement_tx: str | None

    def headers(self) -> dict[str, str]:
        return {"X-OG-Inference-Id": self.id, **({"X-Settlement-Tx-Hash": self.settlement_tx} if self.settlement_tx else {})}

    def fields(self) -> dict[str, Any]:
        """For a stream's final event (its headers went out before the answer was made)."""
        return {"og_inference_id": self.id, **({"data_settlement_transaction_hash": self.settlement_tx} if self.settlement_tx else {})}


async def record(gateway: LlmGateway, job: Job, found: Answer, tee: dict[str, Any], kind: str, t_request_ms: int,
                 settled: Settled | None) -> Recorded | None:  # fmt: skip
    """Hands the signed answer to the chain, which settles its hashes in a batch (the full
    node checks the signature, and that it signs the answer delivered). None if the chain
    refuses it: the answer is already made and paid, so it still goes out (logged)."""
    if gateway.submit_record is None:
        return None
    output = found.message() if job.kind == "chat" else {"completion": found.content or ""}
    submission = {
        "tee_id": tee["tee_id"], "request_hash": tee["tee_request_hash"], "output_hash": tee["tee_output_hash"],
        "timestamp": int(tee["tee_timestamp"]), "signature": "0x" + base64.b64decode(tee["tee_signature"]).hex(),
        "settlement_type": kind, "model_id": str(job.served.model["id"]), "kind": job.kind, "input": job.canonical,
        "output": output, "delivered": found.signed_output, "t_request_ms": t_request_ms, "t_result_ms": now_ms(),
        "node": gateway.owner, "node_index": gateway.node_index,
        "payment": None if settled is None else {"payer": settled.payer, "amount": str(settled.amount), "tx_hash": settled.tx_hash},
    }  # fmt: skip
    try:
        record_id, tx = await run_in_threadpool(gateway.submit_record, json.dumps(submission))
    except Exception as e:
        log.warning("LLM gateway %d: the chain refused an answer's record: %s", gateway.index, e)
        return None
    return Recorded(record_id, tx)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def headers(served: models.Served) -> dict[str, str]:
    # The id only: a header is Latin-1, and a model's name comes from its file name.
    return {"X-OG-Devnet-Model": str(served.model["id"])}


async def begin(gateway: LlmGateway, request: Request,
                parse: Callable[[LlmGateway, dict[str, Any]], Job]) -> tuple[int, Fault | None, Job, str, Permit | None]:  # fmt: skip
    """A request's first steps, in order: the node's fault (503 if down), the request parsed
    (400s cost nothing), its settlement type, then its payment (402 if unpaid). Returns when
    it came, the fault, the job, the settlement type and the reserved permit."""
    t_request = now_ms()
    fault = admit(gateway)
    job = parse(gateway, await read_json(request))
    kind = settlement_type(request)
    return t_request, fault, job, kind, await take_payment(gateway, request)


def create_app(gateway: LlmGateway) -> FastAPI:
    app = FastAPI(title=f"og-devnet LLM gateway {gateway.index}", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(LoopbackOnly)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, e: ApiError) -> JSONResponse:
        return error_response(e.status, str(e), e.kind, e.code, e.param)

    @app.exception_handler(BadRequest)
    async def bad_request(_: Request, e: BadRequest) -> JSONResponse:
        return error_response(400, str(e), "invalid_request_error", e.code, e.param)

    @app.exception_handler(PaymentRefused)
    async def payment_refused(request: Request, e: PaymentRefused) -> JSONResponse:
        assert gateway.payments is not None
        extra, _ = gateway.payments.payment_required(str(request.url), str(e))
        response = error_response(402, str(e), "payment_required", e.reason)
        response.headers.update(extra)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, e: StarletteHTTPException) -> JSONResponse:
        return error_response(e.status_code, str(e.detail), "invalid_request_error")

    @app.get("/v1/models")
    def list_models() -> dict[str, Any]:
        return {"object": "list", "data": models.listing(gateway.catalog)}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        t_request, fault, job, kind, permit = await begin(gateway, request, chat_job)
        try:
            generating = await generate(job, fault)  # the model started: its first piece is in
        except BaseException:
            release(gateway, permit)
            raise
        head = {"id": "chatcmpl-" + secrets.token_hex(12), "created": int(time.time()), "model": job.served.name}
        if job.stream:  # answered as the model writes
            ledger = Ledger(kind, t_request, permit)
            return StreamingResponse(sse(gateway, job, generating, fault, head, ledger), media_type="text/event-stream",
                                     headers={**headers(job.served), "Cache-Control": "no-cache"})  # fmt: skip
        try:
            found = answer(job, await generating.finish())  # answered once the model is done
            settled = await settle(gateway, permit, found)  # and paid for
        finally:
            release(gateway, permit)
        tee = sign(gateway, job, found, fault)
        recorded = await record(gateway, job, found, tee, kind, t_request, settled)
        out = {**head, "object": "chat.completion", "usage": found.usage, **tee,
               "choices": [{"index": 0, "message": found.message(), "finish_reason": found.finish_reason}]}  # fmt: skip
        return JSONResponse(out, headers={**headers(job.served), **paid_headers(settled), **(recorded.headers() if recorded else {})})

    @app.post("/v1/completions")
    async def completion(request: Request) -> Any:
        t_request, fault, job, kind, permit = await begin(gateway, request, completion_job)
        try:
            found = answer(job, await (await generate(job, fault)).finish())  # generated
            settled = await settle(gateway, permit, found)  # and paid for
        finally:
            release(gateway, permit)
        text = found.content or ""
        tee = sign(gateway, job, found, fault)
        recorded = await record(gateway, job, found, tee, kind, t_request, settled)
        out = {"id": "cmpl-" + secrets.token_hex(12), "object": "text_completion", "created": int(time.time()),
               "model": job.served.name, "completion": text, "usage": found.usage, **tee,
               "choices": [{"index": 0, "text": text, "finish_reason": found.finish_reason, "logprobs": None}]}  # fmt: skip
        return JSONResponse(out, headers={**headers(job.served), **paid_headers(settled), **(recorded.headers() if recorded else {})})

    return app


@dataclass
class Ledger:
    """What a stream settles once its answer is made: the settlement type, when it was asked,
    and its payment."""

    kind: str = "batch"
    t_request_ms: int = 0
    permit: Permit | None = None


async def sse(gateway: LlmGateway, job: Job, generating: Generating, fault: Fault | None,
              head: dict[str, Any], ledger: Ledger | None = None) -> AsyncIterator[bytes]:  # fmt: skip
    """Deltas as the model writes them, then ONE final event with finish_reason, usage and
    the tee_* fields (the SDK keeps only the last final event), then [DONE]. A tools answer
    is one JSON object, so it goes as one delta once whole (og.LLM does not stream tools)."""
    ledger = ledger or Ledger()
    try:
        role: dict[str, Any] = {"role": "assistant"}
        if job.tools is None:
            async for piece in generating:
                yield event(head, {**role, "content": piece})
                role = {}
            assert generating.result is not None
            found = answer(job, generating.result)
        else:
            found = answer(job, await generating.finish())
            calls = [{"index": i, **c} for i, c in enumerate(found.tool_calls or [])]
            yield event(head, {**role, "content": found.content, **({"tool_calls": calls} if calls else {})})
            role = {}
        if role:  # nothing written: still one delta with the role, as OpenAI sends
            yield event(head, {**role, "content": ""})
        try:
            # Paid before the final, signed event: a client gone mid-stream never gets here (the
            # generator is closed), so it pays nothing; a failed settlement ends with an error.
            settled = await settle(gateway, ledger.permit, found)
        except PaymentRefused as e:
            yield b"data: " + json.dumps({"error": {"message": str(e), "type": "payment_required", "code": e.reason}}).encode() + b"\n\n"
            return
        paid = {} if settled is None else {"x402_payment": {"transaction": settled.tx_hash, "amount": str(settled.amount)}}
        tee = sign(gateway, job, found, fault)
        recorded = await record(gateway, job, found, tee, ledger.kind, ledger.t_request_ms or now_ms(), settled)
        yield event(head, {}, found.finish_reason, usage=found.usage, **tee, **paid, **(recorded.fields() if recorded else {}))
        yield DONE
    finally:  # however the stream ends, the permit is not held
        release(gateway, ledger.permit)
