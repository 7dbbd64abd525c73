//! `fhgate run -c gw.toml` with capture-file ports: the shipped example
//! configuration runs end to end, and bad configurations are refused with
//! the key at fault.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn fhgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fhgate")).args(args).current_dir(repo()).output().expect("fhgate runs")
}

fn example(dir: &Path) -> String {
    let st = Command::new(repo().join("scripts/build-translators")).current_dir(repo()).status().unwrap();
    assert!(st.success());
    let text = std::fs::read_to_string(repo().join("gateway/gw.example.toml")).unwrap();
    text.replace("target/gw-du-side.pcap", dir.join("du.pcap").to_str().unwrap())
        .replace("target/gw-ru-side.pcap", dir.join("ru.pcap").to_str().unwrap())
        // A free port per test run.
        .replace("127.0.0.1:9100", "127.0.0.1:0")
        // Deadlines are wall-clock: a loaded CI machine must not turn
        // descheduling into deadline faults (whose policy forwards unchanged).
        .replace("deadline_us = 1000", "deadline_us = 200000")
        .replace("name = \"remap\"", "name = \"remap\"\ndeadline_us = 200000")
}

#[test]
fn example_config_runs_both_translators_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("gw.toml");
    std::fs::write(&cfg, example(dir.path())).unwrap();
    let o = fhgate(&["run", "-c", cfg.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(r["egress_errors"].as_object().unwrap().is_empty());
    let ru = dir.path().join("ru.pcap");
    let o = fhgate(&["inspect", ru.to_str().unwrap(), "--json", "--eaxc-bits", "2,6,4,4", "--dl-comp", "bfp:12", "--ul-comp", "bfp:12"]);
    assert!(o.status.success());
    let last: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().last().unwrap()).unwrap();
    let s = &last["summary"];
    assert_eq!(s["error_frames"], 0);
    for f in s["flows"].as_array().unwrap() {
        // Remapped to 2/6/4/4: DU port 1 is 0x4000 + RU port.
        assert_eq!(f["eaxc"].as_u64().unwrap() & 0xFFF0, 0x4000, "{f}");
        assert_eq!(f["compression"].as_object().unwrap().keys().collect::<Vec<_>>(), vec!["bfp:12"], "{f}");
        assert_eq!(f["seq_gaps"], 0, "{f}");
    }
}

#[test]
fn bad_configs_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let good = example(dir.path());
    for (from, to, key) in [
        ("dl_comp = \"bfp:12\"", "dl_comp = \"bfp:20\"", "ru.dl_comp"),
        ("translators = [\"widen\", \"remap\"]", "translators = [\"widen\", \"nope\"]", "chain[0].translators[1]"),
        ("backend = \"pcap\"\noutput = ", "backend = \"af_xdp\"\noutput = ", "ru.interface"),
    ] {
        let cfg = dir.path().join("bad.toml");
        std::fs::write(&cfg, good.replacen(from, to, 1)).unwrap();
        let o = fhgate(&["run", "-c", cfg.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2));
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains(key), "{key}: {e}");
    }
}
