"""Type stub of the Rust extension `og_devnet._core`. Kept in step with rust/src/py/ by hand."""

from collections.abc import Iterable
from os import PathLike
from typing import Any, Literal, NotRequired, Required, TypedDict

__version__: str

#: A block number, a tag, or a block hash ("0x" + 64 hex digits).
BlockTag = int | Literal["latest", "pending", "earliest", "safe", "finalized"] | str
MiningModeName = Literal["interval", "auto", "manual"]

class CoreError(Exception): ...
class InvalidTransaction(CoreError): ...
class MalformedTransaction(InvalidTransaction): ...
class InvalidSignature(InvalidTransaction): ...
class WrongChainId(InvalidTransaction): ...
class UnsupportedTxType(InvalidTransaction): ...
class TransactionRejected(CoreError): ...
class NonceTooLow(TransactionRejected): ...
class NonceTooHigh(TransactionRejected): ...
class InsufficientFunds(TransactionRejected): ...
class FeeTooLow(TransactionRejected): ...
class GasError(TransactionRejected): ...
class AlreadyKnown(TransactionRejected): ...
class PoolFull(TransactionRejected): ...
class UnsupportedError(CoreError): ...
class UnknownAccount(CoreError): ...
class InvalidArgument(CoreError): ...
class BlockNotFound(CoreError):
    """A block asked for by hash that the chain does not have (geth: "header not found")."""

class BodyArchived(CoreError):
    """A read needs block bodies that are in the store only. args: (message, [block numbers]):
    load those records and hand them to `Chain.load_bodies`, then read again."""

    args: tuple[str, list[int]]

class ExecutionReverted(CoreError):
    """args: (message, revert data hex: Error(string))."""

def content_id(path: str | PathLike[str]) -> str:
    """blake3 of a file, hex: a model's content id."""

def encode_run_call(model_id: str, mode: int, numbers_json: str, strings_json: str) -> bytes: ...
def encode_completion_call(
    model_id: str, mode: int, prompt: str, max_tokens: int, stop: list[str] = ..., temperature: int = 0
) -> bytes: ...
def decode_result_log(topic0: str, data: str) -> str | None: ...
def revert_data_hex(reason: str) -> str: ...
def keccak256(data: bytes) -> bytes: ...
def dev_addresses(mnemonic: str, count: int) -> list[str]:
    """The first `count` dev accounts' checksummed addresses of `mnemonic`; InvalidArgument for a bad one."""
def sign_tee_response(key: bytes, request_hash: bytes, output_hash: bytes, timestamp_ms: int) -> bytes:
    """An enclave's signature of an answer, r ‖ s ‖ v (v 27/28), with its 32-byte secp256k1
    key over keccak256(request_hash ‖ output_hash ‖ uint256(timestamp_ms))."""
def split_job_numbers(payload_json: str) -> tuple[str, list[bytes]]:
    """A job payload with its number tensors decoded to float64 without the GIL: the payload
    JSON, each decoded tensor's `values` replaced by `"f64": i`, and the floats (little-endian
    float64 bytes) by i. Bit for bit `_floats_from_fixed`. InvalidArgument if not JSON."""
def address_of_key(key: bytes) -> str:
    """The checksummed address of a 32-byte secp256k1 private key; InvalidArgument otherwise."""
def verify_tee(
    *,
    attestation: bytes,
    response_signature: bytes,
    timestamp_ms: int,
    request_hash: str,
    output_hash: str,
    expected_pcrs: list[bytes],
    root_der: bytes,
    now_ms: int,
    delivered_request_hash: str,
    delivered_output_hash: str,
    max_attestation_age_ms: int = 600_000,
    max_clock_skew_ms: int = 5_000,
    cache: AttestationCache | None = None,
) -> str:
    """JSON: {"ok": true, "module_id", "attestation_timestamp_ms"} or {"ok": false, "reason", "detail"}.
    With `cache`, the attestation document is checked in full only the first time the cache
    sees it; then only the answer (root, validity now, PCRs, freshness, response signature,
    binding). Same verdicts either way."""

class AttestationCache:
    """Attested documents by the SHA-256 of their bytes (at most `capacity`, oldest evicted
    first), for `verify_tee(cache=...)`. Thread-safe."""

    def __init__(self, capacity: int = 256) -> None: ...
    def stats_json(self) -> str:
        """JSON: {"hits", "misses", "entries", "capacity", "evictions"}."""
    def clear(self) -> None:
        """Forgets every document (the counters stay)."""

class Mode:
    """A verification mode (the only table of modes: Python's others derive from it).
    Compares and hashes as its number (`Mode.ZKML == 1`); `int(m)` and `m.value` give the
    number, `m.name` and `str(m)` the name. On the wire a mode is its number."""

    VANILLA: Mode
    ZKML: Mode
    TEE: Mode
    OPTIMISTIC: Mode
    def __new__(cls, value: int | str) -> Mode:
        """By number or by name in any case: `Mode(2)`, `Mode("tee")`; InvalidArgument otherwise."""
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...
    @property
    def verification(self) -> str:
        """What backs a result of this mode, in words (the record's `verification`)."""
    @staticmethod
    def all() -> list[Mode]:
        """Every mode, by number."""
    @staticmethod
    def by_strength() -> list[Mode]:
        """From the cheapest and weakest guarantee to the dearest and strongest."""
    def __int__(self) -> int: ...
    def __index__(self) -> int: ...
    def __hash__(self) -> int: ...

class Status:
    """Where an inference stands: the record's `status`. Compares and hashes as its wire
    string (`Status.SETTLED == "settled"`); `s.value` and `str(s)` give it."""

    PENDING: Status
    RESULT_READY: Status
    FAILING: Status
    DELIVERED: Status
    CHALLENGEABLE: Status
    DISPUTED: Status
    SETTLED: Status
    REJECTED: Status
    SLASHED: Status
    FAILED: Status
    #: A runMany transaction as a whole: some calls still settling / every call final, not all settled.
    SETTLING: Status
    PARTLY_REJECTED: Status
    def __new__(cls, value: str) -> Status:
        """`Status("settled")`; InvalidArgument for a string that is no status."""
    @property
    def value(self) -> str: ...
    @property
    def is_final(self) -> bool:
        """settled, rejected, slashed, failed or partly_rejected: nothing more will happen."""
    @staticmethod
    def all() -> list[Status]: ...
    def __hash__(self) -> int: ...

class InferenceRecord:
    """A stored inference record (the JSON `og_getInference` returns), moved on by the core:
    the store applies each settlement step with it and saves `to_json()` as given."""

    @staticmethod
    def from_json(text: str) -> InferenceRecord:
        """InvalidArgument when `text` is not an inference record."""
    def to_json(self) -> str: ...
    def apply(self, step_json: str) -> None:
        """One settlement step of a later block (an item of a sealed block record's
        `settlements`): kept in `settlement_steps`, and applied (status, t_settled, trust gap,
        fee paid, slashed, dispute, penalties)."""
    def revert_to(self, head: int) -> None:
        """Undoes the settlement steps that blocks after `head` took (evm_revert)."""
    @property
    def id(self) -> str: ...
    @property
    def tx_hash(self) -> str: ...
    @property
    def mode(self) -> Mode: ...
    @property
    def status(self) -> Status: ...
    @property
    def t_settled(self) -> int | None: ...
    @property
    def trust_gap_ms(self) -> int | None: ...
    @property
    def last_step_block(self) -> int | None:
        """The block of the latest settlement step."""

def aggregate_inferences(tx_hash: str, calls: list[str]) -> str:
    """A runMany transaction's call records (JSON each, in call order) together, with the
    status of the whole: JSON {"tx_hash", "many": true, "status", "calls", "block_number",
    "t_request", "t_result", "t_settled", "trust_gap_ms"}."""

class PipeArgs(TypedDict):
    redundancy: int
    hedge_quantile: float
    hedge_multiple: NotRequired[float]
    hedge_budget: float
    hedge_floor_ms: int
    hedge_initial_ms: int
    timeout_floor_ms: int
    cooldown_ms: int
    route_by_latency: NotRequired[bool]

class Pipe:
    """The PIPE scheduler: node workers take attempts and complete them."""

    def node_addresses(self) -> list[str]: ...
    def take(self, node: int, timeout_ms: int) -> tuple[str, int, str] | None: ...
    def wait_decided(self, key: str, timeout_ms: int) -> bool:
        """Waits (wall clock, without the GIL) until every inference of `key` is decided."""
    def complete(
        self,
        node: int,
        job: str,
        attempt: int,
        output: str | None = None,
        error: str | None = None,
        bad_input: bool = False,
        proof: str | None = None,
    ) -> None: ...
    def set_tee(self, root_der: bytes, pcr0: bytes, pcr1: bytes) -> None:
        """TEE results are verified against this root (DER) and PCR0/PCR1, through an
        attestation cache the races and settlement share (`stats_json()["tee_attestations"]`)."""
    def decided_count(self) -> int: ...
    def wait_decided_change(self, last: int, timeout_ms: int) -> int:
        """Waits (wall clock, without the GIL) until the decided count differs from `last`, or
        something else may call for a block (a proof or challenge handed to the chain, a
        penalty, a new mining mode), or `timeout_ms` pass; returns the decided count."""
    def is_wanted(self, job: str, attempt: int) -> bool: ...
    def set_fault(self, node: int, fault: str) -> bool: ...
    def job_json(self, tx_hash: str) -> str | None:
        """The inference record (JSON) of a transaction PIPE still holds; for runMany, its
        calls' records together (as `aggregate_inferences` gives them)."""
    def stats_json(self) -> str:
        """og_pipeStats: jobs, hedges, nodes, models; `tee_attestations` (null until `set_tee`):
        the attestation cache's {"hits", "misses", "entries", "capacity", "evictions"}."""
    def start_scheduler(self) -> None: ...
    def stop_scheduler(self) -> None: ...

class SealedBlock:
    """A block that was sealed and awaits its commit to the store."""

    number: int
    hash: str
    timestamp_ms: int
    tx_count: int
    #: JSON: {"state_changes": [[address, account]], "block": <RPC block, full txs without
    #: their input>, "receipts": [...],
    #: "inferences": [<inference record at inclusion; LLM answers a batch settled, delivered>],
    #: "challenge_window", "settlements":
    #: [<settlement step>], "deliveries": [<delivery to prove or watch>], "unsettled"?: [...]}
    record: str
    #: JSON of the block as the store keeps it (header, raw transactions, receipts, state and
    #: EVM changes, settlements): saved as made, read back by the archive.
    stored: str

class ChainConfig(TypedDict, total=False):
    """Every setting a chain is made from, in one dict. Required: chain_id, mnemonic,
    accounts, balance (wei), base_fee, gas_limit. A resumed chain passes the genesis fields,
    economics_json and contracts_json saved when it was made."""

    chain_id: Required[int]
    mnemonic: Required[str]
    accounts: Required[int]
    balance: Required[int]
    base_fee: Required[int]
    gas_limit: Required[int]
    timestamp_ms: int
    base_fee_change: bool
    genesis_json: str | None
    mining: MiningModeName
    block_time_ms: int
    nodes: int
    pipe: PipeArgs | None
    challenge_window: int
    body_window: int
    hardfork: str
    #: Blocks a shared LLM settlement batch waits before its transaction may be included (3).
    llm_batch_blocks: int
    economics_json: str | None
    contracts_json: str | None

class Chain:
    def __init__(self, config: ChainConfig) -> None: ...
    @staticmethod
    def restore(
        config: ChainConfig, *, blocks: Iterable[str], state: list[tuple[str, int, int]], deliveries_json: str | None = None
    ) -> Chain:
        """`blocks` (stored records, block 0 first) is read once; only the last
        `body_window` records are decoded in full."""
    @property
    def chain_id(self) -> int: ...
    @property
    def base_fee(self) -> int:
        """The base fee of the next block."""
    @property
    def gas_limit(self) -> int: ...
    def head(self) -> int: ...
    def resolve_block(self, tag: BlockTag) -> int:
        """The number of the block `tag` names; BlockNotFound for an unknown hash."""
    def genesis_contracts_json(self) -> str:
        """Code and storage from genesis, as a geth `alloc` object (JSON)."""
    def economics_json(self) -> str:
        """Prices, multipliers, stakes and bonds fixed at genesis (amounts as 0x-hex)."""
    def inference_fee(self, model_id: str, mode: int) -> int: ...
    @property
    def challenge_window(self) -> int: ...
    def watcher(self) -> str: ...
    @staticmethod
    def stake_address(node: str) -> str:
        """Where a node's stake is held (an account like any other)."""
    def unsettled_json(self) -> str:
        """Verifiable results delivered and not yet settled (JSON list)."""
    def submit_proof(self, id: str, proof: str, t_ms: int, rejection: str | None = None, node_at_fault: bool = True) -> None:
        """A ZKML proof with the full node's verdict (None: it holds); settled next block.
        `node_at_fault` False: no proof could be made through no lie of the node's."""
    def settlement_due(self, now_ms: int) -> bool:
        """Whether the next block would take a settlement step (automine seals one for it)."""
    def saved_deliveries_json(self) -> str:
        """Unsettled results in full, as saved with each block and restored after a restart."""
    def challenge(self, id: str, output: str, t_ms: int) -> None:
        """The watcher challenges an OPTIMISTIC result with its own execution's output."""
    def referee(self, id: str, output: str) -> None:
        """The referee's re-execution of a disputed result; the next block slashes the loser."""
    def pipe(self) -> Pipe: ...
    def register_model(self, spec_json: str) -> None: ...
    def models_json(self) -> str: ...
    def set_price_feed(self, pair: str, csv_text: str) -> None: ...
    def enqueue_due_tasks(self, now_ms: int) -> list[str]: ...
    def next_task_due_ms(self, now_ms: int) -> int | None: ...
    def workflows_json(self, recent: int = 20, task_id: int | None = None) -> str: ...
    def register_enclave(self, record_json: str) -> str: ...
    def submit_llm_inference(self, submission_json: str) -> tuple[str, str | None]:
        """Puts an LLM gateway's signed answer in a settlement batch; returns (record id, hash
        of the batch transaction that will settle it, None for a private answer). JSON fields:
        tee_id, request_hash, output_hash (0x-hex 32 bytes), timestamp (unix s, as signed),
        signature (0x-hex RSA-PSS), settlement_type ("batch" | "individual" | "private"),
        model_id, kind ("chat" | "completion"), input, output (any JSON), t_request_ms,
        t_result_ms, node (operator address), node_index (int | None), payment ({payer,
        amount: decimal str, tx_hash?} | None). Verified by the full node when the batch
        executes: a bad answer is rejected and its node loses the bond."""
    def llm_inference_json(self, key: str) -> str | None:
        """A live LLM answer (JSON) by record id, or its batch's records together by the batch
        transaction's hash; None once its block is published (the store has it)."""
    @staticmethod
    def llm_accounts() -> tuple[str, str]:
        """(sender of shared batches, sender of individual and private batches)."""
    def inference_payload(self, to: str, data: str) -> str | None: ...
    def dev_accounts(self) -> list[tuple[str, str]]: ...
    @staticmethod
    def scheduler_account() -> str: ...
    @staticmethod
    def native_contracts() -> list[tuple[str, str]]: ...
    def balance(self, address: str, tag: BlockTag) -> int: ...
    def nonce(self, address: str, tag: BlockTag) -> int: ...
    def code(self, address: str, tag: BlockTag = "latest") -> str: ...
    def storage_at(self, address: str, slot: int, tag: BlockTag) -> str:
        """The 32-byte word in `slot`, 0x-hex."""
    def accounts(self) -> list[tuple[str, int, int]]: ...
    # Reads of blocks, transactions, receipts, logs and fee history raise BodyArchived when
    # they need bodies that left memory: call them through `og_devnet.store.archive.ArchivedReads`.
    def block_json(self, tag: BlockTag, full: bool) -> str | None:
        """"pending": the pending block (hash, nonce and miner null, as geth shows it)."""
    def block_receipts_json(self, tag: BlockTag) -> str | None:
        """Every receipt of a sealed block (JSON list); None for pending or no such block."""
    def block_transaction_json(self, tag: BlockTag, index: int) -> str | None: ...
    def raw_block_transaction(self, tag: BlockTag, index: int) -> str | None: ...
    def raw_transaction(self, hash: str) -> str | None: ...
    def fee_history_json(self, count: int, newest: BlockTag, percentiles: list[float]) -> str: ...
    def block_by_hash_json(self, hash: str, full: bool) -> str | None: ...
    def transaction_json(self, hash: str) -> str | None: ...
    def receipt_json(self, hash: str) -> str | None: ...
    def logs_json(
        self,
        *,
        from_block: BlockTag,
        to_block: BlockTag,
        block_hash: str | None = None,
        addresses: list[str] = ...,
        topics: list[list[str] | None] = ...,
    ) -> str: ...
    def load_bodies(self, records: list[tuple[int, str]]) -> int:
        """Archived bodies read back from the store, [(number, stored JSON)], into a small
        cache so the read that raised BodyArchived can be retried; returns how many were taken
        (a record that is not this chain's archived block is left out)."""
    @property
    def body_window(self) -> int:
        """How many recent published blocks keep their bodies in memory."""
    def pool_counts(self) -> tuple[int, int]: ...
    def submit_raw(self, raw: bytes) -> str: ...
    def submit_raw_batch(self, raws: list[bytes]) -> list[str | BaseException]:
        """`submit_raw` for each, in order, in one call (GIL released, senders recovered in
        parallel before the chain lock): per transaction its hash, or the exception
        `submit_raw` would have raised for it alone."""
    def send_transaction(self, request: dict[str, Any]) -> str: ...
    def sign_transaction(self, request: dict[str, Any]) -> str:
        """The raw signed transaction (0x-hex), filled in as send_transaction fills it."""
    def sign_message(self, address: str, message: bytes) -> str:
        """EIP-191 personal-message signature, 65 bytes 0x-hex (v = 27/28)."""
    def sign_typed_data(self, address: str, typed_json: str) -> str:
        """EIP-712 signature of typed data (JSON), 65 bytes 0x-hex."""
    def estimate_gas(self, request: dict[str, Any]) -> int: ...
    def call(self, request: dict[str, Any], tag: BlockTag) -> str:
        """eth_call: return data hex; ExecutionReverted (message, revert data) on a revert."""
    def call_or_dispatch(self, request: dict[str, Any], tag: BlockTag) -> tuple[str | None, str | None]:
        """eth_call: (data, None), or (None, key) when the call makes inference calls, which
        now race on PIPE under `key` (VANILLA, no fee): wait, then `call_served(key)`."""
    def call_served(self, key: str) -> str: ...
    def call_abandon(self, key: str) -> None: ...
    def set_hardfork(self, name: str) -> None:
        """The hard fork transactions run under: london, shanghai, cancun, prague, osaka."""
    def impersonate(self, address: str, on: bool) -> None:
        """anvil_impersonateAccount (on) / anvil_stopImpersonatingAccount (off)."""
    def create_access_list(self, request: dict[str, Any], tag: BlockTag) -> tuple[list[tuple[str, list[str]]], int]:
        """eth_createAccessList: the accounts and slots the call touches, and its gas with them."""
    def trace_transaction(self, hash: str, options_json: str | None = None) -> str:
        """debug_traceTransaction: geth's trace (JSON) for callTracer, prestateTracer or the
        default struct logger, per `options_json` (geth's tracing options)."""
    def trace_block(self, tag: BlockTag, options_json: str | None = None) -> str:
        """debug_traceBlockByNumber/ByHash: JSON list of {txHash, result}."""
    def trace_call(self, request: dict[str, Any], tag: BlockTag, options_json: str | None = None) -> str: ...
    def set_code(self, address: str, code: str) -> None:
        """anvil_setCode, from the next block on; empty code removes it."""
    def set_storage_at(self, address: str, slot: int, value: int) -> None: ...
    def increase_time(self, seconds: int) -> int:
        """evm_increaseTime: returns the EVM clock's total offset in seconds."""
    def set_next_block_timestamp(self, timestamp: int) -> None: ...
    def drop_transaction(self, hash: str) -> bool: ...
    def seal_block(self, now_ms: int) -> SealedBlock: ...
    def genesis_block(self) -> SealedBlock:
        """The genesis block, as a sealed block is, to store it the first time."""
    def publish(self, number: int) -> None: ...
    def discard_staged(self) -> None: ...
    def snapshot(self) -> int: ...
    def snapshot_state(self, id: int) -> tuple[int, list[tuple[str, int, int]]] | None: ...
    def revert(self, id: int) -> bool: ...
    def set_balance(self, address: str, balance: int) -> tuple[int, int]: ...
    def set_nonce(self, address: str, nonce: int) -> tuple[int, int]: ...
    def mining_mode(self) -> tuple[MiningModeName, int]: ...
    def set_mining_mode(self, mode: MiningModeName, block_time_ms: int = 0) -> None: ...
    def next_block_due(self, now_ms: int) -> int | None: ...
