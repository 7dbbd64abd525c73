//! Per-flow counting during a trial: integrity counters, seqId report,
//! IQ error and a latency histogram (HDR, 3 significant digits, so
//! recording never allocates), and their report form.

use hdrhistogram::Histogram;

use fhgate::diff::IqError;

use super::super::seq_report::SeqReport;
use super::pool::FlowKey;
use super::report;

/// Highest latency recorded (60 s); above it a frame is clamped.
const MAX_NS: u64 = 60_000_000_000;
/// Points of the CDF a trial keeps.
const CDF_POINTS: usize = 101;
/// Bins of the latency histogram a trial keeps.
const HIST_BINS: usize = 40;

/// One flow's counts in a trial.
pub struct FlowStats {
    /// Measured frames sent.
    pub sent: u64,
    /// Of them, received.
    pub received: u64,
    /// Received twice.
    pub duplicates: u64,
    /// Did not decode.
    pub malformed: u64,
    /// Decoded, matched nothing sent.
    pub unmatched: u64,
    /// From an earlier trial or lap.
    pub stale: u64,
    /// Received before their send time by the two hosts' clocks.
    pub before_sent: u64,
    /// Arrived before the later lap now in their table slot was sent:
    /// a whole frameId window (128 laps) late, so their lap is ambiguous.
    pub aliased: u64,
    /// seqId gaps (its reorder count is not used: see `reordered`).
    pub seq: SeqReport,
    /// Frames that arrived behind a later frame of their flow, by their
    /// place in the flow's sequence (which heavy loss cannot confuse).
    pub reordered: u64,
    /// The furthest place in the flow's sequence received so far.
    last_place: Option<u64>,
    /// IQ error of the PRBs checked.
    pub iq: IqError,
    hist: Histogram<u64>,
    last_ns: Option<u64>,
    jitter_sum: f64,
    jitter_n: u64,
}

impl Default for FlowStats {
    fn default() -> Self {
        FlowStats {
            sent: 0,
            received: 0,
            duplicates: 0,
            malformed: 0,
            unmatched: 0,
            stale: 0,
            before_sent: 0,
            aliased: 0,
            seq: SeqReport::default(),
            reordered: 0,
            last_place: None,
            iq: IqError::default(),
            hist: Histogram::new_with_bounds(1, MAX_NS, 3).expect("valid HDR bounds"),
            last_ns: None,
            jitter_sum: 0.0,
            jitter_n: 0,
        }
    }
}

impl FlowStats {
    /// Records one frame's place in its flow's sequence (modulo `span`):
    /// behind the furthest so far is reordered.
    pub fn place(&mut self, p: u64, span: u64) {
        match self.last_place {
            Some(last) if (p + span - last) % span >= span / 2 => self.reordered += 1,
            _ => self.last_place = Some(p),
        }
    }

    /// Records one frame's latency.
    pub fn latency(&mut self, ns: u64) {
        let ns = ns.clamp(1, MAX_NS);
        self.hist.saturating_record(ns);
        if let Some(l) = self.last_ns {
            self.jitter_sum += ns.abs_diff(l) as f64;
            self.jitter_n += 1;
        }
        self.last_ns = Some(ns);
    }

    /// Adds `o`'s counts (for the trial's total over flows).
    pub fn merge(&mut self, o: &FlowStats) {
        self.sent += o.sent;
        self.received += o.received;
        self.duplicates += o.duplicates;
        self.malformed += o.malformed;
        self.unmatched += o.unmatched;
        self.stale += o.stale;
        self.before_sent += o.before_sent;
        self.aliased += o.aliased;
        self.seq.gaps += o.seq.gaps;
        self.reordered += o.reordered;
        let _ = self.hist.add(&o.hist);
        self.jitter_sum += o.jitter_sum;
        self.jitter_n += o.jitter_n;
        self.iq.merge(&o.iq);
    }

    fn latency_summary(&self) -> Option<report::Latency> {
        let h = &self.hist;
        (h.len() > 0).then(|| report::Latency {
            frames: h.len(),
            min_ns: h.min() as f64,
            p50_ns: h.value_at_quantile(0.5) as f64,
            p99_ns: h.value_at_quantile(0.99) as f64,
            p999_ns: h.value_at_quantile(0.999) as f64,
            max_ns: h.max() as f64,
            mean_ns: h.mean(),
            jitter_ns: if self.jitter_n > 0 { self.jitter_sum / self.jitter_n as f64 } else { 0.0 },
        })
    }

    /// The latency summary, its CDF and its histogram (linear bins from
    /// the minimum to the 99.9th percentile; the last bin takes the rest).
    pub fn latency_report(&self) -> (Option<report::Latency>, Vec<(f64, f64)>, Vec<(f64, f64, u64)>) {
        let Some(l) = self.latency_summary() else { return (None, Vec::new(), Vec::new()) };
        let h = &self.hist;
        let cdf = (0..CDF_POINTS)
            .map(|i| {
                let q = i as f64 / (CDF_POINTS - 1) as f64;
                (h.value_at_quantile(q) as f64, q)
            })
            .collect();
        let (lo, hi) = (h.min(), h.value_at_quantile(0.999).max(h.min() + 1));
        let step = (hi - lo).div_ceil(HIST_BINS as u64).max(1);
        let bins = (0..HIST_BINS as u64)
            .map(|b| {
                let (a, z) = (lo + b * step, lo + (b + 1) * step);
                let last = b + 1 == HIST_BINS as u64;
                let n = h.count_between(a, if last { h.max() } else { z - 1 });
                (a as f64, z as f64, n)
            })
            .collect();
        (Some(l), cdf, bins)
    }

    /// This flow's report.
    pub fn to_report(&self, k: &FlowKey, has_iq: bool) -> report::Flow {
        let q = &self.iq;
        report::Flow {
            flow: k.name(),
            sent: self.sent,
            received: self.received,
            lost: self.sent.saturating_sub(self.received),
            duplicates: self.duplicates,
            reordered: self.reordered,
            seq_gaps: self.seq.gaps,
            malformed: self.malformed,
            unmatched: self.unmatched,
            latency: self.latency_summary(),
            iq: (has_iq && (q.prbs > 0 || q.undecodable > 0)).then(|| report::Iq {
                prbs: q.prbs,
                evm_pct: q.evm_pct().unwrap_or(0.0),
                evm_db: q.evm_db(),
                exact: q.exact(),
                undecodable: q.undecodable,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reordering_is_told_from_loss_by_place() {
        let mut f = FlowStats::default();
        // 0, 1, then 300 frames lost, 302, then 2 late, then 303.
        for p in [0, 1, 302, 2, 303] {
            f.place(p, 1000);
        }
        assert_eq!(f.reordered, 1, "a long loss is not reordering; the late frame is");
        let mut w = FlowStats::default();
        for p in [998, 999, 0, 1] {
            w.place(p, 1000);
        }
        assert_eq!(w.reordered, 0, "places wrap");
    }

    #[test]
    fn latency_summary_cdf_and_histogram_hold_what_was_recorded() {
        let mut f = FlowStats::default();
        for ns in [1000u64, 2000, 3000, 4000] {
            f.latency(ns);
        }
        let (l, cdf, hist) = f.latency_report();
        let l = l.unwrap();
        assert_eq!(l.frames, 4);
        assert!((l.min_ns - 1000.0).abs() < 2.0 && (l.max_ns - 4000.0).abs() < 5.0, "{l:?}");
        assert!((l.jitter_ns - 1000.0).abs() < 1.0, "each step is 1000 ns: {}", l.jitter_ns);
        assert_eq!(cdf.len(), CDF_POINTS);
        assert!(cdf.windows(2).all(|w| w[0].0 <= w[1].0), "a CDF never goes down");
        assert_eq!(hist.iter().map(|b| b.2).sum::<u64>(), 4, "every frame lands in one bin");
    }
}
