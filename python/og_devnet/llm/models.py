"""Which local model answers a gateway request, and how it is asked.

Every name `og.TEE_LLM` (SDK 1.1.4) sends — the part after the slash, e.g. `gpt-5` — is
served by the model `--llm-model NAME=MODEL` chose for it (`*` for every name), or else by the
devnet's default language model: the demo model (`--demo-llm`), else the fixture `tiny-llama`,
else the first GGUF model in the catalog. A GGUF model's own catalog name or id also works."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from og_devnet.inference.runtimes import LlamaRuntime

if TYPE_CHECKING:
    from og_devnet.inference.catalog import ModelCatalog

#: og.TEE_LLM in opengradient 1.1.4, as provider/name (tests compare this with the SDK's).
TEE_LLM_MODELS = (
    "openai/gpt-4.1-2025-04-14", "openai/gpt-4.1-mini", "openai/gpt-4.1-nano", "openai/o3", "openai/o4-mini",
    "openai/gpt-5", "openai/gpt-5-mini", "openai/gpt-5.2", "openai/gpt-5.4", "openai/gpt-5.4-mini",
    "openai/gpt-5.4-nano", "openai/gpt-5.5", "openai/gpt-image-2",
    "anthropic/claude-sonnet-4-5", "anthropic/claude-sonnet-4-6", "anthropic/claude-haiku-4-5",
    "anthropic/claude-opus-4-5", "anthropic/claude-opus-4-6", "anthropic/claude-opus-4-7", "anthropic/claude-opus-4-8",
    "google/gemini-2.5-flash", "google/gemini-2.5-pro", "google/gemini-2.5-flash-lite", "google/gemini-3-flash-preview",
    "google/gemini-3.1-pro-preview", "google/gemini-3.1-flash-lite-preview", "google/gemini-3.5-flash",
    "google/gemini-2.5-flash-image", "google/gemini-3.1-flash-image",
    "x-ai/grok-4", "x-ai/grok-4-fast", "x-ai/grok-4-1-fast", "x-ai/grok-4-1-fast-non-reasoning",
    "x-ai/grok-4.20-reasoning", "x-ai/grok-4.20-non-reasoning", "x-ai/grok-code-fast-1", "x-ai/grok-2-image",
    "bytedance/seed-1.6", "bytedance/seed-1.8", "bytedance/seed-2.0-lite", "bytedance/deepseek-v4-flash",
    "bytedance/deepseek-v4-pro", "bytedance/seedream-4.0", "bytedance/seedance-4.5",
    "nous/hermes-4-405b", "nous/hermes-4-70b", "zai/glm-5.2", "zai/glm-image",
)  # fmt: skip
#: The name the SDK sends → its provider.
PROVIDERS = {m.split("/", 1)[1]: m.split("/", 1)[0] for m in TEE_LLM_MODELS}
#: The default language model, best first: the demo model (--demo-llm), then the fixture.
DEFAULT_MODELS = ("gemma-3-270m", "tiny-llama")


class NoModel(LookupError):
    """No GGUF model is loaded at all."""


@dataclass
class Served:
    name: str  # what the client asked for, echoed back
    model: dict[str, Any]  # the catalog's info of the model that answers
    runtime: LlamaRuntime


def sdk_name(name: str) -> str:
    """`openai/gpt-5` → `gpt-5`, as og.LLM sends it; other names as they are."""
    return name.split("/", 1)[1] if name in TEE_LLM_MODELS else name


def resolve(catalog: ModelCatalog, name: str, choices: Mapping[str, str] | None = None) -> Served | None:
    """The model serving `name`; None for a name the gateway does not know. `choices` maps an
    SDK name (or `*`, every name) to a local model's name or id (`--llm-model`)."""
    languages = [m for m in catalog.list() if catalog.language_model(m["id"]) is not None]
    for m in languages:
        if name in (m["id"], m["name"]):
            return Served(name, m, catalog.language_model(m["id"]))  # type: ignore[arg-type]
    choices = {sdk_name(k): v for k, v in (choices or {}).items()}
    if sdk_name(name) not in PROVIDERS and sdk_name(name) not in choices:
        return None
    if not languages:
        raise NoModel("no language model (GGUF) is loaded on this devnet; register one (og-devnet models add FILE.gguf)")
    chosen = choices.get(sdk_name(name)) or choices.get("*")
    if chosen is not None:
        m = next((m for m in languages if chosen in (m["id"], m["name"])), None)
        if m is None:
            raise NoModel(f"--llm-model {sdk_name(name)}={chosen}: no language model {chosen!r} is loaded")
    else:
        m = next((m for d in DEFAULT_MODELS for m in languages if m["name"] == d), languages[0])
    return Served(name, m, catalog.language_model(m["id"]))  # type: ignore[arg-type]


def listing(catalog: ModelCatalog) -> list[dict[str, Any]]:
    """GET /v1/models: the SDK's names, then the local GGUF models by name."""
    local = [m["name"] for m in catalog.list() if catalog.language_model(m["id"]) is not None]
    return [{"id": n, "object": "model", "created": 0, "owned_by": p} for n, p in PROVIDERS.items()] + [
        {"id": n, "object": "model", "created": 0, "owned_by": "og-devnet"} for n in local
    ]


def prompt_text(content: Any) -> str:
    """What the model reads of a message's content: its text parts (attachments are dropped)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text") or "" for p in content if isinstance(p, dict) and p.get("type") == "text")
    return "" if content is None else str(content)


def llama_messages(canonical_messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The conversation as the chat template reads it. Tool calls and their results become
    text in roles every template knows: an assistant's calls as the JSON objects it is asked
    to answer with (og_devnet.llm.tools), a result as a user message naming its function."""
    out, names = [], {}
    for m in canonical_messages:
        role, content = m["role"], prompt_text(m.get("content"))
        if role == "assistant" and m.get("tool_calls"):
            calls = []
            for call in m["tool_calls"]:
                names[str(call["id"])] = name = call["function"]["name"]
                calls.append(json.dumps({"name": name, "arguments": _json_or_text(call["function"]["arguments"])},
                                        ensure_ascii=False))  # fmt: skip
            content = "\n".join([content, *calls] if content else calls)
        elif role in ("tool", "function"):
            name = m.get("name") or names.get(str(m.get("tool_call_id")), "a function")
            role, content = "user", f"Result of {name}: {content}"
        out.append({"role": role, "content": content})
    return out


def _json_or_text(arguments: Any) -> Any:
    try:
        return json.loads(arguments) if isinstance(arguments, str) else arguments
    except ValueError:
        return arguments


def llama_response_format(rf: Any) -> dict[str, Any] | None:
    """OpenAI's response_format as llama.cpp's generic chat handler takes it (a JSON grammar,
    constrained by the schema when one is given)."""
    from og_devnet.llm.signing import BadRequest

    if not rf:
        return None
    kind = rf.get("type") if isinstance(rf, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object", **({"schema": rf["schema"]} if isinstance(rf.get("schema"), dict) else {})}
    if kind == "json_schema":
        schema = rf.get("json_schema", {}).get("schema") if isinstance(rf.get("json_schema"), dict) else None
        if not isinstance(schema, dict):
            raise BadRequest("response_format json_schema needs json_schema.schema (an object)", "response_format")
        return {"type": "json_object", "schema": schema}
    raise BadRequest("response_format.type must be text, json_object or json_schema", "response_format.type")

