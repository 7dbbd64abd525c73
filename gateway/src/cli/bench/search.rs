//! The throughput search of RFC 2544 §26.1 as a binary search, the
//! confirmation trial and the rate sweep, over any trial function (the
//! engine's on live ports; a model device in the tests below).
//!
//! The search starts with a trial at the ceiling (`--max-rate`, else flat
//! out, whose offered rate becomes the ceiling). If that loses no more
//! than the tolerance, the ceiling is the answer (`tx_limited` when it
//! was flat out). Otherwise it halves [0, ceiling] until the interval is
//! no wider than the resolution; the answer is the highest rate that
//! passed (0 when none did).

use super::report::{Throughput, Trial};

/// Most search trials, whatever the resolution (2^-40 of the ceiling).
const MAX_STEPS: usize = 40;
/// Most steps down the confirmation takes while it loses.
const CONFIRM_STEPS: usize = 3;

/// Runs a trial at a rate (`None`: flat out), of a kind.
pub trait Trials {
    /// One trial.
    fn run(&mut self, rate: Option<f64>, kind: &str) -> Trial;
    /// One longer trial (the confirmation).
    fn run_long(&mut self, rate: f64) -> Trial;
    /// Whether to start no more trials (SIGINT, or a failure).
    fn stopped(&self) -> bool {
        false
    }
    /// What stopped the run early, if anything did (a cross-host peer lost).
    fn failure(&self) -> Option<String> {
        None
    }
    /// The last trial has run (a cross-host run tells the tx side).
    fn end(&mut self) {}
}

/// Searches for the highest rate whose loss is within the tolerance, to
/// `resolution(ceiling)` frames per second. `progress` hears each trial as it ends.
pub fn throughput(t: &mut impl Trials, resolution: &dyn Fn(f64) -> f64, max_rate: Option<f64>, confirm: bool, progress: &mut dyn FnMut(&Trial)) -> Throughput {
    let mut trials = Vec::new();
    let first = t.run(max_rate, "max");
    progress(&first);
    let ceiling = max_rate.unwrap_or(first.offered_fps);
    let resolution = resolution(ceiling);
    let mut found = 0.0;
    let tx_limited = first.pass && max_rate.is_none();
    if first.pass {
        found = ceiling;
    }
    let first_passed = first.pass;
    trials.push(first);
    if !first_passed && ceiling > 0.0 {
        let (mut lo, mut hi) = (0.0f64, ceiling);
        for _ in 0..MAX_STEPS {
            if hi - lo <= resolution || t.stopped() {
                break;
            }
            let mid = (lo + hi) / 2.0;
            let tr = t.run(Some(mid), "search");
            progress(&tr);
            if tr.pass {
                lo = mid;
            } else {
                hi = mid;
            }
            trials.push(tr);
        }
        found = lo;
    }
    let mut confirmation = None;
    if confirm && found > 0.0 && !t.stopped() {
        let mut rate = found;
        for step in 0..=CONFIRM_STEPS {
            let tr = t.run_long(rate);
            progress(&tr);
            if tr.pass || step == CONFIRM_STEPS || t.stopped() {
                confirmation = Some(tr);
                break;
            }
            // A confirmation that lost stays on record with the search's trials.
            trials.push(tr);
            rate = (rate - resolution).max(resolution.min(found) / 2.0);
        }
    }
    Throughput { found_fps: found, found_mbps: 0.0, found_realtime: 0.0, max_offered_fps: ceiling, tx_limited, trials, confirmation }
}

/// Trials at each of `percents` of `found`.
pub fn sweep(t: &mut impl Trials, found: f64, percents: &[f64], progress: &mut dyn FnMut(&Trial)) -> Vec<Trial> {
    if found <= 0.0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for &p in percents {
        if t.stopped() {
            break;
        }
        let mut tr = t.run(Some(found * p / 100.0), "sweep");
        tr.percent = Some(p);
        progress(&tr);
        out.push(tr);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device that loses frames above `limit` frames/s, behind a
    /// transmitter that reaches `tx_max`.
    struct Model {
        limit: f64,
        tx_max: f64,
        rates: Vec<Option<f64>>,
    }

    impl Trials for Model {
        fn run(&mut self, rate: Option<f64>, kind: &str) -> Trial {
            self.rates.push(rate);
            let offered = rate.unwrap_or(self.tx_max).min(self.tx_max);
            let sent = offered as u64;
            let lost = if offered > self.limit { ((offered - self.limit) as u64).clamp(1, sent) } else { 0 };
            trial(kind, rate, offered, sent, lost)
        }
        fn run_long(&mut self, rate: f64) -> Trial {
            self.run(Some(rate), "confirm")
        }
    }

    fn trial(kind: &str, target: Option<f64>, offered: f64, sent: u64, lost: u64) -> Trial {
        Trial {
            kind: kind.into(),
            percent: None,
            target_fps: target,
            offered_fps: offered,
            sent,
            received: sent - lost,
            lost,
            loss_ratio: lost as f64 / sent.max(1) as f64,
            pass: lost == 0 && sent > 0,
            duplicates: 0,
            reordered: 0,
            seq_gaps: 0,
            malformed: 0,
            unmatched: 0,
            before_sent: 0,
            aliased: 0,
            frame_id_window_s: 0.0,
            lap_ambiguous: false,
            stale: 0,
            late: 0,
            tx_dropped: 0,
            rx_port_drops: 0,
            warmup_sent: 0,
            seconds: 1.0,
            latency: None,
            latency_cdf: vec![],
            latency_histogram: vec![],
            flows: vec![],
        }
    }

    #[test]
    fn the_search_ends_within_the_resolution_below_the_limit() {
        let mut m = Model { limit: 123_456.0, tx_max: 1_000_000.0, rates: vec![] };
        let t = throughput(&mut m, &|_| 1_000.0, None, false, &mut |_| {});
        assert!(t.found_fps <= 123_456.0 && t.found_fps > 123_456.0 - 1_000.0, "{}", t.found_fps);
        assert!(!t.tx_limited);
        assert_eq!(m.rates[0], None, "the first trial is flat out");
        // log2(1e6 / 1e3) = 10 halvings after the first trial.
        assert_eq!(t.trials.len(), 11);
        assert_eq!(t.max_offered_fps, 1_000_000.0);
    }

    #[test]
    fn a_device_faster_than_the_transmitter_is_tx_limited() {
        let mut m = Model { limit: 2e6, tx_max: 1e6, rates: vec![] };
        let t = throughput(&mut m, &|_| 1_000.0, None, true, &mut |_| {});
        assert_eq!(t.found_fps, 1e6);
        assert!(t.tx_limited);
        assert_eq!(t.trials.len(), 1);
        assert!(t.confirmation.unwrap().pass);
    }

    #[test]
    fn a_device_that_always_loses_finds_nothing_and_the_sweep_is_empty() {
        let mut m = Model { limit: -1.0, tx_max: 1e5, rates: vec![] };
        let t = throughput(&mut m, &|_| 1e4, Some(1e5), true, &mut |_| {});
        assert_eq!(t.found_fps, 0.0);
        assert!(t.confirmation.is_none(), "nothing to confirm");
        assert!(sweep(&mut m, t.found_fps, &[10.0, 50.0], &mut |_| {}).is_empty());
    }

    #[test]
    fn confirmation_steps_down_while_it_loses_and_sweep_takes_each_percent() {
        // The long trial sees less headroom than the short ones.
        struct Tighter(Model);
        impl Trials for Tighter {
            fn run(&mut self, rate: Option<f64>, kind: &str) -> Trial {
                self.0.run(rate, kind)
            }
            fn run_long(&mut self, rate: f64) -> Trial {
                let lim = self.0.limit;
                self.0.limit = lim - 1_500.0;
                let t = self.0.run(Some(rate), "confirm");
                self.0.limit = lim;
                t
            }
        }
        let mut m = Tighter(Model { limit: 50_000.0, tx_max: 100_000.0, rates: vec![] });
        let t = throughput(&mut m, &|_| 1_000.0, None, true, &mut |_| {});
        let c = t.confirmation.unwrap();
        assert!(c.pass);
        assert!(t.found_fps - c.target_fps.unwrap() <= 2_000.0 + 1e-6, "two steps of the resolution at most");
        let s = sweep(&mut m, 1000.0, &[10.0, 120.0], &mut |_| {});
        assert_eq!(s.iter().map(|t| (t.percent, t.target_fps)).collect::<Vec<_>>(), [(Some(10.0), Some(100.0)), (Some(120.0), Some(1200.0))]);
    }
}
