//! A `fhgate run` with a control API, for the tests that call it
//! (control_api, canary): started, called over its socket, stopped.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fhgate::config::ControlListen;
use fhgate::control::client;
use serde_json::Value;

use super::cli::repo;

/// A running `fhgate run` with a control API.
pub struct Gateway {
    /// The process.
    pub child: Child,
    /// Where its control API listens.
    pub addr: ControlListen,
    /// Its standard error so far, line by line.
    pub stderr: Arc<Mutex<Vec<String>>>,
}

impl Gateway {
    /// Starts `fhgate run -c cfg` and waits for its control API line.
    pub fn start(cfg: &Path) -> Gateway {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fhgate"))
            .args(["run", "-c", cfg.to_str().unwrap(), "--json"])
            .current_dir(repo())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("fhgate runs");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (lines, err) = (stderr.clone(), child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(err).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(l);
            }
        });
        let t = Instant::now();
        loop {
            let at = stderr.lock().unwrap().iter().find_map(|l| l.split("control API on ").nth(1).map(str::to_string));
            if let Some(at) = at {
                let at = at.trim().trim_start_matches("http://").to_string();
                return Gateway { child, addr: ControlListen::parse(&at).unwrap(), stderr };
            }
            if let Ok(Some(st)) = child.try_wait() {
                panic!("fhgate run exited ({st}) before its control API was up: {:?}", stderr.lock().unwrap());
            }
            assert!(t.elapsed() < Duration::from_secs(120), "no control API after 120 s: {:?}", stderr.lock().unwrap());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// One call: status code and JSON reply. A call that gets no answer
    /// fails with the gateway's last lines of standard error (why it went).
    pub fn call(&self, method: &str, path: &str, body: &[u8], token: Option<&str>) -> (u16, Value) {
        match client::request(&self.addr, method, path, "application/json", body, token) {
            Ok(r) => (r.status, serde_json::from_slice(&r.body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&r.body).into()))),
            Err(e) => {
                std::thread::sleep(Duration::from_millis(500));
                let mut status = 0;
                // SAFETY: waitpid on our own child, not blocking; it only reads its status.
                let gone = unsafe { libc::waitpid(self.child.id() as i32, &mut status, libc::WNOHANG) };
                let how = match gone {
                    0 => "still running".to_string(),
                    _ if libc::WIFSIGNALED(status) => format!("killed by signal {}", libc::WTERMSIG(status)),
                    _ => format!("exited with {}", libc::WEXITSTATUS(status)),
                };
                let err = self.stderr.lock().unwrap();
                panic!("{method} {path}: {e}; the gateway is {how}; its last stderr lines: {:?}", &err[err.len().saturating_sub(8)..])
            }
        }
    }

    /// SIGINT, then the exit status and standard output.
    pub fn stop(self) -> (std::process::ExitStatus, String) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        self.wait()
    }

    /// The exit status and standard output once it ends by itself.
    pub fn wait(mut self) -> (std::process::ExitStatus, String) {
        let mut out = String::new();
        std::io::Read::read_to_string(self.child.stdout.as_mut().unwrap(), &mut out).unwrap();
        (self.child.wait().unwrap(), out)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One call to `addr`: status code and JSON reply (a string if not JSON).
pub fn call_at(addr: &ControlListen, method: &str, path: &str, ctype: &str, body: &[u8], token: Option<&str>) -> (u16, Value) {
    let r = client::request(addr, method, path, ctype, body, token).unwrap();
    let v = serde_json::from_slice(&r.body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&r.body).into()));
    (r.status, v)
}

