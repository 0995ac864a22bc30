//! `og_devnet._core.Chain`: the chain behind a mutex. Methods that do real work release
//! the GIL while they hold the chain lock.
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use alloy_primitives::B256;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt};
use serde_json::json;

use super::config::ConfigArgs;
use super::convert::{self, TagArg};
use super::errors::to_py;
use super::pipe::PyPipe;
use super::record;
use crate::chain::native::hub;
use crate::pipe::SystemClock;
use crate::chain::native::NATIVE_CONTRACTS;
use crate::chain::{Account, Block, Chain, Genesis, LogFilter, MiningMode, RestoredBlock, StoredBlock};
use super::wire;
use crate::eth::{rpc_json, TxRequest};

#[pyclass(name = "Chain", module = "og_devnet._core", frozen)]
pub struct PyChain {
    inner: Mutex<Chain>,
    pipe: Py<PyPipe>,
    /// Fixed when the chain is made: raw transactions are decoded against it without the lock.
    chain_id: u64,
}

fn wrap(py: Python<'_>, chain: Chain) -> PyResult<PyChain> {
    let pipe = Py::new(py, PyPipe::new(chain.pipe().clone()))?;
    Ok(PyChain { chain_id: chain.chain_id(), inner: Mutex::new(chain), pipe })
}

/// The message a Rust panic carries, as pyo3 shows it in a PanicException.
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => payload.downcast_ref::<&str>().map_or_else(|| "panic from Rust code".to_string(), |s| s.to_string()),
    }
}

/// A block that was sealed and awaits its commit to the store.
#[pyclass(module = "og_devnet._core", frozen, get_all)]
pub struct SealedBlock {
    number: u64,
    hash: String,
    timestamp_ms: u64,
    tx_count: usize,
    /// JSON: {"state_changes", "block": <RPC block, full txs without input>, "receipts": [...],
    /// "inferences", "settlements", ...}: what the store indexes and the listeners read.
    record: String,
    /// JSON of the block as stored (header, raw transactions, receipts, state changes).
    stored: String,
}

impl From<record::Sealed> for SealedBlock {
    fn from(s: record::Sealed) -> Self {
        Self { number: s.number, hash: s.hash, timestamp_ms: s.timestamp_ms, tx_count: s.tx_count, record: s.record, stored: s.stored }
    }
}

fn request(d: &Bound<'_, PyDict>) -> PyResult<TxRequest> {
    let s = |k: &str| -> PyResult<Option<String>> { d.get_item(k)?.map(|v| v.extract()).transpose() };
    let n = |k: &str| -> PyResult<Option<u128>> { d.get_item(k)?.map(|v| v.extract()).transpose() };
    let n64 = |k: &str| -> PyResult<Option<u64>> { d.get_item(k)?.map(|v| v.extract()).transpose() };
    Ok(TxRequest {
        from: s("from")?.as_deref().map(convert::address).transpose()?,
        to: s("to")?.as_deref().map(convert::address).transpose()?,
        value: d.get_item("value")?.map(|v| convert::u256(v.cast::<PyInt>()?)).transpose()?,
        data: s("data")?.as_deref().map(convert::data).transpose()?,
        gas: n64("gas")?,
        gas_price: n("gasPrice")?,
        max_fee_per_gas: n("maxFeePerGas")?,
        max_priority_fee_per_gas: n("maxPriorityFeePerGas")?,
        nonce: n64("nonce")?,
    })
}

/// (checksummed address, balance, nonce), as Python sees an account.
type PyAccount = (String, Py<PyAny>, u64);

fn accounts_to_py(py: Python<'_>, accounts: Vec<(alloy_primitives::Address, Account)>) -> PyResult<Vec<PyAccount>> {
    accounts.into_iter().map(|(a, acc)| Ok((a.to_checksum(None), convert::u256_to_py(py, acc.balance)?, acc.nonce))).collect()
}

fn to_json(v: serde_json::Value) -> String {
    v.to_string()
}

impl PyChain {
    fn lock(&self) -> MutexGuard<'_, Chain> {
        // A panic while holding the lock would poison it; the chain data stays consistent
        // because every mutation validates first, so keep serving.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Something may call for a block now (a settlement step, a mining mode): wakes a miner
    /// waiting in `Pipe.wait_decided_change`.
    fn nudge_miner(&self) {
        self.pipe.get().inner.nudge();
    }
}

#[pymethods]
impl PyChain {
    /// A new chain from block 0 (see `ChainConfig` in `_core.pyi`).
    #[new]
    fn new(py: Python<'_>, config: ConfigArgs<'_>) -> PyResult<Self> {
        let config = config.into_config()?;
        let chain = Chain::from_config(&config, Arc::new(SystemClock::new())).map_err(to_py)?;
        wrap(py, chain)
    }

    /// Resumes a chain from the store: `blocks` (record JSON, block 0 first) and `state`
    /// (every account: address, balance, nonce). The config's genesis fields, economics and
    /// genesis contracts are those saved when the chain was made. `blocks` is read once; only
    /// the bodies the window keeps are decoded.
    #[staticmethod]
    #[pyo3(signature = (config, *, blocks, state, deliveries_json=None))]
    fn restore(
        py: Python<'_>,
        config: ConfigArgs<'_>,
        blocks: &Bound<'_, PyAny>,
        state: Vec<(String, Bound<'_, PyInt>, u64)>,
        deliveries_json: Option<&str>,
    ) -> PyResult<Self> {
        let config = config.into_config()?;
        let state = state
            .iter()
            .map(|(a, b, n)| Ok((convert::address(a)?, Account { balance: convert::u256(b)?, nonce: *n })))
            .collect::<PyResult<Vec<_>>>()?;
        let (old, recent) = restored_blocks(blocks, config.body_window)?;
        let chain_id = config.genesis.chain_id;
        let mut chain = py
            .detach(|| {
                let recent = RestoredBlock::parse_recent(&recent, chain_id)?;
                Chain::restore_from_config(&config, old.into_iter().chain(recent), state, Arc::new(SystemClock::new()))
            })
            .map_err(to_py)?;
        if let Some(text) = deliveries_json {
            let deliveries = serde_json::from_str(text)
                .map_err(|e| to_py(crate::chain::ChainError::InvalidArgument(format!("stored unsettled results: {e}"))))?;
            chain.restore_deliveries(deliveries);
        }
        wrap(py, chain)
    }

    #[getter]
    fn chain_id(&self) -> u64 {
        self.lock().chain_id()
    }
    /// The base fee of the next block.
    #[getter]
    fn base_fee(&self) -> u64 {
        self.lock().base_fee()
    }

    /// Code and storage from genesis, as a geth `alloc` object (JSON) that `restore` takes.
    fn genesis_contracts_json(&self) -> String {
        Genesis::contracts_alloc_json(self.lock().contracts()).to_string()
    }
    #[getter]
    fn gas_limit(&self) -> u64 {
        self.lock().gas_limit()
    }
    fn head(&self) -> u64 {
        self.lock().head()
    }

    /// The number of the block `tag` names ("pending": the head's); raises BlockNotFound for
    /// an unknown hash, InvalidArgument for a future number.
    fn resolve_block(&self, tag: TagArg) -> PyResult<u64> {
        let tag = convert::tag(tag)?;
        self.lock().resolve(tag).map_err(to_py)
    }

    /// Prices, multipliers, stakes and bonds fixed at genesis (JSON, amounts as 0x-hex).
    fn economics_json(&self, py: Python<'_>) -> String {
        py.detach(|| to_json(json!(self.lock().economics())))
    }

    /// The fee of one inference of `model_id` in `mode`, in wei.
    fn inference_fee(&self, py: Python<'_>, model_id: &str, mode: u8) -> PyResult<Py<PyAny>> {
        let fee = py.detach(|| self.lock().economics().fee(model_id, mode));
        convert::u256_to_py(py, fee)
    }

    #[getter]
    fn challenge_window(&self) -> u64 {
        self.lock().challenge_window()
    }

    /// The watcher's address (it posts challenges and collects rewards).
    fn watcher(&self) -> String {
        self.lock().watcher().to_checksum(None)
    }

    /// Where `node`'s stake is held.
    #[staticmethod]
    fn stake_address(node: &str) -> PyResult<String> {
        Ok(crate::chain::economics::stake_address(&convert::address(node)?).to_checksum(None))
    }

    /// Verifiable results delivered and not settled yet (JSON list).
    fn unsettled_json(&self, py: Python<'_>) -> PyResult<String> {
        py.detach(|| record::unsettled(&self.lock())).map_err(to_py)
    }

    /// Hands the chain a ZKML proof of inference `id` with the full node's verdict
    /// (`rejection` None: it holds; else "reason: detail"). `node_at_fault` False: no proof
    /// could be made, through no lie of the node's (refund, no slash).
    #[pyo3(signature = (id, proof, t_ms, rejection=None, node_at_fault=true))]
    fn submit_proof(&self, py: Python<'_>, id: &str, proof: String, t_ms: u64, rejection: Option<String>, node_at_fault: bool) -> PyResult<()> {
        use crate::chain::settlement::Verdict;
        let id = convert::hash(id)?;
        let verdict = match rejection {
            None => Verdict::Valid,
            Some(r) if node_at_fault => Verdict::Invalid(r),
            Some(r) => Verdict::Unproven(r),
        };
        py.detach(|| self.lock().submit_proof(id, proof, t_ms, verdict)).map_err(to_py)?;
        self.nudge_miner();
        Ok(())
    }

    /// The watcher challenges OPTIMISTIC result `id`: its own execution gave `output`.
    fn challenge(&self, py: Python<'_>, id: &str, output: String, t_ms: u64) -> PyResult<()> {
        let id = convert::hash(id)?;
        py.detach(|| self.lock().challenge(id, output, t_ms)).map_err(to_py)?;
        self.nudge_miner();
        Ok(())
    }

    /// The referee's re-execution of disputed result `id`.
    fn referee(&self, py: Python<'_>, id: &str, output: String) -> PyResult<()> {
        let id = convert::hash(id)?;
        py.detach(|| self.lock().referee(id, output)).map_err(to_py)?;
        self.nudge_miner();
        Ok(())
    }

    /// Whether the next block would take a settlement step (automine seals one for it).
    fn settlement_due(&self, py: Python<'_>, now_ms: u64) -> bool {
        py.detach(|| self.lock().settlement_due(now_ms))
    }

    /// Unsettled results in full (JSON), to save with each block and restore after a restart.
    fn saved_deliveries_json(&self, py: Python<'_>) -> String {
        py.detach(|| serde_json::to_string(self.lock().unsettled()).expect("serialisable"))
    }

    /// The PIPE scheduler shared with this chain.
    fn pipe(&self, py: Python<'_>) -> Py<PyPipe> {
        self.pipe.clone_ref(py)
    }

    /// Registers (or replaces) a model from its spec JSON: id, name, kind (onnx|gguf),
    /// inputs/outputs [{name, dtype, shape}], modes [0..3], context_length.
    fn register_model(&self, spec_json: &str) -> PyResult<()> {
        let spec: crate::chain::native::models::ModelSpec = serde_json::from_str(spec_json)
            .map_err(|e| to_py(crate::chain::ChainError::InvalidArgument(format!("model spec: {e}"))))?;
        self.lock().register_model(spec).map_err(to_py)
    }

    /// The job a hub/precompile call would give the nodes (JSON), or None when `data` is not
    /// a valid inference call (estimate/call explain why).
    fn inference_payload(&self, to: &str, data: &str) -> PyResult<Option<String>> {
        let (to, data) = (convert::address(to)?, convert::data(data)?);
        if !hub::is_inference_contract(Some(to)) {
            return Ok(None);
        }
        Ok(hub::parse(to, &data, self.lock().models()).ok().map(|c| c.job_payload().to_string()))
    }

    /// Registers an enclave in the TEE registry (JSON: owner, endpoint, public_key,
    /// certificate, pcr_hash as 0x-hex, tee_type, registered_at_ms).
    fn register_enclave(&self, record_json: &str) -> PyResult<String> {
        let record: crate::chain::native::tee_registry::EnclaveRecord = serde_json::from_str(record_json)
            .map_err(|e| to_py(crate::chain::ChainError::InvalidArgument(format!("enclave record: {e}"))))?;
        let id = record.id();
        self.lock().register_enclave(record);
        Ok(id.to_string())
    }

    /// Puts an LLM gateway's signed answer (JSON, fields in `_core.pyi`) in a settlement
    /// batch: (record id, hash of the batch transaction that will settle it; None for a
    /// private answer). The full node verifies it when that transaction executes.
    fn submit_llm_inference(&self, py: Python<'_>, submission_json: &str) -> PyResult<(String, Option<String>)> {
        let submission: crate::chain::llm::LlmSubmission = serde_json::from_str(submission_json)
            .map_err(|e| to_py(crate::chain::ChainError::InvalidArgument(format!("LLM submission: {e}"))))?;
        let (id, tx) = py.detach(|| self.lock().submit_llm_inference(submission)).map_err(to_py)?;
        self.nudge_miner();
        Ok((id.to_string(), tx.map(|h| h.to_string())))
    }

    /// A live LLM answer's record (JSON) by its id, or its batch's records together by the
    /// batch transaction's hash; None when the chain does not hold it (the store may).
    fn llm_inference_json(&self, py: Python<'_>, key: &str) -> PyResult<Option<String>> {
        let key = convert::hash(key)?;
        Ok(py.detach(|| self.lock().llm_inference_json(&key)))
    }

    /// (shared batches' sender, individual and private batches' sender), checksummed.
    #[staticmethod]
    fn llm_accounts() -> (String, String) {
        use crate::chain::llm::{LLM_BATCH_ACCOUNT, LLM_SINGLE_ACCOUNT};
        (LLM_BATCH_ACCOUNT.to_checksum(None), LLM_SINGLE_ACCOUNT.to_checksum(None))
    }

    /// Serves `pair` (`BASE/QUOTE`) at OGHistorical (0x..F5) from CSV text
    /// (`timestamp,open,high,low,close,volume`) instead of the synthetic market.
    fn set_price_feed(&self, py: Python<'_>, pair: &str, csv_text: &str) -> PyResult<()> {
        py.detach(|| self.lock().set_price_feed(pair, csv_text)).map_err(to_py)
    }

    /// Sends `run()` to each scheduled task due in a block sealed at `now_ms` with no run
    /// waiting yet; returns the system transactions' hashes.
    fn enqueue_due_tasks(&self, py: Python<'_>, now_ms: u64) -> Vec<String> {
        py.detach(|| self.lock().enqueue_due_tasks(now_ms)).iter().map(|h| h.to_string()).collect()
    }

    /// Wall-clock ms at which the next scheduled task falls due (`now_ms` if due), or None.
    fn next_task_due_ms(&self, py: Python<'_>, now_ms: u64) -> Option<u64> {
        py.detach(|| self.lock().next_task_due_ms(now_ms))
    }

    /// The workflow scheduler's tasks (or only task `task_id`) with their last `recent` runs
    /// (JSON list).
    #[pyo3(signature = (recent=20, task_id=None))]
    fn workflows_json(&self, py: Python<'_>, recent: usize, task_id: Option<u64>) -> String {
        py.detach(|| to_json(json!(self.lock().workflows(recent, task_id))))
    }

    fn models_json(&self) -> String {
        serde_json::to_string(&self.lock().models().all()).unwrap_or_else(|_| "[]".into())
    }

    /// [(checksummed address, private key hex)] of the unlocked dev accounts.
    fn dev_accounts(&self) -> Vec<(String, String)> {
        let c = self.lock();
        let keys = c.keys();
        keys.addresses().iter().zip(keys.private_keys()).map(|(a, k)| (a.to_checksum(None), k.to_string())).collect()
    }

    /// The account scheduled workflow runs are sent from (checksummed).
    #[staticmethod]
    fn scheduler_account() -> String {
        crate::chain::native::scheduler::SCHEDULER_ACCOUNT.to_checksum(None)
    }

    #[staticmethod]
    fn native_contracts() -> Vec<(String, String)> {
        NATIVE_CONTRACTS.iter().map(|(n, a)| (n.to_string(), a.to_checksum(None))).collect()
    }

    fn balance(&self, py: Python<'_>, address: &str, tag: TagArg) -> PyResult<Py<PyAny>> {
        let a = self.lock().account(&convert::address(address)?, convert::tag(tag)?).map_err(to_py)?;
        convert::u256_to_py(py, a.balance)
    }

    fn nonce(&self, address: &str, tag: TagArg) -> PyResult<u64> {
        self.lock().nonce(&convert::address(address)?, convert::tag(tag)?).map_err(to_py)
    }

    #[pyo3(signature = (address, tag=TagArg::Name("latest".into())))]
    fn code(&self, address: &str, tag: TagArg) -> PyResult<String> {
        let (address, tag) = (convert::address(address)?, convert::tag(tag)?);
        self.lock().code(&address, tag).map(|c| c.to_string()).map_err(to_py)
    }

    /// The 32-byte word in storage slot `slot` of `address`, 0x-hex.
    fn storage_at(&self, address: &str, slot: &Bound<'_, PyInt>, tag: TagArg) -> PyResult<String> {
        let (address, slot, tag) = (convert::address(address)?, convert::word(slot)?, convert::tag(tag)?);
        self.lock().storage(&address, &slot, tag).map(|w| w.to_string()).map_err(to_py)
    }

    /// [(address, balance, nonce)] of every account at the tip.
    fn accounts(&self, py: Python<'_>) -> PyResult<Vec<PyAccount>> {
        let accounts = self.lock().accounts();
        accounts_to_py(py, accounts)
    }

    /// The block as JSON-RPC shapes it (by number, tag or hash; "pending" builds the pending
    /// block), or None.
    fn block_json(&self, py: Python<'_>, tag: TagArg, full: bool) -> PyResult<Option<String>> {
        let tag = convert::tag(tag)?;
        py.detach(|| wire::block(&self.lock(), tag, full).map(|b| b.map(to_json))).map_err(to_py)
    }

    /// Every receipt of a sealed block (JSON list), or None (no such block, or pending).
    fn block_receipts_json(&self, py: Python<'_>, tag: TagArg) -> PyResult<Option<String>> {
        let tag = convert::tag(tag)?;
        py.detach(|| wire::block_receipts(&self.lock(), tag).map(|r| r.map(to_json))).map_err(to_py)
    }

    /// The transaction at `index` of a block, or None.
    fn block_transaction_json(&self, py: Python<'_>, tag: TagArg, index: usize) -> PyResult<Option<String>> {
        let tag = convert::tag(tag)?;
        py.detach(|| wire::block_transaction(&self.lock(), tag, index).map(|t| t.map(to_json))).map_err(to_py)
    }

    /// The signed bytes (0x-hex) of the transaction at `index` of a block, or None.
    fn raw_block_transaction(&self, py: Python<'_>, tag: TagArg, index: usize) -> PyResult<Option<String>> {
        let tag = convert::tag(tag)?;
        py.detach(|| wire::raw_block_transaction(&self.lock(), tag, index)).map_err(to_py)
    }

    /// The signed bytes (0x-hex) of a mined or pooled transaction, or None.
    fn raw_transaction(&self, hash: &str) -> PyResult<Option<String>> {
        let h = convert::hash(hash)?;
        Ok(self.lock().transaction(&h).map_err(to_py)?.map(|(tx, _)| tx.raw().to_string()))
    }

    /// eth_feeHistory (JSON) over `count` blocks ending at `newest`.
    fn fee_history_json(&self, py: Python<'_>, count: u64, newest: TagArg, percentiles: Vec<f64>) -> PyResult<String> {
        let newest = convert::tag(newest)?;
        py.detach(|| wire::fee_history(&self.lock(), count, newest, &percentiles).map(to_json)).map_err(to_py)
    }

    fn block_by_hash_json(&self, hash: &str, full: bool) -> PyResult<Option<String>> {
        let h = convert::hash(hash)?;
        Ok(self.lock().block_by_hash(&h).map_err(to_py)?.map(|b| to_json(rpc_json::block(b, full))))
    }

    fn transaction_json(&self, hash: &str) -> PyResult<Option<String>> {
        let h = convert::hash(hash)?;
        let c = self.lock();
        Ok(c.transaction(&h).map_err(to_py)?.map(|(tx, at)| to_json(rpc_json::transaction(tx, at, c.base_fee() as u128))))
    }

    fn receipt_json(&self, hash: &str) -> PyResult<Option<String>> {
        let h = convert::hash(hash)?;
        Ok(self.lock().receipt(&h).map_err(to_py)?.map(|(b, i)| to_json(rpc_json::receipt(b, i))))
    }

    #[pyo3(signature = (*, from_block, to_block, block_hash=None, addresses=vec![], topics=vec![]))]
    fn logs_json(
        &self,
        py: Python<'_>,
        from_block: TagArg,
        to_block: TagArg,
        block_hash: Option<&str>,
        addresses: Vec<String>,
        topics: Vec<Option<Vec<String>>>,
    ) -> PyResult<String> {
        let (from_tag, to_tag) = (convert::tag(from_block)?, convert::tag(to_block)?);
        let mut filter = LogFilter {
            block_hash: block_hash.map(convert::hash).transpose()?,
            addresses: addresses.iter().map(|a| convert::address(a)).collect::<PyResult<_>>()?,
            topics: topics
                .iter()
                .map(|t| t.as_ref().map(|l| l.iter().map(|h| convert::hash(h)).collect::<PyResult<Vec<B256>>>()).transpose())
                .collect::<PyResult<_>>()?,
            ..Default::default()
        };
        py.detach(|| {
            let c = self.lock();
            filter.from_block = c.resolve(from_tag)?;
            filter.to_block = c.resolve(to_tag)?;
            let logs = c.logs(&filter)?;
            Ok(to_json(serde_json::Value::Array(logs.iter().map(rpc_json::log).collect())))
        })
        .map_err(to_py)
    }

    /// Takes archived block bodies read back from the store, [(number, stored JSON)], so the
    /// read that raised `BodyArchived` for them can be retried. Decoded (senders recovered)
    /// without the GIL and before taking the chain's lock. Returns how many were taken.
    fn load_bodies(&self, py: Python<'_>, records: Vec<(u64, String)>) -> PyResult<usize> {
        let chain_id = self.lock().chain_id();
        py.detach(|| {
            let bodies = records
                .iter()
                .map(|(number, json)| {
                    let stored: StoredBlock = serde_json::from_str(json).map_err(|e| {
                        crate::chain::ChainError::InvalidArgument(format!("stored block {number}: {e}"))
                    })?;
                    Block::from_stored(stored, chain_id)
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(self.lock().load_bodies(bodies))
        })
        .map_err(to_py)
    }

    /// How many recent published blocks keep their bodies in memory.
    #[getter]
    fn body_window(&self) -> u64 {
        self.lock().body_window()
    }

    /// (ready, queued) transactions in the gas mempool.
    fn pool_counts(&self) -> (usize, usize) {
        self.lock().pool_counts()
    }

    /// Decodes, checks and pools a raw signed transaction; returns its hash.
    fn submit_raw(&self, py: Python<'_>, raw: Vec<u8>) -> PyResult<String> {
        // Decoding and sender recovery need no chain: done before the lock is taken.
        py.detach(|| crate::eth::decode_raw_transaction(&raw, self.chain_id).and_then(|tx| self.lock().submit(tx)))
            .map(|h| h.to_string())
            .map_err(to_py)
    }

    /// `submit_raw` for each of `raws`, in order, in one call: the GIL is released, senders
    /// are recovered in parallel before the chain lock is taken, then each is pooled under
    /// one lock. Returns, per transaction, its hash or the exception `submit_raw` would have
    /// raised for it alone (a panic too); one's error changes nothing for the others.
    fn submit_raw_batch(&self, py: Python<'_>, raws: Vec<Vec<u8>>) -> PyResult<Vec<Py<PyAny>>> {
        use std::panic::{catch_unwind, AssertUnwindSafe};
        let results = py.detach(|| {
            let decoded = crate::eth::decode_raw_transactions(&raws, self.chain_id);
            let mut chain = self.lock();
            decoded
                .into_iter()
                .map(|tx| match tx {
                    Ok(tx) => catch_unwind(AssertUnwindSafe(|| chain.submit(tx))).map_err(panic_message),
                    Err(e) => Ok(Err(e)),
                })
                .collect::<Vec<_>>()
        });
        results
            .into_iter()
            .map(|r| match r {
                Ok(Ok(hash)) => Ok(hash.to_string().into_pyobject(py)?.into_any().unbind()),
                Ok(Err(e)) => Ok(to_py(e).into_value(py).into_any()),
                Err(panic) => Ok(pyo3::panic::PanicException::new_err(panic).into_value(py).into_any()),
            })
            .collect()
    }

    /// eth_sendTransaction for an unlocked dev account. Keys as in JSON-RPC, values parsed.
    fn send_transaction(&self, py: Python<'_>, request: &Bound<'_, PyDict>) -> PyResult<String> {
        let req = self::request(request)?;
        py.detach(|| self.lock().send_transaction(&req)).map(|h| h.to_string()).map_err(to_py)
    }

    /// eth_signTransaction: fills in and signs for an unlocked dev account; the raw signed
    /// transaction, 0x-hex.
    fn sign_transaction(&self, py: Python<'_>, request: &Bound<'_, PyDict>) -> PyResult<String> {
        let req = self::request(request)?;
        py.detach(|| self.lock().sign_transaction(&req)).map(|tx| tx.raw().to_string()).map_err(to_py)
    }

    /// eth_sign: the EIP-191 signature (65 bytes r ‖ s ‖ v, v 27/28, 0x-hex) of `message`.
    fn sign_message(&self, address: &str, message: Vec<u8>) -> PyResult<String> {
        let from = convert::address(address)?;
        let sig = self.lock().sign_message(from, &message).map_err(to_py)?;
        Ok(alloy_primitives::hex::encode_prefixed(sig.as_bytes()))
    }

    /// eth_signTypedData_v4: the EIP-712 signature (65 bytes, 0x-hex) of typed data (JSON).
    fn sign_typed_data(&self, address: &str, typed_json: &str) -> PyResult<String> {
        let from = convert::address(address)?;
        let sig = self.lock().sign_typed_data(from, typed_json).map_err(to_py)?;
        Ok(alloy_primitives::hex::encode_prefixed(sig.as_bytes()))
    }

    fn estimate_gas(&self, py: Python<'_>, request: &Bound<'_, PyDict>) -> PyResult<u64> {
        let req = self::request(request)?;
        py.detach(|| self.lock().estimate_gas(&req)).map_err(to_py)
    }

    fn call(&self, py: Python<'_>, request: &Bound<'_, PyDict>, tag: TagArg) -> PyResult<String> {
        let req = self::request(request)?;
        let tag = convert::tag(tag)?;
        py.detach(|| self.lock().call(&req, tag)).map(|b| b.to_string()).map_err(to_py)
    }

    /// `eth_call`: (return data, None), or (None, key) when the call makes inference calls,
    /// now racing on PIPE under `key`: wait for them, then `call_served(key)`.
    fn call_or_dispatch(&self, py: Python<'_>, request: &Bound<'_, PyDict>, tag: TagArg) -> PyResult<(Option<String>, Option<String>)> {
        let req = self::request(request)?;
        let tag = convert::tag(tag)?;
        match py.detach(|| self.lock().call_or_dispatch(&req, tag)).map_err(to_py)? {
            crate::chain::CallDispatch::Done(data) => Ok((Some(data.to_string()), None)),
            crate::chain::CallDispatch::Inference(key) => Ok((None, Some(key.to_string()))),
        }
    }

    fn call_served(&self, py: Python<'_>, key: &str) -> PyResult<String> {
        let key = convert::hash(key)?;
        py.detach(|| self.lock().call_served(&key)).map(|b| b.to_string()).map_err(to_py)
    }

    fn call_abandon(&self, key: &str) -> PyResult<()> {
        self.lock().call_abandon(&convert::hash(key)?);
        Ok(())
    }

    /// The hard fork transactions run under ("london" … "osaka").
    fn set_hardfork(&self, name: &str) -> PyResult<()> {
        let spec = crate::evm::hardfork(name).map_err(|e| to_py(crate::chain::ChainError::InvalidArgument(e)))?;
        self.lock().set_hardfork(spec);
        Ok(())
    }

    /// `anvil_impersonateAccount` (on) / `anvil_stopImpersonatingAccount` (off).
    fn impersonate(&self, address: &str, on: bool) -> PyResult<()> {
        self.lock().impersonate(convert::address(address)?, on);
        Ok(())
    }

    /// `eth_createAccessList`: ([(address, [slot, ...]), ...], gas used with the list).
    #[allow(clippy::type_complexity)]
    fn create_access_list(&self, py: Python<'_>, request: &Bound<'_, PyDict>, tag: TagArg) -> PyResult<(Vec<(String, Vec<String>)>, u64)> {
        let req = self::request(request)?;
        let tag = convert::tag(tag)?;
        let (list, gas) = py.detach(|| self.lock().create_access_list(&req, tag)).map_err(to_py)?;
        Ok((list.into_iter().map(|(a, keys)| (a.to_checksum(None), keys.iter().map(|k| k.to_string()).collect())).collect(), gas))
    }

    /// `debug_traceTransaction`: geth's trace (JSON) of a mined transaction.
    #[pyo3(signature = (hash, options_json=None))]
    fn trace_transaction(&self, py: Python<'_>, hash: &str, options_json: Option<&str>) -> PyResult<String> {
        let hash = convert::hash(hash)?;
        let options = parse_options(options_json)?;
        py.detach(|| self.lock().trace_transaction(&hash, options.as_ref())).map(|v| v.to_string()).map_err(to_py)
    }

    #[pyo3(signature = (tag, options_json=None))]
    fn trace_block(&self, py: Python<'_>, tag: TagArg, options_json: Option<&str>) -> PyResult<String> {
        let tag = convert::tag(tag)?;
        let options = parse_options(options_json)?;
        py.detach(|| self.lock().trace_block(tag, options.as_ref())).map(|v| v.to_string()).map_err(to_py)
    }

    #[pyo3(signature = (request, tag, options_json=None))]
    fn trace_call(&self, py: Python<'_>, request: &Bound<'_, PyDict>, tag: TagArg, options_json: Option<&str>) -> PyResult<String> {
        let req = self::request(request)?;
        let tag = convert::tag(tag)?;
        let options = parse_options(options_json)?;
        py.detach(|| self.lock().trace_call(&req, tag, options.as_ref())).map(|v| v.to_string()).map_err(to_py)
    }

    /// `anvil_setCode`: from the next block on (empty code removes it).
    fn set_code(&self, address: &str, code: &str) -> PyResult<()> {
        self.lock().set_code(convert::address(address)?, convert::data(code)?).map_err(to_py)
    }

    fn set_storage_at(&self, address: &str, slot: &Bound<'_, PyInt>, value: &Bound<'_, PyInt>) -> PyResult<()> {
        self.lock().set_storage_at(convert::address(address)?, convert::u256(slot)?, convert::u256(value)?);
        Ok(())
    }

    /// `evm_increaseTime`: returns the total offset of the EVM's clock (s).
    fn increase_time(&self, seconds: u64) -> i64 {
        self.lock().increase_time(seconds)
    }

    fn set_next_block_timestamp(&self, timestamp: u64) -> PyResult<()> {
        self.lock().set_next_block_timestamp(timestamp).map_err(to_py)
    }

    /// `anvil_dropTransaction`: whether it was pooled.
    fn drop_transaction(&self, hash: &str) -> PyResult<bool> {
        Ok(self.lock().drop_transaction(&convert::hash(hash)?))
    }

    /// Seals and stages the next block; commit it to the store, then `publish(number)`.
    fn seal_block(&self, py: Python<'_>, now_ms: u64) -> PyResult<SealedBlock> {
        // The record (JSON of every transaction and receipt) is made after the lock is let go.
        let sealed = py
            .detach(|| {
                let parts = record::seal_parts(&mut self.lock(), now_ms);
                parts.map(record::SealedParts::record)
            })
            .map_err(to_py)?;
        Ok(sealed.into())
    }

    /// The genesis block, to store it the first time: as a sealed block is.
    fn genesis_block(&self) -> SealedBlock {
        let c = self.lock();
        let b = c.block(crate::chain::BlockTag::Earliest).ok().flatten().expect("genesis is in memory until block 1 is published");
        record::SealedParts::of_block(b.clone(), c.challenge_window()).record().into()
    }

    fn publish(&self, number: u64) -> PyResult<()> {
        self.lock().publish(number).map_err(to_py)
    }

    fn discard_staged(&self) {
        self.lock().discard_staged()
    }

    fn snapshot(&self) -> PyResult<u64> {
        self.lock().snapshot().map_err(to_py)
    }

    /// (head, [(address, balance, nonce)]) that reverting to `id` would leave; None if unknown.
    fn snapshot_state(&self, py: Python<'_>, id: u64) -> PyResult<Option<(u64, Vec<PyAccount>)>> {
        let Some((head, accounts)) = self.lock().snapshot_state(id) else { return Ok(None) };
        Ok(Some((head, accounts_to_py(py, accounts)?)))
    }

    fn revert(&self, id: u64) -> PyResult<bool> {
        self.lock().revert(id).map_err(to_py)
    }

    /// Sets the balance at the tip; returns the account's (balance, nonce).
    fn set_balance(&self, py: Python<'_>, address: &str, balance: &Bound<'_, PyInt>) -> PyResult<(Py<PyAny>, u64)> {
        let acc = self.lock().set_balance(convert::address(address)?, convert::u256(balance)?);
        Ok((convert::u256_to_py(py, acc.balance)?, acc.nonce))
    }

    fn set_nonce(&self, py: Python<'_>, address: &str, nonce: u64) -> PyResult<(Py<PyAny>, u64)> {
        let acc = self.lock().set_nonce(convert::address(address)?, nonce);
        Ok((convert::u256_to_py(py, acc.balance)?, acc.nonce))
    }

    /// (mode name, block time in ms or 0).
    fn mining_mode(&self) -> (&'static str, u64) {
        let m = self.lock().mining_mode();
        let bt = if let MiningMode::Interval { block_time_ms } = m { block_time_ms } else { 0 };
        (m.name(), bt)
    }

    #[pyo3(signature = (mode, block_time_ms=0))]
    fn set_mining_mode(&self, mode: &str, block_time_ms: u64) -> PyResult<()> {
        let m = super::config::mode(mode, block_time_ms)?;
        self.lock().set_mining_mode(m);
        self.nudge_miner();
        Ok(())
    }

    /// When (ms) the next interval block is due; None unless interval mining.
    fn next_block_due(&self, now_ms: u64) -> Option<u64> {
        self.lock().next_block_due(now_ms)
    }
}

/// Reads the stored records (an iterable of JSON strings, block 0 first) once. All but the
/// last `window` are parsed as they come, without their bodies, so the records of a long
/// chain never sit in memory together; the last ones come back as text, to be parsed (see
/// `RestoredBlock::parse_recent`) without the GIL.
fn restored_blocks(blocks: &Bound<'_, PyAny>, window: u64) -> PyResult<(Vec<RestoredBlock>, Vec<String>)> {
    let (mut old, mut recent) = (Vec::new(), VecDeque::new());
    for item in blocks.try_iter()? {
        recent.push_back(item?.extract::<String>()?);
        if recent.len() as u64 > window.max(1) {
            let json = recent.pop_front().expect("over the window");
            old.push(RestoredBlock::parse_archived(&json).map_err(to_py)?);
        }
    }
    Ok((old, recent.into()))
}

fn parse_options(text: Option<&str>) -> PyResult<Option<serde_json::Value>> {
    text.map(|t| serde_json::from_str(t).map_err(|e| to_py(crate::chain::ChainError::InvalidArgument(format!("tracing options: {e}")))))
        .transpose()
}
