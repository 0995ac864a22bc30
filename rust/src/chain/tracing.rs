//! `debug_traceTransaction`, `debug_traceBlockByNumber` and `debug_traceCall`: a mined
//! transaction is re-executed on the EVM over the state before its block, after the
//! transactions before it, its inference calls served from its receipt.
use serde_json::{json, Value};

use super::build::Ledger;
use super::preexec::{self, RecordingHost, ReplayHost};
use super::{BlockTag, Chain, ChainError};
use crate::eth::TxRequest;
use crate::evm::{self, ExecOptions, Tracer};

impl Chain {
    /// Traces of transactions `0..=last` of block `number` (or every one), in order.
    fn trace_block_txs(&self, number: u64, last: Option<usize>, tracer: &Tracer) -> Result<Vec<Value>, ChainError> {
        let block = self.body(number)?;
        let header = &block.header;
        // The state the block started from; its settlement steps are not replayed (they move
        // fees and stakes between the hub and the nodes, which no trace reads).
        let mut ledger = Ledger::new(&*self.state, &self.blocks, number.saturating_sub(1));
        let env = self.block_env(number, header.timestamp, header.base_fee);
        let count = last.map(|i| i + 1).unwrap_or(block.transactions.len());
        let mut traces = Vec::with_capacity(count);
        for (tx, receipt) in block.transactions.iter().zip(&block.receipts).take(count) {
            let mut host = ReplayHost::new(preexec::NativeState { now_ms: header.timestamp_ms, ..self.natives_at(header.timestamp) }, &receipt.logs);
            let (trace, executed) =
                evm::trace(&ledger, &env, &Self::tx_input(tx), &mut host, ExecOptions::simulation(), tracer).map_err(ChainError::InvalidArgument)?;
            ledger.apply(executed.diff);
            traces.push(json!({"txHash": tx.hash, "result": trace}));
        }
        Ok(traces)
    }

    /// `debug_traceTransaction`.
    pub fn trace_transaction(&self, hash: &alloy_primitives::B256, options: Option<&Value>) -> Result<Value, ChainError> {
        let tracer = Tracer::parse(options).map_err(ChainError::InvalidArgument)?;
        let (number, index) = match self.tx_index.get(hash) {
            Some((n, i)) if *n <= self.published => (*n, *i),
            _ => return Err(ChainError::InvalidArgument(format!("transaction {hash} is not in a published block"))),
        };
        let mut traces = self.trace_block_txs(number, Some(index), &tracer)?;
        Ok(traces.pop().map(|mut t| t["result"].take()).unwrap_or(Value::Null))
    }

    /// `debug_traceBlockByNumber` / `debug_traceBlockByHash`: `[{txHash, result}]`.
    pub fn trace_block(&self, tag: BlockTag, options: Option<&Value>) -> Result<Value, ChainError> {
        let tracer = Tracer::parse(options).map_err(ChainError::InvalidArgument)?;
        let number = self.resolve(tag)?;
        Ok(Value::Array(self.trace_block_txs(number, None, &tracer)?))
    }

    /// `debug_traceCall`: `req` traced at block `tag`, inference calls answered with the
    /// simulation's placeholders.
    pub fn trace_call(&self, req: &TxRequest, tag: BlockTag, options: Option<&Value>) -> Result<Value, ChainError> {
        let tracer = Tracer::parse(options).map_err(ChainError::InvalidArgument)?;
        let (ledger_at, env) = self.call_env(tag)?;
        let ledger = Ledger::new(&*self.state, &self.blocks, ledger_at);
        let mut host = RecordingHost::new(self.natives_at(env.timestamp));
        let input = self.call_input(req);
        let (trace, _) = evm::trace(&ledger, &env, &input, &mut host, ExecOptions::call(), &tracer).map_err(ChainError::InvalidArgument)?;
        Ok(trace)
    }
}

impl Chain {
    /// `eth_createAccessList`: the slots `req` touches at block `tag`, and the gas it uses
    /// with that list (as geth: a revert is an error, code 3).
    pub fn create_access_list(&self, req: &TxRequest, tag: BlockTag) -> Result<(Vec<(alloy_primitives::Address, Vec<alloy_primitives::B256>)>, u64), ChainError> {
        let (at, env) = self.call_env(tag)?;
        let ledger = Ledger::new(&*self.state, &self.blocks, at);
        if !self.needs_evm(&ledger, req.to) {
            return Ok((vec![], self.estimate_gas(req)?));
        }
        let mut host = RecordingHost::new(self.natives_at(env.timestamp));
        let input = self.call_input(req);
        let (list, _) = evm::access_list(&ledger, &env, &input, &mut host, ExecOptions::call()).map_err(ChainError::InvalidArgument)?;
        // The gas with the list: each entry costs, each warm access saves.
        let mut with_list = input;
        with_list.access_list = list.clone();
        let mut host = RecordingHost::new(self.natives_at(env.timestamp));
        let executed = evm::execute(&ledger, &env, &with_list, &mut host, ExecOptions::call()).map_err(|e| ChainError::InvalidArgument(e.0))?;
        let gas = executed.gas_used;
        super::evm_txs::into_result(executed)?;
        Ok((list, gas))
    }
}
