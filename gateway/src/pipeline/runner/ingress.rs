//! The receive half both threadings share: the port and its tap, and per
//! frame its classification, flow, timestamps and ingress counters.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use ecpri::frame::{DecodeConfig, FrameRepr};

use super::{header_flow, ns_since};
use crate::bridge::direction::BridgeRx;
use crate::classify::FlowKey;
use crate::io::{RxPoll, RxPort, TxPort};
use crate::pipeline::stats::{FlowTable, Stats};
use crate::timing::live::IngressTiming;
use crate::timing::owd_link::OwdTap;
use crate::timing::AirTime;
use crate::translate::{Packet, PacketBuf};

/// The receive half both threadings share: the port and its tap, the
/// ingress decoding, and per frame its classification, timestamps and
/// ingress counters.
pub(super) struct Ingress {
    port: Box<dyn RxPort>,
    tap: Option<Box<dyn TxPort>>,
    decode: DecodeConfig,
    port_direction: u8,
    /// Frames received, for progress reports (one relaxed store per burst).
    pub(super) received: Arc<std::sync::atomic::AtomicU64>,
    lens: Vec<usize>,
    times: Vec<u64>,
    t0: Instant,
    /// The passthrough policy and its counters.
    bridge: BridgeRx,
    /// Buffers of frames the policy blocked, given back after the burst.
    spare: Vec<PacketBuf>,
    /// Receive-window classification, when `[timing]` is configured.
    timing: Option<IngressTiming>,
    /// Takes the answers to the gateway's one-way delay requests (`[owd]`).
    owd: Option<OwdTap>,
}

/// What one poll of the port found.
pub(super) enum Polled {
    /// Frames, received at `now` (`arrival` ns after the pipeline's start).
    Frames { now: Instant, arrival: u64 },
    Idle,
    Closed,
}

impl Ingress {
    #[allow(clippy::too_many_arguments, reason = "one call site per threading; a struct would only rename them")]
    pub(super) fn new(
        port: Box<dyn RxPort>,
        tap: Option<Box<dyn TxPort>>,
        decode: DecodeConfig,
        port_direction: u8,
        burst: usize,
        t0: Instant,
        bridge: BridgeRx,
        timing: Option<IngressTiming>,
        owd: Option<OwdTap>,
    ) -> Self {
        let received = Arc::new(std::sync::atomic::AtomicU64::new(0));
        Ingress { port, tap, decode, port_direction, received, lens: vec![0; burst], times: vec![0; burst], t0, bridge, spare: Vec::with_capacity(burst), timing, owd }
    }

    /// Sleeps in the port until a frame may be there, at most `timeout`;
    /// false when the port cannot wait.
    pub(super) fn wait(&mut self, timeout: std::time::Duration) -> std::io::Result<bool> {
        self.port.wait(timeout)
    }

    /// The UDP port ingress finds eCPRI on, if it runs over UDP.
    pub(super) fn udp_port(&self) -> Option<u16> {
        self.decode.udp_port
    }

    /// Receives into the front of `bufs` (the rest stay for the next call)
    /// and hands each frame to `each` as a classified, timestamped packet
    /// with its flow, counted in `flows` when it belongs to one (malformed
    /// frames by the flow their headers name) and in `stats` when it did
    /// not classify (not eCPRI, or malformed). Frames the passthrough
    /// policy blocks, and one-way delay messages addressed to the gateway
    /// (which `owd` takes), are counted and their buffers go back into `bufs`.
    #[inline]
    pub(super) fn poll(&mut self, bufs: &mut Vec<PacketBuf>, flows: &mut FlowTable, stats: &mut Stats, mut each: impl FnMut(Packet, Option<FlowKey>)) -> Result<Polled> {
        let k = bufs.len().min(self.lens.len());
        let n = match self.port.recv(&mut bufs[..k], &mut self.lens[..k], &mut self.times[..k])? {
            RxPoll::Frames(n) => n,
            RxPoll::Idle => return Ok(Polled::Idle),
            RxPoll::Closed => return Ok(Polled::Closed),
        };
        // The only writer: a load and a store, no locked instruction
        // (which would wait here for the copies' stores to drain).
        self.received.store(self.received.load(Ordering::Relaxed) + n as u64, Ordering::Relaxed);
        if let Some(tap) = &mut self.tap {
            for (i, b) in bufs[..n].iter().enumerate() {
                tap.send(&b.bytes()[..self.lens[i]], self.times[i])?;
            }
            tap.flush()?;
        }
        // One clock read per burst, for the arrival stamp and the publisher.
        let now = Instant::now();
        let arrival = ns_since(self.t0, now);
        for (i, buf) in bufs.drain(..n).enumerate() {
            let mut pkt = Packet::new(buf, self.lens[i], &self.decode, self.port_direction);
            pkt.time_ns = self.times[i];
            pkt.arrival_ns = arrival;
            let flow = match &pkt.desc {
                Some(d) => {
                    if let Some(o) = &mut self.owd {
                        if d.plane() == crate::translate::abi::plane::OTHER && o.take(pkt.data(), d.msg_type(), d.ecpri_offset() as usize, pkt.time_ns) {
                            self.spare.push(pkt.buf);
                            continue;
                        }
                    }
                    let key = FlowKey::of(d);
                    let f = flows.entry(key);
                    f.counters.packets_in += 1;
                    f.counters.bytes_in += pkt.len as u64;
                    let seq = seq_of(&pkt);
                    if let (Some(t), true) = (&self.timing, d.plane() <= 1) {
                        let air = AirTime { frame_id: d.frame_id(), subframe_id: d.subframe_id(), slot_id: d.slot_id(), symbol_id: d.symbol_id() };
                        let repeat = seq.is_some_and(|s| f.seq.is_repeat(s));
                        t.note(&mut f.counters.timing, &mut stats.timing, pkt.time_ns, d.plane() == 0, d.direction(), air, repeat);
                    }
                    if let Some(s) = seq {
                        let (gaps, reord) = f.seq.note(s);
                        f.counters.seq_gaps += gaps;
                        f.counters.seq_reorders += reord as u64;
                    }
                    Some(key)
                }
                None => {
                    let owd = self.owd.as_mut().is_some_and(|o| o.take_unclassified(pkt.data(), self.decode.udp_port, pkt.time_ns));
                    if owd || !self.bridge.admit(pkt.data(), &mut stats.bridge) {
                        self.spare.push(pkt.buf);
                        continue;
                    }
                    count_unclassified(&pkt, &self.decode, stats);
                    let key = header_flow(pkt.data(), self.decode.udp_port, self.port_direction);
                    if let Some(k) = key {
                        let f = flows.entry(k);
                        f.counters.packets_in += 1;
                        f.counters.bytes_in += pkt.len as u64;
                        if let (Some(t), true) = (&self.timing, k.plane <= 1) {
                            t.note_corrupt(&mut f.counters.timing);
                        }
                    }
                    key
                }
            };
            each(pkt, flow);
        }
        bufs.append(&mut self.spare);
        Ok(Polled::Frames { now, arrival })
    }
}

/// ecpriSeqid's sequence ID of the first message, for U- and C-plane.
fn seq_of(p: &Packet) -> Option<u8> {
    let d = p.desc.as_ref()?;
    if d.plane() > 1 {
        return None;
    }
    p.data().get(d.ecpri_offset() as usize + 6).copied()
}

/// Counts a frame classify could not describe: not eCPRI (by ethertype),
/// or malformed eCPRI (by error kind, found by a full decode on this slow path).
fn count_unclassified(p: &Packet, decode: &DecodeConfig, stats: &mut Stats) {
    match ecpri::frame::locate(p.data(), decode.udp_port) {
        Ok(loc) if loc.ecpri.is_none() => *stats.other.entry(loc.ethertype).or_default() += 1,
        Ok(_) => match FrameRepr::parse(p.data(), decode) {
            Err(e) => *stats.malformed.entry((e.kind(), e.field())).or_default() += 1,
            // Decodes, but classify found no U/C-plane flow in it.
            Ok(_) => stats.unknown_flows += 1,
        },
        Err(e) => *stats.malformed.entry((e.kind(), e.field())).or_default() += 1,
    }
}
