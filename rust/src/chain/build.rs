//! Sealing a block: pick transactions from the gas mempool in fee order, execute them
//! against the tip state, and stage the block until the store has committed it.
use std::collections::{BTreeMap, HashSet};

use alloy_primitives::{Address, B256, U256};

use super::native::hub;
use super::settlement::{PendingProof, SettlementRecord};
use super::{max_cost, Account, Block, Chain, ChainError, Header, Receipt};

impl Chain {
    /// Seals the next block at wall-clock `now_ms` and stages it. Readers see it only after
    /// [`Chain::publish`]. Never waits for anything.
    pub fn seal_block(&mut self, now_ms: u64) -> Result<&Block, ChainError> {
        self.require_no_staged()?;
        let parent = self.blocks.last().expect("genesis exists");
        let number = parent.header.number + 1;
        let timestamp_ms = now_ms.max(parent.header.timestamp_ms);
        let timestamp = (timestamp_ms / 1000).max(parent.header.timestamp);
        let parent_hash = parent.hash;
        let base_fee = self.base_fee as u128;
        self.pending_before_staged = self.pending_proofs.clone();
        let settlements = self.settle_proofs(number);

        // Reads see this block's layer: the parent's state plus edits made since
        // (anvil_setBalance), which become part of this block.
        let state = &self.state;
        let pipe = &self.pipe;
        // An inference transaction goes in once its race is decided; block production never
        // waits for one.
        let candidates = self.pool.ready_in_order(|a| state.account_at(a, number).nonce, base_fee, |tx| {
            !hub::is_inference_contract(tx.to()) || pipe.is_decided(&tx.hash)
        });
        let mut overlay: BTreeMap<Address, Account> = BTreeMap::new();
        let get = |overlay: &mut BTreeMap<Address, Account>, a: Address| -> Account {
            *overlay.entry(a).or_insert_with(|| state.account_at(&a, number))
        };
        let mut deferred: HashSet<Address> = HashSet::new();
        let mut new_proofs: Vec<PendingProof> = Vec::new();
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
            // Inference: the decided result's events, or status 0 with the reason on the job.
            let (tx_gas, status, logs, node_fee) = if hub::is_inference_contract(Some(to)) {
                let outcome = pipe.outcome(&tx.hash);
                let kind = outcome.as_ref().map(|o| o.2).ok().or_else(|| pipe.kind_of(&tx.hash)).unwrap_or(hub::CallKind::Model);
                let needed = tx.intrinsic_gas() + hub::gas_for(kind);
                match outcome {
                    _ if tx.gas_limit() < needed => (tx.gas_limit(), false, vec![], None),
                    Ok((logs, winner, _)) => (needed, true, logs, Some((winner, U256::from(hub::gas_for(kind)) * U256::from(base_fee)))),
                    Err(_) => (needed, false, vec![], None),
                }
            } else {
                (tx.intrinsic_gas(), true, vec![], None)
            };
            let price = tx.effective_gas_price(base_fee);
            let tip = U256::from(tx_gas) * U256::from(tx.effective_tip(base_fee));
            // Every amount is checked: an edit near 2^256 (anvil_setBalance) must not wrap.
            // The (at most three) accounts this tx touches, applied only if all checks pass.
            let mut touched: BTreeMap<Address, Account> = BTreeMap::new();
            let mut account = |touched: &mut BTreeMap<Address, Account>, a: Address| -> Account {
                *touched.entry(a).or_insert_with(|| get(&mut overlay, a))
            };
            let applied = (|| {
                let mut sender = account(&mut touched, tx.sender);
                if sender.nonce != tx.nonce() || sender.balance < max_cost(&tx)? {
                    return None;
                }
                sender.balance -= U256::from(tx_gas) * U256::from(price) + if status { tx.value() } else { U256::ZERO };
                sender.nonce += 1;
                touched.insert(tx.sender, sender);
                // A failed call moves no value, as a revert would.
                if status {
                    let mut recipient = account(&mut touched, to);
                    recipient.balance = recipient.balance.checked_add(tx.value())?;
                    touched.insert(to, recipient);
                }
                // The winning node earns the inference's share of the fee (the base fee part,
                // which would otherwise be burnt).
                if let Some((node, fee)) = node_fee {
                    let mut earner = account(&mut touched, node);
                    earner.balance = earner.balance.checked_add(fee)?;
                    touched.insert(node, earner);
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
            overlay.extend(touched);
            gas_used += tx_gas;
            if hub::is_inference_contract(Some(to)) {
                pipe.mark_included(&tx.hash, number, timestamp_ms);
                if status {
                    new_proofs.extend(pipe.pending_proof(&tx.hash, number));
                }
            }
            receipts.push(Receipt::new(tx.hash, status, tx_gas, gas_used, price, logs));
            included.push(tx);
        }

        for (address, account) in &overlay {
            self.state.set_account(*address, number, *account);
        }
        let state_changes = self.state.changes_at(number);
        let (transactions_root, receipts_root) = Block::roots(&included, &receipts);
        let mut logs_bloom = alloy_primitives::Bloom::default();
        for r in &receipts {
            logs_bloom.accrue_bloom(&r.logs_bloom);
        }
        let header = Header {
            number,
            parent_hash,
            timestamp,
            timestamp_ms,
            coinbase: self.coinbase,
            gas_limit: self.gas_limit,
            gas_used,
            base_fee: self.base_fee,
            transactions_root,
            receipts_root,
            state_root: self.state.state_root(number),
            logs_bloom,
            settlements_root: Block::settlements_root(&settlements),
        };
        self.pending_proofs.extend(new_proofs);
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
        Ok(self.blocks.last().expect("just pushed"))
    }

    /// Checks every proof of a result delivered in an earlier block, as a full node does:
    /// with public material only. Each becomes a settlement record of block `number`.
    fn settle_proofs(&mut self, number: u64) -> Vec<SettlementRecord> {
        let setup = self.pipe.tee_setup();
        let (due, later): (Vec<PendingProof>, Vec<PendingProof>) =
            std::mem::take(&mut self.pending_proofs).into_iter().partition(|p| p.included_block < number);
        self.pending_proofs = later;
        due.into_iter()
            .map(|p| {
                let verdict = match p.mode {
                    // Judged as of its submission: a certificate that expires later does not
                    // undo a proof that was valid when given.
                    2 => crate::pipe::check_tee(setup.as_ref(), &p.model_id, &p.payload, &p.output, Some(&p.proof), p.t_proof_submitted)
                        .map(|_| ()),
                    other => Err(format!("no verifier for mode {other} yet")),
                };
                SettlementRecord {
                    tx_hash: p.tx_hash,
                    mode: p.mode,
                    node: p.node,
                    outcome: if verdict.is_ok() { "settled".into() } else { "rejected".into() },
                    reason: verdict.err(),
                    t_result: p.t_result,
                    t_proof_submitted: p.t_proof_submitted,
                    proof_hash: alloy_primitives::keccak256(p.proof.as_bytes()),
                }
            })
            .collect()
    }

    /// Hash of the staged block, if one awaits its commit.
    pub fn staged_hash(&self) -> Option<B256> {
        (self.tip() != self.published).then(|| self.blocks.last().expect("staged").hash)
    }
}
