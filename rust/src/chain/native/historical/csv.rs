//! CSV price feeds: history a user brings, served by OGHistorical for its pair.
//!
//! One row a line: `timestamp,open,high,low,close,volume`. `timestamp` is the start of the row's
//! interval in unix seconds; the others are plain decimal numbers (`3012.5`, no exponent), kept
//! to 8 decimals (more are rounded half away from zero). Rows come in increasing timestamp
//! order, one a minute or coarser; gaps are allowed. Each row holds 0 < low ≤ open, close ≤ high
//! and volume ≥ 0. A first line naming the columns (these, in this order) is skipped, as are
//! empty lines and lines starting with `#`.
//!
//! A candle of `d` minutes aggregates the rows whose timestamps fall in its interval (first
//! open, highest high, lowest low, last close, summed volume); an interval with no row, inside
//! the feed's span, is a flat candle at the previous close with volume 0. The feed's candles run
//! from the one holding its first row to the one holding its last; a query gets the last
//! `total_candles` of those that end at or before the block's timestamp, and reverts if there
//! are fewer.
use super::{Candle, Query, DECIMALS, SCALE};

pub const COLUMNS: [&str; 6] = ["timestamp", "open", "high", "low", "close", "volume"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvFeed {
    /// One candle per row, by timestamp.
    rows: Vec<Candle>,
}

/// A decimal number as fixed point with [`DECIMALS`] decimals.
fn decimal(s: &str) -> Result<i128, String> {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) || int.len() > 24 {
        return Err(format!("{s:?} is not a decimal number"));
    }
    let places = DECIMALS as usize;
    let kept: String = frac.chars().chain(std::iter::repeat('0')).take(places).collect();
    let int: i128 = if int.is_empty() { 0 } else { int.parse().map_err(|_| format!("{s:?} is too large"))? };
    let mut value = int.checked_mul(SCALE).and_then(|v| v.checked_add(kept.parse::<i128>().expect("digits"))).ok_or_else(|| format!("{s:?} is too large"))?;
    if frac.as_bytes().get(places).is_some_and(|d| *d >= b'5') {
        value += 1;
    }
    Ok(if negative { -value } else { value })
}

impl CsvFeed {
    pub fn parse(text: &str) -> Result<CsvFeed, String> {
        let mut rows: Vec<Candle> = Vec::new();
        let lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())).filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
        for (n, (line_no, line)) in lines.enumerate() {
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let at = |what: String| format!("line {line_no}: {what}");
            if n == 0 && fields.first().is_some_and(|f| f.parse::<u64>().is_err()) {
                if fields.len() != COLUMNS.len() || fields.iter().zip(COLUMNS).any(|(f, c)| !f.eq_ignore_ascii_case(c)) {
                    return Err(at(format!("the header must be {}", COLUMNS.join(","))));
                }
                continue;
            }
            if fields.len() != COLUMNS.len() {
                return Err(at(format!("{} fields, expected {} ({})", fields.len(), COLUMNS.len(), COLUMNS.join(","))));
            }
            let start: u64 = fields[0].parse().map_err(|_| at(format!("timestamp {:?} is not unix seconds", fields[0])))?;
            let v = |i: usize| decimal(fields[i]).map_err(|e| at(format!("{}: {e}", COLUMNS[i])));
            let c = Candle { start, open: v(1)?, high: v(2)?, low: v(3)?, close: v(4)?, volume: v(5)? };
            if c.low <= 0 || c.low > c.open.min(c.close) || c.high < c.open.max(c.close) || c.volume < 0 {
                return Err(at("needs 0 < low <= open, close <= high and volume >= 0".into()));
            }
            if let Some(prev) = rows.last().filter(|p| p.start >= start) {
                return Err(at(format!("timestamp {start} is not after the previous row's {}", prev.start)));
            }
            rows.push(c);
        }
        if rows.is_empty() {
            return Err("no rows".into());
        }
        Ok(CsvFeed { rows })
    }

    /// The candles `q` asks for at block time `timestamp`, oldest first.
    pub fn candles(&self, q: &Query, timestamp: u64) -> Result<Vec<Candle>, String> {
        let secs = q.seconds();
        let (first, last_row) = (self.rows[0].start / secs, self.rows[self.rows.len() - 1].start / secs);
        let last = q.last_index(timestamp).map(|k| k.min(last_row));
        let available = last.filter(|l| *l >= first).map(|l| l + 1 - first).unwrap_or(0);
        if available < q.total as u64 {
            return Err(format!(
                "it has {available} candles of {} minutes ending at or before timestamp {timestamp}, {} were asked for",
                q.minutes, q.total
            ));
        }
        let last = last.expect("available");
        let from = last + 1 - q.total as u64;
        let mut i = self.rows.partition_point(|r| r.start < from * secs);
        let mut prev_close = i.checked_sub(1).map(|p| self.rows[p].close);
        let mut out = Vec::with_capacity(q.total as usize);
        for k in from..=last {
            let end = (k + 1) * secs;
            let n = self.rows[i..].partition_point(|r| r.start < end);
            let c = Candle::merged(k * secs, self.rows[i..i + n].iter().copied()).unwrap_or_else(|| {
                let close = prev_close.expect("a candle without rows follows one with");
                Candle { start: k * secs, open: close, high: close, low: close, close, volume: 0 }
            });
            i += n;
            prev_close = Some(c.close);
            out.push(c);
        }
        Ok(out)
    }
}
