//! tshark as the oracle for "decodes without a malformed frame": its
//! preferences come from a side's settings, never from the frames.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// tshark's malformed and expert messages, one line per frame that has any.
pub fn complaints(path: &Path, prefs: &[String]) -> Vec<String> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(path).args(["-T", "fields", "-E", "separator=/t", "-e", "frame.number", "-e", "_ws.malformed", "-e", "_ws.expert.message"]);
    for p in prefs {
        cmd.args(["-o", p]);
    }
    let o = cmd.output().expect("tshark is installed (scripts/setup)");
    assert!(o.status.success(), "tshark: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).lines().filter(|l| l.split('\t').skip(1).any(|v| !v.is_empty())).map(String::from).collect()
}

/// tshark's name of a compression method (`bfp`, `none`, ...).
fn method(m: &str) -> &'static str {
    match m {
        "bfp" => "Block Floating Point Compression",
        "block-scaling" => "Block Scaling Compression",
        "mu-law" => "u-Law Compression",
        _ => "No Compression",
    }
}

/// Preferences for a side: eAxC split `A,B,C,D`, DL and UL compression
/// `METHOD:WIDTH`, udCompHdr present or not, carrier PRBs.
pub fn prefs(eaxc: &str, dl: &str, ul: &str, comp_hdr: bool, prbs: u16) -> Vec<String> {
    let b: Vec<&str> = eaxc.split(',').collect();
    let mut p = vec![
        format!("oran_fh_cus.oran.du_port_id_bits:{}", b[0]),
        format!("oran_fh_cus.oran.bandsector_id_bits:{}", b[1]),
        format!("oran_fh_cus.oran.cc_id_bits:{}", b[2]),
        format!("oran_fh_cus.oran.ru_port_id_bits:{}", b[3]),
        format!("oran_fh_cus.oran.rbs_in_uplane_section:{prbs}"),
    ];
    for (d, c) in [("down", dl), ("up", ul)] {
        let (m, w) = c.split_once(':').unwrap();
        p.push(format!("oran_fh_cus.oran.iq_bitwidth_{d}:{w}"));
        p.push(format!("oran_fh_cus.oran.ud_comp_{d}:{}", method(m)));
        p.push(format!("oran_fh_cus.oran.ud_comp_hdr_{d}:{}", if comp_hdr { "TRUE" } else { "FALSE" }));
    }
    p
}

/// tshark's complaints about the frames `keep` selects (by 1-based frame
/// number): tshark 4.0 reads every U-plane message at its preference
/// width whatever udCompHdr says, so a capture whose flows have different
/// widths is checked flow by flow, each under its own preferences.
pub fn complaints_among(path: &Path, prefs: &[String], keep: impl Fn(usize) -> bool) -> Vec<String> {
    complaints(path, prefs).into_iter().filter(|l| l.split('\t').next().and_then(|n| n.parse().ok()).is_some_and(&keep)).collect()
}
