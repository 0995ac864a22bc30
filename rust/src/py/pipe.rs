//! `og_devnet._core.Pipe`: the scheduler's face to the Python node workers. `take` waits
//! without the GIL; the scheduler thread runs in Rust.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use pyo3::prelude::*;

use super::convert;
use crate::pipe::Pipe;

#[pyclass(name = "Pipe", module = "og_devnet._core", frozen)]
pub struct PyPipe {
    pub(crate) inner: Arc<Pipe>,
    scheduler: Mutex<Option<(Arc<AtomicBool>, JoinHandle<()>)>>,
}

impl PyPipe {
    pub fn new(inner: Arc<Pipe>) -> Self {
        PyPipe { inner, scheduler: Mutex::new(None) }
    }
}

#[pymethods]
impl PyPipe {
    fn node_addresses(&self) -> Vec<String> {
        (0..self.inner.node_count()).filter_map(|i| self.inner.node_address(i)).map(|a| a.to_checksum(None)).collect()
    }

    /// Waits up to `timeout_ms` (wall clock) until every inference of `key` is decided;
    /// whether they are.
    fn wait_decided(&self, py: Python<'_>, key: &str, timeout_ms: u64) -> PyResult<bool> {
        let key = convert::hash(key)?;
        let pipe = &self.inner;
        Ok(py.detach(|| pipe.wait_decided(&key, Duration::from_millis(timeout_ms))))
    }

    /// Waits up to `timeout_ms` for work for `node`: (job tx hash, attempt, payload JSON).
    fn take(&self, py: Python<'_>, node: usize, timeout_ms: u64) -> Option<(String, usize, String)> {
        let pipe = &self.inner;
        py.detach(|| pipe.take(node, Duration::from_millis(timeout_ms)))
            .map(|w| (w.job.to_string(), w.attempt, w.payload))
    }

    /// Reports an attempt: the output JSON, or an error message.
    #[pyo3(signature = (node, job, attempt, output=None, error=None, bad_input=false, proof=None))]
    #[allow(clippy::too_many_arguments)]
    fn complete(
        &self,
        py: Python<'_>,
        node: usize,
        job: &str,
        attempt: usize,
        output: Option<String>,
        error: Option<String>,
        bad_input: bool,
        proof: Option<String>,
    ) -> PyResult<()> {
        let job = convert::hash(job)?;
        let result = match (output, error) {
            (Some(o), _) => Ok(o),
            (None, e) => Err(e.unwrap_or_else(|| "no output".into())),
        };
        let pipe = &self.inner;
        py.detach(|| pipe.complete_with_proof(node, job, attempt, result, bad_input, proof));
        Ok(())
    }

    // These wait for the pipe lock without the GIL, so they never stall the miner thread.
    fn is_wanted(&self, py: Python<'_>, job: &str, attempt: usize) -> PyResult<bool> {
        let (job, pipe) = (convert::hash(job)?, &self.inner);
        Ok(py.detach(|| pipe.is_wanted(&job, attempt)))
    }

    /// TEE results are verified against this root certificate (DER) and PCR0/PCR1.
    fn set_tee(&self, root_der: Vec<u8>, pcr0: Vec<u8>, pcr1: Vec<u8>) {
        self.inner.set_tee(crate::pipe::TeeSetup::new(root_der, pcr0, pcr1));
    }

    fn set_fault(&self, py: Python<'_>, node: usize, fault: &str) -> bool {
        let pipe = &self.inner;
        py.detach(|| pipe.set_fault(node, fault))
    }

    /// The inference record of transaction `tx_hash` while PIPE has it (JSON): one record,
    /// or for `runMany` its calls' records together.
    fn job_json(&self, py: Python<'_>, tx_hash: &str) -> PyResult<Option<String>> {
        let (tx, pipe) = (convert::hash(tx_hash)?, &self.inner);
        Ok(py.detach(|| pipe.inference(&tx).map(|i| serde_json::to_string(&i).expect("a record is JSON"))))
    }

    fn stats_json(&self, py: Python<'_>) -> String {
        let pipe = &self.inner;
        py.detach(|| pipe.stats_json().to_string())
    }

    /// Jobs decided so far: automine seals a block when this moves.
    fn decided_count(&self, py: Python<'_>) -> u64 {
        let pipe = &self.inner;
        py.detach(|| pipe.decided_count())
    }

    /// Waits up to `timeout_ms` (wall clock, without the GIL) until the decided count differs
    /// from `last`, or something else may call for a block (a proof or challenge handed to the
    /// chain, a penalty, a new mining mode); returns the decided count.
    fn wait_decided_change(&self, py: Python<'_>, last: u64, timeout_ms: u64) -> u64 {
        let pipe = &self.inner;
        py.detach(|| pipe.wait_decided_change(last, Duration::from_millis(timeout_ms)))
    }

    /// Starts the scheduler thread (hedges and timeouts); idempotent.
    fn start_scheduler(&self) {
        let mut s = self.scheduler.lock().unwrap_or_else(|p| p.into_inner());
        if s.is_none() {
            let stop = Arc::new(AtomicBool::new(false));
            let handle = self.inner.spawn_scheduler(stop.clone());
            *s = Some((stop, handle));
        }
    }

    fn stop_scheduler(&self, py: Python<'_>) {
        let taken = self.scheduler.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some((stop, handle)) = taken {
            stop.store(true, Ordering::Relaxed);
            py.detach(|| {
                let _ = handle.join();
            });
        }
    }
}
