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
}

/// Sequence-ID tracking of one flow.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeqTrack {
    next: Option<u8>,
}

impl SeqTrack {
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
        r
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
    /// Frames the egress could not make valid (e.g. a PRB larger than the MTU).
    pub egress_errors: BTreeMap<&'static str, u64>,
    /// Packets lost for want of a free buffer (never expected).
    pub no_buffer: u64,
    /// Added latency, ns.
    pub latency: Histogram<u64>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            flows: BTreeMap::new(),
            malformed: BTreeMap::new(),
            unknown_flows: 0,
            other: BTreeMap::new(),
            egress_errors: BTreeMap::new(),
            no_buffer: 0,
            // 1 ns to 10 s at 3 significant digits.
            latency: Histogram::new_with_bounds(1, 10_000_000_000, 3).expect("valid bounds"),
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
        self.unknown_flows += o.unknown_flows;
        self.no_buffer += o.no_buffer;
        let _ = self.latency.add(&o.latency);
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
        let _ = writeln!(s, "# HELP fhgate_added_latency_ns Added latency per packet.\n# TYPE fhgate_added_latency_ns summary");
        for q in [0.5, 0.9, 0.99, 0.999] {
            let _ = writeln!(s, "fhgate_added_latency_ns{{quantile=\"{q}\"}} {}", self.latency.value_at_quantile(q));
        }
        let _ = writeln!(s, "fhgate_added_latency_ns_count {}", self.latency.len());
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
    }

    #[test]
    fn prometheus_exposition_names_flows() {
        let mut s = Stats::default();
        let k = FlowKey { direction: 1, plane: 0, eaxc: 0x0102, vlan: 2 };
        s.flows.insert(k, FlowCounters { packets_in: 3, packets_out: 4, ..Default::default() });
        s.malformed.insert(("truncated", "ecpri.size"), 1);
        s.latency.record(1500).unwrap();
        let text = s.prometheus();
        assert!(text.contains("fhgate_packets_in_total{direction=\"dl\",plane=\"u\",eaxc=\"0x0102\",vlan=\"2\"} 3"), "{text}");
        assert!(text.contains("fhgate_malformed_total{kind=\"truncated\",field=\"ecpri.size\"} 1"));
        assert!(text.contains("fhgate_added_latency_ns_count 1"));
    }
}
