"""What a gateway signs, byte for byte as the SDK's `opengradient/client/tee_verify.py`
checks it (docs/wire/og-llm-sdk-1.1.4.md §3):

    request_hash = keccak256(json.dumps(canonical_request, sort_keys=True))
    output_hash  = keccak256(content)
    signature    = RSA-PSS(SHA-256, MGF1-SHA-256, salt 32) over
                   keccak256(request_hash ‖ output_hash ‖ uint256(timestamp))

The canonical chat request is `tee_verify.build_inner_request`'s; `/v1/completions` has none
upstream, so the devnet hashes {model, prompt, temperature[, max_tokens][, stop]} the same way."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from og_devnet._core import keccak256


class BadRequest(ValueError):
    """The request cannot be served; the message goes back in an OpenAI-style 400."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        self.code = code


def canonical_user_content(content: Any) -> Any:
    """Text parts verbatim; any other part reduced to {type[, filename]}."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return str(content)
    out: list[Any] = []
    for part in content:
        if not isinstance(part, dict):
            out.append({"type": "text", "text": str(part)})
        elif part.get("type") == "text":
            out.append({"type": "text", "text": part.get("text", "") or ""})
        else:
            entry: dict[str, Any] = {"type": part.get("type")}
            file = part.get("file")
            filename = (file.get("filename") if isinstance(file, dict) else None) or part.get("filename")
            if filename:
                entry["filename"] = filename
            out.append(entry)
    return out


def canonical_message(m: dict[str, Any], index: int) -> dict[str, Any]:
    role = m.get("role")
    if role in ("system", "developer"):
        return {"role": "system", "content": m.get("content")}
    if role == "user":
        return {"role": "user", "content": canonical_user_content(m.get("content"))}
    if role == "assistant":
        out: dict[str, Any] = {"role": "assistant", "content": m.get("content") or ""}
        if m.get("tool_calls"):
            out["tool_calls"] = [
                {"id": tc.get("id", ""), "type": tc.get("type", "function"),
                 "function": {"name": tc.get("function", {}).get("name", ""),
                              "arguments": tc.get("function", {}).get("arguments", "")}}
                for tc in m["tool_calls"]
            ]  # fmt: skip
        return out
    if role == "tool":
        return {"role": "tool", "content": m.get("content"), "tool_call_id": m.get("tool_call_id")}
    if role == "function":
        return {"role": "function", "content": m.get("content"), "name": m.get("name")}
    raise BadRequest(f"messages[{index}]: unknown role {role!r} (system, developer, user, assistant, tool, function)",
                     f"messages[{index}].role")  # fmt: skip


def canonical_chat(body: dict[str, Any]) -> dict[str, Any]:
    """tee_verify.build_inner_request's canonical dict (tool_choice, stream, ... excluded)."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty array of messages", "messages", "missing_messages")
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise BadRequest(f"messages[{i}] must be an object", f"messages[{i}]")
    try:
        canonical: dict[str, Any] = {"model": body["model"], "messages": [canonical_message(m, i) for i, m in enumerate(messages)],
                                     "temperature": float(body.get("temperature") or 0.0)}  # fmt: skip
    except (AttributeError, TypeError) as e:  # a tool call that is not an object, ...
        raise BadRequest(f"malformed message: {e}", "messages") from None
    if body.get("max_tokens") is not None:
        canonical["max_tokens"] = body["max_tokens"]
    for key in ("stop", "tools", "response_format"):
        if body.get(key):
            canonical[key] = body[key]
    if body.get("web_search"):
        canonical["web_search"] = True
    return canonical


def canonical_completion(body: dict[str, Any]) -> dict[str, Any]:
    canonical = {"model": body["model"], "prompt": body["prompt"], "temperature": float(body.get("temperature") or 0.0)}
    if body.get("max_tokens") is not None:
        canonical["max_tokens"] = body["max_tokens"]
    if body.get("stop"):
        canonical["stop"] = body["stop"]
    return canonical


def request_hash(canonical: dict[str, Any]) -> bytes:
    # Python's defaults on purpose (", " / ": " separators, ensure_ascii): the SDK's bytes.
    return keccak256(json.dumps(canonical, sort_keys=True).encode("utf-8"))


def proof(key: rsa.RSAPrivateKey, tee_id: str, canonical: dict[str, Any], content: str,
          timestamp: int | None = None) -> dict[str, Any]:  # fmt: skip
    """The tee_* fields of a response whose signed output is `content`."""
    ts = int(time.time()) if timestamp is None else timestamp
    rh, oh = request_hash(canonical), keccak256(content.encode("utf-8"))
    signature = key.sign(keccak256(rh + oh + ts.to_bytes(32, "big")),
                         padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())  # fmt: skip
    return {"tee_signature": base64.b64encode(signature).decode(), "tee_request_hash": "0x" + rh.hex(),
            "tee_output_hash": "0x" + oh.hex(), "tee_timestamp": ts, "tee_id": tee_id}  # fmt: skip
