"""LLM gateways follow their node's fault as set at run time (og_setNodeFault, as
`og-devnet nodes` sets it): down answers 503, slow answers late, byzantine signs an output
other than the one it sends, so the SDK's tee_verify refuses it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import result
from og_devnet import Devnet
from og_devnet.llm import streaming
from test_llm_gateway import pinned_client, sdk_canonical, verify

PAYLOAD = {"model": "gpt-5", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 12, "temperature": 0.0}


@pytest.fixture(scope="module")
def node() -> Iterator[Devnet]:
    with Devnet(zkml=False, nodes=2, llm_free=True) as n:
        yield n


@pytest.fixture(autouse=True)
def healthy_after(node: Devnet) -> Iterator[None]:
    yield
    for i in range(len(node.nodes)):
        result(node, "og_setNodeFault", [i, "ok"])


def post(node: Devnet, i: int, payload: dict[str, Any], path: str = "/v1/chat/completions") -> httpx.Response:
    gateway = node.gateways[i]
    with pinned_client(gateway.identity.certificate_der) as client:
        return client.post(gateway.endpoint + path, json=payload)


def test_a_down_node_gateway_answers_503(node: Devnet) -> None:
    result(node, "og_setNodeFault", [0, "down"])
    completion = {"model": "gpt-5", "prompt": "The devnet", "max_tokens": 4}
    for r in (post(node, 0, PAYLOAD), post(node, 0, {**PAYLOAD, "stream": True}), post(node, 0, completion, "/v1/completions")):
        assert r.status_code == 503 and r.json()["error"]["code"] == "tee_unavailable" and r.json()["error"]["type"] == "server_error"
    assert post(node, 1, PAYLOAD).status_code == 200  # the other node's gateway
    result(node, "og_setNodeFault", [0, "ok"])
    assert post(node, 0, PAYLOAD).status_code == 200


def test_a_byzantine_gateway_fails_tee_verify(node: Devnet) -> None:
    from opengradient.client.tee_verify import (
        VerificationError,
        response_content_for_hash,
    )

    result(node, "og_setNodeFault", [1, "byzantine"])
    honest, byzantine = post(node, 0, PAYLOAD).json(), post(node, 1, PAYLOAD).json()
    content = honest["choices"][0]["message"]["content"]
    assert byzantine["choices"][0]["message"]["content"] == content  # the real text, ...
    verify(node, node.gateways[0].identity.tee_id, sdk_canonical(PAYLOAD), honest, content)
    with pytest.raises(VerificationError, match="output hash mismatch"):  # ... signed as another
        verify(node, node.gateways[1].identity.tee_id, sdk_canonical(PAYLOAD), byzantine, content)
    # Streams and tool calls too.
    lines = [line for line in post(node, 1, {**PAYLOAD, "stream": True}).text.split("\n") if line.startswith("data: {")]
    final = json.loads(lines[-1][6:])
    streamed = "".join(json.loads(line[6:])["choices"][0]["delta"].get("content") or "" for line in lines)
    assert streamed == content
    with pytest.raises(VerificationError, match="output hash mismatch"):
        verify(node, node.gateways[1].identity.tee_id, sdk_canonical(PAYLOAD), final, streamed)
    tools = {**PAYLOAD, "max_tokens": 100, "tool_choice": "required",
             "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]}  # fmt: skip
    body = post(node, 1, tools).json()
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    with pytest.raises(VerificationError, match="output hash mismatch"):
        verify(node, node.gateways[1].identity.tee_id, sdk_canonical(tools), body, response_content_for_hash(body))
    # Healthy again: its answers verify.
    result(node, "og_setNodeFault", [1, "ok"])
    verify(node, node.gateways[1].identity.tee_id, sdk_canonical(PAYLOAD), post(node, 1, PAYLOAD).json(), content)


def test_a_slow_node_gateway_answers_late(node: Devnet, monkeypatch: pytest.MonkeyPatch) -> None:
    delays: list[float] = []

    async def record(seconds: float) -> None:  # the delays asked for, not waited
        delays.append(seconds)

    monkeypatch.setattr(streaming, "pause", record)
    plain = post(node, 0, PAYLOAD).json()["choices"][0]["message"]["content"]
    assert delays == []
    result(node, "og_setNodeFault", [0, "slow:20"])
    delays.clear()
    assert post(node, 0, PAYLOAD).json()["choices"][0]["message"]["content"] == plain
    # As a slow node's: 5 ms × FACTOR, then (FACTOR - 1)× the time each piece took.
    assert delays[0] == pytest.approx(0.1) and len(delays) > 2 and all(d > 0 for d in delays)
    delays.clear()
    lines = [line for line in post(node, 0, {**PAYLOAD, "stream": True}).text.split("\n") if line.startswith("data: {")]
    assert "".join(json.loads(line[6:])["choices"][0]["delta"].get("content") or "" for line in lines) == plain
    assert delays[0] == pytest.approx(0.1) and len(delays) > 2 and all(d > 0 for d in delays)
    delays.clear()
    assert post(node, 1, PAYLOAD).json()["choices"][0]["message"]["content"] == plain and delays == []
