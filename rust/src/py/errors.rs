//! Rust errors become Python exception classes, mapped here and nowhere else.
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::{create_exception, PyErr};

use crate::chain::ChainError;

create_exception!(og_devnet._core, CoreError, PyException, "Base of every error the Rust core raises.");
create_exception!(og_devnet._core, InvalidTransaction, CoreError, "The transaction bytes cannot be accepted at all.");
create_exception!(og_devnet._core, MalformedTransaction, InvalidTransaction, "Bytes that do not decode as a transaction.");
create_exception!(og_devnet._core, InvalidSignature, InvalidTransaction, "A signature no sender can be recovered from.");
create_exception!(og_devnet._core, WrongChainId, InvalidTransaction, "Signed for another chain (or for none).");
create_exception!(og_devnet._core, UnsupportedTxType, InvalidTransaction, "A transaction type the devnet does not run.");
create_exception!(og_devnet._core, TransactionRejected, CoreError, "A well-formed transaction the chain refuses.");
create_exception!(og_devnet._core, NonceTooLow, TransactionRejected, "The nonce was already used.");
create_exception!(og_devnet._core, NonceTooHigh, TransactionRejected, "The nonce is too far ahead.");
create_exception!(og_devnet._core, InsufficientFunds, TransactionRejected, "The sender cannot pay gas * price + value.");
create_exception!(og_devnet._core, FeeTooLow, TransactionRejected, "The fee is below the base fee or otherwise too low.");
create_exception!(og_devnet._core, GasError, TransactionRejected, "Gas limit below intrinsic gas or above the block gas limit.");
create_exception!(og_devnet._core, AlreadyKnown, TransactionRejected, "The same transaction is already pooled.");
create_exception!(og_devnet._core, PoolFull, TransactionRejected, "The gas mempool is at capacity.");
create_exception!(og_devnet._core, UnsupportedError, CoreError, "Something the devnet does not do (yet), e.g. deploying bytecode.");
create_exception!(og_devnet._core, UnknownAccount, CoreError, "eth_sendTransaction from an account that is not unlocked.");
create_exception!(og_devnet._core, InvalidArgument, CoreError, "An argument the core cannot use.");
create_exception!(og_devnet._core, BlockNotFound, CoreError, "A block asked for by hash that the chain does not have.");
create_exception!(og_devnet._core, BodyArchived, CoreError, "A read needs block bodies that are in the store only; args are (message, [block numbers]).");
create_exception!(og_devnet._core, ExecutionReverted, CoreError, "A contract call reverted; args are (message, revert data hex).");

pub fn to_py(err: ChainError) -> PyErr {
    use ChainError::*;
    let msg = err.to_string();
    match err {
        MalformedTransaction(_) => self::MalformedTransaction::new_err(msg),
        InvalidSignature(_) => self::InvalidSignature::new_err(msg),
        WrongChainId { .. } => self::WrongChainId::new_err(msg),
        UnsupportedTxType(_) => self::UnsupportedTxType::new_err(msg),
        NonceTooLow { .. } => self::NonceTooLow::new_err(msg),
        NonceTooHigh { .. } => self::NonceTooHigh::new_err(msg),
        InsufficientFunds { .. } => self::InsufficientFunds::new_err(msg),
        FeeTooLow { .. } | TipAboveMaxFee { .. } | ReplacementUnderpriced { .. } => self::FeeTooLow::new_err(msg),
        IntrinsicGasTooLow { .. } | GasLimitExceeded { .. } => self::GasError::new_err(msg),
        AlreadyKnown(_) => self::AlreadyKnown::new_err(msg),
        PoolFull(_) => self::PoolFull::new_err(msg),
        Unsupported(_) => self::UnsupportedError::new_err(msg),
        UnknownAccount(_) => self::UnknownAccount::new_err(msg),
        InvalidArgument(_) => self::InvalidArgument::new_err(msg),
        BlockNotFound(_) => self::BlockNotFound::new_err(msg),
        BodyArchived { blocks } => self::BodyArchived::new_err((msg, blocks)),
        Revert(reason) => {
            let data = alloy_primitives::hex::encode_prefixed(crate::chain::native::hub::revert_data(&reason));
            self::ExecutionReverted::new_err((msg, data))
        }
        Reverted { data, .. } => self::ExecutionReverted::new_err((msg, alloy_primitives::hex::encode_prefixed(data))),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("CoreError", py.get_type::<CoreError>())?;
    m.add("InvalidTransaction", py.get_type::<InvalidTransaction>())?;
    m.add("MalformedTransaction", py.get_type::<MalformedTransaction>())?;
    m.add("InvalidSignature", py.get_type::<InvalidSignature>())?;
    m.add("WrongChainId", py.get_type::<WrongChainId>())?;
    m.add("UnsupportedTxType", py.get_type::<UnsupportedTxType>())?;
    m.add("TransactionRejected", py.get_type::<TransactionRejected>())?;
    m.add("NonceTooLow", py.get_type::<NonceTooLow>())?;
    m.add("NonceTooHigh", py.get_type::<NonceTooHigh>())?;
    m.add("InsufficientFunds", py.get_type::<InsufficientFunds>())?;
    m.add("FeeTooLow", py.get_type::<FeeTooLow>())?;
    m.add("GasError", py.get_type::<GasError>())?;
    m.add("AlreadyKnown", py.get_type::<AlreadyKnown>())?;
    m.add("PoolFull", py.get_type::<PoolFull>())?;
    m.add("UnsupportedError", py.get_type::<UnsupportedError>())?;
    m.add("UnknownAccount", py.get_type::<UnknownAccount>())?;
    m.add("InvalidArgument", py.get_type::<InvalidArgument>())?;
    m.add("BlockNotFound", py.get_type::<BlockNotFound>())?;
    m.add("BodyArchived", py.get_type::<BodyArchived>())?;
    m.add("ExecutionReverted", py.get_type::<ExecutionReverted>())?;
    Ok(())
}
