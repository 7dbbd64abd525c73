//! One direction of the pipeline, in one of two threadings.
//!
//! **Run to completion** (one worker): a single pinned thread takes a
//! burst from the receive port, classifies it, runs the chains and egress
//! on it and sends it, before taking the next. Nothing crosses a core, so
//! this is the cheapest per packet and the lowest in latency.
//!
//! **Lanes** (a multi-queue port): one run-to-completion thread per
//! queue, each with its own ingress, translators, egress and transmit
//! queue. A flow stays in order as long as the NIC keeps it on one queue.
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
mod pipelined;
mod rtc;

use pipelined::start_pipelined;
use rtc::start_run_to_completion;

use super::egress::header_flow;
use super::pinning::{CoreSet, PinError, Stage};
use super::polling::{PollGauge, Polling};
use super::stats::{FlowTable, Stats};
use crate::bridge::BridgeSpec;
use crate::classify::FlowKey;
use crate::io::{RxPort, TxPort};
use crate::translate::{ChainSpec, Control, Packet, PACKET_CAPACITY};

/// Everything one direction needs.
pub struct DirectionSpec {
    /// A name for logs and thread names (`dl`, `ul`).
    pub name: String,
    /// Where frames come in.
    pub rx: Box<dyn RxPort>,
    /// Where frames go out.
    pub tx: Box<dyn TxPort>,
    /// Further receive/transmit pairs: the other queues (or fanout
    /// sockets) of a multi-queue port, one run-to-completion thread each.
    pub lanes: Vec<Lane>,
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
    /// How idle stages wait (`[pipeline] polling`).
    pub polling: Polling,
}

#[cfg(test)]
impl DirectionSpec {
    /// A direction for tests: no chains, one worker, bursts of 32, rings
    /// of 64, 9000-byte egress; a test sets the fields it is about.
    pub(crate) fn for_test(rx: Box<dyn RxPort>, tx: Box<dyn TxPort>, decode: DecodeConfig, threading: Threading) -> DirectionSpec {
        DirectionSpec {
            name: "test".into(),
            rx,
            tx,
            lanes: Vec::new(),
            tap: None,
            decode,
            port_direction: 1,
            egress: super::egress::EgressConfig::new(9000, decode),
            chains: Vec::new(),
            workers: 1,
            cores: Default::default(),
            polling: Default::default(),
            burst: 32,
            ring_size: 64,
            threading,
            bridge: Default::default(),
            timing: None,
            owd: Default::default(),
        }
    }
}

/// One receive/transmit pair of a multi-queue direction: a queue of the
/// ingress port and the transmit queue of the egress port it sends on.
pub struct Lane {
    /// Frames arriving on this queue.
    pub rx: Box<dyn RxPort>,
    /// Where this lane's frames go out.
    pub tx: Box<dyn TxPort>,
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
    /// Frames each ingress (one per lane) has taken in.
    received: Vec<Arc<std::sync::atomic::AtomicU64>>,
    /// Counter snapshots from each stage, newest last (see [`PUBLISH_EVERY`]).
    pub metrics: Vec<Consumer<Stats>>,
    /// Each worker's swap control, for hot swaps from the control thread.
    pub controls: Vec<Control>,
    /// Each stage's polling state (sleeping, wake-ups), by thread name.
    pub polls: Vec<(String, Arc<PollGauge>)>,
    /// How its ingress frames are decoded (a canary's shadow decodes its copies so).
    pub decode: DecodeConfig,
    threads: Vec<thread::JoinHandle<StageEnd>>,
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

/// How a stage ended: its counters, and whether it ended well, so a
/// failed stage's counters (what it did move before its port died) still
/// reach the report.
pub(super) type StageEnd = (Stats, Result<()>);

/// Spawns a stage named `name`; it first pins itself as `pin` says and
/// reports that. When it ends in an error or a panic it sets `failed` and
/// `stop`, so its direction's other stages stop too (an RX left running
/// beside a dead TX would take frames nowhere) and the caller learns of
/// it without waiting for a signal.
fn spawn_stage(name: String, stop: &Arc<AtomicBool>, failed: &Arc<AtomicBool>, pin: Pin, f: impl FnOnce() -> StageEnd + Send + 'static) -> std::io::Result<thread::JoinHandle<StageEnd>> {
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
            Some(e) => (Stats::default(), Err(anyhow!("{e}"))),
            None if pin.go.wait() => f(),
            // Another stage could not pin: this one never started.
            None => (Stats::default(), Ok(())),
        };
        w.2 = r.1.is_ok();
        r
    })
}

/// Where a stage comes in spawn order: workers, then RX, then TX.
fn rank(s: Stage) -> usize {
    match s {
        Stage::Worker(i) => i,
        Stage::Rx => usize::MAX - 1,
        Stage::Tx => usize::MAX,
    }
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
                // The first stage in spawn order names the fault, whichever
                // thread got there first.
                Ok(Err(e)) if refused.as_ref().is_none_or(|r: &PinError| rank(e.stage) < rank(r.stage)) => refused = Some(e),
                Ok(Err(_)) => {}
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
        self.received.iter().map(|r| r.load(Ordering::Relaxed)).sum()
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

    /// Waits for every stage: the counters of all of them, those that
    /// failed included (up to their failure), and why any failed, so a
    /// report can still be given. Only a panicked stage's counters are lost.
    pub fn join_all(self) -> (Stats, Vec<anyhow::Error>) {
        let mut total = Stats::default();
        let mut errors = Vec::new();
        for t in self.threads {
            match t.join() {
                Ok((s, r)) => {
                    total.merge(&s);
                    errors.extend(r.err());
                }
                Err(_) => errors.push(anyhow!("a pipeline thread panicked")),
            }
        }
        (total, errors)
    }

    /// Waits for every stage and merges their counters; the first stage's
    /// error, if any.
    pub fn join(self) -> Result<Stats> {
        let (total, errors) = self.join_all();
        match errors.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(total),
        }
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
    match spec.threading {
        Threading::RunToCompletion => start_run_to_completion(spec),
        Threading::Pipelined => start_pipelined(spec),
    }
}

/// Publishes `stats` with `flows` folded in, when due at `now`.
#[inline]
fn publish_due(publish: &mut Publisher, now: Instant, flows: &FlowTable, stats: &mut Stats) {
    if publish.due(now) {
        flows.write_to(&mut stats.flows);
        publish.publish(stats);
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

#[cfg(test)]
mod tests;
