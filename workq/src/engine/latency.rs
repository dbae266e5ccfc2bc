//! Latency histograms: a queue's waits (queue call to start) and run times, in
//! log-linear buckets of fixed size, kept only on queues built with
//! `latency_histograms(true)`.
//!
//! A histogram is 64 power-of-two ranges of 8 sub-buckets each (HDR-style: every
//! bucket is at most 1/8 of its lower bound wide, so a percentile is within
//! 12.5% above the true value), plus a count, a sum and a maximum. Recording a
//! sample is a few relaxed atomic adds: no allocation, no lock. A percentile is
//! the upper bound of the bucket that holds it (capped at the maximum), so it
//! never under-reports.

use crate::support::sync::{AtomicU64, Ordering};
use std::time::Duration;

/// Sub-buckets per power-of-two range, as a power of two.
const SUB_BITS: u32 = 3;
/// Sub-buckets per power-of-two range.
const SUBS: usize = 1 << SUB_BITS;
/// Power-of-two ranges (the first holds the exact values below `SUBS`).
const RANGES: usize = 64;
/// Buckets in all.
const BUCKETS: usize = RANGES * SUBS;

/// A fixed-size log-linear histogram of nanosecond samples.
pub(crate) struct Histogram {
    /// The count of samples is their sum (one add fewer per sample).
    buckets: Box<[AtomicU64]>,
    sum: AtomicU64,
    max: AtomicU64,
}

/// The bucket of `v`: values below `SUBS` have one each; above, the range is
/// that of `v`'s top bit, the sub-bucket its next `SUB_BITS` bits.
fn bucket_of(v: u64) -> usize {
    if v < SUBS as u64 {
        return v as usize;
    }
    let top = 63 - v.leading_zeros();
    let shift = top - SUB_BITS;
    let sub = ((v >> shift) as usize) & (SUBS - 1);
    (shift as usize + 1) * SUBS + sub
}

/// The largest value of bucket `b` (`bucket_of` of it is `b`).
fn upper_bound(b: usize) -> u64 {
    let range = b / SUBS;
    let sub = (b % SUBS) as u64;
    if range == 0 {
        return sub;
    }
    let shift = (range - 1) as u32;
    // The last bucket's bound, 2^64, shifts out to 0: minus one is u64::MAX.
    ((SUBS as u64 + sub + 1) << shift).wrapping_sub(1)
}

impl Histogram {
    /// An empty histogram (its buckets allocated once, here).
    pub(crate) fn new() -> Histogram {
        Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }

    /// Records a sample of `ns` nanoseconds.
    #[inline]
    pub(crate) fn record(&self, ns: u64) {
        self.buckets[bucket_of(ns)].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(ns, Ordering::Relaxed);
        if ns > self.max.load(Ordering::Relaxed) {
            self.max.fetch_max(ns, Ordering::Relaxed);
        }
    }

    /// Records a duration (saturating at 2^64 - 1 ns, some 584 years).
    #[inline]
    pub(crate) fn record_duration(&self, d: Duration) {
        self.record(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Samples recorded.
    #[cfg(test)]
    pub(crate) fn count(&self) -> u64 {
        self.read().1
    }

    /// The sum of the samples (wrapping).
    pub(crate) fn sum(&self) -> u64 {
        self.sum.load(Ordering::Relaxed)
    }

    /// The largest sample.
    pub(crate) fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }

    /// The `q` quantile (0.0..=1.0); 0 when empty.
    #[cfg(test)]
    pub(crate) fn percentile(&self, q: f64) -> u64 {
        let (counts, n, max) = self.read();
        percentile(&counts, n, max, q)
    }

    /// The bucket counts, their total, and the maximum (read after them).
    /// Samples recorded meanwhile may or may not count.
    fn read(&self) -> (Vec<u64>, u64, u64) {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let n = counts.iter().sum();
        (counts, n, self.max())
    }

    /// The public summary, from one reading of the buckets: the percentiles
    /// are in order and at most `max`.
    pub(crate) fn latency(&self) -> Latency {
        let (counts, n, max) = self.read();
        let at = |q| percentile(&counts, n, max, q);
        let (p50, p90, p99) = (at(0.50), at(0.90), at(0.99));
        let ns = Duration::from_nanos;
        let mean = self.sum().checked_div(n).unwrap_or(0);
        Latency {
            count: n,
            mean: ns(mean),
            p50: ns(p50),
            p90: ns(p90),
            p99: ns(p99),
            // Above p99 even if a sample's bucket was counted before its maximum.
            max: ns(max.max(p99)),
        }
    }
}

/// The `q` quantile (0.0..=1.0) of `n` samples in bucket counts `counts` whose
/// largest is `max`: the upper bound of the bucket holding the sample of rank
/// `ceil(q * n)`, capped at `max`; 0 when empty. Never below the true quantile.
fn percentile(counts: &[u64], n: u64, max: u64, q: f64) -> u64 {
    if n == 0 {
        return 0;
    }
    let q = q.clamp(0.0, 1.0);
    // Truncation on purpose: a rank within 1..=n.
    let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
    let mut seen = 0;
    for (b, c) in counts.iter().enumerate() {
        seen += c;
        if seen >= rank {
            let upper = upper_bound(b);
            // A `max` read before this bucket's sample reached it is ignored.
            return if max >= lower_bound(b) {
                upper.min(max)
            } else {
                upper
            };
        }
    }
    max
}

/// The smallest value of bucket `b`.
fn lower_bound(b: usize) -> u64 {
    let range = b / SUBS;
    let sub = (b % SUBS) as u64;
    if range == 0 {
        return sub;
    }
    (SUBS as u64 + sub) << (range - 1)
}

/// A queue's two histograms.
pub(crate) struct Latencies {
    /// Queue call (or becoming runnable) to start.
    pub(crate) wait: Histogram,
    /// Start to end of a run.
    pub(crate) run: Histogram,
}

impl Latencies {
    pub(crate) fn new() -> Latencies {
        Latencies {
            wait: Histogram::new(),
            run: Histogram::new(),
        }
    }
}

/// A summary of a latency histogram: how many samples, their mean, and
/// percentiles. Each percentile is the upper bound of the log-linear bucket
/// holding it (buckets are at most 1/8 of their value wide), capped at `max`:
/// it never under-reports, and over-reports by at most 12.5%.
///
/// In [`Stats::wait`](crate::Stats::wait) and [`Stats::run`](crate::Stats::run),
/// on queues built with `latency_histograms(true)`
/// ([`WorkerBuilder::latency_histograms`](crate::WorkerBuilder::latency_histograms)).
///
/// ```
/// let worker = workq::Worker::builder().name("lat").latency_histograms(true).build()?;
/// let work = workq::Work::new(|_| {});
/// worker.queue(&work)?;
/// work.flush()?;
/// let run: workq::Latency = worker.stats().run.expect("measured");
/// assert_eq!(run.count, 1);
/// assert!(run.p50 <= run.p90 && run.p90 <= run.p99 && run.p99 <= run.max);
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Latency {
    /// Samples recorded.
    ///
    /// ```
    /// let w = workq::Worker::builder().name("count").latency_histograms(true).build()?;
    /// assert_eq!(w.stats().run.expect("measured").count, 0);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub count: u64,
    /// The mean (exact, from the samples' sum; 0 when there are none).
    ///
    /// ```
    /// let w = workq::Worker::builder().name("mean").latency_histograms(true).build()?;
    /// let work = workq::Work::new(|_| {});
    /// w.queue(&work)?;
    /// work.flush()?;
    /// let run = w.stats().run.expect("measured");
    /// assert!(run.mean <= run.max);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub mean: Duration,
    /// The median (at least the true one, at most 12.5% above it).
    ///
    /// ```
    /// let w = workq::Worker::builder().name("p50").latency_histograms(true).build()?;
    /// assert_eq!(w.stats().run.expect("measured").p50, std::time::Duration::ZERO); // empty
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub p50: Duration,
    /// The 90th percentile, like [`p50`](Latency::p50).
    ///
    /// ```
    /// let w = workq::Worker::builder().name("p90").latency_histograms(true).build()?;
    /// let run = w.stats().run.expect("measured");
    /// assert!(run.p50 <= run.p90);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub p90: Duration,
    /// The 99th percentile, like [`p50`](Latency::p50).
    ///
    /// ```
    /// let w = workq::Worker::builder().name("p99").latency_histograms(true).build()?;
    /// let run = w.stats().run.expect("measured");
    /// assert!(run.p90 <= run.p99);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub p99: Duration,
    /// The largest sample (exact).
    ///
    /// ```
    /// let w = workq::Worker::builder().name("max").latency_histograms(true).build()?;
    /// let run = w.stats().run.expect("measured");
    /// assert!(run.p99 <= run.max);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub max: Duration,
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests {
    use super::{bucket_of, lower_bound, upper_bound, Histogram, BUCKETS};

    #[test]
    fn small_values_have_exact_buckets() {
        for v in 0..16u64 {
            let b = bucket_of(v);
            assert_eq!(lower_bound(b), v, "value {v}");
            assert_eq!(upper_bound(b), v, "value {v}");
        }
        assert_eq!(bucket_of(16), bucket_of(17));
        assert_eq!(
            (lower_bound(bucket_of(17)), upper_bound(bucket_of(17))),
            (16, 17)
        );
    }

    #[test]
    fn every_value_lies_in_its_bucket_and_buckets_are_monotonic() {
        let mut values: Vec<u64> = (0..4096).collect();
        for shift in 0..64 {
            let p = 1u64 << shift;
            values.extend([p - 1, p, p + 1, p + p / 3, p.saturating_mul(2) - 1]);
        }
        values.push(u64::MAX);
        values.sort_unstable();
        let mut last = 0;
        for v in values {
            let b = bucket_of(v);
            assert!(b < BUCKETS, "value {v}: bucket {b}");
            assert!(b >= last, "value {v}: bucket {b} below {last}");
            last = b;
            assert!(
                lower_bound(b) <= v && v <= upper_bound(b),
                "value {v}, bucket {b}"
            );
            // At most 1/8 of the lower bound wide.
            assert!(
                upper_bound(b) - lower_bound(b) <= lower_bound(b) / 8,
                "bucket {b}"
            );
        }
    }

    #[test]
    fn percentiles_never_under_report_against_a_sorted_reference() {
        let h = Histogram::new();
        // A deterministic spread over many magnitudes.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut samples = Vec::new();
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = x >> (x % 50);
            samples.push(v);
            h.record(v);
        }
        samples.sort_unstable();
        let n = samples.len();
        assert_eq!(h.count(), n as u64);
        assert_eq!(h.max(), samples[n - 1]);
        let mut prev = 0;
        for q in [0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0] {
            let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
            let truth = samples[rank - 1];
            let p = h.percentile(q);
            assert!(p >= truth, "q {q}: {p} < {truth}");
            assert!(p - truth <= truth / 8, "q {q}: {p} too far above {truth}");
            assert!(p >= prev, "q {q}: not monotonic");
            prev = p;
        }
        assert_eq!(h.percentile(1.0), samples[n - 1]);
    }

    #[test]
    fn an_empty_histogram_reports_zero() {
        let h = Histogram::new();
        let l = h.latency();
        assert_eq!(
            (l.count, l.p50, l.max),
            (0, Default::default(), Default::default())
        );
    }

    #[test]
    fn one_sample_is_every_percentile() {
        let h = Histogram::new();
        h.record(1000);
        assert_eq!(h.percentile(0.5), 1000);
        assert_eq!(h.percentile(0.99), 1000);
        assert_eq!(h.sum(), 1000);
    }

    #[test]
    fn the_mean_is_exact() {
        let h = Histogram::new();
        for v in [10, 20, 30, 1000] {
            h.record(v);
        }
        let l = h.latency();
        assert_eq!((l.count, l.mean.as_nanos()), (4, 265));
        assert_eq!(l.max.as_nanos(), 1000);
    }
}
