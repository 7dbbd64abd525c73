//! The control API of `fhgate run` (`[control]`), against the real
//! process over real sockets (TCP and Unix): every endpoint with and
//! without the bearer token, the audit log, malformed and oversize
//! bodies, unknown names, concurrent calls, `fhgate ctl`, `config save`,
//! chain and stage edits and their refusals; and the loss test: hundreds
//! of swaps, config changes, rollbacks and chain edits under traffic,
//! after which every packet came out exactly once and in order, byte for
//! byte as in a run without them, with widen's exponents or (while `mark`
//! ran) with the input's. (The profile check of each change: control_profiles.rs.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[path = "support/cli.rs"]
mod cli;
use cli::{fhgate, translators};

#[path = "support/gateway.rs"]
mod gateway;
use gateway::{call_at, Gateway};

#[path = "support/site.rs"]
mod site;
use site::{config, ctl_at, edit_and_hangup, frames, references, versions_and_stages};

/// FNV-1a 64 from its definition, to check the hash status reports.
fn fnv1a(bytes: &[u8]) -> String {
    let mut h: u64 = 14695981039346656037;
    for b in bytes {
        h = (h ^ *b as u64).wrapping_mul(1099511628211);
    }
    format!("{h:016x}")
}

fn stage(status: &Value) -> (String, u64, u64) {
    let s = &status["chains"][0]["stages"][0];
    (s["translator"].as_str().unwrap().to_string(), s["version"].as_u64().unwrap(), s["rollbacks_available"].as_u64().unwrap())
}

#[test]
fn every_endpoint_with_and_without_the_token_and_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "s3cret-token\n").unwrap();
    let audit = dir.path().join("audit.log");
    let control = format!("[control]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"{}\"\naudit_log = \"{}\"", token_file.display(), audit.display());
    let gw = Gateway::start(&config(dir.path(), None, &control));
    let tok = Some("s3cret-token");
    let wasm_path = translators().join("bfp_width.wasm");
    let wasm = std::fs::read(&wasm_path).unwrap();

    // Reading needs no token.
    let (code, st) = gw.call("GET", "/v1/status", b"", None);
    assert_eq!(code, 200, "{st}");
    assert_eq!(st["version"], env!("CARGO_PKG_VERSION"));
    assert!(st["uptime_s"].as_f64().unwrap() >= 0.0);
    assert_eq!(st["sides"]["du"]["backend"], "udp");
    assert_eq!(stage(&st), ("widen".into(), 1, 0));
    assert_eq!(st["translators"][0]["versions"][0]["hash"], fnv1a(&wasm));
    assert_eq!(st["translators"][0]["versions"][0]["module"], "bfp_width");
    let (code, m) = gw.call("GET", "/metrics", b"", None);
    assert_eq!(code, 200);
    assert!(m.as_str().unwrap().contains("fhgate_translator"), "{m}");

    // Every mutating call: refused without the token (401) and with a wrong one (403).
    let load = json!({ "name": "w2", "path": wasm_path, "config": { "in_width": 8, "out_width": 12 } }).to_string();
    let calls: [(&str, &[u8]); 4] = [
        ("/v1/translators", load.as_bytes()),
        ("/v1/chains/0/stages/0", br#"{"translator": "w2"}"#),
        ("/v1/translators/w2/config", br#"{"config": {"in_width": 8, "out_width": 12}}"#),
        ("/v1/chains/0/stages/0/rollback", b""),
    ];
    for (path, body) in calls {
        let (code, v) = gw.call("POST", path, body, None);
        assert_eq!(code, 401, "{path}: {v}");
        assert!(v["error"].as_str().unwrap().contains("Bearer"), "{v}");
        assert_eq!(gw.call("POST", path, body, Some("wrong")).0, 403, "{path}");
    }
    assert_eq!(stage(&gw.call("GET", "/v1/status", b"", None).1), ("widen".into(), 1, 0), "refused calls changed nothing");

    // With it: load, swap, config, rollback, rollback, and nothing left to roll back.
    let (code, v) = gw.call("POST", calls[0].0, calls[0].1, tok);
    assert_eq!((code, v["version"].as_u64()), (200, Some(1)), "{v}");
    let (code, v) = gw.call("POST", calls[1].0, calls[1].1, tok);
    assert_eq!(code, 200, "{v}");
    assert_eq!(stage(&gw.call("GET", "/v1/status", b"", None).1), ("w2".into(), 1, 1));
    let (code, v) = gw.call("POST", calls[2].0, calls[2].1, tok);
    assert_eq!((code, v["stages"].as_array().map(Vec::len)), (200, Some(1)), "{v}");
    assert_eq!(stage(&gw.call("GET", "/v1/status", b"", None).1), ("w2".into(), 2, 2));
    assert_eq!(gw.call("POST", calls[3].0, b"", tok).0, 200);
    assert_eq!(stage(&gw.call("GET", "/v1/status", b"", None).1), ("w2".into(), 1, 1));
    assert_eq!(gw.call("POST", calls[3].0, b"{}", tok).0, 200);
    assert_eq!(stage(&gw.call("GET", "/v1/status", b"", None).1), ("widen".into(), 1, 0));
    let (code, v) = gw.call("POST", calls[3].0, b"", tok);
    assert_eq!(code, 409, "{v}");

    // An uploaded module: same bytes, same hash.
    let (code, v) = call_at(&gw.addr, "POST", "/v1/translators?name=up&config=%7B%22in_width%22%3A8%2C%22out_width%22%3A12%7D", "application/wasm", &wasm, tok);
    assert_eq!((code, v["hash"].as_str()), (200, Some(fnv1a(&wasm).as_str())), "{v}");
    assert_eq!(call_at(&gw.addr, "POST", "/v1/translators?name=up2", "application/wasm", &wasm, None).0, 401);

    // The audit log: one line per mutating call, refused ones included.
    let log = std::fs::read_to_string(&audit).unwrap();
    let lines: Vec<Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 8 + 6 + 2, "{log}");
    for l in &lines {
        for k in ["time", "caller", "action", "outcome"] {
            assert!(l[k].as_str().is_some_and(|s| !s.is_empty()), "{k} in {l}");
        }
        assert!(l["caller"].as_str().unwrap().starts_with("127.0.0.1:"), "{l}");
    }
    assert_eq!(lines.iter().filter(|l| l["outcome"].as_str().unwrap().starts_with("401")).count(), 5);
    assert_eq!(lines.iter().filter(|l| l["outcome"].as_str().unwrap().starts_with("403")).count(), 4);
    assert!(lines[8]["action"].as_str().unwrap().starts_with("load w2 from"), "{}", lines[8]);
    let (st, _) = gw.stop();
    assert!(st.success(), "{st}");
}

#[test]
fn bad_requests_get_4xx_naming_the_field_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("ctl.sock");
    let gw = Gateway::start(&config(dir.path(), None, &format!("[control]\nlisten = \"unix:{}\"", sock.display())));
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let cases: [(&str, &[u8], u16, &str); 12] = [
        ("/v1/chains/0/stages/0", b"{nope", 400, "body: not JSON"),
        ("/v1/chains/0/stages/0", b"[1]", 400, "body: expected a JSON object"),
        ("/v1/chains/0/stages/0", b"{}", 400, "translator: missing"),
        ("/v1/chains/0/stages/0", br#"{"translator": 7}"#, 400, "translator: expected a string"),
        ("/v1/chains/0/stages/0", br#"{"translator": "nope"}"#, 404, "no translator named `nope`"),
        ("/v1/chains/3/stages/0", br#"{"translator": "widen"}"#, 404, "chain 3"),
        ("/v1/chains/x/stages/0", br#"{"translator": "widen"}"#, 400, "chain: `x`"),
        ("/v1/chains/0/stages/0", br#"{"translator": "widen", "version": 9}"#, 400, "version:"),
        ("/v1/translators/nope/config", br#"{"config": {}}"#, 404, "no translator named `nope`"),
        ("/v1/translators/widen/config", br#"{"config": {"in_width": null}}"#, 400, "config.in_width"),
        ("/v1/translators", br#"{"name": "x", "path": "/nonexistent.wasm"}"#, 400, "path: /nonexistent.wasm: cannot read it"),
        ("/v1/translators", br#"{"name": "x", "path": "Cargo.toml"}"#, 400, "path: Cargo.toml: a translator is a .wasm"),
    ];
    for (path, body, code, msg) in cases {
        let (c, v) = gw.call("POST", path, body, None);
        assert_eq!(c, code, "{path} {}: {v}", String::from_utf8_lossy(body));
        assert!(v["error"].as_str().unwrap().starts_with(msg) || v["error"].as_str().unwrap().contains(msg), "{path}: {v} lacks `{msg}`");
    }
    // A config fhgate_init refuses: 409, nothing loaded, nothing changed.
    let (c, v) = gw.call("POST", "/v1/translators/widen/config", br#"{"config": {"in_width": 99, "out_width": 12}}"#, None);
    assert_eq!(c, 409, "{v}");
    // Bytes that are not a module.
    let (c, v) = call_at(&gw.addr, "POST", "/v1/translators?name=junk", "application/wasm", b"\0asm junk", None);
    assert_eq!(c, 409, "{v}");
    assert!(v["error"].as_str().unwrap().contains("does not load"), "{v}");
    // Oversize: JSON past 64 KiB, a module past 16 MiB.
    let big_json = format!("{{\"translator\": \"{}\"}}", "a".repeat(70 << 10));
    assert_eq!(gw.call("POST", "/v1/chains/0/stages/0", big_json.as_bytes(), None).0, 413);
    assert_eq!(gw.call("POST", "/v1/translators", big_json.as_bytes(), None).0, 413);
    assert_eq!(call_at(&gw.addr, "POST", "/v1/translators?name=big", "application/wasm", &vec![0u8; 17 << 20], None).0, 413);
    assert_eq!(gw.call("GET", "/v1/nothing", b"", None).0, 404);
    let (c, st) = gw.call("GET", "/v1/status", b"", None);
    assert_eq!(c, 200);
    assert_eq!(stage(&st), ("widen".into(), 1, 0));
    assert_eq!(st["translators"].as_array().unwrap().len(), 1, "{st}");
    assert_eq!(st["translators"][0]["versions"].as_array().unwrap().len(), 1, "{st}");
    assert!(!gw.stderr.lock().unwrap().iter().any(|l| l.contains("panicked")));
    let (st, _) = gw.stop();
    assert!(st.success(), "{st}");
}

#[test]
fn concurrent_calls_are_each_carried_out_once() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("ctl.sock");
    let gw = Gateway::start(&config(dir.path(), None, &format!("[control]\nlisten = \"unix:{}\"", sock.display())));
    let load = json!({ "name": "w2", "path": translators().join("bfp_width.wasm"), "config": { "in_width": 8, "out_width": 12 } }).to_string();
    assert_eq!(gw.call("POST", "/v1/translators", load.as_bytes(), None).0, 200);
    let addr = gw.addr.clone();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let a = call_at(&addr, "GET", "/v1/status", "", b"", None).0;
                let b = call_at(&addr, "POST", "/v1/chains/0/stages/0", "application/json", if i % 2 == 0 { br#"{"translator": "w2"}"# } else { br#"{"translator": "widen"}"# }, None).0;
                (a, b)
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), (200, 200));
    }
    let st = gw.call("GET", "/v1/status", b"", None).1;
    assert_eq!(stage(&st).2, 8, "eight swaps, eight steps of history: {st}");
    let (st, _) = gw.stop();
    assert!(st.success(), "{st}");
}

#[test]
fn non_loopback_without_a_token_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let o = fhgate(&["run", "-c", config(dir.path(), None, "[control]\nlisten = \"0.0.0.0:0\"").to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("control.listen") && err.contains("token_file"), "{err}");
}

#[test]
fn ctl_client_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("ctl.sock");
    let gw = Gateway::start(&config(dir.path(), None, &format!("[control]\nlisten = \"unix:{}\"", sock.display())));
    let connect = format!("unix:{}", sock.display());
    let ctl = |args: &[&str]| {
        let mut a = vec!["ctl", "--connect", &connect];
        a.extend_from_slice(args);
        let o = fhgate(&a);
        (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let wasm = translators().join("bfp_width.wasm");
    let (c, out, err) = ctl(&["load", "w2", wasm.to_str().unwrap(), "--config", "in_width=8,out_width=12"]);
    assert_eq!(c, Some(0), "{err}");
    assert!(out.starts_with("loaded w2 v1 (hash "), "{out}");
    let (c, out, err) = ctl(&["load", "up", wasm.to_str().unwrap(), "--config", "in_width=8,out_width=12", "--upload"]);
    assert_eq!(c, Some(0), "{err}");
    assert!(out.starts_with("loaded up v1"), "{out}");
    let (c, out, _) = ctl(&["swap", "0", "0", "w2"]);
    assert_eq!(c, Some(0));
    assert!(out.starts_with("chain 0 stage 0: w2 v1, "), "{out}");
    let (c, out, _) = ctl(&["--json", "config", "w2", "in_width=8,out_width=12"]);
    assert_eq!(c, Some(0));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["version"], 2);
    let (c, out, _) = ctl(&["rollback", "0", "0"]);
    assert_eq!((c, out.starts_with("chain 0 stage 0: w2 v1")), (Some(0), true), "{out}");
    let (c, out, _) = ctl(&["status"]);
    assert_eq!(c, Some(0));
    assert!(out.contains("stage 0: w2 v1 (rollbacks 1)"), "{out}");
    assert!(out.contains("translator up v1: bfp_width upload hash"), "{out}");
    let (c, out, _) = ctl(&["--json", "status"]);
    assert_eq!(c, Some(0));
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["chains"][0]["stages"][0]["translator"], "w2");
    let (c, _, err) = ctl(&["swap", "0", "0", "nope"]);
    assert_eq!(c, Some(1));
    assert!(err.contains("404") && err.contains("no translator named `nope`"), "{err}");
    let (st, _) = gw.stop();
    assert!(st.success(), "{st}");
}

#[test]
fn no_packet_lost_or_reordered_under_1000_reconfigurations_and_chain_changes() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("du.pcap");
    // One antenna, 24 PRBs, 16 frames per 0.5 ms slot for 20 s at recorded pace (1 000 calls take 3-4 s on
    // a quiet machine with canaries among them; at load 11 on 2 cores 687 calls fitted in 8 s, and
    // 682 in 12 s at load 13: the traffic must outlast the calls on a loaded CI machine).
    let o = fhgate(&["gen", "-o", input.to_str().unwrap(), "--prbs", "24", "--antennas", "1", "--comp", "bfp:8", "--eaxc-bits", "4,4,4,4", "--slots", "40000"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // References: the same run without any control call, with widen's
    // config and with mark's.
    let refs: Vec<Vec<Vec<u8>>> = references(&input).into_iter().map(|t| t.join().unwrap()).collect();
    let (reference, marked) = (&refs[0], &refs[1]);
    assert_eq!(reference.len(), frames(&input).len(), "the reference run forwards every frame");
    assert_eq!(marked.len(), reference.len(), "the marked reference run forwards every frame");
    // Frames whose origin shows: U-plane ones with an exponent above 0.
    let telling = (0..reference.len()).filter(|&i| reference[i] != marked[i]).count();
    assert!(telling * 2 > reference.len(), "only {telling} of {} frames tell widen's exponents from the input's", reference.len());
    // A second copy of the module: output-equivalent, loaded under another name.
    let copy = dir.path().join("bfp_width_copy.wasm");
    std::fs::copy(translators().join("bfp_width.wasm"), &copy).unwrap();
    let sock = dir.path().join("ctl.sock");
    let gw = Gateway::start(&config(dir.path(), Some(&input), &format!("[control]\nlisten = \"unix:{}\"", sock.display())));
    // The same deadline as `widen` in the file: a debug build on a loaded machine must not turn descheduling into deadline faults (whose policy forwards unchanged).
    let load = json!({ "name": "w2", "path": copy, "config": { "in_width": 8, "out_width": 12 }, "deadline_us": 200000 }).to_string();
    let (c, v) = gw.call("POST", "/v1/translators", load.as_bytes(), None);
    assert_eq!(c, 200, "{v}");
    // A visibly different one the profiles accept: `mark` declares what
    // widen declares and makes the same IQ, with the input's BFP exponents,
    // so each telling frame out says which of the two made it.
    let mark = json!({ "name": "mark", "path": translators().join("bfp_width.wasm"), "config": { "in_width": 8, "out_width": 12, "exponent": "input" }, "deadline_us": 200000 }).to_string();
    let (c, v) = gw.call("POST", "/v1/translators", mark.as_bytes(), None);
    assert_eq!(c, 200, "{v}");
    // `keep` converts UL only (BFP 8 -> 8): in front of or behind the DL stage it changes nothing, but it is a stage of its own.
    let keep = json!({ "name": "keep", "path": translators().join("bfp_width.wasm"), "config": { "in_width": 8, "out_width": 8, "direction": "ul" }, "deadline_us": 200000 }).to_string();
    let (c, v) = gw.call("POST", "/v1/translators", keep.as_bytes(), None);
    assert_eq!(c, 200, "{v}");
    let mut cutover = Vec::new();
    let mut ops = 0;
    let mut i = 0;
    let t_ops = Instant::now();
    while ops < 1000 {
        // Swaps, config changes, rollbacks, chain and stage additions, moves and removals, canary start and promote.
        let (method, path, body): (&str, &str, &[u8]) = match i % 14 {
            0 => ("POST", "/v1/chains/0/stages/0", br#"{"translator": "w2"}"#),
            1 => ("POST", "/v1/translators/w2/config", br#"{"config": {"in_width": 8, "out_width": 12}}"#),
            2 => ("POST", "/v1/chains/0/stages/0/rollback", b""),
            3 => ("POST", "/v1/chains/0/stages", br#"{"translator": "keep", "at": 0}"#),
            4 => ("POST", "/v1/chains/0/order", br#"{"order": [1, 0]}"#),
            5 => ("POST", "/v1/chains", br#"{"select": "dir=ul", "translators": ["keep"]}"#),
            6 | 7 => ("POST", "/v1/chains/order", br#"{"order": [1, 0]}"#),
            8 => ("DELETE", "/v1/chains/1", b""),
            9 => ("DELETE", "/v1/chains/0/stages/1", b""),
            10 => ("POST", "/v1/chains/0/stages/0", br#"{"translator": "mark"}"#),
            11 => ("POST", "/v1/chains/0/stages/0", br#"{"translator": "widen"}"#),
            // A canary of w2, then promoted: its shadow runs beside the active chain meanwhile.
            12 => ("POST", "/v1/canary", br#"{"translator": "w2", "chain": 0, "stage": 0, "sample": "1/16"}"#),
            _ => ("POST", "/v1/canary/promote", b""),
        };
        i += 1;
        let (c, v) = gw.call(method, path, body, None);
        assert_eq!(c, 200, "op {ops} {path}: {v}");
        if path == "/v1/canary" {
            assert_eq!(v["running"], true, "op {ops}: {v}");
            ops += 1;
            continue;
        }
        let cut = if v["cutover"].is_object() {
            v["cutover"].clone()
        } else if v["promoted"].is_object() {
            v["promoted"]["cutover"].clone()
        } else {
            v["stages"][0]["cutover"].clone()
        };
        assert!(cut["workers"].as_u64() == Some(1), "op {ops}: the traffic ended before 1000 reconfigurations (make the capture longer): {v}");
        if let Some(us) = cut["cutover_us"].as_u64() {
            cutover.push(us);
        }
        ops += 1;
    }
    let ops_s = t_ops.elapsed().as_secs_f64();
    // The capture plays to its end (a SIGINT would stop the input early).
    let (st, out) = gw.wait();
    assert!(st.success(), "{st}");
    let j: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let got = frames(&dir.path().join("ru_out.pcap"));
    assert_eq!(got.len(), reference.len(), "every frame exactly once ({out})");
    // In order, each frame byte for byte what widen makes of it (bfp_width
    // from either copy, any config version) or, while mark ran, what mark does.
    let first_diff = (0..got.len()).find(|&i| got[i] != reference[i] && got[i] != marked[i]);
    let through_mark = (0..got.len()).filter(|&i| got[i] == marked[i] && marked[i] != reference[i]).count();
    let through_widen = (0..got.len()).filter(|&i| got[i] == reference[i] && marked[i] != reference[i]).count();
    if let Some(i) = first_diff {
        let (a, b) = (&got[i], &reference[i]);
        let off = a.iter().zip(b.iter()).position(|(x, y)| x != y);
        let n = (0..got.len()).filter(|&i| got[i] != reference[i] && got[i] != marked[i]).count();
        panic!("frame {i} is neither what widen nor what mark makes of it ({n} frames are neither): lengths {} vs {}, first byte offset {off:?}: {:02x?} vs {:02x?}", a.len(), b.len(), &a[..a.len().min(64)], &b[..b.len().min(64)]);
    }
    assert!(through_mark > 0, "no burst ran on mark: the swaps to it did not happen");
    assert!(through_widen > 0, "no telling frame ran on widen");
    cutover.sort_unstable();
    let q = |p: f64| cutover[((cutover.len() - 1) as f64 * p) as usize];
    eprintln!(
        "control_api: {ops} reconfigurations under traffic in {:.1} s, {} frames out ({telling} telling: {through_mark} through mark, {through_widen} through widen); cut-over (call received → every worker on the new version) median {} µs, p90 {} µs, max {} µs over {} cut-overs; run json translators: {}",
        ops_s,
        got.len(),
        q(0.5),
        q(0.9),
        q(1.0),
        cutover.len(),
        j["translators"]
    );
    assert!(!cutover.is_empty());
}

#[test]
fn config_save_writes_what_runs_and_run_check_accepts_it() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("ctl.sock");
    let gw = Gateway::start(&config(dir.path(), None, &format!("[control]\nlisten = \"unix:{}\"", sock.display())));
    let copy = dir.path().join("bfp_width_copy.wasm");
    std::fs::copy(translators().join("bfp_width.wasm"), &copy).unwrap();
    let (c, _, err) = ctl_at(&sock, &["load", "w2", copy.to_str().unwrap(), "--config", "in_width=8,out_width=12", "--deadline-us", "5000"]);
    assert_eq!(c, Some(0), "{err}");
    let (c, _, err) = ctl_at(&sock, &["swap", "0", "0", "w2"]);
    assert_eq!(c, Some(0), "{err}");
    // A config change: a new version of w2 (same values in another spelling of the table).
    let (c, _, err) = ctl_at(&sock, &["config", "w2", "out_width=12,in_width=8"]);
    assert_eq!(c, Some(0), "{err}");
    let saved = dir.path().join("saved.toml");
    let (c, out, err) = ctl_at(&sock, &["config", "save", saved.to_str().unwrap()]);
    assert_eq!(c, Some(0), "{err}");
    assert_eq!(out.trim(), format!("saved {} (1 translators, 1 chains)", saved.display()));
    let text = std::fs::read_to_string(&saved).unwrap();
    // run --check accepts it and describes the same chain.
    let o = fhgate(&["run", "--check", "-c", saved.to_str().unwrap()]);
    assert!(o.status.success(), "run --check refused the saved file: {}\n{text}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("ok (1 translators, 1 chains)"), "{}", String::from_utf8_lossy(&o.stdout));
    let cfg = fhgate::config::GatewayConfig::from_toml(&text).unwrap();
    assert_eq!(cfg.chains.len(), 1);
    assert_eq!((cfg.chains[0].select.as_str(), cfg.chains[0].translators.clone()), ("dir=dl", vec!["w2".to_string()]));
    let t = &cfg.translators[0];
    assert_eq!((t.name.as_str(), t.path.as_path(), t.deadline), ("w2", copy.as_path(), Duration::from_micros(5000)));
    let mut pairs = t.config.clone();
    pairs.sort();
    assert_eq!(pairs, vec![("in_width".to_string(), "8".to_string()), ("out_width".to_string(), "12".to_string())]);
    // The rest of the start-up file is kept: the sides and the control API.
    let started = fhgate::config::GatewayConfig::from_toml(&std::fs::read_to_string(dir.path().join("gw.toml")).unwrap()).unwrap();
    assert_eq!((&cfg.du, &cfg.ru, &cfg.pipeline, &cfg.control), (&started.du, &started.ru, &started.pipeline, &started.control));
    // Never replaced unless forced.
    let (c, _, err) = ctl_at(&sock, &["config", "save", saved.to_str().unwrap()]);
    assert_eq!(c, Some(1));
    assert!(err.contains("409") && err.contains("exists; not replacing it"), "{err}");
    assert_eq!(std::fs::read_to_string(&saved).unwrap(), text, "the existing file is untouched");
    let (c, _, _) = ctl_at(&sock, &["swap", "0", "0", "widen"]);
    assert_eq!(c, Some(0));
    let (c, _, err) = ctl_at(&sock, &["config", "save", "--force", saved.to_str().unwrap()]);
    assert_eq!(c, Some(0), "{err}");
    let forced = fhgate::config::GatewayConfig::from_toml(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(forced.chains[0].translators, vec!["widen".to_string()]);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains(".tmp")).count(), 0);
    // A module uploaded through the API has no file to name: refused, saying so.
    let (c, _, err) = ctl_at(&sock, &["load", "up", copy.to_str().unwrap(), "--config", "in_width=8,out_width=12", "--upload"]);
    assert_eq!(c, Some(0), "{err}");
    let (c, _, _) = ctl_at(&sock, &["swap", "0", "0", "up"]);
    assert_eq!(c, Some(0));
    let other = dir.path().join("other.toml");
    let (c, _, err) = ctl_at(&sock, &["config", "save", other.to_str().unwrap()]);
    assert_eq!(c, Some(1));
    assert!(err.contains("409") && err.contains("translator up runs a module uploaded"), "{err}");
    assert!(!other.exists());
    let (st, _) = gw.stop();
    assert!(st.success(), "{st}");
}

fn chains_of(gw: &Gateway) -> Vec<(String, Vec<String>)> {
    let (c, v) = gw.call("GET", "/v1/status", b"", None);
    assert_eq!(c, 200, "{v}");
    v["chains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["select"].as_str().unwrap().to_string(), c["stages"].as_array().unwrap().iter().map(|s| format!("{} v{}", s["translator"].as_str().unwrap(), s["version"])).collect()))
        .collect()
}

#[test]
fn chains_and_stages_are_added_removed_and_reordered_and_bad_changes_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("ctl.sock");
    let gw = Gateway::start(&config(dir.path(), None, &format!("[control]\nlisten = \"unix:{}\"", sock.display())));
    // `keep`: BFP 8 -> 8 on UL, declared; on DL it declares nothing and changes nothing.
    let keep = json!({ "name": "keep", "path": translators().join("bfp_width.wasm"), "config": { "in_width": 8, "out_width": 8, "direction": "ul" } }).to_string();
    assert_eq!(gw.call("POST", "/v1/translators", keep.as_bytes(), None).0, 200);
    let noop = json!({ "name": "noop", "path": translators().join("noop.wasm") }).to_string();
    assert_eq!(gw.call("POST", "/v1/translators", noop.as_bytes(), None).0, 200);
    let s = |sel: &str, ts: &[&str]| (sel.to_string(), ts.iter().map(|t| t.to_string()).collect::<Vec<_>>());
    // A stage in front, then reordered, then removed.
    let (c, out, err) = ctl_at(&sock, &["chain", "add-stage", "0", "keep", "--at", "0"]);
    assert_eq!(c, Some(0), "{err}");
    assert!(out.starts_with("chain 0 (dir=dl): keep v1 -> widen v1\n"), "{out}");
    assert_eq!(chains_of(&gw), vec![s("dir=dl", &["keep v1", "widen v1"])]);
    let (c, _, err) = ctl_at(&sock, &["chain", "order-stages", "0", "1,0"]);
    assert_eq!(c, Some(0), "{err}");
    assert_eq!(chains_of(&gw), vec![s("dir=dl", &["widen v1", "keep v1"])]);
    // The kept stage keeps its rollback history through the moves.
    assert_eq!(gw.call("POST", "/v1/chains/0/stages/1", br#"{"translator": "widen"}"#, None).0, 200);
    let (c, _, err) = ctl_at(&sock, &["chain", "order-stages", "0", "1,0"]);
    assert_eq!(c, Some(0), "{err}");
    let (c, v) = gw.call("POST", "/v1/chains/0/stages/0/rollback", b"", None);
    assert_eq!((c, v["translator"].as_str()), (200, Some("keep")), "{v}");
    let (c, _, err) = ctl_at(&sock, &["chain", "remove-stage", "0", "0"]);
    assert_eq!(c, Some(0), "{err}");
    assert_eq!(chains_of(&gw), vec![s("dir=dl", &["widen v1"])]);
    // A UL chain: keep changes nothing, so the profiles still hold.
    let (c, _, err) = ctl_at(&sock, &["chain", "add", "dir=ul", "keep"]);
    assert_eq!(c, Some(0), "{err}");
    let (c, _, err) = ctl_at(&sock, &["chain", "order", "1,0"]);
    assert_eq!(c, Some(0), "{err}");
    assert_eq!(chains_of(&gw), vec![s("dir=ul", &["keep v1"]), s("dir=dl", &["widen v1"])]);
    let before = chains_of(&gw);
    // Refusals; each leaves the chains as they were.
    let refused = |method: &str, path: &str, body: &str, code: u16, says: &str| {
        let (c, v) = gw.call(method, path, body.as_bytes(), None);
        assert_eq!(c, code, "{method} {path} {body}: {v}");
        assert!(v["error"].as_str().unwrap().contains(says), "{method} {path} {body}: {v}");
        assert_eq!(chains_of(&gw), before, "{method} {path} {body} changed the chains");
    };
    // bfp_width 8 -> 12 on UL: the DU side takes BFP 8 UL (the profile check of run --check).
    refused("POST", "/v1/chains/0/stages", r#"{"translator": "widen"}"#, 409, "refused");
    refused("POST", "/v1/chains", r#"{"select": "dir=dl,eaxc=1", "translators": ["keep"]}"#, 409, "would never match");
    // noop declares no effects: egress could no longer rely on a declared UL format.
    refused("POST", "/v1/chains/0/stages", r#"{"translator": "noop"}"#, 409, "egress format");
    refused("POST", "/v1/chains", r#"{"select": "dir=up", "translators": ["keep"]}"#, 400, "select");
    refused("POST", "/v1/chains", r#"{"select": "dir=dl", "translators": []}"#, 400, "at least one translator");
    refused("POST", "/v1/chains", r#"{"select": "plane=c", "translators": ["nope"]}"#, 404, "no translator named `nope`");
    refused("POST", "/v1/chains/order", r#"{"order": [0, 0]}"#, 400, "given twice");
    refused("POST", "/v1/chains/order", r#"{"order": [0]}"#, 400, "1 entries for 2 chains");
    refused("POST", "/v1/chains/1/order", r#"{"order": [1]}"#, 400, "not one of the 1 stages");
    refused("DELETE", "/v1/chains/1/stages/0", "", 409, "only stage");
    refused("DELETE", "/v1/chains/7", "", 404, "there are 2 chains");
    refused("POST", "/v1/chains", r#"{"select": "plane=c", "translators": ["keep"], "at": 9}"#, 400, "at: 9");
    refused("POST", "/v1/chains", r#"{"select": 3}"#, 400, "translators");
    // Without the DL chain, DL would leave at BFP 8 where the RU takes 12: refused.
    refused("DELETE", "/v1/chains/1", "", 409, "RU profile wants bfp:12");
    let (c, _, err) = ctl_at(&sock, &["chain", "remove", "0"]);
    assert_eq!(c, Some(0), "{err}");
    assert_eq!(chains_of(&gw), vec![s("dir=dl", &["widen v1"])]);
    let (st, _) = gw.stop();
    assert!(st.success(), "{st}");
}

fn wait_for_versions(gw: &Gateway, name: &str, n: usize) -> Vec<(String, u64, bool)> {
    let t = Instant::now();
    loop {
        let (got, stages) = versions_and_stages(gw, name);
        if got >= n {
            assert_eq!(got, n, "{name}: more versions than reloads");
            return stages;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "{name}: {got} versions after 30 s, expected {n}: {:?}", gw.stderr.lock().unwrap());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sighup_reloads_and_api_calls_go_one_way_and_never_mix() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("ctl.sock");
    let cfg = config(dir.path(), None, &format!("[control]\nlisten = \"unix:{}\"", sock.display()));
    let gw = Gateway::start(&cfg);
    let copy = dir.path().join("bfp_width_copy.wasm");
    std::fs::copy(translators().join("bfp_width.wasm"), &copy).unwrap();
    let load = json!({ "name": "w2", "path": copy, "config": { "in_width": 8, "out_width": 12 } }).to_string();
    assert_eq!(gw.call("POST", "/v1/translators", load.as_bytes(), None).0, 200);
    let tables = ["{ in_width = 8, out_width = 12, direction = \"dl\" }", "{ in_width = 8, out_width = 12 }"];
    // The API moved the stage to w2: a reload of widen makes a new version
    // of widen but leaves the stage on w2, on every worker (DL and UL).
    assert_eq!(gw.call("POST", "/v1/chains/0/stages/0", br#"{"translator": "w2"}"#, None).0, 200);
    edit_and_hangup(&gw, &cfg, tables[0]);
    assert_eq!(wait_for_versions(&gw, "widen", 2), vec![("w2".to_string(), 1, true)]);
    // Back on widen, the next reload cuts the stage over to widen's new version.
    let (c, v) = gw.call("POST", "/v1/chains/0/stages/0/rollback", b"", None);
    assert_eq!((c, v["translator"].as_str(), v["version"].as_u64()), (200, Some("widen"), Some(1)), "{v}");
    edit_and_hangup(&gw, &cfg, tables[1]);
    assert_eq!(wait_for_versions(&gw, "widen", 3), vec![("widen".to_string(), 3, true)]);
    // Both at once: API swaps from one thread, file edits and SIGHUPs from
    // another. Every status on the way, and the end, is one picture: what
    // the record says runs is what every worker was sent.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hups = {
        let (stop, cfg, pid) = (stop.clone(), cfg.clone(), gw.child.id());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let text = std::fs::read_to_string(&cfg).unwrap();
                let next = if text.contains("direction") { tables[1] } else { tables[0] };
                let start = text.find("config = {").unwrap();
                let end = start + text[start..].find('\n').unwrap();
                let tmp = cfg.with_extension("tmp");
                std::fs::write(&tmp, format!("{}config = {next}{}", &text[..start], &text[end..])).unwrap();
                std::fs::rename(&tmp, &cfg).unwrap();
                unsafe { libc::kill(pid as i32, libc::SIGHUP) };
                n += 1;
                std::thread::sleep(Duration::from_millis(150));
            }
            n
        })
    };
    for i in 0..30 {
        let to = if i % 2 == 0 { "w2" } else { "widen" };
        let (c, v) = gw.call("POST", "/v1/chains/0/stages/0", format!("{{\"translator\": \"{to}\"}}").as_bytes(), None);
        assert_eq!(c, 200, "{v}");
        let (_, stages) = versions_and_stages(&gw, "widen");
        assert!(stages.iter().all(|s| s.2), "swap {i}: the record and the workers disagree: {stages:?}");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let edits = hups.join().unwrap();
    // Let the last SIGHUP be served, then check once more.
    std::thread::sleep(Duration::from_millis(500));
    let (versions, stages) = versions_and_stages(&gw, "widen");
    assert!(stages.iter().all(|s| s.2), "{stages:?}");
    assert!(versions > 3 && versions <= 3 + edits, "{versions} versions of widen after {edits} edits");
    let (st, _) = gw.stop();
    assert!(st.success(), "{st}");
}
