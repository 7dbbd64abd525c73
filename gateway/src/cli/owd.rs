//! `fhgate owd --port SPEC`: one-way delay towards a peer with eCPRI
//! message type 5 (timing/owd.rs), as request, request with follow-up or
//! remote request; and [`answer`], with which `sink` responds. Both ends
//! stamp with CLOCK_REALTIME (t1 just before the send, t2 the port's
//! receive stamp), so on one host the delay is the path's own.
//!
//! Exit codes: 0 at least one delay measured, 1 none, 2 usage or I/O.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use serde_json::json;

use fhgate::io::{live, RxPoll, TxPort};
use fhgate::packet::PacketBuf;
use fhgate::timing::owd::{body_of, frame, respond, Initiator, Mode, OwdEvent};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ModeArg {
    Request,
    FollowUp,
    Remote,
}

/// Arguments of `owd`.
#[derive(Args, Debug)]
pub struct OwdArgs {
    /// The port towards the peer: af_xdp:IFACE, af_packet:IFACE.
    #[arg(long, value_name = "SPEC")]
    port: String,
    /// request, follow-up (request with follow-up) or remote (remote request).
    #[arg(long, value_enum, default_value = "request")]
    mode: ModeArg,
    /// Measurements to make.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    count: u32,
    /// Time between measurements, ms.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    interval_ms: u64,
    /// An answer later than this is counted late and not used, ms.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    timeout_ms: u64,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
}

/// The DU emulator's MAC towards the RU's, as gen uses them.
const SRC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0xD0, 0x01];
const DST: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x20, 0x01];
const BURST: usize = 32;

pub fn run(a: OwdArgs) -> Result<ExitCode> {
    let backend = fhgate::config::parse_port_spec(&a.port).map_err(|e| anyhow::anyhow!("{e}"))?;
    let port = live::open(&backend, 1500).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (mut rx, mut tx) = (port.rx, port.tx);
    let mode = match a.mode {
        ModeArg::Request => Mode::Request,
        ModeArg::FollowUp => Mode::FollowUp,
        ModeArg::Remote => Mode::Remote,
    };
    let timeout = Duration::from_millis(a.timeout_ms);
    let mut init = Initiator::new(timeout.as_nanos() as u64);
    let mut delays: Vec<i64> = Vec::new();
    let mut bufs: Vec<PacketBuf> = (0..BURST).map(|_| PacketBuf::new()).collect();
    let (mut lens, mut times) = ([0usize; BURST], [0u64; BURST]);
    let start = Instant::now();
    let interval = Duration::from_millis(a.interval_ms);
    for k in 0..=a.count {
        if k < a.count {
            let now = live::unix_ns();
            for m in init.start(mode, now) {
                tx.send(&frame(DST, SRC, None, m).context("building a message 5")?, now).context("sending")?;
            }
            tx.flush().context("sending")?;
        }
        // Answers until the next measurement is due (after the last: the timeout).
        let until = start + interval * (k + 1) + if k == a.count { timeout } else { Duration::ZERO };
        while Instant::now() < until {
            match rx.recv(&mut bufs, &mut lens, &mut times).context("receiving")? {
                RxPoll::Frames(n) => {
                    for i in 0..n {
                        let Some(body) = body_of(&bufs[i].bytes()[..lens[i]]) else { continue };
                        let (ev, reply) = init.receive(body, times[i]);
                        match ev {
                            OwdEvent::Delay { ns, .. } => delays.push(ns),
                            other => tracing::warn!("one-way delay answer not used: {other:?}"),
                        }
                        if let Some(r) = reply {
                            tx.send(&frame(DST, SRC, None, r).context("building a message 5")?, live::unix_ns())?;
                            tx.flush()?;
                        }
                    }
                }
                RxPoll::Idle => std::thread::sleep(Duration::from_micros(50)),
                RxPoll::Closed => break,
            }
        }
    }
    delays.sort_unstable();
    let q = |p: f64| delays.get(((p * delays.len() as f64).ceil() as usize).clamp(1, delays.len().max(1)) - 1).copied();
    let c = init.counters;
    if a.json {
        println!(
            "{}",
            json!({"port": a.port, "mode": format!("{:?}", a.mode).to_lowercase(), "started": c.started, "measured": c.measured,
                   "malformed": c.malformed, "unknown": c.unknown, "wrong_action": c.wrong_action, "late": c.late,
                   "delay_ns": {"min": q(0.0), "p50": q(0.5), "p99": q(0.99), "max": delays.last()}})
        );
    } else {
        println!(
            "owd {}: {} started, {} measured, {} malformed, {} unknown, {} wrong action, {} late; delay ns min {:?} p50 {:?} p99 {:?} max {:?}",
            a.port, c.started, c.measured, c.malformed, c.unknown, c.wrong_action, c.late, q(0.0), q(0.5), q(0.99), delays.last()
        );
    }
    Ok(if c.measured > 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Answers `data` (received at `rx_ns`) on `tx` when it is a message 5
/// the responder answers; returns how many messages it sent, or the field
/// and offset of a message 5 that does not decode.
pub fn answer(data: &[u8], rx_ns: u64, tx: &mut dyn TxPort) -> Result<std::result::Result<usize, (&'static str, usize)>> {
    let Some(body) = body_of(data) else { return Ok(Ok(0)) };
    let msgs = match respond(body, rx_ns, live::unix_ns()) {
        Ok(m) => m,
        Err(e) => return Ok(Err(e)),
    };
    // Back to the sender: its source address becomes our destination.
    let (dst, src): ([u8; 6], [u8; 6]) = (data[6..12].try_into().expect("an Ethernet header"), data[0..6].try_into().expect("an Ethernet header"));
    for m in &msgs {
        tx.send(&frame(dst, src, None, *m).context("building a message 5")?, live::unix_ns()).context("answering a one-way delay message")?;
    }
    if !msgs.is_empty() {
        tx.flush().context("answering a one-way delay message")?;
    }
    Ok(Ok(msgs.len()))
}
