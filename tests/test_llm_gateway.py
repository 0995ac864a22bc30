"""The unmodified opengradient SDK (1.1.4) `og.LLM` against the devnet's LLM gateways: found in
the TEE registry (type 0), reached over HTTPS pinned to the registered certificate, answered
by the local GGUF model, with responses that pass the SDK's own `tee_verify`."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import DEV_KEYS
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_der_public_key
from og_devnet import Devnet
from og_devnet.llm.models import TEE_LLM_MODELS
from web3 import Web3

REGISTRY = "0x703cB174AEadB35D611858369B4b1111dC9Abda6"
MESSAGES = [{"role": "user", "content": "Say something about proofs."}]


@pytest.fixture(scope="module")
def node() -> Iterator[Devnet]:
    with Devnet(zkml=False, llm_free=True) as n:
        yield n


def registry(node: Devnet) -> Any:
    import opengradient

    abi = json.loads((Path(opengradient.__file__).parent / "abi" / "TEERegistry.abi").read_text())
    return Web3(Web3.HTTPProvider(node.rpc_url)).eth.contract(address=REGISTRY, abi=abi)


def registered(node: Devnet, tee_id: str) -> tuple[Any, ...]:
    """The getActiveTEEs(0) entry whose signing key hashes to `tee_id`."""
    entries = registry(node).functions.getActiveTEEs(0).call()
    return next(t for t in entries if Web3.keccak(t[3]).hex().removeprefix("0x") == tee_id.removeprefix("0x").lower())


def pinned_client(cert_der: bytes) -> httpx.Client:
    """As og.LLM connects: the registered certificate is the only trust anchor."""
    from opengradient.client.tee_registry import build_ssl_context_from_der

    return httpx.Client(verify=build_ssl_context_from_der(cert_der), timeout=60)


def with_llm(node: Devnet, work: Any) -> Any:
    import opengradient as og

    async def main() -> Any:
        llm = og.LLM(private_key=DEV_KEYS[0], rpc_url=node.rpc_url)
        try:
            return await work(llm, og)
        finally:
            await llm.close()

    return asyncio.run(main())


def verify(node: Devnet, tee_id: str, canonical: dict[str, Any], body: dict[str, Any], content: str) -> Any:
    from opengradient.client.tee_verify import pem_from_der, verify_response

    key = pem_from_der(registered(node, tee_id)[3])
    return verify_response(canonical_request=canonical, response_body=body, response_content=content,
                           signing_key_pem=key, expected_tee_id=tee_id)  # fmt: skip


def sdk_canonical(payload: dict[str, Any]) -> dict[str, Any]:
    from opengradient.client.tee_verify import build_inner_request

    return build_inner_request(payload)[1]


def test_registry_lists_only_the_gateways_as_llm_proxies(node: Devnet) -> None:
    reg = registry(node)
    active = reg.functions.getActiveTEEs(0).call()
    assert [t[2] for t in active] == [g.endpoint for g in node.gateways] and len(active) == len(node.nodes)
    for entry, gateway in zip(active, node.gateways, strict=True):
        owner, payment, endpoint, public_key, tls_cert, _pcr, tee_type, enabled, *_ = entry
        assert tee_type == 0 and enabled and payment == owner == node.nodes[gateway.index].address
        assert endpoint.startswith("https://127.0.0.1:") and not endpoint.endswith("/")
        assert isinstance(load_der_public_key(public_key), RSAPublicKey)
        assert "0x" + Web3.keccak(public_key).hex().removeprefix("0x") == gateway.identity.tee_id
        # Self-signed (a trust anchor), and what the server presents.
        cert = x509.load_der_x509_certificate(tls_cert)
        assert cert.issuer == cert.subject and "development only" in cert.subject.rfc4514_string()
        served = ssl.get_server_certificate(("127.0.0.1", gateway.port))
        assert ssl.PEM_cert_to_DER_cert(served) == tls_cert
        # Bound to loopback only.
        assert {s.getsockname()[0] for srv in gateway._server.servers for s in srv.sockets} == {"127.0.0.1"}  # type: ignore[union-attr]
    # The inference nodes' enclaves are validators (type 1), not LLM proxies.
    assert [t[0] for t in reg.functions.getActiveTEEs(1).call()] == node.chain.pipe().node_addresses()


def test_the_gateway_serves_every_tee_llm_name() -> None:
    import opengradient as og

    assert sorted(TEE_LLM_MODELS) == sorted(m.value for m in og.TEE_LLM)


def test_chat_is_deterministic_and_signed_as_tee_verify_checks(node: Devnet) -> None:
    from opengradient.client.tee_verify import VerificationError

    async def work(llm: Any, og: Any) -> Any:
        kw = {"model": og.TEE_LLM.GPT_5, "messages": MESSAGES, "temperature": 0, "max_tokens": 8}
        return await llm.chat(**kw), await llm.chat(**kw)

    first, second = with_llm(node, work)
    text = first.chat_output["content"]
    assert isinstance(text, str) and text and second.chat_output["content"] == text
    assert first.finish_reason in ("stop", "length") and first.usage["completion_tokens"] > 0
    assert first.tee_endpoint in [g.endpoint for g in node.gateways]
    # What og.LLM sent, hashed as tee_verify does; the signature and time og.LLM got back.
    canonical = sdk_canonical({"model": "gpt-5", "messages": MESSAGES, "max_tokens": 8, "temperature": 0.0})
    from og_devnet._core import keccak256
    from opengradient.client.tee_verify import canonical_request_bytes

    body = {"tee_signature": first.tee_signature, "tee_timestamp": first.tee_timestamp, "tee_id": "0x" + first.tee_id,
            "tee_request_hash": keccak256(canonical_request_bytes(canonical)).hex(),
            "tee_output_hash": keccak256(text.encode()).hex()}  # fmt: skip
    proof = verify(node, first.tee_id, canonical, body, text)
    assert proof.timestamp == int(first.tee_timestamp)
    # A tampered output: caught by its hash, and by the signature when the hash is redone too.
    with pytest.raises(VerificationError, match="output hash mismatch"):
        verify(node, first.tee_id, canonical, body, text + "!")
    with pytest.raises(VerificationError, match="signature"):
        verify(node, first.tee_id, canonical, {**body, "tee_output_hash": keccak256((text + "!").encode()).hex()}, text + "!")
    with pytest.raises(VerificationError, match="signature"):
        verify(node, first.tee_id, {**canonical, "max_tokens": 9},
               {**body, "tee_request_hash": keccak256(canonical_request_bytes({**canonical, "max_tokens": 9})).hex()}, text)  # fmt: skip


def test_the_whole_body_verifies_over_the_pinned_connection(node: Devnet) -> None:
    from opengradient.client.tee_verify import (
        VerificationError,
        response_content_for_hash,
    )

    gateway = node.gateways[1]
    payload = {"model": "claude-haiku-4-5", "messages": [{"role": "system", "content": "Be brief."}, *MESSAGES],
               "max_tokens": 6, "temperature": 0.0, "stop": ["\n\n"], "tool_choice": "auto"}  # fmt: skip
    with pinned_client(gateway.identity.certificate_der) as client:
        r = client.post(gateway.endpoint + "/v1/chat/completions", json=payload,
                        headers={"Authorization": "Bearer 0x1234", "X-SETTLEMENT-TYPE": "batch"})  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["tee_id"] == gateway.identity.tee_id and body["model"] == "claude-haiku-4-5"
    assert r.headers["x-og-devnet-model"] == next(m["id"] for m in node.catalog.list() if m["name"] == "tiny-llama")
    content = response_content_for_hash(body)
    verify(node, gateway.identity.tee_id, sdk_canonical(payload), body, content)
    with pytest.raises(VerificationError):
        verify(node, gateway.identity.tee_id, sdk_canonical(payload), body, content + " (tampered)")
    forged = {**body, "choices": [{**body["choices"][0], "message": {"role": "assistant", "content": "forged"}}]}
    with pytest.raises(VerificationError):
        verify(node, gateway.identity.tee_id, sdk_canonical(payload), forged, response_content_for_hash(forged))
    # Another gateway's key does not verify it.
    with pytest.raises(VerificationError, match="tee_id mismatch"):
        verify(node, node.gateways[0].identity.tee_id, sdk_canonical(payload), body, content)


def test_stream_gives_the_same_text_and_a_signed_final_chunk(node: Devnet) -> None:
    async def work(llm: Any, og: Any) -> Any:
        kw = {"model": og.TEE_LLM.GEMINI_2_5_FLASH, "messages": MESSAGES, "temperature": 0, "max_tokens": 12}
        plain = await llm.chat(**kw)
        chunks = [c async for c in await llm.chat(**kw, stream=True)]
        return plain, chunks

    plain, chunks = with_llm(node, work)
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == plain.chat_output["content"] and len(chunks) >= 2
    final = chunks[-1]
    assert final.is_final and [c.is_final for c in chunks].count(True) == 1 and final.usage.total_tokens > 0
    assert final.choices[0].finish_reason == plain.finish_reason and final.tee_signature
    canonical = sdk_canonical({"model": "gemini-2.5-flash", "messages": MESSAGES, "max_tokens": 12, "temperature": 0.0})
    from og_devnet._core import keccak256
    from opengradient.client.tee_verify import canonical_request_bytes

    body = {"tee_signature": final.tee_signature, "tee_timestamp": final.tee_timestamp, "tee_id": final.tee_id,
            "tee_request_hash": keccak256(canonical_request_bytes(canonical)).hex(),
            "tee_output_hash": keccak256(streamed.encode()).hex()}  # fmt: skip
    verify(node, final.tee_id, canonical, body, streamed)


def test_raw_sse_lines(node: Devnet) -> None:
    gateway = node.gateways[0]
    payload = {"model": "gpt-5", "messages": MESSAGES, "max_tokens": 5, "temperature": 0.0, "stream": True}
    with pinned_client(gateway.identity.certificate_der) as client:
        r = client.post(gateway.endpoint + "/v1/chat/completions", json=payload)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    lines = [line for line in r.text.split("\n") if line]
    assert all(line.startswith("data: ") for line in lines) and lines[-1] == "data: [DONE]"
    events = [json.loads(line[6:]) for line in lines[:-1]]
    final = events[-1]
    assert final["choices"][0]["delta"] == {} and final["choices"][0]["finish_reason"] and final["usage"]
    assert all(e["choices"][0]["finish_reason"] is None and "usage" not in e for e in events[:-1])
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events)
    verify(node, gateway.identity.tee_id, sdk_canonical(payload), final, text)


def test_completion(node: Devnet) -> None:
    async def work(llm: Any, og: Any) -> Any:
        kw = {"model": og.TEE_LLM.GROK_4, "prompt": "The devnet", "max_tokens": 6, "temperature": 0}
        return await llm.completion(**kw), await llm.completion(**kw)

    first, second = with_llm(node, work)
    assert isinstance(first.completion_output, str) and first.completion_output == second.completion_output
    assert first.tee_signature and int(first.tee_timestamp) > 0
    gateway = node.gateways[2]
    payload = {"model": "grok-4", "prompt": "The devnet", "max_tokens": 6, "temperature": 0.0}
    with pinned_client(gateway.identity.certificate_der) as client:
        body = client.post(gateway.endpoint + "/v1/completions", json=payload).json()
    assert body["completion"] == first.completion_output == body["choices"][0]["text"]
    # The devnet's canonical completion request, hashed and signed as chat requests are.
    verify(node, gateway.identity.tee_id, {**payload}, body, body["completion"])


def test_errors_are_openai_style(node: Devnet) -> None:
    async def work(llm: Any, og: Any) -> Any:
        with pytest.raises(RuntimeError, match="404") as e:
            await llm.chat(model="openai/no-such-model", messages=MESSAGES, max_tokens=4)
        return str(e.value)

    assert "model_not_found" in with_llm(node, work)
    gateway = node.gateways[0]
    with pinned_client(gateway.identity.certificate_der) as client:
        post = lambda body, path="/v1/chat/completions", **kw: client.post(gateway.endpoint + path, content=body, **kw)
        cases = [
            (post(b'{"model": "gpt-5", "messages": ['), 400, "invalid_json"),
            (post(b'{"model": "gpt-5"}'), 400, "missing_messages"),
            (post(b'{"model": "gpt-5", "messages": []}'), 400, "missing_messages"),
            (post(json.dumps({"model": "nope", "messages": MESSAGES}).encode()), 404, "model_not_found"),
            (post(json.dumps({"model": "gpt-5", "messages": [{"role": "robot", "content": "x"}]}).encode()), 400, None),
            (post(json.dumps({"model": "gpt-5", "messages": MESSAGES, "temperature": "hot"}).encode()), 400, None),
            (post(json.dumps({"model": "gpt-5", "messages": MESSAGES, "max_tokens": 0}).encode()), 400, None),
            (post(json.dumps({"model": "gpt-5", "messages": MESSAGES, "max_tokens": 100000}).encode()), 400, "context_length_exceeded"),
            (post(json.dumps({"model": "gpt-5", "messages": MESSAGES, "tools": [{"type": "retrieval", "function": {"name": "f"}}]}).encode()), 400, "invalid_tools"),
            (post(json.dumps({"model": "gpt-5", "prompt": 3}).encode(), "/v1/completions"), 400, "missing_prompt"),
            (client.get(gateway.endpoint + "/v1/nothing"), 404, None),
            (post(json.dumps({"model": "gpt-5", "messages": MESSAGES}).encode(), headers={"origin": "http://evil.example"}), 403, None),
        ]  # fmt: skip
        for r, status, code in cases:
            assert r.status_code == status, (r.request.content[:80], r.text)
            error = r.json()["error"]
            assert error["message"] and error["type"] and (code is None or error["code"] == code), error
        models = client.get(gateway.endpoint + "/v1/models").json()
    names = {m["id"] for m in models["data"]}
    assert {m.split("/")[1] for m in TEE_LLM_MODELS} | {"tiny-llama"} <= names


def test_response_format_is_a_json_grammar(node: Devnet) -> None:
    gateway = node.gateways[0]
    payload = {"model": "gpt-5", "messages": MESSAGES, "max_tokens": 4, "temperature": 0.0,
               "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}}  # fmt: skip
    with pinned_client(gateway.identity.certificate_der) as client:
        body = client.post(gateway.endpoint + "/v1/chat/completions", json=payload).json()
    assert body["choices"][0]["message"]["content"].startswith("{")
    verify(node, gateway.identity.tee_id, sdk_canonical(payload), body, body["choices"][0]["message"]["content"])


def test_a_resumed_chain_keeps_its_gateways(tmp_path: Path) -> None:
    import opengradient as og

    def start() -> tuple[list[Any], list[Any]]:
        with Devnet(state=tmp_path, fixtures=False, zkml=False, nodes=1, llm_gateways=2, host="0.0.0.0") as n:
            bound = {s.getsockname()[0] for g in n.gateways for srv in g._server.servers for s in srv.sockets}  # type: ignore[union-attr]
            assert bound == {"127.0.0.1"}  # whatever --host says
            return [g.info() for g in n.gateways], registry(n).functions.getActiveTEEs(0).call()

    first, entries = start()
    again, entries_again = start()
    assert [g["tee_id"] for g in again] == [g["tee_id"] for g in first]
    assert [t[4] for t in entries_again] == [t[4] for t in entries]  # the same pinned certificates
    assert [g["endpoint"] for g in again] == [g["endpoint"] for g in first]  # the same ports, when free
    with Devnet(fixtures=False, zkml=False, nodes=1, llm_gateways=0) as n:
        assert registry(n).functions.getActiveTEEs(0).call() == []
        with pytest.raises(ValueError, match="No active LLM proxy TEE"):
            og.LLM(private_key=DEV_KEYS[0], rpc_url=n.rpc_url)


def test_llm_model_chooses_the_local_model_and_refuses_an_unknown_one() -> None:
    from og_devnet.node import NodeError

    with pytest.raises(NodeError, match=r"--llm-model gpt-5=no-such-model: no such language model is loaded"):
        with Devnet(zkml=False, nodes=1, llm_gateways=1, llm_free=True, llm_models={"gpt-5": "no-such-model"}):
            pass
    with Devnet(zkml=False, nodes=1, llm_gateways=1, llm_free=True, llm_models={"openai/gpt-5": "tiny-llama"}) as n:
        with httpx.Client(verify=False, timeout=60) as c:
            body = {"model": "gpt-5", "messages": MESSAGES, "max_tokens": 4}
            ok = c.post(n.gateways[0].endpoint + "/v1/chat/completions", json=body)
            tiny = next(m for m in n.catalog.list() if m["name"] == "tiny-llama")
            assert ok.status_code == 200 and ok.headers["x-og-devnet-model"] == tiny["id"]
