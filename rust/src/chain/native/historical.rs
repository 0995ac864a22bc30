//! OGHistorical, the precompile at 0x…F5 that SDK 1.1.4's `PriceHistoryInference` contract
//! calls (its `historicalContract()`): price candles from local data, nothing fetched.
//!
//! - `queryHistoricalCandles(HistoricalInputQuery) returns (Number[])`: the candles' values,
//!   candle by candle, each candle's `candle_types` in the order given (row-major
//!   `[total_candles][len(candle_types)]`), as fixed-point numbers with [`DECIMALS`] decimals.
//! - `runInferenceOnPriceFeed(model_id, input_name, query) returns (ModelOutput)`: the same
//!   values as one float32 tensor named `input_name`, of shape
//!   `[1, total_candles, len(candle_types)]`, run by model `model_id` in VANILLA mode as a hub
//!   `run` is: validated against the model's signature, recorded by the simulation, raced on
//!   PIPE and served at execution (see `preexec.rs`). Its result event is the hub's
//!   `InferenceResult`, emitted from 0x…F5.
//!
//! Candles are aligned on the unix epoch: a candle of `d` minutes covers `[k·d·60, (k+1)·d·60)`
//! seconds. A query gets the last `total_candles` candles that end at or before the block's
//! timestamp, so a replay of the block serves the same candles. `order` 0 is oldest first, 1
//! newest first; candle types are SDK 1.1.4's `CandleType`: 0 high, 1 low, 2 open, 3 close,
//! 4 volume.
//!
//! Where the prices of a pair (`BASE/QUOTE`, case-insensitive) come from:
//! - a CSV feed given to the chain ([`PriceFeeds::set`], `--price-feed`): see [`csv`]; a feed
//!   knows only its own pair;
//! - otherwise, for the pairs of [`SYNTHETIC_PAIRS`], a deterministic synthetic market. Its
//!   log-price at minute `m` (since the epoch) is `ln(base) + Σ_{k=0..8} σ·2^k·n_k(m)` with
//!   σ = [`SIGMA`], where `n_k` interpolates linearly between knots every `4^k` minutes (1 minute
//!   to ~45 days), each knot uniform in [-1, 1] from a hash (splitmix64) of the pair's seed, `k`
//!   and the knot's index; the seed is the first 8 bytes of
//!   keccak256("og-devnet synthetic market " + pair). Prices move at every scale like a random
//!   walk yet stay within 0.77–1.3× the base price. A 1-minute candle opens at the price at its
//!   start and closes at the price at its end; its high and low lie beyond those by up to σ
//!   (hashed); its volume is the pair's base volume × (0.5 + u) × (1 + |ln(close/open)|/σ), u
//!   hashed in [0, 1). Longer candles aggregate 1-minute ones (first open, highest high, lowest
//!   low, last close, summed volume), so every candle has low ≤ open, close ≤ high and volume > 0.
//!
//! Bad queries revert with a reason: an unknown pair, no or over [`MAX_CANDLES`] candles, a
//! duration of 0, candles spanning over [`MAX_SPAN_MINUTES`], no or an unknown candle type, an
//! order other than 0 or 1, or history the feed does not have.
use std::collections::BTreeMap;

use alloy_primitives::{keccak256, Bytes};
use alloy_sol_types::SolCall;

use crate::eth::abi;

pub mod csv;

/// Decimals of every number served (value = price × 10^8).
pub const DECIMALS: u32 = 8;
const SCALE: i128 = 10i128.pow(DECIMALS);
pub const MAX_CANDLES: u32 = 1_000;
/// At most this many minutes from the first candle's start to the last one's end: a thousand
/// daily candles.
pub const MAX_SPAN_MINUTES: u64 = 1_000 * 1_440;
/// Gas of a `queryHistoricalCandles` call (flat, so estimates are exact).
pub const QUERY_GAS: u64 = 20_000;
/// By candle type, as SDK 1.1.4's `CandleType` numbers them.
pub const CANDLE_TYPES: [&str; 5] = ["high", "low", "open", "close", "volume"];
/// The synthetic market's pairs: (pair, base price, base volume per minute).
pub const SYNTHETIC_PAIRS: [(&str, f64, f64); 4] =
    [("ETH/USD", 3_000.0, 50.0), ("BTC/USD", 60_000.0, 2.0), ("SOL/USD", 150.0, 1_500.0), ("OPG/USD", 0.5, 200_000.0)];
/// The synthetic market's volatility scale: log-price noise of the finest level (1 minute).
pub const SIGMA: f64 = 0.0005;
const LEVELS: u32 = 9;

/// One candle: its start (unix seconds) and its values, fixed point with [`DECIMALS`] decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candle {
    pub start: u64,
    pub open: i128,
    pub high: i128,
    pub low: i128,
    pub close: i128,
    pub volume: i128,
}

impl Candle {
    pub fn value(&self, candle_type: u8) -> i128 {
        [self.high, self.low, self.open, self.close, self.volume][candle_type as usize]
    }

    /// Extends this candle by the one right after it.
    fn absorb(&mut self, next: &Candle) {
        self.high = self.high.max(next.high);
        self.low = self.low.min(next.low);
        self.close = next.close;
        self.volume += next.volume;
    }

    /// Aggregates consecutive candles into one starting at `start`.
    fn merged(start: u64, parts: impl IntoIterator<Item = Candle>) -> Option<Candle> {
        let mut parts = parts.into_iter();
        let mut c = parts.next()?;
        parts.for_each(|p| c.absorb(&p));
        c.start = start;
        Some(c)
    }
}

/// A validated query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// `BASE/QUOTE`, upper case.
    pub pair: String,
    pub total: u32,
    pub minutes: u32,
    pub descending: bool,
    pub types: Vec<u8>,
}

impl Query {
    pub fn parse(q: &abi::HistoricalInputQuery) -> Result<Query, String> {
        let pair = pair_name(&q.base, &q.quote)?;
        if q.total_candles == 0 || q.total_candles > MAX_CANDLES {
            return Err(format!("total_candles must be 1 to {MAX_CANDLES}, got {}", q.total_candles));
        }
        if q.candle_duration_in_mins == 0 {
            return Err("candle_duration_in_mins must be at least 1".into());
        }
        let span = q.total_candles as u64 * q.candle_duration_in_mins as u64;
        if span > MAX_SPAN_MINUTES {
            return Err(format!(
                "{} candles of {} minutes span {span} minutes, over the limit of {MAX_SPAN_MINUTES}",
                q.total_candles, q.candle_duration_in_mins
            ));
        }
        if q.order > 1 {
            return Err(format!("unknown candle order {} (0 ascending, 1 descending)", q.order));
        }
        if q.candle_types.is_empty() {
            return Err("candle_types is empty: ask for at least one of 0 high, 1 low, 2 open, 3 close, 4 volume".into());
        }
        if let Some(t) = q.candle_types.iter().find(|t| **t as usize >= CANDLE_TYPES.len()) {
            return Err(format!("unknown candle type {t} (0 high, 1 low, 2 open, 3 close, 4 volume)"));
        }
        Ok(Query {
            pair,
            total: q.total_candles,
            minutes: q.candle_duration_in_mins,
            descending: q.order == 1,
            types: q.candle_types.clone(),
        })
    }

    pub fn seconds(&self) -> u64 {
        self.minutes as u64 * 60
    }

    /// Index `k` of the last candle ending at or before `timestamp`, if one does.
    fn last_index(&self, timestamp: u64) -> Option<u64> {
        (timestamp / self.seconds()).checked_sub(1)
    }
}

/// `BASE/QUOTE` in upper case; each part letters and digits.
pub fn pair_name(base: &str, quote: &str) -> Result<String, String> {
    let ok = |s: &str| !s.is_empty() && s.len() <= 16 && s.chars().all(|c| c.is_ascii_alphanumeric());
    let (base, quote) = (base.trim(), quote.trim());
    if !ok(base) || !ok(quote) {
        return Err(format!("bad pair {base:?}/{quote:?}: base and quote are 1 to 16 letters or digits"));
    }
    Ok(format!("{}/{}", base.to_ascii_uppercase(), quote.to_ascii_uppercase()))
}

/// The price data of every pair the chain serves: CSV feeds, then the synthetic market.
#[derive(Debug, Clone, Default)]
pub struct PriceFeeds {
    csv: BTreeMap<String, csv::CsvFeed>,
}

impl PriceFeeds {
    /// Serves `pair` (`BASE/QUOTE`) from CSV text from now on (see [`csv`] for the columns).
    pub fn set(&mut self, pair: &str, csv_text: &str) -> Result<(), String> {
        let (base, quote) = pair.split_once('/').ok_or_else(|| format!("pair {pair:?} is not BASE/QUOTE"))?;
        let name = pair_name(base, quote)?;
        let feed = csv::CsvFeed::parse(csv_text).map_err(|e| format!("price feed {name}: {e}"))?;
        self.csv.insert(name, feed);
        Ok(())
    }

    /// Every pair served, sorted.
    pub fn pairs(&self) -> Vec<String> {
        let mut pairs: Vec<String> = self.csv.keys().cloned().collect();
        pairs.extend(SYNTHETIC_PAIRS.iter().map(|(p, ..)| p.to_string()).filter(|p| !self.csv.contains_key(p)));
        pairs.sort();
        pairs
    }

    /// The candles `q` asks for at block time `timestamp`, oldest first.
    pub fn candles(&self, q: &Query, timestamp: u64) -> Result<Vec<Candle>, String> {
        if let Some(feed) = self.csv.get(&q.pair) {
            return feed.candles(q, timestamp).map_err(|e| format!("price feed {}: {e}", q.pair));
        }
        match Synthetic::of(&q.pair) {
            Some(market) => market.candles(q, timestamp),
            None => Err(format!("unknown pair {} (this chain serves: {})", q.pair, self.pairs().join(", "))),
        }
    }

    /// The values `q` asks for, in its order, candle by candle.
    pub fn values(&self, q: &Query, timestamp: u64) -> Result<Vec<abi::Number>, String> {
        let mut candles = self.candles(q, timestamp)?;
        if q.descending {
            candles.reverse();
        }
        let number = |value| abi::Number { value, decimals: DECIMALS as i128 };
        Ok(candles.iter().flat_map(|c| q.types.iter().map(move |t| number(c.value(*t)))).collect())
    }
}

/// What a call to 0x…F5 is.
#[derive(Debug, Clone)]
pub enum Call {
    /// Answered at once (`queryHistoricalCandles`): the return data.
    Answered(Bytes),
    /// `runInferenceOnPriceFeed`: the hub request it becomes, candles included.
    Run(abi::runCall),
}

/// Decodes a call to 0x…F5 at block time `timestamp`. The error is the revert reason.
pub fn call(data: &[u8], feeds: &PriceFeeds, timestamp: u64) -> Result<Call, String> {
    let selector = data.get(..4).ok_or("calldata is shorter than a function selector")?;
    let bad = |e: alloy_sol_types::Error| format!("malformed call arguments: {e}");
    if selector == abi::queryHistoricalCandlesCall::SELECTOR {
        let q = abi::queryHistoricalCandlesCall::abi_decode(data).map_err(bad)?.query;
        let values = feeds.values(&Query::parse(&q)?, timestamp)?;
        return Ok(Call::Answered(abi::queryHistoricalCandlesCall::abi_encode_returns(&values).into()));
    }
    if selector == abi::runInferenceOnPriceFeedCall::SELECTOR {
        let c = abi::runInferenceOnPriceFeedCall::abi_decode(data).map_err(bad)?;
        let q = Query::parse(&c.query)?;
        let values = feeds.values(&q, timestamp)?;
        let tensor = abi::MultiDimensionalNumberTensor { name: c.input_name, values, shape: vec![1, q.total, q.types.len() as u32] };
        let input = abi::ModelInput { numbers: vec![tensor], strings: vec![] };
        return Ok(Call::Run(abi::runCall { modelId: c.model_id, inferenceMode: 0, modelInput: input }));
    }
    Err(format!(
        "unknown function selector 0x{} for OGHistorical (queryHistoricalCandles, runInferenceOnPriceFeed)",
        alloy_primitives::hex::encode(selector)
    ))
}

/// The synthetic market of one pair (see the module's documentation).
struct Synthetic {
    seed: u64,
    base: f64,
    volume: f64,
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn fixed(x: f64) -> i128 {
    (x * SCALE as f64).round() as i128
}

impl Synthetic {
    fn of(pair: &str) -> Option<Synthetic> {
        let (name, base, volume) = SYNTHETIC_PAIRS.iter().find(|(p, ..)| *p == pair)?;
        let hash = keccak256(format!("og-devnet synthetic market {name}"));
        let seed = u64::from_be_bytes(hash[..8].try_into().expect("8 bytes"));
        Some(Synthetic { seed, base: *base, volume: *volume })
    }

    /// Uniform in [0, 1) from (stream, index).
    fn unit(&self, stream: u64, index: u64) -> f64 {
        (mix(mix(self.seed ^ stream).wrapping_add(index)) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The price at the start of minute `m`.
    fn price(&self, m: u64) -> f64 {
        let offset: f64 = (0..LEVELS)
            .map(|k| {
                let spacing = 1u64 << (2 * k);
                let (i, f) = (m / spacing, (m % spacing) as f64 / spacing as f64);
                let knot = |i| 2.0 * self.unit(k as u64, i) - 1.0;
                let (a, b) = (knot(i), knot(i + 1));
                SIGMA * (1u64 << k) as f64 * (a + (b - a) * f)
            })
            .sum();
        self.base * offset.exp()
    }

    fn minute(&self, m: u64, open: f64, close: f64) -> Candle {
        let high = open.max(close) * (1.0 + SIGMA * self.unit(100, m));
        let low = open.min(close) * (1.0 - SIGMA * self.unit(101, m));
        let volume = self.volume * (0.5 + self.unit(102, m)) * (1.0 + (close / open).ln().abs() / SIGMA);
        Candle { start: m * 60, open: fixed(open), high: fixed(high), low: fixed(low), close: fixed(close), volume: fixed(volume) }
    }

    fn candles(&self, q: &Query, timestamp: u64) -> Result<Vec<Candle>, String> {
        let total = q.total as u64;
        let last = q.last_index(timestamp).filter(|last| last + 1 >= total).ok_or_else(|| {
            format!("{} candles of {} minutes ending by timestamp {timestamp} would start before 1970", q.total, q.minutes)
        })?;
        let minutes = q.minutes as u64;
        let mut m = (last + 1 - total) * minutes;
        let mut open = self.price(m);
        let mut out = Vec::with_capacity(q.total as usize);
        for k in last + 1 - total..=last {
            let parts = (0..minutes).map(|_| {
                let close = self.price(m + 1);
                let c = self.minute(m, open, close);
                (open, m) = (close, m + 1);
                c
            });
            out.push(Candle::merged(k * q.seconds(), parts).expect("a candle is at least a minute"));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
