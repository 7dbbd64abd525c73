//! The live testbed's helpers, shared by the tests that use it
//! (`#[path]`-included beside `support/cli.rs`): namespaces from
//! `scripts/testbed`, `fhgate` run inside them, and background processes
//! killed on drop.
#![allow(dead_code)] // each test file uses some of these

use std::io::{BufRead, BufReader, Read};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::cli::repo;

pub fn fhgate() -> &'static str {
    env!("CARGO_BIN_EXE_fhgate")
}

/// Three namespaces from `scripts/testbed up PREFIX`, removed on drop.
pub struct Testbed {
    /// The namespaces' prefix.
    pub prefix: String,
}

/// One testbed at a time: each runs three busy processes, and the rates
/// below are what a loaded 2-core machine's veth path sustains for one.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Testbed {
    pub fn up(name: &str) -> (Testbed, std::sync::MutexGuard<'static, ()>) {
        Testbed::up_queues(name, 1)
    }

    /// The testbed with `queues` RX and TX queues on every veth end.
    pub fn up_queues(name: &str, queues: u32) -> (Testbed, std::sync::MutexGuard<'static, ()>) {
        let serial = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        // Short and unique per process and test: namespaces are global.
        let prefix = format!("t{}{}-", std::process::id() % 100_000, name);
        let st = Command::new(repo().join("scripts/testbed"))
            .args(["up", &prefix, &queues.to_string()])
            .status()
            .expect("scripts/testbed runs");
        assert!(st.success(), "scripts/testbed up {prefix} failed");
        (Testbed { prefix }, serial)
    }

    pub fn ns(&self, which: &str) -> String {
        format!("{}{which}", self.prefix)
    }

    /// `fhgate ARGS` inside namespace `which`.
    pub fn fhgate(&self, which: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns(which), fhgate()])
            .args(args)
            .current_dir(repo());
        c
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("scripts/testbed"))
            .args(["down", &self.prefix])
            .status();
    }
}

/// A background process, killed on drop; its stderr lines are forwarded
/// to a channel so a test can wait for a readiness line.
pub struct Proc {
    /// The process, until it is waited for.
    pub child: Option<Child>,
    stderr: mpsc::Receiver<String>,
    /// The stderr lines read so far.
    pub seen: Vec<String>,
}

impl Proc {
    pub fn spawn(mut c: Command) -> Proc {
        let mut child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawns");
        let err = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Proc {
            child: Some(child),
            stderr: rx,
            seen: Vec::new(),
        }
    }

    /// Waits until a stderr line contains `what`.
    pub fn wait_for(&mut self, what: &str, within: Duration) {
        let t = Instant::now();
        while t.elapsed() < within {
            if let Ok(l) = self.stderr.recv_timeout(Duration::from_millis(50)) {
                let hit = l.contains(what);
                self.seen.push(l);
                if hit {
                    return;
                }
            }
            if let Some(Ok(Some(st))) = self.child.as_mut().map(|c| c.try_wait()) {
                self.drain();
                panic!(
                    "exited ({st}) before saying `{what}`:\n{}",
                    self.seen.join("\n")
                );
            }
        }
        self.drain();
        panic!("no `{what}` within {within:?}:\n{}", self.seen.join("\n"));
    }

    pub fn drain(&mut self) {
        while let Ok(l) = self.stderr.recv_timeout(Duration::from_millis(100)) {
            self.seen.push(l);
        }
    }

    pub fn signal(&self, sig: i32) {
        if let Some(c) = &self.child {
            // SAFETY: signalling a child we own.
            unsafe { libc::kill(c.id() as i32, sig) };
        }
    }

    /// Waits for exit (at most `within`); returns stdout parsed as JSON.
    pub fn finish(mut self, within: Duration) -> (std::process::ExitStatus, serde_json::Value, String) {
        let mut child = self.child.take().unwrap();
        let t = Instant::now();
        let st = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            if t.elapsed() > within {
                let _ = child.kill();
                self.drain();
                panic!("still running after {within:?}:\n{}", self.seen.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut out = String::new();
        std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
        self.drain();
        let json = out
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str(l).ok())
            .unwrap_or(serde_json::Value::Null);
        (st, json, self.seen.join("\n"))
    }
}

impl Proc {
    /// Stops the process with SIGINT and returns its stdout (`fhgate
    /// run`'s report), checking that it exited successfully.
    pub fn report(mut self) -> String {
        self.signal(libc::SIGINT);
        let mut child = self.child.take().unwrap();
        let t = Instant::now();
        while child.try_wait().unwrap().is_none() {
            assert!(t.elapsed() < Duration::from_secs(30), "did not stop on SIGINT:\n{}", self.seen.join("\n"));
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut out = String::new();
        child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        self.drain();
        let st = child.wait().unwrap();
        assert!(st.success(), "exited with {st}:\n{}\n{out}", self.seen.join("\n"));
        out
    }
}

/// Runs `f` on a new thread inside network namespace `ns` (`setns` acts
/// on the calling thread only; sockets it opens stay in that namespace).
pub fn in_ns<T: Send + 'static>(ns: String, f: impl FnOnce() -> T + Send + 'static) -> std::thread::JoinHandle<T> {
    std::thread::spawn(move || {
        let path = format!("/var/run/netns/{ns}");
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // SAFETY: a valid namespace descriptor; affects the calling thread only.
        assert_eq!(unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) }, 0, "setns {ns}: {}", std::io::Error::last_os_error());
        f()
    })
}

/// Adds network namespace `name` with IPv6 off in it: the kernel's own
/// neighbour discovery and MLD would otherwise reach packet sockets that
/// take every frame.
pub fn netns_add(name: &str) {
    let run = |args: &[&str]| {
        let out = Command::new("ip").args(args).output().expect("the `ip` tool");
        assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(&["netns", "add", name]);
    let off = Command::new("ip").args(["netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"]).output().expect("the `ip` tool");
    if !off.status.success() {
        let _ = Command::new("ip").args(["netns", "del", name]).status();
        panic!("sysctl in {name}: {}", String::from_utf8_lossy(&off.stderr));
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Frames each queue of `fhgate run --json`'s `side` port counted on its
/// `half` (`rx`/`tx`), as (queue, frames) in the report's order.
pub fn frames_per_queue(run: &serde_json::Value, side: &str, half: &str) -> Vec<(u64, u64)> {
    let ports = run["ports"].as_array().unwrap_or_else(|| panic!("the gateway's report has its ports: {run}"));
    ports
        .iter()
        .filter(|p| p["side"] == side && p["half"] == half)
        .map(|p| (p["queue"].as_u64().expect("a multi-queue port's counters name their queue"), p["counters"]["frames"].as_u64().unwrap()))
        .collect()
}
