"""Errors on both sides of the wire, and the one place that maps them to JSON-RPC codes.

The Rust core's exceptions (defined in `_core`) are re-exported here so users catch
`og_devnet.errors.NonceTooLow` without knowing where it is raised.
"""

from __future__ import annotations

from typing import Any

from og_devnet._core import (
    AlreadyKnown,
    BlockNotFound,
    BodyArchived,
    CoreError,
    ExecutionReverted,
    FeeTooLow,
    GasError,
    InsufficientFunds,
    InvalidArgument,
    InvalidSignature,
    InvalidTransaction,
    MalformedTransaction,
    NonceTooHigh,
    NonceTooLow,
    PoolFull,
    TransactionRejected,
    UnknownAccount,
    UnsupportedError,
    UnsupportedTxType,
    WrongChainId,
)

__all__ = [
    "AlreadyKnown",
    "BlockNotFound",
    "BodyArchived",
    "CoreError",
    "ExecutionReverted",
    "CallTimeout",
    "FeeTooLow",
    "GasError",
    "InsufficientFunds",
    "InvalidArgument",
    "InvalidParams",
    "InvalidRequest",
    "InvalidSignature",
    "InvalidTransaction",
    "MalformedTransaction",
    "MethodNotFound",
    "NonceTooHigh",
    "NonceTooLow",
    "ParseError",
    "PoolFull",
    "RpcError",
    "TransactionRejected",
    "UnknownAccount",
    "UnsupportedError",
    "UnsupportedTxType",
    "WrongChainId",
    "reverted",
    "rpc_error",
]

# JSON-RPC 2.0 and EIP-1474 codes.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
#: geth's code for a reverted call; `data` carries the Error(string) revert data.
EXECUTION_REVERTED = 3
INVALID_INPUT = -32000
RESOURCE_NOT_FOUND = -32001
TRANSACTION_REJECTED = -32003
METHOD_NOT_SUPPORTED = -32004
LIMIT_EXCEEDED = -32005


class RpcError(Exception):
    """An error raised by the Python RPC layer itself, with its wire code."""

    code = INTERNAL_ERROR

    def __init__(self, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class ParseError(RpcError):
    code = PARSE_ERROR


class InvalidRequest(RpcError):
    code = INVALID_REQUEST


class MethodNotFound(RpcError):
    code = METHOD_NOT_FOUND


class InvalidParams(RpcError):
    code = INVALID_PARAMS


class CallTimeout(RpcError):
    """geth: -32000 "execution aborted (timeout = …)" for a call that ran out of time."""

    code = INVALID_INPUT


class FilterNotFound(RpcError):
    """geth: -32000 "filter not found" for an unknown, expired or uninstalled id."""

    code = INVALID_INPUT


class SubscriptionNotFound(RpcError):
    """geth: -32000 "subscription not found"."""

    code = INVALID_INPUT


class LimitExceeded(RpcError):
    """-32005: a limit of the node (filters, subscriptions, a batch's budget of work)."""

    code = LIMIT_EXCEEDED


def reverted(reason: str) -> ExecutionReverted:
    """A revert raised on the Python side (a check the chain cannot make itself)."""
    from og_devnet._core import revert_data_hex

    return ExecutionReverted(f"execution reverted: {reason}", revert_data_hex(reason))


# Most specific first: the first matching class wins.
_CORE_CODES: list[tuple[type[BaseException], int]] = [
    (PoolFull, LIMIT_EXCEEDED),
    (InvalidTransaction, INVALID_INPUT),
    (TransactionRejected, TRANSACTION_REJECTED),
    (UnsupportedError, METHOD_NOT_SUPPORTED),
    (UnknownAccount, INVALID_INPUT),
    # geth: -32000 "header not found" for a block hash it does not have.
    (BlockNotFound, INVALID_INPUT),
    (InvalidArgument, INVALID_PARAMS),
]


def rpc_error(exc: BaseException) -> dict[str, Any]:
    """The JSON-RPC `error` object for an exception. Unknown exceptions become -32603 with
    their type named, so a bug is visible without taking the node down."""
    if isinstance(exc, ExecutionReverted):
        message, data = exc.args
        return {"code": EXECUTION_REVERTED, "message": message, "data": data}
    if isinstance(exc, BodyArchived):
        # Its loaded bodies were pushed out again before the retry (a busy cache): transient.
        return {"code": INVALID_INPUT, "message": exc.args[0]}
    if isinstance(exc, RpcError):
        err: dict[str, Any] = {"code": exc.code, "message": exc.message}
        if exc.data is not None:
            err["data"] = exc.data
        return err
    for cls, code in _CORE_CODES:
        if isinstance(exc, cls):
            return {"code": code, "message": str(exc)}
    return {"code": INTERNAL_ERROR, "message": f"internal error: {type(exc).__name__}: {exc}"}
