//! Sealing a block: settle earlier results' proofs, then pick transactions from the gas
//! mempool in fee order, execute them against the tip state, and stage the block until the
//! store has committed it.
use std::collections::{BTreeMap, HashMap, HashSet};

use alloy_primitives::{Address, Bytes, B256, U256};

use super::archive::Blocks;
use super::economics::stake_address;
use super::native::{hub, INFERENCE_HUB};
use super::preexec::{self, ServingHost};
use super::settlement::{next_step, Delivery, SettlementRecord, Step};
use super::{max_cost, Account, Block, Chain, ChainError, Header, Receipt, StateDb};
use crate::eth::SignedTx;
use crate::evm::{self, StateDiff, StateView};

/// What a block has changed so far (accounts, storage, code), over the state of its layer.
pub(super) struct Ledger<'a> {
    pub state: &'a dyn StateDb,
    pub blocks: &'a Blocks,
    /// The block being built: reads see its layer.
    pub at: u64,
    pub accounts: BTreeMap<Address, Account>,
    pub storage: HashMap<(Address, U256), U256>,
    pub code: HashMap<Address, Bytes>,
}

impl<'a> Ledger<'a> {
    pub fn new(state: &'a dyn StateDb, blocks: &'a Blocks, at: u64) -> Self {
        Ledger { state, blocks, at, accounts: BTreeMap::new(), storage: HashMap::new(), code: HashMap::new() }
    }

    fn get(&mut self, a: Address) -> Account {
        let (state, at) = (self.state, self.at);
        *self.accounts.entry(a).or_insert_with(|| state.account_at(&a, at))
    }

    pub fn apply(&mut self, diff: StateDiff) {
        self.accounts.extend(diff.accounts);
        for (address, slot, value) in diff.storage {
            self.storage.insert((address, slot), value);
        }
        self.code.extend(diff.code);
    }

    /// What the block changed, apart from the state it read (so the state can be written).
    pub fn into_changes(self) -> LedgerChanges {
        LedgerChanges { at: self.at, accounts: self.accounts, storage: self.storage, code: self.code }
    }
}

pub(super) struct LedgerChanges {
    at: u64,
    accounts: BTreeMap<Address, Account>,
    storage: HashMap<(Address, U256), U256>,
    code: HashMap<Address, Bytes>,
}

impl LedgerChanges {
    /// Writes everything the block changed into `state` at the block's number.
    pub fn commit(self, state: &mut dyn StateDb) {
        let at = self.at;
        for (address, account) in self.accounts {
            state.set_account(address, at, account);
        }
        for ((address, slot), value) in self.storage {
            state.set_storage(address, at, slot, value);
        }
        for (address, code) in self.code {
            state.set_code(address, at, code);
        }
    }
}

impl StateView for Ledger<'_> {
    fn account(&self, address: &Address) -> Account {
        self.accounts.get(address).copied().unwrap_or_else(|| self.state.account_at(address, self.at))
    }
    fn code(&self, address: &Address) -> Option<(B256, Bytes)> {
        match self.code.get(address) {
            Some(code) if code.is_empty() => None,
            Some(code) => Some((alloy_primitives::keccak256(code), code.clone())),
            None => self.state.code_at(address, self.at),
        }
    }
    fn storage(&self, address: &Address, slot: U256) -> U256 {
        self.storage.get(&(*address, slot)).copied().unwrap_or_else(|| self.state.storage_at(address, slot, self.at))
    }
    fn block_hash(&self, number: u64) -> B256 {
        // BLOCKHASH sees the 256 blocks before this one.
        if number >= self.at || number + 256 < self.at || number >= self.blocks.len() as u64 {
            return B256::ZERO;
        }
        self.blocks.hash(number)
    }
}

impl Ledger<'_> {
    /// Moves up to `amount` out of `from` (a stake may hold less than a bond); returns what
    /// moved. `to` None burns it.
    pub(super) fn transfer(&mut self, from: Address, to: Option<Address>, amount: U256) -> U256 {
        let mut source = self.get(from);
        let moved = amount.min(source.balance);
        if let Some(to) = to {
            let mut target = self.get(to);
            let Some(sum) = target.balance.checked_add(moved) else { return U256::ZERO };
            target.balance = sum;
            self.accounts.insert(to, target);
            source = self.get(from); // `to` may be `from`
        }
        source.balance -= moved;
        self.accounts.insert(from, source);
        moved
    }
}

/// What running the pool's ready transactions over a ledger gave: the block's body.
pub(super) struct Execution {
    pub included: Vec<SignedTx>,
    pub receipts: Vec<Receipt>,
    pub gas_used: u64,
    /// Transactions that can never run (the balance fell since they were pooled).
    pub dropped: Vec<(Address, u64)>,
    /// Contract transactions whose execution asked for inference the simulation did not
    /// record: simulated again and their jobs re-dispatched.
    pub resimulate: Vec<B256>,
    /// What the LLM batch transactions found (applied only when the block is sealed).
    pub llm: Vec<super::llm::BatchOutcome>,
}

impl Chain {
    /// Seals the next block at wall-clock `now_ms` and stages it. Readers see it only after
    /// [`Chain::publish`]. Never waits for anything.
    pub fn seal_block(&mut self, now_ms: u64) -> Result<&Block, ChainError> {
        self.require_no_staged()?;
        // Runs due by this block go in it when they make no inference call (those wait for
        // their races, like any inference transaction).
        self.enqueue_due_tasks(now_ms);
        let base_fee = self.base_fee();
        let forced_timestamp = self.next_timestamp.take();
        let parent = self.blocks.last();
        let number = parent.header.number + 1;
        let timestamp_ms = now_ms.max(parent.header.timestamp_ms);
        // The EVM's clock (evm_increaseTime, evm_setNextBlockTimestamp move it); timestampMs
        // stays the wall clock that trust gaps are measured on.
        let timestamp = self.evm_timestamp(forced_timestamp, timestamp_ms, parent.header.timestamp);
        let parent_hash = parent.hash;
        self.deliveries_before_staged = self.deliveries.clone();
        // Reads see this block's layer: the parent's state plus edits made since
        // (anvil_setBalance), which become part of this block.
        let mut ledger = Ledger::new(&*self.state, &self.blocks, number);
        let Settled { records: mut settlements, penalties, slashed_nodes } = settle(
            &mut self.deliveries,
            &self.pipe,
            &self.economics,
            &mut ledger,
            (number, timestamp_ms, self.challenge_window),
        );
        self.staged_penalties = penalties;
        self.staged_slashed_nodes = slashed_nodes;
        let env = self.block_env(number, timestamp, base_fee);
        let Execution { included, receipts, gas_used, dropped, resimulate, llm } = self.execute_ready(&mut ledger, &env);
        let mut new_deliveries: Vec<Delivery> = Vec::new();
        for (tx, receipt) in included.iter().zip(&receipts) {
            if hub::is_inference_contract(tx.to()) || self.preexec.contains_key(&tx.hash) {
                self.pipe.mark_included(&tx.hash, number, timestamp_ms, self.challenge_window);
                if receipt.status {
                    new_deliveries.extend(self.pipe.deliveries(&tx.hash, number).into_iter().map(|mut d| {
                        d.sender = tx.sender;
                        d.fee = self.economics.fee(&d.model_id, d.mode);
                        d
                    }));
                }
            }
        }

        let changes = ledger.into_changes();
        changes.commit(&mut *self.state);
        let deliveries_settled = !settlements.is_empty();
        settlements.extend(self.llm_sealed(llm, number, timestamp_ms));
        let state_changes = self.state.changes_at(number);
        let evm_changes = self.state.evm_changes_at(number);
        let header = Header {
            number,
            parent_hash,
            timestamp,
            timestamp_ms,
            coinbase: self.coinbase,
            gas_limit: self.gas_limit,
            gas_used,
            base_fee,
            state_root: self.state_root(number),
            settlements_root: Block::settlements_root(&settlements),
            ..Block::body_header(&included, &receipts)
        };
        self.deliveries_changed |= !new_deliveries.is_empty() || deliveries_settled;
        self.deliveries.extend(new_deliveries);
        for (i, tx) in included.iter().enumerate() {
            self.tx_index.insert(tx.hash, (number, i));
        }
        let block = Block {
            hash: header.hash(),
            header,
            transactions: included,
            receipts,
            state_changes,
            evm_changes,
            settlements,
        };
        let mut gone = Vec::new();
        for (sender, nonce) in dropped {
            gone.extend(self.pool.evict_from(&sender, nonce));
        }
        let state = &self.state;
        let mined: HashSet<B256> = block.transactions.iter().map(|t| t.hash).collect();
        gone.extend(self.pool.prune(|a| state.account_at(a, number).nonce).into_iter().filter(|h| !mined.contains(h)));
        self.forget_jobs(&gone);
        self.schedule.sealed(now_ms);
        self.blocks.push(block);
        // Against the state this block leaves (the next layer reads through to it).
        for hash in resimulate {
            self.resimulate(&hash);
        }
        Ok(self.blocks.last())
    }

    /// Runs the pool's ready transactions, best first, over `ledger` (the next block's
    /// layer) in block `env`, as far as the gas limit allows. Changes only the ledger: the
    /// pending block is built the same way without sealing anything.
    pub(super) fn execute_ready(&self, ledger: &mut Ledger<'_>, env: &evm::BlockEnv) -> Execution {
        let number = ledger.at;
        let base_fee = env.base_fee as u128;
        let state = &self.state;
        let pipe = &self.pipe;
        // An inference transaction goes in once its race is decided (a contract transaction
        // once every call its simulation recorded is); block production never waits for one.
        // An LLM batch once its wait is over.
        let candidates = self.pool.ready_in_order(|a| state.account_at(a, number).nonce, base_fee, |tx| {
            (!(hub::is_inference_contract(tx.to()) || self.preexec.contains_key(&tx.hash)) || pipe.is_decided(&tx.hash))
                && self.llm_ready(tx, number)
        });
        let mut deferred: HashSet<Address> = HashSet::new();
        let mut out = Execution { included: vec![], receipts: vec![], gas_used: 0, dropped: vec![], resimulate: vec![], llm: vec![] };
        for tx in candidates {
            if deferred.contains(&tx.sender) {
                continue;
            }
            if out.gas_used + tx.gas_limit() > self.gas_limit {
                // Does not fit: it and the sender's later txs wait for the next block.
                deferred.insert(tx.sender);
                continue;
            }
            let receipt = if super::llm::is_batch_tx(&tx) {
                self.execute_llm_batch(ledger, base_fee, &tx, out.gas_used, &mut out.llm)
            } else if self.needs_evm(ledger, tx.to()) {
                self.execute_contract_tx(ledger, env, &tx, out.gas_used)
            } else {
                self.execute_native_tx(ledger, base_fee, &tx, out.gas_used)
            };
            match receipt {
                TxResult::Included(receipt) => {
                    super::workflows::record_if_scheduled(ledger, &tx, number, env.timestamp, out.included.len(), &receipt);
                    out.gas_used = receipt.cumulative_gas_used;
                    out.receipts.push(receipt);
                    out.included.push(tx);
                }
                TxResult::Dropped => {
                    // The balance fell since it was pooled (anvil_setBalance): it can never run.
                    deferred.insert(tx.sender);
                    out.dropped.push((tx.sender, tx.nonce()));
                }
                TxResult::Resimulate => {
                    deferred.insert(tx.sender);
                    out.resimulate.push(tx.hash);
                }
            }
        }
        out
    }

    /// A transfer, or a call to a native contract (inference: the decided results' events,
    /// or status 0 with the reason on the job). Each inference call's fee is charged now:
    /// VANILLA's goes to the winner at once, the others' wait in the hub until their proofs
    /// settle.
    fn execute_native_tx(&self, ledger: &mut Ledger<'_>, base_fee: u128, tx: &SignedTx, gas_before: u64) -> TxResult {
        let pipe = &self.pipe;
        let to = tx.to().expect("creations run on the EVM");
        let (tx_gas, status, logs, fees) = if hub::is_inference_contract(Some(to)) {
            let outcome = pipe.outcome(&tx.hash);
            let needed = tx.intrinsic_gas() + pipe.gas_of(&tx.hash).unwrap_or(hub::MODEL_GAS);
            match outcome {
                _ if tx.gas_limit() < needed => (tx.gas_limit(), false, vec![], vec![]),
                Ok(calls) => {
                    let fees = self.call_fees(&calls);
                    (needed, true, calls.into_iter().flat_map(|c| c.logs).collect(), fees)
                }
                Err(_) => (needed, false, vec![], vec![]),
            }
        } else {
            (tx.intrinsic_gas(), true, vec![], vec![])
        };
        let fee_total = fees.iter().fold(U256::ZERO, |s, (_, f)| s.saturating_add(*f));
        let price = tx.effective_gas_price(base_fee);
        let tip = U256::from(tx_gas) * U256::from(tx.effective_tip(base_fee));
        // Every amount is checked: an edit near 2^256 (anvil_setBalance) must not wrap.
        // The (at most three) accounts this tx touches, applied only if all checks pass.
        let mut touched: BTreeMap<Address, Account> = BTreeMap::new();
        let mut account = |touched: &mut BTreeMap<Address, Account>, a: Address| -> Account {
            *touched.entry(a).or_insert_with(|| ledger.get(a))
        };
        let applied = (|| {
            let mut sender = account(&mut touched, tx.sender);
            let fee = if status { fee_total } else { U256::ZERO };
            if sender.nonce != tx.nonce() || sender.balance < max_cost(tx)?.checked_add(fee)? {
                return None;
            }
            sender.balance -= U256::from(tx_gas) * U256::from(price) + if status { tx.value() } else { U256::ZERO } + fee;
            sender.nonce += 1;
            touched.insert(tx.sender, sender);
            // A failed call moves no value, as a revert would.
            if status {
                let mut recipient = account(&mut touched, to);
                recipient.balance = recipient.balance.checked_add(tx.value())?;
                touched.insert(to, recipient);
                for (payee, fee) in &fees {
                    let mut earner = account(&mut touched, *payee);
                    earner.balance = earner.balance.checked_add(*fee)?;
                    touched.insert(*payee, earner);
                }
            }
            if !tip.is_zero() {
                let mut coinbase = account(&mut touched, self.coinbase);
                coinbase.balance = coinbase.balance.checked_add(tip)?;
                touched.insert(self.coinbase, coinbase);
            }
            Some(())
        })();
        if applied.is_none() {
            return TxResult::Dropped;
        }
        ledger.accounts.extend(touched);
        TxResult::Included(Receipt::new(tx.hash, status, tx_gas, gas_before + tx_gas, price, logs))
    }

    /// A creation or a call to code, on the EVM, its inference calls served their decided
    /// results.
    fn execute_contract_tx(&self, ledger: &mut Ledger<'_>, env: &evm::BlockEnv, tx: &SignedTx, gas_before: u64) -> TxResult {
        let pre = self.preexec.get(&tx.hash);
        let expected = pre.map(|p| p.calls.as_slice()).unwrap_or_default();
        let outcomes = if expected.is_empty() { vec![] } else { self.pipe.call_outcomes(&tx.hash) };
        // The fee of every recorded call must be affordable on top of gas and value.
        let fee_bound = self.recorded_fee(&tx.hash);
        let sender = ledger.account(&tx.sender);
        if max_cost(tx).and_then(|c| c.checked_add(fee_bound)).is_none_or(|need| need > sender.balance) {
            return TxResult::Dropped;
        }
        let mut host = ServingHost::new(self.natives_at(env.timestamp), expected, outcomes);
        let executed = match evm::execute(ledger, env, &Self::tx_input(tx), &mut host, evm::ExecOptions::transaction()) {
            Ok(executed) => executed,
            Err(_) => return TxResult::Dropped,
        };
        let simulations = pre.map(|p| p.simulations).unwrap_or(1);
        let mut reason = executed.reason();
        if host.mismatch.is_some() {
            if simulations < preexec::MAX_SIMULATIONS {
                return TxResult::Resimulate;
            }
            reason = Some(preexec::diverged_reason(simulations));
        }
        let success = executed.success() && host.mismatch.is_none();
        let price = tx.effective_gas_price(env.base_fee as u128);
        let gas = executed.gas_used;
        let logs = if success { executed.logs } else { vec![] };
        let created = executed.created.filter(|_| success);
        ledger.apply(executed.diff);
        if success {
            for (payee, fee) in self.call_fees(&host.served) {
                let moved = ledger.transfer(tx.sender, Some(payee), fee);
                debug_assert_eq!(moved, fee, "checked before execution");
            }
        }
        let mut receipt = Receipt::new(tx.hash, success, gas, gas_before + gas, price, logs);
        receipt.contract_address = created;
        receipt.revert_reason = reason;
        TxResult::Included(receipt)
    }

    /// Who is paid what for decided calls: VANILLA's fee goes to the winner at once, the
    /// others' wait in the hub until their proofs settle.
    fn call_fees(&self, calls: &[crate::pipe::CallResult]) -> Vec<(Address, U256)> {
        calls
            .iter()
            .map(|c| (if c.mode == 0 { c.winner } else { INFERENCE_HUB }, self.economics.fee(&c.model_id, c.mode)))
            .collect()
    }

    /// Hash of the staged block, if one awaits its commit.
    pub fn staged_hash(&self) -> Option<B256> {
        (self.tip() != self.published).then(|| self.blocks.last().hash)
    }
}

/// What became of one transaction while building a block.
pub(super) enum TxResult {
    Included(Receipt),
    /// It can never run (its sender cannot pay any more).
    Dropped,
    /// Its inference calls changed: simulate it again.
    Resimulate,
}

/// What a block's settlement did.
struct Settled {
    records: Vec<SettlementRecord>,
    /// Taken from PIPE: handed back if the block's commit fails.
    penalties: Vec<crate::chain::settlement::Penalty>,
    /// Nodes slashed by this block (counted in their stats when it is published).
    slashed_nodes: Vec<usize>,
}

/// The full node's settlement work for block `number`: results delivered in earlier blocks
/// whose proof, verdict, window or dispute is due; and nodes caught out in races. Each step
/// is a record; fees, refunds, slashes and rewards go through `ledger`.
fn settle(
    deliveries: &mut Vec<Delivery>,
    pipe: &crate::pipe::Pipe,
    economics: &super::economics::Economics,
    ledger: &mut Ledger<'_>,
    (number, now_ms, window): (u64, u64, u64),
) -> Settled {
    let setup = pipe.tee_setup();
    let mut records = Vec::new();
    let mut slashed_nodes = Vec::new();
    let slash = |ledger: &mut Ledger<'_>, who: Address, to: Option<Address>| -> (U256, U256) {
        let taken = ledger.transfer(stake_address(&who), None, economics.bond);
        let reward = if to.is_some() { economics.reward(taken) } else { U256::ZERO };
        if let Some(c) = to {
            // Burnt, then minted to the challenger: the same as paying it out of the bond.
            let mut account = ledger.get(c);
            account.balance = account.balance.saturating_add(reward);
            ledger.accounts.insert(c, account);
        }
        (taken, reward)
    };
    let penalties = pipe.take_penalties();
    for p in &penalties {
        let mut r = SettlementRecord::penalty(p);
        r.slashed = slash(ledger, p.node, None).0;
        r.slashed_account = Some(p.node);
        slashed_nodes.push(p.node_index);
        records.push(r);
    }
    let mut kept = Vec::with_capacity(deliveries.len());
    for mut d in std::mem::take(deliveries) {
        if d.included_block >= number {
            kept.push(d);
            continue;
        }
        // Judged as of its submission: a certificate that expires later does not undo a
        // proof that was valid when given.
        let tee = || {
            crate::pipe::check_tee(setup.as_ref(), &d.model_id, &d.payload, &d.output, d.proof.as_deref(), d.t_proof_submitted.unwrap_or(d.t_result))
                .map(|_| ())
        };
        let step = next_step(&d, number, now_ms, window, tee);
        let challenger = d.challenge.as_ref().map(|c| c.challenger);
        let mut r = SettlementRecord::new(&d, "settled");
        match step {
            Step::Wait => {
                kept.push(d);
                continue;
            }
            Step::Settle => r.fee = ledger.transfer(INFERENCE_HUB, Some(d.node), d.fee),
            Step::SlashChallenger => {
                r.fee = ledger.transfer(INFERENCE_HUB, Some(d.node), d.fee);
                let who = challenger.expect("a dispute has a challenger");
                r.slashed = slash(ledger, who, None).0;
                r.slashed_account = Some(who);
                r.reason = Some("challenge_failed: the referee's re-execution matches the node's result".into());
            }
            Step::Reject(reason) => {
                r.outcome = "rejected".into();
                r.reason = Some(reason);
                r.fee = ledger.transfer(INFERENCE_HUB, Some(d.sender), d.fee);
                r.slashed = slash(ledger, d.node, None).0;
                r.slashed_account = Some(d.node);
                slashed_nodes.push(d.node_index);
            }
            Step::Void(reason) => {
                r.outcome = "rejected".into();
                r.reason = Some(reason);
                r.fee = ledger.transfer(INFERENCE_HUB, Some(d.sender), d.fee);
            }
            Step::Dispute => {
                r.outcome = "disputed".into();
                r.reason = Some("challenged: the watcher's re-execution differs from the result".into());
                if let Some(c) = d.challenge.as_mut() {
                    c.disputed_block = Some(number);
                }
                records.push(r);
                kept.push(d);
                continue;
            }
            Step::SlashNode => {
                r.outcome = "slashed".into();
                r.reason = Some("output_mismatch: the referee's re-execution differs from the node's result".into());
                r.fee = ledger.transfer(INFERENCE_HUB, Some(d.sender), d.fee);
                (r.slashed, r.reward) = slash(ledger, d.node, challenger);
                r.slashed_account = Some(d.node);
                slashed_nodes.push(d.node_index);
            }
        }
        records.push(r);
    }
    *deliveries = kept;
    Settled { records, penalties, slashed_nodes }
}
