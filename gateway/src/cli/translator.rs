//! `fhgate translator check X.wasm`: checks a translator against ABI v2
//! (module shape, imports, exports and their signatures, `fhgate.meta`,
//! the ABI version, init with `--config`), then runs it on the sample
//! frames of `ecpri::samples::catalog()` that its metadata asks for and
//! reports what it did: verdicts, length changes, faults, time per packet.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use fhgate::translate::abi::direction;
use fhgate::translate::host::Level;
use fhgate::translate::{
    parse_config_pairs, BufPool, Burst, ChainSpec, FaultLimit, FaultPolicy, Limits, MemoryLog, Packet, Runtime, RuntimeConfig,
    Selector, Stats, TranslatorModule, TranslatorSpec, WorkerHost,
};

/// Arguments of `translator`.
#[derive(Args, Debug)]
pub struct TranslatorArgs {
    #[command(subcommand)]
    command: TranslatorCommand,
}

#[derive(Subcommand, Debug)]
enum TranslatorCommand {
    /// Check a translator (.wasm or .wat) against ABI v2 and run it on sample frames.
    Check(CheckArgs),
}

/// Arguments of `translator check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The translator: a WebAssembly binary or WAT text.
    pub file: PathBuf,
    /// Its configuration, `key=value,...` (values as in TOML).
    #[arg(long, default_value = "")]
    pub config: String,
    /// Linear memory cap, MiB (1-4096, as `memory_limit_mib` in the config file).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub memory_mib: u64,
    /// Deadline per burst, microseconds (10-1000000, as `deadline_us` in the config file).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=1_000_000))]
    pub deadline_us: u64,
    /// Show every sample, not only those it changed or faulted on.
    #[arg(long, short)]
    pub verbose: bool,
}

pub fn run(a: TranslatorArgs) -> Result<ExitCode> {
    match a.command {
        TranslatorCommand::Check(c) => check(c),
    }
}

fn fail(file: &std::path::Path, msg: impl std::fmt::Display) -> Result<ExitCode> {
    eprintln!("fhgate: translator check: {}: error: {msg}", file.display());
    Ok(ExitCode::from(1))
}

/// What one statistic moved by during a run.
#[derive(Default, Clone, Copy)]
struct Delta {
    forwarded: u64,
    modified: u64,
    dropped: u64,
    extras: u64,
    faults: u64,
}

fn snapshot(s: &Stats) -> Delta {
    Delta {
        forwarded: s.forwarded.load(Relaxed),
        modified: s.modified.load(Relaxed),
        dropped: s.dropped.load(Relaxed),
        extras: s.extras.load(Relaxed),
        faults: s.faults(),
    }
}

fn minus(a: Delta, b: Delta) -> Delta {
    Delta {
        forwarded: a.forwarded - b.forwarded,
        modified: a.modified - b.modified,
        dropped: a.dropped - b.dropped,
        extras: a.extras - b.extras,
        faults: a.faults - b.faults,
    }
}

fn check(a: CheckArgs) -> Result<ExitCode> {
    let bytes = std::fs::read(&a.file).with_context(|| format!("cannot read {}", a.file.display()))?;
    let pairs = match parse_config_pairs(&a.config) {
        Ok(p) => p,
        Err(e) => return fail(&a.file, format!("--config: {e}")),
    };
    let rt = Runtime::new(RuntimeConfig { max_instances: 8, backtraces: true, ..RuntimeConfig::default() })?;
    let module = match TranslatorModule::load(&rt, &bytes, &a.file.display().to_string()) {
        Ok(m) => m,
        Err(e) => return fail(&a.file, e),
    };
    println!("checking {} ({} bytes of wasm)", a.file.display(), module.wasm_len());
    let imports = if module.imports().is_empty() { "none".to_string() } else { module.imports().iter().map(|i| format!("fhgate.{i}")).collect::<Vec<_>>().join(", ") };
    println!("  ABI v2: exports ok{}, imports: {imports}", if module.has_unload() { " (with fhgate_unload)" } else { "" });
    println!("  metadata: {}", module.meta());
    if !module.meta().unknown_keys.is_empty() {
        println!("  metadata keys this host ignores: {}", module.meta().unknown_keys.join(", "));
    }
    let log = Arc::new(MemoryLog::default());
    let limits = Limits { memory: (a.memory_mib as usize) << 20, deadline: Duration::from_micros(a.deadline_us), ..Limits::default() };
    let spec = TranslatorSpec::new(module.clone())
        .with_config(&pairs)
        .with_limits(limits)
        .with_policy(FaultPolicy::Pass, None)
        // Never disable during a check: every sample gets its run.
        .with_fault_limit(FaultLimit { faults: 4096, within: Duration::ZERO })
        .with_sink(log.clone());
    let chains = [ChainSpec { selector: Selector::ALL, translators: vec![Arc::new(spec)] }];
    let catalog = ecpri::samples::catalog().context("building the sample catalogue")?;
    let decode = catalog.first().map(|s| s.decode).unwrap_or_default();
    let (mut host, mut control) = match WorkerHost::new(&chains, decode) {
        Ok(h) => h,
        Err(e) => {
            // The guest says why in its log (the SDK names the config key); the error code alone does not.
            let why: Vec<String> = log.lines().into_iter().filter(|l| l.0 <= Level::Warn).map(|l| l.1).collect();
            return fail(&a.file, if why.is_empty() { e.to_string() } else { format!("{e}: {}", why.join("; ")) });
        }
    };
    println!("  init: ok ({} configuration keys, memory cap {} MiB, deadline {} µs)", pairs.len(), a.memory_mib, a.deadline_us);

    let mut pool = BufPool::new(512);
    let stats = host.translator(0, 0).map(|t| t.shared().clone()).context("no translator")?;
    let read = stats.config_read.lock().map(|k| k.clone()).unwrap_or_default();
    if module.imports().iter().any(|i| i == "config_read") {
        println!("  config keys it reads: {}", if read.is_empty() { "none".to_string() } else { read.join(", ") });
    } else {
        println!("  config keys it reads: not reported (the module does not import fhgate.config_read)");
    }
    let declared = stats.effects.lock().map(|d| d.clone()).unwrap_or_default();
    if module.imports().iter().any(|i| i == "effect") {
        let list: Vec<String> = declared.effects.iter().map(|e| e.to_string()).collect();
        println!("  effects it declares: {}", if list.is_empty() { "none (it changes no format)".to_string() } else { list.join("; ") });
        if !declared.errors.is_empty() {
            return fail(&a.file, format!("declared effects the host refuses: {}", declared.errors.join("; ")));
        }
    } else {
        println!("  effects it declares: not reported (the module does not import fhgate.effect: its changes are unknown to plan and checks)");
    }
    for p in &module.meta().plans {
        println!("  plan: {p}");
    }
    let filter = module.meta().filter();
    let wanted: Vec<&ecpri::samples::Sample> = catalog
        .iter()
        .filter(|s| {
            // Classified with each sample's own decoding options.
            Packet::from_frame(&mut pool, &s.frame, &s.decode, direction::DL)
                .map(|p| {
                    let w = p.desc.as_ref().is_some_and(|d| filter.wants(d));
                    pool.put(p.buf);
                    w
                })
                .unwrap_or(false)
        })
        .collect();
    println!("  samples: {} of {} match its metadata ({} bypass it)", wanted.len(), catalog.len(), catalog.len() - wanted.len());
    if wanted.is_empty() {
        return fail(&a.file, "no sample frame matches its metadata (planes, directions, types): nothing was run");
    }

    let mut total = Delta::default();
    let mut faulted = Vec::new();
    let mut grew = 0i64;
    println!("  {:<32} {:<10} {:>13} {:>10}", "sample", "verdict", "length", "time");
    for s in &wanted {
        let before = snapshot(&stats.stats);
        let mut b = Burst::new();
        let Some(p) = Packet::from_frame(&mut pool, &s.frame, &s.decode, direction::DL) else { continue };
        let _ = b.push(p);
        let t0 = Instant::now();
        host.process(&mut b, &mut pool);
        let dt = t0.elapsed();
        let d = minus(snapshot(&stats.stats), before);
        total = Delta {
            forwarded: total.forwarded + d.forwarded,
            modified: total.modified + d.modified,
            dropped: total.dropped + d.dropped,
            extras: total.extras + d.extras,
            faults: total.faults + d.faults,
        };
        let verdict = if d.faults > 0 {
            "FAULT"
        } else if d.dropped > 0 {
            "DROP"
        } else if d.modified > 0 {
            "MODIFIED"
        } else {
            "FORWARD"
        };
        let out_len: usize = b.packets().first().map(|p| p.len).unwrap_or(0);
        let length = match (d.dropped > 0 || d.faults > 0, d.modified > 0) {
            (true, _) => format!("{}", s.frame.len()),
            (false, true) => format!("{} → {}", s.frame.len(), out_len),
            _ => format!("{}", s.frame.len()),
        };
        if d.modified > 0 {
            grew += out_len as i64 - s.frame.len() as i64;
        }
        let extra = if d.extras > 0 { format!(" +{} extra", d.extras) } else { String::new() };
        let shown_faults = faulted.len() < 5;
        if a.verbose || (d.faults > 0 && shown_faults) || d.modified > 0 || d.dropped > 0 || d.extras > 0 {
            println!("  {:<32} {:<10} {:>13} {:>7.1} µs{extra}", s.name, verdict, length, dt.as_secs_f64() * 1e6);
        }
        if d.faults > 0 {
            let why = log.lines().into_iter().rev().find(|l| l.0 <= Level::Warn).map(|l| l.1).unwrap_or_default();
            if shown_faults {
                println!("    {why}");
            }
            faulted.push((s.name.clone(), why));
        }
        b.recycle(&mut pool);
        control.reap();
    }
    if faulted.len() > 5 && !a.verbose {
        println!("  ... and {} more samples faulted", faulted.len() - 5);
    }
    println!(
        "  verdicts: {} forward, {} modified, {} drop, {} extra; faults: {}; bytes added by modifications: {grew:+}",
        total.forwarded, total.modified, total.dropped, total.extras, total.faults
    );

    // Time per packet: every wanted sample in bursts of up to 64, repeated.
    if faulted.is_empty() {
        let (mut pkts, mut spent, mut runs) = (0usize, Duration::ZERO, 0);
        while spent < Duration::from_millis(200) && runs < 10_000 {
            for group in wanted.chunks(64) {
                let mut b = Burst::new();
                for s in group {
                    if let Some(p) = Packet::from_frame(&mut pool, &s.frame, &s.decode, direction::DL) {
                        let _ = b.push(p);
                    }
                }
                let t0 = Instant::now();
                host.process(&mut b, &mut pool);
                spent += t0.elapsed();
                pkts += group.len();
                b.recycle(&mut pool);
            }
            runs += 1;
        }
        println!("  time per packet: {:.0} ns (host and guest, {runs} runs over the {} samples)", spent.as_nanos() as f64 / pkts.max(1) as f64, wanted.len());
    }
    let counters = stats.counters.snapshot();
    if !counters.is_empty() {
        let c: Vec<String> = counters.iter().map(|(n, v)| format!("{n}={v}")).collect();
        println!("  counters: {}", c.join(", "));
    }
    let st = &stats.stats;
    let guest_lines: Vec<_> = log.lines().into_iter().filter(|l| l.1.contains(": says: ")).collect();
    if !guest_lines.is_empty() || st.log_dropped.load(Relaxed) > 0 {
        println!("  log: {} lines, {} dropped by the rate limit", st.log_lines.load(Relaxed), st.log_dropped.load(Relaxed));
        for (level, l) in guest_lines.iter().take(10) {
            println!("    {level}: {l}");
        }
    }
    if let Some((name, why)) = faulted.first() {
        return fail(&a.file, format!("faulted on {} of {} samples (first: {name}: {why})", faulted.len(), wanted.len()));
    }
    println!("ok: {} {} passes the ABI v2 check", module.meta().name, module.meta().version);
    Ok(ExitCode::SUCCESS)
}
