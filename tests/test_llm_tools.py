"""LLM gateway function calling: tools rendered into the prompt, the answer held by a llama.cpp
grammar to a call of an allowed tool whose arguments fit its JSON schema, signed as the SDK's
tee_verify checks a tool-call answer. (The fixture model is random: its arguments are
nonsense, but always well-formed. Its context is 512 tokens, so the tools here are small.)"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import DEV_KEYS
from og_devnet import Devnet
from test_llm_gateway import pinned_client, sdk_canonical, verify

URL = "/v1/chat/completions"
ADD = {"type": "function", "function": {"name": "add", "description": "Adds",
       "parameters": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                      "required": ["a", "b"]}}}  # fmt: skip
CITY = {"type": "function", "function": {"name": "city", "parameters": {
        "type": "object", "properties": {"n": {"type": "string", "maxLength": 8}, "u": {"enum": ["c", "f"]}},
        "required": ["n", "u"]}}}  # fmt: skip
TOOLS = [ADD, CITY]
ASK = [{"role": "user", "content": "Add 2 and 3"}]


@pytest.fixture(scope="module")
def node() -> Iterator[Devnet]:
    with Devnet(zkml=False, nodes=1, llm_free=True) as n:
        yield n


@pytest.fixture
def client(node: Devnet) -> Iterator[httpx.Client]:
    with pinned_client(node.gateways[0].identity.certificate_der) as c:
        yield c


def post(node: Devnet, client: httpx.Client, payload: dict[str, Any]) -> httpx.Response:
    return client.post(node.gateways[0].endpoint + URL, json=payload)


def fits(value: Any, schema: dict[str, Any]) -> bool:
    """Enough of JSON Schema for the tools here (jsonschema is not a dependency)."""
    if "enum" in schema:
        return value in schema["enum"]
    kind = schema.get("type")
    if kind == "integer":
        return type(value) is int
    if kind == "string":
        return isinstance(value, str) and len(value) <= schema.get("maxLength", len(value))
    if kind == "object":
        props = schema.get("properties", {})
        return (isinstance(value, dict) and set(schema.get("required", [])) <= set(value) <= set(props)
                and all(fits(v, props[k]) for k, v in value.items()))  # fmt: skip
    raise AssertionError(f"no check for {schema}")


def tool_call(node: Devnet, body: dict[str, Any], payload: dict[str, Any], allowed: list[dict[str, Any]]) -> dict[str, Any]:
    """The one call of an answer, checked: an allowed tool, fitting arguments, a valid signature."""
    from opengradient.client.tee_verify import response_content_for_hash

    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    [call] = choice["message"]["tool_calls"]
    assert call["id"].startswith("call_") and call["type"] == "function"
    tool = next(t["function"] for t in allowed if t["function"]["name"] == call["function"]["name"])
    assert fits(json.loads(call["function"]["arguments"]), tool["parameters"]), call
    verify(node, node.gateways[0].identity.tee_id, sdk_canonical(payload), body, response_content_for_hash(body))
    return call


def test_a_named_or_required_tool_is_called_with_fitting_arguments(node: Devnet, client: httpx.Client) -> None:
    for messages in (ASK, [{"role": "user", "content": "Weather?"}]):
        for choice, allowed in [("required", TOOLS), ({"type": "function", "function": {"name": "city"}}, [CITY]),
                                ({"type": "function", "function": {"name": "add"}}, [ADD])]:  # fmt: skip
            payload = {"model": "gpt-5", "messages": messages, "max_tokens": 100, "temperature": 0.0,
                       "tools": TOOLS, "tool_choice": choice}  # fmt: skip
            r = post(node, client, payload)
            assert r.status_code == 200, r.text
            call = tool_call(node, r.json(), payload, allowed)
            assert post(node, client, payload).json()["choices"][0]["message"]["tool_calls"] == [call]  # the same again
    # The signed output is the calls' JSON: other arguments do not verify.
    from opengradient.client.tee_verify import (
        VerificationError,
        response_content_for_hash,
    )

    body = r.json()
    body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = '{"a":1,"b":2}'
    with pytest.raises(VerificationError, match="output hash"):
        verify(node, node.gateways[0].identity.tee_id, sdk_canonical(payload), body, response_content_for_hash(body))


def test_auto_lets_the_model_choose_and_none_answers_in_text(node: Devnet, client: httpx.Client) -> None:
    from opengradient.client.tee_verify import response_content_for_hash

    for messages in (ASK, [{"role": "user", "content": "Hi"}]):
        payload = {"model": "gpt-5", "messages": messages, "max_tokens": 60, "temperature": 0.0, "tools": TOOLS}
        first, again = post(node, client, payload).json(), post(node, client, payload).json()
        assert first["choices"] == again["choices"]  # deterministic
        choice = first["choices"][0]
        if choice["finish_reason"] == "tool_calls":
            tool_call(node, first, payload, TOOLS)
        else:  # a text answer: {"content": …} under the grammar, sent as the text
            assert isinstance(choice["message"]["content"], str) and "tool_calls" not in choice["message"]
            assert not choice["message"]["content"].startswith('{"content"')
            verify(node, node.gateways[0].identity.tee_id, sdk_canonical(payload), first, response_content_for_hash(first))
    payload = {**payload, "tool_choice": "none", "max_tokens": 8}
    body = post(node, client, payload).json()
    assert body["choices"][0]["finish_reason"] in ("stop", "length") and isinstance(body["choices"][0]["message"]["content"], str)
    verify(node, node.gateways[0].identity.tee_id, sdk_canonical(payload), body, body["choices"][0]["message"]["content"])


def test_a_conversation_with_tool_results(node: Devnet, client: httpx.Client) -> None:
    from opengradient.client.tee_verify import response_content_for_hash

    call = {"id": "call_1", "type": "function", "function": {"name": "add", "arguments": '{"a":2,"b":3}'}}
    messages = [*ASK, {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "call_1", "content": "5"}]  # fmt: skip
    for tool_choice in ("required", "none"):
        payload = {"model": "gpt-5", "messages": messages, "max_tokens": 60, "temperature": 0.0, "tools": [ADD],
                   "tool_choice": tool_choice}  # fmt: skip
        r = post(node, client, payload)
        assert r.status_code == 200, r.text
        verify(node, node.gateways[0].identity.tee_id, sdk_canonical(payload), r.json(), response_content_for_hash(r.json()))


def test_a_streamed_tool_call_is_one_delta(node: Devnet, client: httpx.Client) -> None:
    payload = {"model": "gpt-5", "messages": ASK, "max_tokens": 100, "temperature": 0.0, "tools": TOOLS,
               "tool_choice": "required"}  # fmt: skip
    plain = post(node, client, payload).json()["choices"][0]["message"]["tool_calls"]
    r = post(node, client, {**payload, "stream": True})
    lines = [line for line in r.text.split("\n") if line]
    assert lines[-1] == "data: [DONE]"
    delta, final = (json.loads(line[6:]) for line in lines[:-1])
    assert delta["choices"][0]["delta"]["tool_calls"] == [{"index": 0, **plain[0]}]
    assert final["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "tool_calls"} and final["usage"]
    verify(node, node.gateways[0].identity.tee_id, sdk_canonical(payload), final, json.dumps(plain, sort_keys=True))


def test_the_sdk_gets_a_tool_call(node: Devnet) -> None:
    import opengradient as og

    async def main() -> Any:
        llm = og.LLM(private_key=DEV_KEYS[0], rpc_url=node.rpc_url)
        try:
            kw = {"model": og.TEE_LLM.GPT_5, "messages": ASK, "max_tokens": 100, "tools": TOOLS, "tool_choice": "required"}
            return await llm.chat(**kw), [c async for c in await llm.chat(**kw, stream=True)]
        finally:
            await llm.close()

    out, chunks = asyncio.run(main())
    assert out.finish_reason == "tool_calls" and out.chat_output["tool_calls"][0]["function"]["name"] in ("add", "city")
    assert chunks[-1].choices[0].finish_reason == "tool_calls" and out.tee_signature


def test_bad_tools_are_refused(node: Devnet, client: httpx.Client) -> None:
    def tool(**function: Any) -> dict[str, Any]:
        return {"type": "function", "function": {"name": "f", **function}}

    base = {"model": "gpt-5", "messages": ASK, "max_tokens": 20}
    cases = [
        ({"tools": [{"type": "retrieval"}]}, "tools[0]"),
        ({"tools": [{"type": "function", "function": {"description": "no name"}}]}, "tools[0].function.name"),
        ({"tools": [tool(name="has space")]}, "tools[0].function.name"),
        ({"tools": [ADD, tool(parameters=["a"])]}, "tools[1].function.parameters"),
        ({"tools": [tool(parameters={"type": "string"})]}, "tools[0].function.parameters"),
        ({"tools": [ADD, ADD]}, "tools"),
        ({"tools": {"add": ADD}}, "tools"),
        # Schemas llama.cpp cannot turn into a grammar, or whose grammar does not compile.
        ({"tools": [tool(parameters={"type": "object", "properties": {"a": {"type": "strin"}}})]}, "tools"),
        ({"tools": [tool(parameters={"type": "object", "properties": {"a": {"$ref": "#/nowhere"}}})]}, "tools"),
        ({"tools": [tool(parameters={"type": "object", "properties": {'a"b': {"type": "string"}}})]}, "tools"),
        ({"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
        ({"tools": TOOLS, "tool_choice": "always"}, "tool_choice"),
        ({"tools": TOOLS, "tool_choice": "required", "stream": True, "max_tokens": 100000}, None),
    ]  # fmt: skip
    for extra, param in cases:
        r = post(node, client, {**base, **extra})
        assert r.status_code == 400, (extra, r.text)
        error = r.json()["error"]
        assert error["type"] == "invalid_request_error" and error["message"] and error["param"] == param, (extra, error)
    # Still serving.
    r = post(node, client, {**base, "tools": [ADD], "tool_choice": "required", "max_tokens": 100})
    assert r.status_code == 200 and r.json()["choices"][0]["finish_reason"] == "tool_calls"
