//! Run to completion: one thread receives a burst, runs the chains and
//! egress on it and sends it, before taking the next. A multi-queue port
//! runs one such thread per queue (a lane), sharing nothing on the path.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use std::time::Instant;

use anyhow::{anyhow, Result};

use super::ingress::{Ingress, Polled};
use super::{count_out, monotonic, ns_since, publish_due, publisher, record_latency, DirectionSpec, Lane, Publisher, Running, StageEnd};
use crate::bridge::direction::{BridgeRx, BridgeTx};
use crate::io::TxPort;
use crate::pipeline::egress::Egress;
use crate::pipeline::pinning::Stage;
use crate::pipeline::polling::{Idler, PollGauge};
use crate::pipeline::stats::{FlowTable, Stats};
use crate::translate::{BufPool, Burst, PacketBuf, WorkerHost, BURST_MAX_IN};

/// Starts the one thread of a run-to-completion direction, or with
/// further lanes (`spec.lanes`: the other queues of a multi-queue port) one
/// such thread per lane, each with its own ingress, translator instances,
/// egress and buffers; lane `i` pins as worker `i`.
pub(super) fn start_run_to_completion(mut spec: DirectionSpec) -> Result<Running> {
    let burst = spec.burst.clamp(1, BURST_MAX_IN);
    if spec.tap.is_some() && !spec.lanes.is_empty() {
        return Err(anyhow!("{}: a tap copies one port's frames; a direction of {} lanes has none", spec.name, spec.lanes.len() + 1));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let mut pins = super::Pins::new(spec.cores.clone(), &spec.name);
    let lanes = std::mem::take(&mut spec.lanes);
    let many = !lanes.is_empty();
    let first = Lane { rx: spec.rx, tx: spec.tx };
    let (mut tap, mut owd) = (spec.tap.take(), std::mem::take(&mut spec.owd));
    let mut running = Running { received: Vec::new(), metrics: Vec::new(), controls: Vec::new(), polls: Vec::new(), decode: spec.decode, threads: Vec::new(), stop: stop.clone(), failed: failed.clone() };
    for (i, lane) in std::iter::once(first).chain(lanes).enumerate() {
        let (host, control) = WorkerHost::new(&spec.chains, spec.decode).map_err(|e| anyhow!("{e}"))?;
        let gauge = Arc::new(PollGauge::default());
        let (publish, m) = publisher();
        // The one-way delay halves and a tap stay with the first lane.
        let (owd_tap, owd_inject) = (owd.tap.take(), owd.inject.take());
        let ingress = Ingress::new(lane.rx, tap.take(), spec.decode, spec.port_direction, burst, t0, BridgeRx::new(&spec.bridge, spec.decode.udp_port, spec.port_direction), spec.timing, owd_tap);
        running.received.push(ingress.received.clone());
        let r = RunToCompletion {
            publish,
            host,
            ingress,
            tx: lane.tx,
            egress: Egress::new(spec.egress, spec.decode),
            // A burst, its extras and egress splits, with room to spare.
            pool: BufPool::new(8 * crate::translate::BURST_CAPACITY),
            burst,
            stop: stop.clone(),
            t0,
            bridge: BridgeTx::new(&spec.bridge, spec.decode.udp_port, spec.port_direction, t0),
            owd: owd_inject,
            idler: Idler::new(spec.polling, gauge.clone()),
        };
        let name = if many { format!("{}-q{i}", spec.name) } else { spec.name.clone() };
        let t = super::spawn_stage(format!("fhgate-{name}"), &stop, &failed, pins.stage(Stage::Worker(i)), move || r.run())?;
        running.threads.push(t);
        running.metrics.push(m);
        running.controls.push(control);
        running.polls.push((name, gauge));
    }
    pins.wait(running)
}

/// The single stage of a run-to-completion direction.
struct RunToCompletion {
    publish: Publisher,
    host: WorkerHost,
    ingress: Ingress,
    tx: Box<dyn TxPort>,
    egress: Egress,
    pool: BufPool,
    burst: usize,
    stop: Arc<AtomicBool>,
    t0: Instant,
    /// Counters and the transparent clock for frames that are not fronthaul.
    bridge: BridgeTx,
    /// One-way delay messages the initiator queued for this port.
    owd: Option<crate::timing::owd_link::OwdInjector>,
    /// How it waits on an idle port.
    idler: Idler,
}

impl RunToCompletion {
    fn run(mut self) -> StageEnd {
        let mut stats = Stats::default();
        self.bridge.announce(&mut stats.bridge);
        let mut flows = FlowTable::default();
        // A failed port ends the loop, not the counters: what did cross
        // before it failed is in the report.
        let r = self.forward(&mut stats, &mut flows);
        flows.write_to(&mut stats.flows);
        (stats, r)
    }

    fn forward(&mut self, stats: &mut Stats, flows: &mut FlowTable) -> Result<()> {
        let mut bufs: Vec<PacketBuf> = Vec::with_capacity(self.burst);
        let mut burst = Burst::new();
        let mut last_time = 0;
        // Flows out are named as ingress named them (`count_out`).
        let udp_port = self.ingress.udp_port();
        loop {
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            if let Some(o) = &mut self.owd {
                o.send_pending(self.tx.as_mut())?;
            }
            while bufs.len() < self.burst {
                match self.pool.get() {
                    Some(b) => bufs.push(b),
                    None => break,
                }
            }
            // Every frame keeps its place: those that did not classify
            // bypass the translators and leave as they came (egress).
            let mut lost = 0u64;
            let polled = self.ingress.poll(&mut bufs, flows, stats, |pkt, _| {
                if let Err(p) = burst.push(pkt) {
                    // Cannot happen: a poll takes at most BURST_MAX_IN.
                    lost += 1;
                    drop(p);
                }
            })?;
            stats.no_buffer += lost;
            let arrival = match polled {
                Polled::Frames { arrival, .. } => arrival,
                Polled::Idle => {
                    // A quiet port still publishes, so metrics show the last burst.
                    if self.idler.empty_polls() % 1024 == 0 {
                        publish_due(&mut self.publish, Instant::now(), flows, stats);
                    }
                    let ingress = &mut self.ingress;
                    self.idler.wait_in(|d| ingress.wait(d))?;
                    continue;
                }
                Polled::Closed => break,
            };
            self.idler.work();
            if !burst.is_empty() {
                self.host.process(&mut burst, &mut self.pool);
                let mut last = (0, 0);
                for p in burst.packets_mut() {
                    if p.time_ns == 0 && p.arrival_ns == 0 {
                        (p.time_ns, p.arrival_ns) = last;
                    }
                    last = (p.time_ns, p.arrival_ns);
                }
                self.egress.process_with(&mut burst, &mut self.pool, stats, Some(&mut self.host));
            }
            for p in burst.packets_mut() {
                if p.desc.is_none() {
                    let n = p.unpadded_len();
                    self.bridge.before_send(&mut p.buf.bytes_mut()[..n], p.time_ns, p.arrival_ns, &mut stats.bridge);
                }
                self.tx.send(p.data(), monotonic(&mut last_time, p.time_ns))?;
            }
            self.tx.flush()?;
            let at = Instant::now();
            for p in burst.packets() {
                count_out(flows, p, udp_port);
            }
            record_latency(stats, ns_since(self.t0, at), (arrival, burst.len() as u64));
            stats.frames_out += burst.len() as u64;
            for p in burst.drain() {
                self.pool.put(p.buf);
            }
            publish_due(&mut self.publish, at, flows, stats);
        }
        self.tx.flush()?;
        Ok(())
    }
}
