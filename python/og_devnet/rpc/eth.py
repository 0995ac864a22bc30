"""Standard Ethereum methods: eth_*, net_*, web3_*."""

from __future__ import annotations

from typing import Any

import orjson

from og_devnet import __version__
from og_devnet.errors import InvalidParams, WrongChainId, reverted
from og_devnet.inference.runtimes import InferenceError
from og_devnet.rpc import params as p
from og_devnet.rpc.registry import RpcContext, method


def _json(s: str | None) -> Any:
    return None if s is None else orjson.loads(s)


@method("eth_chainId")
def chain_id(ctx: RpcContext, params: list[Any]) -> str:
    return hex(ctx.node.chain.chain_id)


@method("net_version")
def net_version(ctx: RpcContext, params: list[Any]) -> str:
    return str(ctx.node.chain.chain_id)


@method("net_listening")
def net_listening(ctx: RpcContext, params: list[Any]) -> bool:
    return True


@method("net_peerCount")
def net_peer_count(ctx: RpcContext, params: list[Any]) -> str:
    return "0x0"


@method("web3_clientVersion")
def client_version(ctx: RpcContext, params: list[Any]) -> str:
    return f"og-devnet/v{__version__}"


@method("eth_syncing")
def syncing(ctx: RpcContext, params: list[Any]) -> bool:
    return False


@method("eth_mining")
def mining(ctx: RpcContext, params: list[Any]) -> bool:
    return ctx.node.chain.mining_mode()[0] != "manual"


@method("eth_blockNumber")
def block_number(ctx: RpcContext, params: list[Any]) -> str:
    return hex(ctx.node.chain.head())


@method("eth_accounts")
def accounts(ctx: RpcContext, params: list[Any]) -> list[str]:
    return [a for a, _ in ctx.node.chain.dev_accounts()]


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
    p.block_tag(p.arg(params, 1, "block", required=False, default="latest"))
    return ctx.node.chain.code(address)


@method("eth_getStorageAt")
def get_storage_at(ctx: RpcContext, params: list[Any]) -> str:
    p.address(p.arg(params, 0, "address"), "address")
    p.quantity(p.arg(params, 1, "slot"), "slot")
    return "0x" + "00" * 32


@method("eth_gasPrice")
def gas_price(ctx: RpcContext, params: list[Any]) -> str:
    # Base fee plus the suggested tip, so a legacy tx at this price is mined promptly.
    return hex(ctx.node.chain.base_fee + ctx.node.suggested_tip)


@method("eth_maxPriorityFeePerGas")
def max_priority_fee(ctx: RpcContext, params: list[Any]) -> str:
    return hex(ctx.node.suggested_tip)


@method("eth_feeHistory")
def fee_history(ctx: RpcContext, params: list[Any]) -> dict[str, Any]:
    count = p.quantity(p.arg(params, 0, "blockCount"), "blockCount")
    if not 1 <= count <= 1024:
        raise InvalidParams("blockCount must be between 1 and 1024")
    newest = p.block_tag(p.arg(params, 1, "newestBlock"))
    percentiles = p.arg(params, 2, "rewardPercentiles", required=False, default=[])
    if not isinstance(percentiles, list) or not all(isinstance(x, (int, float)) and 0 <= x <= 100 for x in percentiles):
        raise InvalidParams("rewardPercentiles must be a list of numbers in [0, 100]")
    if percentiles != sorted(percentiles):
        raise InvalidParams("rewardPercentiles must be increasing")
    chain = ctx.node.chain
    block = _json(chain.block_json(newest, False))
    if block is None:
        raise InvalidParams(f"block {newest} does not exist")
    newest_n = int(block["number"], 16)
    oldest = max(0, newest_n - count + 1)
    ratios = []
    for n in range(oldest, newest_n + 1):
        b = _json(chain.block_json(n, False))
        ratios.append(int(b["gasUsed"], 16) / int(b["gasLimit"], 16))
    base = hex(chain.base_fee)
    out: dict[str, Any] = {
        "oldestBlock": hex(oldest),
        # One more than the blocks: the base fee of the block after the newest.
        "baseFeePerGas": [base] * (len(ratios) + 1),
        "gasUsedRatio": ratios,
    }
    if percentiles:
        out["reward"] = [[hex(ctx.node.suggested_tip)] * len(percentiles) for _ in ratios]
    return out


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
    p.block_tag(p.arg(params, 1, "block", required=False, default="latest"))
    gas = ctx.node.chain.estimate_gas(req)
    _check_prompt_fits(ctx, req)
    return hex(gas)


@method("eth_call")
def call(ctx: RpcContext, params: list[Any]) -> str:
    req = p.tx_request(p.arg(params, 0, "transaction"))
    tag = p.block_tag(p.arg(params, 1, "block", required=False, default="latest"))
    _check_prompt_fits(ctx, req)
    return ctx.node.chain.call(req, tag)


@method("eth_sendRawTransaction")
def send_raw_transaction(ctx: RpcContext, params: list[Any]) -> str:
    raw = p.raw_bytes(p.arg(params, 0, "signedTransaction"), "signedTransaction")
    tx_hash = ctx.node.chain.submit_raw(raw)
    ctx.submitted = True
    ctx.node.tx_pooled(tx_hash)
    return tx_hash


@method("eth_sendTransaction")
def send_transaction(ctx: RpcContext, params: list[Any]) -> str:
    req = p.tx_request(p.arg(params, 0, "transaction"))
    if "from" not in req:
        raise InvalidParams("transaction.from is required")
    if req.get("chainId", ctx.node.chain.chain_id) != ctx.node.chain.chain_id:
        raise WrongChainId(f"wrong chain id: this devnet is chain {ctx.node.chain.chain_id}, the transaction is for {req['chainId']}")
    tx_hash = ctx.node.chain.send_transaction(req)
    ctx.submitted = True
    ctx.node.tx_pooled(tx_hash)
    return tx_hash


@method("eth_getTransactionByHash")
def get_transaction_by_hash(ctx: RpcContext, params: list[Any]) -> Any:
    return _json(ctx.node.chain.transaction_json(p.hash32(p.arg(params, 0, "hash"), "hash")))


@method("eth_getTransactionReceipt")
def get_transaction_receipt(ctx: RpcContext, params: list[Any]) -> Any:
    return _json(ctx.node.chain.receipt_json(p.hash32(p.arg(params, 0, "hash"), "hash")))


def _full(params: list[Any]) -> bool:
    full = p.arg(params, 1, "fullTransactions", required=False, default=False)
    if not isinstance(full, bool):
        raise InvalidParams(f"fullTransactions: expected true or false, got {full!r}")
    return full


@method("eth_getBlockByNumber")
def get_block_by_number(ctx: RpcContext, params: list[Any]) -> Any:
    tag = p.block_tag(p.arg(params, 0, "block"))
    return _json(ctx.node.chain.block_json(tag, _full(params)))


@method("eth_getBlockByHash")
def get_block_by_hash(ctx: RpcContext, params: list[Any]) -> Any:
    block_hash = p.hash32(p.arg(params, 0, "hash"), "hash")
    return _json(ctx.node.chain.block_by_hash_json(block_hash, _full(params)))


@method("eth_getBlockTransactionCountByNumber")
def block_tx_count(ctx: RpcContext, params: list[Any]) -> Any:
    block = _json(ctx.node.chain.block_json(p.block_tag(p.arg(params, 0, "block")), False))
    return None if block is None else hex(len(block["transactions"]))


def _topics(v: Any) -> list[list[str] | None]:
    if not isinstance(v, list) or len(v) > 4:
        raise InvalidParams("filter.topics: expected a list of at most 4 entries")
    out: list[list[str] | None] = []
    for i, t in enumerate(v):
        if t is None:
            out.append(None)
        elif isinstance(t, list):
            out.append([p.hash32(x, f"filter.topics[{i}]") for x in t])
        else:
            out.append([p.hash32(t, f"filter.topics[{i}]")])
    return out


@method("eth_getLogs")
def get_logs(ctx: RpcContext, params: list[Any]) -> Any:
    f = p.arg(params, 0, "filter")
    if not isinstance(f, dict):
        raise InvalidParams("filter: expected an object")
    block_hash = f.get("blockHash")
    if block_hash is not None and ("fromBlock" in f or "toBlock" in f):
        raise InvalidParams("filter: blockHash cannot be combined with fromBlock/toBlock")
    addresses = f.get("address") or []
    if isinstance(addresses, str):
        addresses = [addresses]
    return orjson.loads(
        ctx.node.chain.logs_json(
            from_block=p.block_tag(f.get("fromBlock", "latest"), "filter.fromBlock"),
            to_block=p.block_tag(f.get("toBlock", "latest"), "filter.toBlock"),
            block_hash=None if block_hash is None else p.hash32(block_hash, "filter.blockHash"),
            addresses=[p.address(a, "filter.address") for a in addresses],
            topics=_topics(f.get("topics") or []),
        )
    )
