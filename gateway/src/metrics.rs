//! Prometheus exposition of the pipeline counters while `fhgate run` is
//! live: a small HTTP server on a loopback port, on its own thread (a
//! tokio current-thread runtime), fed by the stages' counter snapshots.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::thread;

use anyhow::{bail, Result};
use rtrb::Consumer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

/// Keeps the newest snapshot of every stage.
pub struct Collector {
    sources: Vec<Consumer<Stats>>,
    latest: Vec<Stats>,
    translators: TranslatorBoard,
}

impl Collector {
    /// Collects from these stages.
    pub fn new(sources: Vec<Consumer<Stats>>) -> Self {
        let latest = sources.iter().map(|_| Stats::default()).collect();
        Collector { sources, latest, translators: TranslatorBoard::default() }
    }

    /// Also exposes the translators on `board`.
    pub fn with_translators(mut self, board: TranslatorBoard) -> Self {
        self.translators = board;
        self
    }

    /// The whole exposition: pipeline counters, then translator counters.
    pub fn prometheus(&mut self) -> String {
        let mut text = self.snapshot().prometheus();
        let entries = self.translators.lock().map(|e| e.clone()).unwrap_or_default();
        text.push_str(&translator_prometheus(&entries));
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

/// Serves `GET /metrics` on `addr` (which must be loopback) until the
/// process exits. Returns once the port is bound.
pub fn serve(addr: SocketAddr, mut collector: Collector) -> Result<thread::JoinHandle<()>> {
    if !addr.ip().is_loopback() {
        bail!("metrics address {addr} is not loopback; metrics are served on loopback only");
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
                    ("200 OK", collector.prometheus())
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
        serve(addr, Collector::new(vec![c])).unwrap();
        let mut sock = std::net::TcpStream::connect(addr).unwrap();
        sock.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        sock.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 200 OK"), "{out}");
        assert!(out.contains("fhgate_unknown_flow_total 7"), "{out}");
        assert!(serve("0.0.0.0:0".parse().unwrap(), Collector::new(vec![])).is_err());
    }
}
