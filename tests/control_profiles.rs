//! The control API checks every change of what runs against the profiles
//! (`run --check`'s check): a stage swap, a config change, a rollback and
//! a canary promotion the profiles refuse get a 409 naming the profile
//! key or the egress format, are in the audit log, and leave the running
//! translator and the traffic as they were; ones they accept go through.
//! Each test runs a capture through the gateway meanwhile and checks, at
//! the end, that every frame came out once, in order, as widen (or mark,
//! the same conversion keeping the input's exponents) makes it.

use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[path = "support/cli.rs"]
mod cli;
use cli::{fhgate, translators};

#[path = "support/gateway.rs"]
#[allow(dead_code)] // stop and call_at are other tests'
mod gateway;
use gateway::Gateway;

#[path = "support/site.rs"]
mod site;
use site::{config, ctl_at, edit_and_hangup, frames, references, versions_and_stages};

/// What the RU profile says of a DL at 9 bits.
const NARROW: [&str; 3] = ["dl_comp", "chain gives bfp:9", "RU profile wants bfp:12"];

/// A gateway playing a capture, with an audit log, `w2` (bfp_width 8 → 12
/// again), `narrow` (8 → 9), `noop` (declares no effects) and `keep`
/// (UL 8 → 8) loaded, and the reference runs under way.
struct Site {
    dir: tempfile::TempDir,
    gw: Gateway,
    sock: PathBuf,
    cfg: PathBuf,
    refs: [JoinHandle<Vec<Vec<u8>>>; 2],
}

impl Site {
    fn start() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("du.pcap");
        // 10 s of traffic at recorded pace; the calls of a test take 1-2 s.
        let o = fhgate(&["gen", "-o", input.to_str().unwrap(), "--prbs", "24", "--antennas", "1", "--comp", "bfp:8", "--eaxc-bits", "4,4,4,4", "--slots", "20000"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let refs = references(&input);
        let sock = dir.path().join("ctl.sock");
        let control = format!("[control]\nlisten = \"unix:{}\"\naudit_log = \"{}\"", sock.display(), dir.path().join("audit.log").display());
        // The modules first: a build-translators run waits for the other tests' ones.
        let (bfp, noop) = (translators().join("bfp_width.wasm"), translators().join("noop.wasm"));
        let cfg = config(dir.path(), Some(&input), &control);
        let gw = Gateway::start(&cfg);
        for (name, path, config) in [
            ("w2", &bfp, json!({ "in_width": 8, "out_width": 12 })),
            ("narrow", &bfp, json!({ "in_width": 8, "out_width": 9 })),
            ("noop", &noop, json!({})),
            ("keep", &bfp, json!({ "in_width": 8, "out_width": 8, "direction": "ul" })),
        ] {
            let load = json!({ "name": name, "path": path, "config": config, "deadline_us": 200000 }).to_string();
            let (c, v) = gw.call("POST", "/v1/translators", load.as_bytes(), None);
            assert_eq!(c, 200, "{name}: {v}");
        }
        let site = Site { dir, gw, sock, cfg, refs };
        assert_eq!(site.running_and_flowing(), ["widen v1"]);
        site
    }

    /// Chain 0's stages as `name vN`, once packets are seen moving through
    /// its stage 0 (its `packets_in` grows within 3 s).
    fn running_and_flowing(&self) -> Vec<String> {
        let read = || {
            let (c, v) = self.gw.call("GET", "/v1/status", b"", None);
            assert_eq!(c, 200, "{v}");
            v
        };
        let stages = |v: &Value| v["chains"][0]["stages"].as_array().unwrap().iter().map(|s| format!("{} v{}", s["translator"].as_str().unwrap(), s["version"])).collect::<Vec<_>>();
        let packets = |v: &Value| v["chains"][0]["stages"][0]["counters"]["packets_in"].as_u64().unwrap_or(0);
        let first = read();
        let t = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(50));
            let v = read();
            if packets(&v) > packets(&first) {
                assert_eq!(stages(&v), stages(&first), "{v}");
                return stages(&v);
            }
            assert!(t.elapsed() < Duration::from_secs(3), "no packet moved through chain 0 stage 0 in 3 s (did the capture end?): {v}");
        }
    }

    /// A call the profiles refuse: 409 saying each of `says`, and `running`
    /// still runs with packets moving through it.
    fn refused(&self, method: &str, path: &str, body: &str, says: &[&str], running: &[&str]) -> Value {
        let (c, v) = self.gw.call(method, path, body.as_bytes(), None);
        assert_eq!(c, 409, "{path} {body}: {v}");
        let e = v["error"].as_str().unwrap();
        for s in says {
            assert!(e.contains(s), "{path} {body}: `{e}` does not say `{s}`");
        }
        assert_eq!(self.running_and_flowing(), running, "{path} {body} changed what runs");
        v
    }

    /// A call they accept: 200, and `running` runs with packets moving.
    fn accepted(&self, method: &str, path: &str, body: &str, running: &[&str]) -> Value {
        let (c, v) = self.gw.call(method, path, body.as_bytes(), None);
        assert_eq!(c, 200, "{path} {body}: {v}");
        assert_eq!(self.running_and_flowing(), running, "{path} {body}");
        v
    }

    /// The audit log's refused calls: (action, outcome).
    fn refusals(&self) -> Vec<(String, String)> {
        let log = std::fs::read_to_string(self.dir.path().join("audit.log")).unwrap();
        let lines: Vec<Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let s = |l: &Value, k: &str| l[k].as_str().unwrap().to_string();
        lines.iter().filter(|l| s(l, "outcome").starts_with("409")).map(|l| (s(l, "action"), s(l, "outcome"))).collect()
    }

    /// Waits for the capture's end: every frame came out once, in order,
    /// as widen or mark makes it (no refused change touched one).
    fn finish(self) {
        let (st, _) = self.gw.wait();
        assert!(st.success(), "{st}");
        let refs: Vec<Vec<Vec<u8>>> = self.refs.into_iter().map(|t| t.join().unwrap()).collect();
        let got = frames(&self.dir.path().join("ru_out.pcap"));
        assert_eq!(got.len(), refs[0].len(), "every frame exactly once");
        let neither = (0..got.len()).filter(|&i| got[i] != refs[0][i] && got[i] != refs[1][i]).count();
        assert_eq!(neither, 0, "frames neither widen nor mark made");
    }
}

/// Asserts that `refusals` hold exactly `actions` (by prefix), each with one of the reasons.
fn assert_refusals(refusals: &[(String, String)], actions: &[&str]) {
    assert_eq!(refusals.len(), actions.len(), "{refusals:?}");
    for ((a, o), want) in refusals.iter().zip(actions) {
        assert!(a.starts_with(want), "`{a}` is not `{want}…`: {refusals:?}");
        assert!(o.contains("RU profile wants bfp:12") || o.contains("egress format"), "{a}: {o}");
    }
}

#[test]
fn a_swap_the_profiles_refuse_is_409_and_the_stage_runs_on() {
    let site = Site::start();
    site.refused("POST", "/v1/chains/0/stages/0", r#"{"translator": "narrow"}"#, &NARROW, &["widen v1"]);
    site.refused("POST", "/v1/chains/0/stages/0", r#"{"translator": "noop"}"#, &["refused", "egress format (DL declared, now unknown"], &["widen v1"]);
    let (c, _, err) = ctl_at(&site.sock, &["swap", "0", "0", "narrow"]);
    assert_eq!(c, Some(1), "{err}");
    assert!(err.contains("409") && err.contains("RU profile wants bfp:12"), "{err}");
    assert_eq!(site.running_and_flowing(), ["widen v1"]);
    site.accepted("POST", "/v1/chains/0/stages/0", r#"{"translator": "w2"}"#, &["w2 v1"]);
    assert_refusals(&site.refusals(), &["swap chain 0 stage 0 to narrow", "swap chain 0 stage 0 to noop", "swap chain 0 stage 0 to narrow"]);
    site.finish();
}

#[test]
fn a_config_change_or_reload_the_profiles_refuse_is_409_and_no_version() {
    let site = Site::start();
    site.refused("POST", "/v1/translators/widen/config", r#"{"config": {"in_width": 8, "out_width": 9}}"#, &NARROW, &["widen v1"]);
    let (c, _, err) = ctl_at(&site.sock, &["config", "widen", "in_width=8,out_width=9"]);
    assert_eq!(c, Some(1), "{err}");
    assert!(err.contains("409") && err.contains("RU profile wants bfp:12"), "{err}");
    assert_eq!(versions_and_stages(&site.gw, "widen").0, 1, "a refused config is not a version");
    site.accepted("POST", "/v1/translators/widen/config", r#"{"config": {"in_width": 8, "out_width": 12, "exponent": "input"}}"#, &["widen v2"]);
    // SIGHUP after editing widen's table to 8 -> 9 goes through the same check.
    edit_and_hangup(&site.gw, &site.cfg, "{ in_width = 8, out_width = 9 }");
    let t = Instant::now();
    let said = loop {
        let log = site.gw.stderr.lock().unwrap().join("\n");
        if let Some(at) = log.find("reload failed") {
            break log[at..].to_string();
        }
        assert!(t.elapsed() < Duration::from_secs(10), "no refused reload in the log: {log}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(said.contains("the running chains carry on") && said.contains("dl_comp: chain gives bfp:9, RU profile wants bfp:12"), "{said}");
    assert_eq!(site.running_and_flowing(), ["widen v2"]);
    assert_eq!(versions_and_stages(&site.gw, "widen").0, 2, "a refused reload is not a version");
    assert_refusals(&site.refusals(), &["config widen", "config widen"]);
    site.finish();
}

#[test]
fn a_rollback_the_profiles_refuse_is_409_and_the_stage_runs_on() {
    let site = Site::start();
    // What a stage ran before can be wrong once the stages around it changed.
    site.accepted("POST", "/v1/chains/0/stages", r#"{"translator": "keep"}"#, &["widen v1", "keep v1"]);
    site.accepted("POST", "/v1/chains/0/stages/1", r#"{"translator": "w2"}"#, &["widen v1", "w2 v1"]);
    site.accepted("POST", "/v1/chains/0/stages/0", r#"{"translator": "keep"}"#, &["keep v1", "w2 v1"]);
    // Stage 1 back to keep: keep, keep leaves DL at 8 bits.
    site.refused("POST", "/v1/chains/0/stages/1/rollback", "", &["dl_comp", "chain gives bfp:8", "RU profile wants bfp:12"], &["keep v1", "w2 v1"]);
    let (c, _, err) = ctl_at(&site.sock, &["rollback", "0", "1"]);
    assert_eq!(c, Some(1), "{err}");
    assert!(err.contains("409") && err.contains("RU profile wants bfp:12"), "{err}");
    let (_, v) = site.gw.call("GET", "/v1/status", b"", None);
    assert_eq!(v["chains"][0]["stages"][1]["rollbacks_available"], 1, "a refused rollback keeps the history: {v}");
    // Stage 0 back to widen: widen, w2 (which leaves 12 bits alone).
    site.accepted("POST", "/v1/chains/0/stages/0/rollback", "", &["widen v1", "w2 v1"]);
    site.accepted("POST", "/v1/chains/0/stages/1/rollback", "", &["widen v1", "keep v1"]);
    assert_refusals(&site.refusals(), &["rollback chain 0 stage 1", "rollback chain 0 stage 1"]);
    site.finish();
}

#[test]
fn a_canary_the_profiles_refuse_is_refused_at_start_and_cannot_be_promoted() {
    let site = Site::start();
    let start = r#"{"translator": "narrow", "chain": 0, "stage": 0, "sample": "1/4"}"#;
    let v = site.refused("POST", "/v1/canary", start, &["canary: the candidate cannot be promoted", "RU profile wants bfp:12", "compare_only"], &["widen v1"]);
    assert!(v["error"].as_str().unwrap().contains("dl_comp"), "{v}");
    assert_eq!(site.gw.call("GET", "/v1/canary", b"", None).1["running"], false);
    // Only to compare it: it runs, and says it cannot be promoted.
    let (c, _, err) = ctl_at(&site.sock, &["canary", "start", "narrow", "--at", "0,0", "--sample", "1/4", "--compare-only"]);
    assert_eq!(c, Some(0), "{err}");
    let (c, out, _) = ctl_at(&site.sock, &["canary", "status"]);
    assert_eq!(c, Some(0));
    assert!(out.contains("compare only, not promotable: ") && out.contains("RU profile wants bfp:12"), "{out}");
    let (_, v) = site.gw.call("GET", "/v1/canary", b"", None);
    assert_eq!((v["running"].as_bool(), v["promotable"].as_bool()), (Some(true), Some(false)), "{v}");
    site.refused("POST", "/v1/canary/promote", "", &NARROW, &["widen v1"]);
    assert_eq!(site.gw.call("GET", "/v1/canary", b"", None).1["running"], true, "a refused promotion leaves the canary to abort");
    assert_eq!(site.gw.call("POST", "/v1/canary/abort", b"", None).0, 200);
    // A candidate the profiles accept: started and promoted.
    site.accepted("POST", "/v1/canary", r#"{"translator": "w2", "chain": 0, "stage": 0, "sample": "1/4"}"#, &["widen v1"]);
    site.accepted("POST", "/v1/canary/promote", "", &["w2 v1"]);
    assert_refusals(&site.refusals(), &["canary start (swap chain 0 stage 0 to narrow", "canary promote"]);
    site.finish();
}
