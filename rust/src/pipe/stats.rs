//! Bounded latency samples and their percentiles.
use std::collections::VecDeque;

#[derive(Debug, Clone)]
pub struct Samples {
    values: VecDeque<u64>,
    cap: usize,
}

impl Samples {
    pub fn new(cap: usize) -> Self {
        Samples { values: VecDeque::with_capacity(cap), cap }
    }
    pub fn push(&mut self, v: u64) {
        if self.values.len() == self.cap {
            self.values.pop_front();
        }
        self.values.push_back(v);
    }
    pub fn len(&self) -> usize {
        self.values.len()
    }
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
    /// Nearest-rank quantile, q in [0, 1].
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.values.is_empty() {
            return None;
        }
        let mut v: Vec<u64> = self.values.iter().copied().collect();
        v.sort_unstable();
        let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
        Some(v[rank - 1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_and_bound() {
        let mut s = Samples::new(100);
        for i in 1..=200 {
            s.push(i);
        }
        assert_eq!(s.len(), 100);
        assert_eq!(s.quantile(0.5), Some(150));
        assert_eq!(s.quantile(0.95), Some(195));
        assert_eq!(s.quantile(1.0), Some(200));
        assert_eq!(Samples::new(3).quantile(0.5), None);
    }
}
