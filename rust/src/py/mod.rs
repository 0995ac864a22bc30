//! The Python extension module `og_devnet._core`: the only place pyo3 appears.
//! This file only exports; wrappers live in `chain.rs`, errors in `errors.rs`.
use pyo3::prelude::*;

mod chain;
mod config;
mod convert;
mod errors;
mod functions;
mod pipe;
mod record;
mod wire;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<chain::PyChain>()?;
    m.add_class::<chain::SealedBlock>()?;
    m.add_class::<pipe::PyPipe>()?;
    m.add_class::<record::PyMode>()?;
    m.add_class::<record::PyStatus>()?;
    m.add_class::<record::PyInferenceRecord>()?;
    m.add_function(wrap_pyfunction!(record::aggregate_inferences, m)?)?;
    m.add_function(wrap_pyfunction!(functions::content_id, m)?)?;
    m.add_function(wrap_pyfunction!(functions::encode_run_call, m)?)?;
    m.add_function(wrap_pyfunction!(functions::decode_result_log, m)?)?;
    m.add_function(wrap_pyfunction!(functions::revert_data_hex, m)?)?;
    m.add_function(wrap_pyfunction!(functions::encode_completion_call, m)?)?;
    m.add_function(wrap_pyfunction!(functions::verify_tee, m)?)?;
    m.add_class::<functions::PyAttestationCache>()?;
    m.add_function(wrap_pyfunction!(functions::keccak256, m)?)?;
    m.add_function(wrap_pyfunction!(functions::dev_addresses, m)?)?;
    m.add_function(wrap_pyfunction!(functions::address_of_key, m)?)?;
    m.add_function(wrap_pyfunction!(functions::sign_tee_response, m)?)?;
    m.add_function(wrap_pyfunction!(functions::split_job_numbers, m)?)?;
    errors::register(m)?;
    Ok(())
}
