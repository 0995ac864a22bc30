"""Settings for one devnet node: every CLI option and every `Devnet(...)` keyword lands here.

Environment variables `OG_DEVNET_<FIELD>` set defaults (e.g. `OG_DEVNET_PORT=9545`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from og_devnet.defaults import DEFAULT_CHAIN_ID, DEFAULT_MNEMONIC, WEI_PER_OPG, MiningMode

__all__ = ["DEFAULT_CHAIN_ID", "DEFAULT_MNEMONIC", "WEI_PER_OPG", "MiningMode", "Settings"]


def _user_cache() -> Path:
    import os

    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "og-devnet"


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
    #: Recent blocks whose transactions and receipts stay in memory; older ones are read back
    #: from the store when asked for (memory stays flat however long the chain runs).
    body_window: int = Field(128, ge=1, le=1_000_000)
    #: Print each JSON-RPC request (the CLI's --verbose).
    log_requests: bool = False
    #: EIP-1559: the base fee follows gas use from block to block (False keeps `base_fee` fixed,
    #: as hardhat's initialBaseFeePerGas with a constant fee).
    base_fee_change: bool = True

    # ---- safety: who may talk to the node ----
    #: Host names served besides loopback names and the bound address (DNS rebinding guard).
    allowed_hosts: list[str] = Field(default_factory=list)
    #: Browser origins allowed to call the node cross-origin (CORS); "*" allows every origin.
    allow_origins: list[str] = Field(default_factory=list)
    #: Directories whose files JSON-RPC/REST may register by path; none by default.
    models_dirs: list[Path] = Field(default_factory=list)

    # ---- PIPE: simulated inference nodes and the scheduler ----
    nodes: int = Field(4, ge=1, le=64)
    #: First copies of each job; 2 or more means results must agree (quorum of 2).
    redundancy: int = Field(1, ge=1, le=16)
    #: Hedge when no valid result has come by `hedge_multiple` × this quantile of the model's
    #: recent result latencies (2 × the median: what a healthy node takes, with room).
    hedge_quantile: float = Field(0.5, ge=0, le=1)
    hedge_multiple: float = Field(2.0, ge=1, le=100)
    #: "latency": route each job to the node with the lowest learnt latency × (outstanding + 1)
    #: and probe the others now and then; "load": the least loaded node in rotation (the old
    #: rule, for comparison).
    pipe_routing: Literal["latency", "load"] = "latency"
    #: Speculative duplicates, as a share of jobs.
    hedge_budget: float = Field(0.10, ge=0, le=10)
    #: Node index → fault (ok, slow:FACTOR, down, flaky:P, byzantine).
    node_faults: dict[int, str] = Field(default_factory=dict)
    #: Network/queue delay every node adds to each answer, and random jitter on top.
    node_delay_ms: float = Field(0.0, ge=0, le=600_000)
    node_jitter_ms: float = Field(0.0, ge=0, le=600_000)
    #: Dynamic batching: a node waits this long for more VANILLA/TEE jobs of the model it took
    #: and runs them as one batch (jobs already queued join at once); 0 turns it off. Off
    #: with a redundancy of 2 or more, whose answers must agree bit for bit.
    batch_window_ms: float = Field(1.0, ge=0, le=1_000)
    #: Where models run: auto (a CUDA GPU when the NVIDIA driver lists one), cpu, cuda or
    #: cuda:N. Each runtime falls back to the CPU, saying why, when its library cannot use it.
    device: str = "auto"
    #: An attempt running longer than max(this, 5 × p99) is given up.
    attempt_timeout_ms: int = Field(5_000, ge=10, le=3_600_000)
    #: How long a request waits for what still starts in the background after JSON-RPC first
    #: answers (the store, models, inference nodes, LLM gateways) before it is refused (s).
    start_timeout: float = Field(120.0, gt=0, le=3600)
    #: How long an eth_call of a contract that calls inference waits for PIPE (s).
    call_timeout: float = Field(30.0, gt=0, le=3600)
    #: The EVM's hard fork.
    hardfork: Literal["london", "shanghai", "cancun", "prague", "osaka"] = "prague"
    #: OGHistorical price feeds: pair (BASE/QUOTE) → CSV file of 1-minute candles
    #: (timestamp,open,high,low,close,volume); other pairs come from the synthetic market.
    price_feeds: dict[str, Path] = Field(default_factory=dict)
    #: Register the fixture models (tiny ONNX MLP, tiny llama GGUF) at start.
    fixtures: bool = True
    #: HTTPS LLM gateways for `og.LLM` (TEE registry type 0), each on its own 127.0.0.1 port;
    #: None: one per inference node; 0: none.
    llm_gateways: int | None = Field(None, ge=0, le=64)
    #: og.TEE_LLM name (e.g. gpt-5 or openai/gpt-5; * for every name) → the local GGUF model
    #: (name or id) that answers it; unnamed ones get the default (demo model, else tiny-llama).
    llm_models: dict[str, str] = Field(default_factory=dict)
    #: The LLM gateways answer without x402 payment (no 402, no OPG moves).
    llm_free: bool = False
    #: Register Gemma 3 270M (Q4_K_M GGUF, from the `og-devnet[demo-llm]` extra) and answer
    #: og.TEE_LLM names with it: readable answers for demos (the fixture model's are not).
    demo_llm: bool = False

    # ---- proofs and settlement ----
    #: Set up a ZKML circuit for the fixture ONNX model (in the background, cached).
    zkml: bool = True
    #: Where ZKML circuits (keys ~140 MB per model) are cached across state directories,
    #: keyed by ezkl version and model id; None keeps them only in the state directory.
    zkml_cache: Path | None = Field(default_factory=lambda: _user_cache() / "zkml")
    #: Worker processes that set up circuits and prove (ezkl holds the GIL for seconds).
    provers: int = Field(1, ge=1, le=16)
    #: OPTIMISTIC results settle this many blocks after inclusion unless challenged.
    challenge_window: int = Field(20, ge=1, le=100_000)
    #: LLM answers (batch settlement): blocks a shared batch waits for more answers before its
    #: transaction (the Merkle root of their hashes) may go in a block.
    llm_batch_blocks: int = Field(3, ge=0, le=10_000)
    #: Share of OPTIMISTIC results the watcher re-executes.
    watch_rate: float = Field(1.0, ge=0, le=1)

    @field_validator("mnemonic")
    @classmethod
    def _words(cls, v: str) -> str:
        words = v.split()
        if len(words) not in (12, 15, 18, 21, 24):
            raise ValueError("a BIP-39 mnemonic has 12, 15, 18, 21 or 24 words")
        return " ".join(words)

    @field_validator("node_faults")
    @classmethod
    def _faults(cls, v: dict[int, str]) -> dict[int, str]:
        if not v:  # the common case: no need to import the inference nodes (and their TEE)
            return v
        from og_devnet.inference.nodes import Fault

        for index, fault in v.items():
            if index < 0:
                raise ValueError(f"node index {index} is negative")
            Fault.parse(fault)
        return v

    @model_validator(mode="after")
    def _fault_indices(self) -> Settings:
        bad = [i for i in self.node_faults if i >= self.nodes]
        if bad:
            raise ValueError(f"node fault for node {bad[0]}, but there are only {self.nodes} nodes (0..{self.nodes - 1})")
        return self

    @field_validator("price_feeds")
    @classmethod
    def _feeds(cls, v: dict[str, Path]) -> dict[str, Path]:
        import re

        for pair, path in v.items():
            if not re.fullmatch(r"[A-Za-z0-9]{1,16}/[A-Za-z0-9]{1,16}", pair):
                raise ValueError(f"price feed pair {pair!r}: expected BASE/QUOTE, e.g. ETH/USD")
            if not path.is_file():
                raise ValueError(f"price feed {pair}: {path} is not a file")
        return v

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        from og_devnet.inference.devices import Devices, parse_device

        Devices.resolve(v)  # a CUDA device asked for where there is none is refused at start
        return parse_device(v)

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
    def llm_gateway_count(self) -> int:
        return self.nodes if self.llm_gateways is None else self.llm_gateways

    @property
    def block_time_ms(self) -> int:
        return max(1, round(self.block_time * 1000))
