//! Fault policy (ABI.md §7): what happens to a burst a translator faulted
//! on, and the window that disables a translator that faults N times
//! within T.

use std::fmt;
use std::time::{Duration, Instant};

/// What to do with the packets of a burst a translator faulted on, and
/// with its packets while it is disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FaultPolicy {
    /// Send the inputs unchanged.
    #[default]
    Pass,
    /// Send nothing.
    Drop,
    /// Run them through the fallback translator instead.
    Fallback,
}

impl FaultPolicy {
    /// Parses `pass`, `drop` or `fallback`.
    pub fn from_name(s: &str) -> Option<FaultPolicy> {
        match s {
            "pass" => Some(FaultPolicy::Pass),
            "drop" => Some(FaultPolicy::Drop),
            "fallback" => Some(FaultPolicy::Fallback),
            _ => None,
        }
    }
}

impl fmt::Display for FaultPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FaultPolicy::Pass => "pass",
            FaultPolicy::Drop => "drop",
            FaultPolicy::Fallback => "fallback",
        })
    }
}

/// N faults within T disable a translator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultLimit {
    /// N.
    pub faults: u32,
    /// T.
    pub within: Duration,
}

impl Default for FaultLimit {
    fn default() -> Self {
        FaultLimit { faults: 5, within: Duration::from_secs(10) }
    }
}

/// The times of the last N faults, in a ring allocated once.
#[derive(Debug, Clone)]
pub struct FaultWindow {
    limit: FaultLimit,
    times: Vec<Instant>,
    next: usize,
}

impl FaultWindow {
    /// An empty window for `limit` (room for up to 4 096 faults is made
    /// now; a larger N grows the ring on faults, never on the hot path).
    pub fn new(limit: FaultLimit) -> FaultWindow {
        FaultWindow { limit, times: Vec::with_capacity(limit.faults.clamp(1, 4096) as usize), next: 0 }
    }

    /// Records a fault at `now`; true when it is the Nth within T.
    pub fn record(&mut self, now: Instant) -> bool {
        let n = self.limit.faults.max(1) as usize;
        if self.times.len() < n {
            self.times.push(now);
        } else {
            self.times[self.next] = now;
        }
        self.next = (self.next + 1) % n;
        // The oldest of the last n faults is the next one to be overwritten.
        self.times.len() == n && now.duration_since(self.times[self.next % self.times.len()]) <= self.limit.within
    }

    /// The limit.
    pub fn limit(&self) -> FaultLimit {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn n_faults_within_t_trip_the_window() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut w = FaultWindow::new(FaultLimit { faults: 3, within: Duration::from_secs(10) });
        assert!(!w.record(t0));
        assert!(!w.record(t0 + s));
        assert!(w.record(t0 + 2 * s));
        // Spread out: 3 faults over more than 10 s do not.
        let mut w = FaultWindow::new(FaultLimit { faults: 3, within: Duration::from_secs(10) });
        assert!(!w.record(t0));
        assert!(!w.record(t0 + 6 * s));
        assert!(!w.record(t0 + 12 * s));
        assert!(w.record(t0 + 13 * s));
    }

    #[test]
    fn one_fault_limit() {
        let mut w = FaultWindow::new(FaultLimit { faults: 1, within: Duration::from_secs(1) });
        assert!(w.record(Instant::now()));
    }

    #[test]
    fn policy_names() {
        for p in [FaultPolicy::Pass, FaultPolicy::Drop, FaultPolicy::Fallback] {
            assert_eq!(FaultPolicy::from_name(&p.to_string()), Some(p));
        }
        assert_eq!(FaultPolicy::from_name("ignore"), None);
    }
}
