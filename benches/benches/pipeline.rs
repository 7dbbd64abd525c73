//! The whole pipeline (issue #4): `fhgate::pipeline::runner`, fed by an
//! in-memory port (`fhgate::io::memory`) and drained into a counting
//! sink, so what is measured is the gateway and not a NIC or a file.
//!
//! Every case runs in both threadings, in the same process so their
//! ratio is fair on a noisy machine: `rtc` (run to completion: one thread
//! receives, translates and sends each burst) and `pipelined` (RX, one
//! worker and TX threads joined by rings: three busy threads on however
//! many cores the machine has). Cases:
//! - `passthrough/1488B`: no translator, DL U-plane frames of 52 BFP-9 PRBs
//!   (1 488 bytes, the largest that fit a 1 500-byte MTU), 4 eAxCs;
//! - `bfp_width_9_12/8970B`: `bfp_width.wasm` re-compressing BFP 9 → 12,
//!   frames of 319 PRBs in two sections (8 970 bytes in, 11 841 out),
//!   egress MTU 16 000 so nothing splits;
//! - `passthrough_timed/1488B` (issue 14): the pass-through case with
//!   `[timing]` on, every message timed against its OTA symbol and
//!   classified against receive windows: its cost beside `passthrough`;
//! - `site_mixed/1488B` (issue 14): the pass-through case's eCPRI frames
//!   with, after every 8th, a PTP Sync over L2 and a 1 488-byte IPv4/TCP
//!   frame (the M-plane), with the transparent clock on. Its summary
//!   gives the eCPRI rate beside the pure case's, the cost of one
//!   non-eCPRI frame, and the PTP residence time p50/p99.
//!
//! Each criterion iteration is one pipeline run over a fixed number of
//! frames, timed from the first frame received to the last burst sent
//! (`iter_custom`; start-up and join are not timed). Criterion's `elem/s`
//! is frames per second. The summary printed per case gives the medians
//! over runs: Mpps, Gbps of input, both per worker core, the added
//! latency (`Stats.latency`, RX burst to TX flush) p50 / p90 / p99 /
//! p99.9, and the CPU time per frame of each thread. A run at full speed
//! keeps the rings full, so its latency is queueing; the paced runs
//! release frames at fixed rates below saturation and measure the
//! pipeline itself, and also time each frame from when it was due at the
//! port (so a wait in the port, which `Stats.latency` does not see, counts).
//!
//! Targets (medians): pass-through ≥ 8 Mpps per worker core; bfp_width
//! 9 → 12 ≥ 25 Gbps of input per worker core; added latency p99 ≤ 10 µs.
//! The last line printed is how often the machine itself takes a core
//! away from a spinning thread (`platform_stalls`): on a VM that is
//! hundreds of times a second for tens of µs, a floor under the paced p99.
//!
//! `FHGATE_BENCH_CASES=canary` (issue 15) runs `passthrough` and
//! `bfp_width` run to completion without a canary, with one sampling
//! 1/16 and 1/1, interleaved in the same run: the cost of a canary to the
//! active path (the tap on the worker; the shadow thread shares the
//! machine's cores), with what the taps sampled, dropped and the shadow
//! compared; once with the other core idle and once with it busy, which
//! separates the canary's own cost from what any busy neighbour costs on
//! a VM. The studies live in `pipeline/studies.rs`.
//!
//! Run: `cargo bench -p fhgate-benches --bench pipeline` (after
//! `scripts/build-translators`; `FHGATE_BFP_WASM=path` picks another
//! bfp_width module, `FHGATE_BENCH_RING=n` another ring size than the
//! default 4096, `FHGATE_BENCH_CORES=1` pins the worker to core 1).

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[path = "pipeline/studies.rs"]
mod studies;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use ecpri::frame::DecodeConfig;
use ecpri::uplane::CompHdrMode;
use ecpri::{CompMethod, UdCompHdr};
use fhgate::io::memory::{MemoryRx, MemoryTx};
use fhgate::pipeline::egress::EgressConfig;
use fhgate::pipeline::polling::Polling;
use fhgate::pipeline::runner::{start, DirectionSpec, Threading};
use fhgate::timing::live::{IngressTiming, Side};
use fhgate::timing::{Bounds, OtaClock};
use fhgate::traffic::{self, CarrierSpec};
use fhgate::translate::{parse_config_pairs, ChainSpec, Limits, Runtime, RuntimeConfig, Selector, TranslatorModule, TranslatorSpec};

/// Worker threads (this is a 2-core machine: RX, one worker and TX).
const WORKERS: usize = 1;
/// Frames in the prepared set each run cycles through.
const SET: usize = 1024;

/// Slots per ring: the config default, or `FHGATE_BENCH_RING`.
fn ring_size() -> usize {
    std::env::var("FHGATE_BENCH_RING").ok().and_then(|v| v.parse().ok()).unwrap_or(4096)
}

fn decode(width: u8) -> DecodeConfig {
    let comp = UdCompHdr::new(CompMethod::Bfp, width);
    DecodeConfig { dl_comp: comp, ul_comp: comp, comp_hdr: CompHdrMode::Present, ..DecodeConfig::default() }
}

/// One benchmark case: frames, how they are decoded on the way in and
/// out, the chains, and what the sink must see.
struct Case {
    name: &'static str,
    frames: Arc<[Vec<u8>]>,
    /// Frames per timed run.
    total: u64,
    /// Frames per second of the paced latency runs.
    paced_pps: Vec<f64>,
    decode: DecodeConfig,
    egress: EgressConfig,
    chains: Vec<ChainSpec>,
    /// Length every output frame must have.
    out_len: usize,
    /// Receive-window classification on ingress (`[timing]`), if any.
    timing: Option<IngressTiming>,
    /// Non-fronthaul handling (the transparent clock runs when `live_clock`).
    bridge: fhgate::bridge::BridgeSpec,
    /// Which frames of the set are eCPRI (the rest are bridged).
    ecpri: Arc<[bool]>,
}

/// Latency quantiles of one run, µs: p50, p90, p99, p99.9.
#[derive(Debug, Clone, Copy)]
struct Quantiles([f64; 4]);

impl Quantiles {
    /// From a histogram's `value_at_quantile`, in ns.
    fn of(at: impl Fn(f64) -> u64) -> Self {
        Quantiles([0.5, 0.9, 0.99, 0.999].map(|q| at(q) as f64 / 1e3))
    }

    /// Medians over runs, as text.
    fn summary<'a>(runs: impl Iterator<Item = &'a Quantiles> + Clone) -> String {
        let m = |i: usize| median(runs.clone().map(|q| q.0[i]).collect());
        format!("p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs", m(0), m(1), m(2), m(3))
    }
}

/// What one run measured.
#[derive(Debug, Clone, Copy)]
struct Run {
    secs: f64,
    pps: f64,
    gbps_in: f64,
    /// Added latency as the pipeline counts it (`Stats.latency`): from
    /// the RX burst that took the frame to the TX flush that sent it.
    added: Quantiles,
    /// Paced runs: from when the frame was due at the port to that flush,
    /// so time spent waiting in the port counts too.
    wire: Option<Quantiles>,
    /// CPU time per frame of the RX, worker and TX threads, ns (busy
    /// polling included).
    cpu_ns: [f64; 3],
    /// Share of the frames that were eCPRI.
    ecpri_share: f64,
    /// PTP residence time (DL) as the transparent clock added it, when any.
    residence: Option<Quantiles>,
}

/// CPU time of the pipeline's threads (RX, worker 0, TX), read from
/// /proc/self/task/*/schedstat every few ms while a run goes: a thread's
/// last reading before it exits (so up to one period short).
struct CpuWatch {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<[u64; 3]>,
}

impl CpuWatch {
    fn start() -> CpuWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            // RX, worker, TX; a run-to-completion thread counts as the worker.
            let mut last = [0u64; 3];
            loop {
                let done = s.load(Ordering::Acquire);
                for e in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
                    let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
                    let Some(i) = ["fhgate-bench-rx", "fhgate-bench-w0", "fhgate-bench-tx", "fhgate-bench"].iter().position(|n| comm.trim() == *n) else { continue };
                    let i = if i == 3 { 1 } else { i };
                    let stat = std::fs::read_to_string(e.path().join("schedstat")).unwrap_or_default();
                    if let Some(ns) = stat.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()) {
                        last[i] = last[i].max(ns);
                    }
                }
                if done {
                    return last;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        CpuWatch { stop, thread }
    }

    fn finish(self) -> [u64; 3] {
        self.stop.store(true, Ordering::Release);
        self.thread.join().unwrap_or_default()
    }
}

impl Case {
    fn in_bytes(&self) -> u64 {
        self.frames.iter().map(|f| f.len() as u64).sum::<u64>() / self.frames.len() as u64
    }

    fn run(&self, threading: Threading, pace: Option<f64>, total: u64) -> Run {
        self.run_with(threading, WORKERS, Polling::Busy, pace, total, None).0
    }

    /// One run with `workers` workers and `polling`; with `open_for` the
    /// port stays open that long (idle once its frames are out). Also
    /// returns the process's CPU time (getrusage) per second of wall time
    /// from start to join.
    fn run_with(&self, threading: Threading, workers: usize, polling: Polling, pace: Option<f64>, total: u64, open_for: Option<Duration>) -> (Run, f64) {
        let mut rx = MemoryRx::new(self.frames.clone(), total);
        if let Some(pps) = pace {
            rx = rx.paced(pps);
        }
        if let Some(d) = open_for {
            rx = rx.open_for(d);
        }
        let started = rx.started();
        let all_ecpri = self.ecpri.iter().all(|e| *e);
        // Decoding checks only where every frame is eCPRI.
        let mut tx = if all_ecpri { MemoryTx::new().checking(4099, self.egress.decode) } else { MemoryTx::new() };
        if pace.is_some() {
            tx = tx.timing();
        }
        let sink = tx.shared();
        let spec = DirectionSpec {
            name: "bench".into(),
            rx: Box::new(rx),
            tx: Box::new(tx),
            lanes: Vec::new(),
            tap: None,
            decode: self.decode,
            port_direction: 1,
            egress: self.egress,
            chains: self.chains.clone(),
            workers,
            cores: fhgate::pipeline::pinning::CoreSet::workers(
                std::env::var("FHGATE_BENCH_CORES").map(|v| v.split(',').filter_map(|c| c.parse().ok()).collect()).unwrap_or_default(),
                fhgate::pipeline::pinning::PinPolicy::Strict,
            ),
            polling,
            burst: 32,
            ring_size: ring_size(),
            threading,
            bridge: self.bridge,
            timing: self.timing,
            owd: Default::default(),
        };
        let canary = studies::canary(&self.chains, self.decode, workers);
        // The thread watch reads /proc every 5 ms: not while CPU is measured.
        let watch = open_for.is_none().then(CpuWatch::start);
        let (cpu0, wall0) = (studies::cpu_time(), std::time::Instant::now());
        let mut running = start(spec).expect("start");
        let shadow = canary.map(|(shadow, taps)| {
            studies::install_taps(&mut running, taps);
            shadow
        });
        let stats = running.join().expect("join");
        if let Some(s) = shadow {
            let (sampled, dropped) = s.tap_totals();
            *studies::CANARY_SEEN.lock().unwrap() = (sampled, dropped, s.tally().packets);
        }
        let cpu_per_wall = (studies::cpu_time() - cpu0).as_secs_f64() / wall0.elapsed().as_secs_f64();
        let cpu = watch.map_or([0; 3], CpuWatch::finish);
        let r = sink.report();
        let ecpri_total = (0..total).filter(|i| self.ecpri[*i as usize % self.ecpri.len()]).count() as u64;
        assert_eq!(stats.totals(), (ecpri_total, ecpri_total), "{}: every eCPRI frame in and out", self.name);
        assert_eq!((r.packets, r.invalid), (total, 0), "{}: {:?}", self.name, r.first_error);
        assert!(stats.egress_errors.is_empty() && stats.malformed.is_empty(), "{}: {stats:?}", self.name);
        if all_ecpri && r.bytes != total * self.out_len as u64 {
            eprintln!("{}: {} bytes out, {} expected: some frames were not translated (faults?)", self.name, r.bytes, total * self.out_len as u64);
        }
        let secs = match (sink.last_flush(), started.get()) {
            (Some(end), Some(start)) => (end - *start).as_secs_f64().max(1e-9),
            _ => wall0.elapsed().as_secs_f64(),
        };
        let run = Run {
            secs,
            pps: total as f64 / secs,
            gbps_in: (total * self.in_bytes()) as f64 * 8.0 / secs / 1e9,
            added: Quantiles::of(|q| stats.latency.value_at_quantile(q)),
            wire: sink.latency().map(|h| Quantiles::of(|q| h.value_at_quantile(q))),
            cpu_ns: cpu.map(|ns| ns as f64 / total as f64),
            ecpri_share: ecpri_total as f64 / total as f64,
            residence: (!stats.bridge.residence[1].is_empty()).then(|| Quantiles::of(|q| stats.bridge.residence[1].value_at_quantile(q))),
        };
        (run, cpu_per_wall)
    }
}

/// The first worker's core, when `FHGATE_BENCH_CORES` pins the workers.
fn worker_core() -> Option<usize> {
    std::env::var("FHGATE_BENCH_CORES").ok()?.split(',').next()?.parse().ok()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn summary(label: &str, runs: &[Run]) {
    let m = |f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
    let w = WORKERS as f64;
    println!(
        "{label}: {:.2} Mpps, {:.1} Gbps in per worker core ({} worker, {} cores); added latency {} (medians of {} runs)",
        m(|r| r.pps) / 1e6 / w,
        m(|r| r.gbps_in) / w,
        WORKERS,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        Quantiles::summary(runs.iter().map(|r| &r.added)),
        runs.len()
    );
    let wire: Vec<&Quantiles> = runs.iter().filter_map(|r| r.wire.as_ref()).collect();
    if !wire.is_empty() {
        println!("{label}: latency from when each frame was due at the port {}", Quantiles::summary(wire.iter().copied()));
    }
    if runs[0].ecpri_share < 1.0 {
        println!("{label}: eCPRI {:.2} Mpps of {:.2} Mpps ({:.1} % of the frames)", m(|r| r.pps * r.ecpri_share) / 1e6, m(|r| r.pps) / 1e6, runs[0].ecpri_share * 100.0);
    }
    let res: Vec<&Quantiles> = runs.iter().filter_map(|r| r.residence.as_ref()).collect();
    if !res.is_empty() {
        println!("{label}: PTP residence time (added to correctionField) {}", Quantiles::summary(res.iter().copied()));
    }
    let cpu = |i: usize| median(runs.iter().map(|r| r.cpu_ns[i]).collect());
    let cores = median(runs.iter().map(|r| r.cpu_ns.iter().sum::<f64>() * r.pps / 1e9).collect());
    println!(
        "{label}: CPU per frame: RX {:.0} ns, worker {:.0} ns, TX {:.0} ns (busy polling included); {cores:.2} cores busy",
        cpu(0),
        cpu(1),
        cpu(2)
    );
}

/// What a non-eCPRI frame costs, from the same run's pure and mixed cases
/// at full speed: the mixed run's time less its eCPRI frames at the pure
/// run's rate, per non-eCPRI frame.
fn site_cost(results: &[(String, Vec<Run>)]) {
    for mode in ["rtc", "pipelined"] {
        let find = |case: &str| results.iter().find(|(l, _)| l == &format!("{case} {mode} full speed")).map(|(_, r)| r);
        let (Some(pure), Some(mixed)) = (find("passthrough/1488B"), find("site_mixed/1488B")) else { continue };
        let pure_pps = median(pure.iter().map(|r| r.pps).collect());
        let mixed_pps = median(mixed.iter().map(|r| r.pps).collect());
        let share = mixed[0].ecpri_share;
        let ns_per_frame = 1e9 / mixed_pps;
        let cost = (ns_per_frame - share * 1e9 / pure_pps) / (1.0 - share);
        println!(
            "site {mode}: eCPRI alone {:.2} Mpps; with {:.0} % non-eCPRI frames eCPRI {:.2} Mpps ({:.2} Mpps in all); one non-eCPRI frame costs {cost:.0} ns against {:.0} ns for an eCPRI frame",
            pure_pps / 1e6,
            (1.0 - share) * 100.0,
            mixed_pps * share / 1e6,
            mixed_pps / 1e6,
            1e9 / pure_pps
        );
    }
}

/// The machine's own stalls: a thread that does nothing but read the
/// clock for `secs` (on the worker's core when `FHGATE_BENCH_CORES` pins
/// it) counts the gaps between two reads longer than 10, 20 and 40 µs.
/// Such a gap is time the core was taken away (interrupts, a hypervisor);
/// a frame due during it waits whatever the pipeline does, which puts a
/// floor under the paced runs' p99.
fn platform_stalls(secs: f64) -> String {
    if let Some(id) = worker_core() {
        core_affinity::set_for_current(core_affinity::CoreId { id });
    }
    let t0 = std::time::Instant::now();
    let (mut last, mut gaps, mut stalled) = (t0, [0u64; 3], Duration::ZERO);
    while t0.elapsed().as_secs_f64() < secs {
        let now = std::time::Instant::now();
        let d = now - last;
        for (g, us) in gaps.iter_mut().zip([10, 20, 40]) {
            *g += (d > Duration::from_micros(us)) as u64;
        }
        if d > Duration::from_micros(10) {
            stalled += d;
        }
        last = now;
    }
    let per_s = |g: u64| g as f64 / secs;
    format!(
        "platform stalls of a spinning thread: {:.0}/s > 10 µs, {:.0}/s > 20 µs, {:.0}/s > 40 µs; {:.2}% of the time",
        per_s(gaps[0]),
        per_s(gaps[1]),
        per_s(gaps[2]),
        stalled.as_secs_f64() / secs * 100.0
    )
}

/// 52-PRB BFP-9 DL U-plane frames for 4 antennas: 1 488 bytes each.
fn passthrough() -> Case {
    let d = decode(9);
    let spec = CarrierSpec { prbs: 260, antennas: 4, mtu: 1500, slots: 40, ..CarrierSpec::default() };
    let frames: Vec<Vec<u8>> = traffic::generate(&spec)
        .expect("generate")
        .into_iter()
        .map(|f| f.data)
        .filter(|f| fhgate::classify::classify(f, &d, 1).is_some_and(|c| c.plane() == 0))
        .take(SET)
        .collect();
    assert!(frames.len() == SET && frames.iter().all(|f| f.len() == 1488));
    Case {
        name: "passthrough/1488B",
        out_len: 1488,
        frames: frames.into(),
        total: 1_000_000,
        paced_pps: vec![2.5e5, 1e6],
        decode: d,
        egress: EgressConfig::new(1500, d),
        chains: Vec::new(),
        timing: None,
        bridge: Default::default(),
        ecpri: vec![true; SET].into(),
    }
}

/// The passthrough case with every message timed against its OTA symbol
/// and classified (`[timing]`): its cost beside `passthrough` in one run.
fn passthrough_timed() -> Case {
    let b = |min_us, max_us| Some(Bounds { min_us, max_us });
    let windows = [b(258, 470), b(285, 429), b(50, 196), b(25, 300)];
    Case {
        name: "passthrough_timed/1488B",
        timing: Some(IngressTiming::new(OtaClock::default(), 1, Side::Du, windows)),
        ..passthrough()
    }
}

/// The pass-through case's frames with, after every 8th, a PTP Sync over
/// L2 (60 bytes) and a 1 488-byte IPv4/TCP frame: 20 % of the frames are
/// not eCPRI. The transparent clock runs (the memory port's receive
/// times are this host's clock).
fn site_mixed() -> Case {
    let base = passthrough();
    let mut sync = vec![0x01, 0x1B, 0x19, 0, 0, 0, 0x02, 0, 0, 0, 0, 1, 0x88, 0xF7];
    let mut m = vec![0u8; 44];
    m[1] = 2; // versionPTP 2, messageType 0 (Sync)
    m[3] = 44;
    sync.extend(m);
    sync.resize(60, 0);
    let mut tcp = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
    tcp.extend([0x45, 0, 0x05, 0xC2, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 77, 0, 1, 10, 77, 0, 2]);
    tcp.resize(1488, 0x5A);
    let (mut frames, mut ecpri) = (Vec::new(), Vec::new());
    for (i, f) in base.frames.iter().enumerate() {
        frames.push(f.clone());
        ecpri.push(true);
        if i % 8 == 7 {
            frames.extend([sync.clone(), tcp.clone()]);
            ecpri.extend([false, false]);
        }
    }
    Case {
        name: "site_mixed/1488B",
        frames: frames.into(),
        ecpri: ecpri.into(),
        bridge: fhgate::bridge::BridgeSpec { live_clock: true, ..Default::default() },
        ..base
    }
}

/// 319-PRB BFP-9 frames in two sections, 4 eAxCs with running sequence
/// IDs: 8 970 bytes each; bfp_width 9 → 12 makes them 11 841.
fn bfp_width() -> Case {
    let path = std::env::var_os("FHGATE_BFP_WASM").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/translators/bfp_width.wasm")
    });
    let rt = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let module = TranslatorModule::load_file(&rt, &path)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/build-translators)", path.display()));
    let cfg = parse_config_pairs("in_width=9,out_width=12,carrier_prbs=319").expect("config");
    // The default 1 ms deadline is wall-clock: on this 2-core machine the
    // worker shares its core with RX, TX and whatever else runs, and a call
    // preempted for a time slice would fault. This bench measures speed.
    let limits = Limits { deadline: Duration::from_millis(100), ..Limits::default() };
    let spec = TranslatorSpec::new(module).with_config(&cfg).with_limits(limits);
    let chains = vec![ChainSpec { selector: Selector::ALL, translators: vec![Arc::new(spec)] }];
    let base = ecpri::samples::uplane_frame(UdCompHdr::new(CompMethod::Bfp, 9), true, &[(0, 160), (160, 159)]).expect("frame");
    let frames: Vec<Vec<u8>> = (0..SET)
        .map(|i| {
            let mut f = base.clone();
            // ecpriPcid (eAxC) at 18..20, ecpriSeqid at 20.
            f[18..20].copy_from_slice(&((i % 4) as u16).to_be_bytes());
            f[20] = (i / 4) as u8;
            f
        })
        .collect();
    assert_eq!(base.len(), 8970);
    // 319 PRBs make the 8 970-byte jumbo frame this case has always
    // measured; declare that carrier, since sections past it are malformed.
    let carrier = |d: DecodeConfig| DecodeConfig { carrier_prbs: 319, ..d };
    let d = carrier(decode(9));
    Case {
        name: "bfp_width_9_12/8970B",
        out_len: 8970 + 319 * 9,
        frames: frames.into(),
        total: 60_000,
        paced_pps: vec![2.5e4, 1e5],
        decode: d,
        egress: EgressConfig::new(16_000, carrier(decode(12))),
        chains,
        timing: None,
        bridge: Default::default(),
        ecpri: vec![true; SET].into(),
    }
}

fn bench(c: &mut Criterion) {
    // `FHGATE_BENCH_CASES=workers` or `polling` runs only those studies.
    let only = std::env::var("FHGATE_BENCH_CASES").unwrap_or_default();
    if only.split(',').any(|x| x == "workers") {
        studies::workers_scaling();
    }
    if only.split(',').any(|x| x == "polling") {
        studies::polling_load();
    }
    if only.split(',').any(|x| x == "canary") {
        studies::canary_cost();
    }
    if only.split(',').any(|x| x == "workers" || x == "polling" || x == "canary") {
        return;
    }
    let mut results = Vec::new();
    // One case at a time: bfp_width's runtime (and its epoch ticker
    // thread, which wakes every 100 µs) exists only while its case runs.
    let cases: Vec<fn() -> Case> = match std::env::var("FHGATE_BENCH_CASES") {
        // `FHGATE_BENCH_CASES=passthrough,site_mixed` runs only those (by name prefix).
        Ok(names) => [("passthrough", passthrough as fn() -> Case), ("passthrough_timed", passthrough_timed), ("bfp_width", bfp_width), ("site_mixed", site_mixed)]
            .into_iter()
            .filter(|(n, _)| names.split(',').any(|x| x == *n))
            .map(|(_, f)| f)
            .collect(),
        Err(_) => vec![passthrough, passthrough_timed, site_mixed, bfp_width],
    };
    for make in cases {
        let case = make();
        for (group, paced, threading) in [
            ("pipeline", false, Threading::RunToCompletion),
            ("pipeline", false, Threading::Pipelined),
            ("pipeline_paced", true, Threading::RunToCompletion),
            ("pipeline_paced", true, Threading::Pipelined),
        ] {
            let mode = match threading {
                Threading::RunToCompletion => "rtc",
                Threading::Pipelined => "pipelined",
            };
            let mut g = c.benchmark_group(group);
            g.sampling_mode(SamplingMode::Flat).sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
            let paces: Vec<Option<f64>> = if paced { case.paced_pps.iter().map(|&p| Some(p)).collect() } else { vec![None] };
            for pace in paces {
                // Paced: half a second of frames per run.
                let total = pace.map_or(case.total, |pps| (pps / 2.0) as u64);
                let runs = RefCell::new(Vec::new());
                g.throughput(Throughput::Elements(total));
                let (name, len) = case.name.split_once('/').unwrap_or((case.name, ""));
                let id = match pace {
                    Some(pps) => format!("{mode}/{len}@{:.0}kpps", pps / 1e3),
                    None => format!("{mode}/{len}"),
                };
                g.bench_function(BenchmarkId::new(name, &id), |b| {
                    b.iter_custom(|iters| {
                        let mut t = Duration::ZERO;
                        for _ in 0..iters {
                            let r = case.run(threading, pace, total);
                            t += Duration::from_secs_f64(r.secs);
                            runs.borrow_mut().push(r);
                        }
                        t
                    })
                });
                let runs = runs.into_inner();
                if !runs.is_empty() {
                    let how = match pace {
                        Some(pps) => format!("paced at {:.0} kpps", pps / 1e3),
                        None => "full speed".into(),
                    };
                    results.push((format!("{} {mode} {how}", case.name), runs));
                }
            }
            g.finish();
        }
    }
    for (label, runs) in &results {
        summary(label, runs);
    }
    site_cost(&results);
    println!("{}", platform_stalls(2.0));
}

criterion_group!(benches, bench);
criterion_main!(benches);
