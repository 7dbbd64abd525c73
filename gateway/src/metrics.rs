//! Prometheus exposition of the pipeline counters while `fhgate run` is
//! live: a small HTTP server on a loopback port, on its own thread (a
//! tokio current-thread runtime), fed by the stages' counter snapshots.

use std::net::SocketAddr;
use std::thread;

use anyhow::{bail, Result};
use rtrb::Consumer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::pipeline::stats::Stats;

/// Keeps the newest snapshot of every stage.
pub struct Collector {
    sources: Vec<Consumer<Stats>>,
    latest: Vec<Stats>,
}

impl Collector {
    /// Collects from these stages.
    pub fn new(sources: Vec<Consumer<Stats>>) -> Self {
        let latest = sources.iter().map(|_| Stats::default()).collect();
        Collector { sources, latest }
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
                    ("200 OK", collector.snapshot().prometheus())
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn serves_merged_snapshots_on_loopback() {
        let (mut p, c) = rtrb::RingBuffer::new(1);
        let mut s = Stats::default();
        s.unknown_flows = 7;
        p.push(s).unwrap();
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
