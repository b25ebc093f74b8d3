//! A fixed-size, log-linear histogram of durations (or any `u64` quantity).
//!
//! Owns: bucket counts in an inline array, an exact maximum, a count and a sum.
//! Must never: allocate, panic on any input value, or lose a sample (values beyond the
//! range land in the last bucket; the maximum stays exact).
//!
//! Buckets: values below `2^SUB_BITS` have one bucket each; above that, every power of
//! two is split into `2^SUB_BITS` equal sub-buckets, so a reported percentile is within
//! `1 / 2^SUB_BITS` (6.25 %) of the true value.

use std::time::Duration;

/// Sub-buckets per power of two, as a bit count.
const SUB_BITS: u32 = 4;
const SUB: u64 = 1 << SUB_BITS;
/// Powers of two covered above the linear range: up to `2^(SUB_BITS + GROUPS)`.
const GROUPS: u32 = 36;
/// Number of buckets.
pub const BUCKETS: usize = (SUB as usize) * (GROUPS as usize + 1);

/// A log-linear histogram with a fixed number of buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Histogram {
    counts: [u64; BUCKETS],
    count: u64,
    sum: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    /// An empty histogram.
    pub const fn new() -> Self {
        Self {
            counts: [0; BUCKETS],
            count: 0,
            sum: 0,
            max: 0,
        }
    }

    fn index(value: u64) -> usize {
        if value < SUB {
            return value as usize;
        }
        // `value >= SUB`, so `msb >= SUB_BITS`.
        let msb = 63 - value.leading_zeros();
        let group = u64::from(msb - SUB_BITS + 1);
        let sub = (value >> (msb - SUB_BITS)) & (SUB - 1);
        let idx = group * SUB + sub;
        (idx as usize).min(BUCKETS - 1)
    }

    /// The largest value that falls in bucket `idx`.
    fn upper_bound(idx: usize) -> u64 {
        let idx = idx as u64;
        if idx < SUB {
            return idx;
        }
        let group = idx / SUB;
        let sub = idx % SUB;
        let shift = group - 1;
        ((SUB + sub + 1) << shift) - 1
    }

    /// Adds one sample.
    pub fn record(&mut self, value: u64) {
        if let Some(c) = self.counts.get_mut(Self::index(value)) {
            *c = c.saturating_add(1);
        }
        self.count = self.count.saturating_add(1);
        self.sum = self.sum.saturating_add(value);
        self.max = self.max.max(value);
    }

    /// Adds one duration sample, in nanoseconds.
    pub fn record_duration(&mut self, d: Duration) {
        self.record(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a = a.saturating_add(*b);
        }
        self.count = self.count.saturating_add(other.count);
        self.sum = self.sum.saturating_add(other.sum);
        self.max = self.max.max(other.max);
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Largest sample (exact), 0 when empty.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Mean of the samples, 0 when empty.
    pub fn mean(&self) -> u64 {
        self.sum.checked_div(self.count).unwrap_or(0)
    }

    /// The value at quantile `q` (0.0..=1.0): the upper bound of the bucket holding it,
    /// never above the exact maximum. 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let q = if q.is_nan() { 1.0 } else { q.clamp(0.0, 1.0) };
        // Rank of the wanted sample, 1-based.
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0u64;
        for (idx, c) in self.counts.iter().enumerate() {
            seen = seen.saturating_add(*c);
            if seen >= rank {
                return Self::upper_bound(idx).min(self.max);
            }
        }
        self.max
    }

    /// [`Histogram::quantile`] of nanosecond samples, as a duration.
    pub fn quantile_duration(&self, q: f64) -> Duration {
        Duration::from_nanos(self.quantile(q))
    }

    /// [`Histogram::max`] of nanosecond samples, as a duration.
    pub fn max_duration(&self) -> Duration {
        Duration::from_nanos(self.max)
    }

    /// The samples recorded since `earlier` (an older copy of this histogram). The
    /// maximum becomes the upper bound of the highest bucket that gained samples, capped
    /// by the exact overall maximum.
    pub fn since(&self, earlier: &Histogram) -> Histogram {
        let mut out = Histogram::new();
        let mut top = None;
        for (i, ((o, a), b)) in out
            .counts
            .iter_mut()
            .zip(self.counts.iter())
            .zip(earlier.counts.iter())
            .enumerate()
        {
            *o = a.saturating_sub(*b);
            if *o > 0 {
                top = Some(i);
            }
        }
        out.count = self.count.saturating_sub(earlier.count);
        out.sum = self.sum.saturating_sub(earlier.sum);
        out.max = top.map_or(0, |i| Self::upper_bound(i).min(self.max));
        out
    }

    /// Forgets every sample.
    pub fn clear(&mut self) {
        *self = Self::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_are_exact() {
        let mut h = Histogram::new();
        for v in 0..SUB {
            h.record(v);
        }
        assert_eq!(h.quantile(0.0), 0);
        assert_eq!(h.quantile(1.0), SUB - 1);
        assert_eq!(h.count(), SUB);
    }

    #[test]
    fn every_value_lands_in_a_bucket_whose_bound_covers_it() {
        for v in [16u64, 17, 31, 32, 33, 1000, 20_000_000, 1 << 40, u64::MAX] {
            let idx = Histogram::index(v);
            assert!(idx < BUCKETS);
            if idx < BUCKETS - 1 {
                let hi = Histogram::upper_bound(idx);
                assert!(hi >= v, "value {v} bucket {idx} bound {hi}");
                let lo = if idx == 0 {
                    0
                } else {
                    Histogram::upper_bound(idx - 1) + 1
                };
                assert!(lo <= v, "value {v} bucket {idx} low {lo}");
                // Relative precision of a bucket.
                assert!((hi - lo) as f64 <= (v as f64) / (SUB as f64) + 1.0);
            }
        }
    }

    #[test]
    fn percentiles_of_a_uniform_range_are_within_precision() {
        let mut h = Histogram::new();
        for v in 1..=10_000u64 {
            h.record(v * 1000);
        }
        let p50 = h.quantile(0.5) as f64;
        let p99 = h.quantile(0.99) as f64;
        assert!((p50 / 5_000_000.0 - 1.0).abs() < 0.07, "p50 {p50}");
        assert!((p99 / 9_900_000.0 - 1.0).abs() < 0.07, "p99 {p99}");
        assert_eq!(h.max(), 10_000_000);
        assert_eq!(h.quantile(1.0), 10_000_000);
    }

    #[test]
    fn merge_adds_counts_and_keeps_the_max() {
        let mut a = Histogram::new();
        let mut b = Histogram::new();
        a.record(5);
        b.record(500);
        b.record(7);
        a.merge(&b);
        assert_eq!(a.count(), 3);
        assert_eq!(a.max(), 500);
        assert_eq!(a.quantile(0.34), 7);
    }

    #[test]
    fn since_keeps_only_the_newer_samples() {
        let mut h = Histogram::new();
        h.record(1_000_000);
        let before = h;
        h.record(10);
        h.record(12);
        let d = h.since(&before);
        assert_eq!(d.count(), 2);
        assert!(d.max() >= 12 && d.max() < 14, "{}", d.max());
        assert_eq!(d.quantile(0.5), 10);
    }

    #[test]
    fn empty_histogram_reports_zero() {
        let h = Histogram::new();
        assert_eq!(h.quantile(0.99), 0);
        assert_eq!(h.mean(), 0);
        assert_eq!(h.quantile(f64::NAN), 0);
    }
}
