"""Development methods in the anvil/hardhat tradition."""

from __future__ import annotations

from typing import Any

from og_devnet.errors import InvalidParams
from og_devnet.rpc import params as p
from og_devnet.rpc.registry import RpcContext, method

#: Upper bound for the blocks one request mines (anvil_mine/hardhat_mine, evm_mine; a batch
#: counts as one request), so a typo or a batch of them cannot wedge the node.
MAX_MINE = 10_000
MINED = "blocks mined"


@method("evm_mine")
def evm_mine(ctx: RpcContext, params: list[Any]) -> str:
    ts = p.arg(params, 0, "timestamp", required=False)
    if isinstance(ts, dict):  # ganache-style {"timestamp": ..., "blocks": n}
        raise InvalidParams("evm_mine: options objects are not supported; use anvil_mine(count)")
    if ts is not None:
        # As anvil and hardhat: the mined block gets this timestamp.
        ctx.node.chain.set_next_block_timestamp(p.quantity(ts, "timestamp", p.U64))
    ctx.spend(MINED, 1, MAX_MINE)
    ctx.node.mine(1)
    return "0x0"


@method("anvil_mine", "hardhat_mine")
def anvil_mine(ctx: RpcContext, params: list[Any]) -> None:
    count = p.quantity(p.arg(params, 0, "blocks", required=False, default="0x1"), "blocks")
    if not 1 <= count <= MAX_MINE:
        raise InvalidParams(f"blocks must be between 1 and {MAX_MINE}")
    if p.arg(params, 1, "interval", required=False) is not None:
        raise InvalidParams("anvil_mine: an interval between timestamps is not supported")
    ctx.spend(MINED, count, MAX_MINE)
    ctx.node.mine(count)
    return None


@method("evm_setAutomine")
def set_automine(ctx: RpcContext, params: list[Any]) -> None:
    on = p.arg(params, 0, "enabled")
    if not isinstance(on, bool):
        raise InvalidParams(f"enabled: expected true or false, got {on!r}")
    ctx.node.set_mining_mode("auto" if on else "manual")


@method("anvil_getAutomine", "hardhat_getAutomine")
def get_automine(ctx: RpcContext, params: list[Any]) -> bool:
    return ctx.node.chain.mining_mode()[0] == "auto"


@method("evm_setIntervalMining")
def set_interval_mining(ctx: RpcContext, params: list[Any]) -> None:
    # anvil takes seconds, hardhat milliseconds; 0 disables interval mining (manual).
    v = p.arg(params, 0, "interval")
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 86_400:
        raise InvalidParams(f"interval: expected seconds between 0 and 86400, got {v!r}")
    if v == 0:
        ctx.node.set_mining_mode("manual")
    else:
        ctx.node.set_mining_mode("interval", block_time=float(v))


@method("anvil_setIntervalMining")
def anvil_set_interval_mining(ctx: RpcContext, params: list[Any]) -> None:
    set_interval_mining(ctx, params)


@method("evm_snapshot", "anvil_snapshot")
def snapshot(ctx: RpcContext, params: list[Any]) -> str:
    return hex(ctx.node.snapshot())


@method("evm_revert", "anvil_revert")
def revert(ctx: RpcContext, params: list[Any]) -> bool:
    return ctx.node.revert(p.quantity(p.arg(params, 0, "snapshotId"), "snapshotId", p.U64))


@method("anvil_setBalance", "hardhat_setBalance")
def set_balance(ctx: RpcContext, params: list[Any]) -> None:
    address = p.address(p.arg(params, 0, "address"), "address")
    balance = p.quantity(p.arg(params, 1, "balance"), "balance")
    ctx.node.set_balance(address, balance)


@method("anvil_setNonce", "hardhat_setNonce")
def set_nonce(ctx: RpcContext, params: list[Any]) -> None:
    address = p.address(p.arg(params, 0, "address"), "address")
    nonce = p.quantity(p.arg(params, 1, "nonce"), "nonce", p.U64)
    ctx.node.set_nonce(address, nonce)


@method("anvil_nodeInfo")
def node_info(ctx: RpcContext, params: list[Any]) -> dict[str, Any]:
    return ctx.node.info()


@method("txpool_status")
def txpool_status(ctx: RpcContext, params: list[Any]) -> dict[str, str]:
    ready, queued = ctx.node.chain.pool_counts()
    return {"pending": hex(ready), "queued": hex(queued)}


@method("anvil_setCode", "hardhat_setCode")
def set_code(ctx: RpcContext, params: list[Any]) -> None:
    address = p.address(p.arg(params, 0, "address"), "address")
    ctx.node.chain.set_code(address, p.data(p.arg(params, 1, "code"), "code"))


@method("anvil_setStorageAt", "hardhat_setStorageAt")
def set_storage_at(ctx: RpcContext, params: list[Any]) -> bool:
    address = p.address(p.arg(params, 0, "address"), "address")
    slot = p.quantity(p.arg(params, 1, "slot"), "slot")
    value = p.quantity(p.arg(params, 2, "value"), "value")
    ctx.node.chain.set_storage_at(address, slot, value)
    return True


@method("evm_increaseTime", "anvil_increaseTime")
def increase_time(ctx: RpcContext, params: list[Any]) -> str:
    seconds = p.quantity(p.arg(params, 0, "seconds"), "seconds", p.U64)
    return hex(ctx.node.chain.increase_time(seconds))


@method("evm_setNextBlockTimestamp", "anvil_setNextBlockTimestamp")
def set_next_block_timestamp(ctx: RpcContext, params: list[Any]) -> None:
    ctx.node.chain.set_next_block_timestamp(p.quantity(p.arg(params, 0, "timestamp"), "timestamp", p.U64))


@method("anvil_dropTransaction", "hardhat_dropTransaction")
def drop_transaction(ctx: RpcContext, params: list[Any]) -> None:
    ctx.node.chain.drop_transaction(p.hash32(p.arg(params, 0, "transactionHash"), "transactionHash"))


@method("anvil_impersonateAccount", "hardhat_impersonateAccount")
def impersonate(ctx: RpcContext, params: list[Any]) -> None:
    ctx.node.chain.impersonate(p.address(p.arg(params, 0, "address"), "address"), True)


@method("anvil_stopImpersonatingAccount", "hardhat_stopImpersonatingAccount")
def stop_impersonating(ctx: RpcContext, params: list[Any]) -> None:
    ctx.node.chain.impersonate(p.address(p.arg(params, 0, "address"), "address"), False)
