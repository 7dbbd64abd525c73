//! The end-to-end replay: a DU capture (100 MHz, 273 PRB, 30 kHz, 4
//! antennas, BFP 8-bit, several slots of C- and U-plane, 1500-byte MTU)
//! through bfp_width 8 → 12 and eaxc_remap 4/4/4/4 → 2/6/4/4, checked by
//! tshark and by `fhgate diff`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

#[path = "support/cli.rs"]
mod cli;
use cli::repo;

fn translators() -> PathBuf {
    let dir = repo().join("target/translators");
    let st = Command::new(repo().join("scripts/build-translators"))
        .current_dir(repo())
        .status()
        .expect("build-translators runs");
    assert!(st.success(), "scripts/build-translators failed");
    dir
}

#[test]
fn du_capture_through_bfp_width_and_eaxc_remap_is_valid_on_the_ru_side() {
    let t = translators();
    let dir = tempfile::tempdir().unwrap();
    let input = repo().join("captures/du_100mhz_4ant_bfp8_mtu1500.pcap");
    let out = dir.path().join("ru.pcap");
    let o = cli::replay_widen_and_remap(&t, &input, &out, &["--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["malformed"].as_array().unwrap().len(), 0);
    assert!(
        report["egress_errors"].as_object().unwrap().is_empty(),
        "{report}"
    );

    // tshark decodes the RU side with the RU's settings: 2/6/4/4, BFP 12, udCompHdr present.
    let fields = [
        "frame.len",
        "ecpri.type",
        "oran_fh_cus.du_port_id",
        "oran_fh_cus.bandsector_id",
        "oran_fh_cus.ru_port_id",
        "oran_fh_cus.sequence_id",
        "oran_fh_cus.data_direction",
        "oran_fh_cus.udCompHdrWidth",
        "oran_fh_cus.udCompHdrMeth",
        "oran_fh_cus.startPrbu",
        "oran_fh_cus.numPrbu",
        "oran_fh_cus.symbolId",
        "oran_fh_cus.startSymbolId",
        "oran_fh_cus.slotId",
        "oran_fh_cus.frameId",
        "oran_fh_cus.subframe_id",
        "_ws.expert.message",
        "_ws.malformed",
    ];
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(&out).args([
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=|",
        "-E",
        "separator=/t",
    ]);
    for p in [
        "oran_fh_cus.oran.du_port_id_bits:2",
        "oran_fh_cus.oran.bandsector_id_bits:6",
        "oran_fh_cus.oran.cc_id_bits:4",
        "oran_fh_cus.oran.ru_port_id_bits:4",
        "oran_fh_cus.oran.iq_bitwidth_down:12",
        "oran_fh_cus.oran.iq_bitwidth_up:12",
        "oran_fh_cus.oran.ud_comp_down:Block Floating Point Compression",
        "oran_fh_cus.oran.ud_comp_up:Block Floating Point Compression",
        "oran_fh_cus.oran.ud_comp_hdr_down:TRUE",
        "oran_fh_cus.oran.ud_comp_hdr_up:TRUE",
    ] {
        cmd.args(["-o", p]);
    }
    for f in fields {
        cmd.args(["-e", f]);
    }
    let o = cmd.output().expect("tshark runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    let rows: Vec<BTreeMap<&str, &str>> = text
        .lines()
        .map(|l| {
            fields
                .iter()
                .copied()
                .zip(l.split('\t'))
                .filter(|(_, v)| !v.is_empty())
                .collect()
        })
        .collect();
    assert!(
        rows.len() > 1000,
        "the replay produced the frames ({})",
        rows.len()
    );
    let mut next_seq: BTreeMap<(String, String, String), u8> = BTreeMap::new();
    let mut prbs: BTreeMap<(String, String, String, String, String), BTreeSet<u32>> =
        BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        let n = i + 1;
        assert!(
            !r.contains_key("_ws.expert.message") && !r.contains_key("_ws.malformed"),
            "frame {n}: tshark warns {r:?}"
        );
        let len: usize = r["frame.len"].parse().unwrap();
        assert!(
            len - 14 <= 1500,
            "frame {n}: {len} bytes exceeds the 1500-byte MTU"
        );
        // Every width is 12, in U-plane sections and in C-plane headers.
        for w in r["oran_fh_cus.udCompHdrWidth"].split('|') {
            assert_eq!(w, "12", "frame {n}");
        }
        // eAxC IDs remapped: the DU's port 1 now sits in the RU layout's top 2 bits.
        assert_eq!(r["oran_fh_cus.du_port_id"], "1", "frame {n}");
        assert_eq!(r["oran_fh_cus.bandsector_id"], "0", "frame {n}");
        let ru_port = r["oran_fh_cus.ru_port_id"].to_string();
        // Sequence IDs run on per flow (type, direction, eAxC).
        let key = (
            r["ecpri.type"].to_string(),
            r["oran_fh_cus.data_direction"].to_string(),
            ru_port.clone(),
        );
        let seq: u8 = r["oran_fh_cus.sequence_id"].parse().unwrap();
        if let Some(exp) = next_seq.insert(key.clone(), seq.wrapping_add(1)) {
            assert_eq!(seq, exp, "frame {n}: sequence ID of flow {key:?}");
        }
        // Split packets are valid: their PRBs tile each symbol exactly once.
        if r["ecpri.type"] == "0x00" {
            let sym = (
                ru_port,
                r["oran_fh_cus.frameId"].to_string(),
                r["oran_fh_cus.subframe_id"].to_string(),
                r["oran_fh_cus.slotId"].to_string(),
                r["oran_fh_cus.startSymbolId"].to_string(),
            );
            let set = prbs.entry(sym).or_default();
            for (s, k) in r["oran_fh_cus.startPrbu"]
                .split('|')
                .zip(r["oran_fh_cus.numPrbu"].split('|'))
            {
                let (s, k): (u32, u32) = (s.parse().unwrap(), k.parse().unwrap());
                for p in s..s + k {
                    assert!(set.insert(p), "frame {n}: PRB {p} sent twice");
                }
            }
        }
    }
    // 4 antennas × 3 slots × 14 symbols, each with all 273 PRBs.
    assert_eq!(prbs.len(), 4 * 3 * 14);
    assert!(prbs
        .values()
        .all(|s| s.len() == 273 && s.iter().next_back() == Some(&272)));

    // fhgate diff: zero added IQ error, only the expected fields changed.
    let o = cli::diff_widened(&input, &out);
    assert!(
        o.status.success(),
        "diff found IQ error or missing PRBs: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    let d: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(d["iq_differs"], false);
    let flows = d["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 12, "4 antennas × (U DL, C DL, C UL)");
    for f in flows {
        assert_eq!(
            (f["missing"].as_u64(), f["extra"].as_u64()),
            (Some(0), Some(0)),
            "{f}"
        );
        let changed: BTreeSet<&str> = f["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["field"].as_str().unwrap())
            .collect();
        if f["plane"] == "U" {
            assert_eq!(f["iq"]["exact"], true, "{f}");
            assert_eq!(f["matched"].as_u64(), Some(3 * 14 * 273), "{f}");
            assert_eq!(
                changed,
                BTreeSet::from(["ecpri.pcid", "oran_fh_cus.udCompHdrWidth"]),
                "{f}"
            );
        } else {
            assert_eq!(
                changed,
                BTreeSet::from(["ecpri.rtcid", "oran_fh_cus.udCompHdrWidth"]),
                "{f}"
            );
        }
    }
}
