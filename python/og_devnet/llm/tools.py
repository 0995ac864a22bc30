"""OpenAI function calling (`tools`, `tool_choice`) on a local GGUF model.

The tools go into the system prompt, and a llama.cpp grammar (from a JSON schema) holds the
answer to one JSON object: `{"name": …, "arguments": …}` (a call; its arguments held to that
tool's parameters schema) or, under "auto" only, `{"content": "…"}` (a text answer). Under
"auto" the model's own sampling picks the alternative: a call is never forced. "required"
allows calls only, a named tool_choice that one tool, "none" no grammar and no tools in the
prompt (an ordinary text answer; the signature still covers the tools)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from og_devnet._core import keccak256
from og_devnet.llm.signing import BadRequest

NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # OpenAI's rule for a function name
NO_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}
TEXT_ANSWER: dict[str, Any] = {"type": "object", "properties": {"content": {"type": "string"}}, "required": ["content"]}


@dataclass
class Tools:
    functions: list[dict[str, Any]]  # {name, description, parameters}, as given
    choice: str  # "auto" | "required" | "named"
    allowed: list[str]  # the names a call may use

    def call_schema(self, name: str) -> dict[str, Any]:
        parameters = next(f["parameters"] for f in self.functions if f["name"] == name)
        return {"type": "object", "properties": {"name": {"const": name}, "arguments": parameters},
                "required": ["name", "arguments"]}  # fmt: skip

    def output_schema(self) -> dict[str, Any]:
        """The JSON schema the answer is held to (its grammar is compiled by the runtime)."""
        options = [self.call_schema(n) for n in self.allowed] + ([TEXT_ANSWER] if self.choice == "auto" else [])
        return options[0] if len(options) == 1 else {"anyOf": options}

    def system_prompt(self) -> str:
        """Short (a small model's context is short): the functions as compact JSON, and how to
        answer."""
        listing = "\n".join(json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in self.functions)
        how = {"auto": ', or answer {"content":"<text>"}', "required": "", "named": f" (call {self.allowed[0]})"}
        return f'Functions:\n{listing}\nCall one: {{"name":"<name>","arguments":{{...}}}}{how[self.choice]}.'


def parse(body: dict[str, Any]) -> Tools | None:
    """The request's tools and tool_choice, checked; None when the answer is plain text."""
    tools, choice = body.get("tools"), body.get("tool_choice", "auto")
    if not tools:
        return None  # a tool_choice without tools is ignored, as og.LLM may send one
    if not isinstance(tools, list):
        raise BadRequest("tools must be an array", "tools", "invalid_tools")
    functions = [_function(t, i) for i, t in enumerate(tools)]
    names = [f["name"] for f in functions]
    if len(set(names)) < len(names):
        raise BadRequest("tools: two functions have the same name", "tools", "invalid_tools")
    if choice is None or choice == "auto":
        return Tools(functions, "auto", names)
    if choice == "none":
        return None
    if choice == "required":
        return Tools(functions, "required", names)
    named = choice.get("function", {}).get("name") if isinstance(choice, dict) and choice.get("type") == "function" else None
    if not isinstance(named, str):
        raise BadRequest('tool_choice must be "none", "auto", "required" or {"type": "function", "function": {"name": …}}',
                         "tool_choice", "invalid_tool_choice")  # fmt: skip
    if named not in names:
        raise BadRequest(f"tool_choice names {named[:100]!r}, which is not in tools", "tool_choice", "invalid_tool_choice")
    return Tools(functions, "named", [named])


def _function(tool: Any, i: int) -> dict[str, Any]:
    where = f"tools[{i}]"
    if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(tool.get("function"), dict):
        raise BadRequest(f'{where} must be {{"type": "function", "function": {{...}}}}', where, "invalid_tools")
    f = tool["function"]
    if not isinstance(f.get("name"), str) or not NAME.match(f["name"]):
        raise BadRequest(f"{where}.function.name must be 1-64 letters, digits, _ or -", f"{where}.function.name", "invalid_tools")
    parameters = f.get("parameters", NO_PARAMETERS)
    if not isinstance(parameters, dict) or parameters.get("type", "object") != "object":
        raise BadRequest(f"{where}.function.parameters must be a JSON Schema of an object", f"{where}.function.parameters",
                         "invalid_tools")  # fmt: skip
    description = f.get("description")
    return {"name": f["name"], **({"description": description} if isinstance(description, str) else {}),
            "parameters": parameters or NO_PARAMETERS}  # fmt: skip


def with_system_prompt(messages: list[dict[str, str]], text: str) -> list[dict[str, str]]:
    """The tools' description added to the leading system message (one system message suits
    every chat template), or put first."""
    if messages and messages[0]["role"] == "system":
        return [{"role": "system", "content": f"{messages[0]['content']}\n\n{text}"}, *messages[1:]]
    return [{"role": "system", "content": text}, *messages]


def read(text: str, request_hash: bytes) -> tuple[str | None, list[dict[str, Any]] | None]:
    """The grammar-held answer as (content, None) or (None, tool_calls); (None, None) for a
    call cut short by max_tokens. Call ids derive from the request, so the same request gets
    the same answer, ids included."""
    try:
        answer = json.loads(text, strict=False)  # the grammar lets control characters into strings
    except ValueError:
        return _text_so_far(text), None
    if not isinstance(answer, dict):
        return None, None
    if "name" in answer:
        call_id = "call_" + keccak256(request_hash + b"tool call 0").hex()[:24]
        arguments = json.dumps(answer.get("arguments", {}), ensure_ascii=False, separators=(",", ":"))
        return None, [{"id": call_id, "type": "function", "function": {"name": answer["name"], "arguments": arguments}}]
    return answer.get("content") if isinstance(answer.get("content"), str) else None, None


def _text_so_far(text: str) -> str | None:
    """The text of a {"content": "…"} answer that max_tokens cut short."""
    start = re.match(r'\{\s*"content"\s*:\s*"', text)
    if start is None:
        return None
    try:
        return json.decoder.scanstring(text, start.end(), False)[0]  # the string ended; the object did not
    except ValueError:
        pass
    rest = text[start.end() :]
    for cut in range(len(rest), max(len(rest) - 6, -1), -1):  # drop an escape cut in two (at most \uXXX)
        try:
            return json.loads(f'"{rest[:cut]}"', strict=False)
        except ValueError:
            continue
    return None


def signed_output(tool_calls: list[dict[str, Any]]) -> str:
    """What tee_verify hashes for an answer with finish_reason "tool_calls"."""
    return json.dumps(tool_calls, sort_keys=True)
