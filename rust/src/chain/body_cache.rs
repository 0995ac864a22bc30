//! Bodies of archived blocks loaded back from the store for a read: a small cache, least
//! recently used out first, so a page the explorer shows twice is read from the store once.
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use super::Block;

/// What the cache holds at most once a load has made room (a single load may hold more
/// until the next one: see [`BodyCache::insert`]). A few pages of an explorer's worth of
/// blocks; small against the node's ~170 MiB.
pub const CACHE_BYTES: usize = 4 << 20;

struct Cached {
    block: Block,
    bytes: usize,
    /// When it was last read or loaded, on the cache's clock. Atomic because reads take the
    /// chain by shared reference.
    used: AtomicU64,
}

#[derive(Default)]
pub(super) struct BodyCache {
    entries: HashMap<u64, Cached>,
    bytes: usize,
    clock: AtomicU64,
}

impl BodyCache {
    pub fn get(&self, number: u64) -> Option<&Block> {
        let cached = self.entries.get(&number)?;
        cached.used.store(self.tick(), Ordering::Relaxed);
        Some(&cached.block)
    }

    /// Adds `blocks`, first dropping the least recently used of the others until the cache
    /// with them fits [`CACHE_BYTES`]. The new ones are all kept even if they alone do not fit:
    /// the read retried next needs every one of them; the next load trims them.
    pub fn insert(&mut self, blocks: Vec<Block>) {
        let incoming: HashSet<u64> = blocks.iter().map(|b| b.header.number).collect();
        let new_bytes: usize = blocks.iter().filter(|b| !self.entries.contains_key(&b.header.number)).map(cached_bytes).sum();
        let mut others: Vec<(u64, u64)> = self
            .entries
            .iter()
            .filter(|(n, _)| !incoming.contains(n))
            .map(|(n, c)| (c.used.load(Ordering::Relaxed), *n))
            .collect();
        others.sort_unstable();
        for (_, number) in others {
            if self.bytes + new_bytes <= CACHE_BYTES {
                break;
            }
            self.remove(number);
        }
        for block in blocks {
            let number = block.header.number;
            self.remove(number);
            let bytes = cached_bytes(&block);
            self.bytes += bytes;
            self.entries.insert(number, Cached { block, bytes, used: AtomicU64::new(self.tick()) });
        }
    }

    /// Forgets blocks after `head` (a revert or a discarded block: their numbers are reused).
    pub fn truncate_after(&mut self, head: u64) {
        let gone: Vec<u64> = self.entries.keys().filter(|n| **n > head).copied().collect();
        for number in gone {
            self.remove(number);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    fn remove(&mut self, number: u64) {
        if let Some(c) = self.entries.remove(&number) {
            self.bytes -= c.bytes;
        }
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed) + 1
    }
}

fn cached_bytes(block: &Block) -> usize {
    std::mem::size_of::<Block>() + block.body_bytes()
}
