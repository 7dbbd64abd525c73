//! `fhgate run`'s ports: opening each side's port as lanes (one per queue
//! or fanout socket of a multi-queue port), and what a multi-queue port
//! needs of the rest of the configuration.

use anyhow::{bail, Context, Result};
use fhgate::config::{Backend, GatewayConfig, Side};
use fhgate::io::output::{Commit, Existing};
use fhgate::io::pcap::{Pace, PcapOut, PcapRx};
use fhgate::io::{live, RxPort, TxPort};
use fhgate::metrics::PortBoard;

/// One side's port, split into the halves each direction uses: one per
/// lane (queue or fanout socket) of a multi-queue port.
pub(super) struct SidePort {
    pub(super) rx: Vec<Box<dyn RxPort>>,
    pub(super) tx: Vec<Box<dyn TxPort>>,
}

/// Opens the port of `side` (named `name`: `du` or `ru`); a live port's
/// counters go on `ports`, one pair per lane.
pub(super) fn open_side(side: &Side, name: &str, existing: Existing, ports: &mut PortBoard, commits: &mut Vec<Commit>) -> Result<SidePort> {
    match &side.backend {
        Backend::Pcap { input, output } => Ok(SidePort {
            rx: match input {
                Some(p) => vec![Box::new(PcapRx::open(p, Pace::Recorded).with_context(|| format!("{name}.input"))?)],
                None => Vec::new(),
            },
            tx: match output {
                Some(p) => {
                    let (out, commit) = PcapOut::create(p, existing).with_context(|| format!("{name}.output"))?;
                    commits.push(commit);
                    vec![Box::new(out)]
                }
                None => Vec::new(),
            },
        }),
        live_backend => {
            let lanes = live::open_lanes(live_backend, side.mtu).with_context(|| format!("{name}: opening the {} port", live_backend.name()))?;
            super::run::note_timestamping(name, live_backend, ports);
            let mut port = SidePort { rx: Vec::new(), tx: Vec::new() };
            for l in lanes {
                ports.register(name, l.rx_counters);
                ports.register(name, l.tx_counters);
                port.rx.push(l.rx);
                port.tx.push(l.tx);
            }
            Ok(port)
        }
    }
}

/// The key that sets how many lanes `side`'s port has (`du.queues`, `ru.sockets`).
fn lanes_key(side: &Side, name: &str) -> String {
    match side.backend {
        Backend::AfXdp(_) => format!("{name}.queues"),
        Backend::AfPacket(_) => format!("{name}.sockets"),
        _ => format!("{name}.backend"),
    }
}

/// Refuses what a multi-queue port cannot do, before any port opens: the
/// two ports must have as many lanes (each lane sends on a transmit queue
/// of its own), `pipeline.workers` is 1 or one per lane (each lane is a
/// run-to-completion worker), and `[owd]` would see only its first lane.
pub(super) fn check_lanes(cfg: &GatewayConfig) -> Result<u32> {
    let (du, ru) = (cfg.du.backend.lanes(), cfg.ru.backend.lanes());
    let lanes = du.max(ru);
    if lanes == 1 {
        return Ok(1);
    }
    let (du_sends, ru_sends) = (!matches!(cfg.du.backend, Backend::Pcap { .. }), !matches!(cfg.ru.backend, Backend::Pcap { .. }));
    if du != ru || !du_sends || !ru_sends {
        bail!(
            "{} gives {du} lane(s) and {} gives {ru}: a multi-queue port's lanes each send on a transmit queue of the other port, so both must be live ports with as many queues (or fanout sockets)",
            lanes_key(&cfg.du, "du"),
            lanes_key(&cfg.ru, "ru")
        );
    }
    let w = cfg.pipeline.workers;
    if w != 1 && w as u32 != lanes {
        bail!("pipeline.workers: {w}, but the ports have {lanes} queues: a multi-queue direction runs one worker per queue (set workers = {lanes}, or leave it out)");
    }
    if cfg.owd.is_some() {
        bail!("owd: the one-way delay initiator listens on one queue, and the ports have {lanes}: use one queue (or socket) per port with [owd]");
    }
    Ok(lanes)
}
