//! `fhgate run`'s one-way delay initiator (`[owd]`): one thread, off the
//! hot path, that starts a measurement towards each measured side every
//! interval and reads the answers the pipeline's taps took (owd_link.rs).
//!
//! Per side it keeps an [`Initiator`] (owd.rs), the delay histogram, the
//! last delay and the last [`KEPT`] delays for quantiles, and publishes
//! them to a board that `/metrics` and the summary read. An answer that
//! does not decode, names nothing outstanding, has the wrong action or
//! comes after the timeout is counted (and its first of each kind logged)
//! and never turned into a delay.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Result;
use ecpri::ethernet::VlanTag;

use super::live::{OffsetHistogram, BUCKETS_NS};
use super::owd::{frame, Initiator, Mode, OwdCounters, OwdEvent};
use super::owd_link::{InitiatorEnds, OwdOut, OUT_MAX};
use crate::io::live::unix_ns;

/// Delays kept per side for the quantiles.
pub const KEPT: usize = 65_536;
/// How often the thread wakes to read answers and publish.
const TICK: Duration = Duration::from_millis(5);

/// One measured side.
#[derive(Debug, Clone, Copy)]
pub struct SideSpec {
    /// `du` or `ru`.
    pub side: &'static str,
    /// The gateway's port MAC on that side: requests come from it, answers go to it.
    pub src: [u8; 6],
    /// The peer's MAC, or broadcast.
    pub dst: [u8; 6],
    /// The VLAN tag the side's traffic carries, if any.
    pub vlan: Option<VlanTag>,
}

/// What the initiator does.
#[derive(Debug, Clone, Copy)]
pub struct OwdSpec {
    /// Time between measurements on each side.
    pub interval: Duration,
    /// An answer later than this is late.
    pub timeout: Duration,
    /// How measurements are made.
    pub mode: Mode,
}

/// One side's figures, as published.
#[derive(Debug, Clone)]
pub struct SideReport {
    /// `du` or `ru`.
    pub side: &'static str,
    /// The initiator's counters.
    pub counters: OwdCounters,
    /// Answers the tap took but found no room for on its ring.
    pub ring_full: u64,
    /// Measurements whose messages found no room on the injector's ring.
    pub not_sent: u64,
    /// Every delay measured, ns.
    pub histogram: OffsetHistogram,
    /// The last delay measured, ns.
    pub last_ns: Option<i64>,
    /// min, p50, p99, max of the last [`KEPT`] delays, ns.
    pub quantiles: Option<[i64; 4]>,
}

/// The published figures of every side, newest.
pub type OwdBoard = Arc<Mutex<Vec<SideReport>>>;

struct SideState {
    spec: SideSpec,
    ends: InitiatorEnds,
    init: Initiator,
    report: SideReport,
    recent: VecDeque<i64>,
    /// Kinds of unused answer already logged (malformed, unknown, wrong action, late).
    logged: [bool; 4],
}

impl SideState {
    fn queue(&mut self, m: ecpri::owd::OwdRepr<'_>) -> bool {
        let Ok(f) = frame(self.spec.dst, self.spec.src, self.spec.vlan.as_slice(), m) else { return false };
        if f.len() > OUT_MAX {
            return false;
        }
        let mut out = OwdOut { len: f.len() as u8, bytes: [0; OUT_MAX] };
        out.bytes[..f.len()].copy_from_slice(&f);
        self.ends.out.push(out).is_ok()
    }

    fn start(&mut self, mode: Mode) {
        for m in self.init.start(mode, unix_ns()) {
            if !self.queue(m) {
                self.report.not_sent += 1;
            }
        }
    }

    /// Reads what left and what came back; counts what expired.
    fn poll(&mut self) -> bool {
        let mut changed = false;
        while let Ok(s) = self.ends.sent.pop() {
            self.init.sent(s.id, s.t_ns);
        }
        while let Ok(a) = self.ends.answers.pop() {
            changed = true;
            let (ev, reply) = self.init.receive(a.body(), a.rx_ns);
            match ev {
                OwdEvent::Delay { ns, .. } => {
                    self.report.histogram.record(ns);
                    self.report.last_ns = Some(ns);
                    if self.recent.len() == KEPT {
                        self.recent.pop_front();
                    }
                    self.recent.push_back(ns);
                }
                other => {
                    let k = match other {
                        OwdEvent::Malformed(..) => 0,
                        OwdEvent::Unknown(_) => 1,
                        OwdEvent::WrongAction(_) => 2,
                        _ => 3,
                    };
                    if !std::mem::replace(&mut self.logged[k], true) {
                        tracing::warn!(side = self.spec.side, "one-way delay: an answer not used: {other:?} (counted; further ones of this kind are only counted)");
                    }
                }
            }
            if let Some(r) = reply {
                if !self.queue(r) {
                    self.report.not_sent += 1;
                }
            }
        }
        let before = self.init.counters;
        self.init.expire(unix_ns());
        changed |= before != self.init.counters;
        changed
    }

    fn publish(&mut self) -> SideReport {
        self.report.counters = self.init.counters;
        self.report.ring_full = self.ends.tap.ring_full.load(Ordering::Relaxed);
        self.report.quantiles = quantiles(self.recent.iter().copied().collect());
        self.report.clone()
    }
}

/// min, p50, p99 and max (nearest rank), or `None` for no delays.
fn quantiles(mut v: Vec<i64>) -> Option<[i64; 4]> {
    v.sort_unstable();
    let q = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    (!v.is_empty()).then(|| [v[0], q(0.5), q(0.99), v[v.len() - 1]])
}

/// The running initiator.
pub struct OwdRunning {
    thread: Option<thread::JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    /// What it measured so far.
    pub board: OwdBoard,
}

/// Starts the initiator thread over the sides' rings.
pub fn start(spec: OwdSpec, sides: Vec<(SideSpec, InitiatorEnds)>) -> Result<OwdRunning> {
    let timeout_ns = spec.timeout.as_nanos() as u64;
    let mut state: Vec<SideState> = sides
        .into_iter()
        .map(|(s, ends)| SideState {
            spec: s,
            ends,
            init: Initiator::new(timeout_ns),
            report: SideReport { side: s.side, counters: OwdCounters::default(), ring_full: 0, not_sent: 0, histogram: OffsetHistogram::default(), last_ns: None, quantiles: None },
            recent: VecDeque::new(),
            logged: [false; 4],
        })
        .collect();
    let board: OwdBoard = Arc::new(Mutex::new(state.iter_mut().map(SideState::publish).collect()));
    let stop = Arc::new(AtomicBool::new(false));
    let (b, st) = (board.clone(), stop.clone());
    let thread = thread::Builder::new().name("fhgate-owd".into()).spawn(move || {
        let mut next = Instant::now();
        let mut winding_down: Option<Instant> = None;
        loop {
            let now = Instant::now();
            if st.load(Ordering::Relaxed) && winding_down.is_none() {
                // No new measurement; the outstanding ones get their timeout.
                winding_down = Some(now + spec.timeout);
            }
            if winding_down.is_none() && now >= next {
                state.iter_mut().for_each(|s| s.start(spec.mode));
                next += spec.interval;
                if next < now {
                    next = now + spec.interval;
                }
            }
            let mut changed = false;
            for s in &mut state {
                changed |= s.poll();
            }
            if let Some(end) = winding_down {
                if now >= end || state.iter().all(|s| s.init.outstanding() == 0) {
                    // What is still outstanding now has had its whole timeout.
                    state.iter_mut().for_each(|s| s.init.expire(u64::MAX));
                    changed = true;
                }
            }
            if changed || winding_down.is_some() {
                let reports: Vec<SideReport> = state.iter_mut().map(SideState::publish).collect();
                if let Ok(mut g) = b.lock() {
                    *g = reports;
                }
            }
            if winding_down.is_some_and(|end| now >= end || state.iter().all(|s| s.init.outstanding() == 0)) {
                return;
            }
            thread::sleep(TICK.min(next.saturating_duration_since(Instant::now()).max(Duration::from_micros(100))));
        }
    })?;
    Ok(OwdRunning { thread: Some(thread), stop, board })
}

impl OwdRunning {
    /// Starts no further measurement and waits (at most the timeout) for
    /// the outstanding ones; what is still unanswered then is counted so.
    /// Call it while the pipelines still run, so their answers come in.
    pub fn finish(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// The figures so far.
    pub fn reports(&self) -> Vec<SideReport> {
        self.board.lock().map(|g| g.clone()).unwrap_or_default()
    }
}

impl Drop for OwdRunning {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Prometheus text of every side's figures.
pub fn prometheus(reports: &[SideReport]) -> String {
    let mut s = String::new();
    if reports.is_empty() {
        return s;
    }
    type Get = fn(&SideReport) -> u64;
    let counters: [(&str, &str, Get); 6] = [
        ("fhgate_owd_sent_total", "One-way delay measurements started (eCPRI message type 5).", |r| r.counters.started),
        ("fhgate_owd_answered_total", "Measurements answered in time: a delay measured.", |r| r.counters.measured),
        ("fhgate_owd_late_total", "Answers after the timeout: counted, not used.", |r| r.counters.late),
        ("fhgate_owd_malformed_total", "Answers that did not decode: counted, not used.", |r| r.counters.malformed),
        ("fhgate_owd_unanswered_total", "Measurements with no answer within the timeout.", |r| r.counters.unanswered),
        ("fhgate_owd_not_sent_total", "Messages the initiator could not queue for the port.", |r| r.not_sent),
    ];
    for (name, help, get) in counters {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter");
        for r in reports {
            let _ = writeln!(s, "{name}{{side=\"{}\"}} {}", r.side, get(r));
        }
    }
    let _ = writeln!(s, "# HELP fhgate_owd_rejected_total Answers addressed to the gateway not used, by reason.\n# TYPE fhgate_owd_rejected_total counter");
    for r in reports {
        for (why, n) in [("unknown_id", r.counters.unknown), ("wrong_action", r.counters.wrong_action), ("ring_full", r.ring_full)] {
            let _ = writeln!(s, "fhgate_owd_rejected_total{{side=\"{}\",reason=\"{why}\"}} {n}", r.side);
        }
    }
    let _ = writeln!(s, "# HELP fhgate_owd_last_delay_ns The last one-way delay measured towards the side.\n# TYPE fhgate_owd_last_delay_ns gauge");
    for r in reports {
        if let Some(d) = r.last_ns {
            let _ = writeln!(s, "fhgate_owd_last_delay_ns{{side=\"{}\"}} {d}", r.side);
        }
    }
    let _ = writeln!(s, "# HELP fhgate_owd_delay_ns One-way delay towards the side, ns.\n# TYPE fhgate_owd_delay_ns histogram");
    for r in reports {
        let h = &r.histogram;
        let mut cum = 0;
        for (b, c) in BUCKETS_NS.iter().zip(h.counts.iter()) {
            cum += c;
            let _ = writeln!(s, "fhgate_owd_delay_ns_bucket{{side=\"{}\",le=\"{b}\"}} {cum}", r.side);
        }
        let n = h.count();
        let _ = writeln!(s, "fhgate_owd_delay_ns_bucket{{side=\"{0}\",le=\"+Inf\"}} {n}\nfhgate_owd_delay_ns_sum{{side=\"{0}\"}} {1}\nfhgate_owd_delay_ns_count{{side=\"{0}\"}} {n}", r.side, h.sum);
    }
    s
}

/// The figures as JSON: one object per side.
pub fn json(reports: &[SideReport]) -> serde_json::Value {
    let sides = reports.iter().map(|r| {
        let c = r.counters;
        let q = r.quantiles.map(|[min, p50, p99, max]| serde_json::json!({"min": min, "p50": p50, "p99": p99, "max": max}));
        (
            r.side.to_string(),
            serde_json::json!({
                "sent": c.started, "answered": c.measured, "late": c.late, "malformed": c.malformed, "unanswered": c.unanswered,
                "unknown_id": c.unknown, "wrong_action": c.wrong_action, "ring_full": r.ring_full, "not_sent": r.not_sent,
                "last_ns": r.last_ns, "delay_ns": q,
            }),
        )
    });
    serde_json::Value::Object(sides.collect())
}

/// One summary line per side.
pub fn summary(reports: &[SideReport]) -> String {
    let mut s = String::new();
    for r in reports {
        let c = r.counters;
        let _ = write!(s, "owd {}: {} sent, {} answered, {} late, {} malformed, {} unanswered, {} unknown id, {} wrong action", r.side, c.started, c.measured, c.late, c.malformed, c.unanswered, c.unknown, c.wrong_action);
        match r.quantiles {
            Some([min, p50, p99, max]) => {
                let _ = writeln!(s, "; delay ns min {min} p50 {p50} p99 {p99} max {max}");
            }
            None => s.push_str("; no delay measured\n"),
        }
    }
    s
}

#[cfg(test)]
#[path = "owd_run_tests.rs"]
mod tests;
