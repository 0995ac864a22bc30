//! When blocks are produced. One enum, switchable at run time (`evm_setAutomine`,
//! `evm_setIntervalMining`), read by the node's miner loop.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MiningMode {
    /// A block every `block_time_ms`, whether or not there are transactions.
    Interval { block_time_ms: u64 },
    /// A block for each arriving request (or batch) that brought transactions.
    Auto,
    /// Blocks only on request (`evm_mine`, `anvil_mine`, `og-devnet mine`).
    Manual,
}

impl MiningMode {
    pub fn name(&self) -> &'static str {
        match self {
            MiningMode::Interval { .. } => "interval",
            MiningMode::Auto => "auto",
            MiningMode::Manual => "manual",
        }
    }
}

/// The interval schedule: the next block is due one block time after the previous due time,
/// so blocks keep their rhythm; after a stall it restarts from now instead of bursting.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub mode: MiningMode,
    next_due_ms: Option<u64>,
}

impl Schedule {
    pub fn new(mode: MiningMode) -> Self {
        Schedule { mode, next_due_ms: None }
    }

    pub fn set_mode(&mut self, mode: MiningMode) {
        self.mode = mode;
        self.next_due_ms = None;
    }

    /// When the next interval block is due, or None when blocks are not timed.
    pub fn next_due(&mut self, now_ms: u64) -> Option<u64> {
        match self.mode {
            MiningMode::Interval { block_time_ms } => {
                Some(*self.next_due_ms.get_or_insert(now_ms + block_time_ms))
            }
            _ => None,
        }
    }

    /// Called after a block was sealed at `now_ms`. Only the block that was due moves the
    /// schedule on: an extra block (`evm_mine` between slots) leaves the next slot where it
    /// was, as anvil and hardhat do, so requests for blocks never delay the interval blocks.
    pub fn sealed(&mut self, now_ms: u64) {
        if let MiningMode::Interval { block_time_ms } = self.mode {
            let Some(due) = self.next_due_ms else {
                self.next_due_ms = Some(now_ms + block_time_ms);
                return;
            };
            if now_ms < due {
                return;
            }
            let next = due + block_time_ms;
            self.next_due_ms = Some(if next <= now_ms { now_ms + block_time_ms } else { next });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_keeps_rhythm_and_recovers_from_stalls() {
        let mut s = Schedule::new(MiningMode::Interval { block_time_ms: 200 });
        assert_eq!(s.next_due(1000), Some(1200));
        s.sealed(1203);
        assert_eq!(s.next_due(1203), Some(1400));
        s.sealed(2000); // stalled for a long time
        assert_eq!(s.next_due(2000), Some(2200));
        s.set_mode(MiningMode::Manual);
        assert_eq!(s.next_due(2000), None);
    }

    #[test]
    fn extra_blocks_between_slots_do_not_push_the_next_slot() {
        let mut s = Schedule::new(MiningMode::Interval { block_time_ms: 2000 });
        assert_eq!(s.next_due(0), Some(2000));
        for t in [100, 600, 1100, 1600] {
            s.sealed(t); // evm_mine
            assert_eq!(s.next_due(t), Some(2000));
        }
        s.sealed(2001); // the due block
        assert_eq!(s.next_due(2001), Some(4000));
    }
}
