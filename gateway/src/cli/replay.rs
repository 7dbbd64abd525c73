//! `fhgate replay IN.pcap -o OUT.pcap --translator X.wasm[:key=value,...]`:
//! the quick path through the full pipeline, no config file needed.
//! Repeated `--translator` options form one chain, applied in order.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, ValueEnum};

use super::replay_profiles::{self, Profiles};
use super::DecodeArgs;
use fhgate::io::output::{self, check_distinct, FileUse};
use fhgate::io::pcap::{self, Pace, PcapOut, PcapRx};
use fhgate::pipeline::egress::{EgressConfig, EgressErrorKind, FlowFormats, OversizePolicy};
use fhgate::pipeline::runner::{self, DirectionSpec, Threading};
use fhgate::pipeline::stats::Stats;
use fhgate::plan::{direction_format, format_of_decode, Declarations, EgressFormat, FlowStart, FoldError, Folded};
use fhgate::translate::effect::{Field, Scope};
use ecpri::frame::DecodeConfig;
use fhgate::translate::summary::{self, TranslatorSummary};
use fhgate::translate::{parse_config_pairs, ChainSpec, Runtime, RuntimeConfig, Selector, TranslatorModule, TranslatorSpec};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum From {
    /// The capture was taken on the DU side: frames flow DU → RU.
    Du,
    /// The capture was taken on the RU side: frames flow RU → DU.
    Ru,
}

/// Arguments of `replay`.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// Input capture (pcap or pcapng).
    pub input: PathBuf,
    /// Output capture of what the gateway sends.
    #[arg(short, long)]
    pub output: PathBuf,
    /// A translator and its config: `X.wasm[:key=value,...]`. Repeat to chain.
    #[arg(long = "translator", value_name = "X.wasm[:k=v,...]")]
    pub translators: Vec<String>,
    /// Egress MTU (largest Ethernet payload); larger U-plane packets are split at PRB boundaries. Default: the receiving side's profile's mtu, else 9000.
    #[arg(long, value_parser = clap::value_parser!(u32).range(128..=16000))]
    pub mtu: Option<u32>,
    /// What to do with a frame larger than the MTU that cannot be split (malformed, not eCPRI, C-plane): drop, forward or cut.
    #[arg(long, default_value = "drop", value_parser = parse_oversize)]
    pub oversize: OversizePolicy,
    /// Which side the capture was taken on.
    #[arg(long, value_enum, default_value = "du")]
    from: From,
    /// Replay speed: `fast`, `recorded` (the capture's timing) or `rate:N` frames per second.
    #[arg(long, default_value = "fast", value_parser = parse_pace)]
    pub pace: Pace,
    /// Also write every ingress frame to this capture.
    #[arg(long)]
    pub tap: Option<PathBuf>,
    /// Worker threads.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub workers: u32,
    /// Leave eCPRI sequence IDs as the translators left them.
    #[arg(long)]
    pub no_renumber: bool,
    /// Override of the DL compression after translation (default: what the chain declares, else `--dl-comp`).
    #[arg(long, value_name = "METHOD:WIDTH")]
    pub egress_dl_comp: Option<String>,
    /// Override of the UL compression after translation (default: what the chain declares, else `--ul-comp`).
    #[arg(long, value_name = "METHOD:WIDTH")]
    pub egress_ul_comp: Option<String>,
    /// Print the counters as JSON.
    #[arg(long)]
    pub json: bool,
    /// The DU's profile: its keys replace the decoding flags for traffic from the DU; with --ru-profile the chain is checked (or, with no --translator, derived).
    #[arg(long, value_name = "FILE")]
    pub du_profile: Option<PathBuf>,
    /// The RU's profile: what the chain must produce towards the RU.
    #[arg(long, value_name = "FILE")]
    pub ru_profile: Option<PathBuf>,
    /// Where to find translators for a derived chain (profiles and no --translator); default: beside the fhgate binary.
    #[arg(long, value_name = "DIR")]
    pub translators_dir: Option<PathBuf>,
    #[command(flatten)]
    pub decode: DecodeArgs,
}

fn parse_oversize(s: &str) -> Result<OversizePolicy, String> {
    OversizePolicy::from_name(s).ok_or_else(|| format!("`{s}`: expected drop, forward or cut"))
}

fn parse_pace(s: &str) -> Result<Pace, String> {
    match s {
        "fast" => Ok(Pace::Fast),
        "recorded" => Ok(Pace::Recorded),
        _ => match s.strip_prefix("rate:").and_then(|r| r.parse::<f64>().ok()) {
            Some(r) if r > 0.0 && r.is_finite() => Ok(Pace::Rate(r)),
            _ => Err(format!("`{s}`: expected fast, recorded or rate:N (frames per second)")),
        },
    }
}

/// Splits `X.wasm:k=v,...` into the path and its config pairs.
pub fn parse_translator_arg(s: &str) -> Result<(PathBuf, Vec<(String, String)>)> {
    let (path, cfg) = match [".wasm:", ".wat:"].iter().find_map(|ext| s.find(ext).map(|i| i + ext.len() - 1)) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    };
    if !(path.ends_with(".wasm") || path.ends_with(".wat")) {
        bail!("--translator {s}: expected a .wasm (or .wat) module, optionally followed by :key=value,...");
    }
    let pairs = parse_config_pairs(cfg).map_err(|e| anyhow!("--translator {s}: {e}"))?;
    Ok((PathBuf::from(path), pairs))
}

/// Loads the translators named on the command line as one chain.
pub fn load_chain(args: &[String]) -> Result<Vec<ChainSpec>> {
    if args.is_empty() {
        return Ok(Vec::new());
    }
    let rt = Runtime::new(RuntimeConfig::default()).map_err(|e| anyhow!("{e}"))?;
    let mut specs = Vec::new();
    for a in args {
        let (path, pairs) = parse_translator_arg(a)?;
        let module = TranslatorModule::load_file(&rt, &path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        // Replay is offline: a generous deadline keeps a loaded machine's
        // scheduling from turning into deadline faults.
        let limits = fhgate::translate::Limits { deadline: std::time::Duration::from_millis(50), ..Default::default() };
        specs.push(Arc::new(
            TranslatorSpec::new(module).with_config(&pairs).with_limits(limits).with_sink(Arc::new(fhgate::logging::TracingLog)),
        ));
    }
    Ok(vec![ChainSpec { selector: Selector::ALL, translators: specs }])
}

pub fn run(a: ReplayArgs) -> Result<ExitCode> {
    let dir = match a.from {
        From::Du => Scope::Dl,
        From::Ru => Scope::Ul,
    };
    let profiles = Profiles::load(a.du_profile.as_deref(), a.ru_profile.as_deref())?;
    let decode = profiles.ingress_decode(&a.decode.config(), dir);
    let mut files = vec![FileUse { key: "IN", path: &a.input, writes: false }, FileUse { key: "-o", path: &a.output, writes: true }];
    if let Some(t) = &a.tap {
        files.push(FileUse { key: "--tap", path: t, writes: true });
    }
    check_distinct(&files)?;
    let chains = match replay_profiles::both(&a.du_profile, &a.ru_profile) {
        Some((du, ru)) if a.translators.is_empty() => profiles.derived_chain(&du, &ru, a.translators_dir.as_deref(), dir)?,
        _ => load_chain(&a.translators)?,
    };
    // Before a packet moves: the chain against the receiving side's profile.
    profiles.check(&chains, dir)?;
    let mtu = a.mtu.map(|m| m as usize).or(profiles.egress_mtu(dir)).unwrap_or(9000);
    let capture = pcap::read(&a.input)?;
    let cut = capture.cut_frames();
    let frames = capture.frames;
    let n_in = frames.len();
    let (mut egress_decode, flows, mut declared) = egress_format(&chains, &decode, &profiles.flow_starts(&decode, dir), dir)?;
    for (flag, given, slot) in [
        ("--egress-dl-comp", &a.egress_dl_comp, &mut egress_decode.dl_comp),
        ("--egress-ul-comp", &a.egress_ul_comp, &mut egress_decode.ul_comp),
    ] {
        if let Some(c) = given {
            let c = fhgate::config::parse_comp(flag, c).map_err(|e| anyhow!("{e}"))?;
            if declared && c != *slot {
                tracing::warn!("{flag} {c} overrides the chain's declared {slot}: a U-plane message that does not read with it counts as format_mismatch");
                declared = false;
            }
            *slot = c;
        }
    }
    // Outputs are staged: they replace existing files only once the replay has succeeded.
    let (tx, out_commit) = PcapOut::create(&a.output, output::Existing::Replace)?;
    let (tap, tap_commit) = a.tap.as_deref().map(|t| PcapOut::create(t, output::Existing::Replace)).transpose()?.unzip();
    let spec = DirectionSpec {
        name: match a.from {
            From::Du => "dl".into(),
            From::Ru => "ul".into(),
        },
        rx: Box::new(PcapRx::from_frames(frames, a.pace)),
        tx: Box::new(tx),
        lanes: Vec::new(),
        tap: tap.map(|t| Box::new(t) as Box<dyn fhgate::io::TxPort>),
        decode,
        port_direction: match a.from {
            From::Du => 1,
            From::Ru => 0,
        },
        egress: EgressConfig { mtu, renumber_seq_id: !a.no_renumber, decode: egress_decode, oversize: a.oversize, declared, flows },
        chains,
        workers: a.workers as usize,
        cores: Default::default(),
        // A capture is read as fast as the pipeline takes it: nothing to sleep for.
        polling: fhgate::pipeline::polling::Polling::Busy,
        burst: 32,
        ring_size: 4096,
        threading: Threading::for_workers(a.workers as usize),
        // Everything crosses; capture timestamps give no residence time.
        bridge: fhgate::bridge::BridgeSpec::default(),
        timing: None,
        owd: Default::default(),
    };
    let direction = match a.from {
        From::Du => "dl",
        From::Ru => "ul",
    };
    // SIGINT/SIGTERM stop the replay; its outputs are then not put in place.
    fhgate::signals::install();
    let t = Instant::now();
    let mut running = runner::start(spec).context("starting the pipeline")?;
    // A progress bar on long replays, when someone is watching.
    let bar = (n_in >= 50_000 && std::io::IsTerminal::is_terminal(&std::io::stderr())).then(|| {
        let bar = indicatif::ProgressBar::new(n_in as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {elapsed_precise} [{bar:40}] {pos}/{len} frames ({per_sec})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut interrupted = false;
    while !running.is_finished() {
        if fhgate::signals::stop_requested() && !interrupted {
            running.stop();
            interrupted = true;
        }
        if let Some(b) = &bar {
            b.set_position(running.frames_received());
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    // The controls hold the translators' statistics; they outlive the workers.
    let controls = std::mem::take(&mut running.controls);
    let stats = running.join()?;
    if interrupted {
        bail!("interrupted: {} is left as it was", a.output.display());
    }
    output::commit_all([Some(out_commit), tap_commit].into_iter().flatten().collect())?;
    tracing::info!(frames = n_in, seconds = t.elapsed().as_secs_f64(), "replay finished");
    let secs = t.elapsed().as_secs_f64();
    let report = Report { translators: summary::summarize(&controls), oversize: vec![(direction, a.oversize, stats.oversize.clone())] };
    if a.json {
        let mut j = stats_json(&stats, n_in, secs, &report);
        j["frames_cut"] = cut.into();
        println!("{j}");
    } else {
        print_stats(&stats, n_in, secs, &a.output, &report);
        if cut > 0 {
            println!("  cut by the capture's snap length: {cut} frames (went through as captured)");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The egress format of direction `dir`: `decode` folded through what the
/// chain's translators declare (ABI.md §6 `effect`), the flows with a
/// compression of their own (`flows`: PRACH, SRS; and flows only some
/// chains convert), and whether it was declared (`false`: no chain, or a
/// translator that declares nothing, so egress reads with `decode` as before).
pub fn egress_format(chains: &[ChainSpec], decode: &DecodeConfig, flows: &[FlowStart], dir: Scope) -> Result<(DecodeConfig, FlowFormats, bool)> {
    let own = |f: &Folded| EgressFormat::of(f, dir).map(|e| e.flows).map_err(|e| anyhow!("{e}"));
    if chains.is_empty() {
        // No chain: every flow leaves as it came, PRACH and SRS at their own compression.
        let f = direction_format(&[], &Declarations::read(&[])?, &format_of_decode(decode), flows, dir)?;
        return Ok((*decode, own(&f)?, false));
    }
    let decl = Declarations::read(chains)?;
    match direction_format(chains, &decl, &format_of_decode(decode), flows, dir) {
        Ok(f) => {
            for (t, s) in &f.skipped {
                // `had` is what the decoding flags (or profile) say arrives,
                // which is none:16 when --dl-comp/--ul-comp are left out.
                tracing::warn!(
                    "{t} declares `{}` but the decoding flags say {} arrives: if so it passes that traffic unchanged, and egress reads it as that; if not, give --dl-comp/--ul-comp or --du-profile/--ru-profile so egress knows what the chain makes",
                    s.effect,
                    s.had
                );
            }
            let out = f.format.decode_over(decode);
            tracing::info!(
                "egress format ({}, from the chain's declared effects): comp_hdr {:?}, dl_comp {}, ul_comp {}, eaxc_bits {}",
                fhgate::plan::fold::flow_name(dir),
                out.comp_hdr,
                out.dl_comp,
                out.ul_comp,
                out.eaxc
            );
            for o in &f.flows {
                tracing::info!("egress format of {}: {}", o.what, o.format.get(if dir == Scope::Ul { Field::UlComp } else { Field::DlComp }).unwrap_or("unknown"));
            }
            Ok((out, own(&f)?, true))
        }
        Err(e @ FoldError::Undeclared { .. }) => {
            tracing::warn!("{e}: egress reads the decoding flags (give --egress-dl-comp/--egress-ul-comp if it changes them)");
            Ok((*decode, FlowFormats::NONE, false))
        }
        Err(e) => Err(e.into()),
    }
}

/// What a summary shows besides the pipeline's counters.
pub struct Report {
    /// Every translator's totals.
    pub translators: Vec<TranslatorSummary>,
    /// The oversize policy of each direction that ran, and what it did
    /// there (frames by outcome).
    pub oversize: Vec<(&'static str, OversizePolicy, std::collections::BTreeMap<&'static str, u64>)>,
}

fn flow_json(k: &fhgate::classify::FlowKey) -> serde_json::Value {
    let plane = ["u", "c", "other"].get(k.plane as usize).copied().unwrap_or("?");
    let dir = if k.direction == 1 { "dl" } else { "ul" };
    serde_json::json!({"direction": dir, "plane": plane, "eaxc": k.eaxc, "vlan": if k.vlan == 0xFFFF { None } else { Some(k.vlan) }})
}

fn flow_text(k: &fhgate::classify::FlowKey) -> String {
    format!(
        "{} {} eAxC 0x{:04x} vlan {}",
        ["U", "C", "other"].get(k.plane as usize).unwrap_or(&"?"),
        super::dir_name(k.direction),
        k.eaxc,
        if k.vlan == 0xFFFF { "-".to_string() } else { k.vlan.to_string() }
    )
}

/// The summary lines that `replay` and `run` share: egress errors by
/// kind, field and flow with how to fix them, the oversize policy and what
/// it did, and every translator's counters.
pub fn print_report(s: &Stats, r: &Report) {
    for ((kind, field, flow), n) in &s.egress_error_flows {
        let flow = flow.as_ref().map_or("not eCPRI".to_string(), flow_text);
        println!("  egress error: {n} × {kind} in {field}, flow {flow}");
    }
    for k in EgressErrorKind::ALL {
        if let (Some(h), true) = (k.hint(), s.egress_errors.contains_key(k.name())) {
            println!("    fix ({}): {h}", k.name());
        }
    }
    // Each direction's own counts: `s` may be both directions' total.
    for (dir, p, counts) in &r.oversize {
        let handled: u64 = counts.values().sum();
        println!(
            "  oversize ({dir}): policy {} (--oversize, or the receiving side's oversize key); {handled} frames past the MTU that could not be split: {}",
            p.name(),
            OversizePolicy::ALL.iter().map(|o| format!("{} {}", o.outcome(), counts.get(o.outcome()).unwrap_or(&0))).collect::<Vec<_>>().join(", ")
        );
    }
    for t in &r.translators {
        println!("{}", t.text());
    }
}

/// The end-of-replay counters as JSON.
pub fn stats_json(s: &Stats, frames_in: usize, secs: f64, r: &Report) -> serde_json::Value {
    use serde_json::json;
    let flows: Vec<_> = s
        .flows
        .iter()
        .map(|(k, c)| {
            let mut f = flow_json(k);
            for (n, v) in [
                ("packets_in", c.packets_in),
                ("bytes_in", c.bytes_in),
                ("packets_out", c.packets_out),
                ("bytes_out", c.bytes_out),
                ("seq_gaps", c.seq_gaps),
                ("seq_reorders", c.seq_reorders),
            ] {
                f[n] = v.into();
            }
            f
        })
        .collect();
    let error_flows: Vec<_> = s
        .egress_error_flows
        .iter()
        .map(|((kind, field, flow), n)| json!({"kind": kind, "field": field, "flow": flow.as_ref().map(flow_json), "count": n}))
        .collect();
    let hints: serde_json::Map<_, _> =
        EgressErrorKind::ALL.iter().filter(|k| s.egress_errors.contains_key(k.name())).filter_map(|k| Some((k.name().to_string(), json!(k.hint()?)))).collect();
    let mut oversize = json!({
        "policy": r.oversize.iter().map(|(d, p, _)| (d.to_string(), json!(p.name()))).collect::<serde_json::Map<_, _>>(),
        "by_direction": r.oversize.iter().map(|(d, _, c)| (d.to_string(), json!(OversizePolicy::ALL.iter().map(|o| (o.outcome(), c.get(o.outcome()).copied().unwrap_or(0))).collect::<std::collections::BTreeMap<_, _>>()))).collect::<serde_json::Map<_, _>>(),
    });
    for o in OversizePolicy::ALL {
        oversize[o.outcome()] = json!(s.oversize.get(o.outcome()).copied().unwrap_or(0));
    }
    json!({
        "frames_in": frames_in, "frames_out": s.frames_out, "seconds": secs, "flows": flows,
        "malformed": s.malformed.iter().map(|((k, f), n)| json!({"kind": k, "field": f, "count": n})).collect::<Vec<_>>(),
        "unknown_flows": s.unknown_flows,
        "other_ethertypes": s.other.iter().map(|(t, n)| (format!("0x{t:04x}"), json!(n))).collect::<serde_json::Map<_, _>>(),
        "egress_errors": s.egress_errors,
        "egress_error_flows": error_flows,
        "egress_error_hints": hints,
        "oversize": oversize,
        "translators": summary::json(&r.translators),
        "translators_disabled": r.translators.iter().filter(|t| t.disabled > 0).map(|t| t.name.clone()).collect::<Vec<_>>(),
        "latency_ns": {"p50": s.latency.value_at_quantile(0.5), "p99": s.latency.value_at_quantile(0.99), "max": s.latency.max()},
    })
}

fn print_stats(s: &Stats, frames_in: usize, secs: f64, out: &std::path::Path, r: &Report) {
    println!("replay: {frames_in} frames in, {} out, in {:.3} s -> {}", s.frames_out, secs, out.display());
    println!("  {:<5} {:<3} {:>6} {:>5} {:>9} {:>9} {:>12} {:>12} {:>5} {:>5}", "plane", "dir", "eAxC", "vlan", "pkts in", "pkts out", "bytes in", "bytes out", "gaps", "reord");
    for (k, c) in &s.flows {
        println!(
            "  {:<5} {:<3} 0x{:04x} {:>5} {:>9} {:>9} {:>12} {:>12} {:>5} {:>5}",
            ["U", "C", "other"].get(k.plane as usize).unwrap_or(&"?"),
            super::dir_name(k.direction),
            k.eaxc,
            if k.vlan == 0xFFFF { "-".to_string() } else { k.vlan.to_string() },
            c.packets_in,
            c.packets_out,
            c.bytes_in,
            c.bytes_out,
            c.seq_gaps,
            c.seq_reorders
        );
    }
    for (t, n) in &s.other {
        println!("  ethertype 0x{t:04x}: {n} frames forwarded untouched");
    }
    for ((k, f), n) in &s.malformed {
        println!("  malformed: {n} × {k} in {f} (forwarded untouched)");
    }
    if s.unknown_flows > 0 {
        println!("  unknown flows: {} frames forwarded untouched", s.unknown_flows);
    }
    print_report(s, r);
    println!(
        "  added latency: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        s.latency.value_at_quantile(0.5) as f64 / 1e3,
        s.latency.value_at_quantile(0.99) as f64 / 1e3,
        s.latency.max() as f64 / 1e3
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translator_args() {
        let (p, c) = parse_translator_arg("t/bfp_width.wasm:in_width=8,out_width=12").unwrap();
        assert_eq!(p, PathBuf::from("t/bfp_width.wasm"));
        assert_eq!(c, vec![("in_width".into(), "8".into()), ("out_width".into(), "12".into())]);
        let (p, c) = parse_translator_arg("noop.wat").unwrap();
        assert_eq!((p, c.len()), (PathBuf::from("noop.wat"), 0));
        let (_, c) = parse_translator_arg("x.wasm:from=\"4,4,4,4\",to=\"2,6,4,4\"").unwrap();
        assert_eq!(c[1], ("to".into(), "\"2,6,4,4\"".into()));
        assert!(parse_translator_arg("x.so:a=1").is_err());
        assert!(parse_translator_arg("x.wasm:novalue").is_err());
    }

    #[test]
    fn paces() {
        assert_eq!(parse_pace("fast"), Ok(Pace::Fast));
        assert_eq!(parse_pace("rate:1000"), Ok(Pace::Rate(1000.0)));
        assert!(parse_pace("rate:-1").is_err());
        assert!(parse_pace("rate:inf").is_err() && parse_pace("rate:NaN").is_err());
        assert!(parse_pace("slow").is_err());
    }
}
