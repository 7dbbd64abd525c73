//! The pipeline bench's studies, each run alone by `FHGATE_BENCH_CASES`:
//! `workers` (issue 16 §1), `polling` (issue 16 §3) and `canary`
//! (issue 15). They print figures and assert nothing.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ecpri::frame::DecodeConfig;
use fhgate::control::canary::shadow::{Pair, Shadow};
use fhgate::control::canary::TAP_SLOTS;
use fhgate::pipeline::pinning::PinPolicy;
use fhgate::pipeline::polling::Polling;
use fhgate::pipeline::runner::{Running, Threading};
use fhgate::translate::shadow::{link, Sample, ShadowFeed, ShadowTap};
use fhgate::translate::{ChainSpec, WorkerHost};

use super::{bfp_width, median, passthrough, worker_core, Case, Quantiles, Run};

/// CPU time of this process, user and system (getrusage RUSAGE_SELF).
pub(super) fn cpu_time() -> Duration {
    rusage(libc::RUSAGE_SELF)
}

/// CPU time, user and system, of `who` (getrusage).
fn rusage(who: libc::c_int) -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut u) };
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// Issue 16 §1: 1, 2 and 4 pipelined workers in one run, on the
/// pass-through frames (4 eAxCs, even) and on a skewed mix where 7 of
/// every 8 frames are one eAxC (flow affinity sends them all to one
/// worker). Prints total Mpps and Mpps per worker core; no assertions.
pub(super) fn workers_scaling() {
    let even = passthrough();
    let mut skewed: Vec<Vec<u8>> = even.frames.to_vec();
    for (i, f) in skewed.iter_mut().enumerate() {
        // ecpriPcid at 18..20 (untagged): eAxC 0 hot, 1-3 take the rest.
        let eaxc = if i % 8 == 7 { 1 + (i / 8) % 3 } else { 0 } as u16;
        f[18..20].copy_from_slice(&eaxc.to_be_bytes());
    }
    let skewed = Case { name: "skewed/1488B", frames: skewed.into(), ..passthrough() };
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    for case in [&even, &skewed] {
        let mut base = None;
        for workers in [1, 2, 4] {
            let runs: Vec<Run> = (0..5).map(|_| case.run_with(Threading::Pipelined, workers, Polling::Busy, None, 300_000, None).0).collect();
            let pps = median(runs.iter().map(|r| r.pps).collect());
            let b = *base.get_or_insert(pps);
            println!(
                "workers {}: {workers} worker(s): {:.2} Mpps in all, {:.2} Mpps per worker core ({:.2}x one worker; {cores} cores for RX, TX and the workers); added latency {} (medians of 5)",
                case.name,
                pps / 1e6,
                pps / 1e6 / workers as f64,
                pps / b,
                Quantiles::summary(runs.iter().map(|r| &r.added)),
            );
        }
    }
}

/// Issue 16 §3: offered load 0, 1, 10, 50 and 100 % of the one-core rate
/// (run to completion, busy polling, full speed, measured first) through
/// the in-memory pipeline for 1 s each, busy and adaptive polling, and
/// adaptive coalescing for 20, 50, 100 and 200 µs (`coalesce_us`): CPU
/// time per wall second (getrusage) and the latency from when each frame
/// was due at the port to the flush that sent it, p50 / p99. The goals
/// are printed beside the figures; nothing is asserted. First, what one
/// timed sleep costs on this machine ([`platform_naps`]): no nap can cost
/// less, whatever the pipeline does.
pub(super) fn polling_load() {
    for us in [20, 50, 100] {
        println!("{}", platform_naps(Duration::from_micros(us)));
    }
    let case = passthrough();
    let full: Vec<f64> = (0..5).map(|_| case.run_with(Threading::RunToCompletion, 1, Polling::Busy, None, 500_000, None).0.pps).collect();
    let rate = median(full);
    println!("polling: one-core rate (run to completion, busy, full speed) {:.2} Mpps", rate / 1e6);
    let adaptive = Polling::default();
    let secs = 1.0;
    let mut p99 = std::collections::BTreeMap::new();
    for load in [0.0, 0.01, 0.1, 0.5, 1.0] {
        let coalesce = |us| Polling::Adaptive { sleep_after: fhgate::pipeline::polling::DEFAULT_SLEEP_AFTER, coalesce: Duration::from_micros(us) };
        for (mode, polling) in [("busy", Polling::Busy), ("adaptive", adaptive), ("coalesce 20 µs", coalesce(20)), ("coalesce 50 µs", coalesce(50)), ("coalesce 100 µs", coalesce(100)), ("coalesce 200 µs", coalesce(200))] {
            let pps = (rate * load).max(1.0);
            let total = if load == 0.0 { 0 } else { (pps * secs) as u64 };
            let (r, cpu) = case.run_with(Threading::RunToCompletion, 1, polling, Some(pps), total, Some(Duration::from_secs_f64(secs)));
            let lat = r.wire.filter(|_| total > 0);
            if let Some(q) = lat {
                p99.insert((mode, (load * 100.0) as u32), q.0[2]);
            }
            println!(
                "polling {mode} at {:>3} % load ({:.0} kpps): CPU {:.1} % of a core; latency from due {}",
                load * 100.0,
                pps * (load > 0.0) as u8 as f64 / 1e3,
                cpu * 100.0,
                lat.map_or("- (no frames)".into(), |q| format!("p50 {:.1} µs, p99 {:.1} µs", q.0[0], q.0[2])),
            );
        }
    }
    for load in [1u32, 10, 50] {
        for mode in ["adaptive", "coalesce 20 µs", "coalesce 50 µs", "coalesce 100 µs", "coalesce 200 µs"] {
            if let (Some(b), Some(a)) = (p99.get(&("busy", load)), p99.get(&(mode, load))) {
                println!("polling: p99 penalty of {mode} at {load} % load: {:+.1} µs (goal ≤ 2 µs)", a - b);
            }
        }
    }
    println!("polling goals: idle ≤ 2 % of a core; 10 % load ≤ 25 % of a core; p99 penalty at steady load ≤ 2 µs against busy");
}

/// Canary sampling of the runs to come, 1/N (0: no canary); set by [`canary_cost`].
static CANARY_EVERY: AtomicU32 = AtomicU32::new(0);
/// The last canary run's packets sampled, dropped by the taps, and compared by the shadow.
pub(super) static CANARY_SEEN: Mutex<(u64, u64, u64)> = Mutex::new((0, 0, 0));

/// With [`CANARY_EVERY`] set, a canary of the case's own chains (an
/// identical candidate) for `workers` workers, as `POST /v1/canary` makes
/// it: the shadow thread, started here before the pipeline so that
/// building its instances is not timed, and a tap per worker for
/// [`install_taps`].
pub(super) fn canary(chains: &[ChainSpec], decode: DecodeConfig, workers: usize) -> Option<(Shadow, Vec<ShadowTap>)> {
    let n = CANARY_EVERY.load(Ordering::Relaxed);
    if n == 0 {
        return None;
    }
    let host = || WorkerHost::new(chains, decode).expect("the shadow's chains");
    let (taps, feeds): (Vec<ShadowTap>, Vec<(usize, ShadowFeed)>) = (0..workers).map(|_| link(Sample::Every(n), TAP_SLOTS)).map(|(t, f)| (t, (0, f))).unzip();
    let bound = fhgate::control::canary::stop_bound(chains, chains);
    // On the core after the worker's when the worker is pinned, as
    // `[control] canary_cores` would put it on a site.
    let cores: Vec<usize> = other_core().into_iter().collect();
    Some((Shadow::start(vec![Pair { active: host(), candidate: host(), decode }], feeds, bound, &cores, PinPolicy::Strict).expect("the shadow thread"), taps))
}

/// Sends each worker of `running` its tap through its swap ring; it
/// starts at the worker's next burst.
pub(super) fn install_taps(running: &mut Running, taps: Vec<ShadowTap>) {
    for (c, tap) in running.controls.iter_mut().zip(taps) {
        c.set_tap(Some(tap)).expect("room for the tap");
    }
}

/// The core after the worker's, when `FHGATE_BENCH_CORES` pins the worker.
fn other_core() -> Option<usize> {
    let worker = worker_core()?;
    Some((worker + 1) % std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Issue 15: the active path's rate run to completion at full speed
/// without a canary, with one sampling 1/16 and one sampling 1/1, five
/// runs of each interleaved; prints medians, no assertions.
///
/// Each mode runs twice: with the machine's other core idle, and with a
/// [`Neighbour`] spinning on it. On a VM whose vCPUs share a physical
/// core (or its memory bandwidth), any work on the other core slows the
/// worker: busy there, the shadow costs the worker that much whatever it
/// does. With the neighbour in every mode, that effect is in the baseline
/// too, and the difference is the canary's own cost: the tap's copies and
/// the shadow's share of the busy core.
pub(super) fn canary_cost() {
    for case in [passthrough(), bfp_width()] {
        let modes = [("no canary", 0u32, false), ("canary 1/16", 16, false), ("canary 1/1", 1, false), ("no canary", 0, true), ("canary 1/16", 16, true), ("canary 1/1", 1, true)];
        let mut pps: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
        let mut seen = vec![(0, 0, 0); modes.len()];
        for _ in 0..5 {
            for (i, (_, n, busy)) in modes.iter().enumerate() {
                CANARY_EVERY.store(*n, Ordering::Relaxed);
                let neighbour = busy.then(Neighbour::start);
                pps[i].push(case.run(Threading::RunToCompletion, None, case.total).pps);
                drop(neighbour);
                seen[i] = *CANARY_SEEN.lock().unwrap();
            }
        }
        CANARY_EVERY.store(0, Ordering::Relaxed);
        for (i, (label, n, busy)) in modes.iter().enumerate() {
            let base = median(pps[if *busy { 3 } else { 0 }].clone());
            let m = median(pps[i].clone());
            let tail = if *n == 0 {
                String::new()
            } else {
                let (s, d, c) = seen[i];
                format!("; {:+.1} ns per frame ({:+.1} %); last run: {s} sampled, {d} dropped by the taps, {c} compared", 1e9 / m - 1e9 / base, (base / m - 1.0) * 100.0)
            };
            let other = if *busy { "other core busy" } else { "other core idle" };
            println!("canary {} rtc full speed, {other}, {label}: {:.3} Mpps ({:.1} ns per frame){tail} (medians of 5, {} frames a run)", case.name, m / 1e6, 1e9 / m, case.total);
        }
        let (idle, busy) = (median(pps[0].clone()), median(pps[3].clone()));
        println!("canary {}: a busy other core alone costs the worker {:+.1} % (no canary in both)", case.name, (idle / busy - 1.0) * 100.0);
    }
}

/// A thread that spins on the core after the worker's (pinned there when
/// `FHGATE_BENCH_CORES` pins the worker, with the shadow thread, else
/// wherever the scheduler puts it) until dropped: a busy neighbour, as on
/// a loaded site server.
struct Neighbour {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Neighbour {
    fn start() -> Neighbour {
        let stop = Arc::new(AtomicBool::new(false));
        let core = other_core();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            if let Some(id) = core {
                core_affinity::set_for_current(core_affinity::CoreId { id });
            }
            let mut x = 1u64;
            while !flag.load(Ordering::Relaxed) {
                for _ in 0..1000 {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            }
        });
        Neighbour { stop, thread: Some(thread) }
    }
}

impl Drop for Neighbour {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What one timed sleep of `d` costs this machine: a thread (on the
/// worker's core when pinned) sleeps `d` at 1 ns timer slack, as a
/// coalescing nap does, for 0.5 s; its own CPU time (RUSAGE_THREAD) and
/// how late each sleep ended, per sleep. On a VM, arming the timer and
/// waking cost exits to the hypervisor, all charged to the sleeper: the
/// floor under any sleeping poll loop's CPU.
fn platform_naps(d: Duration) -> String {
    std::thread::spawn(move || {
        if let Some(id) = worker_core() {
            core_affinity::set_for_current(core_affinity::CoreId { id });
        }
        // SAFETY: PR_SET_TIMERSLACK takes a value and affects only this thread.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
        let n = (0.5 / d.as_secs_f64()) as u32;
        let (cpu0, t0) = (rusage(libc::RUSAGE_THREAD), Instant::now());
        for _ in 0..n {
            std::thread::sleep(d);
        }
        let (cpu, wall) = ((rusage(libc::RUSAGE_THREAD) - cpu0).as_secs_f64() / n as f64, t0.elapsed().as_secs_f64() / n as f64);
        let late = wall - d.as_secs_f64();
        format!(
            "platform: a {:.0} µs timed sleep costs {:.1} µs of CPU and ends {:.1} µs late ({n} sleeps): a nap loop alone uses {:.1} % of a core, and any nap shorter than {:.0} µs costs more than 25 % of a core",
            d.as_secs_f64() * 1e6,
            cpu * 1e6,
            late * 1e6,
            cpu / wall * 100.0,
            (cpu / 0.25 - late).max(0.0) * 1e6,
        )
    })
    .join()
    .expect("the nap thread")
}
