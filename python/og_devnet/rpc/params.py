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


def block_number(v: Any, name: str = "block") -> int | str:
    """A block number or tag ("latest", ...), as eth_getLogs and eth_feeHistory take them."""
    if v in BLOCK_TAGS:
        return str(v)
    if isinstance(v, str) and _HEX.fullmatch(v) or isinstance(v, int):
        return quantity(v, name, U64)
    raise InvalidParams(f"{name}: expected a block number or one of {', '.join(BLOCK_TAGS)}, got {v!r}")


def block_tag(v: Any, name: str = "block") -> int | str:
    """Any way to name a block (EIP-1898): a number, a tag, a 32-byte block hash, or an
    object {"blockNumber": n} or {"blockHash": h, "requireCanonical": bool}. A hash comes
    back as its 0x string; this chain has no forks, so every known hash is canonical."""
    if isinstance(v, dict):
        return _block_selector(v, name)
    if isinstance(v, str) and len(v) == 66:
        return hash32(v, name)
    return block_number(v, name)


def _block_selector(v: dict[str, Any], name: str) -> int | str:
    unknown = set(v) - {"blockNumber", "blockHash", "requireCanonical"}
    if unknown:
        raise InvalidParams(f"{name}: unknown field(s) {', '.join(sorted(unknown))} in a block selector")
    if ("blockNumber" in v) == ("blockHash" in v):
        raise InvalidParams(f"{name}: a block selector needs exactly one of blockNumber and blockHash")
    if "blockNumber" in v:
        if "requireCanonical" in v:
            raise InvalidParams(f"{name}: requireCanonical goes with blockHash only")
        return block_number(v["blockNumber"], f"{name}.blockNumber")
    if not isinstance(v.get("requireCanonical", False), bool):
        raise InvalidParams(f"{name}.requireCanonical: expected true or false, got {v['requireCanonical']!r}")
    return hash32(v["blockHash"], f"{name}.blockHash")


def log_filter(v: Any, name: str = "filter") -> dict[str, Any]:
    """An eth_getLogs / eth_newFilter filter object, as keyword arguments for the core's
    `logs_json`: fromBlock/toBlock (default latest) or blockHash, address (one or a list),
    topics (per position: null, a topic, or a list of alternatives)."""
    if not isinstance(v, dict):
        raise InvalidParams(f"{name}: expected an object, got {v!r}")
    block_hash = v.get("blockHash")
    if block_hash is not None and (v.get("fromBlock") is not None or v.get("toBlock") is not None):
        raise InvalidParams(f"{name}: blockHash cannot be combined with fromBlock/toBlock")
    from_block = v.get("fromBlock")
    to_block = v.get("toBlock")
    return {
        "from_block": "latest" if from_block is None else block_number(from_block, f"{name}.fromBlock"),
        "to_block": "latest" if to_block is None else block_number(to_block, f"{name}.toBlock"),
        "block_hash": None if block_hash is None else hash32(block_hash, f"{name}.blockHash"),
        "addresses": addresses(v.get("address"), f"{name}.address"),
        "topics": topics(v.get("topics"), f"{name}.topics"),
    }


def addresses(v: Any, name: str) -> list[str]:
    """One address or a list of them; absent matches any."""
    if v is None:
        return []
    if isinstance(v, str):
        return [address(v, name)]
    if isinstance(v, list):
        return [address(a, f"{name}[{i}]") for i, a in enumerate(v)]
    raise InvalidParams(f"{name}: expected an address or a list of addresses, got {v!r}")


def topics(v: Any, name: str) -> list[list[str] | None]:
    """Per position: null or [] (any), a topic, or a list of alternatives; at most 4."""
    if v is None:
        return []
    if not isinstance(v, list) or len(v) > 4:
        raise InvalidParams(f"{name}: expected a list of at most 4 entries, got {v!r}")
    out: list[list[str] | None] = []
    for i, t in enumerate(v):
        if t is None or t == []:  # geth: null and [] both match any topic
            out.append(None)
        elif isinstance(t, list):
            out.append([hash32(x, f"{name}[{i}]") for x in t])
        else:
            out.append([hash32(t, f"{name}[{i}]")])
    return out


def index(v: Any, name: str = "index") -> int:
    """A position in a block's transaction list."""
    return quantity(v, name, U64)


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
