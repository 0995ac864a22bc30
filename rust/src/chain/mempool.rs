//! The gas mempool: ordinary transactions waiting for a block. Ordered by the tip they pay
//! at the current base fee, then by arrival; a sender's transactions always go in nonce
//! order, and a nonce gap holds back everything after it until it is filled.
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use alloy_primitives::{Address, B256, U256};

use super::{max_cost, ChainError};
use crate::eth::SignedTx;

/// How far past the next expected nonce a transaction may be and still be held back.
pub const MAX_NONCE_AHEAD: u64 = 64;
/// Replacing a pending transaction needs both fees raised by at least this percentage.
pub const REPLACEMENT_BUMP_PERCENT: u128 = 10;

#[derive(Debug, Clone)]
struct PooledTx {
    tx: SignedTx,
    arrival: u64,
    /// What the transaction costs beyond gas and value (an inference's fee).
    extra_cost: U256,
}

#[derive(Debug, Clone)]
pub struct GasMempool {
    by_sender: HashMap<Address, BTreeMap<u64, PooledTx>>,
    by_hash: HashMap<B256, (Address, u64)>,
    /// What each sender's pooled transactions can cost at most, all together (None: more than
    /// 256 bits), so that a transaction after all of its sender's is checked without a scan.
    totals: HashMap<Address, Option<U256>>,
    next_arrival: u64,
    capacity: usize,
}

impl GasMempool {
    pub fn new(capacity: usize) -> Self {
        GasMempool { by_sender: HashMap::new(), by_hash: HashMap::new(), totals: HashMap::new(), next_arrival: 0, capacity }
    }

    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    pub fn get(&self, hash: &B256) -> Option<&SignedTx> {
        let (sender, nonce) = self.by_hash.get(hash)?;
        self.by_sender.get(sender)?.get(nonce).map(|p| &p.tx)
    }

    /// `sender`'s pooled transactions, in nonce order.
    pub fn from_sender(&self, sender: &Address) -> impl Iterator<Item = &SignedTx> {
        self.by_sender.get(sender).into_iter().flat_map(|txs| txs.values().map(|p| &p.tx))
    }

    /// The nonce the sender's next transaction should carry: `state_nonce` plus the run of
    /// consecutive nonces already pooled.
    pub fn pending_nonce(&self, sender: &Address, state_nonce: u64) -> u64 {
        let mut next = state_nonce;
        if let Some(txs) = self.by_sender.get(sender) {
            // Usually the sender's nonces run without a gap from the state's: no scan.
            let (first, last) = (txs.first_key_value().map(|(n, _)| *n), txs.last_key_value().map(|(n, _)| *n));
            match (first, last) {
                (Some(first), _) if first > state_nonce => return state_nonce,
                (Some(first), Some(last)) if first == state_nonce && last - first + 1 == txs.len() as u64 => return last + 1,
                _ => {}
            }
            for nonce in txs.range(state_nonce..).map(|(n, _)| *n) {
                if nonce != next {
                    break;
                }
                next += 1;
            }
        }
        next
    }

    /// What the sender's pooled transactions with a nonce below `nonce` can cost at most
    /// (None if that overflows): a new transaction must be affordable on top of them.
    pub fn cost_before(&self, sender: &Address, nonce: u64) -> Option<U256> {
        self.by_sender.get(sender).map_or(Some(U256::ZERO), |txs| {
            if txs.last_key_value().is_some_and(|(last, _)| *last < nonce) {
                return self.totals.get(sender).copied().flatten(); // after all of them: no scan
            }
            Self::cost_of(txs.range(..nonce).map(|(_, p)| p))
        })
    }

    /// What `txs` can cost at most, all together (None if that overflows).
    fn cost_of<'a>(mut txs: impl Iterator<Item = &'a PooledTx>) -> Option<U256> {
        txs.try_fold(U256::ZERO, |sum, p| sum.checked_add(max_cost(&p.tx)?)?.checked_add(p.extra_cost))
    }

    /// Recomputes `sender`'s total after transactions left (or were replaced).
    fn recount(&mut self, sender: &Address) {
        match self.by_sender.get(sender) {
            Some(txs) => {
                self.totals.insert(*sender, Self::cost_of(txs.values()));
            }
            None => {
                self.totals.remove(sender);
            }
        }
    }

    /// Validates ordering rules (nonce window, replacement) and adds the transaction; returns
    /// the hash of the transaction it replaced. Nothing changes when it returns an error.
    pub fn insert(&mut self, tx: SignedTx, state_nonce: u64) -> Result<Option<B256>, ChainError> {
        self.insert_costing(tx, state_nonce, U256::ZERO)
    }

    /// As `insert`, for a transaction that costs `extra_cost` beyond gas and value.
    pub fn insert_costing(&mut self, tx: SignedTx, state_nonce: u64, extra_cost: U256) -> Result<Option<B256>, ChainError> {
        if self.by_hash.contains_key(&tx.hash) {
            return Err(ChainError::AlreadyKnown(tx.hash.to_string()));
        }
        let sender = tx.sender;
        let nonce = tx.nonce();
        if nonce < state_nonce {
            return Err(ChainError::NonceTooLow { address: sender, expected: state_nonce, got: nonce });
        }
        let expected = self.pending_nonce(&sender, state_nonce);
        if nonce > expected + MAX_NONCE_AHEAD {
            return Err(ChainError::NonceTooHigh {
                address: sender,
                expected,
                got: nonce,
                max_ahead: MAX_NONCE_AHEAD,
            });
        }
        let replacing = self.by_sender.get(&sender).and_then(|txs| txs.get(&nonce));
        if let Some(old) = replacing {
            let bumped = |v: u128| v + v * REPLACEMENT_BUMP_PERCENT / 100;
            if tx.max_fee_per_gas() < bumped(old.tx.max_fee_per_gas())
                || tx.max_priority_fee_per_gas() < bumped(old.tx.max_priority_fee_per_gas())
            {
                return Err(ChainError::ReplacementUnderpriced { nonce });
            }
        } else if self.len() >= self.capacity {
            return Err(ChainError::PoolFull(self.capacity));
        }
        let arrival = self.next_arrival;
        self.next_arrival += 1;
        let hash = tx.hash;
        let cost = max_cost(&tx).and_then(|c| c.checked_add(extra_cost));
        let replaced = self.by_sender.entry(sender).or_default().insert(nonce, PooledTx { tx, arrival, extra_cost }).map(|old| old.tx.hash);
        if let Some(old) = replaced {
            self.by_hash.remove(&old);
            self.recount(&sender);
        } else {
            let total = self.totals.entry(sender).or_insert(Some(U256::ZERO));
            *total = total.zip(cost).and_then(|(t, c)| t.checked_add(c));
        }
        self.by_hash.insert(hash, (sender, nonce));
        Ok(replaced)
    }

    /// Every transaction that could go into the next block, best first: highest tip at
    /// `base_fee`, earliest arrival on ties, each sender's in nonce order from its state nonce.
    /// A transaction that is not `is_ready` (an inference still running) holds back its
    /// sender's later ones, as a nonce gap would.
    pub fn ready_in_order(
        &self,
        state_nonce: impl Fn(&Address) -> u64,
        base_fee: u128,
        is_ready: impl Fn(&SignedTx) -> bool,
    ) -> Vec<SignedTx> {
        struct Head<'a> {
            tip: u128,
            arrival: u64,
            tx: &'a SignedTx,
        }
        impl PartialEq for Head<'_> {
            fn eq(&self, o: &Self) -> bool {
                self.cmp(o) == Ordering::Equal
            }
        }
        impl Eq for Head<'_> {}
        impl PartialOrd for Head<'_> {
            fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
                Some(self.cmp(o))
            }
        }
        impl Ord for Head<'_> {
            fn cmp(&self, o: &Self) -> Ordering {
                self.tip.cmp(&o.tip).then_with(|| o.arrival.cmp(&self.arrival))
            }
        }
        let head_of = |p: &'_ PooledTx| -> Option<u128> {
            (p.tx.max_fee_per_gas() >= base_fee && is_ready(&p.tx)).then(|| p.tx.effective_tip(base_fee))
        };
        let mut heap = BinaryHeap::new();
        for (sender, txs) in &self.by_sender {
            if let Some(p) = txs.get(&state_nonce(sender)) {
                if let Some(tip) = head_of(p) {
                    heap.push(Head { tip, arrival: p.arrival, tx: &p.tx });
                }
            }
        }
        let mut out = Vec::new();
        while let Some(Head { tx, .. }) = heap.pop() {
            out.push(tx.clone());
            if let Some(p) = self.by_sender.get(&tx.sender).and_then(|t| t.get(&(tx.nonce() + 1))) {
                if let Some(tip) = head_of(p) {
                    heap.push(Head { tip, arrival: p.arrival, tx: &p.tx });
                }
            }
        }
        out
    }

    /// Drops transactions whose nonce the state has passed (included in a block, or made
    /// stale by a revert or a balance change).
    pub fn prune(&mut self, state_nonce: impl Fn(&Address) -> u64) -> Vec<B256> {
        let by_hash = &mut self.by_hash;
        let mut removed = Vec::new();
        let mut changed = Vec::new();
        self.by_sender.retain(|sender, txs| {
            let keep = txs.split_off(&state_nonce(sender));
            for p in txs.values() {
                by_hash.remove(&p.tx.hash);
                removed.push(p.tx.hash);
            }
            if !txs.is_empty() {
                changed.push(*sender);
            }
            *txs = keep;
            !txs.is_empty()
        });
        for sender in changed {
            self.recount(&sender);
        }
        removed
    }

    /// Removes one transaction and every later one of its sender (they can no longer run).
    pub fn evict_from(&mut self, sender: &Address, nonce: u64) -> Vec<B256> {
        let mut removed = Vec::new();
        if let Some(txs) = self.by_sender.get_mut(sender) {
            for p in txs.split_off(&nonce).into_values() {
                self.by_hash.remove(&p.tx.hash);
                removed.push(p.tx.hash);
            }
            if txs.is_empty() {
                self.by_sender.remove(sender);
            }
        }
        self.recount(sender);
        removed
    }

    /// (ready, queued): transactions that can go in the next block vs held behind a gap.
    pub fn counts(&self, state_nonce: impl Fn(&Address) -> u64) -> (usize, usize) {
        let ready: usize = self
            .by_sender
            .keys()
            .map(|s| {
                let n = state_nonce(s);
                (self.pending_nonce(s, n) - n) as usize
            })
            .sum();
        (ready, self.len() - ready)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eth::keys::{DevKeys, UnsignedFields, DEFAULT_MNEMONIC};

    fn tx(keys: &DevKeys, from: usize, nonce: u64, tip_gwei: u128) -> SignedTx {
        tx_fees(keys, from, nonce, tip_gwei, 100)
    }

    fn tx_fees(keys: &DevKeys, from: usize, nonce: u64, tip_gwei: u128, max_fee_gwei: u128) -> SignedTx {
        let from = keys.addresses()[from];
        let env = keys
            .sign(
                from,
                UnsignedFields {
                    chain_id: 1,
                    nonce,
                    to: Some(Address::ZERO),
                    value: Default::default(),
                    data: Default::default(),
                    gas: 21_000,
                    gas_price: None,
                    max_fee_per_gas: max_fee_gwei * 1_000_000_000,
                    max_priority_fee_per_gas: tip_gwei * 1_000_000_000,
                },
            )
            .unwrap();
        SignedTx::from_envelope(env).unwrap()
    }

    #[test]
    fn orders_by_tip_then_arrival_and_respects_nonces() {
        let keys = DevKeys::from_mnemonic(DEFAULT_MNEMONIC, 3).unwrap();
        let mut pool = GasMempool::new(100);
        pool.insert(tx(&keys, 0, 0, 1), 0).unwrap();
        pool.insert(tx(&keys, 0, 1, 9), 0).unwrap(); // high tip but behind nonce 0
        pool.insert(tx(&keys, 1, 0, 5), 0).unwrap();
        pool.insert(tx(&keys, 2, 0, 5), 0).unwrap(); // same tip, arrived later
        let order: Vec<(Address, u64)> =
            pool.ready_in_order(|_| 0, 1_000_000_000, |_| true).iter().map(|t| (t.sender, t.nonce())).collect();
        let a = keys.addresses();
        assert_eq!(order, vec![(a[1], 0), (a[2], 0), (a[0], 0), (a[0], 1)]);
    }

    #[test]
    fn holds_back_gaps_and_refuses_far_nonces() {
        let keys = DevKeys::from_mnemonic(DEFAULT_MNEMONIC, 1).unwrap();
        let mut pool = GasMempool::new(100);
        pool.insert(tx(&keys, 0, 2, 1), 0).unwrap();
        assert!(pool.ready_in_order(|_| 0, 1, |_| true).is_empty());
        assert_eq!(pool.counts(|_| 0), (0, 1));
        pool.insert(tx(&keys, 0, 0, 1), 0).unwrap();
        pool.insert(tx(&keys, 0, 1, 1), 0).unwrap();
        assert_eq!(pool.ready_in_order(|_| 0, 1, |_| true).len(), 3);
        assert_eq!(pool.pending_nonce(&keys.addresses()[0], 0), 3);
        let err = pool.insert(tx(&keys, 0, 3 + MAX_NONCE_AHEAD + 1, 1), 0).unwrap_err();
        assert!(matches!(err, ChainError::NonceTooHigh { .. }));
        let err = pool.insert(tx(&keys, 0, 0, 7), 1).unwrap_err();
        assert!(matches!(err, ChainError::NonceTooLow { .. }));
        pool.prune(|_| 2);
        assert_eq!(pool.len(), 1);
    }

    #[test]
    fn replacement_needs_a_fee_bump() {
        let keys = DevKeys::from_mnemonic(DEFAULT_MNEMONIC, 1).unwrap();
        let mut pool = GasMempool::new(100);
        pool.insert(tx(&keys, 0, 0, 10), 0).unwrap();
        let err = pool.insert(tx(&keys, 0, 0, 10), 0).unwrap_err();
        assert!(matches!(err, ChainError::AlreadyKnown(_)));
        // Same max fee: tip bumped but max fee not: refused.
        let err = pool.insert(tx(&keys, 0, 0, 20), 0).unwrap_err();
        assert!(matches!(err, ChainError::ReplacementUnderpriced { nonce: 0 }));
        assert_eq!(pool.len(), 1);
    }

    #[test]
    fn sender_totals_follow_inserts_replacements_and_removals() {
        let keys = DevKeys::from_mnemonic(DEFAULT_MNEMONIC, 2).unwrap();
        let a = keys.addresses()[0];
        let mut pool = GasMempool::new(1000);
        let check = |pool: &GasMempool, state_nonce: u64| {
            for nonce in 0..70 {
                let scan = pool.from_sender(&a).filter(|t| t.nonce() < nonce).map(|t| max_cost(t).unwrap()).sum::<U256>();
                assert_eq!(pool.cost_before(&a, nonce), Some(scan), "cost before {nonce}");
            }
            let mut next = state_nonce;
            while pool.from_sender(&a).any(|t| t.nonce() == next) {
                next += 1;
            }
            assert_eq!(pool.pending_nonce(&a, state_nonce), next, "pending nonce from {state_nonce}");
        };
        for nonce in 0..50 {
            pool.insert(tx(&keys, 0, nonce, 1 + nonce as u128 % 3), 0).unwrap();
            pool.insert(tx(&keys, 1, nonce, 1), 0).unwrap();
        }
        check(&pool, 0);
        check(&pool, 3);
        assert_eq!(pool.insert(tx_fees(&keys, 0, 7, 50, 200), 0).unwrap(), Some(tx(&keys, 0, 7, 2).hash)); // a replacement
        pool.insert(tx(&keys, 0, 55, 1), 0).unwrap(); // a gap
        check(&pool, 0);
        pool.prune(|_| 10);
        check(&pool, 10);
        pool.evict_from(&a, 40);
        check(&pool, 10);
        pool.insert(tx(&keys, 0, 40, 2), 10).unwrap();
        check(&pool, 10);
        pool.prune(|_| 100);
        check(&pool, 100);
        assert!(pool.is_empty());
    }

    #[test]
    fn full_pool_refuses() {
        let keys = DevKeys::from_mnemonic(DEFAULT_MNEMONIC, 1).unwrap();
        let mut pool = GasMempool::new(1);
        pool.insert(tx(&keys, 0, 0, 1), 0).unwrap();
        assert!(matches!(pool.insert(tx(&keys, 0, 1, 1), 0), Err(ChainError::PoolFull(1))));
    }
}
