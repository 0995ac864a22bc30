"""Settings for one devnet node: every CLI option and every `Devnet(...)` keyword lands here.

Environment variables `OG_DEVNET_<FIELD>` set defaults (e.g. `OG_DEVNET_PORT=9545`).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MNEMONIC = "test test test test test test test test test test test junk"
#: Distinct from OpenGradient's public chains (10740, 262144) and from anvil's 31337.
DEFAULT_CHAIN_ID = 10744
WEI_PER_OPG = 10**18


class MiningMode(str, Enum):
    """When blocks are sealed; switchable at run time (`evm_setAutomine`, ...)."""

    interval = "interval"
    auto = "auto"
    manual = "manual"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OG_DEVNET_", extra="forbid")

    host: str = "127.0.0.1"
    #: 0 picks a free port (tests use this).
    port: int = Field(8545, ge=0, le=65535)
    mining: MiningMode = MiningMode.interval
    #: Seconds between blocks in interval mining.
    block_time: float = Field(0.5, gt=0, le=3600)
    chain_id: int = Field(DEFAULT_CHAIN_ID, gt=0, lt=2**53)
    mnemonic: str = DEFAULT_MNEMONIC
    accounts: int = Field(10, ge=0, le=1000)
    #: Balance of each dev account, in OPG.
    balance: int = Field(10_000, ge=0, lt=2**128 // WEI_PER_OPG)
    base_fee: int = Field(1_000_000_000, ge=0, lt=2**63)
    gas_limit: int = Field(30_000_000, ge=21_000, lt=2**63)
    #: A geth-style genesis JSON file (config.chainId, alloc, timestamp, ...).
    genesis: Path | None = None
    #: Keep state here across restarts; None means a fresh temporary directory.
    state: Path | None = None
    #: SQLAlchemy URL; None means SQLite in the state directory.
    db: str | None = None
    #: Print each JSON-RPC request (the CLI's --verbose).
    log_requests: bool = False

    @field_validator("mnemonic")
    @classmethod
    def _words(cls, v: str) -> str:
        words = v.split()
        if len(words) not in (12, 15, 18, 21, 24):
            raise ValueError("a BIP-39 mnemonic has 12, 15, 18, 21 or 24 words")
        return " ".join(words)

    @field_validator("db")
    @classmethod
    def _db_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ValueError("--db takes sqlite:///PATH or postgresql://USER@HOST/DB")
        return v

    @field_validator("genesis")
    @classmethod
    def _genesis_exists(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_file():
            raise ValueError(f"genesis file {v} does not exist")
        return v

    @property
    def block_time_ms(self) -> int:
        return max(1, round(self.block_time * 1000))
