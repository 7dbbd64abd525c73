//! Pipeline counters: per flow (packets and bytes in and out, sequence-ID
//! gaps and reorders, translator verdicts), per error kind, per
//! non-eCPRI ethertype, and the added-latency histogram. Each stage owns
//! its counters (no sharing on the hot path); they are merged for reports
//! and for the Prometheus exposition.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;

use crate::classify::FlowKey;

/// Counters of one flow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowCounters {
    /// Packets received.
    pub packets_in: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Packets sent.
    pub packets_out: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Sequence IDs skipped on ingress.
    pub seq_gaps: u64,
    /// Sequence IDs that went backwards on ingress.
    pub seq_reorders: u64,
    /// Receive-window counters (timing/live.rs), when `[timing]` is set.
    pub timing: crate::timing::live::TimingCounters,
}

/// Sequence-ID tracking of one flow.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeqTrack {
    next: Option<u8>,
    /// The previous message's sequence ID, for [`SeqTrack::is_repeat`].
    last: Option<u8>,
}

impl SeqTrack {
    /// Whether `seq` is the previous message's sequence ID again (xran's Rx_dupl).
    #[inline]
    pub fn is_repeat(&self, seq: u8) -> bool {
        self.last == Some(seq)
    }

    /// Notes `seq` and returns (gaps, reordered).
    #[inline]
    pub fn note(&mut self, seq: u8) -> (u64, bool) {
        let r = match self.next {
            None => (0, false),
            Some(exp) => {
                let d = seq.wrapping_sub(exp);
                if d == 0 {
                    (0, false)
                } else if d < 128 {
                    (d as u64, false)
                } else {
                    (0, true)
                }
            }
        };
        if !r.1 {
            self.next = Some(seq.wrapping_add(1));
        }
        self.last = Some(seq);
        r
    }
}

/// A flow's counters and sequence tracking as a stage keeps them.
#[derive(Debug, Clone, Copy)]
pub struct FlowEntry {
    /// The flow.
    pub key: FlowKey,
    /// Its counters.
    pub counters: FlowCounters,
    /// Its ingress sequence IDs.
    pub seq: SeqTrack,
}

/// An index slot: a packed key (0 when empty) and its entry.
#[derive(Debug, Clone, Copy)]
struct FlowSlot {
    key: u64,
    entry: u32,
}

/// Per-flow counters on the hot path: entries in first-seen order behind
/// an open-addressing index (linear probing, at most half full, grown
/// when a new flow would pass that, which allocates; flows are a
/// configured set), with the last flow looked up cached, since packets of
/// one flow come in runs. A stage folds it into [`Stats::flows`] when it
/// publishes and when it ends.
#[derive(Debug, Clone)]
pub struct FlowTable {
    slots: Box<[FlowSlot]>,
    mask: usize,
    entries: Vec<FlowEntry>,
    last: (u64, usize),
}

impl Default for FlowTable {
    fn default() -> Self {
        Self::with_capacity(64)
    }
}

impl FlowTable {
    /// A table for `flows` flows before it first grows.
    pub fn with_capacity(flows: usize) -> Self {
        let n = (flows.max(1) * 2).next_power_of_two();
        FlowTable {
            slots: vec![FlowSlot { key: 0, entry: 0 }; n].into_boxed_slice(),
            mask: n - 1,
            entries: Vec::with_capacity(flows),
            last: (0, 0),
        }
    }

    /// A key no flow packs to 0 (the marker bit is set).
    #[inline]
    fn pack(k: FlowKey) -> u64 {
        1 << 63 | (k.direction as u64) << 40 | (k.plane as u64) << 32 | (k.vlan as u64) << 16 | k.eaxc as u64
    }

    #[inline]
    fn slot_of(key: u64, mask: usize) -> usize {
        // Fibonacci hashing: the top bits of key × 2^64/φ.
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & mask
    }

    /// The entry of `key`, made (zeroed) on first sight.
    #[inline]
    pub fn entry(&mut self, key: FlowKey) -> &mut FlowEntry {
        let packed = Self::pack(key);
        if self.last.0 == packed {
            return &mut self.entries[self.last.1];
        }
        let mut i = Self::slot_of(packed, self.mask);
        loop {
            let s = self.slots[i];
            if s.key == packed {
                self.last = (packed, s.entry as usize);
                return &mut self.entries[s.entry as usize];
            }
            if s.key == 0 {
                return self.insert(key, packed);
            }
            i = (i + 1) & self.mask;
        }
    }

    #[cold]
    fn insert(&mut self, key: FlowKey, packed: u64) -> &mut FlowEntry {
        if (self.entries.len() + 1) * 2 > self.slots.len() {
            let n = self.slots.len() * 2;
            self.slots = vec![FlowSlot { key: 0, entry: 0 }; n].into_boxed_slice();
            self.mask = n - 1;
            for e in 0..self.entries.len() {
                let k = Self::pack(self.entries[e].key);
                self.place(FlowSlot { key: k, entry: e as u32 });
            }
        }
        let e = self.entries.len();
        self.entries.push(FlowEntry { key, counters: FlowCounters::default(), seq: SeqTrack::default() });
        self.place(FlowSlot { key: packed, entry: e as u32 });
        self.last = (packed, e);
        &mut self.entries[e]
    }

    fn place(&mut self, slot: FlowSlot) {
        let mut i = Self::slot_of(slot.key, self.mask);
        while self.slots[i].key != 0 {
            i = (i + 1) & self.mask;
        }
        self.slots[i] = slot;
    }

    /// Flows seen.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no flow was seen.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in first-seen order.
    pub fn entries(&self) -> &[FlowEntry] {
        &self.entries
    }

    /// Writes every flow's counters into `flows`, replacing what is there
    /// (the table holds totals; a stage's [`Stats`] gets its flows only from it).
    pub fn write_to(&self, flows: &mut BTreeMap<FlowKey, FlowCounters>) {
        for f in &self.entries {
            flows.insert(f.key, f.counters);
        }
    }
}

/// Everything one run counted.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Per flow.
    pub flows: BTreeMap<FlowKey, FlowCounters>,
    /// Malformed eCPRI frames by (error kind, field).
    pub malformed: BTreeMap<(&'static str, &'static str), u64>,
    /// eCPRI frames whose flow no chain selects (forwarded untouched).
    pub unknown_flows: u64,
    /// Non-eCPRI frames by ethertype (forwarded untouched).
    pub other: BTreeMap<u16, u64>,
    /// Frames the egress could not make valid (e.g. a PRB larger than the
    /// MTU), by error kind.
    pub egress_errors: BTreeMap<&'static str, u64>,
    /// The same by (kind, field, flow); the flow is `None` for frames
    /// that are not eCPRI.
    pub egress_error_flows: BTreeMap<(&'static str, &'static str, Option<FlowKey>), u64>,
    /// Frames larger than the MTU that egress could not split, by what the
    /// oversize policy did with them (`dropped`, `forwarded`, `cut`).
    pub oversize: BTreeMap<&'static str, u64>,
    /// Packets lost for want of a free buffer (never expected).
    pub no_buffer: u64,
    /// Frames sent (every plane, eCPRI or not).
    pub frames_out: u64,
    /// Added latency, ns.
    pub latency: Histogram<u64>,
    /// Non-fronthaul frames by class, and the PTP transparent clock.
    pub bridge: crate::bridge::stats::BridgeStats,
    /// Arrival offsets against OTA per side and window (timing/live.rs).
    pub timing: crate::timing::live::TimingStats,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            flows: BTreeMap::new(),
            malformed: BTreeMap::new(),
            unknown_flows: 0,
            other: BTreeMap::new(),
            egress_errors: BTreeMap::new(),
            egress_error_flows: BTreeMap::new(),
            oversize: BTreeMap::new(),
            no_buffer: 0,
            frames_out: 0,
            // 1 ns to 10 s at 3 significant digits.
            latency: Histogram::new_with_bounds(1, 10_000_000_000, 3).expect("valid bounds"),
            bridge: Default::default(),
            timing: Default::default(),
        }
    }
}

impl Stats {
    /// Adds `o` into `self`.
    pub fn merge(&mut self, o: &Stats) {
        for (k, c) in &o.flows {
            let m = self.flows.entry(*k).or_default();
            m.packets_in += c.packets_in;
            m.bytes_in += c.bytes_in;
            m.packets_out += c.packets_out;
            m.bytes_out += c.bytes_out;
            m.seq_gaps += c.seq_gaps;
            m.seq_reorders += c.seq_reorders;
            m.timing.merge(&c.timing);
        }
        for (k, n) in &o.malformed {
            *self.malformed.entry(*k).or_default() += n;
        }
        for (k, n) in &o.other {
            *self.other.entry(*k).or_default() += n;
        }
        for (k, n) in &o.egress_errors {
            *self.egress_errors.entry(*k).or_default() += n;
        }
        for (k, n) in &o.egress_error_flows {
            *self.egress_error_flows.entry(*k).or_default() += n;
        }
        for (k, n) in &o.oversize {
            *self.oversize.entry(*k).or_default() += n;
        }
        self.unknown_flows += o.unknown_flows;
        self.no_buffer += o.no_buffer;
        self.frames_out += o.frames_out;
        let _ = self.latency.add(&o.latency);
        self.bridge.merge(&o.bridge);
        self.timing.merge(&o.timing);
    }

    /// Totals over all flows: (packets in, packets out).
    pub fn totals(&self) -> (u64, u64) {
        self.flows.values().fold((0, 0), |(a, b), c| (a + c.packets_in, b + c.packets_out))
    }

    /// The Prometheus text exposition of these counters.
    pub fn prometheus(&self) -> String {
        let mut s = String::new();
        let flow = |k: &FlowKey| {
            format!(
                "direction=\"{}\",plane=\"{}\",eaxc=\"0x{:04x}\",vlan=\"{}\"",
                if k.direction == 1 { "dl" } else { "ul" },
                ["u", "c", "other"].get(k.plane as usize).unwrap_or(&"?"),
                k.eaxc,
                if k.vlan == 0xFFFF { "none".to_string() } else { k.vlan.to_string() }
            )
        };
        for (name, help, get) in [
            ("fhgate_packets_in_total", "Packets received per flow.", (|c: &FlowCounters| c.packets_in) as fn(&FlowCounters) -> u64),
            ("fhgate_bytes_in_total", "Bytes received per flow.", |c| c.bytes_in),
            ("fhgate_packets_out_total", "Packets sent per flow.", |c| c.packets_out),
            ("fhgate_bytes_out_total", "Bytes sent per flow.", |c| c.bytes_out),
            ("fhgate_seq_id_gaps_total", "eCPRI sequence IDs skipped on ingress.", |c| c.seq_gaps),
            ("fhgate_seq_id_reorders_total", "eCPRI sequence IDs that went backwards on ingress.", |c| c.seq_reorders),
        ] {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter");
            for (k, c) in &self.flows {
                let _ = writeln!(s, "{name}{{{}}} {}", flow(k), get(c));
            }
        }
        let _ = writeln!(s, "# HELP fhgate_malformed_total Malformed eCPRI frames by error kind and field.\n# TYPE fhgate_malformed_total counter");
        for ((k, f), n) in &self.malformed {
            let _ = writeln!(s, "fhgate_malformed_total{{kind=\"{k}\",field=\"{f}\"}} {n}");
        }
        let _ = writeln!(s, "# HELP fhgate_unknown_flow_total eCPRI frames no chain selects.\n# TYPE fhgate_unknown_flow_total counter\nfhgate_unknown_flow_total {}", self.unknown_flows);
        let _ = writeln!(s, "# HELP fhgate_other_ethertype_total Non-eCPRI frames forwarded untouched.\n# TYPE fhgate_other_ethertype_total counter");
        for (t, n) in &self.other {
            let _ = writeln!(s, "fhgate_other_ethertype_total{{ethertype=\"0x{t:04x}\"}} {n}");
        }
        let _ = writeln!(s, "# HELP fhgate_egress_errors_total Frames egress could not make valid.\n# TYPE fhgate_egress_errors_total counter");
        for (k, n) in &self.egress_errors {
            let _ = writeln!(s, "fhgate_egress_errors_total{{kind=\"{k}\"}} {n}");
        }
        let _ = writeln!(s, "# HELP fhgate_egress_error_flows_total Frames egress could not make valid, by kind, field and flow.\n# TYPE fhgate_egress_error_flows_total counter");
        for ((k, f, fl), n) in &self.egress_error_flows {
            let labels = fl.as_ref().map_or_else(|| "plane=\"not_ecpri\"".to_string(), flow);
            let _ = writeln!(s, "fhgate_egress_error_flows_total{{kind=\"{k}\",field=\"{f}\",{labels}}} {n}");
        }
        let _ = writeln!(s, "# HELP fhgate_oversize_total Frames past the MTU egress could not split, by what the oversize policy did.\n# TYPE fhgate_oversize_total counter");
        for (k, n) in &self.oversize {
            let _ = writeln!(s, "fhgate_oversize_total{{outcome=\"{k}\"}} {n}");
        }
        let _ = writeln!(s, "# HELP fhgate_added_latency_ns Added latency per packet.\n# TYPE fhgate_added_latency_ns summary");
        for q in [0.5, 0.9, 0.99, 0.999] {
            let _ = writeln!(s, "fhgate_added_latency_ns{{quantile=\"{q}\"}} {}", self.latency.value_at_quantile(q));
        }
        let _ = writeln!(s, "fhgate_added_latency_ns_count {}", self.latency.len());
        s.push_str(&self.bridge.prometheus());
        if !self.timing.is_empty() || self.flows.values().any(|c| c.timing.sides != 0) {
            s.push_str(&crate::timing::live::prometheus(self.flows.iter().map(|(k, c)| (k, &c.timing)), &self.timing));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_tracking_counts_gaps_and_reorders() {
        let mut t = SeqTrack::default();
        assert_eq!(t.note(5), (0, false));
        assert_eq!(t.note(6), (0, false));
        assert_eq!(t.note(9), (2, false));
        assert_eq!(t.note(8), (0, true));
        assert_eq!(t.note(10), (0, false));
        assert_eq!(t.note(100), (89, false));
        // More than half the window ahead reads as behind: a reorder.
        assert_eq!(t.note(250), (0, true));
        assert_eq!(t.note(200), (99, false));
        assert_eq!(t.note(255), (54, false));
        assert_eq!(t.note(0), (0, false), "wraps at 256");
        // A repeat is the previous ID again, even after a reorder.
        assert!(t.is_repeat(0) && !t.is_repeat(1));
        t.note(200);
        assert!(t.is_repeat(200) && !t.is_repeat(1) && !t.is_repeat(0));
    }

    #[test]
    fn flow_table_counts_per_flow_and_grows() {
        let mut t = FlowTable::with_capacity(2);
        let key = |eaxc: u16, vlan: u16| FlowKey { direction: 1, plane: 0, eaxc, vlan };
        for round in 1..=3u64 {
            for e in 0..1000u16 {
                let f = t.entry(key(e, e % 3));
                f.counters.packets_in += 1;
                assert_eq!(f.counters.packets_in, round, "eAxC {e}");
                // Twice in a row: the cached last flow.
                t.entry(key(e, e % 3)).counters.bytes_in += 10;
            }
        }
        assert_eq!(t.len(), 1000);
        // Direction, plane and VLAN each make another flow.
        t.entry(FlowKey { direction: 0, ..key(1, 1) }).counters.packets_in += 1;
        t.entry(FlowKey { plane: 1, ..key(1, 1) }).counters.packets_in += 1;
        t.entry(key(1, 0xFFFF)).counters.packets_in += 1;
        assert_eq!(t.len(), 1003);
        let mut flows = BTreeMap::new();
        flows.insert(key(5, 2), FlowCounters { packets_in: 99, ..Default::default() });
        t.write_to(&mut flows);
        assert_eq!(flows.len(), 1003);
        assert_eq!(flows[&key(5, 2)], FlowCounters { packets_in: 3, bytes_in: 30, ..Default::default() }, "replaced by the total");
        assert_eq!(t.entries()[0].key, key(0, 0), "first-seen order");
    }

    #[test]
    fn prometheus_exposition_names_flows() {
        let mut s = Stats::default();
        let k = FlowKey { direction: 1, plane: 0, eaxc: 0x0102, vlan: 2 };
        s.flows.insert(k, FlowCounters { packets_in: 3, packets_out: 4, ..Default::default() });
        s.malformed.insert(("truncated", "ecpri.size"), 1);
        s.egress_error_flows.insert(("format_mismatch", "ecpri.size", Some(k)), 7);
        s.oversize.insert("dropped", 2);
        s.latency.record(1500).unwrap();
        let text = s.prometheus();
        assert!(text.contains("fhgate_egress_error_flows_total{kind=\"format_mismatch\",field=\"ecpri.size\",direction=\"dl\",plane=\"u\",eaxc=\"0x0102\",vlan=\"2\"} 7"), "{text}");
        assert!(text.contains("fhgate_oversize_total{outcome=\"dropped\"} 2"), "{text}");
        assert!(text.contains("fhgate_packets_in_total{direction=\"dl\",plane=\"u\",eaxc=\"0x0102\",vlan=\"2\"} 3"), "{text}");
        assert!(text.contains("fhgate_malformed_total{kind=\"truncated\",field=\"ecpri.size\"} 1"));
        assert!(text.contains("fhgate_added_latency_ns_count 1"));
    }
}
