//! `fhgate run -c gw.toml` with capture-file ports: the shipped example
//! configuration runs end to end (DL and UL C-plane from the DU side, UL
//! U-plane from the RU side), every frame and flow is accounted for and
//! the IQ is what was sent; bad configurations are refused with the key
//! at fault.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

#[path = "support/cli.rs"]
mod cli;
use cli::{fhgate, repo};

fn example(dir: &Path) -> String {
    let st = Command::new(repo().join("scripts/build-translators"))
        .current_dir(repo())
        .status()
        .unwrap();
    assert!(st.success());
    let text = std::fs::read_to_string(repo().join("gateway/gw.example.toml")).unwrap();
    text.replace(
        "target/gw-du-side.pcap",
        dir.join("du.pcap").to_str().unwrap(),
    )
    .replace(
        "target/gw-ru-side.pcap",
        dir.join("ru.pcap").to_str().unwrap(),
    )
    // A free port per test run.
    .replace("127.0.0.1:9100", "127.0.0.1:0")
    // Deadlines are wall-clock: a loaded CI machine must not turn
    // descheduling into deadline faults (whose policy forwards unchanged).
    .replace("deadline_us = 1000", "deadline_us = 200000")
    .replace("name = \"remap\"", "name = \"remap\"\ndeadline_us = 200000")
}

/// Frames per (message type, ecpriPcid/Rtcid, dataDirection), read from
/// the bytes of an untagged eCPRI capture.
fn flows_of(path: &Path) -> BTreeMap<(u8, u16, u8), u64> {
    let mut m = BTreeMap::new();
    for f in fhgate::io::pcap::read_all(path).unwrap() {
        let d = &f.data;
        assert_eq!(
            u16::from_be_bytes([d[12], d[13]]),
            0xAEFE,
            "untagged eCPRI only"
        );
        *m.entry((d[15], u16::from_be_bytes([d[18], d[19]]), d[22] >> 7))
            .or_default() += 1;
    }
    m
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
    let input = repo().join("captures/du_100mhz_4ant_bfp8_mtu1500.pcap");
    let ru = dir.path().join("ru.pcap");
    let flows_in = flows_of(&input);
    // 4 antennas x (DL U-plane, DL C-plane, UL C-plane).
    assert_eq!(flows_in.len(), 12, "{flows_in:?}");
    let frames_in: u64 = flows_in.values().sum();
    assert_eq!(r["frames_in"].as_u64(), Some(frames_in), "{r}");
    let written = fhgate::io::pcap::read_all(&ru).unwrap().len() as u64;
    assert_eq!(r["frames_out"].as_u64(), Some(written), "{r}");
    // Widened to 12 bits, the 1500-byte U-plane frames are split again:
    // more frames out, C-plane one for one.
    let flows_out = flows_of(&ru);
    assert_eq!(flows_out.len(), 12, "{flows_out:?}");
    for ((t, eaxc, dir), n) in &flows_in {
        // eaxc_remap 4/4/4/4 -> 2/6/4/4: DU port 1 moves to the top two bits.
        let remapped = 0x4000 | (eaxc & 0x000F);
        assert_eq!(eaxc & 0xFFF0, 0x1000);
        let out = flows_out[&(*t, remapped, *dir)];
        if *t == 2 {
            assert_eq!(out, *n, "C-plane flow {eaxc:#06x}");
        } else {
            assert!(out > *n, "U-plane flow {eaxc:#06x}: {out} <= {n}");
        }
    }
    let json_flows = r["flows"].as_array().unwrap();
    let sum = |k: &str| {
        json_flows
            .iter()
            .map(|f| f[k].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(
        (sum("packets_in"), sum("packets_out")),
        (frames_in, written),
        "{r}"
    );
    // The translators' own counters are in the summary.
    let t = r["translators"].as_array().unwrap();
    let widen = t
        .iter()
        .find(|x| x["chain"] == 0 && x["stage"] == 0)
        .unwrap();
    assert!(
        widen["counters"]["converted_sections"].as_u64().unwrap() > 0,
        "{widen}"
    );
    assert_eq!(r["translators_disabled"], serde_json::json!([]));
    // IQ: exactly what the DU sent (8 -> 12 bit is lossless), every PRB there.
    let o = cli::diff_widened(&input, &ru);
    assert!(
        o.status.success(),
        "diff: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    let d: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(d["iq_differs"], false);
    let dflows = d["flows"].as_array().unwrap();
    assert_eq!(dflows.len(), 12);
    for f in dflows {
        assert_eq!(
            (f["missing"].as_u64(), f["extra"].as_u64()),
            (Some(0), Some(0)),
            "{f}"
        );
        if f["plane"] == "U" {
            assert_eq!(
                (f["iq"]["exact"].as_bool(), f["matched"].as_u64()),
                (Some(true), Some(3 * 14 * 273)),
                "{f}"
            );
        }
    }
    let o = fhgate(&[
        "inspect",
        ru.to_str().unwrap(),
        "--json",
        "--eaxc-bits",
        "2,6,4,4",
        "--dl-comp",
        "bfp:12",
        "--ul-comp",
        "bfp:12",
    ]);
    assert!(o.status.success());
    let last: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(last["summary"]["error_frames"], 0);
}

/// UL U-plane from the RU side (2/6/4/4, BFP 12) through the UL chain of
/// the testbed configuration's translators (bfp_width 12 -> 8, eaxc_remap
/// back to 4/4/4/4): every frame arrives at the DU side, in the DU's
/// layout and width, with the IQ within the narrowing's error.
#[test]
fn ul_uplane_runs_from_the_ru_side_to_the_du_side() {
    let dir = tempfile::tempdir().unwrap();
    let ru_in = dir.path().join("ru_in.pcap");
    let o = fhgate(&[
        "gen",
        "-o",
        ru_in.to_str().unwrap(),
        "--side",
        "ru",
        "--prbs",
        "273",
        "--antennas",
        "4",
        "--comp",
        "bfp:12",
        "--eaxc-bits",
        "2,6,4,4",
        "--du-port",
        "1",
        "--slots",
        "2",
        "--mtu",
        "1500",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let base = example(dir.path()).replace(
        "input = \"captures/du_100mhz_4ant_bfp8_mtu1500.pcap\"\n",
        "",
    );
    let (du_part, ru_part) = base.split_once("[ru]").unwrap();
    // The example's own UL chain (narrow: bfp_width 12 -> 8, then
    // remap's inverse), which `run` checks against [du] before it starts.
    let text = format!("{du_part}[ru]{}", ru_part.replacen("backend = \"pcap\"\n", &format!("backend = \"pcap\"\ninput = \"{}\"\n", ru_in.display()), 1))
        .replace("name = \"narrow\"", "name = \"narrow\"\ndeadline_us = 200000");
    assert!(text.contains("select = \"dir=ul,plane=u\""), "{text}");
    // Only the RU side has an input: the DU side's `input` line is gone, the RU side got one.
    assert_eq!(text.matches("input = ").count(), 1, "{text}");
    let cfg = dir.path().join("gw.toml");
    std::fs::write(&cfg, &text).unwrap();
    let o = fhgate(&["run", "-c", cfg.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(r["egress_errors"].as_object().unwrap().is_empty(), "{r}");
    let du = dir.path().join("du.pcap");
    let (fin, fout) = (flows_of(&ru_in), flows_of(&du));
    assert_eq!(fin.len(), 4, "4 antennas, UL U-plane: {fin:?}");
    assert_eq!(fout.len(), 4, "{fout:?}");
    for ((t, eaxc, dir), n) in &fin {
        assert_eq!((*t, *dir, eaxc & 0xFFF0), (0, 0, 0x4000));
        // Back to 4/4/4/4: DU port 1 in the top four bits.
        assert_eq!(
            fout[&(0, 0x1000 | (eaxc & 0xF), 0)],
            *n,
            "flow {eaxc:#06x}: every frame arrives"
        );
    }
    let frames: u64 = fin.values().sum();
    assert_eq!(
        (r["frames_in"].as_u64(), r["frames_out"].as_u64()),
        (Some(frames), Some(frames)),
        "{r}"
    );
    let o = fhgate(&[
        "sink",
        "--input",
        du.to_str().unwrap(),
        "--eaxc-bits",
        "4,4,4,4",
        "--ul-comp",
        "bfp:8",
        "--dl-comp",
        "bfp:8",
        "--comp-hdr",
        "present",
        "--signal-comp",
        "bfp:12",
        "--max-evm",
        "2",
        "--json",
    ]);
    let s: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().last().unwrap()).unwrap();
    assert!(o.status.success(), "sink: {s}");
    assert_eq!(s["frames"].as_u64(), Some(frames), "{s}");
    assert_eq!(s["invalid"], 0, "{s}");
    assert_eq!(
        s["compression"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        vec!["bfp:8"],
        "{s}"
    );
    assert!(
        s["iq"]["prbs"].as_u64().unwrap() >= 4 * 2 * 14 * 273,
        "every PRB's IQ checked: {s}"
    );
    assert!(s["iq"]["evm_pct"].as_f64().unwrap() < 2.0, "{s}");
}

#[test]
fn bad_configs_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let good = example(dir.path());
    for (from, to, key) in [
        ("dl_comp = \"bfp:12\"", "dl_comp = \"bfp:20\"", "ru.dl_comp"),
        (
            "translators = [\"widen\", \"remap\"]",
            "translators = [\"widen\", \"nope\"]",
            "chain[0].translators[1]",
        ),
        (
            "backend = \"pcap\"\noutput = ",
            "backend = \"af_xdp\"\noutput = ",
            "ru.interface",
        ),
    ] {
        let cfg = dir.path().join("bad.toml");
        std::fs::write(&cfg, good.replacen(from, to, 1)).unwrap();
        let o = fhgate(&["run", "-c", cfg.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2));
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains(key), "{key}: {e}");
    }
}

/// The README's "On site" configuration is valid as shipped: every table
/// it shows ([passthrough], [ptp], [timing], [owd], [metrics]) is accepted.
#[test]
fn the_site_config_of_the_readme_checks() {
    let o = fhgate(&["run", "-c", "gateway/gw.site.toml", "--check"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}{}", String::from_utf8_lossy(&o.stdout));
    assert!(format!("{}{err}", String::from_utf8_lossy(&o.stdout)).contains("gateway/gw.site.toml: ok (0 translators, 0 chains)"), "{err}");
}

/// A capture a run wrote may be the only record of a site's traffic: a
/// second run into the same output refuses before it starts (and
/// `--check` says so), naming the key and `--force`, and leaves the file
/// byte for byte; `--force` replaces it.
#[test]
fn a_run_never_replaces_an_existing_capture_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("gw.toml");
    std::fs::write(&cfg, example(dir.path())).unwrap();
    let ru = dir.path().join("ru.pcap");
    std::fs::write(&ru, b"yesterday's capture").unwrap();
    for extra in [&[][..], &["--check"][..]] {
        let o = fhgate(&[&["run", "-c", cfg.to_str().unwrap()][..], extra].concat());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{extra:?}: {err}");
        assert!(err.contains("ru.output") && err.contains("exists") && err.contains("--force"), "{extra:?}: {err}");
        assert_eq!(std::fs::read(&ru).unwrap(), b"yesterday's capture");
    }
    // The DU side's capture was not created either: nothing ran.
    assert!(!dir.path().join("du.pcap").exists());
    let o = fhgate(&["run", "-c", cfg.to_str().unwrap(), "--force"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!fhgate::io::pcap::read_all(&ru).unwrap().is_empty());
}
