//! One direction of the pipeline, in one of two threadings.
//!
//! **Run to completion** (one worker): a single pinned thread takes a
//! burst from the receive port, classifies it, runs the chains and egress
//! on it and sends it, before taking the next. Nothing crosses a core, so
//! this is the cheapest per packet and the lowest in latency.
//!
//! **Pipelined** (any number of workers): threads joined by lock-free SPSC
//! rings:
//!
//! ```text
//!            ┌─> ring ─> worker 0 (chains, egress) ─> ring ─┐
//! RX (classify, dispatch by eAxC)                            ├─> TX
//!            └─> ring ─> worker N ─────────────────> ring ──┤
//!            └──────────── priority ring (non-eCPRI) ───────┘
//! ```
//!
//! RX classifies each frame once and sends all packets of one eAxC to the
//! same worker, so a flow stays in order (C-plane and U-plane of an eAxC
//! included). Malformed eCPRI frames go the same way, by the eAxC their
//! headers carry, and leave untouched in their place. Frames that are not
//! eCPRI (S-plane PTP, M-plane, LLDP) from a live port skip the workers on
//! a priority ring, ahead of bulk U-plane; from a capture they ride worker
//! 0's ring and keep their place. Either way, the timestamps TX writes never go
//! backwards: a frame that overtook later ones (another flow's, or a
//! priority frame) is stamped with the latest time written so far.
//! Workers are pinned and busy-poll in bounded bursts. Buffers come from
//! one lock-free pool per direction, and TX hands the ones it sent back
//! to RX on a ring of their own (pool.rs); stages move packets between
//! rings a burst at a time with one commit, count flows in a small table
//! folded into their [`Stats`] when they publish, and the hot path
//! allocates nothing, takes no lock and makes no syscall per packet.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use ecpri::frame::DecodeConfig;
use rtrb::{Consumer, Producer, RingBuffer};

mod ingress;
mod rtc;

use ingress::{Ingress, Polled};
use rtc::start_run_to_completion;

use super::egress::{header_flow, Egress};
use super::pinning::{CoreSet, PinError, Stage};
use super::pool::{recycle_ring, BufReturn, BufTake, SharedPool};
use super::stats::{FlowTable, Stats};
use crate::bridge::direction::{BridgeRx, BridgeTx};
use crate::bridge::BridgeSpec;
use crate::classify::FlowKey;
use crate::timing::owd_link::OwdInjector;
use crate::io::{RxPort, TxPort};
use crate::translate::{Burst, ChainSpec, Control, Packet, PacketBuf, WorkerHost, BURST_MAX_IN, PACKET_CAPACITY};

/// Everything one direction needs.
pub struct DirectionSpec {
    /// A name for logs and thread names (`dl`, `ul`).
    pub name: String,
    /// Where frames come in.
    pub rx: Box<dyn RxPort>,
    /// Where frames go out.
    pub tx: Box<dyn TxPort>,
    /// Optional copy of every ingress frame.
    pub tap: Option<Box<dyn TxPort>>,
    /// How ingress frames are decoded.
    pub decode: DecodeConfig,
    /// Direction of the ingress port: 1 when it faces the DU, 0 the RU.
    pub port_direction: u8,
    /// Egress MTU and sequence-ID renumbering.
    pub egress: super::egress::EgressConfig,
    /// The translator chains.
    pub chains: Vec<ChainSpec>,
    /// Worker threads.
    pub workers: usize,
    /// Where its threads run, and what a core that cannot be had does.
    pub cores: CoreSet,
    /// Most packets per burst.
    pub burst: usize,
    /// Slots per ring.
    pub ring_size: usize,
    /// How the stages map onto threads.
    pub threading: Threading,
    /// What crosses besides fronthaul, and the PTP transparent clock.
    pub bridge: BridgeSpec,
    /// Receive-window classification of ingress messages (`[timing]`), if any.
    pub timing: Option<crate::timing::live::IngressTiming>,
    /// The one-way delay initiator's halves (`[owd]`): a tap for the
    /// side this direction receives from, an injector for the one it sends to.
    pub owd: crate::timing::owd_link::OwdLink,
}

/// How a direction's stages map onto threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threading {
    /// One thread receives, translates and sends each burst (one worker;
    /// `workers` is ignored).
    RunToCompletion,
    /// An RX thread, `workers` worker threads and a TX thread, joined by rings.
    Pipelined,
}

impl Threading {
    /// The default for a number of workers: run to completion for one.
    pub fn for_workers(workers: usize) -> Threading {
        if workers <= 1 {
            Threading::RunToCompletion
        } else {
            Threading::Pipelined
        }
    }
}

/// Hands a stage's counters to the metrics thread now and then: a clone
/// every [`PUBLISH_EVERY`] onto a one-slot SPSC ring, so the hot path
/// neither locks nor allocates per packet.
struct Publisher {
    ring: Producer<Stats>,
    last: Instant,
}

/// How often stages publish their counters.
pub const PUBLISH_EVERY: Duration = Duration::from_millis(250);

impl Publisher {
    /// Whether a snapshot is due at `now` and the metrics thread has room for it.
    #[inline]
    fn due(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last) >= PUBLISH_EVERY && self.ring.slots() > 0
    }

    fn publish(&mut self, s: &Stats) {
        self.last = Instant::now();
        let _ = self.ring.push(s.clone());
    }

    #[inline]
    fn maybe(&mut self, s: &Stats) {
        if self.due(Instant::now()) {
            self.publish(s);
        }
    }
}

fn publisher() -> (Publisher, Consumer<Stats>) {
    let (ring, c) = RingBuffer::new(1);
    (Publisher { ring, last: Instant::now() }, c)
}

/// A running direction.
pub struct Running {
    received: Arc<std::sync::atomic::AtomicU64>,
    /// Counter snapshots from each stage, newest last (see [`PUBLISH_EVERY`]).
    pub metrics: Vec<Consumer<Stats>>,
    /// Each worker's swap control, for hot swaps from the control thread.
    pub controls: Vec<Control>,
    threads: Vec<thread::JoinHandle<Result<Stats>>>,
    stop: Arc<AtomicBool>,
    /// Set by a stage that ended in an error or a panic.
    failed: Arc<AtomicBool>,
}

/// How a stage pins itself: its direction's cores, which stage it is,
/// where it says whether pinning worked, and the word to go on: `start`
/// waits for every stage to pin before any of them touches a packet.
struct Pin {
    set: Arc<CoreSet>,
    direction: String,
    stage: Stage,
    ready: std::sync::mpsc::Sender<Result<(), PinError>>,
    go: Arc<Go>,
}

/// Whether the stages of a direction may start (set once by `start`).
#[derive(Default)]
struct Go {
    word: std::sync::Mutex<Option<bool>>,
    changed: std::sync::Condvar,
}

impl Go {
    /// Gives the word, once: later words change nothing.
    fn say(&self, go: bool) {
        if let Ok(mut w) = self.word.lock() {
            w.get_or_insert(go);
        }
        self.changed.notify_all();
    }

    /// Waits for the word: true to run, false to stop before starting.
    fn wait(&self) -> bool {
        let Ok(mut w) = self.word.lock() else { return false };
        loop {
            match *w {
                Some(go) => return go,
                None => match self.changed.wait(w) {
                    Ok(g) => w = g,
                    Err(_) => return false,
                },
            }
        }
    }
}

/// Spawns a stage named `name`; it first pins itself as `pin` says and
/// reports that. When it ends in an error or a panic it sets `failed` and
/// `stop`, so its direction's other stages stop too (an RX left running
/// beside a dead TX would take frames nowhere) and the caller learns of
/// it without waiting for a signal.
fn spawn_stage(name: String, stop: &Arc<AtomicBool>, failed: &Arc<AtomicBool>, pin: Pin, f: impl FnOnce() -> Result<Stats> + Send + 'static) -> std::io::Result<thread::JoinHandle<Result<Stats>>> {
    struct Watch(Arc<AtomicBool>, Arc<AtomicBool>, bool);
    impl Drop for Watch {
        fn drop(&mut self) {
            if !self.2 || thread::panicking() {
                self.0.store(true, Ordering::Release);
                self.1.store(true, Ordering::Relaxed);
            }
        }
    }
    let (failed, stop) = (failed.clone(), stop.clone());
    thread::Builder::new().name(name).spawn(move || {
        let mut w = Watch(failed, stop, false);
        let pinned = pin.set.pin_current(&pin.direction, pin.stage);
        let refused = pinned.as_ref().err().map(|e| e.to_string());
        let _ = pin.ready.send(pinned);
        let r = match refused {
            Some(e) => Err(anyhow!("{e}")),
            None if pin.go.wait() => f(),
            // Another stage could not pin: this one never started.
            None => Ok(Stats::default()),
        };
        w.2 = r.is_ok();
        r
    })
}

/// Pinning for the stages of one direction. Dropped before `wait` (a
/// stage that could not be built), it tells those spawned not to start.
struct Pins {
    set: Arc<CoreSet>,
    direction: String,
    ready: Option<std::sync::mpsc::Sender<Result<(), PinError>>>,
    reports: std::sync::mpsc::Receiver<Result<(), PinError>>,
    spawned: usize,
    go: Arc<Go>,
}

impl Drop for Pins {
    fn drop(&mut self) {
        self.go.say(false);
    }
}

impl Pins {
    fn new(set: CoreSet, direction: &str) -> Pins {
        let (ready, reports) = std::sync::mpsc::channel();
        Pins { set: Arc::new(set), direction: direction.into(), ready: Some(ready), reports, spawned: 0, go: Arc::default() }
    }

    /// The pinning of one more stage.
    fn stage(&mut self, stage: Stage) -> Pin {
        self.spawned += 1;
        Pin { set: self.set.clone(), direction: self.direction.clone(), stage, ready: self.ready.clone().expect("stages are spawned before wait"), go: self.go.clone() }
    }

    /// Waits until every stage has pinned itself, then lets them start; on
    /// the first that could not, lets none start and returns why.
    fn wait(mut self, running: Running) -> Result<Running> {
        // Only the stages hold senders now: one that ends unreported ends the wait.
        self.ready = None;
        let mut refused = None;
        for _ in 0..self.spawned {
            match self.reports.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    refused.get_or_insert(e);
                }
                // A stage ended before it reported: join says why.
                Err(_) => break,
            }
        }
        self.go.say(refused.is_none());
        match refused {
            None => Ok(running),
            Some(e) => {
                let _ = running.join_all();
                Err(e.into())
            }
        }
    }
}

impl Running {
    /// Whether every stage has finished.
    pub fn is_finished(&self) -> bool {
        self.threads.iter().all(|t| t.is_finished())
    }

    /// Frames the RX stage has taken in so far.
    pub fn frames_received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Asks every stage to stop (live ports; a capture stops by itself).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Whether a stage ended in an error or a panic (the others are
    /// stopping): join to learn why.
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// Waits for every stage: the counters of those that ended well, and
    /// why the others did not, so a report can still be given.
    pub fn join_all(self) -> (Stats, Vec<anyhow::Error>) {
        let mut total = Stats::default();
        let mut errors = Vec::new();
        for t in self.threads {
            match t.join() {
                Ok(Ok(s)) => total.merge(&s),
                Ok(Err(e)) => errors.push(e),
                Err(_) => errors.push(anyhow!("a pipeline thread panicked")),
            }
        }
        (total, errors)
    }

    /// Waits for every stage and merges their counters.
    pub fn join(self) -> Result<Stats> {
        let mut total = Stats::default();
        for t in self.threads {
            let s = t.join().map_err(|_| anyhow!("a pipeline thread panicked"))??;
            total.merge(&s);
        }
        Ok(total)
    }
}

/// `now` in ns since `t0`.
fn ns_since(t0: Instant, now: Instant) -> u64 {
    now.saturating_duration_since(t0).as_nanos() as u64
}

/// Spins briefly, then yields: a busy poll that gives the core back when
/// a ring stays empty (replays on shared machines). The spin is short:
/// when stages outnumber cores, a stage with work waits out its
/// neighbour's spin before that yields (on 2 cores at 250 kpps, 64 spins
/// made the median added latency 5.7 µs, 8 spins 1.7 µs; benches/pipeline).
/// Kept out of line so that profiles tell idle polling from work.
#[inline(never)]
fn backoff(idle: &mut u32) {
    *idle = idle.wrapping_add(1);
    if *idle < 8 {
        std::hint::spin_loop();
    } else {
        thread::yield_now();
    }
}

struct Done(Arc<AtomicBool>);

impl Drop for Done {
    fn drop(&mut self) {
        // Set even when the stage fails, so the next stage never waits forever.
        self.0.store(true, Ordering::Release);
    }
}

/// Starts the threads of one direction.
pub fn start(spec: DirectionSpec) -> Result<Running> {
    if spec.threading == Threading::RunToCompletion {
        return start_run_to_completion(spec);
    }
    let workers = spec.workers.max(1);
    let burst = spec.burst.clamp(1, BURST_MAX_IN);
    let t0 = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(AtomicBool::new(false));
    // Enough buffers for every ring to be full, plus each stage's cache.
    let pool = SharedPool::new(spec.ring_size * (2 * workers + 1) + 8 * burst * (workers + 2));
    // TX to RX, reused first (see pool.rs); as deep as a ring, so that
    // even when RX waits on a full ring the buffers come back this way.
    let (recycle_back, recycle_take) = recycle_ring(&pool, spec.ring_size.max(4 * burst * (workers + 1)));
    let mut to_workers = Vec::new();
    let mut from_workers = Vec::new();
    let mut worker_ends = Vec::new();
    for _ in 0..workers {
        let (p_in, c_in) = RingBuffer::<Packet>::new(spec.ring_size);
        let (p_out, c_out) = RingBuffer::<Packet>::new(spec.ring_size);
        to_workers.push(p_in);
        from_workers.push(c_out);
        worker_ends.push((c_in, p_out));
    }
    let (prio_tx, prio_rx) = RingBuffer::<Packet>::new(spec.ring_size);
    let rx_done = Arc::new(AtomicBool::new(false));
    let worker_done: Vec<Arc<AtomicBool>> = (0..workers).map(|_| Arc::new(AtomicBool::new(false))).collect();

    let mut controls = Vec::new();
    let mut threads = Vec::new();
    let mut metrics = Vec::new();
    let mut pins = Pins::new(spec.cores, &spec.name);
    for (i, (c_in, p_out)) in worker_ends.into_iter().enumerate() {
        let (host, control) = WorkerHost::new(&spec.chains, spec.decode).map_err(|e| anyhow!("{e}"))?;
        controls.push(control);
        let (publish, m) = publisher();
        metrics.push(m);
        let w = Worker {
            publish,
            host,
            input: c_in,
            output: p_out,
            pool: pool.clone(),
            burst,
            egress: Egress::new(spec.egress, spec.decode),
            rx_done: rx_done.clone(),
            done: Done(worker_done[i].clone()),
        };
        threads.push(spawn_stage(format!("fhgate-{}-w{i}", spec.name), &stop, &failed, pins.stage(Stage::Worker(i)), move || w.run())?);
    }
    let (publish, m) = publisher();
    metrics.push(m);
    let ingress = Ingress::new(spec.rx, spec.tap, spec.decode, spec.port_direction, burst, t0, BridgeRx::new(&spec.bridge, spec.decode.udp_port, spec.port_direction), spec.timing, spec.owd.tap);
    let received = ingress.received.clone();
    let rx = Rx {
        publish,
        ingress,
        to_workers,
        prio: prio_tx,
        priority: spec.bridge.live_clock,
        bufs: recycle_take,
        burst,
        stop: stop.clone(),
        done: Done(rx_done),
    };
    threads.push(spawn_stage(format!("fhgate-{}-rx", spec.name), &stop, &failed, pins.stage(Stage::Rx), move || rx.run())?);
    let (publish, m) = publisher();
    metrics.push(m);
    let bridge = BridgeTx::new(&spec.bridge, spec.decode.udp_port, spec.port_direction, t0);
    let tx = Tx { publish, port: spec.tx, from_workers, prio: prio_rx, bufs: recycle_back, burst, worker_done, t0, udp_port: spec.decode.udp_port, bridge, owd: spec.owd.inject };
    threads.push(spawn_stage(format!("fhgate-{}-tx", spec.name), &stop, &failed, pins.stage(Stage::Tx), move || tx.run())?);
    pins.wait(Running { received, metrics, controls, threads, stop, failed })
}

/// Publishes `stats` with `flows` folded in, when due at `now`.
#[inline]
fn publish_due(publish: &mut Publisher, now: Instant, flows: &FlowTable, stats: &mut Stats) {
    if publish.due(now) {
        flows.write_to(&mut stats.flows);
        publish.publish(stats);
    }
}

struct Rx {
    publish: Publisher,
    ingress: Ingress,
    to_workers: Vec<Producer<Packet>>,
    prio: Producer<Packet>,
    /// Frames without a flow take the priority ring (live ports); from a
    /// capture they ride worker 0's ring, so they keep their place and
    /// their timestamp instead of overtaking what the workers hold.
    priority: bool,
    /// Free buffers: those TX sent last, then the shared pool.
    bufs: BufTake,
    burst: usize,
    stop: Arc<AtomicBool>,
    done: Done,
}

impl Rx {
    fn run(mut self) -> Result<Stats> {
        let _done = &self.done;
        let mut stats = Stats::default();
        let mut flows = FlowTable::default();
        let mut bufs: Vec<PacketBuf> = Vec::with_capacity(self.burst);
        let mut idle = 0;
        loop {
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            self.bufs.fill(&mut bufs, self.burst);
            if bufs.is_empty() {
                // Every buffer is in flight: wait for TX to return some.
                backoff(&mut idle);
                continue;
            }
            let (to_workers, prio, priority) = (&mut self.to_workers, &mut self.prio, self.priority);
            let workers = to_workers.len();
            let polled = self.ingress.poll(&mut bufs, &mut flows, &mut stats, |pkt, flow| {
                // One at a time, so that the worker can start on the first.
                // A flow's frames, malformed ones too, go to one worker.
                let ring = match flow {
                    Some(k) => &mut to_workers[k.eaxc as usize % workers],
                    None if priority => &mut *prio,
                    None => &mut to_workers[0],
                };
                push_blocking(ring, pkt);
            })?;
            match polled {
                Polled::Frames { now, .. } => {
                    idle = 0;
                    publish_due(&mut self.publish, now, &flows, &mut stats);
                }
                Polled::Idle => {
                    // A quiet port still publishes, so metrics show the last burst.
                    if idle % 1024 == 0 {
                        publish_due(&mut self.publish, Instant::now(), &flows, &mut stats);
                    }
                    backoff(&mut idle);
                }
                Polled::Closed => break,
            }
        }
        flows.write_to(&mut stats.flows);
        Ok(stats)
    }
}

/// Pushes onto a ring, waiting while it is full (backpressure, never loss).
#[inline]
fn push_blocking(ring: &mut Producer<Packet>, mut pkt: Packet) {
    let mut idle = 0;
    loop {
        match ring.push(pkt) {
            Ok(()) => return,
            Err(rtrb::PushError::Full(p)) => {
                pkt = p;
                backoff(&mut idle);
            }
        }
    }
}

/// Pushes `pkts` onto a ring in order, waiting while it is full
/// (backpressure, never loss): as many as fit at a time, with one commit
/// (one atomic store) for all of them.
#[inline]
fn push_all_blocking<I: ExactSizeIterator<Item = Packet>>(ring: &mut Producer<Packet>, mut pkts: I) {
    let mut idle = 0;
    while pkts.len() > 0 {
        let n = ring.slots().min(pkts.len());
        match ring.write_chunk_uninit(n) {
            Ok(c) if n > 0 => {
                c.fill_from_iter(&mut pkts);
            }
            _ => backoff(&mut idle),
        }
    }
}

/// Moves up to `max` packets from a ring to the end of `to`, with one
/// commit for all of them; returns how many.
#[inline]
fn pop_chunk(ring: &mut Consumer<Packet>, to: &mut Vec<Packet>, max: usize) -> usize {
    let n = ring.slots().min(max);
    match ring.read_chunk(n) {
        Ok(c) if n > 0 => {
            to.extend(c);
            n
        }
        _ => 0,
    }
}

struct Worker {
    publish: Publisher,
    host: WorkerHost,
    input: Consumer<Packet>,
    output: Producer<Packet>,
    pool: SharedPool,
    burst: usize,
    egress: Egress,
    rx_done: Arc<AtomicBool>,
    done: Done,
}

impl Worker {
    fn run(mut self) -> Result<Stats> {
        let _done = &self.done;
        let mut stats = Stats::default();
        let mut burst = Burst::new();
        let cache = 4 * crate::translate::BURST_CAPACITY;
        let mut local = self.pool.local(cache);
        let mut idle = 0;
        loop {
            self.pool.balance(&mut local, cache / 2, cache);
            let finished = self.rx_done.load(Ordering::Acquire);
            // The burst holds BURST_CAPACITY ≥ self.burst packets.
            let room = self.burst.saturating_sub(burst.len());
            pop_chunk(&mut self.input, &mut burst.pkts, room);
            if burst.is_empty() {
                if finished && self.input.is_empty() {
                    break;
                }
                backoff(&mut idle);
                continue;
            }
            idle = 0;
            self.host.process(&mut burst, &mut local);
            // Extras and split pieces inherit the timestamps of the packet before them.
            let mut last = (0, 0);
            for p in burst.packets_mut() {
                if p.time_ns == 0 && p.arrival_ns == 0 {
                    (p.time_ns, p.arrival_ns) = last;
                }
                last = (p.time_ns, p.arrival_ns);
            }
            self.egress.process_with(&mut burst, &mut local, &mut stats, Some(&mut self.host));
            push_all_blocking(&mut self.output, burst.drain());
            self.publish.maybe(&stats);
        }
        while let Some(b) = local.get() {
            self.pool.put(b);
        }
        Ok(stats)
    }
}

struct Tx {
    publish: Publisher,
    port: Box<dyn TxPort>,
    from_workers: Vec<Consumer<Packet>>,
    prio: Consumer<Packet>,
    /// Where sent buffers go: back to RX.
    bufs: BufReturn,
    burst: usize,
    worker_done: Vec<Arc<AtomicBool>>,
    t0: Instant,
    /// The eCPRI UDP port, to find the flow of frames that do not classify.
    udp_port: Option<u16>,
    /// Counters and the transparent clock for frames that are not fronthaul.
    bridge: BridgeTx,
    /// One-way delay messages the initiator queued for this port.
    owd: Option<OwdInjector>,
}

impl Tx {
    fn run(mut self) -> Result<Stats> {
        let mut stats = Stats::default();
        self.bridge.announce(&mut stats.bridge);
        let mut flows = FlowTable::default();
        let mut out: Vec<Packet> = Vec::with_capacity(self.burst * (self.from_workers.len() + 1));
        let mut idle = 0;
        let mut next = 0;
        let mut last_time = 0;
        loop {
            let finished = self.worker_done.iter().all(|d| d.load(Ordering::Acquire));
            if let Some(o) = &mut self.owd {
                o.send_pending(self.port.as_mut())?;
            }
            // Priority traffic first (S-plane, M-plane, untouched frames).
            pop_chunk(&mut self.prio, &mut out, self.burst);
            // Then the workers, round robin, a burst at most from each.
            for k in 0..self.from_workers.len() {
                let w = (next + k) % self.from_workers.len();
                pop_chunk(&mut self.from_workers[w], &mut out, self.burst);
            }
            next = (next + 1) % self.from_workers.len().max(1);
            if out.is_empty() {
                if finished && self.prio.is_empty() && self.from_workers.iter().all(|c| c.is_empty()) {
                    break;
                }
                if idle % 1024 == 0 && self.publish.due(Instant::now()) {
                    flows.write_to(&mut stats.flows);
                    self.publish.publish(&stats);
                }
                backoff(&mut idle);
                continue;
            }
            idle = 0;
            for p in &mut out {
                if p.desc.is_none() {
                    let n = p.unpadded_len();
                    self.bridge.before_send(&mut p.buf.bytes_mut()[..n], p.time_ns, p.arrival_ns, &mut stats.bridge);
                }
                self.port.send(p.data(), monotonic(&mut last_time, p.time_ns))?;
            }
            self.port.flush()?;
            let at = Instant::now();
            let now = ns_since(self.t0, at);
            // Packets of one RX burst share their arrival time: one
            // histogram update per run of them.
            let mut run = (0u64, 0u64);
            for p in &out {
                if p.arrival_ns != run.0 {
                    record_latency(&mut stats, now, run);
                    run = (p.arrival_ns, 0);
                }
                run.1 += 1;
                count_out(&mut flows, p, self.udp_port);
            }
            record_latency(&mut stats, now, run);
            stats.frames_out += out.len() as u64;
            self.bufs.put_all(out.drain(..).map(|p| p.buf));
            if self.publish.due(at) {
                flows.write_to(&mut stats.flows);
                self.publish.publish(&stats);
            }
        }
        self.port.flush()?;
        flows.write_to(&mut stats.flows);
        Ok(stats)
    }
}

/// The timestamp to write for a frame stamped `t`: never earlier than the
/// last one written (`last`, updated). Frames of one flow leave in order;
/// one that overtook another flow's keeps the time order of the output.
#[inline]
fn monotonic(last: &mut u64, t: u64) -> u64 {
    *last = (*last).max(t);
    *last
}

/// Counts a packet sent in its flow: the one it classified as, else the
/// one its headers name (a translator's output that egress's decoding does
/// not read, a malformed frame forwarded untouched), read as ingress read
/// them: in the bytes that came in (egress's padding would make a runt's
/// header say another flow) and with the ingress side's eCPRI UDP port.
#[inline]
fn count_out(flows: &mut FlowTable, p: &Packet, udp_port: Option<u16>) {
    let key = match &p.desc {
        Some(d) => Some(FlowKey::of(d)),
        None => header_flow(&p.data()[..p.unpadded_len()], udp_port, p.port_direction),
    };
    if let Some(k) = key {
        let c = &mut flows.entry(k).counters;
        c.packets_out += 1;
        c.bytes_out += p.len as u64;
    }
}

/// Records `n` packets that arrived at `arrival` and left at `now`.
#[inline]
fn record_latency(stats: &mut Stats, now: u64, (arrival, n): (u64, u64)) {
    if n > 0 {
        let _ = stats.latency.record_n(now.saturating_sub(arrival).max(1), n);
    }
}

/// Largest frame a packet buffer holds.
pub const MAX_FRAME: usize = PACKET_CAPACITY;

/// Waits at most `d` for `r` to finish on its own (a capture ends), then stops it.
pub fn join_within(r: Running, d: Duration) -> Result<Stats> {
    let start = Instant::now();
    while start.elapsed() < d && r.threads.iter().any(|t| !t.is_finished()) {
        thread::sleep(Duration::from_millis(5));
    }
    r.stop();
    r.join()
}
