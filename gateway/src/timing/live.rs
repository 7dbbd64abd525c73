//! Receive-window classification on `fhgate run`'s ingress: every C-plane
//! and U-plane message that enters from the DU or the RU is timed against
//! its OTA symbol with the port's receive timestamp, and counted per flow
//! as xran counts them (Rx_on_time, Rx_early, Rx_late, Rx_corrupt,
//! Rx_dupl), with a histogram of the arrival offset per side and window.
//!
//! Per packet: two integer remainders, a few compares and increments into
//! the flow entry the ingress already holds; no allocation, lock or
//! syscall (the timestamp is the port's, per packet or per burst).

use std::fmt::Write as _;

use serde_json::json;

use super::ota::{AirTime, OtaClock};
use super::window::{class_in, Bounds, Class, WindowKind};
use crate::classify::FlowKey;

/// The side a message entered on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// From the DU (DL C/U-plane, UL C-plane).
    Du = 0,
    /// From the RU (UL U-plane).
    Ru = 1,
}

impl Side {
    /// `du` or `ru`.
    pub fn name(self) -> &'static str {
        ["du", "ru"][self as usize]
    }
}

/// One flow's timing counters (xran's names in the docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimingCounters {
    /// Rx_on_time.
    pub on_time: u64,
    /// Rx_early.
    pub early: u64,
    /// Rx_late.
    pub late: u64,
    /// Rx_corrupt: malformed, or timing fields out of range.
    pub corrupt: u64,
    /// Rx_dupl: the same ecpriSeqid as the flow's previous message.
    pub dupl: u64,
    /// Timed without a window configured for its kind.
    pub unclassified: u64,
    /// Sides it entered on (bit 0 DU, bit 1 RU).
    pub sides: u8,
}

impl TimingCounters {
    /// Adds `o` into `self`.
    pub fn merge(&mut self, o: &TimingCounters) {
        self.on_time += o.on_time;
        self.early += o.early;
        self.late += o.late;
        self.corrupt += o.corrupt;
        self.dupl += o.dupl;
        self.unclassified += o.unclassified;
        self.sides |= o.sides;
    }

    /// Early, on time and late all at once: time itself is broken (PTP),
    /// not the window (srsRAN #1096).
    pub fn broken_time(&self) -> bool {
        self.early > 0 && self.on_time > 0 && self.late > 0
    }
}

/// Upper bounds (ns, inclusive) of the arrival-offset histogram's
/// buckets, symmetric around OTA; one more bucket holds the rest.
pub const BUCKETS_NS: [i64; 27] = [
    -10_000_000, -5_000_000, -2_000_000, -1_000_000, -500_000, -200_000, -100_000, -50_000, -20_000, -10_000, -5_000, -2_000, -1_000, 0, 1_000,
    2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000, 2_000_000, 5_000_000, 10_000_000,
];

/// A fixed-bucket histogram of arrival offsets, ns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetHistogram {
    /// Per bucket (not cumulative); the last is above every bound.
    pub counts: [u64; BUCKETS_NS.len() + 1],
    /// Sum of the offsets.
    pub sum: i64,
}

impl Default for OffsetHistogram {
    fn default() -> Self {
        OffsetHistogram { counts: [0; BUCKETS_NS.len() + 1], sum: 0 }
    }
}

impl OffsetHistogram {
    /// Counts one offset.
    #[inline]
    pub fn record(&mut self, ns: i64) {
        self.counts[BUCKETS_NS.partition_point(|&b| b < ns)] += 1;
        self.sum = self.sum.wrapping_add(ns);
    }

    /// Offsets recorded.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// Per side and window kind, the histograms (what [`Stats`](crate::pipeline::stats::Stats) carries).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimingStats {
    /// `[side][window kind]`.
    pub histograms: [[OffsetHistogram; 4]; 2],
}

impl TimingStats {
    /// Adds `o` into `self`.
    pub fn merge(&mut self, o: &TimingStats) {
        for (a, b) in self.histograms.iter_mut().flatten().zip(o.histograms.iter().flatten()) {
            for (x, y) in a.counts.iter_mut().zip(b.counts.iter()) {
                *x += y;
            }
            a.sum = a.sum.wrapping_add(b.sum);
        }
    }

    /// Whether anything was timed.
    pub fn is_empty(&self) -> bool {
        self.histograms.iter().flatten().all(|h| h.count() == 0)
    }
}

/// What one direction's ingress needs to time its messages.
#[derive(Debug, Clone, Copy)]
pub struct IngressTiming {
    /// Host clock to GPS.
    pub clock: OtaClock,
    /// The side's numerology.
    pub numerology: u8,
    /// The side the port faces.
    pub side: Side,
    /// Window per kind (arrival offsets, ns), where configured.
    windows: [Option<(i64, i64)>; 4],
}

impl IngressTiming {
    /// Timing for the port facing `side`, with `bounds` per [`WindowKind::ALL`].
    pub fn new(clock: OtaClock, numerology: u8, side: Side, bounds: [Option<Bounds>; 4]) -> Self {
        let mut windows = [None; 4];
        for k in WindowKind::ALL {
            windows[k as usize] = bounds[k as usize].map(|b| b.offsets(k));
        }
        IngressTiming { clock, numerology, side, windows }
    }

    /// Times one classified message received at `time_ns` (Unix ns):
    /// `uplane` (else C-plane), its dataDirection and air time, and whether
    /// its sequence ID repeats the flow's previous one.
    #[inline]
    #[allow(clippy::too_many_arguments, reason = "the descriptor's fields, passed in registers; a struct would be built per packet")]
    pub fn note(&self, c: &mut TimingCounters, stats: &mut TimingStats, time_ns: u64, uplane: bool, direction: u8, air: AirTime, repeat: bool) {
        c.sides |= 1 << self.side as u8;
        if repeat {
            c.dupl += 1;
        }
        let Ok(off) = self.clock.offset_ns(time_ns as i64, air, self.numerology) else {
            c.corrupt += 1;
            return;
        };
        let k = WindowKind::of(uplane, direction);
        stats.histograms[self.side as usize][k as usize].record(off);
        let Some((lo, hi)) = self.windows[k as usize] else {
            c.unclassified += 1;
            return;
        };
        match class_in((lo, hi), off) {
            Class::Early => c.early += 1,
            Class::OnTime => c.on_time += 1,
            Class::Late => c.late += 1,
        }
    }

    /// Counts a message of the flow that did not decode.
    #[inline]
    pub fn note_corrupt(&self, c: &mut TimingCounters) {
        c.sides |= 1 << self.side as u8;
        c.corrupt += 1;
    }
}

fn flow_labels(k: &FlowKey) -> String {
    format!(
        "direction=\"{}\",plane=\"{}\",eaxc=\"0x{:04x}\",vlan=\"{}\"",
        if k.direction == 1 { "dl" } else { "ul" },
        ["u", "c", "other"].get(k.plane as usize).unwrap_or(&"?"),
        k.eaxc,
        if k.vlan == 0xFFFF { "none".to_string() } else { k.vlan.to_string() }
    )
}

fn side_label(sides: u8) -> &'static str {
    match sides {
        1 => "du",
        2 => "ru",
        _ => "both",
    }
}

/// The counters of every flow that was timed, and the histograms, as
/// Prometheus text.
pub fn prometheus<'a>(flows: impl Iterator<Item = (&'a FlowKey, &'a TimingCounters)> + Clone, t: &TimingStats) -> String {
    let mut s = String::new();
    let timed = flows.filter(|(_, c)| c.sides != 0);
    let families: [(&str, &str, fn(&TimingCounters) -> u64); 5] = [
        ("Rx_on_time", "Messages inside their receive window", |c| c.on_time),
        ("Rx_early", "Messages before their receive window", |c| c.early),
        ("Rx_late", "Messages after their receive window", |c| c.late),
        ("Rx_corrupt", "Messages that did not decode or whose timing fields are out of range", |c| c.corrupt),
        ("Rx_dupl", "Messages repeating the previous ecpriSeqid of their flow", |c| c.dupl),
    ];
    for (name, help, get) in families {
        let _ = writeln!(s, "# HELP fhgate_{name}_total {help}, per flow and the side it entered on.\n# TYPE fhgate_{name}_total counter");
        let mut per_side = [0u64; 3];
        for (k, c) in timed.clone() {
            let _ = writeln!(s, "fhgate_{name}_total{{side=\"{}\",{}}} {}", side_label(c.sides), flow_labels(k), get(c));
            per_side[(c.sides as usize).min(3) - 1] += get(c);
        }
        let _ = writeln!(s, "# HELP fhgate_side_{name}_total {help}, per side.\n# TYPE fhgate_side_{name}_total counter");
        for (i, n) in per_side.iter().enumerate().filter(|(i, n)| *i < 2 || **n > 0) {
            let _ = writeln!(s, "fhgate_side_{name}_total{{side=\"{}\"}} {n}", side_label(i as u8 + 1));
        }
    }
    let _ = writeln!(s, "# HELP fhgate_timing_broken_time 1 for a flow with early, on-time and late messages at once (PTP broken, not a window).\n# TYPE fhgate_timing_broken_time gauge");
    for (k, c) in timed.clone().filter(|(_, c)| c.broken_time()) {
        let _ = writeln!(s, "fhgate_timing_broken_time{{side=\"{}\",{}}} 1", side_label(c.sides), flow_labels(k));
    }
    let _ = writeln!(s, "# HELP fhgate_arrival_offset_ns Arrival minus OTA time of C/U-plane messages, per side and window.\n# TYPE fhgate_arrival_offset_ns histogram");
    for (si, side) in t.histograms.iter().enumerate() {
        for k in WindowKind::ALL {
            let h = &side[k as usize];
            let n = h.count();
            if n == 0 {
                continue;
            }
            let labels = format!("side=\"{}\",window=\"{}\"", side_label(si as u8 + 1), super::report::window_name(k));
            let mut cum = 0;
            for (b, c) in BUCKETS_NS.iter().zip(h.counts.iter()) {
                cum += c;
                let _ = writeln!(s, "fhgate_arrival_offset_ns_bucket{{{labels},le=\"{b}\"}} {cum}");
            }
            let _ = writeln!(s, "fhgate_arrival_offset_ns_bucket{{{labels},le=\"+Inf\"}} {n}\nfhgate_arrival_offset_ns_sum{{{labels}}} {}\nfhgate_arrival_offset_ns_count{{{labels}}} {n}", h.sum);
        }
    }
    s
}

/// The same as JSON: per flow its counters, and the flows with the broken-time signature.
pub fn json<'a>(flows: impl Iterator<Item = (&'a FlowKey, &'a TimingCounters)>) -> serde_json::Value {
    let rows: Vec<_> = flows
        .filter(|(_, c)| c.sides != 0)
        .map(|(k, c)| {
            let plane = ["u", "c", "other"].get(k.plane as usize).copied().unwrap_or("?");
            json!({
                "side": side_label(c.sides), "direction": if k.direction == 1 { "dl" } else { "ul" },
                "plane": plane, "eaxc": k.eaxc,
                "vlan": (k.vlan != 0xFFFF).then_some(k.vlan),
                "Rx_on_time": c.on_time, "Rx_early": c.early, "Rx_late": c.late, "Rx_corrupt": c.corrupt, "Rx_dupl": c.dupl,
                "unclassified": c.unclassified, "broken_time": c.broken_time(),
            })
        })
        .collect();
    serde_json::Value::Array(rows)
}

#[cfg(test)]
#[path = "live_tests.rs"]
mod tests;
