//! The inference record as Python sees it: the `Mode` and `Status` enums (the only tables of
//! their names and numbers Python has), `InferenceRecord` (how the store moves a stored record
//! on), and the sealed block's record, typed, as it crosses to Python.
use pyo3::basic::CompareOp;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyString};
use serde::Serialize;
use serde_json::Value;

use super::convert;
use super::errors::to_py;
use crate::chain::settlement::{Delivery, DeliveryNotice};
use crate::chain::{Block, Chain, ChainError};
use crate::eth::rpc_json;
use crate::pipe::{InferenceRecord, ManyRecord, Mode, SettlementStep, Status};

fn invalid(msg: String) -> PyErr {
    to_py(ChainError::InvalidArgument(msg))
}

/// A verification mode. Compares and hashes as its number (`Mode.ZKML == 1`); `int(m)`,
/// `m.value` give the number, `m.name` the name, `str(m)` the name.
#[pyclass(name = "Mode", module = "og_devnet._core", frozen)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PyMode {
    #[pyo3(name = "VANILLA")]
    Vanilla = 0,
    #[pyo3(name = "ZKML")]
    Zkml = 1,
    #[pyo3(name = "TEE")]
    Tee = 2,
    #[pyo3(name = "OPTIMISTIC")]
    Optimistic = 3,
}

impl From<Mode> for PyMode {
    fn from(m: Mode) -> PyMode {
        match m {
            Mode::Vanilla => PyMode::Vanilla,
            Mode::Zkml => PyMode::Zkml,
            Mode::Tee => PyMode::Tee,
            Mode::Optimistic => PyMode::Optimistic,
        }
    }
}

impl From<PyMode> for Mode {
    fn from(m: PyMode) -> Mode {
        match m {
            PyMode::Vanilla => Mode::Vanilla,
            PyMode::Zkml => Mode::Zkml,
            PyMode::Tee => Mode::Tee,
            PyMode::Optimistic => Mode::Optimistic,
        }
    }
}

#[pymethods]
impl PyMode {
    /// `Mode(2)` or `Mode("tee")`.
    #[new]
    fn new(value: &Bound<'_, PyAny>) -> PyResult<Self> {
        if let Ok(n) = value.extract::<u8>() {
            return Mode::try_from(n).map(Into::into).map_err(|e| invalid(e.to_string()));
        }
        let name: String = value.extract().map_err(|_| invalid(format!("a mode is a number or a name, not {value}")))?;
        Mode::from_name(&name).map(Into::into).ok_or_else(|| invalid(format!("unknown inference mode {name:?} ({})", names())))
    }

    #[getter]
    fn name(&self) -> &'static str {
        Mode::from(*self).name()
    }

    #[getter]
    fn value(&self) -> u8 {
        Mode::from(*self).number()
    }

    /// What backs a result of this mode, in words.
    #[getter]
    fn verification(&self) -> &'static str {
        Mode::from(*self).verification()
    }

    /// Every mode, by number.
    #[staticmethod]
    fn all() -> Vec<PyMode> {
        Mode::ALL.map(Into::into).to_vec()
    }

    /// From the cheapest and weakest guarantee to the dearest and strongest.
    #[staticmethod]
    fn by_strength() -> Vec<PyMode> {
        Mode::BY_STRENGTH.map(Into::into).to_vec()
    }

    fn __index__(&self) -> u8 {
        self.value()
    }

    fn __str__(&self) -> &'static str {
        self.name()
    }

    fn __hash__(&self) -> isize {
        self.value() as isize // as hash(int) is
    }

    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp, py: Python<'_>) -> Py<PyAny> {
        let other = match other.extract::<PyRef<'_, PyMode>>() {
            Ok(m) => Some(i64::from(m.value())),
            Err(_) => other.extract::<i64>().ok(),
        };
        equality(py, other.map(|n| n == i64::from(self.value())), op)
    }
}

/// `==` and `!=` given whether the values are equal (None: not comparable).
fn equality(py: Python<'_>, equal: Option<bool>, op: CompareOp) -> Py<PyAny> {
    match (equal, op) {
        (Some(e), CompareOp::Eq) => PyBool::new(py, e).to_owned().into_any().unbind(),
        (Some(e), CompareOp::Ne) => PyBool::new(py, !e).to_owned().into_any().unbind(),
        _ => py.NotImplemented(),
    }
}

fn names() -> String {
    Mode::ALL.map(Mode::name).join(", ")
}

/// Where an inference stands. Compares and hashes as its wire string
/// (`Status.SETTLED == "settled"`); `s.value` and `str(s)` give it.
#[pyclass(name = "Status", module = "og_devnet._core", frozen)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PyStatus {
    #[pyo3(name = "PENDING")]
    Pending,
    #[pyo3(name = "RESULT_READY")]
    ResultReady,
    #[pyo3(name = "FAILING")]
    Failing,
    #[pyo3(name = "DELIVERED")]
    Delivered,
    #[pyo3(name = "CHALLENGEABLE")]
    Challengeable,
    #[pyo3(name = "DISPUTED")]
    Disputed,
    #[pyo3(name = "SETTLED")]
    Settled,
    #[pyo3(name = "REJECTED")]
    Rejected,
    #[pyo3(name = "SLASHED")]
    Slashed,
    #[pyo3(name = "FAILED")]
    Failed,
    #[pyo3(name = "SETTLING")]
    Settling,
    #[pyo3(name = "PARTLY_REJECTED")]
    PartlyRejected,
}

impl From<Status> for PyStatus {
    fn from(s: Status) -> PyStatus {
        match s {
            Status::Pending => PyStatus::Pending,
            Status::ResultReady => PyStatus::ResultReady,
            Status::Failing => PyStatus::Failing,
            Status::Delivered => PyStatus::Delivered,
            Status::Challengeable => PyStatus::Challengeable,
            Status::Disputed => PyStatus::Disputed,
            Status::Settled => PyStatus::Settled,
            Status::Rejected => PyStatus::Rejected,
            Status::Slashed => PyStatus::Slashed,
            Status::Failed => PyStatus::Failed,
            Status::Settling => PyStatus::Settling,
            Status::PartlyRejected => PyStatus::PartlyRejected,
        }
    }
}

impl From<PyStatus> for Status {
    fn from(s: PyStatus) -> Status {
        match s {
            PyStatus::Pending => Status::Pending,
            PyStatus::ResultReady => Status::ResultReady,
            PyStatus::Failing => Status::Failing,
            PyStatus::Delivered => Status::Delivered,
            PyStatus::Challengeable => Status::Challengeable,
            PyStatus::Disputed => Status::Disputed,
            PyStatus::Settled => Status::Settled,
            PyStatus::Rejected => Status::Rejected,
            PyStatus::Slashed => Status::Slashed,
            PyStatus::Failed => Status::Failed,
            PyStatus::Settling => Status::Settling,
            PyStatus::PartlyRejected => Status::PartlyRejected,
        }
    }
}

#[pymethods]
impl PyStatus {
    /// `Status("settled")`.
    #[new]
    fn new(value: &str) -> PyResult<Self> {
        Status::parse(value).map(Into::into).ok_or_else(|| {
            invalid(format!("unknown inference status {value:?} ({})", Status::ALL.map(Status::as_str).join(", ")))
        })
    }

    /// The wire string ("result_ready").
    #[getter]
    fn value(&self) -> &'static str {
        Status::from(*self).as_str()
    }

    /// Nothing more will happen to it (settled, rejected, slashed, failed, partly_rejected).
    #[getter]
    fn is_final(&self) -> bool {
        Status::from(*self).is_final()
    }

    #[staticmethod]
    fn all() -> Vec<PyStatus> {
        Status::ALL.map(Into::into).to_vec()
    }

    fn __str__(&self) -> &'static str {
        self.value()
    }

    fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
        PyString::new(py, self.value()).hash() // as hash(str) is
    }

    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp, py: Python<'_>) -> Py<PyAny> {
        let other = match other.extract::<PyRef<'_, PyStatus>>() {
            Ok(s) => Some(s.value().to_string()),
            Err(_) => other.extract::<String>().ok(),
        };
        equality(py, other.map(|s| s == self.value()), op)
    }
}

/// A stored inference record, moved on by settlement steps in Rust: the store reads the
/// columns it filters on from it and saves `to_json()` as given.
#[pyclass(name = "InferenceRecord", module = "og_devnet._core")]
pub struct PyInferenceRecord(InferenceRecord);

#[pymethods]
impl PyInferenceRecord {
    #[staticmethod]
    fn from_json(py: Python<'_>, text: &str) -> PyResult<Self> {
        py.detach(|| serde_json::from_str(text)).map(PyInferenceRecord).map_err(|e| invalid(format!("inference record: {e}")))
    }

    fn to_json(&self) -> String {
        serde_json::to_string(&self.0).expect("a record is JSON")
    }

    /// One settlement step of a later block (an item of a sealed block record's
    /// `settlements`, JSON): kept in `settlement_steps`, and applied.
    fn apply(&mut self, step_json: &str) -> PyResult<()> {
        let step: SettlementStep = serde_json::from_str(step_json).map_err(|e| invalid(format!("settlement step: {e}")))?;
        self.0.apply(&step);
        Ok(())
    }

    /// Undoes the settlement steps blocks after `head` took (`evm_revert`).
    fn revert_to(&mut self, head: u64) {
        self.0.revert_to(head)
    }

    #[getter]
    fn id(&self) -> String {
        self.0.id.to_string()
    }

    #[getter]
    fn tx_hash(&self) -> String {
        self.0.tx_hash.to_string()
    }

    #[getter]
    fn mode(&self) -> PyMode {
        self.0.mode.into()
    }

    #[getter]
    fn status(&self) -> PyStatus {
        self.0.status.into()
    }

    #[getter]
    fn t_settled(&self) -> Option<u64> {
        self.0.t_settled
    }

    #[getter]
    fn trust_gap_ms(&self) -> Option<i64> {
        self.0.trust_gap_ms
    }

    /// The block of the latest settlement step (a revert undoes the steps after its head).
    #[getter]
    fn last_step_block(&self) -> Option<u64> {
        self.0.last_step_block()
    }
}

/// A `runMany` transaction's records (JSON, in call order) together, with the status of the
/// whole (JSON).
#[pyfunction]
pub fn aggregate_inferences(py: Python<'_>, tx_hash: &str, calls: Vec<String>) -> PyResult<String> {
    let tx_hash = convert::hash(tx_hash)?;
    py.detach(|| {
        let calls = calls.iter().map(|c| serde_json::from_str(c)).collect::<Result<Vec<InferenceRecord>, _>>()?;
        serde_json::to_string(&ManyRecord::new(tx_hash, calls))
    })
    .map_err(|e| invalid(format!("inference record: {e}")))
}

/// What a sealed block's record holds (`SealedBlock.record`): the store saves it in one
/// database transaction, and the node's listeners read it. The block as it is stored
/// (`SealedBlock.stored`, raw transactions included) goes apart: the store keeps it as made,
/// and nothing in Python needs to parse it.
#[derive(Serialize)]
struct SealRecord<'a> {
    /// The accounts the block changed (the store's account rows).
    state_changes: &'a [(alloy_primitives::Address, crate::chain::Account)],
    /// The block as JSON-RPC shows it, with full transactions but without their `input`:
    /// the store indexes the rest, and calldata (most of a block of inferences) is in `stored`.
    block: Value,
    receipts: Vec<Value>,
    /// One record per inference the block delivered (a `runMany` transaction, or a contract
    /// transaction that called inference, has one per call).
    inferences: Vec<InferenceRecord>,
    challenge_window: u64,
    /// The settlement steps the block took.
    settlements: Vec<SettlementStep>,
    /// Results this block delivered that someone must now prove (ZKML) or watch (OPTIMISTIC).
    deliveries: Vec<DeliveryNotice>,
    /// Every unsettled result in full, when they changed: saved so a restart resumes them.
    #[serde(skip_serializing_if = "Option::is_none")]
    unsettled: Option<Vec<Delivery>>,
}

/// A sealed block: number, hash, timestamp (ms), transaction count, its record (JSON,
/// `SealRecord`) and the block as stored (JSON, `StoredBlock`).
pub struct Sealed {
    pub number: u64,
    pub hash: String,
    pub timestamp_ms: u64,
    pub tx_count: usize,
    pub record: String,
    pub stored: String,
}

/// A block just sealed and what its record needs from the chain, taken under the chain's
/// lock; [`SealedParts::record`] makes the record (most of a seal's work: JSON of every
/// transaction and receipt) without it.
pub struct SealedParts {
    block: Block,
    inferences: Vec<InferenceRecord>,
    challenge_window: u64,
    settlements: Vec<SettlementStep>,
    deliveries: Vec<DeliveryNotice>,
    unsettled: Option<Vec<Delivery>>,
}

/// Seals the next block and takes what its record needs.
pub fn seal_parts(c: &mut Chain, now_ms: u64) -> Result<SealedParts, ChainError> {
    let (pipe, window) = (c.pipe().clone(), c.challenge_window());
    let b = c.seal_block(now_ms)?;
    let number = b.header.number;
    let mut inferences = Vec::new();
    for (tx, receipt) in b.transactions.iter().zip(&b.receipts) {
        for mut record in pipe.records(&tx.hash) {
            if !receipt.status {
                record.fail_with_tx();
            }
            record.included(number, window);
            inferences.push(record);
        }
    }
    let settlements = b
        .settlements
        .iter()
        .map(|s| SettlementStep::new(s, b.header.timestamp_ms, number))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ChainError::InvalidArgument(format!("block {number}: {e}")))?;
    let block = b.clone();
    let deliveries = c
        .unsettled()
        .iter()
        .filter(|d| d.included_block == number && d.mode != Mode::Tee.number())
        .map(DeliveryNotice::try_from)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ChainError::InvalidArgument(format!("block {number}: {e}")))?;
    // LLM answers the block settled, as delivered: their steps are in `settlements`.
    inferences.extend(c.llm_block_records(number));
    let changed = c.take_deliveries_changed();
    let unsettled = changed.then(|| c.unsettled().to_vec());
    Ok(SealedParts { block, inferences, challenge_window: window, settlements, deliveries, unsettled })
}

impl SealedParts {
    /// A block with nothing else to record (genesis).
    pub fn of_block(block: Block, challenge_window: u64) -> Self {
        Self { block, inferences: vec![], challenge_window, settlements: vec![], deliveries: vec![], unsettled: None }
    }

    pub fn record(self) -> Sealed {
        let b = &self.block;
        let stored = serde_json::to_string(&b.to_stored()).expect("a stored block is JSON");
        let mut block = rpc_json::block(b, true);
        if let Some(txs) = block.get_mut("transactions").and_then(Value::as_array_mut) {
            txs.iter_mut().filter_map(Value::as_object_mut).for_each(|tx| drop(tx.remove("input")));
        }
        let receipts = (0..b.transactions.len()).map(|i| rpc_json::receipt(b, i)).collect();
        let record = SealRecord {
            state_changes: &b.state_changes,
            block,
            receipts,
            inferences: self.inferences,
            challenge_window: self.challenge_window,
            settlements: self.settlements,
            deliveries: self.deliveries,
            unsettled: self.unsettled,
        };
        let record = serde_json::to_string(&record).expect("a block record is JSON");
        let (number, hash, timestamp_ms, tx_count) = (b.header.number, b.hash.to_string(), b.header.timestamp_ms, b.transactions.len());
        Sealed { number, hash, timestamp_ms, tx_count, record, stored }
    }
}

/// Every unsettled result as the settlement duties see it (JSON list).
pub fn unsettled(c: &Chain) -> Result<String, ChainError> {
    let notices = c.unsettled().iter().map(DeliveryNotice::try_from).collect::<Result<Vec<_>, _>>();
    notices.map(|n| serde_json::to_string(&n).expect("deliveries are JSON")).map_err(|e| ChainError::InvalidArgument(e.to_string()))
}
