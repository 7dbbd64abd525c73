//! `fhgate bench`: a fronthaul-aware RFC 2544 tester. It sends gen's
//! 7.2x traffic from `--tx`, receives it on `--rx`, and measures the
//! device in between: the zero-loss throughput (binary search, §26.1),
//! then latency, integrity (per flow: lost, duplicated, reordered,
//! malformed, seqId gaps, EVM against gen's signal) and loss at fractions
//! of that rate. `--json` writes the result ([`report`]), `--report` an
//! HTML page with inline SVG plots; `bench compare A.json B.json` shows
//! two runs side by side.
//!
//! Exit codes: 0 a result (whatever it is), 2 usage, I/O, or a run that
//! could not measure anything (nothing came back).

mod args;
mod compare;
mod control;
mod dut;
mod host;
mod html;
mod lanes;
mod netns;
mod pool;
mod remote;
mod report;
mod roles;
mod search;
mod stats;
mod trial;

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use fhgate::config::Backend;

pub use args::BenchArgs;
use args::{BenchCmd, Role, RunArgs};
use netns::Netns;
use trial::{Engine, Plan, Ports, Reference};

/// Runs `bench` or `bench compare`.
pub fn run(a: BenchArgs) -> Result<ExitCode> {
    match a.cmd {
        Some(BenchCmd::Compare { a, b }) => compare::run(&a, &b),
        None => bench(a.run),
    }
}

/// The trial functions the search drives, on the engine and ports.
struct Live<'a> {
    engine: &'a mut Engine,
    ports: &'a mut Ports,
    plan: Plan,
    confirm: Duration,
}

impl search::Trials for Live<'_> {
    fn run(&mut self, rate: Option<f64>, kind: &str) -> report::Trial {
        self.engine.trial(self.ports, Plan { rate, ..self.plan }, kind)
    }
    fn run_long(&mut self, rate: f64) -> report::Trial {
        self.engine.trial(self.ports, Plan { rate: Some(rate), duration: self.confirm, ..self.plan }, "confirm")
    }
    fn stopped(&self) -> bool {
        fhgate::signals::stop_requested()
    }
}

fn bench(a: RunArgs) -> Result<ExitCode> {
    fhgate::signals::install();
    a.check_role()?;
    let (tx_spec, rx_spec) = (a.tx.clone().unwrap_or_default(), a.rx.clone().unwrap_or_default());
    let spec = a.carrier()?;
    anyhow::ensure!((0.0..100.0).contains(&a.loss_tolerance), "--loss-tolerance {}: expected a percentage in [0, 100)", a.loss_tolerance);
    anyhow::ensure!(a.trial > Duration::ZERO, "--trial: a trial needs a duration above 0 s");
    match a.role {
        Role::Tx => return roles::tx(&a, &spec),
        Role::Rx => return roles::rx(a, &spec),
        Role::Local => {}
    }
    let mut rx_cfg = a.rx_decode(&spec)?;
    let tx_backend = fhgate::config::parse_port_spec(&tx_spec).map_err(|e| anyhow!("--tx {tx_spec}: {e}"))?;
    let rx_backend = fhgate::config::parse_port_spec(&rx_spec).map_err(|e| anyhow!("--rx {rx_spec}: {e}"))?;
    if let Backend::Udp(u) = &rx_backend {
        rx_cfg.udp_port = Some(u.bind.port());
    }
    let open_ns = |n: &Option<String>| n.as_deref().map(Netns::open).transpose();
    let (tx_ns, rx_ns, dut_ns) = (open_ns(&a.tx_netns)?, open_ns(&a.rx_netns)?, open_ns(&a.dut_netns)?);
    let started = now_rfc3339();
    eprintln!("fhgate bench: generating {} radio frames of the carrier", pool::RADIO_FRAMES);
    let pool = pool::Pool::new(&spec)?;
    let realtime_fps = pool.realtime_fps();
    let mean_bytes = pool.mean_frame_bytes();
    // The device first: its ports must be up before ours send.
    let dut = match &a.dut_config {
        Some(c) => Some(dut::Dut::start(c, dut_ns)?),
        None => None,
    };
    let tx_mtu = spec.mtu;
    let rx_mtu = a.rx_mtu.unwrap_or(tx_mtu);
    let same_port = tx_spec == rx_spec && a.tx_netns == a.rx_netns;
    let (mut ports, tx_nic, rx_nic) = if same_port {
        let (p, nic) = netns::run_in(tx_ns.as_ref(), || lanes::open(&tx_backend, tx_mtu.max(rx_mtu), "--tx"))?;
        (Ports { tx: p.tx, rx: p.rx, tx_counters: p.tx_counters, rx_counters: p.rx_counters }, nic.clone(), nic)
    } else {
        let (t, tx_nic) = netns::run_in(tx_ns.as_ref(), || lanes::open(&tx_backend, tx_mtu, "--tx"))?;
        let (r, rx_nic) = netns::run_in(rx_ns.as_ref(), || lanes::open(&rx_backend, rx_mtu, "--rx"))?;
        (Ports { tx: t.tx, rx: r.rx, tx_counters: t.tx_counters, rx_counters: r.rx_counters }, tx_nic, rx_nic)
    };
    let (tx_queues, rx_queues) = (ports.tx_counters.queues(), ports.rx_counters.queues());
    let level = spec.level;
    let reference = Reference { level, comp: spec.comp, rounding: spec.rounding };
    let mut engine = Engine::new(pool, rx_cfg, reference, a.iq_every, a.loss_tolerance / 100.0);
    let plan = Plan { rate: None, warmup: a.warmup, duration: a.trial, drain: a.drain, settle: a.settle };
    let mut live = Live { engine: &mut engine, ports: &mut ports, plan, confirm: a.confirm.unwrap_or(a.trial) };
    let mut progress = progress(&a);
    eprintln!(
        "fhgate bench: {} -> device -> {}: {} frames/s in real time, {:.0} bytes a frame; trials of {:.2} s after {:.2} s warm-up",
        tx_spec,
        rx_spec,
        realtime_fps.round(),
        mean_bytes,
        a.trial.as_secs_f64(),
        a.warmup.as_secs_f64()
    );
    // A percentage resolution is of the ceiling, which the first trial may only find.
    let res = a.resolution;
    let throughput = search::throughput(&mut live, &|ceiling| res.fps(ceiling).max(1.0), a.max_rate, a.confirm.is_some(), &mut progress);
    let res = res.fps(throughput.max_offered_fps).max(1.0);
    let ends = Ends {
        tx: with_ns(&tx_spec, &a.tx_netns),
        rx: with_ns(&rx_spec, &a.rx_netns),
        tx_nic,
        rx_nic,
        tx_queues,
        rx_queues,
        timestamping: timestamping(&rx_spec),
        clock: report::ONE_CLOCK.into(),
        clock_offset: None,
        warnings: Vec::new(),
    };
    let ctx = RunInfo { carrier: spec_text(&spec), realtime_fps, mean_bytes, resolution: res, dut, started, ends };
    finish(a, ctx, throughput, &mut live, &mut progress)
}

/// The two ends of a run as the report describes them.
struct Ends {
    tx: String,
    rx: String,
    tx_nic: String,
    rx_nic: String,
    /// Lanes (queues or fanout sockets) of each port.
    tx_queues: u32,
    rx_queues: u32,
    timestamping: String,
    clock: String,
    clock_offset: Option<report::ClockOffset>,
    /// Warnings about the ends (the clocks of a cross-host run).
    warnings: Vec<String>,
}

/// What [`finish`] reports besides the trials.
struct RunInfo {
    carrier: String,
    realtime_fps: f64,
    mean_bytes: f64,
    resolution: f64,
    dut: Option<dut::Dut>,
    started: String,
    ends: Ends,
}

/// Sweeps, then writes the summary, the JSON and the HTML report.
fn finish(a: RunArgs, ctx: RunInfo, mut throughput: report::Throughput, live: &mut impl search::Trials, progress: &mut dyn FnMut(&report::Trial)) -> Result<ExitCode> {
    let RunInfo { carrier, realtime_fps, mean_bytes, resolution, dut, started, ends } = ctx;
    throughput.found_mbps = throughput.found_fps * mean_bytes * 8.0 / 1e6;
    throughput.found_realtime = throughput.found_fps / realtime_fps;
    let sweep = search::sweep(live, throughput.found_fps, &a.sweep.0, progress);
    live.end();
    let failure = live.failure();
    let dut_report = dut.map(dut::Dut::stop);
    let mut warnings = ends.warnings;
    if let Some(f) = &failure {
        warnings.push(format!("the run stopped early: {f}"));
    }
    if fhgate::signals::stop_requested() {
        warnings.push("interrupted by a signal: the run is incomplete".into());
    }
    let all: Vec<&report::Trial> = throughput.trials.iter().chain(&sweep).chain(throughput.confirmation.as_ref()).collect();
    if all.iter().all(|t| t.received == 0 && t.stale == 0) {
        warnings.push(format!("the rx port ({}) received none of the frames sent: check the device and the ports", a.rx.as_deref().unwrap_or("")));
    }
    if throughput.found_fps == 0.0 && all.iter().any(|t| t.received > 0) {
        warnings.push("no rate was loss-free: the device loses frames at every rate tried".into());
    }
    if throughput.tx_limited {
        warnings.push("the device lost nothing even flat out: the found rate is the transmitter's ceiling, not the device's".into());
    }
    let (reord, dup, bad): (u64, u64, u64) = all.iter().fold((0, 0, 0), |(r, d, m), t| (r + t.reordered, d + t.duplicates, m + t.malformed));
    if reord > 0 {
        warnings.push(format!("{reord} frames arrived out of order within their flow"));
    }
    if dup > 0 {
        warnings.push(format!("{dup} frames arrived twice"));
    }
    if bad > 0 {
        warnings.push(format!("{bad} frames did not decode"));
    }
    let ambiguous: Vec<&&report::Trial> = all.iter().filter(|t| t.lap_ambiguous).collect();
    if let Some(worst) = ambiguous.iter().min_by(|a, b| a.frame_id_window_s.total_cmp(&b.frame_id_window_s)) {
        let aliased: u64 = ambiguous.iter().map(|t| t.aliased).sum();
        warnings.push(format!(
            "{} trials had frames so late that frameId laps are ambiguous (latency above half the frameId window, {:.3} s at {:.0} frames/s, or {aliased} frames that came after a later lap of theirs was sent): frames later than the window alias a later lap, so those trials' duplicates, reordering and loss may be misattributed (lap_ambiguous in the JSON)",
            ambiguous.len(),
            worst.frame_id_window_s,
            worst.offered_fps
        ));
        if ends.clock_offset.is_some() {
            warnings.push("across hosts, a latency is known only to within the bound on the clocks' offset (the control channel's estimate plus half its round trip, probed before each trial, plus 100 ppm drift): the half-window test adds that bound, so lap_ambiguous errs on the side of ambiguity; frames nearly a window late are matched to their own lap from the tx side's send times, so their latency, not aliased, shows them".into());
        }
    }
    let before: u64 = all.iter().map(|t| t.before_sent).sum();
    if before > 0 {
        warnings.push(format!("{before} frames arrived before they were sent by the two hosts' clocks: the clocks are further apart than the latency, whose figures are then meaningless (check ptp4l/phc2sys)"));
    }
    let rx_drops: u64 = all.iter().map(|t| t.rx_port_drops).sum();
    if rx_drops > 0 {
        warnings.push(format!("the rx port itself dropped {rx_drops} frames (bench's receiver too slow): part of the loss is the bench's"));
    }
    let (hostname, kernel) = host::uname();
    let run = report::Run {
        schema: report::SCHEMA.into(),
        fhgate_version: env!("CARGO_PKG_VERSION").into(),
        started,
        settings: report::Settings {
            tx: ends.tx,
            rx: ends.rx,
            traffic: a.traffic_name(),
            carrier,
            realtime_fps,
            mean_frame_bytes: mean_bytes,
            trial_seconds: a.trial.as_secs_f64(),
            warmup_seconds: a.warmup.as_secs_f64(),
            drain_seconds: a.drain.as_secs_f64(),
            settle_seconds: a.settle.as_secs_f64(),
            resolution_fps: resolution,
            loss_tolerance: a.loss_tolerance / 100.0,
            sweep_percent: a.sweep.0.clone(),
            iq_every: a.iq_every,
            dut_config: a.dut_config.as_ref().map(|p| with_ns(&p.display().to_string(), &a.dut_netns)),
        },
        host: report::Host {
            hostname,
            cpu: host::cpu(),
            kernel,
            tx_nic: ends.tx_nic,
            rx_nic: ends.rx_nic,
            tx_queues: ends.tx_queues,
            rx_queues: ends.rx_queues,
            timestamping: ends.timestamping,
            clock: ends.clock,
            clock_offset: ends.clock_offset,
        },
        throughput,
        sweep,
        dut: dut_report,
        warnings,
    };
    summary(&run);
    if let Some(p) = &a.json {
        write_file(p, &serde_json::to_string_pretty(&run)?)?;
        eprintln!("fhgate bench: wrote {}", p.display());
    }
    if let Some(p) = &a.report {
        let path = if p.extension().is_some_and(|e| e == "html") { p.clone() } else { p.join("index.html") };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("--report: creating {}", dir.display()))?;
        }
        write_file(&path, &html::render(&run)?)?;
        eprintln!("fhgate bench: wrote {}", path.display());
    }
    if let Some(f) = failure {
        anyhow::bail!("{f} (what was measured before is written)");
    }
    let nothing = run.throughput.trials.iter().all(|t| t.received == 0);
    Ok(if nothing { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

/// A bar over the trials to come when someone watches; one line per trial always.
fn progress(a: &RunArgs) -> impl FnMut(&report::Trial) {
    let steps = (100.0 / a.resolution.fps(100.0).max(1e-3)).log2().ceil().max(1.0) as u64 + 1;
    let bar = std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| {
        let b = indicatif::ProgressBar::new(steps + a.sweep.0.len() as u64 + u64::from(a.confirm.is_some()));
        b.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {elapsed_precise} [{bar:30}] trial {pos}/~{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    move |t: &report::Trial| match &bar {
        Some(b) => {
            b.println(trial_line(t));
            b.inc(1);
        }
        None => eprintln!("{}", trial_line(t)),
    }
}

fn timestamping(rx: &str) -> String {
    format!("software, one clock (both ends in this process): {SEND_STAMP}; {}", receive_stamp(rx))
}

/// How the send side timestamps.
pub(super) const SEND_STAMP: &str = "send: CLOCK_REALTIME as the frame is queued on the port";

/// How the receive side timestamps on port `rx`.
fn receive_stamp(rx: &str) -> &'static str {
    if rx.starts_with("af_packet") {
        "receive: the kernel's software timestamp (TPACKET_V3)"
    } else {
        "receive: CLOCK_REALTIME when bench takes the frame off the ring (software)"
    }
}

fn with_ns(s: &str, ns: &Option<String>) -> String {
    match ns {
        Some(n) => format!("{s} (netns {n})"),
        None => s.to_string(),
    }
}

fn spec_text(s: &fhgate::traffic::CarrierSpec) -> String {
    format!(
        "µ{} {} PRBs, {} antennas, {}{}, eAxC {}, MTU {}{}",
        s.numerology,
        s.prbs,
        s.antennas,
        s.comp,
        if s.comp_hdr { " with udCompHdr" } else { "" },
        s.eaxc,
        s.mtu,
        if s.prach { ", PRACH" } else { "" }
    )
}

/// One line per trial on the terminal.
fn trial_line(t: &report::Trial) -> String {
    let target = t.target_fps.map_or("flat out".to_string(), |r| format!("{r:.0} fps"));
    let pct = t.percent.map_or(String::new(), |p| format!(" ({p:.0} %)"));
    let lat = t.latency.as_ref().map_or(String::new(), |l| format!(", latency p50 {:.1} µs p99 {:.1} µs", l.p50_ns / 1e3, l.p99_ns / 1e3));
    format!(
        "  {:<7} {target}{pct}: offered {:.0} fps, sent {}, lost {} ({:.4} %){lat}: {}",
        t.kind,
        t.offered_fps,
        t.sent,
        t.lost,
        t.loss_ratio * 100.0,
        if t.pass { "pass" } else { "LOSS" }
    )
}

fn summary(r: &report::Run) {
    let t = &r.throughput;
    eprintln!(
        "fhgate bench: throughput {:.0} frames/s ({:.1} Mbit/s, {:.2} × the carrier in real time){}",
        t.found_fps,
        t.found_mbps,
        t.found_realtime,
        if t.tx_limited { ", limited by the transmitter" } else { "" }
    );
    for s in &r.sweep {
        if let (Some(p), Some(l)) = (s.percent, &s.latency) {
            eprintln!("  at {p:>5.0} %: loss {:.4} %, latency min {:.1} / p50 {:.1} / p99 {:.1} / max {:.1} µs", s.loss_ratio * 100.0, l.min_ns / 1e3, l.p50_ns / 1e3, l.p99_ns / 1e3, l.max_ns / 1e3);
        }
    }
    for w in &r.warnings {
        eprintln!("fhgate bench: warning: {w}");
    }
}

/// Writes `text` to `path` through a temporary file beside it
/// (io/output.rs), so an existing file is replaced only by a complete one.
fn write_file(path: &Path, text: &str) -> Result<()> {
    fhgate::io::output::write_whole(path, text.as_bytes())
}

/// Now, as RFC 3339 UTC.
fn now_rfc3339() -> String {
    let s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    fhgate::control::body::rfc3339(s, None)
}
