//! Cross-host runs: `--role tx` sends on one host, `--role rx` receives
//! on another and runs the search, asking the tx side for each trial over
//! the control channel ([`super::control`]).
//!
//! The rx side cannot see send times while it receives, so it logs each
//! arrival (its table index, seqId and receive time) and, once the tx side
//! has sent the trial's send times in sending order, replays both in time
//! order through the same table the one-process run uses: a send writes
//! its entry, an arrival is matched against the entry then in place. The
//! latency is receive time (rx clock) minus send time (tx clock), so it
//! includes the clocks' offset; [`ClockOffset`] says what is known of it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fhgate::io::live::unix_ns;
use fhgate::io::{RxPoll, RxPort, TxPort};
use fhgate::packet::PacketBuf;

use super::control::{Channel, ControlError, Msg, Traffic, FNV_BASIS, VERSION};
use super::pool::{Pool, LAPS};
use super::report::{self, ClockOffset};
use super::lanes::LaneCounters;
use super::stats::FlowStats;
use super::trial::{settle, Arrival, Engine, Outcome, Plan, BURST};

/// NTP-style probes of the clock offset at the start.
const PROBES: usize = 8;
/// Probes before each trial (the bound on the clocks' offset is renewed).
const TRIAL_PROBES: usize = 4;
/// How fast two clocks may drift apart after a probe: 100 ppm, a
/// free-running crystal's worst (disciplined clocks do far better).
const DRIFT: f64 = 100e-6;
/// Added to the bound for timestamping jitter, ns.
const CLOCK_MARGIN_NS: f64 = 20_000.0;

/// The traffic of `pool`, as the two sides compare it.
pub fn traffic(pool: &Pool, carrier: &str) -> Traffic {
    let fingerprint = pool.frames.iter().fold(FNV_BASIS, |h, f| super::control::fnv1a(h, &f.data));
    Traffic { carrier: carrier.to_string(), frames: pool.frames.len(), fingerprint }
}

/// Refuses traffic that differs, naming what differs.
fn same_traffic(tx: &Traffic, rx: &Traffic) -> Result<(), ControlError> {
    if tx.carrier != rx.carrier {
        return Err(ControlError::Mismatch { field: "the carrier", tx: tx.carrier.clone(), rx: rx.carrier.clone() });
    }
    if tx.frames != rx.frames || tx.fingerprint != rx.fingerprint {
        let s = |t: &Traffic| format!("{} frames, fingerprint {:016x}", t.frames, t.fingerprint);
        return Err(ControlError::Mismatch { field: "the traffic's bytes (signal level, rounding, PRACH, profile...)", tx: s(tx), rx: s(rx) });
    }
    Ok(())
}

/// What the tx side tells the rx side about itself.
pub struct TxSide {
    /// Its port, as the report names it.
    pub tx: String,
    /// Its NIC.
    pub tx_nic: String,
    /// Its port's queues.
    pub tx_queues: u32,
    /// How it timestamps sends.
    pub send_timestamping: String,
    /// Its PTP offset and its source.
    pub ptp_offset: Option<(f64, String)>,
}

/// `--role tx`: waits for the rx side on `control`, then sends each trial
/// it asks for until it says bye. Every wait is bounded by `peer_timeout`
/// (between trials: by the idle time the rx side announced).
pub fn serve_tx(engine: &mut Engine, tx: &mut dyn TxPort, txc: &LaneCounters, control: &str, peer_timeout: Duration, me: TxSide, carrier: &str) -> anyhow::Result<()> {
    let ours = traffic(&engine.pool, carrier);
    eprintln!("fhgate bench: tx side listening on {control} for the rx side");
    // Connections that do not open with a hello are refused; listening
    // goes on until a hello comes, within --peer-timeout.
    let accepted = Channel::accept(control, peer_timeout, "the rx side's hello", |m| matches!(m, Msg::Hello { .. }))?;
    let mut ch = accepted.ch;
    let Msg::Hello { version, traffic: theirs, idle_seconds } = accepted.first else {
        return Err(ControlError::Protocol { peer: ch.peer.clone(), offset: 0, what: "the first message is not a hello".into() }.into());
    };
    if accepted.refused > 0 {
        eprintln!("fhgate bench: tx side refused {} connections before the rx side's hello", accepted.refused);
    }
    let refuse = |ch: &mut Channel, e: ControlError| {
        let _ = ch.send(&Msg::Error { message: e.to_string() });
        Err(e.into())
    };
    if version != VERSION {
        let e = ControlError::Mismatch { field: "the control protocol's version", tx: VERSION.to_string(), rx: version.to_string() };
        return refuse(&mut ch, e);
    }
    if let Err(e) = same_traffic(&ours, &theirs) {
        return refuse(&mut ch, e);
    }
    let (hostname, _) = super::host::uname();
    ch.send(&Msg::Welcome {
        version: VERSION,
        traffic: ours,
        epoch_ns: engine.epoch_ns,
        tx: me.tx,
        tx_nic: me.tx_nic,
        tx_queues: me.tx_queues,
        hostname,
        send_timestamping: me.send_timestamping,
        ptp_offset: me.ptp_offset,
    })?;
    eprintln!("fhgate bench: rx side {} connected", ch.peer);
    let idle = Duration::from_secs_f64(idle_seconds.clamp(1.0, 3600.0)) + peer_timeout;
    let mut log = Vec::new();
    loop {
        match ch.recv("the next trial", idle)? {
            Msg::Ping { t1 } => {
                let t2 = unix_ns();
                ch.send(&Msg::Pong { t1, t2, t3: unix_ns() })?;
            }
            Msg::Trial { rate, warmup, duration } => {
                let secs = |s: f64| Duration::from_secs_f64(s.clamp(0.0, 3600.0));
                let plan = Plan { rate, warmup: secs(warmup), duration: secs(duration), drain: Duration::ZERO, settle: Duration::ZERO };
                let (lap0, pos0) = (engine.lap, engine.pos);
                let (mut lap, mut pos) = (lap0, pos0);
                let measure_start = AtomicU64::new(u64::MAX);
                let trial_start = unix_ns();
                log.clear();
                let sent = engine.transmit(tx, txc, plan, &mut lap, &mut pos, &measure_start, Some(&mut log));
                (engine.lap, engine.pos) = (lap, pos);
                eprintln!("  tx trial at {}: sent {} measured + {} warm-up in {:.2} s", rate.map_or("flat out".into(), |r| format!("{r:.0} fps")), sent.measured, sent.warmup, sent.seconds);
                let done = Msg::Done { sent, trial_start, measure_start: measure_start.load(Ordering::Acquire), lap: lap0, pos: pos0, entries: log.len() as u64 };
                ch.send(&done)?;
                ch.send_entries(&log)?;
            }
            Msg::Bye => return Ok(()),
            m => return Err(ControlError::Protocol { peer: ch.peer.clone(), offset: 0, what: format!("unexpected {m:?} between trials") }.into()),
        }
    }
}

/// What the rx side learnt from the tx side.
pub struct Peer {
    /// The tx port, as the report names it.
    pub tx: String,
    /// The tx NIC.
    pub tx_nic: String,
    /// The tx port's queues.
    pub tx_queues: u32,
    /// The tx host's name.
    pub hostname: String,
    /// How the tx side timestamps sends.
    pub send_timestamping: String,
    /// The clocks' offset, as far as known.
    pub offset: ClockOffset,
}

/// The rx side of a cross-host run: its port, the channel to the tx
/// side, and the logs it replays.
pub struct RxSide<'a> {
    /// Matching and counting.
    pub engine: &'a mut Engine,
    /// Where frames arrive.
    pub rx: Box<dyn RxPort>,
    /// Its counters.
    pub rx_counters: LaneCounters,
    /// To the tx side.
    pub ch: Channel,
    /// The trial plan (rate set per trial).
    pub plan: Plan,
    /// Duration of the confirmation trial.
    pub confirm: Duration,
    /// How long the tx side may take to answer beyond a trial's length.
    pub peer_timeout: Duration,
    /// The first control error, which ends the run.
    pub failed: Option<ControlError>,
    arrivals: Vec<Arrival>,
    log: Vec<u64>,
}

impl<'a> RxSide<'a> {
    /// Connects to the tx side at `peer`, checks it sends the same
    /// traffic, and probes the clocks' offset.
    #[allow(clippy::too_many_arguments)]
    pub fn connect(engine: &'a mut Engine, rx: Box<dyn RxPort>, rx_counters: LaneCounters, peer: &str, peer_timeout: Duration, plan: Plan, confirm: Duration, carrier: &str) -> Result<(RxSide<'a>, Peer), ControlError> {
        let mut ch = Channel::connect(peer, peer_timeout)?;
        let ours = traffic(&engine.pool, carrier);
        // The tx side idles while this side drains, settles and replays.
        let idle = (plan.drain + plan.settle + plan.warmup + confirm.max(plan.duration)).as_secs_f64() + 10.0;
        ch.send(&Msg::Hello { version: VERSION, traffic: ours.clone(), idle_seconds: idle })?;
        let m = ch.recv("the tx side's welcome", peer_timeout)?;
        let Msg::Welcome { version, traffic: theirs, epoch_ns, tx, tx_nic, tx_queues, hostname, send_timestamping, ptp_offset } = m else {
            return Err(ControlError::Protocol { peer: ch.peer.clone(), offset: 0, what: "the tx side did not answer with a welcome".into() });
        };
        if version != VERSION {
            return Err(ControlError::Mismatch { field: "the control protocol's version", tx: version.to_string(), rx: VERSION.to_string() });
        }
        same_traffic(&theirs, &ours)?;
        engine.epoch_ns = epoch_ns;
        let (control_estimate_ns, control_rtt_ns) = probe(&mut ch, PROBES, peer_timeout)?;
        engine.clock_ahead_ns = ahead_bound(control_estimate_ns, control_rtt_ns, Duration::ZERO);
        let offset = ClockOffset {
            tx_ptp_offset_ns: ptp_offset.as_ref().map(|p| p.0),
            rx_ptp_offset_ns: None,
            ptp_offset_source: ptp_offset.map(|p| p.1).into_iter().collect(),
            control_estimate_ns,
            control_rtt_ns,
        };
        let side = RxSide { engine, rx, rx_counters, ch, plan, confirm, peer_timeout, failed: None, arrivals: Vec::new(), log: Vec::new() };
        Ok((side, Peer { tx, tx_nic, tx_queues, hostname, send_timestamping, offset }))
    }

    /// Tells the tx side the run is over.
    pub fn bye(&mut self) {
        let _ = self.ch.send(&Msg::Bye);
    }

    /// One trial; a control error ends the run (the trial is empty).
    fn trial(&mut self, plan: Plan, kind: &str) -> report::Trial {
        if self.failed.is_some() {
            return self.engine.summarize(empty(self.engine.pool.flows.len()), plan, kind);
        }
        match self.try_trial(plan, kind) {
            Ok(t) => t,
            Err(e) => {
                self.failed = Some(e);
                self.engine.summarize(empty(self.engine.pool.flows.len()), plan, kind)
            }
        }
    }

    fn try_trial(&mut self, plan: Plan, kind: &str) -> Result<report::Trial, ControlError> {
        let n_flows = self.engine.pool.flows.len();
        let mut flows: Vec<FlowStats> = (0..n_flows).map(|_| FlowStats::default()).collect();
        let mut totals = FlowStats::default();
        let rx_drops0 = self.rx_counters.rx_drops();
        let hard_stop = (plan.warmup + plan.duration).mul_f64(1.5) + Duration::from_millis(500);
        // The bound on the clocks' offset, renewed for this trial's span.
        let (est, rtt) = probe(&mut self.ch, TRIAL_PROBES, self.peer_timeout)?;
        self.engine.clock_ahead_ns = ahead_bound(est, rtt, hard_stop + plan.drain);
        self.ch.send(&Msg::Trial { rate: plan.rate, warmup: plan.warmup.as_secs_f64(), duration: plan.duration.as_secs_f64() })?;
        let done = AtomicBool::new(false);
        let failed = AtomicBool::new(false);
        let offered = AtomicU64::new(u64::MAX);
        self.arrivals.clear();
        let (ch, log, engine, rx, arrivals, peer_timeout) = (&mut self.ch, &mut self.log, &*self.engine, self.rx.as_mut(), &mut self.arrivals, self.peer_timeout);
        let answer = std::thread::scope(|s| {
            let reader = s.spawn(|| {
                let r = (|| {
                    let m = ch.recv("the end of the trial", hard_stop + peer_timeout)?;
                    let Msg::Done { sent, trial_start, measure_start, lap, pos, entries } = m else {
                        return Err(ControlError::Protocol { peer: ch.peer.clone(), offset: 0, what: "a trial ended without its done message".into() });
                    };
                    ch.recv_entries(entries, log, peer_timeout)?;
                    offered.store(sent.warmup + sent.measured, Ordering::Release);
                    Ok((sent, trial_start, measure_start, lap, pos))
                })();
                (if r.is_ok() { &done } else { &failed }).store(true, Ordering::Release);
                r
            });
            receive(engine, rx, plan.drain, hard_stop + peer_timeout * 2, (&done, &failed, &offered), arrivals, &mut flows, &mut totals);
            reader.join().unwrap_or_else(|_| Err(ControlError::Io { peer: String::new(), error: "the control reader panicked".into() }))
        });
        let (sent, trial_start, measure_start, lap0, pos0) = answer?;
        let late = settle(self.rx.as_mut(), plan.settle);
        let rx_port_drops = self.rx_counters.rx_drops().saturating_sub(rx_drops0);
        let sends = Sends { log: &self.log, lap0, pos0 };
        replay(self.engine, &self.arrivals, sends, trial_start, measure_start, &mut flows, &mut totals);
        Ok(self.engine.summarize(Outcome { sent, flows, totals, late, rx_port_drops }, plan, kind))
    }

}

/// NTP's estimate of the tx clock minus the rx clock, and its round trip
/// (ns), from the least-round-trip of `n` probes: the true offset lies
/// within half the round trip of the estimate, however the path's delay
/// splits between the two ways.
fn probe(ch: &mut Channel, n: usize, within: Duration) -> Result<(f64, f64), ControlError> {
    let mut best: Option<(f64, f64)> = None;
    for _ in 0..n {
        ch.send(&Msg::Ping { t1: unix_ns() })?;
        let Msg::Pong { t1, t2, t3 } = ch.recv("a clock probe's answer", within)? else {
            return Err(ControlError::Protocol { peer: ch.peer.clone(), offset: 0, what: "a clock probe answered with something else".into() });
        };
        let t4 = unix_ns();
        let (t1, t2, t3, t4) = (t1 as f64, t2 as f64, t3 as f64, t4 as f64);
        let (offset, rtt) = (((t2 - t1) + (t3 - t4)) / 2.0, (t4 - t1) - (t3 - t2));
        if best.is_none_or(|(_, r)| rtt < r) {
            best = Some((offset, rtt));
        }
    }
    Ok(best.unwrap_or_default())
}

/// The most the tx clock can be ahead of the rx clock for `span` after a
/// probe gave `est` ± `rtt` / 2 (ns), drift and jitter allowed for:
/// [`Engine::clock_ahead_ns`].
pub(super) fn ahead_bound(est: f64, rtt: f64, span: Duration) -> u64 {
    ((est + rtt / 2.0).max(0.0) + CLOCK_MARGIN_NS + DRIFT * span.as_nanos() as f64) as u64
}

/// A trial's send times as the tx side logged them: one table entry per
/// frame in sending order (0: its port dropped it), from lap `lap0`,
/// pool position `pos0`.
pub(super) struct Sends<'l> {
    /// The entries.
    pub log: &'l [u64],
    /// Lap of the first.
    pub lap0: u64,
    /// Pool position of the first.
    pub pos0: usize,
}

/// Replays sends and arrivals in time order through the table, as a
/// one-process run sees them live. A send is replayed before an arrival
/// when it may have come first by the two clocks (up to
/// [`Engine::clock_ahead_ns`] after the receive time); any later send of
/// the same slot is not, so a frame that came before a later lap of it
/// was sent (a whole frameId window late) is matched to its own lap, and
/// its latency marks the trial `lap_ambiguous`.
pub(super) fn replay(e: &Engine, arrivals: &[Arrival], sends: Sends<'_>, trial_start: u64, measure_start: u64, flows: &mut [FlowStats], totals: &mut FlowStats) {
    let n = e.pool.frames.len();
    let send_ns = |entry: u64| (e.epoch_ns + (entry & ((1 << 48) - 1))).saturating_sub(1);
    let (log, mut i) = (sends.log, 0usize);
    for a in arrivals {
        while i < log.len() && (log[i] == 0 || send_ns(log[i]) <= a.rx_ns.saturating_add(e.clock_ahead_ns)) {
            let k = sends.pos0 + i;
            let lap = sends.lap0 + (k / n) as u64;
            e.table[(lap % LAPS) as usize * n + k % n].store(log[i], Ordering::Release);
            i += 1;
        }
        e.resolve(*a, trial_start, measure_start, flows, totals);
    }
}

/// A trial in which nothing was sent (after a control error).
fn empty(flows: usize) -> Outcome {
    Outcome { sent: super::trial::Sent { per_flow: vec![0; flows], ..Default::default() }, flows: (0..flows).map(|_| FlowStats::default()).collect(), totals: FlowStats::default(), late: 0, rx_port_drops: 0 }
}

/// Logs arrivals until the tx side's send times are in and every frame
/// sent has arrived or the drain time has passed (or the control channel
/// failed, or `hard_stop`). IQ is checked on arrival, on each flow's
/// first U-plane frame and every `iq_every`-th after it.
#[allow(clippy::too_many_arguments)]
fn receive(e: &Engine, rx: &mut dyn RxPort, drain: Duration, hard_stop: Duration, state: (&AtomicBool, &AtomicBool, &AtomicU64), arrivals: &mut Vec<Arrival>, flows: &mut [FlowStats], totals: &mut FlowStats) {
    let (done, failed, offered) = state;
    let mut bufs: Vec<PacketBuf> = (0..BURST).map(|_| PacketBuf::new()).collect();
    let (mut lens, mut times) = ([0usize; BURST], [0u64; BURST]);
    let mut seen = vec![0u64; flows.len()];
    let mut scratch = Vec::new();
    let t0 = Instant::now();
    let mut end: Option<Instant> = None;
    while t0.elapsed() < hard_stop && !failed.load(Ordering::Acquire) {
        if end.is_none() && done.load(Ordering::Acquire) {
            end = Some(Instant::now());
        }
        if let Some(end) = end {
            if arrivals.len() as u64 >= offered.load(Ordering::Acquire) || end.elapsed() >= drain {
                break;
            }
        }
        match rx.recv(&mut bufs, &mut lens, &mut times) {
            Ok(RxPoll::Frames(k)) => {
                for i in 0..k {
                    let Some((a, fr)) = e.arrive(&bufs[i].bytes()[..lens[i]], times[i], flows, totals) else { continue };
                    arrivals.push(a);
                    let pf = &e.pool.frames[a.idx as usize % e.pool.frames.len()];
                    let f = pf.flow as usize;
                    if pf.uplane && seen[f].is_multiple_of(e.iq_every as u64) {
                        e.check_iq(&fr, &mut flows[f], &mut scratch);
                    }
                    seen[f] += 1;
                }
            }
            Ok(RxPoll::Idle) => std::thread::sleep(Duration::from_micros(100)),
            Ok(RxPoll::Closed) => break,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => {
                tracing::warn!("bench: receiving: {err}");
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

impl super::search::Trials for RxSide<'_> {
    fn run(&mut self, rate: Option<f64>, kind: &str) -> report::Trial {
        self.trial(Plan { rate, ..self.plan }, kind)
    }
    fn run_long(&mut self, rate: f64) -> report::Trial {
        let plan = Plan { rate: Some(rate), duration: self.confirm, ..self.plan };
        self.trial(plan, "confirm")
    }
    fn stopped(&self) -> bool {
        self.failed.is_some() || fhgate::signals::stop_requested()
    }
    fn failure(&self) -> Option<String> {
        self.failed.as_ref().map(|e| e.to_string())
    }
    fn end(&mut self) {
        self.bye();
    }
}

/// This host's offset from its PTP master, ns: `--ptp-offset NS` as
/// given, or `pmc` to ask the local ptp4l (`pmc -u -b 0 'GET
/// TIME_STATUS_NP'`, its `master_offset`), within 2 s.
pub fn ptp_offset(arg: Option<&str>) -> anyhow::Result<Option<(f64, String)>> {
    let Some(a) = arg else { return Ok(None) };
    if a != "pmc" {
        let v: f64 = a.parse().ok().filter(|v: &f64| v.is_finite()).ok_or_else(|| anyhow::anyhow!("--ptp-offset {a}: expected nanoseconds (-120) or `pmc`"))?;
        return Ok(Some((v, "given".into())));
    }
    let mut c = std::process::Command::new("pmc");
    c.args(["-u", "-b", "0", "GET TIME_STATUS_NP"]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::null());
    let mut child = c.spawn().map_err(|e| anyhow::anyhow!("--ptp-offset pmc: cannot run pmc ({e}); install linuxptp or give the offset in ns"))?;
    let t0 = Instant::now();
    while child.try_wait()?.is_none() {
        if t0.elapsed() > Duration::from_secs(2) {
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!("--ptp-offset pmc: pmc did not answer within 2 s (is ptp4l running?)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().expect("piped"), &mut out)?;
    let v = out.lines().find_map(|l| l.trim().strip_prefix("master_offset").and_then(|r| r.trim().parse::<f64>().ok()));
    match v {
        Some(v) => Ok(Some((v, "pmc (ptp4l's master_offset)".into()))),
        None => anyhow::bail!("--ptp-offset pmc: pmc's answer holds no master_offset (is ptp4l running?): {}", out.trim()),
    }
}
