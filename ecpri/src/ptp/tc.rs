//! The end-to-end transparent clock (IEEE 1588-2019 §10.2, §11.5): a PTP
//! event message that crosses the gateway gets the time it spent inside
//! (egress timestamp − ingress timestamp) added to correctionField, so
//! the slave's path delay does not include the gateway's queueing.
//!
//! - **One step** (the default): the residence time goes into the event
//!   message itself (Sync, Delay_Req, Pdelay_Req, Pdelay_Resp), whether
//!   its sender is one- or two-step; a two-step sender's Follow_Up passes
//!   unchanged (§11.5.2.2: the slave adds the Sync's and the Follow_Up's
//!   corrections).
//! - **Two step**: a Sync or Pdelay_Resp with twoStepFlag set passes
//!   unchanged and its residence time goes into the Follow_Up or
//!   Pdelay_Resp_Follow_Up with the same sourcePortIdentity, sequenceId
//!   and domain (§11.5.2.3). Delay_Req and Pdelay_Req, and event messages
//!   of one-step senders, are corrected in place as in one step (their
//!   two-step form would correct the response, which crosses the other
//!   direction's thread).
//!
//! UDP checksums are kept right by an incremental update (RFC 1624); an
//! IPv4 datagram sent without one (zero) stays without. A malformed PTP
//! message is never touched.

use super::locate::PtpAt;
use super::{self as ptp, MessageType, Packet, Repr};

/// How the transparent clock carries residence times (`[ptp] transparent_clock`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TcMode {
    /// PTP crosses like any other frame.
    Off,
    /// Residence time into the event message itself.
    #[default]
    OneStep,
    /// Residence time of two-step Sync and Pdelay_Resp into their follow-up.
    TwoStep,
}

impl TcMode {
    /// The name the configuration uses.
    pub fn name(self) -> &'static str {
        match self {
            TcMode::Off => "off",
            TcMode::OneStep => "one_step",
            TcMode::TwoStep => "two_step",
        }
    }
}

/// What the transparent clock did with one PTP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Malformed: forwarded untouched.
    Malformed(ptp::Error),
    /// correctionField grew by `residence_ns` (an event message, or a follow-up carrying its event's).
    Corrected {
        /// The message corrected.
        message: MessageType,
        /// Residence time added, ns.
        residence_ns: u64,
    },
    /// A two-step event message: its residence time waits for its follow-up.
    Held {
        /// The event message.
        message: MessageType,
        /// Its residence time, ns.
        residence_ns: u64,
    },
    /// A message the transparent clock leaves as it is (general messages,
    /// a follow-up whose event message it did not see).
    Untouched(MessageType),
}

/// A two-step event message whose follow-up has not passed yet.
#[derive(Debug, Clone, Copy, Default)]
struct Pending {
    /// messageType of the follow-up, domain, sourcePortIdentity, sequenceId; `None`: free.
    key: Option<(u8, u8, [u8; 10], u16)>,
    residence_ns: u64,
}

/// Follow-ups awaited at once; the oldest is forgotten when a new one comes.
const PENDING: usize = 16;

/// The transparent clock of one direction (its TX stage owns it).
#[derive(Debug, Clone)]
pub struct TransparentClock {
    mode: TcMode,
    pending: [Pending; PENDING],
    next: usize,
}

impl TransparentClock {
    /// A clock in `mode`.
    pub fn new(mode: TcMode) -> TransparentClock {
        TransparentClock { mode, pending: [Pending::default(); PENDING], next: 0 }
    }

    /// Its mode.
    pub fn mode(&self) -> TcMode {
        self.mode
    }

    /// Handles the PTP message at `at` in `frame` as it leaves: received at
    /// `rx_ns`, sent at `tx_ns` (the same clock). `None` when the mode is off.
    pub fn on_egress(&mut self, frame: &mut [u8], at: PtpAt, rx_ns: u64, tx_ns: u64) -> Option<Outcome> {
        if self.mode == TcMode::Off {
            return None;
        }
        let end = (at.offset + at.len).min(frame.len());
        let msg = &frame[at.offset..end];
        let repr = match Packet::new_checked(msg).and_then(|p| Repr::parse(&p)) {
            Ok(r) => r,
            Err(e) => return Some(Outcome::Malformed(e)),
        };
        let residence_ns = tx_ns.saturating_sub(rx_ns);
        let t = repr.message_type;
        let follow_up = match t {
            MessageType::Sync => Some(MessageType::FollowUp),
            MessageType::PdelayResp => Some(MessageType::PdelayRespFollowUp),
            _ => None,
        };
        if t.is_event() {
            if let (TcMode::TwoStep, true, Some(f)) = (self.mode, repr.two_step(), follow_up) {
                self.pending[self.next] = Pending { key: Some((f.nibble(), repr.domain, repr.source_port, repr.sequence_id)), residence_ns };
                self.next = (self.next + 1) % PENDING;
                return Some(Outcome::Held { message: t, residence_ns });
            }
            add_correction(frame, at, repr.correction, residence_ns);
            return Some(Outcome::Corrected { message: t, residence_ns });
        }
        if self.mode == TcMode::TwoStep && matches!(t, MessageType::FollowUp | MessageType::PdelayRespFollowUp) {
            let key = Some((t.nibble(), repr.domain, repr.source_port, repr.sequence_id));
            if let Some(p) = self.pending.iter_mut().find(|p| p.key == key) {
                p.key = None;
                add_correction(frame, at, repr.correction, p.residence_ns);
                return Some(Outcome::Corrected { message: t, residence_ns: p.residence_ns });
            }
        }
        Some(Outcome::Untouched(t))
    }
}

/// Adds `ns` to correctionField (scaled by 2^16), fixing the UDP checksum.
/// A correction that would overflow saturates at the largest value, which
/// IEEE 1588 reserves for "too big to represent" (§13.3.2.9).
fn add_correction(frame: &mut [u8], at: PtpAt, old: i64, ns: u64) {
    // In i128: ns × 2^16 < 2^80 fits, and a negative correction plus a
    // residence past i64 still ends at the largest value, not below it.
    let new = (old as i128 + ((ns as i128) << 16)).min(i64::MAX as i128) as i64;
    let range = at.offset + ptp::field::CORRECTION.start..at.offset + ptp::field::CORRECTION.end;
    if let Some(c) = at.udp_checksum {
        let hc = u16::from_be_bytes([frame[c], frame[c + 1]]);
        let fixed = checksum_update(hc, &old.to_be_bytes(), &new.to_be_bytes());
        frame[c..c + 2].copy_from_slice(&fixed.to_be_bytes());
    }
    frame[range].copy_from_slice(&new.to_be_bytes());
}

/// The Internet checksum `hc` after the 16-bit-aligned bytes `old` became
/// `new` (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')). A result of zero is
/// sent as 0xFFFF: zero means "no checksum" in UDP.
pub fn checksum_update(hc: u16, old: &[u8], new: &[u8]) -> u16 {
    let mut sum = (!hc) as u32;
    for (o, n) in old.chunks(2).zip(new.chunks(2)) {
        let o = u16::from_be_bytes([o[0], o.get(1).copied().unwrap_or(0)]);
        let n = u16::from_be_bytes([n[0], n.get(1).copied().unwrap_or(0)]);
        sum += (!o) as u32 + n as u32;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    match !(sum as u16) {
        0 => 0xFFFF,
        v => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Sync over L2 (IEEE 1588-2019 Table 35, written byte by byte)
    /// whose correctionField is `corr`.
    fn sync(corr: i64) -> [u8; 58] {
        let mut f = [0u8; 58];
        f[12..14].copy_from_slice(&[0x88, 0xF7]);
        f[14..18].copy_from_slice(&[0x00, 0x02, 0x00, 0x2C]);
        f[22..30].copy_from_slice(&corr.to_be_bytes());
        f
    }

    /// Found by the `ptp` fuzz target: −5 ns plus a residence past 2^47 ns
    /// came out as 0x7FFF_FFFF_FFFA_FFFF (i64::MAX added, then the −5 ns),
    /// not as the largest value 1588 reserves for "too big" (§13.3.2.9).
    #[test]
    fn a_residence_too_big_saturates_a_negative_correction_too() {
        let at = PtpAt { offset: 14, len: 44, udp_checksum: None };
        // Past i64 from a negative start; just past 2^47 ns; an ordinary 250 ns.
        for (old, rx, tx) in [(-5i64 << 16, 0u64, u64::MAX), (-5 << 16, 0, 1 << 47), (7 << 16, 100, 350)] {
            let mut f = sync(old);
            let out = TransparentClock::new(TcMode::OneStep).on_egress(&mut f, at, rx, tx);
            assert!(matches!(out, Some(Outcome::Corrected { .. })), "{out:?}");
            let got = i64::from_be_bytes(f[22..30].try_into().unwrap());
            let exact = old as i128 + (((tx - rx) as i128) << 16);
            assert_eq!(got as i128, exact.min(i64::MAX as i128), "{old:#x} + {} ns", tx - rx);
        }
    }
}
