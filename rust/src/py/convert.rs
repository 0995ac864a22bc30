//! Parsing Python arguments (hex strings, ints, block tags) into core types.
use alloy_primitives::{Address, Bytes, B256, U256};
use pyo3::prelude::*;
use pyo3::types::PyInt;

use super::errors::to_py;
use crate::chain::{BlockTag, ChainError};

fn bad(what: &str, value: &str, e: impl std::fmt::Display) -> PyErr {
    to_py(ChainError::InvalidArgument(format!("invalid {what} {value:?}: {e}")))
}

pub fn address(s: &str) -> PyResult<Address> {
    s.parse::<Address>().map_err(|e| bad("address", s, e))
}

pub fn hash(s: &str) -> PyResult<B256> {
    s.parse::<B256>().map_err(|e| bad("32-byte hash", s, e))
}

pub fn data(s: &str) -> PyResult<Bytes> {
    s.parse::<Bytes>().map_err(|e| bad("hex data", s, e))
}

pub fn u256(v: &Bound<'_, PyInt>) -> PyResult<U256> {
    let s = v.str()?.to_string();
    s.parse::<U256>().map_err(|e| bad("uint256", &s, e))
}

/// A storage slot or word given as an integer.
pub fn word(v: &Bound<'_, PyInt>) -> PyResult<B256> {
    u256(v).map(B256::from)
}

pub fn u256_to_py(py: Python<'_>, v: U256) -> PyResult<Py<PyAny>> {
    Ok(py.get_type::<PyInt>().call1((v.to_string(),))?.unbind())
}

#[derive(FromPyObject)]
pub enum TagArg {
    Number(u64),
    Name(String),
}

/// A block number, a tag name, or a 32-byte block hash (0x + 64 hex digits).
pub fn tag(t: TagArg) -> PyResult<BlockTag> {
    Ok(match t {
        TagArg::Number(n) => BlockTag::Number(n),
        TagArg::Name(s) if s.len() == 66 && s.starts_with("0x") => BlockTag::Hash(hash(&s)?),
        TagArg::Name(s) => match s.as_str() {
            "latest" => BlockTag::Latest,
            "pending" => BlockTag::Pending,
            "earliest" => BlockTag::Earliest,
            "safe" => BlockTag::Safe,
            "finalized" => BlockTag::Finalized,
            other => return Err(bad("block tag", other, "expected a number, a block hash or latest/pending/earliest/safe/finalized")),
        },
    })
}
