//! One-way delay measurement, eCPRI message type 5 (eCPRI 2.0 §3.2.4.6),
//! both roles:
//! - the **initiator** sends a Request (t1 in it), a Request with
//!   follow-up (t1 in the Follow_Up after it) or a Remote Request (the
//!   peer then sends a Request, whose t1 and our receive time give the
//!   delay); a Response's t2 gives delay = (t2 − tCV2) − (t1 + tCV1);
//! - the **responder** (`fhgate sink`) answers a Request with a Response
//!   carrying its receive time, and a Remote Request with a Request.
//!
//! An answer that does not decode, names no outstanding measurement,
//! has the wrong action or comes after the timeout is counted and never
//! turned into a delay. Timestamps are Unix ns (CLOCK_REALTIME).

use ecpri::ethernet::{EthernetRepr, VlanTag, ETHERTYPE_ECPRI};
use ecpri::frame::{Body, FrameRepr, MessageRepr, Payload};
use ecpri::header::{message_type, HeaderRepr};
use ecpri::owd::{ActionType, OwdRepr};

/// How a measurement is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Request, answered by a Response.
    Request,
    /// Request with follow-up, then Follow_Up with t1; answered by a Response.
    FollowUp,
    /// Remote Request: the peer sends a Request, which carries its t1.
    Remote,
}

/// An outcome the initiator counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwdEvent {
    /// A delay measured, ns.
    Delay {
        /// Measurement ID.
        id: u8,
        /// One-way delay, ns (towards the peer for Request and follow-up,
        /// from it for Remote).
        ns: i64,
    },
    /// A message 5 that does not decode: the field and its offset.
    Malformed(&'static str, usize),
    /// An answer with no outstanding measurement of its ID.
    Unknown(u8),
    /// An answer whose action does not fit the measurement.
    WrongAction(u8),
    /// An answer after the timeout.
    Late(u8),
}

/// The initiator's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwdCounters {
    /// Measurements started.
    pub started: u64,
    /// Delays measured.
    pub measured: u64,
    /// Answers that did not decode.
    pub malformed: u64,
    /// Answers naming no outstanding measurement.
    pub unknown: u64,
    /// Answers with the wrong action.
    pub wrong_action: u64,
    /// Answers after the timeout.
    pub late: u64,
    /// Measurements with no answer within the timeout (counted by
    /// [`Initiator::expire`]; an answer that still comes is also `late`).
    pub unanswered: u64,
}

#[derive(Debug, Clone, Copy)]
struct Outstanding {
    mode: Mode,
    /// t1 + tCV1, ns (Request and follow-up).
    t1_ns: i128,
    /// When it was started, for the timeout.
    started_ns: u64,
    /// Counted unanswered by [`Initiator::expire`]; an answer is late.
    expired: bool,
}

/// The initiator of one side: outstanding measurements by ID.
#[derive(Debug, Clone)]
pub struct Initiator {
    outstanding: [Option<Outstanding>; 256],
    next_id: u8,
    timeout_ns: u64,
    /// What it counted.
    pub counters: OwdCounters,
}

/// Splits Unix ns into eCPRI's (seconds, nanoseconds).
fn split_ns(t: u64) -> (u64, u32) {
    (t / 1_000_000_000, (t % 1_000_000_000) as u32)
}

fn owd(id: u8, action: ActionType, t_ns: u64) -> OwdRepr<'static> {
    let (seconds, nanoseconds) = if action.zero_timestamp() { (0, 0) } else { split_ns(t_ns) };
    OwdRepr { measurement_id: id, action_type: action.to_u8(), seconds, nanoseconds, compensation: 0, dummy: &[] }
}

impl Initiator {
    /// An initiator whose answers count as late after `timeout_ns`.
    pub fn new(timeout_ns: u64) -> Self {
        Initiator { outstanding: [None; 256], next_id: 0, timeout_ns, counters: OwdCounters::default() }
    }

    /// Starts a measurement at `now_ns` (the transmit time, as t1): the
    /// message bodies to send, in order.
    pub fn start(&mut self, mode: Mode, now_ns: u64) -> Vec<OwdRepr<'static>> {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.counters.started += 1;
        self.outstanding[id as usize] = Some(Outstanding { mode, t1_ns: now_ns as i128, started_ns: now_ns, expired: false });
        match mode {
            Mode::Request => vec![owd(id, ActionType::Request, now_ns)],
            Mode::FollowUp => vec![owd(id, ActionType::RequestWithFollowUp, now_ns), owd(id, ActionType::FollowUp, now_ns)],
            Mode::Remote => vec![owd(id, ActionType::RemoteRequest, now_ns)],
        }
    }

    /// Corrects measurement `id`'s start to `t_ns`, the time its first
    /// message really left (stamped just before the send, see [`stamp`]):
    /// t1 for a Request or a Request with follow-up, and the timeout's start.
    pub fn sent(&mut self, id: u8, t_ns: u64) {
        if let Some(o) = &mut self.outstanding[id as usize] {
            if !o.expired {
                o.t1_ns = t_ns as i128;
                o.started_ns = t_ns;
            }
        }
    }

    /// Measurements waiting for an answer within their timeout.
    pub fn outstanding(&self) -> usize {
        self.outstanding.iter().flatten().filter(|o| !o.expired).count()
    }

    /// Counts every measurement older than the timeout at `now_ns` as
    /// unanswered (once); an answer that comes after is late.
    pub fn expire(&mut self, now_ns: u64) {
        for o in self.outstanding.iter_mut().flatten() {
            if !o.expired && now_ns.saturating_sub(o.started_ns) > self.timeout_ns {
                o.expired = true;
                self.counters.unanswered += 1;
            }
        }
    }

    /// Takes a message 5 body received at `rx_ns`: what it was, and for a
    /// Request the peer sent after our Remote Request, the Response to send.
    pub fn receive(&mut self, body: &[u8], rx_ns: u64) -> (OwdEvent, Option<OwdRepr<'static>>) {
        let r = match OwdRepr::parse(body) {
            Ok(r) => r,
            Err(e) => {
                self.counters.malformed += 1;
                return (OwdEvent::Malformed(e.field(), e.offset().unwrap_or(0)), None);
            }
        };
        let id = r.measurement_id;
        let Some(o) = self.outstanding[id as usize] else {
            self.counters.unknown += 1;
            return (OwdEvent::Unknown(id), None);
        };
        let action = r.action().expect("parse refuses reserved actions");
        let fits = matches!((o.mode, action), (Mode::Request | Mode::FollowUp, ActionType::Response) | (Mode::Remote, ActionType::Request));
        if !fits {
            self.counters.wrong_action += 1;
            return (OwdEvent::WrongAction(r.action_type), None);
        }
        self.outstanding[id as usize] = None;
        if o.expired || rx_ns.saturating_sub(o.started_ns) > self.timeout_ns {
            self.counters.late += 1;
            return (OwdEvent::Late(id), None);
        }
        let comp = (r.compensation >> 16) as i128;
        let (ns, answer) = match o.mode {
            // Response: t2 − tCV2 − (t1 + tCV1).
            Mode::Request | Mode::FollowUp => (r.timestamp_ns() as i128 - comp - o.t1_ns, None),
            // The peer's Request: our receive time − (t1 + tCV1); answered as a responder would.
            Mode::Remote => (rx_ns as i128 - (r.timestamp_ns() as i128 + comp), Some(owd(id, ActionType::Response, rx_ns))),
        };
        self.counters.measured += 1;
        (OwdEvent::Delay { id, ns: ns as i64 }, answer)
    }
}

/// The responder's answer to a message 5 body received at `rx_ns`
/// (bodies to send back; none for a Follow_Up or a Response), or the
/// field and offset of what does not decode.
pub fn respond(body: &[u8], rx_ns: u64, now_ns: u64) -> Result<Vec<OwdRepr<'static>>, (&'static str, usize)> {
    let r = OwdRepr::parse(body).map_err(|e| (e.field(), e.offset().unwrap_or(0)))?;
    let id = r.measurement_id;
    Ok(match r.action().expect("parse refuses reserved actions") {
        ActionType::Request | ActionType::RequestWithFollowUp => vec![owd(id, ActionType::Response, rx_ns)],
        ActionType::RemoteRequest => vec![owd(id, ActionType::Request, now_ns)],
        ActionType::RemoteRequestWithFollowUp => vec![owd(id, ActionType::RequestWithFollowUp, now_ns), owd(id, ActionType::FollowUp, now_ns)],
        ActionType::Response | ActionType::FollowUp => Vec::new(),
    })
}

/// An Ethernet frame (eCPRI ethertype, VLAN tags `tags` outermost first)
/// carrying `m`, padded to 60 bytes.
pub fn frame(dst: [u8; 6], src: [u8; 6], tags: &[VlanTag], m: OwdRepr<'_>) -> ecpri::Result<Vec<u8>> {
    let mut eth = EthernetRepr::new(dst, src, ETHERTYPE_ECPRI);
    for &t in tags {
        eth.push_tag(t)?;
    }
    let msg = MessageRepr { header: HeaderRepr::new(message_type::ONE_WAY_DELAY, 0), body: Body::OneWayDelay(m), padding: &[] };
    let mut f = FrameRepr { eth, transport: None, payload: Payload::Ecpri(vec![msg]), trailer: &[] };
    f.finalize()?;
    let mut out = f.to_bytes()?;
    if out.len() < 60 {
        out.resize(60, 0);
    }
    Ok(out)
}

/// The message 5 body of `frame`, if it is one (eCPRI over Ethernet).
pub fn body_of(frame: &[u8]) -> Option<&[u8]> {
    body_range(frame).map(|r| &frame[r])
}

/// Where the message 5 body of `frame` is, if it is one (eCPRI over Ethernet).
pub fn body_range(frame: &[u8]) -> Option<core::ops::Range<usize>> {
    let loc = ecpri::frame::locate(frame, None).ok()?;
    let range = loc.ecpri?;
    let (at, msg) = ecpri::frame::MessageIter::new(frame.get(range.clone())?).next()?.ok()?;
    let start = range.start + at.start + ecpri::header::field::HEADER_LEN;
    (msg.message_type() == message_type::ONE_WAY_DELAY).then(|| start..start + msg.payload_size() as usize)
}

/// A message 5 that left, as [`stamp`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamped {
    /// Measurement ID.
    pub id: u8,
    /// Its action.
    pub action: ActionType,
    /// When it left (the clock read just before the send), Unix ns.
    pub t_ns: u64,
}

/// Stamps the message 5 in `frame`, about to be sent at `now_ns`, where
/// its action carries the transmit time: a Request gets t1 = `now_ns`; a
/// Follow_Up the send time of the Request with follow-up of its ID before
/// it (`follow` remembers it). Returns what an initiator needs to know of
/// a message that starts a measurement (Request, Request with follow-up,
/// Remote Request); a Response already carries its receive time.
pub fn stamp(frame: &mut [u8], now_ns: u64, follow: &mut Option<(u8, u64)>) -> Option<Stamped> {
    let r = body_range(frame)?;
    let mut p = ecpri::owd::OwdPacket::new_checked(&mut frame[r]).ok()?;
    let (id, action) = (p.measurement_id(), ActionType::from_u8(p.action_type())?);
    let set = |p: &mut ecpri::owd::OwdPacket<&mut [u8]>, t: u64| {
        let (s, ns) = split_ns(t);
        p.set_seconds(s);
        p.set_nanoseconds(ns);
    };
    match action {
        ActionType::Request => set(&mut p, now_ns),
        ActionType::RequestWithFollowUp => *follow = Some((id, now_ns)),
        ActionType::FollowUp => {
            if let Some((fid, t)) = *follow {
                if fid == id {
                    set(&mut p, t);
                }
            }
            return None;
        }
        ActionType::RemoteRequest | ActionType::RemoteRequestWithFollowUp => {}
        ActionType::Response => return None,
    }
    Some(Stamped { id, action, t_ns: now_ns })
}

#[cfg(test)]
#[path = "owd_tests.rs"]
mod tests;
