//! `fhgate run -c gw.toml`: runs the pipeline as a configuration file
//! describes it, both directions, with Prometheus metrics on loopback.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use fhgate::config::{Backend, FaultPolicyConfig, GatewayConfig, Side};
use fhgate::io::pcap::{Pace, PcapOut, PcapRx};
use fhgate::io::{RxPort, TxPort};
use fhgate::pipeline::egress::EgressConfig;
use fhgate::pipeline::runner::{self, DirectionSpec};
use fhgate::pipeline::stats::Stats;
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
}

/// Loads every translator of the configuration and builds the chains.
pub fn build_chains(cfg: &GatewayConfig) -> Result<Vec<ChainSpec>> {
    let max_memory = cfg.translators.iter().map(|t| t.memory_limit).max().unwrap_or(16 << 20);
    let rt = Runtime::new(RuntimeConfig { max_memory, ..RuntimeConfig::default() }).map_err(|e| anyhow!("{e}"))?;
    let mut modules = BTreeMap::new();
    for (i, t) in cfg.translators.iter().enumerate() {
        let m = TranslatorModule::load_file(&rt, &t.path).map_err(|e| anyhow!("translator[{i}] ({}): {}: {e}", t.name, t.path.display()))?;
        modules.insert(t.name.clone(), m);
    }
    let spec_of = |name: &str, fallback: Option<Arc<TranslatorSpec>>| -> Arc<TranslatorSpec> {
        let t = cfg.translators.iter().find(|t| t.name == name).expect("validated");
        let policy = match t.fault_policy {
            FaultPolicyConfig::Pass => FaultPolicy::Pass,
            FaultPolicyConfig::Drop => FaultPolicy::Drop,
            FaultPolicyConfig::Fallback(_) => FaultPolicy::Fallback,
        };
        Arc::new(
            TranslatorSpec::new(modules[name].clone())
                .with_config(&t.config)
                .with_limits(Limits { memory: t.memory_limit, deadline: t.deadline, ..Limits::default() })
                .with_policy(policy, fallback)
                .with_fault_limit(FaultLimit { faults: t.fault_limit, within: t.fault_window })
                .with_sink(Arc::new(fhgate::logging::TracingLog)),
        )
    };
    let mut chains = Vec::new();
    for c in &cfg.chains {
        let selector = Selector::parse(&c.select).map_err(|e| anyhow!("{e}"))?;
        let translators = c
            .translators
            .iter()
            .map(|n| {
                let t = cfg.translators.iter().find(|t| &t.name == n).expect("validated");
                let fallback = match &t.fault_policy {
                    FaultPolicyConfig::Fallback(f) => Some(spec_of(f, None)),
                    _ => None,
                };
                spec_of(n, fallback)
            })
            .collect();
        chains.push(ChainSpec { selector, translators });
    }
    Ok(chains)
}

fn rx_of(side: &Side, name: &str) -> Result<Option<Box<dyn RxPort>>> {
    match &side.backend {
        Backend::Pcap { input: Some(p), .. } => Ok(Some(Box::new(PcapRx::open(p, Pace::Recorded)?))),
        Backend::Pcap { input: None, .. } => Ok(None),
        other => bail!("{name}.backend: {} is not available in this build yet (live I/O is issue #5); use backend = \"pcap\"", backend_name(other)),
    }
}

fn tx_of(side: &Side, name: &str) -> Result<Box<dyn TxPort>> {
    match &side.backend {
        Backend::Pcap { output: Some(p), .. } => Ok(Box::new(PcapOut::create(p)?)),
        Backend::Pcap { output: None, .. } => bail!("{name}.output: traffic flows towards this side, so it needs an output capture"),
        other => bail!("{name}.backend: {} is not available in this build yet (live I/O is issue #5); use backend = \"pcap\"", backend_name(other)),
    }
}

fn backend_name(b: &Backend) -> &'static str {
    match b {
        Backend::Pcap { .. } => "pcap",
        Backend::AfXdp { .. } => "af_xdp",
        Backend::AfPacket { .. } => "af_packet",
        Backend::Udp { .. } => "udp",
    }
}

pub fn run(a: RunArgs) -> Result<ExitCode> {
    let cfg = GatewayConfig::load(&a.config)?;
    let chains = build_chains(&cfg)?;
    if a.check {
        println!("{}: ok ({} translators, {} chains)", a.config.display(), cfg.translators.len(), chains.len());
        return Ok(ExitCode::SUCCESS);
    }
    let p = &cfg.pipeline;
    let mut running = Vec::new();
    let mut metrics = Vec::new();
    // DL: DU → RU; UL: RU → DU. A side with no input sends nothing.
    for (name, from, to, from_name, to_name, port_direction) in [("dl", &cfg.du, &cfg.ru, "du", "ru", 1u8), ("ul", &cfg.ru, &cfg.du, "ru", "du", 0u8)] {
        let Some(rx) = rx_of(from, from_name)? else { continue };
        let spec = DirectionSpec {
            name: name.into(),
            rx,
            tx: tx_of(to, to_name)?,
            tap: None,
            decode: from.decode,
            port_direction,
            egress: EgressConfig { mtu: to.mtu, renumber_seq_id: p.renumber_seq_id, decode: to.decode },
            chains: chains.clone(),
            workers: p.workers,
            cores: p.cores.clone(),
            burst: p.burst,
            ring_size: p.ring_size,
        };
        let mut r = runner::start(spec).with_context(|| format!("starting the {name} pipeline"))?;
        metrics.append(&mut r.metrics);
        running.push((name, r));
    }
    if running.is_empty() {
        bail!("neither side has an input: set du.input or ru.input");
    }
    if let Some(addr) = cfg.metrics_listen {
        fhgate::metrics::serve(addr, fhgate::metrics::Collector::new(metrics))?;
        tracing::info!("metrics on http://{addr}/metrics");
    }
    let t = Instant::now();
    let mut total = Stats::default();
    for (name, r) in running {
        let s = r.join().with_context(|| format!("the {name} pipeline"))?;
        total.merge(&s);
    }
    if a.json {
        println!("{}", super::replay::stats_json(&total, 0, t.elapsed().as_secs_f64()));
    } else {
        let (pin, pout) = total.totals();
        println!("run: {pin} eCPRI packets in, {pout} out, {:.3} s", t.elapsed().as_secs_f64());
        println!("{}", total.prometheus());
    }
    Ok(ExitCode::SUCCESS)
}
