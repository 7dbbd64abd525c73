//! Prometheus exposition of the pipeline counters while `fhgate run` is
//! live: a small HTTP server on a loopback port, on its own thread (a
//! tokio current-thread runtime), fed by the stages' counter snapshots,
//! the translators' counters and the live ports' counters.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::thread;

use anyhow::{bail, Result};
use rtrb::Consumer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::io::port_stats::{EventKind, PortCounters};
use crate::io::timestamping::NicTimestamping;
use crate::pipeline::stats::Stats;
use crate::translate::Installed;

/// One installed translator as metrics label it.
#[derive(Clone)]
pub struct TranslatorEntry {
    /// The worker, e.g. `dl/0`.
    pub worker: String,
    /// Chain index.
    pub chain: usize,
    /// Position in the chain.
    pub stage: usize,
    /// Its statistics (and its fallback's).
    pub stats: Installed,
}

/// The translators currently installed, replaced by the control thread
/// after each hot swap; read (under a lock, off the hot path) per scrape.
pub type TranslatorBoard = Arc<Mutex<Vec<TranslatorEntry>>>;

/// One half of a live port as metrics label it.
#[derive(Clone)]
pub struct PortEntry {
    /// The side the port faces: `du` or `ru`.
    pub side: String,
    /// The half's counters (they name the backend, interface and half).
    pub counters: PortCounters,
}

/// The live ports' counters, registered once when their ports open; read
/// per scrape straight from the atomics the ports update.
#[derive(Clone, Default)]
pub struct PortBoard {
    entries: Vec<PortEntry>,
    /// Per live port (side, interface): what its NIC can timestamp, or why
    /// that could not be asked.
    timestamping: Vec<(String, String, Result<NicTimestamping, String>)>,
}

impl PortBoard {
    /// Adds one half of the port facing `side`.
    pub fn register(&mut self, side: &str, counters: PortCounters) {
        self.entries.push(PortEntry { side: side.to_string(), counters });
    }

    /// Records what the NIC behind `side`'s port can timestamp.
    pub fn note_timestamping(&mut self, side: &str, interface: &str, ts: Result<NicTimestamping, String>) {
        self.timestamping.push((side.to_string(), interface.to_string(), ts));
    }

    /// Everything registered, in order.
    pub fn entries(&self) -> &[PortEntry] {
        &self.entries
    }

    /// Prometheus text: frames, bytes, drops by reason, other events and
    /// the kernel's counters, labelled by side, half, backend and interface.
    pub fn prometheus(&self) -> String {
        let families: [(&str, EventKind, Option<&str>, &str); 5] = [
            ("fhgate_port_frames_total", EventKind::Frames, None, "Frames a live port received (half rx) or sent (half tx)."),
            ("fhgate_port_bytes_total", EventKind::Bytes, None, "Their bytes."),
            ("fhgate_port_drops_total", EventKind::Drop, Some("reason"), "Frames a live port dropped, by reason."),
            ("fhgate_port_events_total", EventKind::Condition, Some("event"), "TX kicks that left frames queued: congested, link_down."),
            ("fhgate_port_kernel_total", EventKind::Kernel, Some("counter"), "The kernel's own counters for the port's socket."),
        ];
        let mut out = String::new();
        for (name, kind, key, help) in families {
            let mut rows = String::new();
            for e in &self.entries {
                let c = &e.counters;
                for (event, n) in c.snapshot().filter(|(ev, _)| ev.kind() == kind) {
                    let _ = write!(
                        rows,
                        "{name}{{side=\"{}\",half=\"{}\",backend=\"{}\",interface=\"{}\"",
                        label(&e.side),
                        c.half().name(),
                        c.backend(),
                        label(c.interface())
                    );
                    if let Some(q) = c.queue() {
                        let _ = write!(rows, ",queue=\"{q}\"");
                    }
                    if let Some(key) = key {
                        let _ = write!(rows, ",{key}=\"{}\"", event.short_name());
                    }
                    let _ = writeln!(rows, "}} {n}");
                }
            }
            if !rows.is_empty() {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
                out.push_str(&rows);
            }
        }
        if !self.timestamping.is_empty() {
            let _ = writeln!(out, "# HELP fhgate_port_timestamping What each live port's NIC can timestamp (ethtool -T) and what fhgate uses (1).\n# TYPE fhgate_port_timestamping gauge");
            for (side, interface, ts) in &self.timestamping {
                let (rx, tx, phc) = match ts {
                    Ok(t) => (t.hardware_rx.to_string(), t.hardware_tx.to_string(), t.phc_name()),
                    Err(_) => ("unknown".into(), "unknown".into(), "unknown".into()),
                };
                let _ = writeln!(
                    out,
                    "fhgate_port_timestamping{{side=\"{}\",interface=\"{}\",hardware_rx=\"{rx}\",hardware_tx=\"{tx}\",phc=\"{phc}\",used=\"software\"}} 1",
                    label(side),
                    label(interface)
                );
            }
        }
        out
    }

    /// The counters as JSON: one object per half, with its labels and a
    /// `counters` object of every event it counts.
    pub fn json(&self) -> serde_json::Value {
        let halves = self.entries.iter().map(|e| {
            let c = &e.counters;
            let counters: serde_json::Map<String, serde_json::Value> = c.snapshot().map(|(ev, n)| (ev.name().to_string(), n.into())).collect();
            let mut v = serde_json::json!({"side": e.side, "half": c.half().name(), "backend": c.backend(), "interface": c.interface(), "counters": counters});
            if let Some(q) = c.queue() {
                v["queue"] = q.into();
            }
            v
        });
        serde_json::Value::Array(halves.collect())
    }
}

/// A Prometheus label value, escaped.
fn label(v: &str) -> std::borrow::Cow<'_, str> {
    if v.contains(['\\', '"', '\n']) {
        v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n").into()
    } else {
        v.into()
    }
}

/// Keeps the newest snapshot of every stage.
pub struct Collector {
    sources: Vec<Consumer<Stats>>,
    latest: Vec<Stats>,
    translators: TranslatorBoard,
    ports: PortBoard,
    owd: Option<crate::timing::owd_run::OwdBoard>,
    polls: Vec<(String, Arc<crate::pipeline::polling::PollGauge>)>,
}

impl Collector {
    /// Collects from these stages.
    pub fn new(sources: Vec<Consumer<Stats>>) -> Self {
        let latest = sources.iter().map(|_| Stats::default()).collect();
        Collector { sources, latest, translators: TranslatorBoard::default(), ports: PortBoard::default(), owd: None, polls: Vec::new() }
    }

    /// Also exposes the translators on `board`.
    pub fn with_translators(mut self, board: TranslatorBoard) -> Self {
        self.translators = board;
        self
    }

    /// Also exposes the live ports on `board`.
    pub fn with_ports(mut self, board: PortBoard) -> Self {
        self.ports = board;
        self
    }

    /// Also exposes the one-way delay initiator's figures on `board`.
    pub fn with_owd(mut self, board: crate::timing::owd_run::OwdBoard) -> Self {
        self.owd = Some(board);
        self
    }

    /// Also exposes each stage's polling state (by thread name).
    pub fn with_polls(mut self, polls: Vec<(String, Arc<crate::pipeline::polling::PollGauge>)>) -> Self {
        self.polls = polls;
        self
    }

    /// The whole exposition: pipeline counters, then translator counters,
    /// then port counters, then one-way delay.
    pub fn prometheus(&mut self) -> String {
        let mut text = self.snapshot().prometheus();
        let entries = self.translators.lock().map(|e| e.clone()).unwrap_or_default();
        text.push_str(&translator_prometheus(&entries));
        text.push_str(&self.ports.prometheus());
        text.push_str(&poll_prometheus(&self.polls));
        if let Some(b) = &self.owd {
            text.push_str(&crate::timing::owd_run::prometheus(&b.lock().map(|g| g.clone()).unwrap_or_default()));
        }
        text
    }

    /// Takes new snapshots and merges them.
    pub fn snapshot(&mut self) -> Stats {
        for (src, last) in self.sources.iter_mut().zip(&mut self.latest) {
            while let Ok(s) = src.pop() {
                *last = s;
            }
        }
        let mut total = Stats::default();
        for s in &self.latest {
            total.merge(s);
        }
        total
    }
}

/// Each stage's polling state: `fhgate_poll_sleeping` (1 while it sleeps
/// in poll() or parked on its rings) and `fhgate_poll_wakeups_total`.
pub fn poll_prometheus(polls: &[(String, Arc<crate::pipeline::polling::PollGauge>)]) -> String {
    use std::fmt::Write;
    if polls.is_empty() {
        return String::new();
    }
    let mut t = String::from("# HELP fhgate_poll_sleeping Whether a pipeline stage sleeps now (adaptive or interrupt polling): 1 sleeping, 0 busy.\n# TYPE fhgate_poll_sleeping gauge\n");
    for (stage, g) in polls {
        let _ = writeln!(t, "fhgate_poll_sleeping{{stage=\"{stage}\"}} {}", u8::from(g.sleeping()));
    }
    t.push_str("# HELP fhgate_poll_wakeups_total Times a pipeline stage came out of a sleep.\n# TYPE fhgate_poll_wakeups_total counter\n");
    for (stage, g) in polls {
        let _ = writeln!(t, "fhgate_poll_wakeups_total{{stage=\"{stage}\"}} {}", g.wakeups());
    }
    t.push_str("# HELP fhgate_poll_naps_total Times a pipeline stage napped to coalesce frames into bursts (pipeline.coalesce_us).\n# TYPE fhgate_poll_naps_total counter\n");
    for (stage, g) in polls {
        let _ = writeln!(t, "fhgate_poll_naps_total{{stage=\"{stage}\"}} {}", g.naps());
    }
    t
}

/// Serves `GET /metrics` on `addr` until the process exits; `addr` must be
/// loopback unless `expose` (`[metrics] expose`). Returns once bound.
pub fn serve(addr: SocketAddr, expose: bool, collector: Collector) -> Result<thread::JoinHandle<()>> {
    serve_shared(addr, expose, Arc::new(Mutex::new(collector)))
}

/// [`serve`] for a collector the control API's `/metrics` shares.
pub fn serve_shared(addr: SocketAddr, expose: bool, collector: Arc<Mutex<Collector>>) -> Result<thread::JoinHandle<()>> {
    if !addr.ip().is_loopback() && !expose {
        bail!("metrics address {addr} is not loopback; set `expose = true` in [metrics] to serve metrics there");
    }
    let std_listener = std::net::TcpListener::bind(addr).map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    std_listener.set_nonblocking(true)?;
    let h = thread::Builder::new().name("fhgate-metrics".into()).spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread().enable_io().build() {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("fhgate: metrics server: {e}");
                return;
            }
        };
        rt.block_on(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else { return };
            loop {
                let Ok((mut sock, _)) = listener.accept().await else { continue };
                let mut req = [0u8; 1024];
                let n = sock.read(&mut req).await.unwrap_or(0);
                let line = String::from_utf8_lossy(&req[..n]);
                let (status, body) = if line.starts_with("GET /metrics") {
                    ("200 OK", collector.lock().map(|mut c| c.prometheus()).unwrap_or_default())
                } else {
                    ("404 Not Found", "try /metrics\n".to_string())
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            }
        });
    })?;
    Ok(h)
}

/// Prometheus text for the translators' verdicts, faults and policy
/// actions, labelled by worker, chain position, role and name.
pub fn translator_prometheus(entries: &[TranslatorEntry]) -> String {
    type Get = fn(&crate::translate::host::Stats) -> u64;
    let metrics: [(&str, &str, Get); 11] = [
        ("fhgate_translator_calls_total", "Calls of fhgate_process.", |s| s.calls.load(Relaxed)),
        ("fhgate_translator_packets_in_total", "Packets handed to the translator.", |s| s.packets_in.load(Relaxed)),
        ("fhgate_translator_forwarded_total", "Inputs forwarded unchanged.", |s| s.forwarded.load(Relaxed)),
        ("fhgate_translator_modified_total", "Inputs modified.", |s| s.modified.load(Relaxed)),
        ("fhgate_translator_dropped_total", "Inputs dropped by the translator.", |s| s.dropped.load(Relaxed)),
        ("fhgate_translator_extras_total", "Extra packets produced.", |s| s.extras.load(Relaxed)),
        ("fhgate_translator_faults_trap_total", "Faults: traps.", |s| s.faults_trap.load(Relaxed)),
        ("fhgate_translator_faults_deadline_total", "Faults: missed deadlines.", |s| s.faults_deadline.load(Relaxed)),
        ("fhgate_translator_faults_bad_output_total", "Faults: invalid output.", |s| s.faults_bad_output.load(Relaxed)),
        ("fhgate_translator_policy_packets_total", "Packets the fault policy handled.", |s| s.policy_packets.load(Relaxed)),
        ("fhgate_translator_disabled", "1 once disabled by its fault limit.", |s| s.disabled.load(Relaxed) as u64),
    ];
    let mut out = String::new();
    for (name, help, get) in metrics {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {}", if name.ends_with("_total") { "counter" } else { "gauge" });
        for e in entries {
            for (role, sh) in std::iter::once(("main", &e.stats.main)).chain(e.stats.fallback.as_ref().map(|f| ("fallback", f))) {
                let _ = writeln!(
                    out,
                    "{name}{{translator=\"{}\",role=\"{role}\",worker=\"{}\",chain=\"{}\",stage=\"{}\"}} {}",
                    sh.name,
                    e.worker,
                    e.chain,
                    e.stage,
                    get(&sh.stats)
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod translator_tests {
    use super::*;
    use crate::translate::{ChainSpec, Runtime, RuntimeConfig, Selector, TranslatorModule, TranslatorSpec, WorkerHost};

    #[test]
    fn translator_counters_follow_hot_swaps() {
        let rt = Runtime::new(RuntimeConfig::default()).unwrap();
        let wat = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../translators/examples/wat/noop.wat")).unwrap();
        let spec = Arc::new(TranslatorSpec::new(TranslatorModule::load(&rt, &wat, "noop.wat").unwrap()));
        let chains = [ChainSpec { selector: Selector::ALL, translators: vec![spec.clone()] }];
        let (_host, mut control) = WorkerHost::new(&chains, ecpri::frame::DecodeConfig::default()).unwrap();
        let board = |c: &crate::translate::Control| -> Vec<TranslatorEntry> {
            c.installed().map(|(chain, stage, i)| TranslatorEntry { worker: "dl/0".into(), chain, stage, stats: i.clone() }).collect()
        };
        let before = board(&control);
        before[0].stats.main.stats.calls.fetch_add(3, Relaxed);
        before[0].stats.main.stats.faults_deadline.fetch_add(1, Relaxed);
        let text = translator_prometheus(&before);
        let labels = "translator=\"noop\",role=\"main\",worker=\"dl/0\",chain=\"0\",stage=\"0\"";
        assert!(text.contains(&format!("fhgate_translator_calls_total{{{labels}}} 3")), "{text}");
        assert!(text.contains(&format!("fhgate_translator_faults_deadline_total{{{labels}}} 1")), "{text}");
        assert!(text.contains("# TYPE fhgate_translator_disabled gauge"));
        // After a swap the board shows the new instance's (fresh) counters.
        control.swap(0, 0, &spec).unwrap();
        let after = translator_prometheus(&board(&control));
        assert!(after.contains(&format!("fhgate_translator_calls_total{{{labels}}} 0")), "{after}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn serves_merged_snapshots_on_loopback() {
        let (mut p, c) = rtrb::RingBuffer::new(1);
        p.push(Stats { unknown_flows: 7, ..Stats::default() }).unwrap();
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        serve(addr, false, Collector::new(vec![c])).unwrap();
        let mut sock = std::net::TcpStream::connect(addr).unwrap();
        sock.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        sock.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 200 OK"), "{out}");
        assert!(out.contains("fhgate_unknown_flow_total 7"), "{out}");
        let e = serve("0.0.0.0:0".parse().unwrap(), false, Collector::new(vec![])).unwrap_err();
        assert!(e.to_string().contains("expose = true"), "{e}");
    }

    /// With `expose` the server binds the wildcard address (reached here
    /// through loopback, which the wildcard includes).
    #[test]
    fn serves_on_the_wildcard_address_when_exposed() {
        let l = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        serve(([0, 0, 0, 0], port).into(), true, Collector::new(vec![])).unwrap();
        let mut sock = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        sock.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        sock.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 200 OK"), "{out}");
    }
}

#[cfg(test)]
mod port_tests {
    use super::*;
    use crate::io::port_stats::PortEvent::{self, *};

    const RX: &[PortEvent] = &[Frames, Bytes, DropTooLong, KernelRxRingFull];
    const TX: &[PortEvent] = &[Frames, Bytes, DropRingFull, LinkDown];

    #[test]
    fn port_board_exposes_every_half_by_side_backend_and_interface() {
        let (rx, tx) = PortCounters::pair("af_xdp", "gw-du", RX, TX);
        let (urx, _utx) = PortCounters::pair("udp", "[::1]:5000", &[Frames, Bytes, DropTruncated], &[Frames]);
        let mut board = PortBoard::default();
        board.register("du", rx.clone());
        board.register("du", tx.clone());
        board.register("ru", urx.clone());
        rx.add(Frames, 10);
        rx.add(Bytes, 640);
        rx.add(DropTooLong, 2);
        rx.set(KernelRxRingFull, 5);
        tx.add(LinkDown, 1);
        urx.add(DropTruncated, 3);
        let text = board.prometheus();
        let du_rx = "side=\"du\",half=\"rx\",backend=\"af_xdp\",interface=\"gw-du\"";
        for line in [
            format!("fhgate_port_frames_total{{{du_rx}}} 10"),
            format!("fhgate_port_bytes_total{{{du_rx}}} 640"),
            format!("fhgate_port_drops_total{{{du_rx},reason=\"too_long\"}} 2"),
            format!("fhgate_port_kernel_total{{{du_rx},counter=\"rx_ring_full\"}} 5"),
            "fhgate_port_drops_total{side=\"du\",half=\"tx\",backend=\"af_xdp\",interface=\"gw-du\",reason=\"ring_full\"} 0".to_string(),
            "fhgate_port_events_total{side=\"du\",half=\"tx\",backend=\"af_xdp\",interface=\"gw-du\",event=\"link_down\"} 1".to_string(),
            "fhgate_port_drops_total{side=\"ru\",half=\"rx\",backend=\"udp\",interface=\"[::1]:5000\",reason=\"truncated\"} 3".to_string(),
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\n{text}");
        }
        for family in ["frames", "bytes", "drops", "events", "kernel"] {
            let name = format!("fhgate_port_{family}_total");
            assert_eq!(text.matches(&format!("# TYPE {name} counter")).count(), 1, "{text}");
            // Every sample follows its family's header.
            let at = text.find(&format!("# TYPE {name} ")).unwrap();
            assert!(!text[..at].contains(&format!("\n{name}{{")), "{name}: {text}");
        }
        let j = board.json();
        assert_eq!(j[0]["counters"]["drop_too_long"], 2);
        assert_eq!((j[2]["side"].as_str(), j[2]["interface"].as_str()), (Some("ru"), Some("[::1]:5000")));
        assert_eq!(label("a\"b\\c"), "a\\\"b\\\\c");
        assert!(PortBoard::default().prometheus().is_empty(), "no live ports, no port families");
    }
}
