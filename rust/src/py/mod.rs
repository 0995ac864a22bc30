//! The Python extension module `og_devnet._core`: the only place pyo3 appears.
//! This file only exports; wrappers live in `chain.rs`, errors in `errors.rs`.
use pyo3::prelude::*;

mod chain;
mod convert;
mod errors;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<chain::PyChain>()?;
    m.add_class::<chain::SealedBlock>()?;
    errors::register(m)?;
    Ok(())
}
