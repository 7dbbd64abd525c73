//! `fhgate timing` on captures `fhgate gen --advance-us` writes: the
//! generator's settings are the oracle, and so is a plain reading of the
//! capture here (its own pcap walk and OTA arithmetic from the spec,
//! neither `ecpri` nor the gateway's timing code).

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

#[path = "support/cli.rs"]
mod cli;
use cli::fhgate;

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

fn gen(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let p = dir.join(name);
    let mut args = vec!["gen", "-o", p.to_str().unwrap(), "--prbs", "51", "--antennas", "2"];
    args.extend_from_slice(extra);
    if !extra.contains(&"--slots") {
        args.extend_from_slice(&["--slots", "40"]);
    }
    ok(fhgate(&args));
    p
}

fn timing(p: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["timing", p.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    serde_json::from_slice(&ok(fhgate(&args)).stdout).unwrap()
}

/// The plain reference: each eCPRI C/U-plane frame's (message type,
/// dataDirection, arrival − OTA in ns), OTA from GPS = UTC + 18 s since
/// 1980-01-06, frames of 10 ms numbered from the GPS epoch (frameId mod
/// 256), symbols slot/14 apart.
fn reference_offsets(path: &Path, mu: u32) -> Vec<(u8, u8, i64)> {
    let b = std::fs::read(path).unwrap();
    assert_eq!(u32::from_le_bytes(b[..4].try_into().unwrap()), 0xA1B2_3C4D, "gen writes ns pcap");
    let mut at = 24;
    let mut out = Vec::new();
    while at + 16 <= b.len() {
        let sec = u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as i128;
        let ns = u32::from_le_bytes(b[at + 4..at + 8].try_into().unwrap()) as i128;
        let len = u32::from_le_bytes(b[at + 8..at + 12].try_into().unwrap()) as usize;
        let f = &b[at + 16..at + 16 + len];
        at += 16 + len;
        assert_eq!(&f[12..14], &[0xAE, 0xFE]);
        let (ty, h) = (f[15], &f[22..26]);
        let gps = (sec - 315_964_800 + 18) * 1_000_000_000 + ns;
        let period = 2_560_000_000i128;
        let slot = 1_000_000 >> mu;
        let (sf, sl, sy) = ((h[2] >> 4) as i128, (((h[2] & 0xF) << 2) | (h[3] >> 6)) as i128, (h[3] & 0x3F) as i128);
        let ota = h[1] as i128 * 10_000_000 + sf * 1_000_000 + sl * slot + sy * slot / 14;
        let mut d = gps.rem_euclid(period) - ota;
        if d >= period / 2 {
            d -= period;
        } else if d < -period / 2 {
            d += period;
        }
        out.push((ty, h[0] >> 7, d as i64));
    }
    out
}

fn flow<'a>(r: &'a Value, dir: &str, plane: &str, eaxc: u64) -> &'a Value {
    r["flows"].as_array().unwrap().iter().find(|f| f["direction"] == dir && f["plane"] == plane && f["eaxc"] == eaxc).unwrap_or_else(|| panic!("no {dir} {plane} {eaxc} in {r}"))
}

#[test]
fn du_offsets_are_the_generators_advance_to_the_ns() {
    let dir = tempfile::tempdir().unwrap();
    let p = gen(dir.path(), "du.pcap", &["--advance-us", "120", "--cp-advance-us", "400"]);
    // The reference agrees with gen's settings on every frame.
    let refs = reference_offsets(&p, 1);
    assert_eq!(refs.len(), 40 * 2 * (2 + 14));
    for (ty, _, d) in &refs {
        assert_eq!(*d, if *ty == 2 { -400_000 } else { -120_000 });
    }
    let r = timing(&p, &["--t1a-up", "100,150", "--t1a-cp-dl", "300,350", "--margin-us", "7"]);
    assert_eq!(r["timed"], 1280);
    assert_eq!(r["gps_aligned"], true);
    for eaxc in [0, 1] {
        let u = flow(&r, "DL", "U", eaxc);
        assert_eq!(u["messages"], 560);
        for q in ["min", "p1", "p50", "p99", "max"] {
            assert_eq!(u["offset_ns"][q], -120_000, "{q}");
        }
        assert_eq!(u["classes"], serde_json::json!({"early": 0, "on_time": 560, "late": 0}));
        assert_eq!(u["fitting"], serde_json::json!({"min_us": 113, "max_us": 127}));
        let c = flow(&r, "DL", "C", eaxc);
        assert_eq!(c["offset_ns"]["p50"], -400_000);
        assert_eq!(c["classes"], serde_json::json!({"early": 40, "on_time": 0, "late": 0}), "400 µs ahead of a 300-350 window");
        assert_eq!(flow(&r, "UL", "C", eaxc)["classes"], Value::Null, "no t1a_cp_ul given");
        let ctu = r["c_to_u"].as_array().unwrap().iter().find(|c| c["direction"] == "DL" && c["eaxc"] == eaxc).unwrap();
        assert_eq!((ctu["slots"].as_u64(), ctu["u_before_c"].as_u64()), (Some(40), Some(0)));
        assert_eq!(ctu["advance_ns"]["min"], 280_000);
        assert_eq!(ctu["advance_ns"]["max"], 280_000);
    }
    assert!(r["warnings"].as_array().unwrap().is_empty(), "{}", r["warnings"]);
}

#[test]
fn every_class_and_the_broken_time_signature() {
    let dir = tempfile::tempdir().unwrap();
    // T1a_up 100-300 µs: 500 ahead is early, 200 on time, -50 (after OTA) late.
    for (adv, class) in [("500", "early"), ("200", "on_time"), ("-50", "late")] {
        let p = gen(dir.path(), &format!("du{adv}.pcap"), &["--advance-us", adv]);
        let r = timing(&p, &["--t1a-up", "100,300"]);
        let u = flow(&r, "DL", "U", 0);
        let mut want = serde_json::json!({"early": 0, "on_time": 0, "late": 0});
        want[class] = 560.into();
        assert_eq!(u["classes"], want, "advance {adv}");
        let d = reference_offsets(&p, 1).iter().find(|x| x.0 == 0).unwrap().2;
        assert_eq!(u["offset_ns"]["min"], d);
    }
    // One capture with all three, as a DU on a broken clock would send.
    let mixed = dir.path().join("mixed.pcap");
    let mut frames = Vec::new();
    for adv in ["500", "200", "-50"] {
        frames.extend(fhgate::io::pcap::read_all(&dir.path().join(format!("du{adv}.pcap"))).unwrap());
    }
    frames.sort_by_key(|f| f.timestamp);
    let (mut out, commit) = fhgate::io::pcap::PcapOut::create(&mixed, fhgate::io::output::Existing::Replace).unwrap();
    for f in &frames {
        out.write(f.timestamp, &f.data).unwrap();
    }
    drop(out);
    commit.commit().unwrap();
    let r = timing(&mixed, &["--t1a-up", "100,300"]);
    assert_eq!(flow(&r, "DL", "U", 0)["classes"], serde_json::json!({"early": 560, "on_time": 560, "late": 560}));
    let w = r["warnings"].to_string();
    assert!(w.contains("DL U-plane eAxC 0x0000: early, on time and late all at once"), "{w}");
}

#[test]
fn ru_side_uses_ta4_after_ota() {
    let dir = tempfile::tempdir().unwrap();
    let p = gen(dir.path(), "ru.pcap", &["--side", "ru", "--advance-us", "-80", "--numerology", "0"]);
    for (_, d, off) in reference_offsets(&p, 0) {
        assert_eq!((d, off), (0, 80_000));
    }
    let r = timing(&p, &["--numerology", "0", "--ta4", "50,70", "--margin-us", "0"]);
    let u = flow(&r, "UL", "U", 0);
    assert_eq!(u["window"], "ta4");
    assert_eq!(u["offset_ns"]["max"], 80_000);
    assert_eq!(u["classes"]["late"], 560);
    assert_eq!(u["fitting"], serde_json::json!({"min_us": 80, "max_us": 80}));
}

#[test]
fn u_plane_before_c_plane_is_found_and_measured() {
    let dir = tempfile::tempdir().unwrap();
    let p = gen(dir.path(), "ubc.pcap", &["--advance-us", "200", "--cp-advance-us", "150"]);
    let r = timing(&p, &[]);
    let ctu = &r["c_to_u"][0];
    assert_eq!((ctu["slots"].as_u64(), ctu["u_before_c"].as_u64()), (Some(40), Some(40)));
    assert_eq!(ctu["advance_ns"]["p50"], -50_000);
    assert!(r["warnings"].to_string().contains("U-plane ahead of its C-plane"));
    // Text form says the same.
    let text = String::from_utf8(ok(fhgate(&["timing", p.to_str().unwrap()])).stdout).unwrap();
    assert!(text.contains("40 slots, U-plane first in 40; min -50.000 p50 -50.000 max -50.000 µs"), "{text}");
}

#[test]
fn a_capture_off_gps_gives_relative_figures_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    // gen's frames on a grid 0.53 s off GPS (gpsBeta 53 frames), read as plain GPS.
    let p = gen(dir.path(), "off.pcap", &["--advance-us", "120", "--cp-advance-us", "400", "--gps-beta", "53"]);
    let r = timing(&p, &[]);
    assert_eq!(r["gps_aligned"], false);
    assert!(r["warnings"][0].as_str().unwrap().contains("not GPS-aligned"), "{}", r["warnings"]);
    assert_eq!(flow(&r, "DL", "U", 0)["spread_ns"], 0);
    assert_eq!(r["c_to_u"][0]["advance_ns"]["p50"], 280_000);
    // Told the offset, it is aligned again.
    let r = timing(&p, &["--gps-beta", "53"]);
    assert_eq!(r["gps_aligned"], true);
    assert_eq!(flow(&r, "DL", "U", 0)["offset_ns"]["p50"], -120_000);
}

#[test]
fn bad_input_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = gen(dir.path(), "du.pcap", &["--advance-us", "100", "--slots", "1"]);
    let o = fhgate(&["timing", p.to_str().unwrap(), "--t1a-up", "300,100"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("MIN 300 is above MAX 100"), "{}", String::from_utf8_lossy(&o.stderr));
    let o = fhgate(&["timing", p.to_str().unwrap(), "--t1a-up", "1"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("expected MIN,MAX"));
    // A frame cut inside its eCPRI header, another with slotId 3 at µ 1.
    let mut frames = fhgate::io::pcap::read_all(&p).unwrap();
    frames[0].data.truncate(20);
    frames[0].orig_len = 20;
    // slotId's high four bits are byte 24's low nibble, its low two bits byte 25's top.
    frames[1].data[24] &= 0xF0;
    frames[1].data[25] = (frames[1].data[25] & 0x3F) | 0xC0;
    let bad = dir.path().join("bad.pcap");
    let (mut out, commit) = fhgate::io::pcap::PcapOut::create(&bad, fhgate::io::output::Existing::Replace).unwrap();
    for f in &frames {
        out.write(f.timestamp, &f.data).unwrap();
    }
    drop(out);
    commit.commit().unwrap();
    let r = timing(&bad, &[]);
    assert_eq!(r["malformed"]["ecpri.size"], serde_json::json!([1, 16]));
    assert_eq!(r["out_of_range"]["oran_fh_cus.slotId 3 is outside 0-1 at numerology 1"], 1);
    assert_eq!(r["timed"].as_u64().unwrap(), frames.len() as u64 - 2);
}

/// Writes `frames` (time-ordered) to `path`.
fn write(path: &Path, frames: &[fhgate::io::pcap::Captured]) {
    let (mut out, commit) = fhgate::io::pcap::PcapOut::create(path, fhgate::io::output::Existing::Replace).unwrap();
    for f in frames {
        out.write(f.timestamp, &f.data).unwrap();
    }
    drop(out);
    commit.commit().unwrap();
}

/// A pcap-to-pcap gateway for gen's DU stream, with `[timing]` windows:
/// T1a_up 100-300 µs and T1a_cp_dl 300-500 µs for what enters from the DU.
fn run_config(dir: &Path, input: &Path) -> PathBuf {
    let cfg = dir.join("gw.toml");
    let text = format!(
        "[du]\nbackend = \"pcap\"\ninput = \"{}\"\noutput = \"{}\"\ncarrier_prbs = 51\ndl_comp = \"bfp:9\"\nul_comp = \"bfp:9\"\n\
         [ru]\nbackend = \"pcap\"\noutput = \"{}\"\ncarrier_prbs = 51\ndl_comp = \"bfp:9\"\nul_comp = \"bfp:9\"\n\
         [timing]\nutc_offset_s = 37\n[timing.du]\nt1a_min_up = 100\nt1a_max_up = 300\nt1a_min_cp_dl = 300\nt1a_max_cp_dl = 500\n",
        input.display(),
        dir.join("du-out.pcap").display(),
        dir.join("ru-out.pcap").display()
    );
    std::fs::write(&cfg, text).unwrap();
    cfg
}

#[test]
fn run_counts_each_class_from_the_ports_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    // Capture ports hand the pipeline the capture's timestamps, so the
    // counters follow gen's advances exactly: U-plane 500 µs ahead (early),
    // 200 (on time), -50 (late); C-plane always 400 µs ahead (on time).
    let mut frames = Vec::new();
    for adv in ["500", "200", "-50"] {
        let p = gen(dir.path(), &format!("du{adv}.pcap"), &["--advance-us", adv, "--cp-advance-us", "400", "--slots", "10"]);
        frames.extend(fhgate::io::pcap::read_all(&p).unwrap());
    }
    frames.sort_by_key(|f| f.timestamp);
    // Three generators each count ecpriSeqid from 0: number each flow
    // afresh, as one DU would, so that only the repeat below repeats.
    let mut next = std::collections::HashMap::new();
    for f in &mut frames {
        let seq = next.entry((f.data[15], f.data[18], f.data[19], f.data[22] >> 7)).or_insert(0u8);
        f.data[20] = *seq;
        *seq = seq.wrapping_add(1);
    }
    // One U-plane frame (the first, 500 µs early) sent twice (the same ecpriSeqid), one with slotId 3
    // at µ 1, one cut inside its IQ data.
    let u0 = frames.iter().position(|f| f.data[15] == 0 && f.data[18] == 0 && f.data[19] == 0 && f.data[22] >> 7 == 1).unwrap();
    let dup = frames[u0].clone();
    frames.insert(u0 + 1, dup);
    let mut bad_slot = frames[u0].clone();
    bad_slot.data[24] &= 0xF0;
    bad_slot.data[25] = (bad_slot.data[25] & 0x3F) | 0xC0;
    bad_slot.data[20] = bad_slot.data[20].wrapping_add(100); // another seqId: not a repeat
    frames.insert(u0 + 2, bad_slot);
    let mut cut = frames[u0].clone();
    cut.data.truncate(40);
    cut.data[20] = cut.data[20].wrapping_add(101);
    frames.insert(u0 + 3, cut);
    let input = dir.path().join("mixed.pcap");
    write(&input, &frames);
    let cfg = run_config(dir.path(), &input);
    let o = ok(fhgate(&["run", "-c", cfg.to_str().unwrap(), "--json"]));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = j["timing"].as_array().unwrap_or_else(|| panic!("no timing in {j}"));
    let row = |dir: &str, plane: &str, eaxc: u64| rows.iter().find(|r| r["direction"] == dir && r["plane"] == plane && r["eaxc"] == eaxc).unwrap();
    // 10 slots x 14 symbols per class and eAxC; eAxC 0 also got the
    // repeat (early, counted as a duplicate), the bad slotId and the cut frame.
    let u0 = row("dl", "u", 0);
    assert_eq!((u0["Rx_early"].as_u64(), u0["Rx_on_time"].as_u64(), u0["Rx_late"].as_u64()), (Some(141), Some(140), Some(140)), "{u0}");
    assert_eq!((u0["Rx_dupl"].as_u64(), u0["Rx_corrupt"].as_u64()), (Some(1), Some(2)), "{u0}");
    assert_eq!(u0["broken_time"], true);
    assert_eq!(u0["side"], "du");
    let u1 = row("dl", "u", 1);
    assert_eq!((u1["Rx_early"].as_u64(), u1["Rx_on_time"].as_u64(), u1["Rx_late"].as_u64(), u1["Rx_dupl"].as_u64()), (Some(140), Some(140), Some(140), Some(0)));
    let c = row("dl", "c", 0);
    assert_eq!((c["Rx_on_time"].as_u64(), c["Rx_early"].as_u64(), c["broken_time"].as_bool()), (Some(30), Some(0), Some(false)));
    assert_eq!(row("ul", "c", 0)["unclassified"], 30, "no t1a_cp_ul window: timed, not classified");
    // The broken-time signature is said.
    assert!(String::from_utf8_lossy(&o.stderr).contains("DL U-plane eAxC 0x0000: 141 early, 140 on time, 140 late at once"), "{}", String::from_utf8_lossy(&o.stderr));
    // The Prometheus text has the xran names and the histogram (the same
    // run again: --force replaces the first one's captures).
    let o = ok(fhgate(&["run", "-c", cfg.to_str().unwrap(), "--force"]));
    let text = String::from_utf8(o.stdout).unwrap();
    for line in [
        "fhgate_Rx_late_total{side=\"du\",direction=\"dl\",plane=\"u\",eaxc=\"0x0001\",vlan=\"none\"} 140",
        "fhgate_side_Rx_on_time_total{side=\"du\"} 340",
        "fhgate_side_Rx_corrupt_total{side=\"du\"} 2",
        "fhgate_arrival_offset_ns_bucket{side=\"du\",window=\"t1a_up\",le=\"-500000\"} 281",
        "fhgate_arrival_offset_ns_bucket{side=\"du\",window=\"t1a_up\",le=\"-200000\"} 561",
        "fhgate_arrival_offset_ns_count{side=\"du\",window=\"t1a_up\"} 841",
        "fhgate_timing_broken_time{side=\"du\",direction=\"dl\",plane=\"u\",eaxc=\"0x0001\",vlan=\"none\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line}");
    }
}
