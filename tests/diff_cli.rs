//! `fhgate diff`, run as a user would: a DU capture from `fhgate gen`,
//! B variants made here by re-encoding it with `ecpri` (BFP width changed,
//! udCompHdr rewritten, split again under another MTU by the gateway's
//! egress), then the real binary comparing the two files.

use std::path::Path;
use std::process::{Command, Output};

use ecpri::cplane::TypeFields;
use ecpri::frame::{Body, DecodeConfig, FrameRepr};
use ecpri::uplane::CompHdrMode;
use ecpri::{CompMethod, UdCompHdr};
use fhgate::io::pcap::{self, Captured, PcapOut};
use fhgate::pipeline::egress::{Egress, EgressConfig, Emitted, SplitBuf};
use serde_json::Value;

#[path = "support/bfp_oracle.rs"]
mod bfp_oracle;

fn fhgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fhgate"))
        .args(args)
        .output()
        .expect("fhgate runs")
}

fn bfp(w: u8) -> UdCompHdr {
    UdCompHdr::new(CompMethod::Bfp, w)
}

fn decode(w: u8) -> DecodeConfig {
    DecodeConfig {
        dl_comp: bfp(w),
        ul_comp: bfp(w),
        comp_hdr: CompHdrMode::Present,
        ..DecodeConfig::default()
    }
}

/// `fhgate gen` of one slot, 273 PRBs, 2 antennas, BFP at `width`.
fn gen(dir: &Path, width: u8) -> (std::path::PathBuf, Vec<Captured>) {
    let p = dir.join(format!("du-bfp{width}.pcap"));
    let comp = format!("bfp:{width}");
    let o = fhgate(&[
        "gen",
        "-o",
        p.to_str().unwrap(),
        "--prbs",
        "273",
        "--antennas",
        "2",
        "--comp",
        &comp,
        "--slots",
        "1",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let frames = pcap::read_all(&p).unwrap();
    (p, frames)
}

/// Every frame re-encoded from BFP `from` to BFP `to` bits (U-plane IQ and
/// udCompHdr, C-plane udCompHdr), as a bfp_width translator would, then
/// run through egress under `mtu`, which splits them anew.
fn recompress(frames: &[Captured], from: u8, to: u8, mtu: usize) -> Vec<Captured> {
    let mut egress = Egress::new(EgressConfig::new(mtu, decode(to)), decode(to));
    let mut sink = SplitBuf::new(64, 16_384);
    let mut out = Vec::new();
    for f in frames {
        let fr = FrameRepr::parse(&f.data, &decode(from)).unwrap();
        let mut iqs: Vec<Vec<u8>> = Vec::new();
        for m in fr.messages() {
            if let Body::IqData { uplane, .. } = &m.body {
                for s in &uplane.sections {
                    let n = s.iq_data.len() / bfp(from).prb_len().unwrap();
                    let mut b = vec![0u8; n * bfp(to).prb_len().unwrap()];
                    ecpri::iq::convert::bfp_recompress(
                        from,
                        s.iq_data,
                        to,
                        ecpri::iq::Rounding::Nearest,
                        &mut b,
                    )
                    .unwrap();
                    iqs.push(b);
                }
            }
        }
        let mut b = fr.clone();
        let mut k = 0;
        if let ecpri::frame::Payload::Ecpri(ms) = &mut b.payload {
            for m in ms {
                match &mut m.body {
                    Body::IqData { uplane, .. } => {
                        for s in &mut uplane.sections {
                            s.ud_comp_hdr = Some((bfp(to), 0));
                            s.iq_data = &iqs[k];
                            k += 1;
                        }
                    }
                    Body::RtControl { cplane, .. } => {
                        if let TypeFields::Type1 { ud_comp_hdr, .. } = &mut cplane.header.fields {
                            *ud_comp_hdr = bfp(to);
                        }
                    }
                    _ => {}
                }
            }
        }
        b.finalize().unwrap();
        let mut bytes = b.to_bytes().unwrap();
        sink.clear();
        match egress.process_frame(&mut bytes, &mut sink).unwrap() {
            Emitted::InPlace { len } => out.push(Captured {
                timestamp: f.timestamp,
                orig_len: len as u32,
                data: bytes[..len].to_vec(),
            }),
            Emitted::Split { .. } => {
                for p in sink.iter() {
                    out.push(Captured {
                        timestamp: f.timestamp,
                        orig_len: p.len() as u32,
                        data: p.to_vec(),
                    });
                }
            }
        }
    }
    out
}

fn write(path: &Path, frames: &[Captured]) {
    let (mut w, commit) = PcapOut::create(path, fhgate::io::output::Existing::Replace).unwrap();
    for f in frames {
        w.write(f.timestamp, &f.data).unwrap();
    }
    drop(w);
    commit.commit().unwrap();
}

fn diff_json(args: &[&str]) -> (Option<i32>, Value) {
    let mut a = vec!["diff"];
    a.extend_from_slice(args);
    a.push("--json");
    let o = fhgate(&a);
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    (o.status.code(), v)
}

fn u_flows(v: &Value) -> Vec<&Value> {
    v["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["plane"] == "U")
        .collect()
}

#[test]
fn widening_8_to_12_adds_no_error_even_when_split_differently() {
    let dir = tempfile::tempdir().unwrap();
    let (a_path, a) = gen(dir.path(), 8);
    let b = recompress(&a, 8, 12, 2000);
    assert_ne!(a.len(), b.len(), "B is split differently");
    let b_path = dir.path().join("wide.pcap");
    write(&b_path, &b);
    let (ap, bp) = (a_path.to_str().unwrap(), b_path.to_str().unwrap());
    let (code, v) = diff_json(&[
        ap,
        bp,
        "--dl-comp",
        "bfp:8",
        "--b-dl-comp",
        "bfp:12",
        "--fail-on-iq-error",
    ]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["iq_differs"], false);
    let u = u_flows(&v);
    assert_eq!(u.len(), 2);
    for f in u {
        assert_eq!(
            (
                f["matched"].as_u64(),
                f["missing"].as_u64(),
                f["extra"].as_u64()
            ),
            (Some(14 * 273), Some(0), Some(0)),
            "{f}"
        );
        assert_eq!(f["iq"]["exact"], true);
        assert_eq!(f["iq"]["evm_db"], Value::Null);
        assert_eq!(f["iq"]["prbs"], 14 * 273);
        let fields = f["fields"].as_array().unwrap();
        let w = fields
            .iter()
            .find(|x| x["field"] == "oran_fh_cus.udCompHdrWidth")
            .expect("udCompHdrWidth differs");
        assert_eq!((w["a"].as_str(), w["b"].as_str()), (Some("8"), Some("12")));
        assert!(
            w["sections"].as_u64().unwrap() >= 14 * 5,
            "counted per matched section pair: {w}"
        );
        assert!(
            fields
                .iter()
                .all(|x| x["field"] == "oran_fh_cus.udCompHdrWidth"),
            "nothing else differs: {fields:?}"
        );
        assert_eq!(f["messages_a"], 14 * 5);
    }
    let c: Vec<&Value> = v["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["plane"] == "C")
        .collect();
    assert_eq!(c.len(), 4, "DL and UL C-plane of each antenna");
    // The text view says the same.
    let o = fhgate(&[
        "diff",
        ap,
        bp,
        "--dl-comp",
        "bfp:8",
        "--b-dl-comp",
        "bfp:12",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    assert!(text.contains("exact (no IQ error)"), "{text}");
    assert!(
        text.contains("  bound     lossless: B's bfp:12 carries A exactly"),
        "{text}"
    );
    assert!(text.contains("oran_fh_cus.udCompHdrWidth 8→12"), "{text}");
    assert!(text.contains("missing 0  extra 0"), "{text}");
}

/// A bound that is lossless (B's format carries A exactly) says so, and
/// when B's IQ differs anyway diff says B is above it: the error is B's
/// own, never the format's. (It printed "lossless: B's bfp:12 carries A
/// exactly" beside an IQ error.)
#[test]
fn an_error_under_a_lossless_bound_is_named_as_above_it() {
    let dir = tempfile::tempdir().unwrap();
    let (a_path, a) = gen(dir.path(), 8);
    let mut b = recompress(&a, 8, 12, 9000);
    // One mantissa byte of the first U-plane frame (the largest frames are
    // U-plane; the last byte of one is IQ of its last PRB).
    let big = b.iter().map(|f| f.data.len()).max().unwrap();
    let f = b.iter_mut().find(|f| f.data.len() == big).unwrap();
    *f.data.last_mut().unwrap() ^= 0x40;
    let b_path = dir.path().join("wide_hurt.pcap");
    write(&b_path, &b);
    let (ap, bp) = (a_path.to_str().unwrap(), b_path.to_str().unwrap());
    let (code, v) = diff_json(&[ap, bp, "--dl-comp", "bfp:8", "--b-dl-comp", "bfp:12", "--fail-on-iq-error"]);
    assert_eq!(code, Some(1), "an IQ error fails: {v}");
    let hurt: Vec<&Value> = u_flows(&v).into_iter().filter(|f| f["iq"]["exact"] == false).collect();
    assert_eq!(hurt.len(), 1, "{v}");
    let bound = &hurt[0]["iq"]["bound"];
    assert_eq!((&bound["lossless"], &bound["exceeds_lossless_bound"]), (&Value::Bool(true), &Value::Bool(true)), "{bound}");
    for f in u_flows(&v).into_iter().filter(|f| f["iq"]["exact"] == true) {
        assert_eq!(f["iq"]["bound"]["exceeds_lossless_bound"], false, "{f}");
    }
    let o = fhgate(&["diff", ap, bp, "--dl-comp", "bfp:8", "--b-dl-comp", "bfp:12"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("lossless: B's bfp:12 carries A exactly, but B's IQ differs (EVM "), "{text}");
    assert!(text.contains("1 PRBs differ): B is above the bound"), "{text}");
}

#[test]
fn narrowing_12_to_8_shows_the_quantisation_error() {
    let dir = tempfile::tempdir().unwrap();
    let (a_path, a) = gen(dir.path(), 12);
    let b = recompress(&a, 12, 8, 1500);
    let b_path = dir.path().join("narrow.pcap");
    write(&b_path, &b);
    let (ap, bp) = (a_path.to_str().unwrap(), b_path.to_str().unwrap());
    let (code, v) = diff_json(&[ap, bp, "--dl-comp", "bfp:12", "--b-dl-comp", "bfp:8"]);
    assert_eq!(code, Some(0), "differences are the report, not an error");
    for f in u_flows(&v) {
        let evm = f["iq"]["evm_db"].as_f64().expect("an EVM");
        // Decoded from the bytes by the spec oracle, not by `ecpri`.
        let want = bfp_oracle::evm_db(&a_path, &b_path, f["eaxc_a"].as_u64().unwrap() as u16);
        eprintln!(
            "{}: EVM {evm:.2} dB (computed here: {want:.2} dB)",
            f["title"]
        );
        // An 8-bit BFP mantissa: roughly 6 dB a bit below full scale of each PRB.
        assert!((-55.0..-35.0).contains(&evm), "EVM {evm} dB");
        assert!((evm - want).abs() < 0.01, "{evm} vs {want} computed here");
        // The bound: A quantised per PRB at 8 bits to nearest, as the oracle quantises it.
        let bound = f["iq"]["bound"]["evm_db"].as_f64().expect("a bound");
        let want_bound = bfp_oracle::bound_db(&a_path, 8, f["eaxc_a"].as_u64().unwrap() as u16);
        assert!(
            (bound - want_bound).abs() < 0.01,
            "bound {bound} vs {want_bound} computed here"
        );
        assert_eq!(f["iq"]["bound"]["comp"], "bfp:8");
        let above = f["iq"]["bound"]["above_bound_db"].as_f64().unwrap();
        assert!(
            (above - (evm - bound)).abs() < 1e-9 && above.abs() < 0.5,
            "B rounds to nearest: {above} dB above the bound"
        );
        assert_eq!(f["iq"]["exact"], false);
        assert!(f["iq"]["max_abs_error"].as_u64().unwrap() > 0);
        assert_eq!(f["missing"], 0);
    }
    let (code, v) = diff_json(&[
        ap,
        bp,
        "--dl-comp",
        "bfp:12",
        "--b-dl-comp",
        "bfp:8",
        "--fail-on-iq-error",
    ]);
    assert_eq!(code, Some(1), "--fail-on-iq-error: IQ differs");
    assert_eq!(v["iq_differs"], true);
    let o = fhgate(&[
        "diff",
        ap,
        bp,
        "--dl-comp",
        "bfp:12",
        "--b-dl-comp",
        "bfp:8",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("EVM -") && text.contains("worst EVM"),
        "{text}"
    );
    assert!(
        text.contains("  bound     EVM -")
            && text.contains("as B's bfp:8 with rounding to nearest"),
        "{text}"
    );
    assert!(
        text.contains("; its bound -"),
        "the summary names the worst flow's bound: {text}"
    );
}

#[test]
fn missing_packets_and_remapped_eaxcs() {
    let dir = tempfile::tempdir().unwrap();
    let (a_path, a) = gen(dir.path(), 9);
    let ap = a_path.to_str().unwrap();
    // B lacks the first U-plane packet of the capture.
    let first_u = a.iter().position(|f| f.data[15] == 0).unwrap();
    let mut b = a.clone();
    b.remove(first_u);
    let b_path = dir.path().join("missing.pcap");
    write(&b_path, &b);
    let (code, v) = diff_json(&[ap, b_path.to_str().unwrap(), "--dl-comp", "bfp:9"]);
    assert_eq!(code, Some(0));
    let missing: Vec<&Value> = u_flows(&v)
        .into_iter()
        .filter(|f| f["missing"] != 0)
        .collect();
    assert_eq!(missing.len(), 1);
    let per_packet = (1500 - 18) / 28;
    assert_eq!(missing[0]["missing"].as_u64(), Some(per_packet as u64));
    assert_eq!(missing[0]["extra"], 0);
    assert_eq!(
        missing[0]["missing_examples"][0],
        format!(
            "frame 0 subframe 0 slot 0 symbol 0: PRBs 0-{}",
            per_packet - 1
        )
    );
    assert_eq!(missing[0]["iq"]["exact"], true, "what was matched is exact");
    let (code, _) = diff_json(&[
        ap,
        b_path.to_str().unwrap(),
        "--dl-comp",
        "bfp:9",
        "--fail-on-iq-error",
    ]);
    assert_eq!(code, Some(1), "a missing PRB fails CI");

    // B remaps RU ports 0, 1 to eAxC 0x0010, 0x0011 (an eaxc_remap translator).
    let remapped: Vec<Captured> = a
        .iter()
        .map(|f| {
            let mut d = f.data.clone();
            let id = u16::from_be_bytes([d[18], d[19]]);
            d[18..20].copy_from_slice(&(id | 0x10).to_be_bytes());
            Captured {
                data: d,
                ..f.clone()
            }
        })
        .collect();
    let r_path = dir.path().join("remapped.pcap");
    write(&r_path, &remapped);
    let rp = r_path.to_str().unwrap();
    let (_, v) = diff_json(&[ap, rp, "--dl-comp", "bfp:9"]);
    assert!(
        u_flows(&v).iter().all(|f| f["matched"] == 0),
        "unmatched without --match-eaxc"
    );
    for how in ["order", "0=0x10,1=0x11"] {
        let (code, v) = diff_json(&[
            ap,
            rp,
            "--dl-comp",
            "bfp:9",
            "--match-eaxc",
            how,
            "--fail-on-iq-error",
        ]);
        assert_eq!(code, Some(0), "{how}: {v}");
        let u = u_flows(&v);
        assert_eq!(u.len(), 2);
        for f in u {
            assert_eq!(
                (f["matched"].as_u64(), f["missing"].as_u64()),
                (Some(14 * 273), Some(0)),
                "{how}"
            );
            assert_eq!(
                f["eaxc_b"].as_u64(),
                Some(f["eaxc_a"].as_u64().unwrap() | 0x10)
            );
            let pcid = f["fields"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["field"] == "ecpri.pcid")
                .unwrap();
            assert_eq!(
                pcid["b"].as_str().unwrap(),
                format!("0x{:04x}", f["eaxc_b"].as_u64().unwrap())
            );
        }
    }
}

#[test]
fn usage_and_io_errors_exit_2() {
    let o = fhgate(&["diff", "/nonexistent-a.pcap", "/nonexistent-b.pcap"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent-a.pcap"));
    let dir = tempfile::tempdir().unwrap();
    let (p, _) = gen(dir.path(), 9);
    let p = p.to_str().unwrap();
    let o = fhgate(&["diff", p, p, "--match-eaxc", "1:2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("A_ID=B_ID"));
    let o = fhgate(&["diff", p, p, "--b-dl-comp", "zip:3"]);
    assert_eq!(o.status.code(), Some(2));
    // A capture against itself: exact, exit 0 even with --fail-on-iq-error.
    let (code, v) = diff_json(&[p, p, "--dl-comp", "bfp:9", "--fail-on-iq-error"]);
    assert_eq!(code, Some(0));
    assert!(v["flows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["fields"].as_array().unwrap().is_empty()));
}
