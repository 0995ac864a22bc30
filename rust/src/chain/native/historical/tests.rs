use alloy_sol_types::SolCall;

use super::*;

const T: u64 = 1_700_000_000;

fn query(base: &str, total: u32, minutes: u32, order: u8, types: &[u8]) -> abi::HistoricalInputQuery {
    abi::HistoricalInputQuery {
        base: base.into(),
        quote: "USD".into(),
        total_candles: total,
        candle_duration_in_mins: minutes,
        order,
        candle_types: types.to_vec(),
    }
}

fn candles(feeds: &PriceFeeds, q: &abi::HistoricalInputQuery, at: u64) -> Result<Vec<Candle>, String> {
    feeds.candles(&Query::parse(q)?, at)
}

fn consistent(c: &Candle) -> bool {
    c.low > 0 && c.low <= c.open.min(c.close) && c.high >= c.open.max(c.close)
}

#[test]
fn the_synthetic_market_is_deterministic_consistent_and_moving() {
    let feeds = PriceFeeds::default();
    let q = query("eth", 200, 1, 0, &[0, 1, 2, 3, 4]);
    let a = candles(&feeds, &q, T).unwrap();
    assert_eq!(a, candles(&PriceFeeds::default(), &q, T).unwrap(), "same query, same candles");
    assert_eq!(a.len(), 200);
    assert!(a.iter().all(|c| consistent(c) && c.volume > 0), "{a:?}");
    // Consecutive, continuous, ending by T.
    assert!(a.windows(2).all(|w| w[1].start == w[0].start + 60 && w[1].open == w[0].close));
    assert!(a[199].start + 60 <= T && a[199].start + 120 > T);
    let closes: std::collections::BTreeSet<i128> = a.iter().map(|c| c.close).collect();
    assert!(closes.len() > 150, "prices move");
    let eth = a[0].close as f64 / 1e8;
    assert!((3_000.0 * 0.7..3_000.0 * 1.4).contains(&eth), "{eth}");
    // Other pairs have their own prices; a pair is case- and space-insensitive.
    let btc = candles(&feeds, &query(" BTC", 1, 1, 0, &[3]), T).unwrap()[0].close as f64 / 1e8;
    assert!((60_000.0 * 0.7..60_000.0 * 1.4).contains(&btc), "{btc}");
    // A 30-minute candle is the 30 one-minute candles it covers.
    let half_hours = candles(&feeds, &query("ETH", 3, 30, 0, &[0]), T).unwrap();
    let last = half_hours[2];
    let minutes = candles(&feeds, &query("ETH", 30, 1, 0, &[0]), last.start + 1800).unwrap();
    assert_eq!(Candle::merged(last.start, minutes), Some(last));
    assert!(half_hours.iter().all(|c| c.start % 1800 == 0 && consistent(c)));
    // Within the same minute the same candles; the next minute adds one.
    let later = candles(&feeds, &q, T + 59 - T % 60).unwrap();
    assert_eq!(later, a);
    let next = candles(&feeds, &q, T + 60).unwrap();
    assert_eq!(next[..199], a[1..]);
}

#[test]
fn values_come_candle_by_candle_in_the_order_asked() {
    let feeds = PriceFeeds::default();
    let up = feeds.values(&Query::parse(&query("SOL", 4, 15, 0, &[3, 0])).unwrap(), T).unwrap();
    let down = feeds.values(&Query::parse(&query("SOL", 4, 15, 1, &[3, 0])).unwrap(), T).unwrap();
    assert_eq!(up.len(), 8);
    assert!(up.iter().all(|n| n.decimals == DECIMALS as i128));
    let pairs = |v: &[abi::Number]| v.chunks(2).map(|c| (c[0].value, c[1].value)).collect::<Vec<_>>();
    let mut reversed = pairs(&down);
    reversed.reverse();
    assert_eq!(pairs(&up), reversed);
    let c = candles(&feeds, &query("SOL", 4, 15, 0, &[]), T);
    assert!(c.is_err());
    let c = candles(&feeds, &query("SOL", 4, 15, 0, &[3]), T).unwrap();
    // SDK CandleType: 3 close, 0 high.
    assert_eq!((up[0].value, up[1].value), (c[0].close, c[0].high));
}

#[test]
fn bad_queries_are_refused_with_a_reason() {
    let feeds = PriceFeeds::default();
    let reason = |q: abi::HistoricalInputQuery| candles(&feeds, &q, T).unwrap_err();
    assert!(reason(query("DOGE", 1, 1, 0, &[0])).contains("unknown pair DOGE/USD (this chain serves: BTC/USD, ETH/USD, OPG/USD, SOL/USD)"));
    assert!(reason(query("", 1, 1, 0, &[0])).contains("bad pair"));
    assert!(reason(query("ETH", 0, 1, 0, &[0])).contains("total_candles must be 1 to 1000, got 0"));
    assert!(reason(query("ETH", 1001, 1, 0, &[0])).contains("got 1001"));
    assert!(reason(query("ETH", 1, 0, 0, &[0])).contains("candle_duration_in_mins"));
    assert!(reason(query("ETH", 1000, 100_000, 0, &[0])).contains("over the limit"));
    assert!(reason(query("ETH", 1, 1, 2, &[0])).contains("unknown candle order 2"));
    assert!(reason(query("ETH", 1, 1, 0, &[1, 5])).contains("unknown candle type 5"));
    assert!(reason(query("ETH", 1, 1, 0, &[])).contains("candle_types is empty"));
    assert!(candles(&feeds, &query("ETH", 10, 1, 0, &[0]), 300).unwrap_err().contains("before 1970"));
    let unknown = call(&[1, 2, 3, 4], &feeds, T).unwrap_err();
    assert!(unknown.contains("unknown function selector 0x01020304"), "{unknown}");
}

#[test]
fn the_precompile_answers_queries_and_turns_runs_into_model_requests() {
    let feeds = PriceFeeds::default();
    let q = query("ETH", 10, 30, 0, &[0, 1, 2, 3]);
    let data = abi::queryHistoricalCandlesCall { query: q.clone() }.abi_encode();
    let Ok(Call::Answered(out)) = call(&data, &feeds, T) else { panic!("answered") };
    let numbers = abi::queryHistoricalCandlesCall::abi_decode_returns(&out).unwrap();
    assert_eq!(numbers, feeds.values(&Query::parse(&q).unwrap(), T).unwrap());
    let data = abi::runInferenceOnPriceFeedCall { model_id: "m".into(), input_name: "price_data".into(), query: q }.abi_encode();
    let Ok(Call::Run(run)) = call(&data, &feeds, T) else { panic!("a run") };
    assert_eq!((run.modelId.as_str(), run.inferenceMode), ("m", 0));
    let t = &run.modelInput.numbers[0];
    assert_eq!((t.name.as_str(), t.shape.clone()), ("price_data", vec![1, 10, 4]));
    assert_eq!(t.values, numbers);
}

const CSV: &str = "# a small feed\n\
timestamp,open,high,low,close,volume\n\
1699999800,10,11,9.5,10.5,1\n\
1699999860,10.5,12,10,11,2\n\
1699999920,11,11.25,10.75,11,0.5\n\
\n\
1700000040,11,13,11,12.123456789,4\n\
1700000100,12,12.5,11.5,12,1\n";

#[test]
fn a_csv_feed_is_aggregated_into_candles_of_any_duration() {
    let mut feeds = PriceFeeds::default();
    feeds.set("eth/usd", CSV).unwrap();
    // 1-minute candles: the gap at 1699999980 is flat at the previous close, volume 0.
    let ones = candles(&feeds, &query("ETH", 5, 1, 0, &[0]), T + 1000).unwrap();
    assert_eq!(ones.iter().map(|c| c.start).collect::<Vec<_>>(), [1699999860, 1699999920, 1699999980, 1700000040, 1700000100]);
    let gap = ones[2];
    assert_eq!((gap.open, gap.high, gap.low, gap.close, gap.volume), (1_100_000_000, 1_100_000_000, 1_100_000_000, 1_100_000_000, 0));
    assert_eq!(ones[3].close, 1_212_345_679, "8 decimals, rounded");
    // 3-minute candles (aligned on the epoch: 1699999740, 1699999920, 1700000100).
    let threes = candles(&feeds, &query("ETH", 3, 3, 0, &[0]), T + 1000).unwrap();
    let want = [
        Candle { start: 1699999740, open: 1_000_000_000, high: 1_200_000_000, low: 950_000_000, close: 1_100_000_000, volume: 300_000_000 },
        Candle { start: 1699999920, open: 1_100_000_000, high: 1_300_000_000, low: 1_075_000_000, close: 1_212_345_679, volume: 450_000_000 },
        Candle { start: 1700000100, open: 1_200_000_000, high: 1_250_000_000, low: 1_150_000_000, close: 1_200_000_000, volume: 100_000_000 },
    ];
    assert_eq!(threes, want);
    // Only candles ending by the block's timestamp: at 1700000100 the last one is not over.
    let early = candles(&feeds, &query("ETH", 2, 3, 0, &[0]), 1700000100).unwrap();
    assert_eq!(early, want[..2]);
    let short = candles(&feeds, &query("ETH", 3, 3, 0, &[0]), 1700000100).unwrap_err();
    assert!(short.contains("price feed ETH/USD: it has 2 candles of 3 minutes"), "{short}");
    // The feed knows only its pair; others stay synthetic.
    assert!(candles(&feeds, &query("BTC", 1, 1, 0, &[0]), T).is_ok());
    assert_eq!(feeds.pairs(), ["BTC/USD", "ETH/USD", "OPG/USD", "SOL/USD"]);
    feeds.set("PEPE/USD", "1700000000,1,1,1,1,1").unwrap();
    assert!(feeds.pairs().contains(&"PEPE/USD".to_string()));
    assert_eq!(candles(&feeds, &query("PEPE", 1, 60, 0, &[3]), T + 7200).unwrap()[0].start, 1699999200);
}

#[test]
fn bad_csv_is_refused_with_its_line() {
    let mut feeds = PriceFeeds::default();
    let err = |text: &str| PriceFeeds::default().set("ETH/USD", text).unwrap_err();
    assert!(err("").contains("no rows"));
    assert!(err("time,open,high,low,close,volume\n").contains("line 1: the header must be timestamp,open,high,low,close,volume"));
    assert!(err("1,1,1,1,1\n").contains("line 1: 5 fields"));
    assert!(err("1,1,1,1,1,1\n1,1,1,1,1,1\n").contains("line 2: timestamp 1 is not after"));
    assert!(err("1,1,0.5,1,1,1\n").contains("low <= open"));
    assert!(err("1,1,1,1,1,-1\n").contains("volume >= 0"));
    assert!(err("1,1e3,1,1,1,1\n").contains("open: \"1e3\" is not a decimal number"));
    assert!(err("x1,1,1,1,1,1\n").contains("header"));
    assert!(feeds.set("ETHUSD", CSV).unwrap_err().contains("not BASE/QUOTE"));
    assert_eq!(csv::CsvFeed::parse("5,.5,+1.000000005,0.49999999999,.5,0").map(|_| ()), Ok(()));
}
