//! `fhgate owd --port SPEC`: one-way delay towards a peer with eCPRI
//! message type 5 (timing/owd.rs), as request, request with follow-up or
//! remote request; [`answer`], with which `sink` responds, and the
//! [`Responder`] with which `gen` answers between its sends. Both ends
//! stamp with CLOCK_REALTIME (t1 just before the send, t2 the port's
//! receive stamp), so on one host the delay is the path's own.
//!
//! Exit codes: 0 at least one delay measured, 1 none, 2 usage or I/O.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use serde_json::json;

use ecpri::ethernet::{EthernetFrame, VlanTag};
use fhgate::io::{live, RxPoll, RxPort, TxPort};
use fhgate::packet::PacketBuf;
use fhgate::timing::owd::{body_of, frame, respond, stamp, Initiator, Mode, OwdEvent};
use fhgate::timing::owd_link::{OwdOut, OUT_MAX};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ModeArg {
    Request,
    FollowUp,
    Remote,
}

/// Arguments of `owd`.
#[derive(Args, Debug)]
pub struct OwdArgs {
    /// The port towards the peer: af_xdp:IFACE, af_packet:IFACE.
    #[arg(long, value_name = "SPEC")]
    port: String,
    /// request, follow-up (request with follow-up) or remote (remote request).
    #[arg(long, value_enum, default_value = "request")]
    mode: ModeArg,
    /// Measurements to make.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    count: u32,
    /// Time between measurements, ms.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    interval_ms: u64,
    /// An answer later than this is counted late and not used, ms.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    timeout_ms: u64,
    /// Tag the requests with this VLAN ID, as the side's traffic is.
    #[arg(long, value_parser = clap::value_parser!(u16).range(0..=i64::from(ecpri::ethernet::MAX_VID)))]
    vlan: Option<u16>,
    /// PCP of the VLAN tag (default 7; only with --vlan).
    #[arg(long, requires = "vlan", value_parser = clap::value_parser!(u8).range(0..8))]
    pcp: Option<u8>,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
}

/// The DU emulator's MAC towards the RU's, as gen uses them.
const SRC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0xD0, 0x01];
const DST: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x20, 0x01];
const BURST: usize = 32;

pub fn run(a: OwdArgs) -> Result<ExitCode> {
    let backend = fhgate::config::parse_port_spec(&a.port).map_err(|e| anyhow::anyhow!("{e}"))?;
    let port = live::open(&backend, 1500).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (mut rx, mut tx) = (port.rx, port.tx);
    let mode = match a.mode {
        ModeArg::Request => Mode::Request,
        ModeArg::FollowUp => Mode::FollowUp,
        ModeArg::Remote => Mode::Remote,
    };
    let timeout = Duration::from_millis(a.timeout_ms);
    let tags: Vec<VlanTag> = a.vlan.map(|v| VlanTag::c_tag(v, a.pcp.unwrap_or(7))).into_iter().collect();
    let vids_sent: Vec<u16> = tags.iter().map(|t| t.vid).collect();
    let mut init = Initiator::new(timeout.as_nanos() as u64);
    let mut delays: Vec<i64> = Vec::new();
    let mut bufs: Vec<PacketBuf> = (0..BURST).map(|_| PacketBuf::new()).collect();
    let (mut lens, mut times) = ([0usize; BURST], [0u64; BURST]);
    let start = Instant::now();
    let interval = Duration::from_millis(a.interval_ms);
    for k in 0..=a.count {
        if k < a.count {
            let now = live::unix_ns();
            for m in init.start(mode, now) {
                tx.send(&frame(DST, SRC, &tags, m).context("building a message 5")?, now).context("sending")?;
            }
            tx.flush().context("sending")?;
        }
        // Answers until the next measurement is due (after the last: the timeout).
        let until = start + interval * (k + 1) + if k == a.count { timeout } else { Duration::ZERO };
        while Instant::now() < until {
            match rx.recv(&mut bufs, &mut lens, &mut times).context("receiving")? {
                RxPoll::Frames(n) => {
                    for i in 0..n {
                        let data = &bufs[i].bytes()[..lens[i]];
                        // Only what is addressed to us, on our VLAN, answers us: a
                        // gateway's or another initiator's message 5 on the same
                        // link is not ours, nor is one a switch would not carry.
                        if data.get(..6) != Some(&SRC[..]) || vids(data) != vids_sent {
                            continue;
                        }
                        let Some(body) = body_of(data) else { continue };
                        let (ev, reply) = init.receive(body, times[i]);
                        match ev {
                            OwdEvent::Delay { ns, .. } => delays.push(ns),
                            other => tracing::warn!("one-way delay answer not used: {other:?}"),
                        }
                        if let Some(r) = reply {
                            tx.send(&frame(DST, SRC, &tags, r).context("building a message 5")?, live::unix_ns())?;
                            tx.flush()?;
                        }
                    }
                }
                RxPoll::Idle => std::thread::sleep(Duration::from_micros(50)),
                RxPoll::Closed => break,
            }
        }
    }
    delays.sort_unstable();
    let q = |p: f64| delays.get(((p * delays.len() as f64).ceil() as usize).clamp(1, delays.len().max(1)) - 1).copied();
    let c = init.counters;
    if a.json {
        println!(
            "{}",
            json!({"port": a.port, "mode": format!("{:?}", a.mode).to_lowercase(), "started": c.started, "measured": c.measured,
                   "malformed": c.malformed, "unknown": c.unknown, "wrong_action": c.wrong_action, "late": c.late,
                   "delay_ns": {"min": q(0.0), "p50": q(0.5), "p99": q(0.99), "max": delays.last()}})
        );
    } else {
        println!(
            "owd {}: {} started, {} measured, {} malformed, {} unknown, {} wrong action, {} late; delay ns min {:?} p50 {:?} p99 {:?} max {:?}",
            a.port, c.started, c.measured, c.malformed, c.unknown, c.wrong_action, c.late, q(0.0), q(0.5), q(0.99), delays.last()
        );
    }
    Ok(if c.measured > 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The MAC a responder on `backend` answers from when a request was sent
/// to a group address (broadcast): the port's own, else `fallback`.
pub fn own_mac(backend: &fhgate::config::Backend, fallback: [u8; 6]) -> [u8; 6] {
    use fhgate::config::Backend;
    let iface = match backend {
        Backend::AfXdp(c) => &c.interface,
        Backend::AfPacket(c) => &c.interface,
        _ => return fallback,
    };
    live::hardware_address(iface).unwrap_or(fallback)
}

/// The VLAN IDs of `data`'s tags, outermost first (none if it is not
/// Ethernet).
fn vids(data: &[u8]) -> Vec<u16> {
    EthernetFrame::new_checked(data).map(|e| (0..e.tag_count()).filter_map(|i| e.tag(i)).map(|t| t.vid).collect()).unwrap_or_default()
}

/// The responder's frames answering `data` (received at `rx_ns`) when it
/// is a message 5 the responder answers: back to the sender, from the
/// address it was sent to (from `own` when that was a group address),
/// with the request's VLAN tags (the sender's VLAN is the way back); or
/// the field and offset of a message 5 that does not decode.
fn answers(data: &[u8], rx_ns: u64, own: [u8; 6]) -> Result<std::result::Result<Vec<Vec<u8>>, (&'static str, usize)>> {
    let Some(body) = body_of(data) else { return Ok(Ok(Vec::new())) };
    let msgs = match respond(body, rx_ns, live::unix_ns()) {
        Ok(m) => m,
        Err(e) => return Ok(Err(e)),
    };
    let dst: [u8; 6] = data[6..12].try_into().expect("an Ethernet header");
    let src: [u8; 6] = if data[0] & 1 == 1 { own } else { data[0..6].try_into().expect("an Ethernet header") };
    let eth = EthernetFrame::new_checked(data).context("an Ethernet header")?;
    let tags: Vec<VlanTag> = (0..eth.tag_count()).filter_map(|i| eth.tag(i)).collect();
    Ok(Ok(msgs.into_iter().map(|m| frame(dst, src, &tags, m).context("building a message 5")).collect::<Result<_>>()?))
}

/// Answers `data` (received at `rx_ns`) on `tx` when it is a message 5
/// the responder answers (see [`answers`]); returns how many messages it
/// sent, or the field and offset of a message 5 that does not decode.
pub fn answer(data: &[u8], rx_ns: u64, tx: &mut dyn TxPort, own: [u8; 6]) -> Result<std::result::Result<usize, (&'static str, usize)>> {
    let frames = match answers(data, rx_ns, own)? {
        Ok(f) => f,
        Err(e) => return Ok(Err(e)),
    };
    let mut follow = None;
    for mut f in frames.iter().cloned() {
        let now = live::unix_ns();
        stamp(&mut f, now, &mut follow);
        tx.send(&f, now).context("answering a one-way delay message")?;
    }
    if !frames.is_empty() {
        tx.flush().context("answering a one-way delay message")?;
    }
    Ok(Ok(frames.len()))
}

/// What a [`Responder`] counted.
#[derive(Debug, Default)]
pub struct ResponderCounts {
    /// Messages sent in answer (counted when sent: an answer still
    /// waiting for the sender's next frame when it stops was never sent).
    pub answered: AtomicU64,
    /// Message 5 that did not decode.
    pub malformed: AtomicU64,
}

/// A responder for a sender that owns its port's transmit half (`gen`):
/// a thread receives, and its answers wait on a ring that the sender's
/// [`AnsweringTx`] sends between its own frames.
pub struct Responder {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// What it counted.
    pub counts: Arc<ResponderCounts>,
}

impl Responder {
    /// Starts answering what arrives on `rx`; `tx` becomes the sender's
    /// port, which sends the answers too.
    pub fn start(mut rx: Box<dyn RxPort>, tx: Box<dyn TxPort>, own: [u8; 6]) -> Result<(Responder, AnsweringTx)> {
        let (mut ring, queued) = rtrb::RingBuffer::<OwdOut>::new(256);
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(ResponderCounts::default());
        let (st, c) = (stop.clone(), counts.clone());
        let thread = std::thread::Builder::new().name("fhgate-owd-responder".into()).spawn(move || {
            let mut bufs: Vec<PacketBuf> = (0..BURST).map(|_| PacketBuf::new()).collect();
            let (mut lens, mut times) = ([0usize; BURST], [0u64; BURST]);
            while !st.load(Ordering::Relaxed) {
                match rx.recv(&mut bufs, &mut lens, &mut times) {
                    Ok(RxPoll::Frames(n)) => {
                        for i in 0..n {
                            match answers(&bufs[i].bytes()[..lens[i]], times[i], own) {
                                Ok(Ok(frames)) => {
                                    for f in frames.iter().filter(|f| f.len() <= OUT_MAX) {
                                        let mut out = OwdOut { len: f.len() as u8, bytes: [0; OUT_MAX] };
                                        out.bytes[..f.len()].copy_from_slice(f);
                                        // A full ring (the sender stalled) loses the answer: the peer counts it unanswered.
                                        let _ = ring.push(out);
                                    }
                                }
                                Ok(Err((field, at))) => {
                                    c.malformed.fetch_add(1, Ordering::Relaxed);
                                    tracing::warn!("one-way delay message not answered: {field} at byte {at} of its body");
                                }
                                Err(e) => tracing::warn!("one-way delay message not answered: {e:#}"),
                            }
                        }
                    }
                    Ok(RxPoll::Idle) => std::thread::sleep(Duration::from_micros(100)),
                    Ok(RxPoll::Closed) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        tracing::warn!("one-way delay responder: receiving: {e}; no further answers");
                        break;
                    }
                }
            }
        })?;
        Ok((Responder { stop, thread: Some(thread), counts: counts.clone() }, AnsweringTx { inner: tx, answers: queued, follow: None, counts }))
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A transmit half that sends a [`Responder`]'s answers before each of
/// its own frames, each stamped just before its send (a Request answering
/// a Remote Request carries its real t1).
pub struct AnsweringTx {
    inner: Box<dyn TxPort>,
    answers: rtrb::Consumer<OwdOut>,
    follow: Option<(u8, u64)>,
    counts: Arc<ResponderCounts>,
}

impl AnsweringTx {
    fn drain(&mut self) -> std::io::Result<()> {
        while let Ok(mut a) = self.answers.pop() {
            let now = live::unix_ns();
            let f = &mut a.bytes[..usize::from(a.len)];
            stamp(f, now, &mut self.follow);
            self.inner.send(f, now)?;
            self.counts.answered.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

impl TxPort for AnsweringTx {
    fn send(&mut self, frame: &[u8], time_ns: u64) -> std::io::Result<()> {
        self.drain()?;
        self.inner.send(frame, time_ns)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.drain()?;
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fhgate::io::memory::{MemoryRx, MemoryTx};

    /// gen's responder counts an answer when it leaves with gen's next
    /// frame, not when it is queued: one still waiting when gen stops was
    /// never sent (it counted 6 answered where the gateway got 2 in time).
    #[test]
    fn gen_counts_an_answer_when_it_is_sent() {
        let gw = [2, 0, 0, 0, 0x99, 1];
        let own = [2, 0, 0, 0, 0xD0, 1];
        let req = ecpri::owd::OwdRepr { measurement_id: 3, action_type: ecpri::owd::ActionType::Request.to_u8(), seconds: 0, nanoseconds: 0, compensation: 0, dummy: &[] };
        let frame = frame([0xFF; 6], gw, &[], req).unwrap();
        let tx = MemoryTx::new().keep_first(4);
        let wire = tx.shared();
        let (r, mut atx) = Responder::start(Box::new(MemoryRx::new(vec![frame].into(), 1)), Box::new(tx), own).unwrap();
        let t = Instant::now();
        while atx.answers.slots() == 0 {
            assert!(t.elapsed() < Duration::from_secs(10), "the responder queued no answer");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(r.counts.answered.load(Ordering::Relaxed), 0, "queued, not yet sent");
        atx.flush().unwrap();
        assert_eq!(r.counts.answered.load(Ordering::Relaxed), 1);
        drop(atx); // the memory port hands over what it kept when dropped
        let sent = wire.kept();
        assert_eq!(sent.len(), 1);
        // Back to the gateway, from gen's own MAC (the request was broadcast), a Response.
        assert_eq!((&sent[0][0..6], &sent[0][6..12]), (&gw[..], &own[..]));
        assert_eq!(ecpri::owd::OwdRepr::parse(body_of(&sent[0]).unwrap()).unwrap().action_type, ecpri::owd::ActionType::Response.to_u8());
    }

    /// A request that came tagged is answered on the same VLAN: an
    /// untagged answer never reaches a tagged initiator on a site.
    #[test]
    fn answers_carry_the_request_s_vlan_tags() {
        let (gw, own) = ([2, 0, 0, 0, 0x99, 1], [2, 0, 0, 0, 0xD0, 1]);
        let req = |a: ecpri::owd::ActionType| ecpri::owd::OwdRepr { measurement_id: 9, action_type: a.to_u8(), seconds: 0, nanoseconds: 0, compensation: 0, dummy: &[] };
        let qinq = [VlanTag { tpid: 0x88A8, pcp: 3, dei: false, vid: 100 }, VlanTag::c_tag(21, 7)];
        for tags in [&[][..], &qinq[..1], &qinq[1..], &qinq[..]] {
            for (action, n) in [(ecpri::owd::ActionType::Request, 1), (ecpri::owd::ActionType::RemoteRequestWithFollowUp, 2)] {
                let data = frame(own, gw, tags, req(action)).unwrap();
                let out = answers(&data, 1_000, own).unwrap().unwrap();
                assert_eq!(out.len(), n, "{action:?} with {} tags", tags.len());
                for f in &out {
                    // The tags by hand: TPID, then PCP/DEI/VID, 4 bytes each after the MACs.
                    let mut at = 12;
                    for t in tags {
                        assert_eq!(u16::from_be_bytes([f[at], f[at + 1]]), t.tpid);
                        let tci = u16::from_be_bytes([f[at + 2], f[at + 3]]);
                        assert_eq!((tci >> 13, tci & 0x0FFF), (t.pcp as u16, t.vid), "{action:?} with {} tags", tags.len());
                        at += 4;
                    }
                    assert_eq!(u16::from_be_bytes([f[at], f[at + 1]]), 0xAEFE, "eCPRI after the {} tags", tags.len());
                    assert_eq!((&f[0..6], &f[6..12]), (&gw[..], &own[..]));
                }
            }
        }
    }
}
