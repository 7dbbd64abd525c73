//! Pipelined: an RX thread, N worker threads and a TX thread joined by
//! SPSC rings (see the runner's module documentation for the picture).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, Result};
use rtrb::{Consumer, Producer, RingBuffer};

use super::ingress::{Ingress, Polled};
use super::{backoff, count_out, monotonic, ns_since, publish_due, publisher, record_latency, spawn_stage, DirectionSpec, Done, Pins, Publisher, Running, StageEnd};
use crate::bridge::direction::{BridgeRx, BridgeTx};
use crate::io::TxPort;
use crate::pipeline::egress::Egress;
use crate::pipeline::pinning::Stage;
use crate::pipeline::polling::{ring_all, Doorbell, Idler, PollGauge};
use crate::pipeline::pool::{recycle_ring, BufReturn, BufTake, SharedPool};
use crate::pipeline::stats::{FlowTable, Stats};
use crate::timing::owd_link::OwdInjector;
use crate::translate::{Burst, Packet, PacketBuf, WorkerHost, BURST_MAX_IN};

/// Starts the threads of a pipelined direction: RX, the workers and TX.
pub(super) fn start_pipelined(spec: DirectionSpec) -> Result<Running> {
    if !spec.lanes.is_empty() {
        return Err(anyhow!("{}: a direction of {} lanes (a multi-queue port) runs one run-to-completion thread per lane, not pipelined", spec.name, spec.lanes.len() + 1));
    }
    let workers = spec.workers.max(1);
    let burst = spec.burst.clamp(1, BURST_MAX_IN);
    let t0 = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(AtomicBool::new(false));
    // Enough buffers for every ring to be full, plus each stage's cache.
    let pool = SharedPool::new(spec.ring_size * (2 * workers + 1) + 8 * burst * (workers + 2));
    // TX to RX, reused first (see pool.rs); as deep as a ring, so that
    // even when RX waits on a full ring the buffers come back this way.
    let (recycle_back, recycle_take) = recycle_ring(&pool, spec.ring_size.max(4 * burst * (workers + 1)));
    let mut to_workers = Vec::new();
    let mut from_workers = Vec::new();
    let mut worker_ends = Vec::new();
    for _ in 0..workers {
        let (p_in, c_in) = RingBuffer::<Packet>::new(spec.ring_size);
        let (p_out, c_out) = RingBuffer::<Packet>::new(spec.ring_size);
        to_workers.push(p_in);
        from_workers.push(c_out);
        worker_ends.push((c_in, p_out));
    }
    let (prio_tx, prio_rx) = RingBuffer::<Packet>::new(spec.ring_size);
    let rx_done = Arc::new(AtomicBool::new(false));
    let worker_done: Vec<Arc<AtomicBool>> = (0..workers).map(|_| Arc::new(AtomicBool::new(false))).collect();

    let mut controls = Vec::new();
    let mut threads = Vec::new();
    let mut metrics = Vec::new();
    let mut pins = Pins::new(spec.cores, &spec.name);
    let mut polls = Vec::new();
    let mut idler = |stage: String| {
        let g = Arc::new(PollGauge::default());
        polls.push((stage, g.clone()));
        Idler::new(spec.polling, g)
    };
    let worker_bells: Vec<Arc<Doorbell>> = (0..workers).map(|_| Doorbell::new()).collect();
    let tx_bell = Doorbell::new();
    for (i, (c_in, p_out)) in worker_ends.into_iter().enumerate() {
        let (host, control) = WorkerHost::new(&spec.chains, spec.decode).map_err(|e| anyhow!("{e}"))?;
        controls.push(control);
        let (publish, m) = publisher();
        metrics.push(m);
        let w = Worker {
            publish,
            host,
            input: c_in,
            output: p_out,
            pool: pool.clone(),
            burst,
            egress: Egress::new(spec.egress, spec.decode),
            rx_done: rx_done.clone(),
            failed: failed.clone(),
            done: Done(worker_done[i].clone()),
            idler: idler(format!("{}-w{i}", spec.name)),
            bell: worker_bells[i].clone(),
            tx_bell: tx_bell.clone(),
        };
        threads.push(spawn_stage(format!("fhgate-{}-w{i}", spec.name), &stop, &failed, pins.stage(Stage::Worker(i)), move || w.run())?);
    }
    let (publish, m) = publisher();
    metrics.push(m);
    let ingress = Ingress::new(spec.rx, spec.tap, spec.decode, spec.port_direction, burst, t0, BridgeRx::new(&spec.bridge, spec.decode.udp_port, spec.port_direction), spec.timing, spec.owd.tap);
    let received = ingress.received.clone();
    let rx = Rx {
        publish,
        ingress,
        to_workers,
        prio: prio_tx,
        priority: spec.bridge.live_clock,
        bufs: recycle_take,
        burst,
        stop: stop.clone(),
        failed: failed.clone(),
        _done: Done(rx_done),
        idler: idler(format!("{}-rx", spec.name)),
        bells: worker_bells.iter().cloned().chain([tx_bell.clone()]).collect(),
    };
    threads.push(spawn_stage(format!("fhgate-{}-rx", spec.name), &stop, &failed, pins.stage(Stage::Rx), move || rx.run())?);
    let (publish, m) = publisher();
    metrics.push(m);
    let bridge = BridgeTx::new(&spec.bridge, spec.decode.udp_port, spec.port_direction, t0);
    let idler = idler(format!("{}-tx", spec.name));
    let tx = Tx { publish, port: spec.tx, from_workers, prio: prio_rx, bufs: recycle_back, burst, worker_done, t0, udp_port: spec.decode.udp_port, bridge, owd: spec.owd.inject, idler, bell: tx_bell };
    threads.push(spawn_stage(format!("fhgate-{}-tx", spec.name), &stop, &failed, pins.stage(Stage::Tx), move || tx.run())?);
    pins.wait(Running { received: vec![received], metrics, controls, polls, decode: spec.decode, threads, stop, failed })
}

struct Rx {
    publish: Publisher,
    ingress: Ingress,
    to_workers: Vec<Producer<Packet>>,
    prio: Producer<Packet>,
    /// Frames without a flow take the priority ring (live ports); from a
    /// capture they ride worker 0's ring, so they keep their place and
    /// their timestamp instead of overtaking what the workers hold.
    priority: bool,
    /// Free buffers: those TX sent last, then the shared pool.
    bufs: BufTake,
    burst: usize,
    stop: Arc<AtomicBool>,
    /// Set when a stage failed: a full ring will then never drain.
    failed: Arc<AtomicBool>,
    /// Tells the workers RX is done when the stage ends, however it ends.
    _done: Done,
    /// How it waits on an idle port.
    idler: Idler,
    /// The workers' and TX's doorbells, rung after each burst when they may sleep.
    bells: Vec<Arc<Doorbell>>,
}

impl Rx {
    fn run(mut self) -> StageEnd {
        let mut stats = Stats::default();
        let mut flows = FlowTable::default();
        let r = self.receive(&mut stats, &mut flows);
        flows.write_to(&mut stats.flows);
        (stats, r)
    }

    fn receive(&mut self, stats: &mut Stats, flows: &mut FlowTable) -> Result<()> {
        let mut bufs: Vec<PacketBuf> = Vec::with_capacity(self.burst);
        let mut idle = 0;
        loop {
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            self.bufs.fill(&mut bufs, self.burst);
            if bufs.is_empty() {
                // Every buffer is in flight: wait for TX to return some.
                backoff(&mut idle);
                continue;
            }
            let (to_workers, prio, priority, failed) = (&mut self.to_workers, &mut self.prio, self.priority, &*self.failed);
            let workers = to_workers.len();
            let polled = self.ingress.poll(&mut bufs, flows, stats, |pkt, flow| {
                // One at a time, so that the worker can start on the first.
                // A flow's frames, malformed ones too, go to one worker.
                let ring = match flow {
                    Some(k) => &mut to_workers[k.eaxc as usize % workers],
                    None if priority => &mut *prio,
                    None => &mut to_workers[0],
                };
                push_blocking(ring, pkt, failed);
            })?;
            match polled {
                Polled::Frames { now, .. } => {
                    idle = 0;
                    self.idler.work();
                    if self.idler.sleeps() {
                        ring_all(&self.bells);
                    }
                    publish_due(&mut self.publish, now, flows, stats);
                }
                Polled::Idle => {
                    // A quiet port still publishes, so metrics show the last burst.
                    if self.idler.empty_polls() % 1024 == 0 {
                        publish_due(&mut self.publish, Instant::now(), flows, stats);
                    }
                    let ingress = &mut self.ingress;
                    self.idler.wait_in(|d| ingress.wait(d))?;
                }
                Polled::Closed => break,
            }
        }
        Ok(())
    }
}

/// Pushes onto a ring, waiting while it is full (backpressure, never
/// loss), unless a stage of the direction has failed (`failed`): the ring
/// may then never drain, and the packet is dropped with the direction.
#[inline]
fn push_blocking(ring: &mut Producer<Packet>, mut pkt: Packet, failed: &AtomicBool) {
    let mut idle = 0;
    loop {
        match ring.push(pkt) {
            Ok(()) => return,
            Err(rtrb::PushError::Full(p)) => {
                if failed.load(Ordering::Relaxed) {
                    return;
                }
                pkt = p;
                backoff(&mut idle);
            }
        }
    }
}

/// Pushes `pkts` onto a ring in order, waiting while it is full
/// (backpressure, never loss): as many as fit at a time, with one commit
/// (one atomic store) for all of them. As [`push_blocking`], it gives up
/// once a stage has failed (`failed`): TX may be gone.
#[inline]
fn push_all_blocking<I: ExactSizeIterator<Item = Packet>>(ring: &mut Producer<Packet>, mut pkts: I, failed: &AtomicBool) {
    let mut idle = 0;
    while pkts.len() > 0 {
        let n = ring.slots().min(pkts.len());
        match ring.write_chunk_uninit(n) {
            Ok(c) if n > 0 => {
                c.fill_from_iter(&mut pkts);
            }
            _ if failed.load(Ordering::Relaxed) => {
                pkts.for_each(drop);
                return;
            }
            _ => backoff(&mut idle),
        }
    }
}

/// Moves up to `max` packets from a ring to the end of `to`, with one
/// commit for all of them; returns how many.
#[inline]
fn pop_chunk(ring: &mut Consumer<Packet>, to: &mut Vec<Packet>, max: usize) -> usize {
    let n = ring.slots().min(max);
    match ring.read_chunk(n) {
        Ok(c) if n > 0 => {
            to.extend(c);
            n
        }
        _ => 0,
    }
}

struct Worker {
    publish: Publisher,
    host: WorkerHost,
    input: Consumer<Packet>,
    output: Producer<Packet>,
    pool: SharedPool,
    burst: usize,
    egress: Egress,
    rx_done: Arc<AtomicBool>,
    /// Set when a stage failed (see [`push_all_blocking`]).
    failed: Arc<AtomicBool>,
    done: Done,
    /// How it waits on an empty input ring, and the bell RX rings.
    idler: Idler,
    bell: Arc<Doorbell>,
    /// TX's doorbell, rung after each burst pushed when TX may sleep.
    tx_bell: Arc<Doorbell>,
}

impl Worker {
    fn run(mut self) -> StageEnd {
        let _done = &self.done;
        let mut stats = Stats::default();
        let mut burst = Burst::new();
        let cache = 4 * crate::translate::BURST_CAPACITY;
        let mut local = self.pool.local(cache);
        loop {
            self.pool.balance(&mut local, cache / 2, cache);
            let finished = self.rx_done.load(Ordering::Acquire);
            // The burst holds BURST_CAPACITY ≥ self.burst packets.
            let room = self.burst.saturating_sub(burst.len());
            pop_chunk(&mut self.input, &mut burst.pkts, room);
            if burst.is_empty() {
                if finished && self.input.is_empty() {
                    break;
                }
                let (input, rx_done) = (&self.input, &self.rx_done);
                self.idler.wait_on(&self.bell, || input.is_empty() && !rx_done.load(Ordering::Acquire));
                continue;
            }
            self.idler.work();
            self.host.process(&mut burst, &mut local);
            // Extras and split pieces inherit the timestamps of the packet before them.
            let mut last = (0, 0);
            for p in burst.packets_mut() {
                if p.time_ns == 0 && p.arrival_ns == 0 {
                    (p.time_ns, p.arrival_ns) = last;
                }
                last = (p.time_ns, p.arrival_ns);
            }
            self.egress.process_with(&mut burst, &mut local, &mut stats, Some(&mut self.host));
            push_all_blocking(&mut self.output, burst.drain(), &self.failed);
            if self.idler.sleeps() {
                self.tx_bell.ring();
            }
            self.publish.maybe(&stats);
        }
        while let Some(b) = local.get() {
            self.pool.put(b);
        }
        (stats, Ok(()))
    }
}

struct Tx {
    publish: Publisher,
    port: Box<dyn TxPort>,
    from_workers: Vec<Consumer<Packet>>,
    prio: Consumer<Packet>,
    /// Where sent buffers go: back to RX.
    bufs: BufReturn,
    burst: usize,
    worker_done: Vec<Arc<AtomicBool>>,
    t0: Instant,
    /// The eCPRI UDP port, to find the flow of frames that do not classify.
    udp_port: Option<u16>,
    /// Counters and the transparent clock for frames that are not fronthaul.
    bridge: BridgeTx,
    /// One-way delay messages the initiator queued for this port.
    owd: Option<OwdInjector>,
    /// How it waits on empty rings, and the bell RX and the workers ring.
    idler: Idler,
    bell: Arc<Doorbell>,
}

impl Tx {
    fn run(mut self) -> StageEnd {
        let mut stats = Stats::default();
        self.bridge.announce(&mut stats.bridge);
        let mut flows = FlowTable::default();
        let r = self.send(&mut stats, &mut flows);
        flows.write_to(&mut stats.flows);
        (stats, r)
    }

    fn send(&mut self, stats: &mut Stats, flows: &mut FlowTable) -> Result<()> {
        let mut out: Vec<Packet> = Vec::with_capacity(self.burst * (self.from_workers.len() + 1));
        let mut next = 0;
        let mut last_time = 0;
        loop {
            let finished = self.worker_done.iter().all(|d| d.load(Ordering::Acquire));
            if let Some(o) = &mut self.owd {
                o.send_pending(self.port.as_mut())?;
            }
            // Priority traffic first (S-plane, M-plane, untouched frames).
            pop_chunk(&mut self.prio, &mut out, self.burst);
            // Then the workers, round robin, a burst at most from each.
            for k in 0..self.from_workers.len() {
                let w = (next + k) % self.from_workers.len();
                pop_chunk(&mut self.from_workers[w], &mut out, self.burst);
            }
            next = (next + 1) % self.from_workers.len().max(1);
            if out.is_empty() {
                if finished && self.prio.is_empty() && self.from_workers.iter().all(|c| c.is_empty()) {
                    break;
                }
                if self.idler.empty_polls() % 1024 == 0 && self.publish.due(Instant::now()) {
                    flows.write_to(&mut stats.flows);
                    self.publish.publish(stats);
                }
                let (prio, rings, done) = (&self.prio, &self.from_workers, &self.worker_done);
                // Asleep at most MAX_SLEEP: one-way delay requests wait no longer.
                self.idler.wait_on(&self.bell, || prio.is_empty() && rings.iter().all(|c| c.is_empty()) && !done.iter().all(|d| d.load(Ordering::Acquire)));
                continue;
            }
            self.idler.work();
            for p in &mut out {
                if p.desc.is_none() {
                    let n = p.unpadded_len();
                    self.bridge.before_send(&mut p.buf.bytes_mut()[..n], p.time_ns, p.arrival_ns, &mut stats.bridge);
                }
                self.port.send(p.data(), monotonic(&mut last_time, p.time_ns))?;
            }
            self.port.flush()?;
            let at = Instant::now();
            let now = ns_since(self.t0, at);
            // Packets of one RX burst share their arrival time: one
            // histogram update per run of them.
            let mut run = (0u64, 0u64);
            for p in &out {
                if p.arrival_ns != run.0 {
                    record_latency(stats, now, run);
                    run = (p.arrival_ns, 0);
                }
                run.1 += 1;
                count_out(flows, p, self.udp_port);
            }
            record_latency(stats, now, run);
            stats.frames_out += out.len() as u64;
            self.bufs.put_all(out.drain(..).map(|p| p.buf));
            if self.publish.due(at) {
                flows.write_to(&mut stats.flows);
                self.publish.publish(stats);
            }
        }
        self.port.flush()?;
        Ok(())
    }
}
