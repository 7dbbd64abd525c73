//! `fhgate run -c gw.toml`: runs the gateway as a configuration file
//! describes it: both directions between the DU-facing and the RU-facing
//! port (capture files or live AF_XDP, AF_PACKET and UDP ports), with
//! Prometheus metrics on loopback.
//!
//! Signals: SIGINT or SIGTERM stops it cleanly (the rings drain and the
//! final counters are printed); SIGHUP re-reads the configuration and
//! hot-swaps every translator whose module file, config table or limits
//! changed, on every worker, without losing a packet.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use fhgate::config::{Backend, FaultPolicyConfig, GatewayConfig, Side};
use super::run_ports::{check_lanes, open_side};
use fhgate::io::live;
use fhgate::io::output::Existing;
use fhgate::io::pcap::{Pace, PcapRx};
use fhgate::metrics::PortBoard;
use fhgate::pipeline::egress::{EgressConfig, FlowFormats};
use fhgate::plan::EgressFormat;
use fhgate::pipeline::runner::{self, DirectionSpec, Running};
use fhgate::pipeline::stats::Stats;
use fhgate::timing::live::{IngressTiming, Side as TimingSide};
use fhgate::translate::{
    ChainSpec, FaultLimit, FaultPolicy, Limits, Runtime, RuntimeConfig, Selector, TranslatorModule, TranslatorSpec,
};

/// Arguments of `run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The gateway configuration (TOML).
    #[arg(short, long)]
    pub config: PathBuf,
    /// Print the final counters as JSON.
    #[arg(long)]
    pub json: bool,
    /// Check the configuration and load every translator, then exit.
    #[arg(long)]
    pub check: bool,
    /// Replace output captures that exist already (without it the run
    /// refuses them: a capture of live traffic cannot be made again).
    #[arg(long)]
    pub force: bool,
}

/// The engine every translator of a configuration is compiled for.
pub fn runtime_for(cfg: &GatewayConfig) -> Result<Arc<Runtime>> {
    let max_memory = cfg.translators.iter().map(|t| t.memory_limit).max().unwrap_or(16 << 20);
    // With pinned workers, the epoch ticker goes to a core none of them uses.
    let ticker_core = match cfg.pipeline.all_cores().as_slice() {
        [] => None,
        used => core_affinity::get_core_ids().unwrap_or_default().into_iter().map(|c| c.id).find(|c| !used.contains(c)),
    };
    // Pinned workers busy-poll their cores: a hot swap's compilation stays
    // on the control thread rather than spreading over every core.
    let parallel_compilation = cfg.pipeline.all_cores().is_empty();
    Runtime::new(RuntimeConfig { max_memory, ticker_core, parallel_compilation, ..RuntimeConfig::default() }).map_err(|e| anyhow!("{e}"))
}

/// Compiled translator modules by file, kept across reloads so that a
/// reload compiles only the files whose content changed (a change of a
/// translator's config table swaps in a new instance of the same module).
pub struct Modules {
    rt: Arc<Runtime>,
    by_path: BTreeMap<PathBuf, (u64, Arc<TranslatorModule>)>,
}

impl Modules {
    /// No modules yet, compiled for `rt`.
    pub fn new(rt: Arc<Runtime>) -> Self {
        Modules { rt, by_path: BTreeMap::new() }
    }

    /// The module in `path`, compiled unless its content is unchanged.
    fn get(&mut self, path: &Path) -> Result<Arc<TranslatorModule>, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
        let hash = content_hash(&bytes);
        if let Some((h, m)) = self.by_path.get(path) {
            if *h == hash {
                return Ok(m.clone());
            }
        }
        let m = TranslatorModule::load(&self.rt, &bytes, &path.display().to_string()).map_err(|e| e.to_string())?;
        self.by_path.insert(path.to_path_buf(), (hash, m.clone()));
        Ok(m)
    }

    /// The content hash of what was last compiled from `path`.
    fn hash_of(&self, path: &Path) -> Option<u64> {
        self.by_path.get(path).map(|(h, _)| *h)
    }
}

fn content_hash(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// Compiles every translator of the configuration and makes its spec:
/// module, config table, limits, fault policy (with its fallback's spec).
pub fn translator_specs(modules: &mut Modules, cfg: &GatewayConfig) -> Result<BTreeMap<String, Arc<TranslatorSpec>>> {
    let mut loaded = BTreeMap::new();
    for (i, t) in cfg.translators.iter().enumerate() {
        let m = modules.get(&t.path).map_err(|e| anyhow!("translator[{i}] ({}): {}: {e}", t.name, t.path.display()))?;
        loaded.insert(t.name.clone(), m);
    }
    let spec_of = |t: &fhgate::config::TranslatorConfig, fallback: Option<Arc<TranslatorSpec>>| -> Arc<TranslatorSpec> {
        let policy = match t.fault_policy {
            FaultPolicyConfig::Pass => FaultPolicy::Pass,
            FaultPolicyConfig::Drop => FaultPolicy::Drop,
            FaultPolicyConfig::Fallback(_) => FaultPolicy::Fallback,
        };
        Arc::new(
            TranslatorSpec::new(loaded[&t.name].clone())
                .with_config(&t.config)
                .with_limits(Limits { memory: t.memory_limit, deadline: t.deadline, ..Limits::default() })
                .with_policy(policy, fallback)
                .with_fault_limit(FaultLimit { faults: t.fault_limit, within: t.fault_window })
                .with_sink(Arc::new(fhgate::logging::TracingLog)),
        )
    };
    let mut specs = BTreeMap::new();
    for t in &cfg.translators {
        let fallback = match &t.fault_policy {
            FaultPolicyConfig::Fallback(f) => cfg.translators.iter().find(|x| &x.name == f).map(|x| spec_of(x, None)),
            _ => None,
        };
        specs.insert(t.name.clone(), spec_of(t, fallback));
    }
    Ok(specs)
}

/// Loads every translator of the configuration and builds the chains.
pub fn build_chains(modules: &mut Modules, cfg: &GatewayConfig) -> Result<Vec<ChainSpec>> {
    let specs = translator_specs(modules, cfg)?;
    let mut chains = Vec::new();
    for (i, c) in cfg.chains.iter().enumerate() {
        let selector = Selector::parse(&c.select).map_err(|e| anyhow!("chain[{i}].select: {e}"))?;
        let translators = c.translators.iter().map(|n| specs[n].clone()).collect();
        chains.push(ChainSpec { selector, translators });
    }
    Ok(chains)
}

/// `run --check`: instantiates and initialises every translator with its
/// config table (and its fallback), as a worker will, so that a config
/// that makes `fhgate_init` fail is refused here and not at start.
fn check_translators(modules: &mut Modules, cfg: &GatewayConfig) -> Result<()> {
    let specs = translator_specs(modules, cfg)?;
    for (i, t) in cfg.translators.iter().enumerate() {
        fhgate::translate::Translator::new(&specs[&t.name]).map_err(|e| anyhow!("translator[{i}] ({}): {e}", t.name))?;
    }
    Ok(())
}

/// Refuses a configuration whose traffic has nowhere to go: a side that
/// receives (a live port, or a capture with `input`) needs the other side
/// to send (a live port, or a capture with `output`).
fn check_flow(cfg: &GatewayConfig) -> Result<()> {
    let receives = |s: &Side| !matches!(&s.backend, Backend::Pcap { input: None, .. });
    let sends = |s: &Side| !matches!(&s.backend, Backend::Pcap { output: None, .. });
    for (from, to, from_name, to_name) in [(&cfg.du, &cfg.ru, "du", "ru"), (&cfg.ru, &cfg.du, "ru", "du")] {
        if receives(from) && !sends(to) {
            bail!("{to_name}.output: traffic flows from {from_name} towards this side, so it needs an output capture");
        }
    }
    if !receives(&cfg.du) && !receives(&cfg.ru) {
        bail!("du.input: neither side has an input: set du.input or ru.input");
    }
    Ok(())
}

/// Refuses, before anything runs (`--check` too), an output capture that
/// exists already, unless `--force`: it may be the only record of a
/// site's traffic, and a run cannot make it again.
fn check_outputs(cfg: &GatewayConfig, existing: Existing) -> Result<()> {
    for (name, side) in [("du", &cfg.du), ("ru", &cfg.ru)] {
        if let Backend::Pcap { output: Some(p), .. } = &side.backend {
            if existing == Existing::Keep && std::fs::metadata(p).is_ok_and(|m| m.is_file()) {
                bail!("{name}.output: {} exists; a run does not replace a capture (remove it, choose another path, or give --force)", p.display());
            }
        }
    }
    Ok(())
}

/// The egress decoding of a direction: what its chains declare, over the
/// receiving side's settings.
fn decode_of(formats: &[Option<EgressFormat>; 2], port_direction: u8, to: &ecpri::frame::DecodeConfig) -> ecpri::frame::DecodeConfig {
    formats[usize::from(port_direction == 0)].as_ref().map_or(*to, |f| f.format.decode_over(to))
}

/// The flows of a direction that egress reads with a compression of their own.
fn flows_of(formats: &[Option<EgressFormat>; 2], port_direction: u8) -> FlowFormats {
    formats[usize::from(port_direction == 0)].as_ref().map_or(FlowFormats::NONE, |f| f.flows)
}

/// What each translator of `cfg` was built from, to tell on reload whether
/// it changed: its settings and the hash of the module compiled for it
/// (from `modules`, so a file rewritten in place counts as changed).
fn fingerprints(cfg: &GatewayConfig, modules: &Modules) -> BTreeMap<String, (String, Option<u64>)> {
    cfg.translators.iter().map(|t| (t.name.clone(), (format!("{t:?}"), modules.hash_of(&t.path)))).collect()
}

/// Reloads `path` and hot-swaps each translator that changed at every
/// chain position it holds, on every worker of every direction. Only
/// translators are reloaded; a change to the chains needs a restart (or
/// the control API). With a control API, the change goes through its
/// state ([`fhgate::control::Endpoint::reload`]): each changed translator
/// is cut over where it runs now, which API calls may have changed.
/// Returns the names swapped.
fn reload(
    path: &Path,
    current: &mut GatewayConfig,
    modules: &mut Modules,
    running: &mut [(&str, Running)],
    egress: &[Option<EgressFormat>; 2],
    runs: [bool; 2],
    control: Option<&mut fhgate::control::Endpoint>,
) -> Result<Vec<String>> {
    let new = GatewayConfig::load(path)?;
    if new.chains != current.chains {
        bail!("the chains changed; hot swap replaces translators in place, so restart fhgate to apply a new chain layout (or change the chains with `fhgate ctl chain`)");
    }
    if new.du != current.du || new.ru != current.ru || new.pipeline != current.pipeline {
        tracing::warn!("reload: only translators are swapped while running; changes to du, ru and pipeline apply at the next start");
    }
    let old_fp = fingerprints(current, modules);
    if let Some(c) = control {
        // Compiled before anything is cut over; the state checks the running chains with them.
        let specs = translator_specs(modules, &new)?;
        let new_fp = fingerprints(&new, modules);
        let changed: Vec<String> = new_fp.iter().filter(|(n, fp)| old_fp.get(*n) != Some(fp)).map(|(n, _)| n.clone()).collect();
        let mut list = Vec::new();
        for t in new.translators.iter().filter(|t| changed.contains(&t.name)) {
            let hash = std::fs::read(&t.path).map(|b| fhgate::control::state::content_hash(&b)).unwrap_or_else(|_| "unknown".into());
            list.push(fhgate::control::reload::Reloaded { spec: specs[&t.name].clone(), file: t.clone(), hash });
        }
        if !list.is_empty() {
            let cut = c.reload(list, running)?;
            tracing::info!(stages = ?cut, "reload: cut over where the changed translators run now");
        }
        *current = new;
        return Ok(changed);
    }
    // Compile what changed before the first swap, so that a bad module
    // leaves the running set untouched.
    let chains = build_chains(modules, &new)?;
    // The egress stage decodes with the format the chain declared at start
    // and cannot change it while running: new translators must still turn
    // one side into the other, and into the same egress format.
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let formats = fhgate::plan::check_config(&text, &chains, runs).map_err(|e| anyhow!("{}", e.on_reload()))?;
    if formats != *egress {
        bail!("the new translators change the egress format ({:?} -> {:?}); the running egress cannot follow, so restart fhgate to apply it", egress, formats);
    }
    let new_fp = fingerprints(&new, modules);
    let changed: Vec<String> = new_fp.iter().filter(|(n, fp)| old_fp.get(*n) != Some(fp)).map(|(n, _)| n.clone()).collect();
    if changed.is_empty() {
        return Ok(changed);
    }
    for (ci, c) in new.chains.iter().enumerate() {
        for (si, name) in c.translators.iter().enumerate() {
            if !changed.contains(name) {
                continue;
            }
            for (dir, r) in running.iter_mut() {
                for (w, control) in r.controls.iter_mut().enumerate() {
                    control.swap(ci, si, &chains[ci].translators[si]).map_err(|e| anyhow!("{dir} worker {w}: swapping chain[{ci}].translators[{si}] ({name}): {e}"))?;
                }
            }
        }
    }
    *current = new;
    Ok(changed)
}

/// Stops and joins pipelines after a failure elsewhere: their staged
/// outputs are then dropped (removed) before the process exits.
fn abandon(running: Vec<(&str, Running)>) {
    for (_, r) in running {
        r.stop();
        let _ = r.join();
    }
}

/// Puts what every worker has installed on the metrics board.
fn post_translators(board: &fhgate::metrics::TranslatorBoard, running: &[(&str, Running)]) {
    let mut entries = Vec::new();
    for (dir, r) in running {
        for (w, c) in r.controls.iter().enumerate() {
            for (chain, stage, stats) in c.installed() {
                entries.push(fhgate::metrics::TranslatorEntry { worker: format!("{dir}/{w}"), chain, stage, stats: stats.clone() });
            }
        }
    }
    if let Ok(mut b) = board.lock() {
        *b = entries;
    }
}

/// Waits one control-loop tick (20 ms), carrying out the control API's
/// calls as they come; what they cut over goes on the metrics board.
fn handle_control(control: Option<&mut fhgate::control::Endpoint>, running: &mut [(&str, Running)], board: &fhgate::metrics::TranslatorBoard) {
    match control {
        Some(c) => {
            if c.wait(running, Duration::from_millis(20)) {
                post_translators(board, running)
            }
        }
        None => std::thread::sleep(Duration::from_millis(20)),
    }
}

/// Asks what the NIC behind a live port can timestamp, says it, and puts
/// it on the metrics: a NIC with hardware timestamps fhgate leaves unused
/// is named, not passed over. UDP ports are bound to an address, not an
/// interface: nothing to ask.
pub(super) fn note_timestamping(name: &str, backend: &Backend, ports: &mut PortBoard) {
    let interface = match backend {
        Backend::AfPacket(c) => &c.interface,
        Backend::AfXdp(c) => &c.interface,
        Backend::Udp(_) | Backend::Pcap { .. } => return,
    };
    let ts = fhgate::io::timestamping::NicTimestamping::query(interface).map_err(|e| e.to_string());
    match &ts {
        Ok(t) => tracing::info!("{name} ({interface}): NIC timestamping: {}", t.describe()),
        Err(e) => tracing::warn!("{name} ({interface}): cannot ask the NIC what it timestamps (ETHTOOL_GET_TS_INFO: {e}); the transparent clock takes software timestamps"),
    }
    ports.note_timestamping(name, interface, ts);
}

/// Says what crosses besides fronthaul and how PTP is timestamped.
fn log_bridge(cfg: &GatewayConfig) {
    use fhgate::config::Backend;
    let live = |s: &fhgate::config::Side| !matches!(s.backend, Backend::Pcap { .. });
    let stamps = |s: &fhgate::config::Side| match s.backend {
        Backend::AfPacket(_) => "software: the kernel's receive timestamp",
        Backend::AfXdp(_) | Backend::Udp(_) => "software: a clock read at receive",
        Backend::Pcap { .. } => "capture timestamps: no transparent clock",
    };
    tracing::info!(
        passthrough = %cfg.passthrough.describe(),
        transparent_clock = cfg.ptp_tc.name(),
        du_rx_timestamps = stamps(&cfg.du),
        ru_rx_timestamps = stamps(&cfg.ru),
        tx_timestamps = "software: a clock read just before the send",
        "bridge: non-fronthaul frames cross as the passthrough policy says; PTP residence time from {} timestamps",
        if live(&cfg.du) || live(&cfg.ru) { "software (each live port says what its NIC could do)" } else { "no" }
    );
}

/// The one-way delay initiator's rings (`[owd]`): per side (0 DU, 1 RU)
/// the tap and the injector for the pipeline, and the initiator's ends.
struct OwdSides {
    spec: fhgate::timing::owd_run::OwdSpec,
    links: [fhgate::timing::owd_link::OwdLink; 2],
    ends: Vec<(fhgate::timing::owd_run::SideSpec, fhgate::timing::owd_link::InitiatorEnds)>,
}

fn owd_sides(cfg: &GatewayConfig) -> Result<Option<OwdSides>> {
    let Some(o) = cfg.owd else { return Ok(None) };
    let ms = Duration::from_millis;
    let spec = fhgate::timing::owd_run::OwdSpec { interval: ms(o.interval_ms), timeout: ms(o.timeout_ms), mode: o.mode };
    let mut sides = OwdSides { spec, links: Default::default(), ends: Vec::new() };
    for (i, (name, side, dst)) in [("du", &cfg.du, o.du), ("ru", &cfg.ru, o.ru)].into_iter().enumerate() {
        let Some(dst) = dst else { continue };
        let iface = match &side.backend {
            Backend::AfXdp(c) => &c.interface,
            Backend::AfPacket(c) => &c.interface,
            other => bail!("owd.{name}: this side's backend is {}; one-way delay needs an af_xdp or af_packet port", other.name()),
        };
        let src = live::hardware_address(iface).with_context(|| format!("owd.{name}: reading the MAC address of {iface}"))?;
        let (tap, inject, ends) = fhgate::timing::owd_link::link(src);
        sides.links[i] = fhgate::timing::owd_link::OwdLink { tap: Some(tap), inject: Some(inject) };
        // The side's VLAN, at the highest priority (gen's default PCP).
        let vlan = side.vlan.map(|v| ecpri::ethernet::VlanTag::c_tag(v, 7));
        sides.ends.push((fhgate::timing::owd_run::SideSpec { side: name, src, dst, vlan }, ends));
    }
    Ok(Some(sides))
}

pub fn run(a: RunArgs) -> Result<ExitCode> {
    let mut cfg = GatewayConfig::load(&a.config)?;
    let rt = runtime_for(&cfg)?;
    let mut modules = Modules::new(rt.clone());
    let chains = build_chains(&mut modules, &cfg)?;
    check_flow(&cfg)?;
    for (name, side) in [("du", &cfg.du), ("ru", &cfg.ru)] {
        if let Some(v) = side.vlan {
            // Said, not silently ignored: the key describes the side, nothing acts on it.
            tracing::warn!("{name}.vlan = {v} describes the side only: fhgate neither checks nor sets VLAN tags itself (a vlan_retag translator changes them)");
        }
    }
    if a.check {
        check_translators(&mut modules, &cfg)?;
        // An input capture that cannot be read now is said, not passed
        // over; a warning, since a config (plan's, a ConfigMap's) may name
        // a capture that exists only where it runs.
        for (name, side) in [("du", &cfg.du), ("ru", &cfg.ru)] {
            if let Backend::Pcap { input: Some(p), .. } = &side.backend {
                if let Err(e) = PcapRx::open(p, Pace::Recorded) {
                    tracing::warn!("{name}.input: {e:#}: the run fails unless it is there then");
                }
            }
        }
    }
    // DU profile ∘ chain = RU profile (and back), before any port opens.
    let text = std::fs::read_to_string(&a.config).with_context(|| format!("reading {}", a.config.display()))?;
    let receives = |s: &Side| !matches!(&s.backend, Backend::Pcap { input: None, .. });
    let runs = [receives(&cfg.du), receives(&cfg.ru)];
    let egress_formats = fhgate::plan::check_config(&text, &chains, runs).map_err(|e| anyhow!("{}: {e}", a.config.display()))?;
    let existing = if a.force { Existing::Replace } else { Existing::Keep };
    check_outputs(&cfg, existing)?;
    if a.check {
        println!("{}: ok ({} translators, {} chains)", a.config.display(), cfg.translators.len(), chains.len());
        return Ok(ExitCode::SUCCESS);
    }
    fhgate::signals::install();
    let p = cfg.pipeline.clone();
    // A live port is one socket: its receive half serves one direction and
    // its transmit half the other.
    if let Some(addr) = cfg.metrics_listen {
        // Refused before any port or file is opened; the server binds again below.
        std::net::TcpListener::bind(addr).map_err(|e| anyhow!("metrics.listen: cannot listen on {addr}: {e}"))?;
    }
    let lanes = check_lanes(&cfg)?;
    let mut ports = PortBoard::default();
    // Output captures are staged: put in place only once the run has
    // succeeded, over an existing file only with --force.
    let mut commits = Vec::new();
    let mut du = open_side(&cfg.du, "du", existing, &mut ports, &mut commits)?;
    let mut ru = open_side(&cfg.ru, "ru", existing, &mut ports, &mut commits)?;
    let mut owd = owd_sides(&cfg)?;
    let mut running = Vec::new();
    let mut metrics = Vec::new();
    let mut polls = Vec::new();
    // DL: DU → RU; UL: RU → DU. A side with no input sends nothing.
    for (name, port_direction) in [("dl", 1u8), ("ul", 0u8)] {
        let (from, to, from_port, to_port, to_name) = if port_direction == 1 {
            (&cfg.du, &cfg.ru, &mut du, &mut ru, "ru")
        } else {
            (&cfg.ru, &cfg.du, &mut ru, &mut du, "du")
        };
        let mut rxs = std::mem::take(&mut from_port.rx).into_iter();
        let Some(rx) = rxs.next() else { continue };
        let mut txs = std::mem::take(&mut to_port.tx).into_iter();
        let Some(tx) = txs.next() else {
            bail!("{to_name}.output: traffic flows towards this side, so it needs an output capture");
        };
        // Lane i: queue i of the port received from, queue i of the one sent to.
        let more: Vec<runner::Lane> = rxs.zip(txs).map(|(rx, tx)| runner::Lane { rx, tx }).collect();
        let spec = DirectionSpec {
            name: name.into(),
            rx,
            tx,
            lanes: more,
            tap: None,
            decode: from.decode,
            port_direction,
            egress: EgressConfig { mtu: to.mtu, renumber_seq_id: p.renumber_seq_id, decode: decode_of(&egress_formats, port_direction, &to.decode), oversize: to.oversize, declared: egress_formats[usize::from(port_direction == 0)].is_some(), flows: flows_of(&egress_formats, port_direction) },
            chains: chains.clone(),
            workers: p.workers,
            cores: p.cores_for(port_direction).clone(),
            polling: p.polling,
            burst: p.burst,
            ring_size: p.ring_size,
            // A multi-queue direction runs a run-to-completion thread per lane.
            threading: if lanes > 1 { runner::Threading::RunToCompletion } else { p.threading },
            bridge: fhgate::bridge::BridgeSpec {
                passthrough: cfg.passthrough,
                tc: cfg.ptp_tc,
                // Capture timestamps are not this host's clock: no residence time from them.
                live_clock: !matches!(from.backend, fhgate::config::Backend::Pcap { .. }),
            },
            timing: cfg.timing.map(|t| {
                let (side, bounds) = if port_direction == 1 { (TimingSide::Du, t.du) } else { (TimingSide::Ru, t.ru) };
                IngressTiming::new(t.clock, from.numerology, side, bounds)
            }),
            // The tap of the side received from, the injector of the side sent to.
            owd: match &mut owd {
                Some(o) => {
                    let (from_i, to_i) = if port_direction == 1 { (0, 1) } else { (1, 0) };
                    fhgate::timing::owd_link::OwdLink { tap: o.links[from_i].tap.take(), inject: o.links[to_i].inject.take() }
                }
                None => Default::default(),
            },
        };
        let mut r = match runner::start(spec) {
            Ok(r) => r,
            Err(e) => {
                // Stop what already runs, so its staged output is removed before we exit.
                abandon(running);
                return Err(e.context(format!("starting the {name} pipeline")));
            }
        };
        metrics.append(&mut r.metrics);
        polls.append(&mut r.polls);
        running.push((name, r));
    }
    if running.is_empty() {
        bail!("neither side has an input: set du.input or ru.input");
    }
    let mut owd = match owd.map(|o| fhgate::timing::owd_run::start(o.spec, o.ends)).transpose() {
        Ok(o) => o,
        Err(e) => {
            abandon(running);
            return Err(e.context("starting the one-way delay initiator"));
        }
    };
    let board = fhgate::metrics::TranslatorBoard::default();
    post_translators(&board, &running);
    // One collector: `[metrics] listen` and the control API's /metrics share it.
    let mut collector = fhgate::metrics::Collector::new(metrics).with_translators(board.clone()).with_ports(ports.clone()).with_polls(polls);
    if let Some(o) = &owd {
        collector = collector.with_owd(o.board.clone());
    }
    let collector = Arc::new(std::sync::Mutex::new(collector));
    if let Some(addr) = cfg.metrics_listen {
        if let Err(e) = fhgate::metrics::serve_shared(addr, cfg.metrics_expose, collector.clone()) {
            abandon(running);
            return Err(e.context("metrics.listen"));
        }
        tracing::info!("metrics on http://{addr}/metrics");
    }
    let base = fhgate::control::Base { text: text.clone(), translators: cfg.translators.clone(), runs, egress: egress_formats.clone() };
    let mut control = match fhgate::control::start(&cfg, base, rt, &chains, collector, ports.clone()) {
        Ok(c) => c,
        Err(e) => {
            abandon(running);
            return Err(e);
        }
    };
    log_bridge(&cfg);
    tracing::info!(config = %a.config.display(), "running; SIGHUP reloads translators, SIGINT stops");
    let t = Instant::now();
    let mut stopping = false;
    // The control loop: signals, hot swaps, and reaping what workers retire.
    while !running.iter().all(|(_, r)| r.is_finished()) {
        if fhgate::signals::stop_requested() && !stopping {
            tracing::info!("stopping: draining the rings");
            // The last measurements' answers come in while the pipelines still run.
            if let Some(o) = &mut owd {
                o.finish();
            }
            running.iter().for_each(|(_, r)| r.stop());
            stopping = true;
        }
        // A direction that failed (a port gone, a stage's error) stops the
        // other too: the gateway does not carry on half dead until a signal.
        if !stopping && running.iter().any(|(_, r)| r.failed()) {
            let names: Vec<&str> = running.iter().filter(|(_, r)| r.failed()).map(|(n, _)| *n).collect();
            tracing::error!(pipelines = ?names, "a pipeline failed: stopping, the report follows and then the error");
            running.iter().for_each(|(_, r)| r.stop());
            stopping = true;
        }
        if fhgate::signals::take_hangup() {
            match reload(&a.config, &mut cfg, &mut modules, &mut running, &egress_formats, runs, control.as_mut()) {
                Ok(names) if names.is_empty() => tracing::info!("reload: no translator changed"),
                Ok(names) => {
                    post_translators(&board, &running);
                    tracing::info!(translators = ?names, "reload: hot-swapped")
                }
                Err(e) => tracing::error!("reload failed, still running the previous translators: {e:#}"),
            }
        }
        for (_, r) in running.iter_mut() {
            r.controls.iter_mut().for_each(|c| {
                c.reap();
            });
        }
        handle_control(control.as_mut(), &mut running, &board);
    }
    let mut total = Stats::default();
    let frames_in: usize = running.iter().map(|(_, r)| r.frames_received() as usize).sum();
    // The controls hold the translators' statistics; they outlive the workers.
    let mut controls = Vec::new();
    let mut oversize = Vec::new();
    // A failed pipeline's error comes after the report: the counters of
    // what did cross are what an operator needs to see it.
    let mut failures = Vec::new();
    for (name, mut r) in running {
        controls.append(&mut r.controls);
        let (s, errors) = r.join_all();
        failures.extend(errors.into_iter().map(|e| e.context(format!("the {name} pipeline"))));
        oversize.push((name, if name == "dl" { cfg.ru.oversize } else { cfg.du.oversize }, s.oversize.clone()));
        total.merge(&s);
    }
    for (k, c) in total.flows.iter().filter(|(_, c)| c.timing.broken_time()) {
        tracing::warn!(
            "flow {} {} eAxC 0x{:04x}: {} early, {} on time, {} late at once: the signature of broken time (check PTP/phc2sys), not of a wrong window",
            super::dir_name(k.direction), if k.plane == 0 { "U-plane" } else { "C-plane" }, k.eaxc, c.timing.early, c.timing.on_time, c.timing.late
        );
    }
    // A side no traffic flows to still holds its (empty) capture writer.
    drop((du, ru));
    // A failed run leaves existing files as they were, but keeps what it
    // captured as `.partial` files: it may be the only record of the fault.
    // A capture whose writer met an error when closing (a full disk at
    // the last flush) fails the run as a stage's error would.
    if failures.is_empty() {
        failures.extend(commits.iter().filter_map(|c| Some(anyhow!("writing {}: {}", c.target().display(), c.write_error()?))));
    }
    let partial = if failures.is_empty() {
        fhgate::io::output::commit_all(commits)?;
        Vec::new()
    } else {
        fhgate::io::output::keep_all_partial(commits)
    };
    let report = super::replay::Report { translators: fhgate::translate::summary::summarize(&controls), oversize };
    let owd_reports = owd.take().map(|mut o| {
        o.finish();
        o.reports()
    });
    // The ports' halves are dropped with their pipelines, so their final
    // counts (kernel counters included) are in.
    if a.json {
        let mut j = super::replay::stats_json(&total, frames_in, t.elapsed().as_secs_f64(), &report);
        j["ports"] = ports.json();
        if !failures.is_empty() {
            j["partial"] = fhgate::io::output::partial_json(&partial);
        }
        if cfg.timing.is_some() {
            j["timing"] = fhgate::timing::live::json(total.flows.iter().map(|(k, c)| (k, &c.timing)));
        }
        if let Some(r) = &owd_reports {
            j["owd"] = fhgate::timing::owd_run::json(r);
        }
        println!("{j}");
    } else {
        let (pin, pout) = total.totals();
        println!("run: {pin} eCPRI packets in, {pout} out, {} frames in, {} out, {:.3} s", frames_in, total.frames_out, t.elapsed().as_secs_f64());
        super::replay::print_report(&total, &report);
        for e in ports.entries() {
            println!("port {} {}", e.side, e.counters);
        }
        if let Some(r) = &owd_reports {
            print!("{}", fhgate::timing::owd_run::summary(r));
        }
        println!("{}{}{}", total.prometheus(), ports.prometheus(), owd_reports.as_deref().map(fhgate::timing::owd_run::prometheus).unwrap_or_default());
    }
    if let Some(e) = failures.into_iter().next() {
        return Err(e);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module file rewritten in place is compiled again and shows as
    /// changed; an untouched one is reused.
    #[test]
    fn modules_follow_the_file_content() {
        let noop = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../translators/examples/wat/noop.wat")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.wat");
        std::fs::write(&path, &noop).unwrap();
        let mut modules = Modules::new(Runtime::new(RuntimeConfig::default()).unwrap());
        let a = modules.get(&path).unwrap();
        let h = modules.hash_of(&path);
        assert!(Arc::ptr_eq(&a, &modules.get(&path).unwrap()), "unchanged: reused");
        std::fs::write(&path, noop.replace("version=1.0.0", "version=1.0.1")).unwrap();
        let b = modules.get(&path).unwrap();
        assert!(!Arc::ptr_eq(&a, &b), "rewritten: compiled again");
        assert_ne!(modules.hash_of(&path), h);
        assert_eq!(b.meta().version, "1.0.1");
    }
}
