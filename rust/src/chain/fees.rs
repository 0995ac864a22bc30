//! EIP-1559 fees: how the base fee moves from block to block, and the fee history clients
//! read to choose their own fees (`eth_feeHistory`).
use super::{Block, BlockTag, Chain, ChainError, Header};

/// EIP-1559: the gas target is half the gas limit.
pub const ELASTICITY_MULTIPLIER: u64 = 2;
/// EIP-1559: the base fee moves by at most 1/8 (12.5 %) per block.
pub const BASE_FEE_MAX_CHANGE_DENOMINATOR: u128 = 8;
/// The base fee never falls below this, nor below the initial base fee if that is lower; a
/// devnet idling for hours keeps a base fee that wallets show sensibly.
pub const MAX_BASE_FEE_FLOOR: u64 = 1_000_000_000;

/// How the chain sets each block's base fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BaseFeeRule {
    /// The lowest base fee the rule gives: min(initial base fee, 1 gwei).
    pub floor: u64,
    /// False: every block keeps the initial base fee (`--no-base-fee-change`).
    pub adjusts: bool,
}

impl BaseFeeRule {
    pub fn new(initial: u64, adjusts: bool) -> Self {
        BaseFeeRule { floor: initial.min(MAX_BASE_FEE_FLOOR), adjusts }
    }

    /// The base fee of the block after `parent`.
    pub fn next(&self, parent: &Header) -> u64 {
        if !self.adjusts {
            return parent.base_fee;
        }
        next_base_fee(parent.base_fee, parent.gas_used, parent.gas_limit).max(self.floor)
    }
}

/// The EIP-1559 formula: up by (used − target)/target/8 of the parent's base fee (at least
/// 1 wei) when the parent used more than the target, down likewise when it used less.
pub fn next_base_fee(parent_base_fee: u64, parent_gas_used: u64, parent_gas_limit: u64) -> u64 {
    let target = (parent_gas_limit / ELASTICITY_MULTIPLIER) as u128;
    let (base, used) = (parent_base_fee as u128, parent_gas_used as u128);
    if target == 0 || used == target {
        return parent_base_fee;
    }
    let next = if used > target {
        let delta = (base * (used - target) / target / BASE_FEE_MAX_CHANGE_DENOMINATOR).max(1);
        base + delta
    } else {
        let delta = base * (target - used) / target / BASE_FEE_MAX_CHANGE_DENOMINATOR;
        base - delta
    };
    u64::try_from(next).unwrap_or(u64::MAX)
}

/// `eth_feeHistory` over a run of consecutive blocks.
#[derive(Debug, Clone, PartialEq)]
pub struct FeeHistory {
    pub oldest_block: u64,
    /// One per block, plus the base fee of the block after the newest.
    pub base_fee_per_gas: Vec<u64>,
    pub gas_used_ratio: Vec<f64>,
    /// Per block, the effective tip at each requested percentile; None if none was asked.
    pub reward: Option<Vec<Vec<u128>>>,
}

/// A block's effective tips in increasing order, each with the gas used by the transactions
/// paying it: all `eth_feeHistory` needs of a body. Transactions paying the same tip share one
/// entry, so a block of wallet-priced transactions keeps one or two however many it holds,
/// and every block can keep its own after its body has left memory.
pub type TipRuns = Vec<(u128, u64)>;

/// The tip runs of a block with its body.
pub fn tip_runs(block: &Block) -> TipRuns {
    let base_fee = block.header.base_fee as u128;
    let mut sorted: Vec<(u128, u64)> = block
        .transactions
        .iter()
        .zip(&block.receipts)
        .map(|(tx, receipt)| (tx.effective_tip(base_fee), receipt.gas_used))
        .collect();
    sorted.sort_by_key(|(tip, _)| *tip);
    let mut runs = TipRuns::new();
    for (tip, gas) in sorted {
        match runs.last_mut() {
            Some((last, total)) if *last == tip => *total += gas,
            _ => runs.push((tip, gas)),
        }
    }
    runs.shrink_to_fit();
    runs
}

impl FeeHistory {
    /// The history of `blocks` (oldest first, at least one, each with its tip runs);
    /// `next_base_fee` is the base fee of the block after the last.
    pub fn of(blocks: &[(&Header, &[(u128, u64)])], next_base_fee: u64, percentiles: &[f64]) -> FeeHistory {
        let mut base_fee_per_gas: Vec<u64> = blocks.iter().map(|(h, _)| h.base_fee).collect();
        base_fee_per_gas.push(next_base_fee);
        FeeHistory {
            oldest_block: blocks.first().map_or(0, |(h, _)| h.number),
            base_fee_per_gas,
            gas_used_ratio: blocks
                .iter()
                .map(|(h, _)| if h.gas_limit == 0 { 0.0 } else { h.gas_used as f64 / h.gas_limit as f64 })
                .collect(),
            reward: (!percentiles.is_empty())
                .then(|| blocks.iter().map(|(h, runs)| rewards(runs, h.gas_used, percentiles)).collect()),
        }
    }
}

/// The effective tips paid in a block at each percentile of its gas used, as geth computes
/// them: transactions sorted by tip, each weighted by the gas it used; 0 for an empty block.
/// Walking runs of equal tips gives what walking their transactions one by one gives: the
/// walk stops in the same run either way.
pub fn rewards(runs: &[(u128, u64)], block_gas_used: u64, percentiles: &[f64]) -> Vec<u128> {
    if runs.is_empty() {
        return vec![0; percentiles.len()];
    }
    let mut index = 0;
    let mut sum_gas_used = runs[0].1;
    percentiles
        .iter()
        .map(|p| {
            let threshold = (block_gas_used as f64 * p / 100.0) as u64;
            while sum_gas_used < threshold && index < runs.len() - 1 {
                index += 1;
                sum_gas_used += runs[index].1;
            }
            runs[index].0
        })
        .collect()
}

impl Chain {
    /// `eth_feeHistory`: up to `count` (≥ 1) blocks ending at `newest`; `Pending` ends with
    /// the pending block. With percentiles, blocks restored without their bodies (whose tips
    /// are not known yet) are reported as archived.
    pub fn fee_history(&self, count: u64, newest: BlockTag, percentiles: &[f64]) -> Result<FeeHistory, ChainError> {
        let pending = (newest == BlockTag::Pending).then(|| self.pending_block());
        let newest_sealed = if pending.is_some() { self.published } else { self.resolve(newest)? };
        let sealed_count = count.max(1) - pending.is_some() as u64;
        let oldest = (newest_sealed + 1).saturating_sub(sealed_count);
        if !percentiles.is_empty() {
            let unknown: Vec<u64> = (oldest..=newest_sealed).filter(|n| self.blocks.tips(*n).is_none()).collect();
            if !unknown.is_empty() {
                return Err(ChainError::BodyArchived { blocks: unknown });
            }
        }
        let pending_runs = pending.as_ref().map(tip_runs);
        let mut blocks: Vec<(&Header, &[(u128, u64)])> =
            (oldest..=newest_sealed).map(|n| (self.blocks.header(n), self.blocks.tips(n).unwrap_or_default())).collect();
        if let (Some(block), Some(runs)) = (&pending, &pending_runs) {
            blocks.push((&block.header, runs));
        }
        let next = self.base_fee_rule.next(blocks.last().expect("at least one block").0);
        Ok(FeeHistory::of(&blocks, next, percentiles))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GWEI: u64 = 1_000_000_000;

    #[test]
    fn follows_the_eip_1559_formula() {
        // Full block: +12.5 %; empty: −12.5 %; at target: unchanged.
        assert_eq!(next_base_fee(8 * GWEI, 30_000_000, 30_000_000), 9 * GWEI);
        assert_eq!(next_base_fee(8 * GWEI, 0, 30_000_000), 7 * GWEI);
        assert_eq!(next_base_fee(8 * GWEI, 15_000_000, 30_000_000), 8 * GWEI);
        // Three quarters full: half of the maximum rise.
        assert_eq!(next_base_fee(16 * GWEI, 22_500_000, 30_000_000), 17 * GWEI);
        // A rise is at least 1 wei, even from a tiny base fee.
        assert_eq!(next_base_fee(1, 15_000_001, 30_000_000), 2);
        assert_eq!(next_base_fee(0, 30_000_000, 30_000_000), 1);
        assert_eq!(next_base_fee(u64::MAX, 30_000_000, 30_000_000), u64::MAX);
    }

    #[test]
    fn rewards_walk_runs_of_equal_tips_as_geth_walks_transactions() {
        // Three 21000-gas transactions tipping 1, 1 and 2: geth's walk over them gives
        // 1, 1, 1, 2, 2 at these percentiles; so does the walk over the two runs.
        let runs = [(1, 42_000), (2, 21_000)];
        assert_eq!(rewards(&runs, 63_000, &[0.0, 50.0, 66.0, 67.0, 100.0]), vec![1, 1, 1, 2, 2]);
        assert_eq!(rewards(&[], 0, &[10.0, 90.0]), vec![0, 0]);
    }

    #[test]
    fn the_rule_keeps_a_floor_or_holds_still() {
        let header = |base_fee, gas_used| Header {
            number: 1,
            parent_hash: Default::default(),
            timestamp: 0,
            timestamp_ms: 0,
            coinbase: Default::default(),
            gas_limit: 30_000_000,
            gas_used,
            base_fee,
            transactions_root: Default::default(),
            receipts_root: Default::default(),
            state_root: Default::default(),
            logs_bloom: Default::default(),
            settlements_root: Default::default(),
        };
        let rule = BaseFeeRule::new(GWEI, true);
        assert_eq!(rule.next(&header(GWEI, 0)), GWEI, "never below 1 gwei when it started there");
        assert_eq!(rule.next(&header(2 * GWEI, 0)), 7 * GWEI / 4);
        assert_eq!(rule.next(&header(GWEI, 30_000_000)), GWEI + GWEI / 8);
        let low = BaseFeeRule::new(100, true);
        assert_eq!(low.floor, 100);
        assert_eq!(low.next(&header(100, 0)), 100);
        assert_eq!(BaseFeeRule::new(50 * GWEI, true).floor, GWEI);
        let fixed = BaseFeeRule::new(GWEI, false);
        assert_eq!(fixed.next(&header(GWEI, 30_000_000)), GWEI);
    }
}
