"""Standard Ethereum methods: eth_*, net_*, web3_* (those that read only the chain's identity and
head are in `early`)."""

from __future__ import annotations

from typing import Any

import orjson

from og_devnet.errors import CallTimeout, InvalidParams, WrongChainId, reverted
from og_devnet.inference.runtimes import InferenceError
from og_devnet.rpc import params as p
from og_devnet.rpc.registry import RpcContext, method


def _json(s: str | None) -> Any:
    return None if s is None else orjson.loads(s)


@method("net_peerCount")
def net_peer_count(ctx: RpcContext, params: list[Any]) -> str:
    return "0x0"


@method("eth_mining")
def mining(ctx: RpcContext, params: list[Any]) -> bool:
    return ctx.node.chain.mining_mode()[0] != "manual"


@method("eth_getBalance")
def get_balance(ctx: RpcContext, params: list[Any]) -> str:
    address = p.address(p.arg(params, 0, "address"), "address")
    tag = p.block_tag(p.arg(params, 1, "block", required=False, default="latest"))
    return hex(ctx.node.chain.balance(address, tag))


@method("eth_getTransactionCount")
def get_transaction_count(ctx: RpcContext, params: list[Any]) -> str:
    address = p.address(p.arg(params, 0, "address"), "address")
    tag = p.block_tag(p.arg(params, 1, "block", required=False, default="latest"))
    return hex(ctx.node.chain.nonce(address, tag))


@method("eth_getCode")
def get_code(ctx: RpcContext, params: list[Any]) -> str:
    address = p.address(p.arg(params, 0, "address"), "address")
    tag = p.block_tag(p.arg(params, 1, "block", required=False, default="latest"))
    return ctx.node.chain.code(address, tag)


@method("eth_getStorageAt")
def get_storage_at(ctx: RpcContext, params: list[Any]) -> str:
    address = p.address(p.arg(params, 0, "address"), "address")
    slot = p.quantity(p.arg(params, 1, "slot"), "slot")
    tag = p.block_tag(p.arg(params, 2, "block", required=False, default="latest"))
    return ctx.node.chain.storage_at(address, slot, tag)


@method("eth_gasPrice")
def gas_price(ctx: RpcContext, params: list[Any]) -> str:
    # The next block's base fee plus the suggested tip, so a legacy tx at this price is mined
    # promptly.
    return hex(ctx.node.chain.base_fee + ctx.node.suggested_tip)


@method("eth_blobBaseFee")
def blob_base_fee(ctx: RpcContext, params: list[Any]) -> str:
    # The chain carries no blobs.
    return "0x0"


@method("eth_maxPriorityFeePerGas")
def max_priority_fee(ctx: RpcContext, params: list[Any]) -> str:
    return hex(ctx.node.suggested_tip)


@method("eth_feeHistory")
def fee_history(ctx: RpcContext, params: list[Any]) -> Any:
    count = p.quantity(p.arg(params, 0, "blockCount"), "blockCount")
    if not 1 <= count <= 1024:
        raise InvalidParams("blockCount must be between 1 and 1024")
    newest = p.block_number(p.arg(params, 1, "newestBlock"), "newestBlock")
    percentiles = p.arg(params, 2, "rewardPercentiles", required=False, default=[])
    if not isinstance(percentiles, list) or not all(
        isinstance(x, (int, float)) and not isinstance(x, bool) and 0 <= x <= 100 for x in percentiles
    ):
        raise InvalidParams("rewardPercentiles must be a list of numbers in [0, 100]")
    if percentiles != sorted(percentiles):
        raise InvalidParams("rewardPercentiles must be increasing")
    return orjson.loads(ctx.node.read(ctx.node.chain.fee_history_json, count, newest, [float(x) for x in percentiles]))


def _check_prompt_fits(ctx: RpcContext, req: dict[str, Any]) -> None:
    """Language-model calls: the prompt must fit the context window. Only the node with the
    tokenizer can tell, so this check lives here rather than in the chain."""
    if "to" not in req or "data" not in req:
        return
    payload = ctx.node.chain.inference_payload(req["to"], req["data"])
    if payload is None:
        return
    job = orjson.loads(payload)
    llm = ctx.node.catalog.language_model(job["model_id"]) if job["kind"] != "model" else None
    if llm is not None:
        try:
            llm.check_fits(job)
        except InferenceError as e:
            raise reverted(str(e)) from None


@method("eth_estimateGas")
def estimate_gas(ctx: RpcContext, params: list[Any]) -> str:
    req = p.tx_request(p.arg(params, 0, "transaction"))
    ctx.node.chain.resolve_block(p.block_tag(p.arg(params, 1, "block", required=False, default="latest")))
    gas = ctx.node.chain.estimate_gas(req)
    _check_prompt_fits(ctx, req)
    return hex(gas)


@method("eth_createAccessList")
def create_access_list(ctx: RpcContext, params: list[Any]) -> dict[str, Any]:
    req = p.tx_request(p.arg(params, 0, "transaction"))
    tag = p.block_tag(p.arg(params, 1, "block", required=False, default="latest"))
    _check_prompt_fits(ctx, req)
    entries, gas = ctx.node.chain.create_access_list(req, tag)
    return {"accessList": [{"address": a, "storageKeys": keys} for a, keys in entries], "gasUsed": hex(gas)}


@method("eth_call")
def call(ctx: RpcContext, params: list[Any]) -> str:
    req = p.tx_request(p.arg(params, 0, "transaction"))
    tag = p.block_tag(p.arg(params, 1, "block", required=False, default="latest"))
    _check_prompt_fits(ctx, req)
    chain = ctx.node.chain
    data, key = chain.call_or_dispatch(req, tag)
    if key is None:
        return data  # type: ignore[return-value]
    # The call makes inference calls: they race on PIPE (VANILLA, no fee), then the call runs
    # again with their results. The wait releases the GIL and holds no lock.
    timeout = ctx.node.settings.call_timeout
    if not chain.pipe().wait_decided(key, int(timeout * 1000)):
        chain.call_abandon(key)
        raise CallTimeout(f"eth_call: its inference did not finish within {timeout:g} s (--call-timeout)")
    return chain.call_served(key)


def raw_transaction_param(params: list[Any]) -> bytes:
    """The signed transaction an eth_sendRawTransaction request carries."""
    return p.raw_bytes(p.arg(params, 0, "signedTransaction"), "signedTransaction")


@method("eth_sendRawTransaction")
def send_raw_transaction(ctx: RpcContext, params: list[Any]) -> str:
    raw = raw_transaction_param(params)
    tx_hash = ctx.node.chain.submit_raw(raw)
    ctx.submitted = True
    ctx.node.tx_pooled(tx_hash, raw)
    return tx_hash


def send_raw_transactions(ctx: RpcContext, raws: list[bytes]) -> list[str | BaseException]:
    """eth_sendRawTransaction for each of `raws`, in order, in one call to the chain (senders
    recovered in parallel, the GIL released): per transaction its hash, or the exception the
    single call would have raised. Each pooled one has the single call's effects."""
    results = ctx.node.chain.submit_raw_batch(raws)
    for raw, r in zip(raws, results):
        if isinstance(r, str):
            ctx.submitted = True
            ctx.node.tx_pooled(r, raw)
    return results


def _to_sign(ctx: RpcContext, params: list[Any]) -> dict[str, Any]:
    """The transaction a dev account asks the node to sign (eth_sendTransaction,
    eth_signTransaction)."""
    req = p.tx_request(p.arg(params, 0, "transaction"))
    if "from" not in req:
        raise InvalidParams("transaction.from is required")
    if req.get("chainId", ctx.node.chain.chain_id) != ctx.node.chain.chain_id:
        raise WrongChainId(f"wrong chain id: this devnet is chain {ctx.node.chain.chain_id}, the transaction is for {req['chainId']}")
    return req


@method("eth_sendTransaction")
def send_transaction(ctx: RpcContext, params: list[Any]) -> str:
    req = _to_sign(ctx, params)
    tx_hash = ctx.node.chain.send_transaction(req)
    ctx.submitted = True
    ctx.node.tx_pooled(tx_hash)
    return tx_hash


@method("eth_signTransaction")
def sign_transaction(ctx: RpcContext, params: list[Any]) -> str:
    # The raw signed transaction, as anvil returns it and ethers and viem expect (geth wraps
    # it as {"raw", "tx"}).
    return ctx.node.chain.sign_transaction(_to_sign(ctx, params))


@method("eth_sign")
def sign(ctx: RpcContext, params: list[Any]) -> str:
    # geth's order: [address, data]; the data is signed as an EIP-191 personal message.
    address = p.address(p.arg(params, 0, "address"), "address")
    message = p.raw_bytes(p.arg(params, 1, "message"), "message")
    return ctx.node.chain.sign_message(address, message)


# web3.py's `sign_typed_data` calls eth_signTypedData with the same v4 payload.
@method("eth_signTypedData_v4", "eth_signTypedData")
def sign_typed_data(ctx: RpcContext, params: list[Any]) -> str:
    address = p.address(p.arg(params, 0, "address"), "address")
    typed = p.arg(params, 1, "typedData")
    if isinstance(typed, dict):
        typed = orjson.dumps(typed).decode()
    elif not isinstance(typed, str):  # ethers, viem and MetaMask send a JSON string
        raise InvalidParams(f"typedData: expected an EIP-712 object (types, primaryType, domain, message), got {typed!r}")
    return ctx.node.chain.sign_typed_data(address, typed)


@method("eth_getTransactionByHash")
def get_transaction_by_hash(ctx: RpcContext, params: list[Any]) -> Any:
    return _json(ctx.node.read(ctx.node.chain.transaction_json, p.hash32(p.arg(params, 0, "hash"), "hash")))


@method("eth_getTransactionReceipt")
def get_transaction_receipt(ctx: RpcContext, params: list[Any]) -> Any:
    return _json(ctx.node.read(ctx.node.chain.receipt_json, p.hash32(p.arg(params, 0, "hash"), "hash")))


@method("eth_getRawTransactionByHash")
def get_raw_transaction_by_hash(ctx: RpcContext, params: list[Any]) -> str | None:
    return ctx.node.read(ctx.node.chain.raw_transaction, p.hash32(p.arg(params, 0, "hash"), "hash"))


def _block_and_index(params: list[Any], by_hash: bool) -> tuple[int | str, int]:
    first = p.arg(params, 0, "blockHash" if by_hash else "block")
    block = p.hash32(first, "blockHash") if by_hash else p.block_tag(first)
    return block, p.index(p.arg(params, 1, "index"))


@method("eth_getTransactionByBlockHashAndIndex")
def get_transaction_by_block_hash_and_index(ctx: RpcContext, params: list[Any]) -> Any:
    return _json(ctx.node.read(ctx.node.chain.block_transaction_json, *_block_and_index(params, by_hash=True)))


@method("eth_getTransactionByBlockNumberAndIndex")
def get_transaction_by_block_number_and_index(ctx: RpcContext, params: list[Any]) -> Any:
    return _json(ctx.node.read(ctx.node.chain.block_transaction_json, *_block_and_index(params, by_hash=False)))


@method("eth_getRawTransactionByBlockHashAndIndex")
def get_raw_transaction_by_block_hash_and_index(ctx: RpcContext, params: list[Any]) -> str | None:
    return ctx.node.read(ctx.node.chain.raw_block_transaction, *_block_and_index(params, by_hash=True))


@method("eth_getRawTransactionByBlockNumberAndIndex")
def get_raw_transaction_by_block_number_and_index(ctx: RpcContext, params: list[Any]) -> str | None:
    return ctx.node.read(ctx.node.chain.raw_block_transaction, *_block_and_index(params, by_hash=False))


@method("eth_getBlockReceipts")
def get_block_receipts(ctx: RpcContext, params: list[Any]) -> Any:
    return _json(ctx.node.read(ctx.node.chain.block_receipts_json, p.block_tag(p.arg(params, 0, "block"))))


def _full(params: list[Any]) -> bool:
    full = p.arg(params, 1, "fullTransactions", required=False, default=False)
    if not isinstance(full, bool):
        raise InvalidParams(f"fullTransactions: expected true or false, got {full!r}")
    return full


@method("eth_getBlockByNumber")
def get_block_by_number(ctx: RpcContext, params: list[Any]) -> Any:
    tag = p.block_tag(p.arg(params, 0, "block"))
    return _json(ctx.node.read(ctx.node.chain.block_json, tag, _full(params)))


@method("eth_getBlockByHash")
def get_block_by_hash(ctx: RpcContext, params: list[Any]) -> Any:
    block_hash = p.hash32(p.arg(params, 0, "hash"), "hash")
    return _json(ctx.node.read(ctx.node.chain.block_by_hash_json, block_hash, _full(params)))


def _tx_count(ctx: RpcContext, tag: int | str) -> str | None:
    block = _json(ctx.node.read(ctx.node.chain.block_json, tag, False))
    return None if block is None else hex(len(block["transactions"]))


@method("eth_getBlockTransactionCountByNumber")
def block_tx_count(ctx: RpcContext, params: list[Any]) -> str | None:
    return _tx_count(ctx, p.block_tag(p.arg(params, 0, "block")))


@method("eth_getBlockTransactionCountByHash")
def block_tx_count_by_hash(ctx: RpcContext, params: list[Any]) -> str | None:
    return _tx_count(ctx, p.hash32(p.arg(params, 0, "blockHash"), "blockHash"))


def _topics(v: Any) -> list[list[str] | None]:
    """filter.topics, parsed strictly (shared with rpc/filters.py)."""
    return p.topics(v, "filter.topics")


@method("eth_getLogs")
def get_logs(ctx: RpcContext, params: list[Any]) -> Any:
    return orjson.loads(ctx.node.read(ctx.node.chain.logs_json, **p.log_filter(p.arg(params, 0, "filter"))))
