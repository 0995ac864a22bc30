"""og.LLM against og-devnet, with the unmodified opengradient SDK: only the URLs change.

    og-devnet up                                   # in another terminal
    export BASE_MAINNET_RPC=http://127.0.0.1:8545  # before Python imports opengradient
    python examples/og_llm.py [--json]

The devnet plays both OpenGradient (the TEE registry that lists its HTTPS LLM gateways) and
Base (the OPG token and Permit2 that x402 payments use). Each answer is paid in devnet OPG: the
gateway answers 402, the SDK signs a Permit2 permit, the gateway settles what the answer cost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

# The first dev account's well-known key (anvil's, hardhat's): devnet only.
DEV_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
# maxLength: the grammar holds the model to the schema, and the fixture model (random weights)
# would otherwise write a city name until max_tokens cuts the call short.
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 24}}, "required": ["city"]},
    },
}
VERDICT_SCHEMA = {
    "type": "object",
    "properties": {"verdict": {"type": "string", "enum": ["valid", "invalid"]}, "confidence": {"type": "integer"}},
    "required": ["verdict", "confidence"],
}


async def tour(rpc_url: str, key: str) -> dict[str, Any]:
    if "BASE_MAINNET_RPC" not in os.environ:
        sys.exit("set BASE_MAINNET_RPC to the devnet's URL before running this (og-devnet up prints the line)")
    import opengradient as og

    llm = og.LLM(private_key=key, rpc_url=rpc_url)
    try:
        approval = llm.ensure_opg_approval(min_allowance=5)
        messages = [{"role": "user", "content": "In one sentence: why do proofs settle after results?"}]
        first = await llm.chat(model=og.TEE_LLM.GPT_5, messages=messages, temperature=0)
        again = await llm.chat(model=og.TEE_LLM.GPT_5, messages=messages, temperature=0)
        completion = await llm.completion(model=og.TEE_LLM.GPT_5, prompt="Verifiable inference is", max_tokens=24)
        streamed = ""
        async for chunk in await llm.chat(model=og.TEE_LLM.GPT_5, messages=messages, temperature=0, stream=True):
            streamed += "".join(c.delta.content or "" for c in chunk.choices)
        tool = await llm.chat(model=og.TEE_LLM.CLAUDE_HAIKU_4_5, messages=[{"role": "user", "content": "Weather in Oslo?"}],
                              tools=[WEATHER_TOOL], tool_choice="required")  # fmt: skip
        structured = await llm.chat(
            model=og.TEE_LLM.GEMINI_2_5_FLASH, messages=[{"role": "user", "content": "Is 2 + 2 = 4? Answer as JSON."}],
            response_format=og.ResponseFormat(type="json_schema", json_schema={"name": "verdict", "schema": VERDICT_SCHEMA}),
        )
        return {
            "approval_tx": approval.tx_hash,
            "allowance_after": approval.allowance_after,
            "chat": first.chat_output["content"],
            "chat_again": again.chat_output["content"],
            "tee_id": first.tee_id,
            "tee_signature": first.tee_signature,
            "settlement_tx": first.data_settlement_transaction_hash,
            "completion": completion.completion_output,
            "stream": streamed,
            "tool_calls": tool.chat_output.get("tool_calls"),
            "finish_reason_tool": tool.finish_reason,
            "json": structured.chat_output["content"],
        }
    finally:
        await llm.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rpc-url", default="http://127.0.0.1:8545")
    parser.add_argument("--key", default=DEV_KEY_0)
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    args = parser.parse_args()
    out = asyncio.run(tour(args.rpc_url, args.key))
    if args.json:
        print(json.dumps(out))
        return
    for name, value in out.items():
        print(f"{name:>18}: {value}")


if __name__ == "__main__":
    main()
