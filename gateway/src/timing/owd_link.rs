//! Where `fhgate run`'s one-way delay initiator (owd_run.rs) meets the
//! pipeline, one pair of halves per measured side:
//! - the **tap**, in the ingress of the direction that receives from the
//!   side: an eCPRI message type 5 addressed to the gateway's own MAC on
//!   that port is copied onto a ring and not forwarded. Every other frame,
//!   message 5 of the DU's and RU's own measurements included, crosses as
//!   before. It runs only for frames classified as eCPRI "other" plane;
//!   U- and C-plane pay one compare;
//! - the **injector**, in the TX stage of the direction that sends to the
//!   side: it sends the frames the initiator queued between bursts,
//!   stamping t1 just before each send, and reports when they left.
//!
//! Rings are SPSC and fixed-size records: nothing allocates, locks or
//! makes a syscall per fronthaul packet; the injector's check is one
//! atomic load per TX loop turn.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ecpri::owd::field::FIXED_LEN;
use rtrb::{Consumer, Producer, RingBuffer};

use super::owd::{stamp, Stamped};
use crate::io::{live::unix_ns, TxPort};

/// Largest message 5 frame the initiator sends (Ethernet, two VLAN tags,
/// eCPRI header, the fixed body; padded to 60).
pub const OUT_MAX: usize = 64;
/// Records each ring holds: more than the answers that can be due at
/// once (256 IDs outstanding, a follow-up each), so a peer that stalls and
/// then answers everything in a burst loses none (64 lost some on the
/// testbed: `ring_full`).
const RING: usize = 512;

/// A message 5 frame for the injector to send.
#[derive(Debug, Clone, Copy)]
pub struct OwdOut {
    /// Frame length.
    pub len: u8,
    /// The frame.
    pub bytes: [u8; OUT_MAX],
}

/// A message 5 the tap took: its body's fixed part, as far as it came.
#[derive(Debug, Clone, Copy)]
pub struct OwdIn {
    /// The port's receive timestamp, Unix ns.
    pub rx_ns: u64,
    /// Body bytes present (ecpriPayload, bounded by the frame), at most [`FIXED_LEN`] kept.
    pub len: u16,
    /// The body's first bytes.
    pub fixed: [u8; FIXED_LEN],
}

impl OwdIn {
    /// The body as far as it was kept: short when the message was.
    pub fn body(&self) -> &[u8] {
        &self.fixed[..usize::from(self.len).min(FIXED_LEN)]
    }
}

/// Counts the tap keeps for the initiator's thread (touched only for
/// messages addressed to the gateway).
#[derive(Debug, Default)]
pub struct TapCounters {
    /// Messages taken.
    pub taken: AtomicU64,
    /// Messages taken that found the ring full (not measured).
    pub ring_full: AtomicU64,
}

/// The ingress half: takes message 5 addressed to `mac`.
pub struct OwdTap {
    mac: [u8; 6],
    answers: Producer<OwdIn>,
    counters: Arc<TapCounters>,
}

impl OwdTap {
    /// Whether `frame` (classified as a message of eCPRI type
    /// `msg_type` at `ecpri_offset`, received at `rx_ns`) is the
    /// gateway's: message 5 to its MAC. Then it is kept for the initiator
    /// and must not be forwarded.
    #[inline]
    pub fn take(&mut self, frame: &[u8], msg_type: u8, ecpri_offset: usize, rx_ns: u64) -> bool {
        if msg_type != ecpri::header::message_type::ONE_WAY_DELAY || frame.get(..6) != Some(&self.mac[..]) {
            return false;
        }
        self.counters.taken.fetch_add(1, Ordering::Relaxed);
        let at = ecpri_offset + ecpri::header::field::HEADER_LEN;
        // classify found the common header whole, so ecpriPayload is readable.
        let size = frame.get(ecpri_offset + 2..at).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
        let body = frame.get(at..).unwrap_or(&[]);
        let len = usize::from(size).min(body.len());
        let mut fixed = [0u8; FIXED_LEN];
        let kept = len.min(FIXED_LEN);
        fixed[..kept].copy_from_slice(&body[..kept]);
        if self.answers.push(OwdIn { rx_ns, len: len as u16, fixed }).is_err() {
            self.counters.ring_full.fetch_add(1, Ordering::Relaxed);
        }
        true
    }

    /// [`take`](Self::take) for a frame classify did not describe (a
    /// message 5 whose header does not decode, addressed to the gateway,
    /// is still its answer: counted as malformed, never forwarded).
    pub fn take_unclassified(&mut self, frame: &[u8], udp_port: Option<u16>, rx_ns: u64) -> bool {
        if frame.get(..6) != Some(&self.mac[..]) {
            return false;
        }
        match ecpri::frame::locate(frame, udp_port) {
            Ok(ecpri::frame::Located { ecpri: Some(r), .. }) => match frame.get(r.start + 1) {
                Some(&t) => self.take(frame, t, r.start, rx_ns),
                None => false,
            },
            _ => false,
        }
    }
}

/// The TX half: sends what the initiator queued.
pub struct OwdInjector {
    out: Consumer<OwdOut>,
    sent: Producer<Stamped>,
    follow: Option<(u8, u64)>,
}

impl OwdInjector {
    /// Sends every queued frame on `port` (and flushes it), each stamped
    /// just before its send; returns how many.
    #[inline]
    pub fn send_pending(&mut self, port: &mut dyn TxPort) -> io::Result<usize> {
        if self.out.is_empty() {
            return Ok(0);
        }
        self.send_queued(port)
    }

    #[cold]
    fn send_queued(&mut self, port: &mut dyn TxPort) -> io::Result<usize> {
        let mut n = 0;
        while let Ok(mut f) = self.out.pop() {
            let now = unix_ns();
            let frame = &mut f.bytes[..usize::from(f.len)];
            if let Some(s) = stamp(frame, now, &mut self.follow) {
                // Pushed before the send, so it is there before any answer can be.
                let _ = self.sent.push(s);
            }
            port.send(frame, now)?;
            n += 1;
        }
        port.flush()?;
        Ok(n)
    }
}

/// The pipeline's halves of one side: `tap` for the direction receiving
/// from it, `inject` for the direction sending to it.
#[derive(Default)]
pub struct OwdLink {
    /// Goes to the ingress of the direction whose RX port is the side's.
    pub tap: Option<OwdTap>,
    /// Goes to the TX stage of the direction whose TX port is the side's.
    pub inject: Option<OwdInjector>,
}

/// The initiator thread's ends of one side's rings.
pub struct InitiatorEnds {
    /// Frames to send.
    pub out: Producer<OwdOut>,
    /// What left, and when.
    pub sent: Consumer<Stamped>,
    /// Messages the tap took.
    pub answers: Consumer<OwdIn>,
    /// The tap's counts.
    pub tap: Arc<TapCounters>,
}

/// The rings of one side whose port has the MAC `mac`.
pub fn link(mac: [u8; 6]) -> (OwdTap, OwdInjector, InitiatorEnds) {
    let (out_p, out_c) = RingBuffer::new(RING);
    let (sent_p, sent_c) = RingBuffer::new(RING);
    let (ans_p, ans_c) = RingBuffer::new(RING);
    let counters = Arc::new(TapCounters::default());
    (
        OwdTap { mac, answers: ans_p, counters: counters.clone() },
        OwdInjector { out: out_c, sent: sent_p, follow: None },
        InitiatorEnds { out: out_p, sent: sent_c, answers: ans_c, tap: counters },
    )
}
