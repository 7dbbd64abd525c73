//! One trial: the transmit thread sends the pool at a rate for a warm-up
//! and a measured part; the receiving thread (the caller's) matches each
//! frame that comes back to the time it was sent and counts it per flow.
//!
//! Every trial is bounded in time: the transmitter stops at 1.5 × its
//! planned length (+0.5 s) however slow the port, and the receiver at the
//! end of sending plus the drain time, or earlier once every measured
//! frame is in.
//!
//! Timestamps: the send time is CLOCK_REALTIME read just before a frame
//! is queued on the port; the receive time is the port's (AF_PACKET: the
//! kernel's software receive timestamp; AF_XDP and UDP: CLOCK_REALTIME
//! when the frame is taken off the ring). Both ends are in this process,
//! so they share one clock.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ecpri::frame::{Body, DecodeConfig, FrameRepr};
use ecpri::iq::Rounding;
use ecpri::UdCompHdr;
use fhgate::io::live::unix_ns;
use fhgate::io::port_stats::PortEvent;
use fhgate::io::{RxPoll, RxPort, TxPort};
use fhgate::traffic::{reference_prb, SignalLevel, SlotTime};
use fhgate::packet::PacketBuf;

use super::lanes::LaneCounters;
use super::pool::{key_of, FlowKey, Pool, LAPS, RADIO_FRAMES};
use super::report;
use super::stats::FlowStats;

/// The received bit of a table entry.
const RECEIVED: u64 = 1 << 63;
/// The send time bits of a table entry: ns since the bench's epoch, + 1.
const TIME: u64 = (1 << 48) - 1;
/// Frames per send or receive call.
pub const BURST: usize = 32;

/// How to run a trial.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Frames per second, `None` flat out.
    pub rate: Option<f64>,
    /// Traffic before the measured part.
    pub warmup: Duration,
    /// The measured part.
    pub duration: Duration,
    /// How long the receiver waits for stragglers after the last frame.
    pub drain: Duration,
    /// After the trial, how long at most to wait for the device to go
    /// quiet (no frame for [`QUIET`]), so a backlog never spills into
    /// the next trial.
    pub settle: Duration,
}

/// How long without a frame counts as quiet.
const QUIET: Duration = Duration::from_millis(50);

/// The signal gen put in the IQ, to measure EVM against.
#[derive(Debug, Clone, Copy)]
pub struct Reference {
    /// Its level.
    pub level: SignalLevel,
    /// The compression it was sent with.
    pub comp: UdCompHdr,
    /// Its BFP rounding.
    pub rounding: Rounding,
}

/// Both ends of the measured path, and their counters.
pub struct Ports {
    /// Where bench sends.
    pub tx: Box<dyn TxPort>,
    /// Where bench receives.
    pub rx: Box<dyn RxPort>,
    /// The transmit halves' counters (their own drops), over every lane.
    pub tx_counters: LaneCounters,
    /// The receive halves' counters (kernel and ring drops), over every lane.
    pub rx_counters: LaneCounters,
}

/// The state that lives across trials.
pub struct Engine {
    /// What is sent.
    pub pool: Pool,
    /// Per pool frame and lap (mod [`LAPS`]): send time, seqId and whether it came back.
    pub(super) table: Vec<AtomicU64>,
    /// CLOCK_REALTIME the table's send times count from (the tx side's).
    pub epoch_ns: u64,
    /// Where sending resumes: lap and position in the pool.
    pub(super) lap: u64,
    pub(super) pos: usize,
    /// How far, at most, the send clock may be ahead of the receive clock,
    /// ns: 0 on one clock; across hosts, the control channel's bound. A
    /// frame received "before" its send by less than this is that send
    /// (latency 0, `before_sent`); by more, it cannot be: it is a whole
    /// frameId window late (`aliased`).
    pub clock_ahead_ns: u64,
    /// How received frames are decoded.
    pub rx_cfg: DecodeConfig,
    /// What IQ is checked against.
    pub reference: Reference,
    /// IQ is checked on one U-plane frame in this many.
    pub iq_every: u32,
    /// Loss tolerated, as a ratio.
    pub tolerance: f64,
}

/// What the transmit thread did (sent over the control channel in
/// cross-host runs).
#[derive(Default, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Sent {
    /// Measured frames per flow.
    pub per_flow: Vec<u64>,
    /// Warm-up frames.
    pub warmup: u64,
    /// Measured frames.
    pub measured: u64,
    /// Frames the tx port dropped (not offered).
    pub tx_dropped: u64,
    /// Seconds of the measured part.
    pub seconds: f64,
}

/// A received frame matched to its place in the send table, before its
/// send time is known (cross-host runs learn it after the trial).
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    /// Index into the table: lap (mod [`LAPS`]) × pool frames + position.
    pub idx: u32,
    /// Its seqId.
    pub seq: u8,
    /// When it arrived, on this host's CLOCK_REALTIME.
    pub rx_ns: u64,
}

/// Where a trial's sending started and what it counted, for
/// [`Engine::summarize`].
pub struct Outcome {
    /// What was sent.
    pub sent: Sent,
    /// Per-flow counts.
    pub flows: Vec<FlowStats>,
    /// Counts that belong to no flow.
    pub totals: FlowStats,
    /// Frames of the trial that came after the drain time.
    pub late: u64,
    /// Frames the rx port itself dropped.
    pub rx_port_drops: u64,
}

impl Engine {
    /// Ready to send `pool`.
    pub fn new(pool: Pool, rx_cfg: DecodeConfig, reference: Reference, iq_every: u32, tolerance: f64) -> Engine {
        let table = (0..pool.frames.len() * LAPS as usize).map(|_| AtomicU64::new(0)).collect();
        Engine { pool, table, epoch_ns: unix_ns(), lap: 0, pos: 0, clock_ahead_ns: 0, rx_cfg, reference, iq_every: iq_every.max(1), tolerance }
    }

    /// Runs one trial of `plan` through `ports`.
    pub fn trial(&mut self, ports: &mut Ports, plan: Plan, kind: &str) -> report::Trial {
        let trial_start = unix_ns();
        let measure_start = AtomicU64::new(u64::MAX);
        let done = AtomicBool::new(false);
        let offered = AtomicU64::new(0);
        let rx_drops0 = ports.rx_counters.rx_drops();
        let mut flows: Vec<FlowStats> = self.pool.flows.iter().map(|_| FlowStats::default()).collect();
        let mut totals = FlowStats::default();
        let (tx, rx, txc) = (&mut ports.tx, &mut ports.rx, &ports.tx_counters);
        let (mut lap, mut pos) = (self.lap, self.pos);
        let this = &*self;
        let sent = std::thread::scope(|s| {
            let sender = s.spawn(|| {
                let r = this.transmit(tx.as_mut(), txc, plan, &mut lap, &mut pos, &measure_start, None);
                offered.store(r.measured, Ordering::Release);
                done.store(true, Ordering::Release);
                r
            });
            this.receive(rx.as_mut(), plan, trial_start, &measure_start, &done, &offered, &mut flows, &mut totals);
            sender.join().unwrap_or_default()
        });
        (self.lap, self.pos) = (lap, pos);
        let late = settle(ports.rx.as_mut(), plan.settle);
        let rx_port_drops = ports.rx_counters.rx_drops().saturating_sub(rx_drops0);
        self.summarize(Outcome { sent, flows, totals, late, rx_port_drops }, plan, kind)
    }

    /// The trial's report from what was sent and counted.
    pub fn summarize(&self, o: Outcome, plan: Plan, kind: &str) -> report::Trial {
        let Outcome { sent, mut flows, totals, late, rx_port_drops } = o;
        for (f, &n) in flows.iter_mut().zip(&sent.per_flow) {
            f.sent = n;
        }
        let flows_out: Vec<report::Flow> = self.pool.flows.iter().zip(&flows).map(|(k, f)| f.to_report(k, k.plane == "U")).collect();
        let mut all = FlowStats::default();
        for f in &flows {
            all.merge(f);
        }
        all.malformed += totals.malformed;
        all.unmatched += totals.unmatched;
        let received = all.received;
        let lost = sent.measured.saturating_sub(received);
        let loss_ratio = if sent.measured > 0 { lost as f64 / sent.measured as f64 } else { 1.0 };
        let (latency, latency_cdf, latency_histogram) = all.latency_report();
        let offered_fps = if sent.seconds > 0.0 { sent.measured as f64 / sent.seconds } else { 0.0 };
        let window = self.frame_id_window(offered_fps);
        let aliased = all.aliased + totals.aliased;
        // Across hosts the latency is only known to within the clocks'
        // bound: the tail may be that much nearer half the window.
        let lap_ambiguous = aliased > 0 || latency.as_ref().is_some_and(|l| l.max_ns + self.clock_ahead_ns as f64 > window * 1e9 / 2.0);
        report::Trial {
            kind: kind.to_string(),
            percent: None,
            target_fps: plan.rate,
            offered_fps,
            sent: sent.measured,
            received,
            lost,
            loss_ratio,
            pass: sent.measured > 0 && loss_ratio <= self.tolerance,
            duplicates: all.duplicates,
            reordered: all.reordered,
            seq_gaps: all.seq.gaps,
            malformed: all.malformed,
            unmatched: all.unmatched,
            stale: totals.stale,
            before_sent: all.before_sent,
            aliased,
            frame_id_window_s: window,
            lap_ambiguous,
            late,
            tx_dropped: sent.tx_dropped,
            rx_port_drops,
            warmup_sent: sent.warmup,
            seconds: sent.seconds,
            latency,
            latency_cdf,
            latency_histogram,
            flows: flows_out,
        }
    }

    /// Seconds until frameId repeats at `fps`: [`LAPS`] laps of the pool
    /// (infinite when nothing was offered).
    pub fn frame_id_window(&self, fps: f64) -> f64 {
        if fps > 0.0 {
            LAPS as f64 * self.pool.frames.len() as f64 / fps
        } else {
            f64::INFINITY
        }
    }

    /// Sends the warm-up and the measured part, paced burst by burst.
    /// With `log`, every frame's table entry (0: the port dropped it) is
    /// also pushed in sending order, for a receiver on another host.
    #[allow(clippy::too_many_arguments)]
    pub fn transmit(&self, tx: &mut dyn TxPort, counters: &LaneCounters, plan: Plan, lap: &mut u64, pos: &mut usize, measure_start: &AtomicU64, mut log: Option<&mut Vec<u64>>) -> Sent {
        let n = self.pool.frames.len();
        let mut s = Sent { per_flow: vec![0; self.pool.flows.len()], ..Sent::default() };
        let total = plan.warmup + plan.duration;
        let hard_stop = total.mul_f64(1.5) + Duration::from_millis(500);
        let (warm_n, meas_n) = match plan.rate {
            Some(r) => ((r * plan.warmup.as_secs_f64()).round() as u64, (r * plan.duration.as_secs_f64()).round().max(1.0) as u64),
            None => (u64::MAX, u64::MAX),
        };
        let t0 = Instant::now();
        let mut measuring = false;
        let mut t_meas = t0;
        let mut i: u64 = 0;
        let mut dropped_before = counters.get(PortEvent::DropRingFull);
        let mut patch: Vec<u8> = Vec::with_capacity(self.pool.frames.iter().map(|f| f.data.len()).max().unwrap_or(0));
        loop {
            let el = t0.elapsed();
            if el >= hard_stop || fhgate::signals::stop_requested() {
                break;
            }
            if !measuring {
                let warm_over = match plan.rate {
                    Some(_) => i >= warm_n,
                    None => el >= plan.warmup,
                };
                if warm_over {
                    measuring = true;
                    t_meas = Instant::now();
                    measure_start.store(unix_ns() - self.epoch_ns + 1, Ordering::Release);
                }
            }
            if measuring {
                let over = match plan.rate {
                    Some(_) => s.measured >= meas_n,
                    None => t_meas.elapsed() >= plan.duration,
                };
                if over {
                    break;
                }
            }
            if let Some(r) = plan.rate {
                let due = t0 + Duration::from_secs_f64(i as f64 / r);
                let now = Instant::now();
                if now < due {
                    std::thread::sleep(due - now);
                }
            }
            // One burst (never across the warm-up's end or the measured count).
            let room = match (plan.rate, measuring) {
                (Some(_), false) => warm_n - i,
                (Some(_), true) => meas_n - s.measured,
                _ => BURST as u64,
            };
            let burst = room.min(BURST as u64).max(1);
            for _ in 0..burst {
                let f = &self.pool.frames[*pos];
                let seq = f.seq(*lap);
                let slot = (*lap % LAPS) as usize * n + *pos;
                let t = unix_ns();
                let entry = (t - self.epoch_ns + 1) & TIME | (seq as u64) << 48;
                self.table[slot].store(entry, Ordering::Release);
                // The pool's bytes are lap 0's: other laps send a copy with
                // their seqId and frameId (the buffer keeps its capacity).
                let ok = if *lap == 0 {
                    tx.send(&f.data, t).is_ok()
                } else {
                    patch.clear();
                    patch.extend_from_slice(&f.data);
                    patch[f.seq_at] = seq;
                    patch[f.frame_at()] = f.frame_id(*lap);
                    tx.send(&patch, t).is_ok()
                };
                let d = counters.get(PortEvent::DropRingFull);
                if !ok || d != dropped_before {
                    dropped_before = d;
                    s.tx_dropped += 1;
                    self.table[slot].store(0, Ordering::Release);
                    if let Some(l) = log.as_deref_mut() {
                        l.push(0);
                    }
                } else {
                    if let Some(l) = log.as_deref_mut() {
                        l.push(entry);
                    }
                    s.per_flow[f.flow as usize] += measuring as u64;
                    if measuring {
                        s.measured += 1;
                    } else {
                        s.warmup += 1;
                    }
                }
                i += 1;
                *pos += 1;
                if *pos == n {
                    *pos = 0;
                    *lap += 1;
                }
            }
            let _ = tx.flush();
        }
        let _ = tx.flush();
        s.seconds = if measuring { t_meas.elapsed().as_secs_f64() } else { 0.0 };
        s
    }

    /// Receives until every measured frame is in, or the drain time after
    /// the last was sent has passed.
    #[allow(clippy::too_many_arguments)]
    fn receive(
        &self,
        rx: &mut dyn RxPort,
        plan: Plan,
        trial_start: u64,
        measure_start: &AtomicU64,
        done: &AtomicBool,
        offered: &AtomicU64,
        flows: &mut [FlowStats],
        totals: &mut FlowStats,
    ) {
        let mut bufs: Vec<PacketBuf> = (0..BURST).map(|_| PacketBuf::new()).collect();
        let (mut lens, mut times) = ([0usize; BURST], [0u64; BURST]);
        let t0 = Instant::now();
        let hard_stop = (plan.warmup + plan.duration).mul_f64(1.5) + Duration::from_millis(500) + plan.drain;
        let mut tx_end: Option<Instant> = None;
        let mut scratch = Vec::new();
        loop {
            if t0.elapsed() >= hard_stop {
                break;
            }
            if tx_end.is_none() && done.load(Ordering::Acquire) {
                tx_end = Some(Instant::now());
            }
            if let Some(end) = tx_end {
                let all_in = flows.iter().map(|f| f.received).sum::<u64>() >= offered.load(Ordering::Acquire);
                if all_in || end.elapsed() >= plan.drain {
                    break;
                }
            }
            match rx.recv(&mut bufs, &mut lens, &mut times) {
                Ok(RxPoll::Frames(k)) => {
                    let ms = measure_start.load(Ordering::Acquire);
                    for i in 0..k {
                        let data = &bufs[i].bytes()[..lens[i]];
                        self.account(data, times[i], trial_start, ms, flows, totals, &mut scratch);
                    }
                }
                Ok(RxPoll::Idle) => std::thread::sleep(Duration::from_micros(100)),
                Ok(RxPoll::Closed) => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::warn!("bench: receiving: {e}");
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }

    /// Matches one received frame and counts it.
    #[allow(clippy::too_many_arguments)]
    fn account(&self, data: &[u8], rx_ns: u64, trial_start: u64, measure_start: u64, flows: &mut [FlowStats], totals: &mut FlowStats, scratch: &mut Vec<i32>) {
        let Some((a, fr)) = self.arrive(data, rx_ns, flows, totals) else { return };
        if let Some(f) = self.resolve(a, trial_start, measure_start, flows, totals) {
            let st = &mut flows[f];
            // Each flow's first frame and every iq_every-th after it (flows
            // alternate, so a count over all of them would check only some).
            if self.pool.frames[a.idx as usize % self.pool.frames.len()].uplane && (st.received - 1).is_multiple_of(self.iq_every as u64) {
                self.check_iq(&fr, st, scratch);
            }
        }
    }

    /// Decodes a received frame and finds its place in the send table;
    /// counts it as malformed or unmatched when it has none.
    pub fn arrive<'d>(&self, data: &'d [u8], rx_ns: u64, flows: &mut [FlowStats], totals: &mut FlowStats) -> Option<(Arrival, FrameRepr<'d>)> {
        let layout = self.rx_cfg.eaxc;
        let fr = match FrameRepr::parse(data, &self.rx_cfg) {
            Ok(fr) => fr,
            Err(_) => {
                match super::super::raw_flow(data, self.rx_cfg.udp_port).and_then(|(p, d, e, _)| self.flow_index(FlowKey::of(p, d, e, &layout))) {
                    Some(f) => flows[f].malformed += 1,
                    None => totals.malformed += 1,
                }
                return None;
            }
        };
        let Some((key, seq)) = key_of(&fr, &layout) else {
            totals.unmatched += 1;
            return None;
        };
        let Some((pos, lap)) = self.pool.find(&key) else {
            match self.flow_index(key.flow) {
                Some(f) => flows[f].unmatched += 1,
                None => totals.unmatched += 1,
            }
            return None;
        };
        let idx = (lap as usize * self.pool.frames.len() + pos) as u32;
        Some((Arrival { idx, seq, rx_ns }, fr))
    }

    /// Matches an arrival to the send recorded in its table entry and
    /// counts it; returns its flow when it counts as received (measured,
    /// not a duplicate).
    pub fn resolve(&self, a: Arrival, trial_start: u64, measure_start: u64, flows: &mut [FlowStats], totals: &mut FlowStats) -> Option<usize> {
        let idx = a.idx as usize;
        let entry = self.table[idx].load(Ordering::Acquire);
        let send_rel = entry & TIME;
        let send_ns = (self.epoch_ns + send_rel).saturating_sub(1);
        let before = a.rx_ns < send_ns;
        // Before the send now in its slot, by more than the clocks can be
        // apart (on one clock: at all): it cannot be that send.
        let too_early = a.rx_ns.saturating_add(self.clock_ahead_ns) < send_ns;
        if send_rel == 0 || ((entry >> 48) & 0xFF) as u8 != a.seq || send_ns < trial_start || too_early {
            // Sent in an earlier trial, or LAPS laps ago (its seqId differs,
            // or it arrived before the frame now in its place was sent).
            totals.stale += 1;
            // A frame that came before the send now in its slot is a
            // whole window late.
            totals.aliased += (too_early && send_rel != 0 && send_ns >= trial_start) as u64;
            return None;
        }
        let prev = self.table[idx].fetch_or(RECEIVED, Ordering::AcqRel);
        let pos = idx % self.pool.frames.len();
        let lap = (idx / self.pool.frames.len()) as u64;
        let pf = &self.pool.frames[pos];
        let st = &mut flows[pf.flow as usize];
        if prev & RECEIVED != 0 {
            st.duplicates += 1;
            return None;
        }
        if send_rel < measure_start {
            return None; // a warm-up frame
        }
        st.received += 1;
        st.before_sent += before as u64;
        st.seq.add(a.seq);
        st.place(pf.position(lap), LAPS * pf.flow_len as u64);
        st.latency(a.rx_ns.saturating_sub(send_ns));
        Some(pf.flow as usize)
    }

    fn flow_index(&self, k: FlowKey) -> Option<usize> {
        self.pool.flows.iter().position(|f| *f == k)
    }

    /// Measures the IQ of a U-plane frame against gen's signal as its compression carries it.
    pub fn check_iq(&self, fr: &FrameRepr<'_>, st: &mut FlowStats, scratch: &mut Vec<i32>) {
        let cfg = self.rx_cfg;
        let rf = self.reference;
        for m in fr.messages() {
            let Body::IqData { pc_id, uplane, cfg: ucfg, .. } = &m.body else { continue };
            let h = uplane.header;
            // Laps move frameId on; the IQ is that of frameId mod RADIO_FRAMES.
            let t = SlotTime { frame: (h.frame_id as u64 % RADIO_FRAMES) as u8, subframe: h.subframe_id, slot: h.slot_id };
            let id = cfg.eaxc.split(*pc_id);
            for sec in &uplane.sections {
                let comp = sec.comp(ucfg.static_comp);
                super::super::sink::check_section(&mut st.iq, sec, comp, cfg.carrier_prbs, |prb| {
                    let r = reference_prb(rf.level, id, t, h.symbol_id, prb);
                    super::super::sink::carry(rf.comp, rf.rounding, &r, scratch)
                });
            }
        }
    }
}

/// Receives and discards until nothing has come for [`QUIET`] or `max`
/// has passed; returns how many frames came.
pub fn settle(rx: &mut dyn RxPort, max: Duration) -> u64 {
    let mut bufs: Vec<PacketBuf> = (0..BURST).map(|_| PacketBuf::new()).collect();
    let (mut lens, mut times) = ([0usize; BURST], [0u64; BURST]);
    let (t0, mut last, mut n) = (Instant::now(), Instant::now(), 0u64);
    while t0.elapsed() < max && last.elapsed() < QUIET {
        match rx.recv(&mut bufs, &mut lens, &mut times) {
            Ok(RxPoll::Frames(k)) => {
                n += k as u64;
                last = Instant::now();
            }
            Ok(RxPoll::Closed) => break,
            _ => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    n
}

#[cfg(test)]
#[path = "trial_tests.rs"]
mod tests;
