"""Parsing JSON-RPC parameters strictly: anything malformed is `InvalidParams` (-32602)
with a message naming the parameter, before the chain is touched."""

from __future__ import annotations

import re
from typing import Any

from og_devnet.errors import InvalidParams

_HEX = re.compile(r"^0x[0-9a-fA-F]*$")
BLOCK_TAGS = ("latest", "pending", "earliest", "safe", "finalized")
U64 = 2**64


def arg(params: list[Any], i: int, name: str, required: bool = True, default: Any = None) -> Any:
    if i < len(params) and params[i] is not None:
        return params[i]
    if required:
        raise InvalidParams(f"missing parameter {i} ({name})")
    return default


def quantity(v: Any, name: str, limit: int = 2**256) -> int:
    """A hex quantity ("0x1a") below `limit`; plain non-negative integers are accepted too."""
    if isinstance(v, bool):
        raise InvalidParams(f"{name}: expected a hex quantity, got {v!r}")
    if isinstance(v, int) and v >= 0:
        n = v
    elif isinstance(v, str) and _HEX.fullmatch(v) and len(v) > 2 and len(v) <= 2 + 64:
        n = int(v, 16)
    else:
        raise InvalidParams(f"{name}: expected a hex quantity like 0x1, got {v!r}")
    if n >= limit:
        raise InvalidParams(f"{name}: {n} is out of range")
    return n


def data(v: Any, name: str) -> str:
    if isinstance(v, str) and _HEX.fullmatch(v) and len(v) % 2 == 0:
        return v
    raise InvalidParams(f"{name}: expected 0x-prefixed hex bytes, got {v!r}")


def raw_bytes(v: Any, name: str) -> bytes:
    return bytes.fromhex(data(v, name)[2:])


def address(v: Any, name: str) -> str:
    if isinstance(v, str) and _HEX.fullmatch(v) and len(v) == 42:
        return v
    raise InvalidParams(f"{name}: expected a 20-byte 0x address, got {v!r}")


def hash32(v: Any, name: str) -> str:
    if isinstance(v, str) and _HEX.fullmatch(v) and len(v) == 66:
        return v
    raise InvalidParams(f"{name}: expected a 32-byte 0x hash, got {v!r}")


def block_tag(v: Any, name: str = "block") -> int | str:
    """A block number or tag. EIP-1898 objects ({"blockNumber": ...}) are accepted."""
    if isinstance(v, dict):
        if "blockNumber" in v:
            return quantity(v["blockNumber"], name, U64)
        raise InvalidParams(f"{name}: block hash selectors are not supported; use a number or tag")
    if v in BLOCK_TAGS:
        return v
    if isinstance(v, str) and _HEX.fullmatch(v) or isinstance(v, int):
        return quantity(v, name, U64)
    raise InvalidParams(f"{name}: expected a block number or one of {', '.join(BLOCK_TAGS)}, got {v!r}")


_REQUEST_QUANTITIES = ("value", "gas", "gasPrice", "maxFeePerGas", "maxPriorityFeePerGas", "nonce")


def tx_request(v: Any, name: str = "transaction") -> dict[str, Any]:
    """A transaction object (eth_sendTransaction, eth_call, eth_estimateGas) with its
    values parsed to what the core takes."""
    if not isinstance(v, dict):
        raise InvalidParams(f"{name}: expected an object, got {v!r}")
    out: dict[str, Any] = {}
    for key in ("from", "to"):
        if v.get(key) is not None:
            out[key] = address(v[key], f"{name}.{key}")
    for key in (*_REQUEST_QUANTITIES, "chainId"):
        if v.get(key) is not None:
            out[key] = quantity(v[key], f"{name}.{key}")
    body = v.get("input", v.get("data"))
    if body is not None:
        out["data"] = data(body, f"{name}.input")
    for key, limit in (("gas", 2**64), ("nonce", 2**64), ("gasPrice", 2**128), ("maxFeePerGas", 2**128), ("maxPriorityFeePerGas", 2**128), ("value", 2**256)):
        if key in out and out[key] >= limit:
            raise InvalidParams(f"{name}.{key}: {out[key]} is out of range")
    return out
