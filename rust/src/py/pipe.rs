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

    /// Waits up to `timeout_ms` for work for `node`: (job tx hash, attempt, payload JSON).
    fn take(&self, py: Python<'_>, node: usize, timeout_ms: u64) -> Option<(String, usize, String)> {
        let pipe = &self.inner;
        py.detach(|| pipe.take(node, Duration::from_millis(timeout_ms)))
            .map(|w| (w.job.to_string(), w.attempt, w.payload))
    }

    /// Reports an attempt: the output JSON, or an error message.
    #[pyo3(signature = (node, job, attempt, output=None, error=None))]
    fn complete(&self, py: Python<'_>, node: usize, job: &str, attempt: usize, output: Option<String>, error: Option<String>) -> PyResult<()> {
        let job = convert::hash(job)?;
        let result = match (output, error) {
            (Some(o), _) => Ok(o),
            (None, e) => Err(e.unwrap_or_else(|| "no output".into())),
        };
        let pipe = &self.inner;
        py.detach(|| pipe.complete(node, job, attempt, result));
        Ok(())
    }

    fn is_wanted(&self, job: &str, attempt: usize) -> PyResult<bool> {
        Ok(self.inner.is_wanted(&convert::hash(job)?, attempt))
    }

    fn set_fault(&self, node: usize, fault: &str) -> bool {
        self.inner.set_fault(node, fault)
    }

    fn job_json(&self, tx_hash: &str) -> PyResult<Option<String>> {
        Ok(self.inner.job_json(&convert::hash(tx_hash)?).map(|v| v.to_string()))
    }

    fn stats_json(&self) -> String {
        self.inner.stats_json().to_string()
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
