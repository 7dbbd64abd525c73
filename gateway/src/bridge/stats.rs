//! What the bridge counts, per direction: frames in, out and blocked per
//! class, PTP messages by what the transparent clock did, the added delay
//! of passthrough frames and the residence time of PTP event messages.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

use super::ptp::MessageType;
use super::tc::{Outcome, TcMode};
use super::{Class, CLASSES};

/// Kinds of malformed PTP message, in [`super::ptp::Error::kind`] order.
const MALFORMED_KINDS: [&str; 4] = ["truncated", "version", "message_type", "length"];

/// A direction's index: 1 is DL (DU → RU), 0 is UL, as `port_direction`.
fn dir_name(d: usize) -> (&'static str, &'static str, &'static str) {
    if d == 1 {
        ("dl", "du", "ru")
    } else {
        ("ul", "ru", "du")
    }
}

/// The bridge's counters; each direction fills its own index.
#[derive(Debug, Clone)]
pub struct BridgeStats {
    /// Frames received per direction and class.
    pub rx: [[u64; CLASSES]; 2],
    /// Frames sent per direction and class.
    pub tx: [[u64; CLASSES]; 2],
    /// Frames the passthrough policy kept from crossing.
    pub blocked: [[u64; CLASSES]; 2],
    /// PTP messages whose correctionField grew, by messageType nibble.
    pub ptp_corrected: [[u64; 16]; 2],
    /// Two-step event messages whose residence time went to their follow-up.
    pub ptp_held: [[u64; 16]; 2],
    /// PTP messages left as they were (general messages), by messageType nibble.
    pub ptp_untouched: [[u64; 16]; 2],
    /// Malformed PTP messages, forwarded untouched, by kind.
    pub ptp_malformed: [[u64; 4]; 2],
    /// The transparent clock's mode per direction, once it ran (`None`: never, or capture ports).
    pub tc_mode: [Option<TcMode>; 2],
    /// Added delay of passthrough frames, ns (pipeline arrival to send).
    pub delay: [Histogram<u64>; 2],
    /// Residence time of PTP event messages, ns (receive to send timestamps).
    pub residence: [Histogram<u64>; 2],
}

fn histogram() -> Histogram<u64> {
    // 1 ns to 10 s at 3 significant digits, as the pipeline's latency.
    Histogram::new_with_bounds(1, 10_000_000_000, 3).expect("valid bounds")
}

impl Default for BridgeStats {
    fn default() -> Self {
        BridgeStats {
            rx: [[0; CLASSES]; 2],
            tx: [[0; CLASSES]; 2],
            blocked: [[0; CLASSES]; 2],
            ptp_corrected: [[0; 16]; 2],
            ptp_held: [[0; 16]; 2],
            ptp_untouched: [[0; 16]; 2],
            ptp_malformed: [[0; 4]; 2],
            tc_mode: [None; 2],
            delay: [histogram(), histogram()],
            residence: [histogram(), histogram()],
        }
    }
}

fn add<const N: usize>(a: &mut [[u64; N]; 2], b: &[[u64; N]; 2]) {
    for (x, y) in a.iter_mut().flatten().zip(b.iter().flatten()) {
        *x += y;
    }
}

impl BridgeStats {
    /// Counts what the transparent clock did in direction `d`.
    #[inline]
    pub fn note_tc(&mut self, d: usize, o: Outcome) {
        match o {
            Outcome::Malformed(e) => {
                let k = MALFORMED_KINDS.iter().position(|k| *k == e.kind()).unwrap_or(0);
                self.ptp_malformed[d][k] += 1;
            }
            Outcome::Corrected { message, residence_ns } => {
                self.ptp_corrected[d][message.nibble() as usize] += 1;
                if message.is_event() {
                    let _ = self.residence[d].record(residence_ns.max(1));
                }
            }
            Outcome::Held { message, residence_ns } => {
                self.ptp_held[d][message.nibble() as usize] += 1;
                let _ = self.residence[d].record(residence_ns.max(1));
            }
            Outcome::Untouched(m) => self.ptp_untouched[d][m.nibble() as usize] += 1,
        }
    }

    /// Adds `o` into `self`.
    pub fn merge(&mut self, o: &BridgeStats) {
        add(&mut self.rx, &o.rx);
        add(&mut self.tx, &o.tx);
        add(&mut self.blocked, &o.blocked);
        add(&mut self.ptp_corrected, &o.ptp_corrected);
        add(&mut self.ptp_held, &o.ptp_held);
        add(&mut self.ptp_untouched, &o.ptp_untouched);
        add(&mut self.ptp_malformed, &o.ptp_malformed);
        for d in 0..2 {
            self.tc_mode[d] = self.tc_mode[d].or(o.tc_mode[d]);
            let _ = self.delay[d].add(&o.delay[d]);
            let _ = self.residence[d].add(&o.residence[d]);
        }
    }

    /// Frames of class `c` in direction `d`: (received, sent, blocked).
    pub fn class(&self, d: usize, c: Class) -> (u64, u64, u64) {
        (self.rx[d][c as usize], self.tx[d][c as usize], self.blocked[d][c as usize])
    }

    /// PTP messages of type `t` corrected in direction `d`.
    pub fn corrected(&self, d: usize, t: MessageType) -> u64 {
        self.ptp_corrected[d][t.nibble() as usize]
    }

    /// Malformed PTP messages in direction `d`.
    pub fn malformed(&self, d: usize) -> u64 {
        self.ptp_malformed[d].iter().sum()
    }

    /// The Prometheus text exposition. Each frame is counted on both
    /// sides: received on the side it came from, sent on the other.
    pub fn prometheus(&self) -> String {
        let mut s = String::new();
        for (name, help, v) in [
            ("fhgate_passthrough_rx_total", "Non-fronthaul frames received, by direction, side and class.", &self.rx),
            ("fhgate_passthrough_tx_total", "Non-fronthaul frames sent, by direction, side and class.", &self.tx),
            ("fhgate_passthrough_blocked_total", "Non-fronthaul frames the [passthrough] policy kept from crossing.", &self.blocked),
        ] {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter");
            for (d, row) in v.iter().enumerate() {
                let (dir, from, to) = dir_name(d);
                let side = if name.contains("_tx_") { to } else { from };
                for c in Class::ALL {
                    let _ = writeln!(s, "{name}{{direction=\"{dir}\",side=\"{side}\",class=\"{}\"}} {}", c.name(), row[c as usize]);
                }
            }
        }
        let _ = writeln!(s, "# HELP fhgate_ptp_messages_total PTP messages crossing, by what the transparent clock did.\n# TYPE fhgate_ptp_messages_total counter");
        for d in 0..2 {
            let dir = dir_name(d).0;
            for n in 0..16u8 {
                let Some(t) = MessageType::from_nibble(n) else { continue };
                for (what, v) in [("corrected", &self.ptp_corrected), ("held_for_follow_up", &self.ptp_held), ("untouched", &self.ptp_untouched)] {
                    if v[d][n as usize] > 0 {
                        let _ = writeln!(s, "fhgate_ptp_messages_total{{direction=\"{dir}\",message=\"{}\",action=\"{what}\"}} {}", t.name(), v[d][n as usize]);
                    }
                }
            }
        }
        let _ = writeln!(s, "# HELP fhgate_ptp_malformed_total Malformed PTP messages, forwarded untouched, by kind.\n# TYPE fhgate_ptp_malformed_total counter");
        for d in 0..2 {
            for (k, kind) in MALFORMED_KINDS.iter().enumerate() {
                let _ = writeln!(s, "fhgate_ptp_malformed_total{{direction=\"{}\",kind=\"{kind}\"}} {}", dir_name(d).0, self.ptp_malformed[d][k]);
            }
        }
        let _ = writeln!(s, "# HELP fhgate_ptp_transparent_clock The transparent clock's mode and timestamp source per direction (1 = in use).\n# TYPE fhgate_ptp_transparent_clock gauge");
        for d in 0..2 {
            if let Some(m) = self.tc_mode[d] {
                let _ = writeln!(s, "fhgate_ptp_transparent_clock{{direction=\"{}\",mode=\"{}\",timestamps=\"software\"}} 1", dir_name(d).0, m.name());
            }
        }
        for (name, help, h) in [
            ("fhgate_passthrough_delay_ns", "Added delay of non-fronthaul frames (pipeline arrival to send).", &self.delay),
            ("fhgate_ptp_residence_ns", "Residence time of PTP event messages (receive to send timestamp), as added to correctionField.", &self.residence),
        ] {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} summary");
            for (d, h) in h.iter().enumerate() {
                let dir = dir_name(d).0;
                for q in [0.5, 0.99, 0.999] {
                    let _ = writeln!(s, "{name}{{direction=\"{dir}\",quantile=\"{q}\"}} {}", h.value_at_quantile(q));
                }
                let _ = writeln!(s, "{name}_count{{direction=\"{dir}\"}} {}", h.len());
            }
        }
        s
    }
}
