//! The device under test when bench starts it: `fhgate run -c FILE` as a
//! child process (this same binary), in `--dut-netns` if given. Bench
//! waits for its "running" line, and at the end stops it with SIGINT and
//! keeps its final counters (`run --json`) for the report.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::netns::Netns;

/// How long the device may take to say it runs (translators compile).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long it may take to stop after SIGINT.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running device.
pub struct Dut {
    child: Option<Child>,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
}

impl Dut {
    /// Starts `fhgate run -c config --json` and waits until it runs.
    pub fn start(config: &Path, ns: Option<Netns>) -> Result<Dut> {
        let exe = std::env::current_exe().context("finding fhgate's own executable to start the device")?;
        let mut c = Command::new(exe);
        c.args(["run", "--json", "-c"]).arg(config).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        if let Some(ns) = ns {
            // SAFETY: `enter` makes only system calls (no allocation, no
            // locks), which is what may run between fork and exec.
            unsafe {
                c.pre_exec(move || ns.enter());
            }
        }
        let mut child = c.spawn().context("starting the device (fhgate run)")?;
        let err = child.stderr.take().context("the device's stderr")?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let mut d = Dut { child: Some(child), lines, log: Vec::new() };
        let t = Instant::now();
        loop {
            if let Ok(l) = d.lines.recv_timeout(Duration::from_millis(50)) {
                let up = l.contains("running");
                d.log.push(l);
                if up {
                    return Ok(d);
                }
            }
            if let Some(Ok(Some(st))) = d.child.as_mut().map(|c| c.try_wait()) {
                d.drain();
                bail!("the device (fhgate run -c {}) exited ({st}) before it ran:\n{}", config.display(), d.log.join("\n"));
            }
            if t.elapsed() > START_TIMEOUT {
                d.drain();
                bail!("the device (fhgate run -c {}) did not say it runs within {START_TIMEOUT:?}:\n{}", config.display(), d.log.join("\n"));
            }
        }
    }

    fn drain(&mut self) {
        while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(100)) {
            self.log.push(l);
        }
    }

    /// Stops the device and returns its final counters (its JSON report),
    /// or its log when it had none.
    pub fn stop(mut self) -> serde_json::Value {
        let Some(mut child) = self.child.take() else { return serde_json::Value::Null };
        // SAFETY: signalling our own child, which has not been reaped.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let t = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(st)) => break Some(st),
                Ok(None) if t.elapsed() < STOP_TIMEOUT => std::thread::sleep(Duration::from_millis(20)),
                _ => {
                    let _ = child.kill();
                    break child.wait().ok();
                }
            }
        };
        let mut out = String::new();
        if let Some(mut o) = child.stdout.take() {
            let _ = o.read_to_string(&mut out);
        }
        self.drain();
        match out.lines().rev().find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()) {
            Some(v) => v,
            None => serde_json::json!({ "exit": status.map(|s| s.to_string()), "log": self.log }),
        }
    }
}

impl Drop for Dut {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
