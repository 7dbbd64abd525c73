//! Canary (shadow) translators through `fhgate run`'s control API and
//! `fhgate ctl`: a candidate with a deliberate error (bfp_width 9 -> 8
//! beside the active 9 -> 12) is reported with the field that differs
//! and the IQ error, the EVM checked against a reference computed here
//! from the two chains' own outputs by the spec oracle (not by the
//! gateway's diff); an identical candidate is reported as identical and
//! promoted without a frame lost; bad canary calls get a 4xx naming the
//! field, and every canary call is audited.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[path = "support/cli.rs"]
mod cli;
use cli::{fhgate, translators};

#[path = "support/gateway.rs"]
#[allow(dead_code)]
mod gateway;
use gateway::Gateway;

#[path = "support/bfp_oracle.rs"]
#[allow(dead_code)]
mod bfp_oracle;

const SIDE_DU: &str = "eaxc_bits = \"4,4,4,4\"\ncarrier_prbs = 24\nnumerology = 1\ndl_comp = \"bfp:9\"\nul_comp = \"bfp:9\"\ncomp_hdr = \"present\"\nmtu = 1500\n";
const SIDE_RU: &str = "eaxc_bits = \"4,4,4,4\"\ncarrier_prbs = 24\nnumerology = 1\ndl_comp = \"bfp:12\"\nul_comp = \"bfp:9\"\ncomp_hdr = \"present\"\nmtu = 1500\n";

/// One DL chain running `widen` (bfp_width 9 -> `out`), from a capture
/// (played at its recorded pace) or between idle UDP ports.
fn config(dir: &Path, input: Option<&Path>, out: u8, control: &str) -> PathBuf {
    let sides = match input {
        Some(i) => format!(
            "[du]\nbackend = \"pcap\"\ninput = \"{}\"\noutput = \"{}\"\n{SIDE_DU}\n[ru]\nbackend = \"pcap\"\noutput = \"{}\"\n{}",
            i.display(),
            dir.join("du_out.pcap").display(),
            dir.join("ru_out.pcap").display(),
            SIDE_RU.replace("bfp:12", &format!("bfp:{out}"))
        ),
        None => format!("[du]\nbackend = \"udp\"\nbind = \"127.0.0.1:0\"\npeer = \"127.0.0.1:9\"\n{SIDE_DU}\n[ru]\nbackend = \"udp\"\nbind = \"127.0.0.1:0\"\npeer = \"127.0.0.1:9\"\n{SIDE_RU}"),
    };
    let text = format!(
        "{sides}\n[[translator]]\nname = \"widen\"\npath = \"{}\"\nconfig = {{ in_width = 9, out_width = {out} }}\ndeadline_us = 200000\n\n[[chain]]\nselect = \"dir=dl\"\ntranslators = [\"widen\"]\n\n[pipeline]\nworkers = 1\nburst = 32\n\n{control}\n",
        translators().join("bfp_width.wasm").display()
    );
    let p = dir.join("gw.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// gen's DL traffic to `input`: one antenna, 24 PRBs at BFP 9, 16 frames
/// per 0.5 ms slot (`slots` / 2000 s at recorded pace).
fn gen(input: &Path, slots: u32) {
    let o = fhgate(&["gen", "-o", input.to_str().unwrap(), "--prbs", "24", "--antennas", "1", "--comp", "bfp:9", "--eaxc-bits", "4,4,4,4", "--slots", &slots.to_string()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn frames(p: &Path) -> Vec<Vec<u8>> {
    fhgate::io::pcap::read_all(p).unwrap().into_iter().map(|f| f.data).collect()
}

/// `ctl --json` against the socket: exit code and the reply.
fn ctl(sock: &Path, args: &[&str]) -> (Option<i32>, Value, String) {
    let connect = format!("unix:{}", sock.display());
    let mut a = vec!["ctl", "--connect", &connect, "--json"];
    a.extend_from_slice(args);
    let o = fhgate(&a);
    let v = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (o.status.code(), v, String::from_utf8_lossy(&o.stderr).into_owned())
}

/// Polls canary status until `enough` packets were compared.
fn compared(sock: &Path, enough: u64) -> Value {
    let t = Instant::now();
    loop {
        let (code, v, err) = ctl(sock, &["canary", "status"]);
        assert_eq!(code, Some(0), "{err}");
        if v["compared"].as_u64().unwrap_or(0) >= enough {
            return v;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "the canary compared too little: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_wrong_candidate_is_named_with_its_field_and_evm_and_an_identical_one_is_clean_and_promoted() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("du.pcap");
    // One antenna, 24 PRBs, 16 frames per 0.5 ms slot, 5 s at recorded pace.
    gen(&input, 10000);

    // The reference: each chain's output over the whole capture, and the
    // EVM of the 8-bit one against the 12-bit one by the spec oracle.
    let mut refs = Vec::new();
    for out in [12u8, 8] {
        let d = dir.path().join(format!("ref{out}"));
        std::fs::create_dir(&d).unwrap();
        let o = fhgate(&["run", "-c", config(&d, Some(&input), out, "").to_str().unwrap()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        refs.push(d.join("ru_out.pcap"));
    }
    let eaxc = *bfp_oracle::oracle_decode(&refs[0]).keys().next().map(|k| &k.0).unwrap();
    let oracle_evm = bfp_oracle::evm_db(&refs[0], &refs[1], eaxc);
    assert!(oracle_evm.is_finite() && oracle_evm < -10.0, "9 -> 8 bits loses something: {oracle_evm}");

    let sock = dir.path().join("ctl.sock");
    let audit = dir.path().join("audit.log");
    let gw = Gateway::start(&config(dir.path(), Some(&input), 12, &format!("[control]\nlisten = \"unix:{}\"\naudit_log = \"{}\"", sock.display(), audit.display())));

    // 1. The wrong candidate: widen's config at 9 -> 8, every packet sampled.
    // The RU profile takes 12 bits, so it could never be promoted: refused,
    // unless only the comparison is wanted.
    let wrong = ["canary", "start", "widen", "--config", "in_width=9,out_width=8", "--sample", "1/1", "--promote-when", "fields<=udCompHdrWidth,packets>=100"];
    let (code, _, err) = ctl(&sock, &wrong);
    assert_eq!(code, Some(1));
    assert!(err.contains("409") && err.contains("dl_comp: chain gives bfp:8, RU profile wants bfp:12") && err.contains("compare_only"), "{err}");
    let (code, v, err) = ctl(&sock, &[&wrong[..], &["--compare-only"]].concat());
    assert_eq!(code, Some(0), "{err} {v}");
    assert_eq!((v["running"].as_bool(), v["promotable"].as_bool()), (Some(true), Some(false)), "{v}");
    let st = compared(&sock, 200);
    assert!(st["fields_differing"].as_array().unwrap().iter().any(|f| f == "oran_fh_cus.udCompHdrWidth"), "{st}");
    let u = st["flows"].as_array().unwrap().iter().find(|f| f["plane"] == "u" && f["eaxc"] == eaxc).unwrap_or_else(|| panic!("no U-plane flow {eaxc}: {st}")).clone();
    let w = u["fields"].as_array().unwrap().iter().find(|f| f["field"] == "oran_fh_cus.udCompHdrWidth").unwrap().clone();
    assert_eq!((w["active"].as_str(), w["candidate"].as_str()), (Some("12"), Some("8")), "{u}");
    let evm = u["iq"]["evm_db"].as_f64().unwrap_or_else(|| panic!("no EVM: {u}"));
    assert!((evm - oracle_evm).abs() < 1.0, "canary EVM {evm:.2} dB, the oracle's over the whole capture {oracle_evm:.2} dB");
    assert_eq!((st["faults"]["candidate"].as_u64(), st["verdict_mismatches"].as_u64()), (Some(0), Some(0)), "{st}");
    // The field is allowed, the IQ error is not (no evm clause): abort is the verdict.
    assert_eq!(st["decision"]["verdict"], "abort", "{st}");
    assert!(st["decision"]["why"].as_str().unwrap().starts_with("evm:"), "{st}");
    // Metrics show it too.
    let (code, m) = gw.call("GET", "/metrics", b"", None);
    let m = m.as_str().unwrap_or_default().to_string();
    assert_eq!(code, 200);
    assert!(m.contains("fhgate_canary_running 1") && m.contains("field=\"oran_fh_cus.udCompHdrWidth\"") && m.contains("fhgate_canary_evm_db{"), "{m}");
    // A second canary while one runs is refused.
    let (code, _, err) = ctl(&sock, &["canary", "start", "widen", "--at", "0,0"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("409") && err.contains("canary: one is running"), "{err}");
    let (code, v, err) = ctl(&sock, &["canary", "abort"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(v["canary"]["outcome"].as_str().unwrap().starts_with("aborted"), "{v}");
    let (_, st, _) = ctl(&sock, &["status"]);
    assert_eq!((st["chains"][0]["stages"][0]["translator"].as_str(), st["chains"][0]["stages"][0]["version"].as_u64()), (Some("widen"), Some(1)), "abort leaves the active chain: {st}");

    // 2. An identical candidate (the same module under another name, same config).
    let load = json!({ "name": "w2", "path": translators().join("bfp_width.wasm"), "config": { "in_width": 9, "out_width": 12 }, "deadline_us": 200000 }).to_string();
    assert_eq!(gw.call("POST", "/v1/translators", load.as_bytes(), None).0, 200);
    let (code, v, err) = ctl(&sock, &["canary", "start", "w2", "--at", "0,0", "--sample", "1/2", "--promote-when", "packets>=100"]);
    assert_eq!(code, Some(0), "{err} {v}");
    let st = compared(&sock, 200);
    assert_eq!(st["fields_differing"], json!([]), "{st}");
    for f in st["flows"].as_array().unwrap() {
        assert!(f["iq"]["evm_db"].is_null() && f["iq"]["exact"] == true && f["missing"] == 0 && f["extra"] == 0, "{f}");
    }
    assert!(st["flows"].as_array().unwrap().iter().any(|f| f["plane"] == "u" && f["iq"]["prbs"].as_u64() > Some(0)), "{st}");
    assert_eq!(st["decision"]["verdict"], "promote", "{st}");
    let (code, v, err) = ctl(&sock, &["canary", "promote"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(v["canary"]["outcome"].as_str().unwrap().starts_with("promoted"), "{v}");
    let (_, st, _) = ctl(&sock, &["status"]);
    assert_eq!(st["chains"][0]["stages"][0]["translator"], "w2", "{st}");
    assert_eq!(st["canary"]["running"], false);

    // Every frame once, in order, as the 12-bit reference run made it.
    assert!(gw.wait().0.success());
    let (got, want) = (frames(&dir.path().join("ru_out.pcap")), frames(&refs[0]));
    assert_eq!(got.len(), want.len(), "every frame exactly once");
    assert!(got == want, "the output is byte for byte the reference's, canaries and promotion notwithstanding");
    let log = std::fs::read_to_string(&audit).unwrap();
    for a in ["canary start", "canary abort", "canary promote"] {
        assert!(log.lines().any(|l| l.contains(a)), "{a} is not in the audit log: {log}");
    }
}

#[test]
fn bad_canary_calls_get_4xx_naming_the_field_and_need_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "tok\n").unwrap();
    let gw = Gateway::start(&config(dir.path(), None, 12, &format!("[control]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"{}\"", token.display())));
    let t = Some("tok");
    let start = |b: &str, tok| gw.call("POST", "/v1/canary", b.as_bytes(), tok);
    let ok = r#"{"translator": "widen", "chain": 0, "stage": 0, "promote_when": "packets>=10"}"#;
    assert_eq!(start(ok, None).0, 401);
    for (body, code, field) in [
        (r#"{"translator": "nope", "chain": 0, "stage": 0}"#, 404, "`nope`"),
        (r#"{"translator": "widen", "chain": 5, "stage": 0}"#, 404, "chain 5"),
        (r#"{"translator": "widen", "chain": 0, "stage": 3}"#, 404, "chain 0 stage 3"),
        (r#"{"translator": "widen", "chain": 0, "stage": 0, "promote_when": "evm<=loud"}"#, 400, "promote_when.evm:"),
        (r#"{"translator": "widen", "chain": 0, "stage": 0, "promote_when": "speed>=3"}"#, 400, "promote_when.speed:"),
        (r#"{"translator": "widen", "chain": 0, "stage": 0, "sample": "half"}"#, 400, "sample:"),
        (r#"{"translator": "widen", "config": {"in_width": 9, "out_width": 99}}"#, 409, "config:"),
    ] {
        let (c, v) = start(body, t);
        assert_eq!(c, code, "{body}: {v}");
        assert!(v["error"].as_str().unwrap().contains(field), "{body}: {v}");
    }
    let (c, v) = start(ok, t);
    assert_eq!(c, 200, "{v}");
    let (c, v) = start(ok, t);
    assert_eq!(c, 409, "{v}");
    assert_eq!(gw.call("POST", "/v1/canary/promote", b"", None).0, 401);
    assert_eq!(gw.call("POST", "/v1/canary/abort", b"", t).0, 200);
    let (c, v) = gw.call("POST", "/v1/canary/abort", b"", t);
    assert_eq!(c, 409, "nothing to abort: {v}");
    assert_eq!(gw.call("POST", "/v1/canary/promote", b"", t).0, 409);
}

#[test]
fn auto_promotes_a_candidate_that_meets_the_criteria_and_aborts_one_that_cannot() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.log");
    let sock = dir.path().join("ctl.sock");
    let input = dir.path().join("du.pcap");
    gen(&input, 8000);
    let _gw = Gateway::start(&config(dir.path(), Some(&input), 12, &format!("[control]\nlisten = \"unix:{}\"\naudit_log = \"{}\"", sock.display(), audit.display())));
    let ended = |outcome: &str| {
        let t = Instant::now();
        loop {
            let (_, v, _) = ctl(&sock, &["canary", "status"]);
            if v["running"] == false {
                let last = v["last"].clone();
                assert!(last["outcome"].as_str().unwrap_or("").starts_with(outcome), "{v}");
                return last;
            }
            assert!(t.elapsed() < Duration::from_secs(30), "the auto canary never decided: {v}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    // A candidate whose width differs where only the IQ may differ: aborted
    // at the first compared packet, without waiting for 10 000. (9 -> 14
    // is a width the RU profile does not take: it can only be compared.)
    let wider = ["canary", "start", "widen", "--config", "in_width=9,out_width=14", "--sample", "1/1", "--compare-only", "--auto"];
    let (code, _, err) = ctl(&sock, &[&wider[..], &["--promote-when", "evm<=-200"]].concat());
    assert_eq!(code, Some(0), "{err}");
    let last = ended("aborted (auto: fields: oran_fh_cus.udCompHdrWidth differs (12 -> 14)");
    assert!(last["compared"].as_u64().unwrap() < 10_000, "{last}");
    let (_, st, _) = ctl(&sock, &["status"]);
    assert_eq!((st["chains"][0]["stages"][0]["translator"].as_str(), st["chains"][0]["stages"][0]["version"].as_u64()), (Some("widen"), Some(1)), "{st}");
    // The same with the field allowed (9 -> 14 carries 9 bits exactly): the
    // criteria hold once 300 packets agree, but the profiles refuse the
    // promotion (409), so it is aborted and widen v1 runs on.
    let (code, _, err) = ctl(&sock, &[&wider[..], &["--promote-when", "fields<=udCompHdrWidth,packets>=300"]].concat());
    assert_eq!(code, Some(0), "{err}");
    let last = ended("aborted (auto: promotion refused)");
    assert!(last["compared"].as_u64().unwrap() >= 300, "{last}");
    let (_, st, _) = ctl(&sock, &["status"]);
    assert_eq!((st["chains"][0]["stages"][0]["translator"].as_str(), st["chains"][0]["stages"][0]["version"].as_u64()), (Some("widen"), Some(1)), "{st}");
    // A candidate the profiles accept (the input's exponents: other bytes,
    // the same IQ): promoted once 300 packets agree.
    let (code, _, err) = ctl(&sock, &["canary", "start", "widen", "--config", "in_width=9,out_width=12,exponent=\"input\"", "--sample", "1/1", "--promote-when", "fields<=udCompHdrWidth,evm<=-200,packets>=300", "--auto"]);
    assert_eq!(code, Some(0), "{err}");
    let last = ended("promoted (auto");
    assert!(last["compared"].as_u64().unwrap() >= 300, "{last}");
    let (_, st, _) = ctl(&sock, &["status"]);
    assert_eq!((st["chains"][0]["stages"][0]["translator"].as_str(), st["chains"][0]["stages"][0]["version"].as_u64()), (Some("widen"), Some(2)), "promoted as a config change: {st}");
    let log = std::fs::read_to_string(&audit).unwrap();
    let auto: Vec<&str> = log.lines().filter(|l| l.contains("canary (auto)")).collect();
    assert_eq!(auto.len(), 4, "{log}");
    assert!(auto[0].contains("canary abort") && auto[1].contains("canary promote") && auto[2].contains("canary abort") && auto[3].contains("canary promote"), "{log}");
    assert!(auto[1].contains("409") && auto[1].contains("RU profile wants bfp:12"), "the refused promotion and why: {}", auto[1]);
    assert!(auto[3].contains("200 ok"), "{}", auto[3]);
}

/// Every U-plane PRB's udIqWidth in a capture, by the spec decoder.
fn widths(p: &Path) -> std::collections::BTreeMap<usize, usize> {
    let mut n = std::collections::BTreeMap::new();
    bfp_oracle::walk_prbs(p, None, |_, _, w, _| *n.entry(w).or_default() += 1);
    n
}

#[test]
fn promote_cuts_over_exactly_what_the_canary_compared_not_what_was_loaded_since() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("du.pcap");
    // 10 s at recorded pace: room for two canaries and their promotions.
    gen(&input, 20000);
    let sock = dir.path().join("ctl.sock");
    let gw = Gateway::start(&config(dir.path(), Some(&input), 12, &format!("[control]\nlisten = \"unix:{}\"", sock.display())));
    let load = |out: u8, deadline_us: u32| {
        let b = json!({ "name": "w2", "path": translators().join("bfp_width.wasm"), "config": { "in_width": 9, "out_width": out }, "deadline_us": deadline_us }).to_string();
        let (c, v) = gw.call("POST", "/v1/translators", b.as_bytes(), None);
        assert_eq!(c, 200, "{v}");
    };

    // 1. A swap canary of w2 (9 -> 12, as the active chain) with no version
    // given; then w2 v2 (9 -> 8) is loaded, never compared.
    load(12, 200_000);
    let (code, v, err) = ctl(&sock, &["canary", "start", "w2", "--at", "0,0", "--sample", "1/1", "--promote-when", "packets>=100"]);
    assert_eq!(code, Some(0), "{err} {v}");
    assert_eq!(v["candidate"]["version"], 1, "the version compared is named: {v}");
    assert_eq!(compared(&sock, 100)["decision"]["verdict"], "promote");
    load(8, 200_000);
    let (code, v, err) = ctl(&sock, &["canary", "promote"]);
    assert_eq!(code, Some(0), "{err} {v}");
    assert_eq!(v["promoted"]["version"], 1, "{v}");
    let (_, st, _) = ctl(&sock, &["status"]);
    let stage = &st["chains"][0]["stages"][0];
    assert_eq!((stage["translator"].as_str(), stage["version"].as_u64()), (Some("w2"), Some(1)), "the compared 9 -> 12, not the later 9 -> 8: {st}");

    // 2. A config canary of w2 (9 -> 12 on w2 v2's module and 200 ms
    // deadline); then w2 v3 with a 10 us deadline is loaded, never compared.
    let (code, v, err) = ctl(&sock, &["canary", "start", "w2", "--config", "in_width=9,out_width=12", "--sample", "1/1", "--promote-when", "packets>=100"]);
    assert_eq!(code, Some(0), "{err} {v}");
    assert_eq!(v["candidate"]["base_version"], 2, "{v}");
    assert_eq!(compared(&sock, 100)["decision"]["verdict"], "promote");
    load(8, 10);
    let (code, v, err) = ctl(&sock, &["canary", "promote"]);
    assert_eq!(code, Some(0), "{err} {v}");
    let (_, st, _) = ctl(&sock, &["status"]);
    let stage = &st["chains"][0]["stages"][0];
    assert_eq!((stage["translator"].as_str(), stage["version"].as_u64()), (Some("w2"), Some(4)), "{st}");
    let w2 = st["translators"].as_array().unwrap().iter().find(|t| t["name"] == "w2").unwrap();
    let v4 = &w2["versions"][3];
    assert_eq!((v4["config"]["out_width"].as_str(), v4["deadline_us"].as_u64()), (Some("12"), Some(200_000)), "the compared config and limits, not v3's 10 us: {w2}");
    std::thread::sleep(Duration::from_millis(500));
    let (_, st, _) = ctl(&sock, &["status"]);
    let c = &st["chains"][0]["stages"][0]["counters"];
    assert_eq!((c["disabled"].as_u64(), c["faults"].as_u64()), (Some(0), Some(0)), "{st}");

    // What left: every U-plane PRB at 12 bits, none at 8 (or 9: a disabled stage's pass).
    assert!(gw.wait().0.success());
    let w = widths(&dir.path().join("ru_out.pcap"));
    assert_eq!(w.keys().copied().collect::<Vec<_>>(), vec![12], "udIqWidth of the PRBs sent (width: count): {w:?}");
}

/// A translator that never returns: every call ends at its deadline, a fault.
const SPIN_WAT: &str = r#"(module
  (memory (export "memory") 34)
  (func (export "fhgate_abi_version") (result i32) (i32.const 2))
  (func (export "fhgate_io") (result i32) (i32.const 65536))
  (func (export "fhgate_init") (param i32 i32) (result i32) (i32.const 0))
  (func (export "fhgate_process") (param $n i32) (result i32)
    (loop $forever (br $forever))
    (local.get $n))
  (@custom "fhgate.meta" "name=spin\nversion=1.0.0\nplanes=any\ndirections=any\ntypes=any\n"))
"#;

#[test]
fn a_looping_candidates_faults_show_per_copy_and_abort_waits_one_copy_and_counts_it() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("du.pcap");
    gen(&input, 12000);
    let sock = dir.path().join("ctl.sock");
    let gw = Gateway::start(&config(dir.path(), Some(&input), 12, &format!("[control]\nlisten = \"unix:{}\"", sock.display())));
    let spin = dir.path().join("spin.wat");
    std::fs::write(&spin, SPIN_WAT).unwrap();
    // Each copy takes the candidate's whole 1 s deadline; 5 faults in 10 s disable it.
    let b = json!({ "name": "spin", "path": spin, "deadline_us": 1_000_000 }).to_string();
    let (c, v) = gw.call("POST", "/v1/translators", b.as_bytes(), None);
    assert_eq!(c, 200, "{v}");
    // spin declares no effects, so the profiles would refuse its promotion:
    // refused at start unless only the comparison is wanted.
    let (c, v) = gw.call("POST", "/v1/canary", br#"{"translator": "spin", "chain": 0, "stage": 0, "sample": "1/1"}"#, None);
    assert_eq!(c, 409, "{v}");
    assert!(v["error"].as_str().unwrap().contains("egress format (DL declared, now unknown"), "{v}");
    let (c, v) = gw.call("POST", "/v1/canary", br#"{"translator": "spin", "chain": 0, "stage": 0, "sample": "1/1", "compare_only": true}"#, None);
    assert_eq!(c, 200, "{v}");
    // The tally is published per copy: the first fault shows while the
    // candidate is still faulting, not after a batch (5 faults disable it).
    let t = Instant::now();
    let seen = loop {
        let (_, v) = gw.call("GET", "/v1/canary", b"", None);
        if v["compared"].as_u64().unwrap_or(0) >= 1 {
            break v;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "nothing compared: {v}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let (compared, faults) = (seen["compared"].as_u64().unwrap(), seen["faults"]["candidate"].as_u64().unwrap());
    assert!(faults == compared && faults < 5, "every copy faulted, and showed before the fault limit: {seen}");
    assert_eq!(seen["decision"]["verdict"], "abort", "{seen}");
    // Abort stops the shadow after its copy in flight (at most its deadline), and the outcome counts that copy.
    let t = Instant::now();
    let (c, v) = gw.call("POST", "/v1/canary/abort", b"", None);
    let took = t.elapsed();
    assert_eq!(c, 200, "{v}");
    assert!(took < Duration::from_secs(5), "abort blocked the control API {took:?} (one copy is at most 1 s of epoch ticks; the wait is bounded at 2 x 1.2 s + 1 s)");
    let last = &v["canary"];
    assert!(last["faults"]["candidate"].as_u64().unwrap() > faults, "the outcome is taken after the join, with the copy in flight: {faults} before, {last}");
    assert_eq!(last["shadow_note"], Value::Null, "{last}");
    let (_, st) = gw.call("GET", "/v1/status", b"", None);
    let stage = &st["chains"][0]["stages"][0];
    assert_eq!((stage["translator"].as_str(), stage["counters"]["faults"].as_u64()), (Some("widen"), Some(0)), "the live stage is untouched: {st}");
    // The shadow's faults are logged as the canary's copy, not as live faults.
    let err = gw.stderr.lock().unwrap().clone();
    let spin: Vec<&String> = err.iter().filter(|l| l.contains("translator=\"spin\"")).collect();
    assert!(!spin.is_empty(), "no log line about spin's faults: {err:?}");
    for l in spin {
        assert!(l.contains("canary shadow copy (candidate chains) only, live traffic is unaffected: fault"), "{l}");
    }
}

/// The cores this process may run on, from the kernel's own list
/// (`Cpus_allowed_list` in /proc, e.g. `0-1,4`).
fn cpus_allowed(status: &str) -> Vec<usize> {
    let list = status.lines().find_map(|l| l.strip_prefix("Cpus_allowed_list:")).expect("Cpus_allowed_list").trim();
    list.split(',')
        .flat_map(|r| match r.split_once('-') {
            Some((a, b)) => (a.parse().unwrap()..=b.parse().unwrap()).collect::<Vec<usize>>(),
            None => vec![r.parse().unwrap()],
        })
        .collect()
}

#[test]
fn the_shadow_thread_runs_on_control_canary_cores_and_an_unusable_core_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let available = cpus_allowed(&std::fs::read_to_string("/proc/self/status").unwrap());
    let core = *available.last().unwrap();
    let gw = Gateway::start(&config(dir.path(), None, 12, &format!("[control]\nlisten = \"127.0.0.1:0\"\ncanary_cores = [{core}]")));
    let (c, v) = gw.call("POST", "/v1/canary", br#"{"translator": "widen", "chain": 0, "stage": 0}"#, None);
    assert_eq!(c, 200, "{v}");
    // The kernel's view of the gateway's threads, not the gateway's.
    let tasks = Path::new("/proc").join(gw.child.id().to_string()).join("task");
    let shadow: Vec<PathBuf> = std::fs::read_dir(&tasks).unwrap().map(|e| e.unwrap().path()).filter(|t| std::fs::read_to_string(t.join("comm")).is_ok_and(|c| c.trim() == "fhgate-canary")).collect();
    assert_eq!(shadow.len(), 1, "one fhgate-canary thread in {}", tasks.display());
    assert_eq!(cpus_allowed(&std::fs::read_to_string(shadow[0].join("status")).unwrap()), vec![core], "the shadow thread may run only on core {core}");
    assert_eq!(gw.call("POST", "/v1/canary/abort", b"", None).0, 200);
    drop(gw);

    // A core the process may not run on is refused before anything starts, naming the key.
    let cfg = config(dir.path(), None, 12, "[control]\nlisten = \"127.0.0.1:0\"\ncanary_cores = [1000]");
    let o = fhgate(&["run", "-c", cfg.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("control.canary_cores[0]") && err.contains("core 1000"), "{err}");
}
