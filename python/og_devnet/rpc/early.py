"""The JSON-RPC methods that read only the chain's identity and head: a client's "is it up,
which chain is it" questions. They are final once the chain exists, so the node answers them
before it has finished starting (`og_devnet.api.front`), through `envelope` and without
importing the other methods (`dispatch` imports them all)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from og_devnet.rpc.registry import Handler, RpcContext, method

_names: list[str] = []


def _early(name: str) -> Callable[[Handler], Handler]:
    _names.append(name)
    return method(name)


@_early("eth_chainId")
def chain_id(ctx: RpcContext, params: list[Any]) -> str:
    return hex(ctx.node.chain.chain_id)


@_early("net_version")
def net_version(ctx: RpcContext, params: list[Any]) -> str:
    return str(ctx.node.chain.chain_id)


@_early("net_listening")
def net_listening(ctx: RpcContext, params: list[Any]) -> bool:
    return True


@_early("web3_clientVersion")
def client_version(ctx: RpcContext, params: list[Any]) -> str:
    import og_devnet

    return f"og-devnet/v{og_devnet.__version__}"


@_early("eth_syncing")
def syncing(ctx: RpcContext, params: list[Any]) -> bool:
    return False


@_early("eth_blockNumber")
def block_number(ctx: RpcContext, params: list[Any]) -> str:
    return hex(ctx.node.chain.head())


@_early("eth_accounts")
def accounts(ctx: RpcContext, params: list[Any]) -> list[str]:
    return [a for a, _ in ctx.node.chain.dev_accounts()]


#: The methods defined here, which `og_devnet.api.front` answers early: they read only the
#: chain's identity and head, final once the chain exists (nothing started later changes them).
EARLY_METHODS = frozenset(_names)
