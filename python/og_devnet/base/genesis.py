"""The Base contracts x402 payments use (OPG, Permit2, the x402 Permit2 proxies), as genesis
`alloc` entries: runtime code from contracts.json (made by fixtures/make_base_contracts.py)
and the OPG storage words that give accounts their balances. No constructor runs and no
compiler is needed at run time."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from og_devnet._core import address_of_key, keccak256

CONTRACTS_JSON = Path(__file__).with_name("contracts.json")

OPG_TOKEN = "0xFbC2051AE2265686a469421b2C5A2D5462FbF5eB"
PERMIT2 = "0x000000000022D473030F116dDEE9F6B43aC78BA3"
UPTO_PROXY = "0x4020A4f3b7b90ccA423B9fabCc0CE57C6C240002"
EXACT_PROXY = "0x402085c248EeA27D92E8b30b2C58ed07f9E20001"
#: The chain id Permit2's EIP-712 domain is fixed to: the SDK signs for eip155:8453.
BASE_CHAIN_ID = 8453
OPG_DECIMALS = 18
#: What each dev account holds at genesis.
DEV_OPG = 1000 * 10**OPG_DECIMALS


def facilitator_key(mnemonic: str, index: int) -> bytes:
    """Gateway `index`'s facilitator key (the account that sends its settlements): derived
    from the devnet's mnemonic by hashing (not BIP-32, which costs ~0.1 s a key at every
    start), so a resumed chain's gateways settle from the same accounts."""
    return keccak256(b"og-devnet/x402-facilitator/%d/" % index + mnemonic.encode())


def facilitator_address(mnemonic: str, index: int) -> str:
    return address_of_key(facilitator_key(mnemonic, index))


#: What each facilitator is given at genesis, for gas (native OPG, 18 decimals).
FACILITATOR_GAS_FUNDS = 1000 * 10**18


@cache
def contracts() -> dict[str, dict[str, Any]]:
    """Name → {address, abi, runtime, layout, source, source_sha256}, from contracts.json."""
    return json.loads(CONTRACTS_JSON.read_text())["contracts"]


def abi(name: str) -> list[dict[str, Any]]:
    """The ABI of "OPG", "Permit2", "X402UptoPermit2Proxy" or "X402ExactPermit2Proxy"."""
    return contracts()[name]["abi"]


def _word(value: int | str) -> bytes:
    """A 32-byte ABI word: an int, or an address (0x-hex) left-padded."""
    return (int(value, 16) if isinstance(value, str) else value).to_bytes(32, "big")


def hashmap_slot(slot: int, *keys: int | str) -> int:
    """The storage slot of `m[k1][k2]…` for a Vyper HashMap at `slot`. Vyper puts the slot
    first, keccak256(slot ++ key), where Solidity hashes key ++ slot."""
    for key in keys:
        slot = int.from_bytes(keccak256(_word(slot) + _word(key)), "big")
    return slot


def _storage_slot(contract: str, variable: str) -> int:
    return contracts()[contract]["layout"][variable]["slot"]


def base_alloc(opg_holders: Mapping[str, int], eth_balances: Mapping[str, int] = {}) -> dict[str, dict[str, Any]]:
    """A geth-style `alloc` fragment: the Base contracts' code, OPG balances (base units) and
    their total supply in the token's storage, and ETH `balance` entries for `eth_balances`."""
    alloc: dict[str, dict[str, Any]] = {c["address"]: {"code": c["runtime"]} for c in contracts().values()}
    balances, supply = _storage_slot("OPG", "balanceOf"), _storage_slot("OPG", "totalSupply")
    storage = {hex(hashmap_slot(balances, holder)): hex(amount) for holder, amount in opg_holders.items() if amount}
    total = sum(opg_holders.values())
    if total:
        storage[hex(supply)] = hex(total)
    alloc[OPG_TOKEN]["storage"] = storage
    for address, wei in eth_balances.items():
        alloc.setdefault(address, {})["balance"] = hex(wei)
    return alloc


def _key(address: str) -> str:
    return address.lower().removeprefix("0x")


def with_base_contracts(genesis_text: str | None, opg_holders: Mapping[str, int], eth_balances: Mapping[str, int] = {}) -> str:
    """The genesis text with the Base contracts added to its `alloc`. The file's own entries
    win: an address the file names keeps exactly what the file says (a user may bring their
    own token). Text that is not a JSON object is returned as it is, for the chain to refuse
    with its own message."""
    doc: dict[str, Any] = {}
    if genesis_text is not None:
        try:
            doc = json.loads(genesis_text)
        except ValueError:
            return genesis_text
        if not isinstance(doc, dict) or not isinstance(doc.get("alloc", {}), dict):
            return genesis_text
    alloc: dict[str, Any] = doc.setdefault("alloc", {})
    taken = {_key(a) for a in alloc}
    for address, entry in base_alloc(opg_holders, eth_balances).items():
        if _key(address) not in taken:
            alloc[address] = entry
    return json.dumps(doc)
