//! The shadow thread of a canary: it takes the sampled copies from every
//! worker's tap, runs each through a private instance of the active chains
//! and one of the candidate chains, and compares the two outputs with
//! [`crate::diff::diff`], the comparison `fhgate diff` makes (fields by
//! Wireshark name, IQ error), adding what only a live comparison can see:
//! verdicts, faults, and the time each chain took per packet. It runs on
//! an ordinary thread, off the worker cores' hot path; when it falls
//! behind, the taps drop samples (counted), never the workers.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ecpri::frame::DecodeConfig;

use crate::diff::{DiffOptions, FlowId, FlowReport};
use crate::io::pcap::Captured;
use crate::pipeline::pinning::{set_affinity, PinPolicy};
use crate::translate::shadow::{ShadowFeed, TapCounters};
use crate::translate::host::{Level, LogSink};
use crate::translate::{BufPool, Burst, ChainSpec, Control, Packet, TranslatorSpec, WorkerHost, BURST_CAPACITY};

/// Most verdict mismatches described in the tally.
const MAX_EXAMPLES: usize = 5;

/// What a packet became in one chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No output.
    Dropped,
    /// One output, byte for byte the input.
    Forwarded,
    /// One output, changed.
    Modified,
    /// The packet and this many extras.
    Extras(usize),
}

/// The running comparison, read by the control thread.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Sampled packets run through both chains.
    pub packets: u64,
    /// Of those, the two chains gave other verdicts.
    pub mismatches: u64,
    /// Some of them, described.
    pub mismatch_examples: Vec<String>,
    /// Faults of the active chains' shadow instances.
    pub active_faults: u64,
    /// Faults of the candidate chains.
    pub candidate_faults: u64,
    /// Time in the active chains, summed over `packets`.
    pub active_ns: u64,
    /// Time in the candidate chains, summed.
    pub candidate_ns: u64,
    /// Copies the shadow had no buffer for (not compared).
    pub no_buffer: u64,
    /// Per flow: fields that differ (by Wireshark name) and the IQ error,
    /// the candidate's output (B) against the active's (A).
    pub flows: BTreeMap<FlowId, FlowReport>,
}

/// Where the shadow's own instances log: the gateway's sink, each line
/// saying it is about the canary's shadow copy, so that a shadow fault or
/// a shadow instance DISABLED is not read as the live translator's.
pub struct ShadowLog {
    inner: Arc<dyn LogSink>,
    chains: &'static str,
}

impl LogSink for ShadowLog {
    fn log(&self, level: Level, translator: &str, from_guest: bool, msg: &str) {
        let what = format!("canary shadow copy ({} chains) only, live traffic is unaffected: {msg}", self.chains);
        self.inner.log(level, translator, from_guest, &what)
    }
}

/// `specs` with every translator (and fallback) logging through
/// [`ShadowLog`] for `chains` (`active` or `candidate`); otherwise the same.
pub fn shadow_specs(specs: &[ChainSpec], chains: &'static str) -> Vec<ChainSpec> {
    fn resink(t: &Arc<TranslatorSpec>, chains: &'static str) -> Arc<TranslatorSpec> {
        let sink: Arc<dyn LogSink> = Arc::new(ShadowLog { inner: t.sink.clone(), chains });
        Arc::new(TranslatorSpec { sink, fallback: t.fallback.as_ref().map(|f| resink(f, chains)), ..(**t).clone() })
    }
    specs.iter().map(|c| ChainSpec { selector: c.selector, translators: c.translators.iter().map(|t| resink(t, chains)).collect() }).collect()
}

/// One direction's pair of chains, private to the shadow.
pub struct Pair {
    /// The active chains (as they run on the workers).
    pub active: (WorkerHost, Control),
    /// The candidate chains.
    pub candidate: (WorkerHost, Control),
    /// How its ingress decodes.
    pub decode: DecodeConfig,
}

/// A running shadow thread.
pub struct Shadow {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
    /// The longest a stop waits for the thread: one copy's worst case.
    bound: Duration,
    /// The comparison so far.
    pub tally: Arc<Mutex<Tally>>,
    /// Each tap's counters.
    pub taps: Vec<Arc<TapCounters>>,
}

impl Shadow {
    /// Starts the thread on `pairs` (one per direction) and the feeds of
    /// the taps (each with the index of its direction's pair). `bound` is
    /// the longest one copy can take (the chains' deadlines, summed): what
    /// [`Shadow::finish`] waits at most.
    /// The thread restricts itself to `cores` first (`[control]
    /// canary_cores`; none: unpinned); if it cannot, `Strict` fails the
    /// start naming the cores and `BestEffort` warns and runs unpinned.
    pub fn start(pairs: Vec<Pair>, feeds: Vec<(usize, ShadowFeed)>, bound: Duration, cores: &[usize], policy: PinPolicy) -> std::io::Result<Shadow> {
        let stop = Arc::new(AtomicBool::new(false));
        let tally = Arc::new(Mutex::new(Tally::default()));
        let taps = feeds.iter().map(|(_, f)| f.counters.clone()).collect();
        let (s, t) = (stop.clone(), tally.clone());
        let (pinned, started) = std::sync::mpsc::sync_channel(1);
        let cores = cores.to_vec();
        let thread = thread::Builder::new().name("fhgate-canary".into()).spawn(move || {
            if !cores.is_empty() {
                if let Err(e) = set_affinity(&cores) {
                    let why = format!("control.canary_cores {cores:?}: {e}");
                    if policy == PinPolicy::Strict {
                        let _ = pinned.send(Err(why));
                        return;
                    }
                    tracing::warn!("{why}: with pin = \"best-effort\" the canary's shadow thread runs unpinned");
                }
            }
            let _ = pinned.send(Ok(()));
            run(pairs, feeds, &s, &t)
        })?;
        match started.recv() {
            Ok(Ok(())) => Ok(Shadow { stop, thread: Some(thread), bound, tally, taps }),
            Ok(Err(why)) => {
                let _ = thread.join();
                Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, why))
            }
            Err(_) => Err(std::io::Error::other("the shadow thread ended before it started")),
        }
    }

    /// Sampled and dropped packets over every tap.
    pub fn tap_totals(&self) -> (u64, u64) {
        self.taps.iter().fold((0, 0), |(s, d), c| (s + c.sampled.load(Ordering::Relaxed), d + c.dropped.load(Ordering::Relaxed)))
    }

    /// A copy of the comparison so far.
    pub fn tally(&self) -> Tally {
        self.tally.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

impl Shadow {
    /// Stops the thread and joins it, waiting at most the bound given at
    /// start (it looks at stop after every copy, and a copy ends by the
    /// chains' deadlines). Returns whether it was joined: if not, it is
    /// left to end by itself after its copy, which is not counted.
    pub fn finish(&mut self) -> bool {
        self.stop.store(true, Ordering::Relaxed);
        let Some(t) = self.thread.take() else { return true };
        let t0 = Instant::now();
        while !t.is_finished() && t0.elapsed() < self.bound {
            thread::sleep(Duration::from_micros(200));
        }
        if !t.is_finished() {
            tracing::warn!("canary: the shadow thread is still in a copy after {:?}; it is left to end by itself", self.bound);
            return false;
        }
        let _ = t.join();
        true
    }
}

impl Drop for Shadow {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The shadow thread's nice value: below the workers and the control
/// loop, so where it shares a core with them it gets that core's spare
/// time first (about a tenth against one busy thread), yet still makes
/// progress on a loaded machine, where SCHED_IDLE would starve it.
pub const NICE: i32 = 10;

fn run(mut pairs: Vec<Pair>, mut feeds: Vec<(usize, ShadowFeed)>, stop: &AtomicBool, tally: &Mutex<Tally>) {
    // SAFETY: setpriority with who = 0 changes only the calling thread on
    // Linux (threads have their own nice value); it takes no pointers.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, NICE) } != 0 {
        tracing::warn!("canary: cannot lower the shadow thread's priority: {}", std::io::Error::last_os_error());
    }
    // A one-packet burst's outputs (at most BURST_CAPACITY), a copy, and the tap's buffer back.
    let mut pool = BufPool::new(BURST_CAPACITY + 8);
    let mut bursts = (Burst::new(), Burst::new());
    let mut input = Vec::new();
    let mut next = 0;
    // Stop is looked at, and the tally published, after every copy: a copy
    // takes at most the chains' deadlines, so faults show (and auto abort
    // fires) at once and an abort or promotion waits for one copy at most.
    while !stop.load(Ordering::Relaxed) {
        // The taps in turn, so a busy one does not starve the others.
        let n = feeds.len();
        let Some((i, f)) = (0..n).map(|k| (next + k) % n).find_map(|i| feeds[i].1.frames.pop().ok().map(|f| (i, f))) else {
            thread::sleep(Duration::from_micros(200));
            continue;
        };
        next = i + 1;
        let (d, feed) = &mut feeds[i];
        let pair = &mut pairs[*d];
        let local = compare(pair, feed, f, &mut pool, &mut bursts, &mut input);
        let faults = |c: &Control| crate::translate::summary::summarize([c]).iter().map(|s| s.faults()).sum::<u64>();
        // What a fault replaced is dropped here, off the workers.
        pair.active.1.reap();
        pair.candidate.1.reap();
        let (fa, fb) = (pairs.iter().map(|p| faults(&p.active.1)).sum(), pairs.iter().map(|p| faults(&p.candidate.1)).sum());
        if let Ok(mut t) = tally.lock() {
            add(&mut t, local);
            (t.active_faults, t.candidate_faults) = (fa, fb);
        }
    }
}

/// Runs one copy through both chains of `pair` and compares the outputs.
fn compare(pair: &mut Pair, feed: &mut ShadowFeed, f: crate::translate::shadow::ShadowFrame, pool: &mut BufPool, (a, b): &mut (Burst, Burst), input: &mut Vec<u8>) -> Tally {
    let mut local = Tally::default();
    // The tap gets a buffer back for each copy it gave.
    let (Some(back), Some(mut copy)) = (pool.get(), pool.get()) else {
        local.no_buffer += 1;
        let _ = feed.free.push(f.buf);
        return local;
    };
    let _ = feed.free.push(back);
    copy.bytes_mut()[..f.len].copy_from_slice(&f.buf.bytes()[..f.len]);
    input.clear();
    input.extend_from_slice(&f.buf.bytes()[..f.len]);
    let mut pa = Packet::new(f.buf, f.len, &pair.decode, f.port_direction);
    let mut pb = Packet::new(copy, f.len, &pair.decode, f.port_direction);
    (pa.time_ns, pb.time_ns) = (f.time_ns, f.time_ns);
    let _ = a.push(pa);
    let _ = b.push(pb);
    let t0 = Instant::now();
    pair.active.0.process(a, pool);
    let t1 = Instant::now();
    pair.candidate.0.process(b, pool);
    local.active_ns += (t1 - t0).as_nanos() as u64;
    local.candidate_ns += t1.elapsed().as_nanos() as u64;
    local.packets += 1;
    let (va, vb) = (verdict(a.packets(), input), verdict(b.packets(), input));
    if va != vb {
        local.mismatches += 1;
        local.mismatch_examples.push(format!("{} at {} ns: active {va:?}, candidate {vb:?}", flow_name(input, &pair.decode, f.port_direction), f.time_ns));
    }
    // Each side decoded with its chain's output decoding, as `fhgate diff` would.
    let route = |burst: &Burst| burst.packets().first().map_or(u16::MAX, |p| p.route);
    let (da, db) = (pair.active.0.output_decode(route(a)), pair.candidate.0.output_decode(route(b)));
    let (xa, xb): (Vec<Captured>, Vec<Captured>) = (a.packets().iter().map(captured).collect(), b.packets().iter().map(captured).collect());
    a.recycle(pool);
    b.recycle(pool);
    local.flows = crate::diff::diff(&xa, &xb, &DiffOptions::new(da, db)).flows;
    local
}

fn verdict(out: &[Packet], input: &[u8]) -> Verdict {
    match out {
        [] => Verdict::Dropped,
        [p] if p.data() == input => Verdict::Forwarded,
        [_] => Verdict::Modified,
        more => Verdict::Extras(more.len() - 1),
    }
}

fn captured(p: &Packet) -> Captured {
    let data = p.data().to_vec();
    Captured { timestamp: Duration::from_nanos(p.time_ns), orig_len: data.len() as u32, data }
}

/// `dl U eAxC 0x0001` for a mismatch's example.
fn flow_name(frame: &[u8], decode: &DecodeConfig, dir: u8) -> String {
    match crate::classify::classify(frame, decode, dir) {
        Some(d) => format!("{} {} eAxC 0x{:04x}", if d.direction() == 1 { "dl" } else { "ul" }, if d.plane() == 0 { "U" } else { "C" }, d.eaxc()),
        None => "a packet".into(),
    }
}

/// Adds one batch's comparison to the total.
fn add(t: &mut Tally, l: Tally) {
    t.packets += l.packets;
    t.mismatches += l.mismatches;
    let room = MAX_EXAMPLES.saturating_sub(t.mismatch_examples.len());
    t.mismatch_examples.extend(l.mismatch_examples.into_iter().take(room));
    t.active_ns += l.active_ns;
    t.candidate_ns += l.candidate_ns;
    t.no_buffer += l.no_buffer;
    for (id, f) in l.flows {
        merge(t.flows.entry(id).or_default(), &f);
    }
}

/// Adds `o` (a later comparison of the same flow) to `f`.
fn merge(f: &mut FlowReport, o: &FlowReport) {
    f.messages_a += o.messages_a;
    f.messages_b += o.messages_b;
    f.matched += o.matched;
    f.missing += o.missing;
    f.extra += o.extra;
    for (k, n) in &o.fields {
        *f.fields.entry(k.clone()).or_default() += n;
    }
    f.iq.merge(&o.iq);
}
