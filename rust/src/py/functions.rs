//! Free functions: content ids and the hub's ABI, for the CLI and the node.
use alloy_primitives::hex;
use alloy_sol_types::{SolCall, SolEvent};
use pyo3::prelude::*;
use serde_json::{json, Value};

use super::errors::to_py;
use crate::chain::ChainError;
use crate::eth::abi;

fn bad(msg: String) -> PyErr {
    to_py(ChainError::InvalidArgument(msg))
}

/// blake3 of a file, hex: a model's content id. Reads without the GIL.
#[pyfunction]
pub fn content_id(py: Python<'_>, path: std::path::PathBuf) -> PyResult<String> {
    py.detach(|| {
        let mut hasher = blake3::Hasher::new();
        hasher.update_mmap(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok::<_, String>(hasher.finalize().to_hex().to_string())
    })
    .map_err(bad)
}

/// Calldata for `run(modelId, mode, ModelInput)`. `numbers`: [{name, values: [[value,
/// decimals], ...], shape}], `strings`: [{name, values}] (JSON).
#[pyfunction]
pub fn encode_run_call(model_id: String, mode: u8, numbers_json: &str, strings_json: &str) -> PyResult<Vec<u8>> {
    #[derive(serde::Deserialize)]
    struct Num {
        name: String,
        values: Vec<(String, String)>,
        shape: Vec<u32>,
    }
    #[derive(serde::Deserialize)]
    struct Str {
        name: String,
        values: Vec<String>,
    }
    let numbers: Vec<Num> = serde_json::from_str(numbers_json).map_err(|e| bad(format!("numbers: {e}")))?;
    let strings: Vec<Str> = serde_json::from_str(strings_json).map_err(|e| bad(format!("strings: {e}")))?;
    let parse = |s: &str| s.parse::<i128>().map_err(|e| bad(format!("{s:?} is not an int128: {e}")));
    let numbers = numbers
        .into_iter()
        .map(|t| {
            Ok(abi::MultiDimensionalNumberTensor {
                name: t.name,
                values: t.values.iter().map(|(v, d)| Ok(abi::Number { value: parse(v)?, decimals: parse(d)? })).collect::<PyResult<_>>()?,
                shape: t.shape,
            })
        })
        .collect::<PyResult<Vec<_>>>()?;
    let strings = strings.into_iter().map(|t| abi::StringTensor { name: t.name, values: t.values }).collect();
    Ok(abi::runCall { modelId: model_id, inferenceMode: mode, modelInput: abi::ModelInput { numbers, strings } }.abi_encode())
}

/// Decodes the data of an `InferenceResult`, `LLMCompletionResult` or `LLMChatResult` log
/// (by its first topic) into JSON; None for any other log.
#[pyfunction]
pub fn decode_result_log(topic0: &str, data: &str) -> PyResult<Option<String>> {
    let topic = topic0.parse::<alloy_primitives::B256>().map_err(|e| bad(format!("topic: {e}")))?;
    let bytes = hex::decode(data).map_err(|e| bad(format!("data: {e}")))?;
    let v: Value = if topic == abi::InferenceResult::SIGNATURE_HASH {
        let o = abi::InferenceResult::abi_decode_data(&bytes).map_err(|e| bad(e.to_string()))?.0;
        json!({
            "numbers": o.numbers.iter().map(|t| json!({"name": t.name, "shape": t.shape,
                "values": t.values.iter().map(|n| json!([n.value.to_string(), n.decimals.to_string()])).collect::<Vec<_>>()})).collect::<Vec<_>>(),
            "strings": o.strings.iter().map(|t| json!({"name": t.name, "values": t.values})).collect::<Vec<_>>(),
            "jsons": o.jsons.iter().map(|t| json!({"name": t.name, "value": t.value})).collect::<Vec<_>>(),
        })
    } else if topic == abi::LLMCompletionResult::SIGNATURE_HASH {
        let r = abi::LLMCompletionResult::abi_decode_data(&bytes).map_err(|e| bad(e.to_string()))?.0;
        json!({"answer": r.answer})
    } else if topic == abi::LLMChatResult::SIGNATURE_HASH {
        let r = abi::LLMChatResult::abi_decode_data(&bytes).map_err(|e| bad(e.to_string()))?.0;
        json!({"finish_reason": r.finish_reason, "message": {"role": r.message.role, "content": r.message.content}})
    } else {
        return Ok(None);
    };
    Ok(Some(v.to_string()))
}

/// keccak256 of `data`.
#[pyfunction]
pub fn keccak256(data: &[u8]) -> Vec<u8> {
    alloy_primitives::keccak256(data).to_vec()
}

/// The checksummed addresses of the first `count` dev accounts of `mnemonic` (as a chain made
/// from them funds), without making a chain.
#[pyfunction]
pub fn dev_addresses(py: Python<'_>, mnemonic: &str, count: u32) -> PyResult<Vec<String>> {
    let keys = py.detach(|| crate::eth::keys::DevKeys::from_mnemonic(mnemonic, count)).map_err(to_py)?;
    Ok(keys.addresses().iter().map(|a| a.to_checksum(None)).collect())
}

/// The checksummed address of a 32-byte secp256k1 private key.
#[pyfunction]
pub fn address_of_key(key: &[u8]) -> PyResult<String> {
    let signer = alloy_primitives::B256::try_from(key)
        .ok()
        .and_then(|k| alloy_signer_local::PrivateKeySigner::from_bytes(&k).ok())
        .ok_or_else(|| bad("a private key is 32 bytes, a valid secp256k1 scalar".into()))?;
    Ok(signer.address().to_checksum(None))
}

/// An enclave's signature of one answer (r ‖ s ‖ v, 65 bytes) with its 32-byte secp256k1
/// key: over keccak256(request_hash ‖ output_hash ‖ uint256(timestamp_ms)).
#[pyfunction]
pub fn sign_tee_response(key: &[u8], request_hash: &[u8], output_hash: &[u8], timestamp_ms: u64) -> PyResult<Vec<u8>> {
    let b256 = |b: &[u8], what: &str| alloy_primitives::B256::try_from(b).map_err(|_| bad(format!("{what} is 32 bytes, not {}", b.len())));
    let (key, rh, oh) = (b256(key, "a private key")?, b256(request_hash, "request_hash")?, b256(output_hash, "output_hash")?);
    Ok(crate::verify::sign_response(&key, &rh, &oh, timestamp_ms).map_err(bad)?.to_vec())
}

/// A job payload with its number tensors decoded to float64 (without the GIL): the payload
/// JSON, each decoded tensor's `values` replaced by `"f64": i`, and the floats (little-endian
/// bytes) by `i`. InvalidArgument if the payload is not JSON.
#[pyfunction]
pub fn split_job_numbers(py: Python<'_>, payload_json: &str) -> PyResult<(String, Vec<Vec<u8>>)> {
    let split = py.detach(|| crate::pipe::job_numbers::split_job(payload_json)).map_err(|e| bad(format!("job payload: {e}")))?;
    let floats = split.floats.iter().map(|t| t.iter().flat_map(|f| f.to_le_bytes()).collect()).collect();
    Ok((split.light, floats))
}

/// `Error(string)` revert data for `reason`, hex.
#[pyfunction]
pub fn revert_data_hex(reason: &str) -> String {
    hex::encode_prefixed(crate::chain::native::hub::revert_data(reason))
}

/// Calldata for `runLLMCompletion` (temperature in hundredths: 70 = 0.7).
#[pyfunction]
#[pyo3(signature = (model_id, mode, prompt, max_tokens, stop=vec![], temperature=0))]
pub fn encode_completion_call(model_id: String, mode: u8, prompt: String, max_tokens: u32, stop: Vec<String>, temperature: u32) -> Vec<u8> {
    abi::runLLMCompletionCall {
        request: abi::LLMCompletionRequest { mode, modelCID: model_id, prompt, max_tokens, stop_sequence: stop, temperature },
    }
    .abi_encode()
}

/// An attestation cache for `verify_tee(cache=...)`: each document is checked in full once,
/// then each answer against what that check established (same verdicts). Thread-safe.
#[pyclass(name = "AttestationCache", module = "og_devnet._core", frozen)]
pub struct PyAttestationCache {
    inner: std::sync::Arc<crate::verify::AttestationCache>,
}

#[pymethods]
impl PyAttestationCache {
    #[new]
    #[pyo3(signature = (capacity=crate::verify::tee_cache::DEFAULT_CAPACITY))]
    fn new(capacity: usize) -> Self {
        PyAttestationCache { inner: std::sync::Arc::new(crate::verify::AttestationCache::new(capacity)) }
    }

    /// JSON: {"hits", "misses", "entries", "capacity", "evictions"}.
    fn stats_json(&self) -> String {
        serde_json::to_string(&self.inner.stats()).expect("stats are JSON")
    }

    /// Forgets every document (the counters stay).
    fn clear(&self) {
        self.inner.clear()
    }
}

/// Verifies a TEE result with public material only. Returns JSON: {"ok": true, "module_id",
/// "attestation_timestamp_ms"} or {"ok": false, "reason", "detail"}. With `cache`, the
/// attestation document is checked in full only if the cache does not have it yet.
#[pyfunction]
#[pyo3(signature = (*, attestation, response_signature, timestamp_ms, request_hash, output_hash, expected_pcrs,
                    root_der, now_ms, delivered_request_hash, delivered_output_hash, max_attestation_age_ms=600_000,
                    max_clock_skew_ms=5_000, cache=None))]
#[allow(clippy::too_many_arguments)]
pub fn verify_tee(
    py: Python<'_>,
    attestation: Vec<u8>,
    response_signature: Vec<u8>,
    timestamp_ms: u64,
    request_hash: &str,
    output_hash: &str,
    expected_pcrs: Vec<Vec<u8>>,
    root_der: Vec<u8>,
    now_ms: u64,
    delivered_request_hash: &str,
    delivered_output_hash: &str,
    max_attestation_age_ms: u64,
    max_clock_skew_ms: u64,
    cache: Option<&Bound<'_, PyAttestationCache>>,
) -> PyResult<String> {
    use super::convert::hash;
    let evidence = crate::verify::TeeEvidence {
        attestation,
        response_signature,
        timestamp_ms,
        request_hash: hash(request_hash)?,
        output_hash: hash(output_hash)?,
    };
    let policy = crate::verify::TeePolicy { root_der, max_attestation_age_ms, max_clock_skew_ms };
    let (dr, do_) = (hash(delivered_request_hash)?, hash(delivered_output_hash)?);
    let cache = cache.map(|c| c.get().inner.clone());
    let result = py.detach(|| match cache {
        Some(cache) => crate::verify::verify_tee_cached(&cache, &evidence, &expected_pcrs, &policy, now_ms, dr, do_),
        None => crate::verify::verify_tee(&evidence, &expected_pcrs, &policy, now_ms, dr, do_),
    });
    Ok(match result {
        Ok(v) => json!({"ok": true, "module_id": v.module_id, "attestation_timestamp_ms": v.attestation_timestamp_ms}),
        Err(r) => json!({"ok": false, "reason": r.reason, "detail": r.detail}),
    }
    .to_string())
}
