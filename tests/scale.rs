//! Issue 16 §1: many workers, and where they run. Workers 1, 2 and 4 give
//! the same frames per flow (byte for byte, in order, timestamps never
//! going backwards) on every shipped capture, with and without
//! translators; each direction gets its own cores, a core that cannot be
//! had stops `run` with the core named, and `pin = "best-effort"` carries
//! on and says so. The flow of a frame is read from its bytes
//! (support/flows.rs), not by the gateway's classifier.

use std::path::{Path, PathBuf};

use fhgate::io::pcap::{read_all, Captured};

#[path = "support/cli.rs"]
mod cli;
use cli::{fhgate, repo, s, text, translators, widen_and_remap, write};
#[path = "support/flows.rs"]
mod flows;
use flows::{assert_monotonic, assert_same_per_flow, padded};

/// Every shipped capture and its decode flags, from captures/MANIFEST.
fn shipped() -> Vec<(PathBuf, Vec<String>)> {
    let m = std::fs::read_to_string(repo().join("captures/MANIFEST")).unwrap();
    let v: Vec<(PathBuf, Vec<String>)> = m
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let file = l.split_whitespace().next().unwrap();
            let decode = l.split_once(" -- ").expect("FILE GEN-FLAGS -- DECODE-FLAGS").1;
            (repo().join("captures").join(file), decode.split_whitespace().map(String::from).collect())
        })
        .collect();
    assert!(v.len() >= 7, "captures/MANIFEST lists the shipped captures: {v:?}");
    v
}

/// `fhgate replay` of `input` into `out` with `args`; the frames written.
fn replay(input: &Path, out: &Path, args: &[&str]) -> Vec<Captured> {
    let mut a = vec!["replay", s(input), "-o", s(out)];
    a.extend_from_slice(args);
    let o = fhgate(&a);
    assert!(o.status.success(), "replay {args:?}: {}", text(&o.stderr));
    read_all(out).unwrap()
}

/// Pass-through: one worker sends every capture as it came (padded to
/// 60 bytes), and 2 and 4 workers send the same frames per flow.
#[test]
fn workers_1_2_and_4_give_the_same_frames_per_flow_on_every_shipped_capture() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.pcap");
    for (capture, decode) in shipped() {
        let name = capture.file_name().unwrap().to_string_lossy().into_owned();
        let input = padded(&read_all(&capture).unwrap());
        let decode: Vec<&str> = decode.iter().map(String::as_str).collect();
        for workers in ["1", "2", "4"] {
            let got = replay(&capture, &out, &[&decode[..], &["--workers", workers]].concat());
            let what = format!("{name}, --workers {workers}");
            assert_monotonic(&got, &what);
            assert_eq!(got.len(), input.len(), "{what}: frames out");
            assert_same_per_flow(&got, &input, &what);
            if workers == "1" {
                let same = got.iter().zip(&input).all(|(g, w)| g.data == w.data && g.timestamp == w.timestamp);
                assert!(same, "{what}: one worker keeps every frame's place and timestamp");
            }
        }
    }
}

/// Through translators (bfp_width 8 → 12 and eaxc_remap, each worker
/// with instances of its own) and egress splits at a 1 500-byte MTU
/// (sequence IDs renumbered per flow): 2 and 4 workers send, per flow,
/// exactly what one worker sends.
#[test]
fn workers_1_2_and_4_translate_to_the_same_frames_per_flow() {
    let t = translators();
    let [bfp, remap] = widen_and_remap(&t);
    let dir = tempfile::tempdir().unwrap();
    let capture = repo().join("captures/du_100mhz_4ant_bfp8_mtu1500.pcap");
    let mut outputs = Vec::new();
    for workers in ["1", "2", "4"] {
        let out = dir.path().join(format!("w{workers}.pcap"));
        let args = [
            "--mtu", "1500", "--dl-comp", "bfp:8", "--ul-comp", "bfp:8", "--egress-dl-comp", "bfp:12", "--egress-ul-comp", "bfp:12",
            "--translator", &bfp, "--translator", &remap, "--workers", workers,
        ];
        let got = replay(&capture, &out, &args);
        assert_monotonic(&got, &format!("--workers {workers}"));
        outputs.push(got);
    }
    // BFP 12 does not fit 1 500 bytes where BFP 8 did: egress splits.
    assert!(outputs[0].len() > read_all(&capture).unwrap().len(), "one worker: every frame out, some split ({})", outputs[0].len());
    assert!(outputs[0].iter().zip(read_all(&capture).unwrap()).any(|(a, b)| a.data != b.data), "the translators changed the frames");
    for (i, w) in [(1, "2"), (2, "4")] {
        assert_same_per_flow(&outputs[i], &outputs[0], &format!("--workers {w} against 1"));
    }
}

/// A capture-to-capture config with two workers per direction and `pipeline`
/// as the `[pipeline]` tables' text.
fn config(dir: &Path, pipeline: &str) -> PathBuf {
    let body = format!(
        r#"
[du]
backend = "pcap"
input = "{input}"
carrier_prbs = 51
dl_comp = "bfp:9"
ul_comp = "bfp:9"

[ru]
backend = "pcap"
output = "{out}"
carrier_prbs = 51
dl_comp = "bfp:9"
ul_comp = "bfp:9"

[pipeline]
workers = 2
{pipeline}
"#,
        input = repo().join("captures/du_20mhz_2ant_bfp9_vlan_prach.pcap").display(),
        out = dir.join("ru.pcap").display(),
    );
    write(dir, "gw.toml", &body)
}

#[test]
fn a_core_that_does_not_exist_stops_run_with_the_core_named() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "[pipeline.dl]\nworker_cores = [0, 1000]\n");
    let o = fhgate(&["run", "-c", s(&cfg)]);
    let err = text(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("pipeline.dl.worker_cores[1]") && err.contains("core 1000"), "{err}");
    assert!(!dir.path().join("ru.pcap").exists(), "nothing written");
    // The RX and TX threads' cores are checked too.
    let cfg = config(dir.path(), "[pipeline.ul]\ntx_cores = [1000]\n");
    let err = text(&fhgate(&["run", "-c", s(&cfg)]).stderr);
    assert!(err.contains("pipeline.ul.tx_cores[0]") && err.contains("core 1000"), "{err}");
}

#[test]
fn best_effort_pinning_carries_on_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "pin = \"best-effort\"\n[pipeline.dl]\nworker_cores = [0, 1000]\nrx_cores = [0]\ntx_cores = [1001]\n");
    let o = fhgate(&["run", "-c", s(&cfg), "--json"]);
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("dl worker 1: cannot pin to core 1000") && err.contains("best-effort"), "{err}");
    assert!(err.contains("dl TX thread: cannot pin to core 1001"), "{err}");
    assert!(!err.contains("dl worker 0: cannot") && !err.contains("dl RX thread: cannot"), "cores 0 exists: {err}");
    let input = read_all(&repo().join("captures/du_20mhz_2ant_bfp9_vlan_prach.pcap")).unwrap();
    assert_same_per_flow(&read_all(&dir.path().join("ru.pcap")).unwrap(), &padded(&input), "best-effort run");
}

/// `pin`, the core tables and `polling` are validated with the key named.
#[test]
fn pin_and_core_keys_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    for (pipeline, key, why) in [
        ("pin = \"loose\"\n", "pipeline.pin", "strict or best-effort"),
        ("cores = [0]\n[pipeline.dl]\nworker_cores = [0, 1]\n", "pipeline.cores", "not both"),
        ("[pipeline.dl]\nworker_cores = [0]\n", "pipeline.dl.worker_cores", "one per worker"),
        ("polling = \"lazy\"\n", "pipeline.polling", "busy, adaptive or interrupt"),
        ("polling = \"busy\"\nsleep_after_us = 50\n", "pipeline.sleep_after_us", "only adaptive"),
        ("sleep_after_us = 0\n", "pipeline.sleep_after_us", "outside 1-1000000"),
    ] {
        let err = text(&fhgate(&["run", "-c", s(&config(dir.path(), pipeline))]).stderr);
        assert!(err.contains(key) && err.contains(why), "{pipeline}: {err}");
    }
    let cfg = config(dir.path(), "").to_string_lossy().into_owned();
    let one = std::fs::read_to_string(&cfg).unwrap().replace("workers = 2", "workers = 1\n[pipeline.dl]\nrx_cores = [0]");
    std::fs::write(&cfg, one).unwrap();
    let err = text(&fhgate(&["run", "-c", &cfg]).stderr);
    assert!(err.contains("pipeline.dl.rx_cores") && err.contains("run to completion"), "{err}");
}
