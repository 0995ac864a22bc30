"""LLM gateway streams: SSE deltas sent as llama.cpp generates them, adding up to exactly the
plain answer (multibyte characters and stop sequences included), and a client that leaves
mid-stream stops the generation and frees the shared runtime."""

from __future__ import annotations

import json
import threading
from collections.abc import Generator, Iterator
from typing import Any

import httpx
import pytest
from og_devnet import Devnet
from og_devnet.inference.runtimes import Generation, LlamaRuntime
from og_devnet.llm import models
from test_llm_gateway import pinned_client, sdk_canonical, verify

URL = "/v1/chat/completions"


@pytest.fixture(scope="module")
def node() -> Iterator[Devnet]:
    with Devnet(zkml=False, nodes=1, llm_free=True) as n:
        yield n


@pytest.fixture
def client(node: Devnet) -> Iterator[httpx.Client]:
    with pinned_client(node.gateways[0].identity.certificate_der) as c:
        yield c


def runtime(node: Devnet) -> LlamaRuntime:
    served = models.resolve(node.catalog, "gpt-5")
    assert served is not None
    return served.runtime


def chat(node: Devnet, client: httpx.Client, payload: dict[str, Any]) -> dict[str, Any]:
    r = client.post(node.gateways[0].endpoint + URL, json=payload)
    assert r.status_code == 200, r.text
    return r.json()


def events(node: Devnet, client: httpx.Client, payload: dict[str, Any]) -> list[dict[str, Any]]:
    r = client.post(node.gateways[0].endpoint + URL, json={**payload, "stream": True})
    assert r.status_code == 200, r.text
    lines = [line for line in r.text.split("\n") if line]
    assert all(line.startswith("data: ") for line in lines) and lines[-1] == "data: [DONE]"
    return [json.loads(line[6:]) for line in lines[:-1]]


def streamed_text(evs: list[dict[str, Any]]) -> str:
    return "".join(e["choices"][0]["delta"].get("content") or "" for e in evs)


def test_deltas_add_up_to_the_plain_answer(node: Devnet, client: httpx.Client) -> None:
    gateway = node.gateways[0]
    # The random fixture model writes odd UTF-8: "Hello" gets characters of 2 and 3 bytes,
    # often split across tokens.
    base = {"model": "gpt-5", "messages": [{"role": "user", "content": "Hello"}], "temperature": 0.0}
    plain = chat(node, client, {**base, "max_tokens": 40})["choices"][0]["message"]["content"]
    wide = next(i for i, c in enumerate(plain) if len(c.encode()) > 1)
    # The same text as llama-cpp-python's own answer, which decodes all the bytes at once: the
    # characters split across tokens (this model has no multibyte token) are kept.
    own = runtime(node).create("chat", base["messages"], max_tokens=40, temperature=0.0)
    assert own["usage"]["completion_tokens"] == 40 and own["choices"][0]["message"]["content"] == plain
    cases = [
        {**base, "max_tokens": 40},
        {**base, "max_tokens": 1},
        {**base, "max_tokens": 40, "stop": [plain[wide - 1 : wide + 2]]},  # a stop sequence with a multibyte character
        {**base, "max_tokens": 40, "stop": ["zzz", plain[5:7], plain[3:9]]},  # the earliest one wins
        {**base, "max_tokens": 40, "stop": plain[-1] + "never"},  # begun at the end, never completed
        {"model": "gpt-5", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Proofs?"}],
         "max_tokens": 60, "temperature": 0.7},
    ]  # fmt: skip
    for payload in cases:
        body = chat(node, client, payload)
        evs = events(node, client, payload)
        text, final = streamed_text(evs), evs[-1]
        assert text == body["choices"][0]["message"]["content"], payload
        assert final["choices"][0]["finish_reason"] == body["choices"][0]["finish_reason"] and final["usage"] == body["usage"]
        assert [e["choices"][0]["finish_reason"] for e in evs].count(None) == len(evs) - 1 and final["choices"][0]["delta"] == {}
        for stop in [payload["stop"]] if isinstance(payload.get("stop"), str) else payload.get("stop", []):
            assert stop not in text
        verify(node, gateway.identity.tee_id, sdk_canonical(payload), final, text)
    cut = chat(node, client, cases[2])["choices"][0]
    assert cut["finish_reason"] == "stop" and cut["message"]["content"] == plain[: wide - 1]


def gate_after_first_piece(monkeypatch: pytest.MonkeyPatch, rt: LlamaRuntime,
                           until: Any) -> tuple[list[Generation], threading.Event]:  # fmt: skip
    """Makes the runtime's generations pause after their first piece until `until(cancel)`
    returns. The Generations they end with go in the list; the event is set after each."""
    original, ended, done = rt.generate, [], threading.Event()

    def gated(*args: Any, cancel: threading.Event, **kw: Any) -> Generator[str, None, Generation]:
        pieces = original(*args, cancel=cancel, **kw)
        yield next(pieces)
        until(cancel)
        result = yield from pieces  # ends once the runtime is released
        ended.append(result)
        done.set()
        return result

    monkeypatch.setattr(rt, "generate", gated)
    return ended, done


def test_the_first_delta_comes_while_the_model_is_still_generating(node: Devnet, client: httpx.Client,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    rt, go = runtime(node), threading.Event()
    payload = {"model": "gpt-5", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 40, "temperature": 0.0}
    plain = chat(node, client, payload)["choices"][0]["message"]["content"]
    ended, _ = gate_after_first_piece(monkeypatch, rt, lambda cancel: go.wait(30))
    with client.stream("POST", node.gateways[0].endpoint + URL, json={**payload, "stream": True}) as r:
        lines = (line for line in r.iter_lines() if line)
        first = json.loads(next(lines)[6:])
        # The generation is paused after its first piece, holding the runtime: the delta was
        # sent before the answer was finished.
        assert first["choices"][0]["delta"]["content"] and rt._lock.locked() and not ended
        go.set()
        rest = [json.loads(line[6:]) for line in lines if line != "data: [DONE]"]
    assert streamed_text([first, *rest]) == plain and ended[0].text == plain


def test_a_client_leaving_mid_stream_stops_the_generation(node: Devnet, client: httpx.Client,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    rt = runtime(node)
    payload = {"model": "gpt-5", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 300,
               "temperature": 0.0, "stream": True}  # fmt: skip
    left = threading.Event()
    # Paused until the gateway cancels it: the generation cannot finish before the client leaves.
    ended, done = gate_after_first_piece(monkeypatch, rt, lambda cancel: left.set() or cancel.wait(30))
    with pinned_client(node.gateways[0].identity.certificate_der) as leaving, \
            leaving.stream("POST", node.gateways[0].endpoint + URL, json=payload) as r:  # fmt: skip
        assert next(line for line in r.iter_lines() if line).startswith("data: ")
    # The gateway noticed the disconnect, and the worker stopped at its next token and let go
    # of the runtime.
    assert left.wait(30) and done.wait(30) and not rt._lock.locked()
    monkeypatch.undo()
    assert ended[0].finish_reason == "cancelled" and ended[0].usage["completion_tokens"] < 300
    # The gateway and the runtime keep serving.
    assert chat(node, client, {**payload, "stream": False, "max_tokens": 4})["usage"]["completion_tokens"] > 0


def test_a_stream_the_model_refuses_is_an_http_error(node: Devnet, client: httpx.Client) -> None:
    r = client.post(node.gateways[0].endpoint + URL, json={"model": "gpt-5", "messages": [{"role": "user", "content": "x"}],
                                                           "max_tokens": 100000, "stream": True})  # fmt: skip
    assert r.status_code == 400 and r.json()["error"]["code"] == "context_length_exceeded"
