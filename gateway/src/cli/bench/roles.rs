//! `bench --role tx` and `bench --role rx`: the two processes of a
//! cross-host run ([`super::remote`]). Both generate the pool from the
//! same traffic flags; the rx side checks that they did, runs the search,
//! and writes the report, which says the latency is across two clocks.

use std::process::ExitCode;

use anyhow::{anyhow, Result};
use fhgate::config::Backend;
use fhgate::traffic::CarrierSpec;

use super::args::RunArgs;
use super::netns::{self, Netns};
use super::remote::{self, RxSide, TxSide};
use super::trial::{Engine, Plan, Reference};
use super::{pool, report, search, Ends, RunInfo};

/// The engine both roles build: the pool, the decoding, the reference signal.
fn engine(a: &RunArgs, spec: &CarrierSpec, rx_cfg: ecpri::frame::DecodeConfig) -> Result<Engine> {
    let pool = pool::Pool::new(spec)?;
    let reference = Reference { level: spec.level, comp: spec.comp, rounding: spec.rounding };
    Ok(Engine::new(pool, rx_cfg, reference, a.iq_every, a.loss_tolerance / 100.0))
}

/// `--role tx`: opens `--tx`, then serves the rx side's trials.
pub fn tx(a: &RunArgs, spec: &CarrierSpec) -> Result<ExitCode> {
    let tx_spec = a.tx.clone().unwrap_or_default();
    let backend = fhgate::config::parse_port_spec(&tx_spec).map_err(|e| anyhow!("--tx {tx_spec}: {e}"))?;
    let ns = a.tx_netns.as_deref().map(Netns::open).transpose()?;
    let ptp_offset = remote::ptp_offset(a.ptp_offset.as_deref())?;
    let mut engine = engine(a, spec, a.rx_decode(spec)?)?;
    let (port, tx_nic) = netns::run_in(ns.as_ref(), || super::open_port(&backend, spec.mtu, "--tx"))?;
    let me = TxSide { tx: super::with_ns(&tx_spec, &a.tx_netns), tx_nic, send_timestamping: super::SEND_STAMP.into(), ptp_offset };
    let mut tx = port.tx;
    let control = a.control.as_deref().unwrap_or_default();
    remote::serve_tx(&mut engine, tx.as_mut(), &port.tx_counters, control, a.peer_timeout, me, &super::spec_text(spec))?;
    eprintln!("fhgate bench: tx side done (the rx side said bye)");
    Ok(ExitCode::SUCCESS)
}

/// `--role rx`: opens `--rx`, connects to the tx side at `--peer`, runs
/// the search and the sweep through it, and reports.
pub fn rx(a: RunArgs, spec: &CarrierSpec) -> Result<ExitCode> {
    let rx_spec = a.rx.clone().unwrap_or_default();
    let peer_addr = a.peer.clone().unwrap_or_default();
    let mut rx_cfg = a.rx_decode(spec)?;
    let backend = fhgate::config::parse_port_spec(&rx_spec).map_err(|e| anyhow!("--rx {rx_spec}: {e}"))?;
    if let Backend::Udp(u) = &backend {
        rx_cfg.udp_port = Some(u.bind.port());
    }
    let rx_ns = a.rx_netns.as_deref().map(Netns::open).transpose()?;
    let dut_ns = a.dut_netns.as_deref().map(Netns::open).transpose()?;
    let rx_ptp = remote::ptp_offset(a.ptp_offset.as_deref())?;
    let started = super::now_rfc3339();
    let mut engine = engine(&a, spec, rx_cfg)?;
    let (realtime_fps, mean_bytes) = (engine.pool.realtime_fps(), engine.pool.mean_frame_bytes());
    let dut = match &a.dut_config {
        Some(c) => Some(super::dut::Dut::start(c, dut_ns)?),
        None => None,
    };
    let (port, rx_nic) = netns::run_in(rx_ns.as_ref(), || super::open_port(&backend, a.rx_mtu.unwrap_or(spec.mtu), "--rx"))?;
    let plan = Plan { rate: None, warmup: a.warmup, duration: a.trial, drain: a.drain, settle: a.settle };
    let carrier = super::spec_text(spec);
    eprintln!("fhgate bench: rx side connecting to the tx side at {peer_addr}");
    let (mut side, peer) = RxSide::connect(&mut engine, port.rx, port.rx_counters, &peer_addr, a.peer_timeout, plan, a.confirm.unwrap_or(a.trial), &carrier)?;
    let mut offset = peer.offset;
    if let Some((v, src)) = rx_ptp {
        offset.rx_ptp_offset_ns = Some(v);
        offset.ptp_offset_source.push(format!("rx: {src}"));
    }
    let ptp = |v: Option<f64>| v.map_or("not given".to_string(), |v| format!("{v:.0} ns"));
    let warning = format!(
        "latency is across two hosts' clocks and includes their offset: PTP offset tx {}, rx {} (--ptp-offset); the control channel estimates the tx clock {:+.1} µs from the rx clock, ± {:.1} µs (half its round trip)",
        ptp(offset.tx_ptp_offset_ns),
        ptp(offset.rx_ptp_offset_ns),
        offset.control_estimate_ns / 1e3,
        offset.control_rtt_ns / 2e3
    );
    eprintln!("fhgate bench: tx side {} ({}) -> device -> {rx_spec}: {warning}", peer.tx, peer.hostname);
    let mut progress = super::progress(&a);
    let res = a.resolution;
    let throughput = search::throughput(&mut side, &|ceiling| res.fps(ceiling).max(1.0), a.max_rate, a.confirm.is_some(), &mut progress);
    let resolution = res.fps(throughput.max_offered_fps).max(1.0);
    let ends = Ends {
        tx: format!("{} on host {}", peer.tx, peer.hostname),
        rx: super::with_ns(&rx_spec, &a.rx_netns),
        tx_nic: peer.tx_nic,
        rx_nic,
        timestamping: format!("software, {}: {} (tx host's clock); {} (rx host's clock)", report::PTP_CLOCKS, peer.send_timestamping, super::receive_stamp(&rx_spec)),
        clock: report::PTP_CLOCKS.into(),
        clock_offset: Some(offset),
        warnings: vec![warning],
    };
    let info = RunInfo { carrier, realtime_fps, mean_bytes, resolution, dut, started, ends };
    super::finish(a, info, throughput, &mut side, &mut progress)
}
