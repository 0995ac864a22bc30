"""LLM gateways: HTTPS, OpenAI-compatible servers the unmodified `og.LLM` (SDK 1.1.4) finds in
the TEE registry (type 0, LLM proxy) and talks to over a pinned TLS certificate. Every model
name the SDK knows is served by the devnet's local GGUF model; responses are signed as the
SDK's `tee_verify` checks them (docs/wire/og-llm-sdk-1.1.4.md §3). No x402 payment yet.

`LlmGateway` is imported on first use: the genesis needs only `og_devnet.llm.payment`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from og_devnet.llm.gateway import LlmGateway

__all__ = ["LlmGateway"]


def __getattr__(name: str) -> Any:
    if name == "LlmGateway":
        from og_devnet.llm.gateway import LlmGateway

        return LlmGateway
    raise AttributeError(f"module 'og_devnet.llm' has no attribute {name!r}")
