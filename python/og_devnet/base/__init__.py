"""The devnet plays Base for the SDK's x402 payments: OPG, Permit2 and the x402 Permit2
proxies are Vyper contracts placed at their Base addresses in the genesis alloc."""

from og_devnet.base.genesis import (
    BASE_CHAIN_ID,
    DEV_OPG,
    EXACT_PROXY,
    OPG_DECIMALS,
    OPG_TOKEN,
    PERMIT2,
    UPTO_PROXY,
    abi,
    base_alloc,
    contracts,
    hashmap_slot,
    with_base_contracts,
)

__all__ = [
    "BASE_CHAIN_ID",
    "DEV_OPG",
    "EXACT_PROXY",
    "OPG_DECIMALS",
    "OPG_TOKEN",
    "PERMIT2",
    "UPTO_PROXY",
    "abi",
    "base_alloc",
    "contracts",
    "hashmap_slot",
    "with_base_contracts",
]
