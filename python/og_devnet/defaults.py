"""Defaults the CLI's option list needs without importing the settings class (pydantic)."""

from __future__ import annotations

from enum import Enum

DEFAULT_MNEMONIC = "test test test test test test test test test test test junk"
#: Distinct from OpenGradient's public chains (10740, 262144) and from anvil's 31337.
DEFAULT_CHAIN_ID = 10744
WEI_PER_OPG = 10**18


class MiningMode(str, Enum):
    """When blocks are sealed; switchable at run time (`evm_setAutomine`, ...)."""

    interval = "interval"
    auto = "auto"
    manual = "manual"
