//! Sealing a block: settle earlier results' proofs, then pick transactions from the gas
//! mempool in fee order, execute them against the tip state, and stage the block until the
//! store has committed it.
use std::collections::{BTreeMap, HashSet};

use alloy_primitives::{Address, B256, U256};

use super::economics::stake_address;
use super::native::{hub, INFERENCE_HUB};
use super::settlement::{next_step, Delivery, SettlementRecord, Step};
use super::{max_cost, Account, Block, Chain, ChainError, Header, Receipt, StateDb};
use crate::eth::SignedTx;

/// The accounts a block has touched so far, over the state of its layer.
pub(super) struct Ledger<'a> {
    pub state: &'a dyn StateDb,
    /// The block being built: reads see its layer.
    pub at: u64,
    pub accounts: BTreeMap<Address, Account>,
}

impl Ledger<'_> {
    fn get(&mut self, a: Address) -> Account {
        let (state, at) = (self.state, self.at);
        *self.accounts.entry(a).or_insert_with(|| state.account_at(&a, at))
    }

    /// Moves up to `amount` out of `from` (a stake may hold less than a bond); returns what
    /// moved. `to` None burns it.
    fn transfer(&mut self, from: Address, to: Option<Address>, amount: U256) -> U256 {
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
}

impl Chain {
    /// Seals the next block at wall-clock `now_ms` and stages it. Readers see it only after
    /// [`Chain::publish`]. Never waits for anything.
    pub fn seal_block(&mut self, now_ms: u64) -> Result<&Block, ChainError> {
        self.require_no_staged()?;
        let base_fee = self.base_fee();
        let parent = self.blocks.last();
        let number = parent.header.number + 1;
        let timestamp_ms = now_ms.max(parent.header.timestamp_ms);
        let timestamp = (timestamp_ms / 1000).max(parent.header.timestamp);
        let parent_hash = parent.hash;
        self.deliveries_before_staged = self.deliveries.clone();
        // Reads see this block's layer: the parent's state plus edits made since
        // (anvil_setBalance), which become part of this block.
        let mut ledger = Ledger { state: &*self.state, at: number, accounts: BTreeMap::new() };
        let Settled { records: settlements, penalties, slashed_nodes } = settle(
            &mut self.deliveries,
            &self.pipe,
            &self.economics,
            &mut ledger,
            (number, timestamp_ms, self.challenge_window),
        );
        self.staged_penalties = penalties;
        self.staged_slashed_nodes = slashed_nodes;
        let Execution { included, receipts, gas_used, dropped } = self.execute_ready(&mut ledger, base_fee as u128);
        let mut new_deliveries: Vec<Delivery> = Vec::new();
        for (tx, receipt) in included.iter().zip(&receipts) {
            if hub::is_inference_contract(tx.to()) {
                self.pipe.mark_included(&tx.hash, number, timestamp_ms);
                if receipt.status {
                    new_deliveries.extend(self.pipe.deliveries(&tx.hash, number).into_iter().map(|mut d| {
                        d.sender = tx.sender;
                        d.fee = self.economics.fee(&d.model_id, d.mode);
                        d
                    }));
                }
            }
        }

        let touched = std::mem::take(&mut ledger.accounts);
        for (address, account) in &touched {
            self.state.set_account(*address, number, *account);
        }
        let state_changes = self.state.changes_at(number);
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
        self.deliveries_changed |= !new_deliveries.is_empty() || !settlements.is_empty();
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
            settlements,
        };
        let mut gone = Vec::new();
        for (sender, nonce) in dropped {
            gone.extend(self.pool.evict_from(&sender, nonce));
        }
        let state = &self.state;
        let mined: std::collections::HashSet<B256> = block.transactions.iter().map(|t| t.hash).collect();
        gone.extend(self.pool.prune(|a| state.account_at(a, number).nonce).into_iter().filter(|h| !mined.contains(h)));
        self.pipe.forget(&gone);
        self.schedule.sealed(now_ms);
        self.blocks.push(block);
        Ok(self.blocks.last())
    }

    /// Runs the pool's ready transactions, best first, over `ledger` (the next block's
    /// layer) at `base_fee`, as far as the gas limit allows. Changes only the ledger: the
    /// pending block is built the same way without sealing anything.
    pub(super) fn execute_ready(&self, ledger: &mut Ledger<'_>, base_fee: u128) -> Execution {
        let number = ledger.at;
        let state = &self.state;
        let pipe = &self.pipe;
        // An inference transaction goes in once its race is decided; block production never
        // waits for one.
        let candidates = self.pool.ready_in_order(|a| state.account_at(a, number).nonce, base_fee, |tx| {
            !hub::is_inference_contract(tx.to()) || pipe.is_decided(&tx.hash)
        });
        let mut deferred: HashSet<Address> = HashSet::new();
        let mut dropped: Vec<(Address, u64)> = Vec::new();
        let (mut included, mut receipts, mut gas_used) = (Vec::new(), Vec::new(), 0u64);
        for tx in candidates {
            if deferred.contains(&tx.sender) {
                continue;
            }
            if gas_used + tx.gas_limit() > self.gas_limit {
                // Does not fit: it and the sender's later txs wait for the next block.
                deferred.insert(tx.sender);
                continue;
            }
            let to = tx.to().expect("creation refused at submit");
            // Inference: the decided results' events, or status 0 with the reason on the job.
            // Each call's fee is charged now: VANILLA's goes to the winner at once, the
            // others' wait in the hub until their proofs settle.
            let (tx_gas, status, logs, fees) = if hub::is_inference_contract(Some(to)) {
                let outcome = pipe.outcome(&tx.hash);
                let needed = tx.intrinsic_gas() + pipe.gas_of(&tx.hash).unwrap_or(hub::MODEL_GAS);
                match outcome {
                    _ if tx.gas_limit() < needed => (tx.gas_limit(), false, vec![], vec![]),
                    Ok(calls) => {
                        let fees: Vec<(Address, U256)> = calls
                            .iter()
                            .map(|c| (if c.mode == 0 { c.winner } else { INFERENCE_HUB }, self.economics.fee(&c.model_id, c.mode)))
                            .collect();
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
                if sender.nonce != tx.nonce() || sender.balance < max_cost(&tx)?.checked_add(fee)? {
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
                }
                if status {
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
                // The balance fell since it was pooled (anvil_setBalance): it can never run.
                deferred.insert(tx.sender);
                dropped.push((tx.sender, tx.nonce()));
                continue;
            }
            ledger.accounts.extend(touched);
            gas_used += tx_gas;
            receipts.push(Receipt::new(tx.hash, status, tx_gas, gas_used, price, logs));
            included.push(tx);
        }
        Execution { included, receipts, gas_used, dropped }
    }

    /// Hash of the staged block, if one awaits its commit.
    pub fn staged_hash(&self) -> Option<B256> {
        (self.tip() != self.published).then(|| self.blocks.last().hash)
    }
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
