//! `fhgate gen` and `fhgate inspect`, run as a user would: real binary,
//! real files.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

#[path = "support/cli.rs"]
mod cli;
use cli::repo;
#[path = "support/write_pcap.rs"]
mod write_pcap;
use write_pcap::write_pcap;

#[path = "support/bfp_oracle.rs"]
mod bfp_oracle;

fn fhgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fhgate"))
        .args(args)
        .output()
        .expect("fhgate runs")
}

fn json_lines(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

#[test]
fn gen_then_inspect_json_accounts_for_every_frame() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("du.pcap");
    let p = pcap.to_str().unwrap();
    let o = fhgate(&[
        "gen",
        "-o",
        p,
        "--prbs",
        "51",
        "--antennas",
        "2",
        "--comp",
        "bfp:9",
        "--slots",
        "1",
        "--vlan",
        "5",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = fhgate(&["inspect", p, "--json", "--dl-comp", "bfp:9"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines = json_lines(&o);
    let (summary, frames) = lines.split_last().unwrap();
    // 2 antennas × (DL + UL C-plane) + 2 antennas × 14 symbols of U-plane (51 PRBs fit one frame).
    assert_eq!(frames.len(), 4 + 28);
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(
            f["frame"],
            i + 1,
            "frame numbers are 1-based like Wireshark's"
        );
        assert_eq!(f["vlan"][0]["vlan.id"], 5);
        assert!(f.get("error").is_none(), "{f}");
    }
    let u = frames.iter().find(|f| f["ecpri.type"] == 0).unwrap();
    let s = &u["sections"][0];
    assert_eq!(s["oran_fh_cus.startPrbu"], 0);
    assert_eq!(s["oran_fh_cus.numPrbu"], 51);
    assert_eq!(s["oran_fh_cus.udCompHdrWidth"], 9);
    let c = frames.iter().find(|f| f["ecpri.type"] == 2).unwrap();
    assert_eq!(c["oran_fh_cus.sectionType"], 1);
    assert!(c["sections"].is_array());
    let sum = &summary["summary"];
    assert_eq!(sum["frames"], 32);
    assert_eq!(sum["error_frames"], 0);
    let flows = sum["flows"].as_array().unwrap();
    let u_flows: Vec<_> = flows.iter().filter(|f| f["plane"] == "U").collect();
    assert_eq!(u_flows.len(), 2);
    for f in u_flows {
        assert_eq!(f["frames"], 14);
        assert_eq!(f["prbs"], 14 * 51);
        assert_eq!(f["seq_gaps"], 0);
        assert_eq!(f["compression"]["bfp:9"], 14);
    }
}

#[test]
fn bad_frames_are_reported_counted_and_do_not_stop_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.pcap");
    let o = fhgate(&[
        "gen",
        "-o",
        good.to_str().unwrap(),
        "--prbs",
        "20",
        "--antennas",
        "1",
        "--slots",
        "1",
    ]);
    assert!(o.status.success());
    let frames = read_pcap(&good);
    let mut mixed = frames[..3].to_vec();
    let mut truncated = frames[2].clone();
    truncated.truncate(40);
    mixed.push(truncated);
    let mut bad_rev = frames[3].clone();
    bad_rev[14] = 0x20; // eCPRI revision 2
    mixed.push(bad_rev);
    mixed.push(frames[4].clone());
    let bad = dir.path().join("bad.pcap");
    write_pcap(&bad, &mixed);
    let o = fhgate(&[
        "inspect",
        bad.to_str().unwrap(),
        "--json",
        "--dl-comp",
        "bfp:9",
    ]);
    assert_eq!(o.status.code(), Some(1), "bad frames make inspect exit 1");
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 7);
    assert_eq!(lines[3]["error"]["kind"], "length_mismatch");
    assert_eq!(lines[3]["error"]["field"], "ecpri.size");
    assert_eq!(lines[3]["error"]["offset"], 16);
    assert_eq!(lines[4]["error"]["kind"], "unsupported_revision");
    assert_eq!(lines[4]["error"]["offset"], 14);
    assert!(
        lines[5].get("error").is_none(),
        "the frame after a bad one decodes"
    );
    assert_eq!(lines[6]["summary"]["error_frames"], 2);
    // Both bad frames still show their flow (type and eAxC ID are readable).
    let flows = lines[6]["summary"]["flows"].as_array().unwrap();
    assert_eq!(
        flows
            .iter()
            .map(|f| f["errors"].as_u64().unwrap())
            .sum::<u64>(),
        2
    );
    // The text view says the same.
    let o = fhgate(&["inspect", bad.to_str().unwrap(), "--dl-comp", "bfp:9"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("ERROR length_mismatch: ecpri.size at offset 16"),
        "{text}"
    );
    assert!(text.contains("2 bad frames"), "{text}");
}

#[test]
fn usage_errors_name_the_flag() {
    let o = fhgate(&["inspect", "x.pcap", "--eaxc-bits", "4,4,4"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("four widths"));
    let o = fhgate(&["inspect", "/nonexistent.pcap"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent.pcap"));
}

/// `captures/MANIFEST`: `FILE  GEN-FLAGS -- DECODE-FLAGS` per line.
fn manifest() -> Vec<(String, Vec<String>, Vec<String>)> {
    let text = std::fs::read_to_string(repo().join("captures/MANIFEST")).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut words = l.split_whitespace().map(String::from);
            let name = words.next().unwrap();
            let rest: Vec<String> = words.collect();
            let cut = rest.iter().position(|w| w == "--").unwrap_or(rest.len());
            (
                name,
                rest[..cut].to_vec(),
                rest.get(cut + 1..).unwrap_or(&[]).to_vec(),
            )
        })
        .collect()
}

#[test]
fn every_shipped_capture_is_listed_and_decodes_without_error() {
    let listed: Vec<_> = manifest().into_iter().map(|m| m.0).collect();
    let mut on_disk = 0;
    for e in std::fs::read_dir(repo().join("captures")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
            let name = p.file_name().unwrap().to_str().unwrap().to_string();
            assert!(
                listed.contains(&name),
                "{name} is not in captures/MANIFEST, so nothing says how it was made"
            );
            on_disk += 1;
        }
    }
    assert_eq!(
        on_disk,
        listed.len(),
        "every file in captures/MANIFEST exists"
    );
    for (name, _, decode) in manifest() {
        let p = repo().join("captures").join(&name);
        let mut a = vec![
            "inspect".to_string(),
            p.to_str().unwrap().to_string(),
            "--json".into(),
        ];
        a.extend(decode);
        let a: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
        let o = fhgate(&a);
        let lines = json_lines(&o);
        let summary = &lines.last().unwrap()["summary"];
        assert_eq!(summary["error_frames"], 0, "{name}: {summary}");
        assert!(o.status.success(), "{name}");
        assert!(lines.len() > 10, "{name} holds frames");
    }
}

#[test]
fn shipped_captures_are_reproduced_byte_for_byte_by_gen() {
    let dir = tempfile::tempdir().unwrap();
    for (name, gen, _) in manifest() {
        let out = dir.path().join(&name);
        let mut a = vec![
            "gen".to_string(),
            "-o".into(),
            out.to_str().unwrap().to_string(),
        ];
        a.extend(gen);
        let a: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
        let o = fhgate(&a);
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let shipped = std::fs::read(repo().join("captures").join(&name)).unwrap();
        assert!(
            std::fs::read(&out).unwrap() == shipped,
            "{name} differs from what `fhgate gen` makes now: run scripts/regen-captures"
        );
    }
}

fn read_pcap(p: &Path) -> Vec<Vec<u8>> {
    let b = std::fs::read(p).unwrap();
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= b.len() {
        let incl = u32::from_le_bytes(b[at + 8..at + 12].try_into().unwrap()) as usize;
        out.push(b[at + 16..at + 16 + incl].to_vec());
        at += 16 + incl;
    }
    out
}

#[test]
fn text_summary_rows_line_up_with_the_header() {
    // The RU capture decoded without its static UL compression: the UL
    // U-plane flows' frames are all bad and their compression column is
    // empty, which shows as "-".
    let cap = repo().join("captures/ru_40mhz_2ant_bfp9_static.pcap");
    let o = fhgate(&["inspect", cap.to_str().unwrap(), "--summary-only"]);
    let text = String::from_utf8_lossy(&o.stdout);
    let header = text
        .lines()
        .find(|l| l.trim_start().starts_with("plane"))
        .expect("header");
    let cols: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        cols,
        [
            "plane",
            "dir",
            "eAxC",
            "vlan",
            "frames",
            "sections",
            "PRBs",
            "gaps",
            "reord",
            "dup",
            "errors",
            "compression"
        ]
    );
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("U ") || l.trim_start().starts_with("C "))
        .collect();
    assert!(
        rows.iter().any(|r| r.ends_with(" -")),
        "a flow without compression: {text}"
    );
    for r in rows {
        assert_eq!(r.split_whitespace().count(), cols.len(), "{r}");
    }
}

#[test]
fn iq_statistics_in_the_wide_domain_agree_with_the_spec_oracle() {
    // The shipped sweeps: every BFP exponent 0-15 at 8, 9, 12 and 14 bits,
    // most of them far beyond int16 full scale.
    for w in [8u32, 9, 12, 14] {
        let p = repo().join(format!("captures/du_16prb_bfp{w}_exp0-15.pcap"));
        let comp = format!("bfp:{w}");
        let o = fhgate(&[
            "inspect",
            p.to_str().unwrap(),
            "--iq",
            "--json",
            "--dl-comp",
            &comp,
            "--ul-comp",
            &comp,
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let lines = json_lines(&o);
        let flows = lines.last().unwrap()["summary"]["flows"]
            .as_array()
            .unwrap()
            .clone();
        let u: Vec<&Value> = flows.iter().filter(|f| f["plane"] == "U").collect();
        assert_eq!(u.len(), 1);
        let iq = &u[0]["iq"];
        // The oracle, from the bytes.
        let prbs = bfp_oracle::oracle_decode(&p);
        let mut hist = [0u64; 16];
        let (mut peak, mut beyond, mut energy) = (0u64, 0u64, 0f64);
        for prb in prbs.values() {
            hist[prb.exponent as usize] += 1;
            for &x in &prb.samples {
                peak = peak.max(x.unsigned_abs());
                beyond += !(-32768..=32767).contains(&x) as u64;
                energy += (x as f64).powi(2);
            }
        }
        assert_eq!(
            hist, [28; 16],
            "{w} bits: one PRB per exponent per symbol, 2 slots"
        );
        assert_eq!(iq["prbs"].as_u64(), Some(prbs.len() as u64));
        for (e, n) in hist.iter().enumerate() {
            assert_eq!(
                iq["exponents"][e.to_string()].as_u64(),
                Some(*n),
                "{w} bits, exponent {e}"
            );
        }
        assert_eq!(iq["peak"].as_u64(), Some(peak));
        assert_eq!(iq["beyond_int16"].as_u64(), Some(beyond));
        assert!(beyond > 0, "{w} bits at exponent 15 is beyond int16");
        let want_peak = 20.0 * (peak as f64 / 32768.0).log10();
        let want_rms = 10.0 * (energy / (prbs.len() * 24) as f64 / (32768.0f64 * 32768.0)).log10();
        assert!((iq["peak_dbfs"].as_f64().unwrap() - want_peak).abs() < 1e-9);
        assert!((iq["rms_dbfs"].as_f64().unwrap() - want_rms).abs() < 1e-6);
        assert!(
            want_peak > 40.0,
            "{w} bits at exponent 15: {want_peak} dBFS"
        );
    }
    // The text summary shows the same table.
    let p = repo().join("captures/du_16prb_bfp12_exp0-15.pcap");
    let o = fhgate(&[
        "inspect",
        p.to_str().unwrap(),
        "--iq",
        "--summary-only",
        "--dl-comp",
        "bfp:12",
        "--ul-comp",
        "bfp:12",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{text}");
    assert!(
        text.contains("IQ per U-plane flow (0 dBFS = int16 full scale, 32768)"),
        "{text}"
    );
    assert!(
        text.contains("0:28 1:28 2:28") && text.contains("15:28"),
        "{text}"
    );
    // Without --iq the summary has no IQ statistics.
    let o = fhgate(&[
        "inspect",
        p.to_str().unwrap(),
        "--json",
        "--dl-comp",
        "bfp:12",
    ]);
    let lines = json_lines(&o);
    assert!(lines.last().unwrap()["summary"]["flows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f.get("iq").is_none()));
}
