//! `eth_getLogs`: filter published blocks' logs by range, address and topics. The chain
//! picks the blocks (by their headers' blooms); this matches their logs.
use alloy_primitives::{Address, Bloom, BloomInput, Log, B256};

use super::{Block, ChainError};

/// Refuse queries whose answer would be huge; the caller narrows the range.
pub const MAX_LOGS: usize = 10_000;

#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub from_block: u64,
    pub to_block: u64,
    pub block_hash: Option<B256>,
    /// Empty: any address.
    pub addresses: Vec<Address>,
    /// Position i: None matches anything, Some(list) matches any topic in the list.
    pub topics: Vec<Option<Vec<B256>>>,
}

pub struct LogRef<'a> {
    pub block: &'a Block,
    pub tx_index: usize,
    /// Index of the log within the block.
    pub log_index: usize,
    pub log: &'a Log,
}

impl LogFilter {
    fn matches(&self, log: &Log) -> bool {
        if !self.addresses.is_empty() && !self.addresses.contains(&log.address) {
            return false;
        }
        let topics = log.topics();
        self.topics.iter().enumerate().all(|(i, wanted)| match wanted {
            None => true,
            Some(options) => topics.get(i).is_some_and(|t| options.contains(t)),
        })
    }

    /// Whether a block with this logs bloom may hold a matching log (false: it surely does
    /// not). Lets a query skip blocks without reading their bodies.
    pub fn may_match(&self, bloom: &Bloom) -> bool {
        let has = |item: &[u8]| bloom.contains_input(BloomInput::Raw(item));
        *bloom != Bloom::ZERO
            && (self.addresses.is_empty() || self.addresses.iter().any(|a| has(a.as_slice())))
            && self.topics.iter().all(|wanted| match wanted {
                None => true,
                Some(options) => options.iter().any(|t| has(t.as_slice())),
            })
    }
}

/// The logs of `blocks` (in order) that match `filter`.
pub fn query<'a>(blocks: &[&'a Block], filter: &LogFilter) -> Result<Vec<LogRef<'a>>, ChainError> {
    let mut out = Vec::new();
    for &block in blocks {
        let mut log_index = 0;
        for (tx_index, receipt) in block.receipts.iter().enumerate() {
            for log in &receipt.logs {
                if filter.matches(log) {
                    if out.len() == MAX_LOGS {
                        return Err(ChainError::InvalidArgument(format!(
                            "query returns more than {MAX_LOGS} logs; narrow the block range"
                        )));
                    }
                    out.push(LogRef { block, tx_index, log_index, log });
                }
                log_index += 1;
            }
        }
    }
    Ok(out)
}
