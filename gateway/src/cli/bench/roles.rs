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
    let (port, tx_nic) = netns::run_in(ns.as_ref(), || super::lanes::open(&backend, spec.mtu, "--tx"))?;
    let me = TxSide { tx: super::with_ns(&tx_spec, &a.tx_netns), tx_nic, tx_queues: port.tx_counters.queues(), send_timestamping: super::SEND_STAMP.into(), ptp_offset };
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
    let (port, rx_nic) = netns::run_in(rx_ns.as_ref(), || super::lanes::open(&backend, a.rx_mtu.unwrap_or(spec.mtu), "--rx"))?;
    let rx_queues = port.rx_counters.queues();
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
    let mut warnings = vec![warning];
    warnings.extend(unverified_warning(&offset));
    for w in &warnings {
        eprintln!("fhgate bench: tx side {} ({}) -> device -> {rx_spec}: {w}", peer.tx, peer.hostname);
    }
    let mut progress = super::progress(&a);
    let res = a.resolution;
    let throughput = search::throughput(&mut side, &|ceiling| res.fps(ceiling).max(1.0), a.max_rate, a.confirm.is_some(), &mut progress);
    let resolution = res.fps(throughput.max_offered_fps).max(1.0);
    let ends = Ends {
        tx: format!("{} on host {}", peer.tx, peer.hostname),
        rx: super::with_ns(&rx_spec, &a.rx_netns),
        tx_nic: peer.tx_nic,
        rx_nic,
        tx_queues: peer.tx_queues,
        rx_queues,
        timestamping: format!("software, {}: {} (tx host's clock); {} (rx host's clock)", offset.clock(), peer.send_timestamping, super::receive_stamp(&rx_spec)),
        clock: offset.clock().into(),
        clock_offset: Some(offset),
        warnings,
    };
    let info = RunInfo { carrier, realtime_fps, mean_bytes, resolution, dut, started, ends };
    super::finish(a, info, throughput, &mut side, &mut progress)
}

/// The warning of a run whose clocks nothing says are synchronised
/// (a side gave no `--ptp-offset`).
fn unverified_warning(o: &report::ClockOffset) -> Option<String> {
    let who = o.missing_ptp()?;
    let what = match who {
        "neither side" => "neither side gave a PTP offset".to_string(),
        w => format!("{w} gave no PTP offset"),
    };
    Some(format!(
        "the two hosts' clocks are not known to be synchronised: {what} (--ptp-offset NS, or pmc to ask ptp4l); the control channel's estimate ({:+.1} µs ± {:.1} µs) is all that is known of their offset",
        o.control_estimate_ns / 1e3,
        o.control_rtt_ns / 2e3
    ))
}

#[cfg(test)]
mod tests {
    use super::report::{ClockOffset, PTP_CLOCKS, UNVERIFIED_CLOCKS};
    use super::*;

    #[test]
    fn the_clock_mode_claims_ptp_only_when_both_sides_gave_an_offset() {
        let none = ClockOffset { control_estimate_ns: 1_500.0, control_rtt_ns: 400.0, ..ClockOffset::default() };
        assert_eq!(none.clock(), UNVERIFIED_CLOCKS);
        let w = unverified_warning(&none).expect("a warning without any PTP offset");
        assert!(w.contains("not known to be synchronised: neither side gave a PTP offset") && w.contains("+1.5 µs ± 0.2 µs"), "{w}");
        let tx_only = ClockOffset { tx_ptp_offset_ns: Some(-15.0), ptp_offset_source: vec!["given".into()], ..ClockOffset::default() };
        assert_eq!(tx_only.clock(), UNVERIFIED_CLOCKS);
        assert!(unverified_warning(&tx_only).unwrap().contains("the rx side gave no PTP offset"), "{:?}", unverified_warning(&tx_only));
        let rx_only = ClockOffset { rx_ptp_offset_ns: Some(40.0), ..ClockOffset::default() };
        assert!(unverified_warning(&rx_only).unwrap().contains("the tx side gave no PTP offset"));
        let both = ClockOffset { tx_ptp_offset_ns: Some(-15.0), rx_ptp_offset_ns: Some(40.0), ..ClockOffset::default() };
        assert_eq!(both.clock(), PTP_CLOCKS);
        assert!(unverified_warning(&both).is_none());
    }
}
