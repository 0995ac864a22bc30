//! Transactions and calls that run EVM code: which ones do, their simulation when they
//! arrive (PIPE pre-execution, see `preexec.rs`), `eth_call` and `eth_estimateGas`, and the
//! dev methods that edit code, storage and the EVM's clock.
use alloy_primitives::{Address, Bytes, B256, U256};

use super::build::Ledger;
use super::native::{self, hub};
use super::preexec::{PreExec, RecordingHost, ServingHost};
use super::{BlockTag, Chain, ChainError};
use crate::eth::{SignedTx, TxRequest};
use crate::evm::{self, ExecOptions, Outcome, StateView};

/// What `eth_call` gave: its answer, or the key of the inference it waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallDispatch {
    Done(Bytes),
    Inference(B256),
}

/// An `eth_call` whose inference calls are racing on PIPE.
pub(super) struct PendingCall {
    req: TxRequest,
    tag: BlockTag,
    recorded: Vec<(Address, Bytes)>,
}

/// Ethereum's precompiles live at 0x01..=0x11 (Prague): a call to one runs on the EVM.
fn is_standard_precompile(address: &Address) -> bool {
    address[..19].iter().all(|b| *b == 0) && (1..=0x11).contains(&address[19])
}

impl Chain {
    /// Whether a transaction to `to` runs on the EVM: a creation, a call to an account with
    /// code, or to one of Ethereum's precompiles. Transfers and the native contracts' own
    /// transactions keep their native path.
    pub(super) fn needs_evm(&self, view: &dyn StateView, to: Option<Address>) -> bool {
        match to {
            None => true,
            // These keep state in the EVM (the scheduler's tasks) or answer only there.
            Some(native::OG_HISTORICAL | native::WORKFLOW_SCHEDULER) => true,
            Some(to) if native::is_native(&to) => false,
            Some(to) => is_standard_precompile(&to) || view.code(&to).is_some(),
        }
    }

    pub(super) fn block_env(&self, number: u64, timestamp: u64, base_fee: u64) -> evm::BlockEnv {
        evm::BlockEnv { spec: self.hardfork, chain_id: self.chain_id, number, timestamp, coinbase: self.coinbase, base_fee, gas_limit: self.gas_limit }
    }

    /// The environment of the next block, for simulations and calls.
    fn next_block_env(&self) -> evm::BlockEnv {
        let head = &self.blocks.last().header;
        let timestamp = self.evm_timestamp(self.next_timestamp, self.pipe.now_ms(), head.timestamp);
        self.block_env(head.number + 1, timestamp, self.base_fee())
    }

    pub(super) fn tx_input(tx: &SignedTx) -> evm::TxInput {
        use alloy_consensus::Transaction;
        evm::TxInput {
            caller: tx.sender,
            to: tx.to(),
            value: tx.value(),
            data: tx.input().clone(),
            gas_limit: tx.gas_limit(),
            max_fee_per_gas: tx.max_fee_per_gas(),
            max_priority_fee_per_gas: tx.envelope.max_priority_fee_per_gas(),
            nonce: Some(tx.nonce()),
            access_list: tx
                .envelope
                .access_list()
                .map(|l| l.iter().map(|i| (i.address, i.storage_keys.clone())).collect())
                .unwrap_or_default(),
            tx_type: tx.tx_type(),
        }
    }

    /// Simulates `tx` against the pending state and records its inference calls. Checks of
    /// nonce and balance are left to the pool: the simulation only asks what it would call.
    pub(super) fn simulate(&self, tx: &SignedTx) -> (Vec<(Address, Bytes)>, Vec<hub::InferenceCall>) {
        let ledger = Ledger::new(&*self.state, &self.blocks, self.next_layer());
        let env = self.next_block_env();
        let mut host = RecordingHost::new(self.natives_at(env.timestamp));
        let _ = evm::execute(&ledger, &env, &Self::tx_input(tx), &mut host, ExecOptions::simulation());
        (host.recorded, host.calls)
    }

    /// Simulates again a pooled transaction whose execution asked for other inference.
    pub(super) fn resimulate(&mut self, hash: &B256) {
        let Some(tx) = self.pool.get(hash).cloned() else { return };
        let simulations = self.preexec.get(hash).map(|p| p.simulations).unwrap_or(1) + 1;
        let (recorded, calls) = self.simulate(&tx);
        self.pipe.forget(&[*hash]);
        // Even with no calls now, the count is kept: the next mismatch may be the last.
        let fee = self.inference_fee(&calls);
        self.preexec.insert(*hash, PreExec { calls: recorded, simulations, fee });
        if !calls.is_empty() {
            self.pipe.submit(*hash, calls, true);
        }
    }

    /// The fee of the inference calls `tx`'s simulation recorded.
    pub(super) fn recorded_fee(&self, hash: &B256) -> U256 {
        self.preexec.get(hash).map_or(U256::ZERO, |p| p.fee)
    }

    /// The EVM's clock for a block at wall-clock `timestamp_ms` after a block at
    /// `parent_timestamp` (s): evm_setNextBlockTimestamp's value, or the wall clock moved by
    /// evm_increaseTime; never earlier than the parent. `timestampMs` stays the wall clock.
    pub(super) fn evm_timestamp(&self, forced: Option<u64>, timestamp_ms: u64, parent_timestamp: u64) -> u64 {
        forced.unwrap_or_else(|| (timestamp_ms / 1000).saturating_add_signed(self.time_offset_s)).max(parent_timestamp)
    }

    /// Drops the inference jobs (and pre-execution records) of transactions done with.
    pub(super) fn forget_jobs(&mut self, hashes: &[B256]) {
        self.pipe.forget(hashes);
        for h in hashes {
            self.preexec.remove(h);
        }
        self.llm_forget(hashes);
    }

    /// The layer and block environment a call at `tag` runs in.
    pub(super) fn call_env(&self, tag: BlockTag) -> Result<(u64, evm::BlockEnv), ChainError> {
        let at = self.layer(tag)?;
        if at <= self.published {
            let header = self.blocks.header(at);
            return Ok((at, self.block_env(header.number, header.timestamp, header.base_fee)));
        }
        Ok((at, self.next_block_env()))
    }

    pub(super) fn call_input(&self, req: &TxRequest) -> evm::TxInput {
        evm::TxInput {
            caller: req.from.unwrap_or_default(),
            to: req.to,
            value: req.value.unwrap_or_default(),
            data: req.data.clone().unwrap_or_default(),
            gas_limit: req.gas.unwrap_or(self.gas_limit).min(self.gas_limit),
            max_fee_per_gas: req.max_fee_per_gas.or(req.gas_price).unwrap_or(0),
            max_priority_fee_per_gas: req.max_priority_fee_per_gas,
            nonce: None,
            access_list: vec![],
            tx_type: 2,
        }
    }

    /// Runs `req` on the EVM at block `tag` without changing anything. Inference calls are
    /// answered with placeholders and recorded: (calldata, parsed call) of each come back too.
    #[allow(clippy::type_complexity)]
    pub(super) fn run_request(
        &self,
        req: &TxRequest,
        tag: BlockTag,
        options: ExecOptions,
    ) -> Result<(evm::Executed, Vec<(Address, Bytes)>, Vec<hub::InferenceCall>), ChainError> {
        let (at, env) = self.call_env(tag)?;
        let ledger = Ledger::new(&*self.state, &self.blocks, at);
        let mut host = RecordingHost::new(self.natives_at(env.timestamp));
        let executed =
            evm::execute(&ledger, &env, &self.call_input(req), &mut host, options).map_err(|e| ChainError::InvalidArgument(e.0))?;
        Ok((executed, host.recorded, host.calls))
    }

    /// `eth_call` of code: its return data, or `Reverted` with the revert data (code 3).
    /// A call that makes inference calls cannot answer here: see [`Chain::call_or_dispatch`].
    pub(super) fn call_evm(&self, req: &TxRequest, tag: BlockTag) -> Result<Bytes, ChainError> {
        let (executed, _, calls) = self.run_request(req, tag, ExecOptions::call())?;
        if !calls.is_empty() {
            return Err(ChainError::Unsupported(format!(
                "eth_call: this call makes {} inference call(s); they run through PIPE (see call_or_dispatch)",
                calls.len()
            )));
        }
        into_result(executed)
    }

    /// `eth_call`: the answer, or — for a call that makes inference calls — the key of PIPE
    /// jobs now racing them (VANILLA, no fee). Once they are decided, [`Chain::call_served`]
    /// runs the call again with their results.
    pub fn call_or_dispatch(&mut self, req: &TxRequest, tag: BlockTag) -> Result<CallDispatch, ChainError> {
        if !self.needs_evm(&Ledger::new(&*self.state, &self.blocks, self.layer(tag)?), req.to) {
            return self.call(req, tag).map(CallDispatch::Done);
        }
        let (executed, recorded, calls) = self.run_request(req, tag, ExecOptions::call())?;
        if calls.is_empty() {
            return into_result(executed).map(CallDispatch::Done);
        }
        self.call_counter += 1;
        let key = alloy_primitives::keccak256([b"og-devnet eth_call ".as_slice(), &self.call_counter.to_be_bytes()].concat());
        let calls = calls.into_iter().map(|mut c| {
            c.mode = 0;
            c
        });
        self.pipe.submit(key, calls.collect(), true);
        self.pending_calls.insert(key, PendingCall { req: req.clone(), tag, recorded });
        Ok(CallDispatch::Inference(key))
    }

    /// Runs a dispatched `eth_call` again, its inference calls served their results; its jobs
    /// are dropped. `Reverted` if the call now asks for other inference (the state changed).
    pub fn call_served(&mut self, key: &B256) -> Result<Bytes, ChainError> {
        let pending = self
            .pending_calls
            .remove(key)
            .ok_or_else(|| ChainError::InvalidArgument(format!("no eth_call awaits inference under {key}")))?;
        let outcomes = self.pipe.call_outcomes(key);
        self.pipe.forget(&[*key]);
        let (at, env) = self.call_env(pending.tag)?;
        let ledger = Ledger::new(&*self.state, &self.blocks, at);
        let mut host = ServingHost::new(self.natives_at(env.timestamp), &pending.recorded, outcomes);
        let executed = evm::execute(&ledger, &env, &self.call_input(&pending.req), &mut host, ExecOptions::call())
            .map_err(|e| ChainError::InvalidArgument(e.0))?;
        if let Some(why) = host.mismatch {
            return Err(ChainError::Reverted { reason: format!("the state changed while the call's inference ran ({why}); retry"), data: Bytes::new() });
        }
        into_result(executed)
    }

    /// Gives up a dispatched `eth_call` (it timed out): its jobs are dropped.
    pub fn call_abandon(&mut self, key: &B256) {
        self.pending_calls.remove(key);
        self.pipe.forget(&[*key]);
    }

    /// `eth_estimateGas` of a creation or a call to code: the least gas limit with which it
    /// succeeds (binary search above what one run used).
    pub(super) fn estimate_evm(&self, req: &TxRequest) -> Result<u64, ChainError> {
        let cap = req.gas.unwrap_or(self.gas_limit).min(self.gas_limit);
        let run = |gas: u64| {
            let mut r = req.clone();
            r.gas = Some(gas);
            self.run_request(&r, BlockTag::Pending, ExecOptions::estimate())
        };
        let (first, _, _) = run(cap)?;
        let used = first.gas_used;
        into_result(first)?;
        // Refunds and the 63/64 rule mean `used` may not be enough: search up to the cap.
        let ok = |gas: u64| run(gas).is_ok_and(|(e, _, _)| e.success());
        if ok(used) {
            return Ok(used);
        }
        let (mut lo, mut hi) = (used, cap);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if ok(mid) { hi = mid } else { lo = mid }
        }
        Ok(hi)
    }

    /// The hard fork transactions run under from now on.
    pub fn set_hardfork(&mut self, spec: evm::SpecId) {
        self.hardfork = spec;
    }

    // ---- dev methods -----------------------------------------------------------------------

    /// `anvil_setCode`: the code of `address` from the next block on (empty removes it).
    pub fn set_code(&mut self, address: Address, code: Bytes) -> Result<(), ChainError> {
        if native::is_native(&address) {
            return Err(ChainError::InvalidArgument(format!("{address} is a native contract: its code cannot be replaced")));
        }
        if code.len() > evm::MAX_CODE_SIZE {
            return Err(ChainError::InvalidArgument(format!("code of {} bytes is over the limit of {} (EIP-170)", code.len(), evm::MAX_CODE_SIZE)));
        }
        let at = self.next_layer();
        self.state.set_code(address, at, code);
        Ok(())
    }

    /// `anvil_setStorageAt`.
    pub fn set_storage_at(&mut self, address: Address, slot: U256, value: U256) {
        let at = self.next_layer();
        self.state.set_storage(address, at, slot, value);
    }

    /// `evm_increaseTime`: moves the EVM's clock forward; returns the total offset (s).
    pub fn increase_time(&mut self, seconds: u64) -> i64 {
        self.time_offset_s = self.time_offset_s.saturating_add(seconds.min(i64::MAX as u64) as i64);
        self.time_offset_s
    }

    /// `evm_setNextBlockTimestamp`: the next block's timestamp (s), not before the head's.
    pub fn set_next_block_timestamp(&mut self, timestamp: u64) -> Result<(), ChainError> {
        let head = self.blocks.last().header.timestamp;
        if timestamp < head {
            return Err(ChainError::InvalidArgument(format!(
                "timestamp {timestamp} is before the latest block's timestamp {head}"
            )));
        }
        self.next_timestamp = Some(timestamp);
        Ok(())
    }

    /// `anvil_dropTransaction`: removes a pooled transaction (and the sender's later ones,
    /// which could never run without it). Returns whether it was pooled.
    pub fn drop_transaction(&mut self, hash: &B256) -> bool {
        let Some(tx) = self.pool.get(hash).cloned() else { return false };
        let gone = self.pool.evict_from(&tx.sender, tx.nonce());
        self.forget_jobs(&gone);
        true
    }
}

pub(super) fn into_result(executed: evm::Executed) -> Result<Bytes, ChainError> {
    match &executed.outcome {
        Outcome::Success => Ok(executed.output),
        Outcome::Revert(data) => Err(ChainError::Reverted { reason: evm::revert_reason(data), data: data.clone() }),
        Outcome::Halt(why) => Err(ChainError::Reverted { reason: why.clone(), data: Bytes::new() }),
    }
}
