//! The tshark oracle: frames built by `ecpri` are written to pcap files,
//! decoded by Wireshark's `ecpri` and `oran` dissectors, and every field
//! tshark reports is compared with what `ecpri` decodes from the same bytes.
//!
//! Wireshark 4.0 faults, named here rather than matched:
//! - `iSample`/`qSample` ignore the BFP exponent, so IQ is compared as the
//!   raw `oran_fh_cus.iq_user_data` plus `oran_fh_cus.exponent` instead;
//! - section extension 1 miscounts antennas when bfwCompParam is present
//!   (valid frames show as malformed), so the ext 1 sample uses bfwCompMeth 0;
//! - several extensions and section type 7 are not decoded at all: see
//!   `known_fault` for each and the narrow exclusion it gets;
//! - concatenated eCPRI messages are not followed, so only the first
//!   message of a concatenated frame is compared (and its expert warning
//!   about the C bit is expected);
//! - in the U-plane it reports symbolId under `oran_fh_cus.startSymbolId`
//!   (a C-plane field) and adds a `numberOfSections` it counted itself,
//!   which is not on the wire;
//! - with O-RAN dissection on, it reports ecpriPcid/ecpriRtcid/ecpriSeqid
//!   only as their O-RAN sub-fields (DU port, ..., sequence ID), which are
//!   compared instead;
//! - it registers freqOffset (24-bit two's complement in the
//!   specification) as FT_UINT24, so it prints -2448 as 16774768: its
//!   24-bit pattern is compared, and `signed_fields_are_signed` checks
//!   that `ecpri` and `fhgate inspect` report the signed value.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;

use ecpri::fields::{FieldValue, FieldVisitor};
use ecpri::frame::{DecodeConfig, FrameRepr};
use ecpri::samples::{self, Sample};
use ecpri::uplane::CompHdrMode;
use ecpri::{CompMethod, UdCompHdr};
#[path = "support/write_pcap.rs"]
mod write_pcap;
use write_pcap::write_pcap;

/// One field as tshark registers it.
#[derive(Debug, Clone)]
struct FieldInfo {
    ftype: String,
    base: String,
    abbrev_starts_ecpri: bool,
}

/// `tshark -G fields`, restricted to the protocols under test.
fn wireshark_fields() -> BTreeMap<String, FieldInfo> {
    let out = Command::new("tshark")
        .args(["-G", "fields"])
        .output()
        .expect("tshark is installed (scripts/setup)");
    let mut m = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let c: Vec<&str> = line.split('\t').collect();
        if c.len() >= 6 && c[0] == "F" && (c[4] == "ecpri" || c[4] == "oran_fh_cus") {
            m.insert(
                c[2].to_string(),
                FieldInfo {
                    ftype: c[3].to_string(),
                    base: c[5].to_string(),
                    abbrev_starts_ecpri: c[4] == "ecpri",
                },
            );
        }
    }
    assert!(
        m.contains_key("oran_fh_cus.startPrbu"),
        "this tshark has the O-RAN dissector"
    );
    m
}

/// Fields tshark reports that are not wire fields of their own, so there
/// is nothing for `ecpri` to report:
fn not_compared(name: &str, info: &FieldInfo) -> bool {
    matches!(
        info.ftype.as_str(),
        "FT_NONE" | "FT_STRING" | "FT_PROTOCOL" | "FT_FLOAT"
    ) || matches!(
        name,
        // derived by Wireshark from subframe and slot
        "oran_fh_cus.slot-within-frame"
            // the eCPRI payload as a whole, and the 10-byte timestamp as a whole
            | "ecpri.payload" | "ecpri.timestamp"
            // Wireshark's count of weights, computed from its preferences
            | "oran_fh_cus.num_bf_weights" | "oran_fh_cus.num_weights_per_bundle"
    )
}

/// Formats a value the way `tshark -T fields` prints that field.
fn tshark_format(v: &FieldValue<'_>, info: &FieldInfo) -> String {
    match *v {
        // BASE_HEX and BASE_HEX_DEC both print as hex in `-T fields`.
        FieldValue::U(x) if info.base.starts_with("BASE_HEX") => {
            let digits = match info.ftype.as_str() {
                "FT_UINT8" => 2,
                "FT_UINT16" => 4,
                "FT_UINT24" => 6,
                "FT_UINT32" => 8,
                _ => 1,
            };
            format!("0x{x:0digits$x}")
        }
        FieldValue::U(x) => x.to_string(),
        FieldValue::I(x) => x.to_string(),
        FieldValue::Bool(b) => (b as u8).to_string(),
        // The eCPRI dissector adds its byte fields with colons, the O-RAN one without.
        FieldValue::Bytes(b) if info.abbrev_starts_ecpri => b
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
        FieldValue::Bytes(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
        FieldValue::Str(s) => s.to_string(),
    }
}

/// Collects `ecpri`'s fields of one frame, in order, stopping where
/// tshark stops (a second concatenated message).
struct Collect<'f> {
    known: &'f BTreeMap<String, FieldInfo>,
    fields: BTreeMap<String, Vec<String>>,
    stop: bool,
}

impl<'a> FieldVisitor<'a> for Collect<'_> {
    fn field(&mut self, name: &'static str, value: FieldValue<'a>) {
        if self.stop {
            return;
        }
        if let Some(info) = self.known.get(name) {
            if !not_compared(name, info) {
                let value = match value {
                    // Wireshark 4.0's unsigned freqOffset (module comment): its bit pattern.
                    FieldValue::I(x)
                        if name == "oran_fh_cus.freqOffset" && info.ftype == "FT_UINT24" =>
                    {
                        FieldValue::U(x as u64 & 0xFF_FFFF)
                    }
                    v => v,
                };
                self.fields
                    .entry(name.to_string())
                    .or_default()
                    .push(tshark_format(&value, info));
            }
        }
    }

    fn begin(&mut self, group: &'static str) {
        if group == "concatenated" {
            self.stop = true;
        }
    }

    fn end(&mut self) {}
}

fn comp_name(m: CompMethod) -> &'static str {
    match m {
        CompMethod::None => "No Compression",
        CompMethod::Bfp => "Block Floating Point Compression",
        CompMethod::BlockScaling => "Block Scaling Compression",
        CompMethod::MuLaw => "u-Law Compression",
        CompMethod::ModComp => "Modulation Compression",
        CompMethod::BfpSelectiveRe => "BFP + selective RE sending",
        _ => "mod-compr + selective RE sending",
    }
}

/// tshark preferences equivalent to a decode config.
fn prefs(d: &DecodeConfig) -> Vec<String> {
    let mut p = vec![
        format!("oran_fh_cus.oran.du_port_id_bits:{}", d.eaxc.du_port_bits),
        format!(
            "oran_fh_cus.oran.bandsector_id_bits:{}",
            d.eaxc.band_sector_bits
        ),
        format!("oran_fh_cus.oran.cc_id_bits:{}", d.eaxc.cc_bits),
        format!("oran_fh_cus.oran.ru_port_id_bits:{}", d.eaxc.ru_port_bits),
        format!("oran_fh_cus.oran.rbs_in_uplane_section:{}", d.carrier_prbs),
    ];
    for (dir, c) in [("down", d.dl_comp), ("up", d.ul_comp)] {
        p.push(format!("oran_fh_cus.oran.iq_bitwidth_{dir}:{}", c.iq_width));
        p.push(format!(
            "oran_fh_cus.oran.ud_comp_{dir}:{}",
            comp_name(c.comp_meth)
        ));
        p.push(format!(
            "oran_fh_cus.oran.ud_comp_hdr_{dir}:{}",
            if d.comp_hdr == CompHdrMode::Present {
                "TRUE"
            } else {
                "FALSE"
            }
        ));
    }
    p
}

/// Runs tshark on `path` and returns, per frame, each field's occurrences.
fn tshark_decode(
    path: &Path,
    d: &DecodeConfig,
    names: &[String],
) -> Vec<HashMap<String, Vec<String>>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(path).args([
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=|",
        "-E",
        "separator=/t",
    ]);
    if let Some(port) = d.udp_port {
        cmd.args(["-d", &format!("udp.port=={port},ecpri")]);
    }
    for p in prefs(d) {
        cmd.args(["-o", &p]);
    }
    cmd.args(["-e", "_ws.malformed", "-e", "_ws.expert.message"]);
    for n in names {
        cmd.args(["-e", n]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut all = vec![
        "_ws.malformed".to_string(),
        "_ws.expert.message".to_string(),
    ];
    all.extend(names.iter().cloned());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            l.split('\t')
                .zip(&all)
                .filter(|(v, _)| !v.is_empty())
                .map(|(v, n)| (n.clone(), v.split('|').map(String::from).collect()))
                .collect()
        })
        .collect()
}

/// Fields of the eCPRI common header.
const ECPRI_COMMON_HEADER: [&str; 5] = [
    "ecpri.revision",
    "ecpri.reserved",
    "ecpri.cbit",
    "ecpri.type",
    "ecpri.size",
];

/// Where tshark 4.0 is known to decode a valid sample wrongly or not at
/// all: what is wrong, and the narrowest exclusion that lets the rest of
/// the frame be compared.
struct Fault {
    why: &'static str,
    /// tshark flags the extension's length and the frame as malformed.
    extlen_malformed: bool,
    /// Fields of ours whose last occurrence tshark does not show.
    drop_last: &'static [&'static str],
    /// Fields of ours tshark does not show at all.
    drop_all: &'static [&'static str],
}

fn known_fault(name: &str) -> Option<Fault> {
    const NONE: &[&str] = &[];
    Some(match name {
        "cplane-st1-ext2" => Fault { why: "tshark 4.0 does not decode section extension 2", extlen_malformed: true, drop_last: NONE, drop_all: NONE },
        "cplane-st1-ext3-first-layer" => Fault {
            why: "tshark 4.0 does not decode section extension 3 (its reserved byte is ours' last reserved8)",
            extlen_malformed: true,
            drop_last: &["oran_fh_cus.reserved8"],
            drop_all: NONE,
        },
        "cplane-st1-ext5" => Fault {
            why: "tshark 4.0 does not decode section extension 5 (its csf comes only from extension 4)",
            extlen_malformed: true,
            drop_last: NONE,
            drop_all: &["oran_fh_cus.csf"],
        },
        "cplane-st1-ext9" => Fault {
            why: "tshark 4.0 does not decode section extension 9 (technology, reserved byte)",
            extlen_malformed: false,
            drop_last: &["oran_fh_cus.reserved8"],
            drop_all: NONE,
        },
        "cplane-st7-laa" => Fault {
            why: "tshark 4.0 does not decode section type 7 past sectionType",
            extlen_malformed: false,
            drop_last: NONE,
            drop_all: &[
                "oran_fh_cus.reserved16", "oran_fh_cus.laaMsgType", "oran_fh_cus.laaMsgLen", "oran_fh_cus.lbtHandle",
                "oran_fh_cus.lbtOffset", "oran_fh_cus.lbtMode", "oran_fh_cus.lbtDeferFactor",
                "oran_fh_cus.lbtBackoffCounter", "oran_fh_cus.MCOT",
            ],
        },
        _ => return None,
    })
}

fn check(samples: &[Sample]) -> Vec<String> {
    let known = wireshark_fields();
    let names: Vec<String> = known
        .iter()
        .filter(|(n, i)| !not_compared(n, i))
        .map(|(n, _)| n.clone())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let mut groups: Vec<(DecodeConfig, Vec<&Sample>)> = Vec::new();
    for s in samples {
        match groups.iter_mut().find(|(d, _)| *d == s.decode) {
            Some((_, v)) => v.push(s),
            None => groups.push((s.decode, vec![s])),
        }
    }
    let mut failures = Vec::new();
    for (gi, (d, group)) in groups.iter().enumerate() {
        let path = dir.path().join(format!("group{gi}.pcap"));
        let frames: Vec<&[u8]> = group.iter().map(|s| s.frame.as_slice()).collect();
        write_pcap(&path, &frames);
        let decoded = tshark_decode(&path, d, &names);
        assert_eq!(
            decoded.len(),
            group.len(),
            "tshark printed one line per frame"
        );
        for (s, ws) in group.iter().zip(&decoded) {
            let fr = FrameRepr::parse(&s.frame, &s.decode)
                .unwrap_or_else(|e| panic!("{}: ecpri cannot parse its own frame: {e}", s.name));
            let mut c = Collect {
                known: &known,
                fields: BTreeMap::new(),
                stop: false,
            };
            fr.visit(&mut c, &s.decode);
            let mut ws = ws.clone();
            let first = &fr.messages()[0];
            if first.header.message_type == 0 {
                // Wireshark 4.0's U-plane naming (see the module comment).
                ws.remove("oran_fh_cus.numberOfSections");
                if let Some(v) = ws.remove("oran_fh_cus.startSymbolId") {
                    let info = &known["oran_fh_cus.symbolId"];
                    let v = v
                        .iter()
                        .map(|x| tshark_format(&FieldValue::U(x.parse().unwrap()), info))
                        .collect();
                    ws.insert("oran_fh_cus.symbolId".into(), v);
                }
            }
            if matches!(first.header.message_type, 0 | 2) {
                for f in ["ecpri.pcid", "ecpri.rtcid", "ecpri.seqid"] {
                    c.fields.remove(f);
                }
            }
            if !matches!(first.header.message_type, 0 | 2 | 5) {
                // ecpri decodes other message types to their common header
                // only; tshark goes on into their payloads.
                ws.retain(|k, _| k.starts_with("_ws") || ECPRI_COMMON_HEADER.contains(&k.as_str()));
                c.fields
                    .retain(|k, _| ECPRI_COMMON_HEADER.contains(&k.as_str()));
            }
            if let ecpri::frame::Body::RtControl { cplane, .. } = &first.body {
                if cplane.header.section_type() == 0 {
                    // Wireshark 4.0 has no ef bit in section type 0: it
                    // reads those 16 bits as reserved (later CUS versions
                    // and Wireshark define ef there).
                    c.fields.remove("oran_fh_cus.ef");
                }
            }
            if fr.messages().len() > 1 {
                ws.retain(|k, v| {
                    !(k == "_ws.expert.message"
                        && v.iter().all(|m| m.contains("Concatenation Bit")))
                });
            }
            if let Some(f) = known_fault(&s.name) {
                eprintln!(
                    "{}: {}; excluded: {:?} {:?}",
                    s.name, f.why, f.drop_last, f.drop_all
                );
                if f.extlen_malformed {
                    ws.remove("_ws.malformed");
                    ws.retain(|k, v| {
                        !(k == "_ws.expert.message" && v.iter().all(|m| m.contains("extlen")))
                    });
                }
                for n in f.drop_last {
                    if let Some(v) = c.fields.get_mut(*n) {
                        v.pop();
                    }
                }
                for n in f.drop_all {
                    c.fields.remove(*n);
                }
                c.fields.retain(|_, v| !v.is_empty());
            }
            if let Some(m) = ws.get("_ws.malformed").or(ws.get("_ws.expert.message")) {
                failures.push(format!("{}: tshark reports {:?}", s.name, m));
            }
            let mut all: BTreeSet<&String> = c.fields.keys().collect();
            all.extend(ws.keys().filter(|k| !k.starts_with("_ws")));
            for n in all {
                let ours = c.fields.get(n).cloned().unwrap_or_default();
                let theirs = ws.get(n).cloned().unwrap_or_default();
                if ours != theirs {
                    failures.push(format!(
                        "{}: {n}: ecpri {:?} vs tshark {:?}",
                        s.name, ours, theirs
                    ));
                }
            }
        }
    }
    failures
}

fn assert_oracle(samples: Vec<Sample>) {
    assert!(!samples.is_empty());
    let failures = check(&samples);
    assert!(
        failures.is_empty(),
        "{} disagreements with tshark:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn uplane_every_bfp_width_and_uncompressed() {
    let s = samples::uplane_samples().unwrap();
    // BFP 1..16 and uncompressed 1..16, each with and without udCompHdr.
    assert_eq!(s.len(), 64);
    assert_oracle(s);
}

#[test]
fn transports_vlan_udp_concatenation_and_other_message_types() {
    assert_oracle(samples::transport_samples().unwrap());
}

#[test]
fn cplane_every_section_type_and_extension() {
    let s = samples::cplane_samples().unwrap();
    // The samples cover every section type and every modelled extension.
    let (mut types, mut exts) = (BTreeSet::new(), BTreeSet::new());
    for x in &s {
        let f = FrameRepr::parse(&x.frame, &x.decode).unwrap();
        if let ecpri::frame::Body::RtControl { cplane, .. } = &f.messages()[0].body {
            types.insert(cplane.header.section_type());
            for sec in &cplane.sections {
                for e in &sec.extensions {
                    exts.insert(e.ext_type());
                }
            }
        }
    }
    assert_eq!(types, BTreeSet::from([0, 1, 3, 5, 6, 7]));
    assert!(
        exts.is_superset(&BTreeSet::from([1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13])),
        "{exts:?}"
    );
    assert_oracle(s);
}

/// Every capture `captures/MANIFEST` lists, decoded as the manifest says
/// (its flags after `--`), agrees with tshark field by field.
#[test]
fn shipped_captures_agree_with_tshark() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let manifest = std::fs::read_to_string(repo.join("captures/MANIFEST")).unwrap();
    let mut checked = Vec::new();
    for line in manifest
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (name, rest) = line.split_once(char::is_whitespace).unwrap();
        let flags: Vec<&str> = rest
            .split_once(" -- ")
            .map_or("", |(_, d)| d)
            .split_whitespace()
            .collect();
        let mut d = DecodeConfig::default();
        for kv in flags.chunks(2) {
            let v = kv[1];
            match kv[0] {
                "--dl-comp" => d.dl_comp = UdCompHdr::from_spec(v).unwrap(),
                "--ul-comp" => d.ul_comp = UdCompHdr::from_spec(v).unwrap(),
                "--comp-hdr" => d.comp_hdr = CompHdrMode::from_name(v).unwrap(),
                "--carrier-prbs" => d.carrier_prbs = v.parse().unwrap(),
                "--eaxc-bits" => d.eaxc = ecpri::EaxcLayout::from_spec(v).unwrap(),
                other => panic!("MANIFEST {name}: decode flag {other} not understood here"),
            }
        }
        if d.comp_hdr == CompHdrMode::Auto {
            // The oracle's preferences need a definite answer; gen writes udCompHdr unless told not to.
            d.comp_hdr = CompHdrMode::Present;
        }
        let b = std::fs::read(repo.join("captures").join(name)).unwrap();
        let mut frames = Vec::new();
        let mut at = 24;
        while at + 16 <= b.len() {
            let n = u32::from_le_bytes(b[at + 8..at + 12].try_into().unwrap()) as usize;
            frames.push(Sample {
                name: format!("{name} frame {}", frames.len() + 1),
                frame: b[at + 16..at + 16 + n].to_vec(),
                decode: d,
            });
            at += 16 + n;
        }
        assert!(frames.len() > 20, "{name}");
        assert_oracle(frames);
        checked.push(name.to_string());
    }
    assert_eq!(
        checked.len(),
        7,
        "every capture the manifest lists: {checked:?}"
    );
}

/// Signed fields (O-RAN.WG4.CUS: freqOffset, 24-bit two's complement;
/// regularizationFactor, 16-bit) are reported signed, by `ecpri` and by
/// `fhgate inspect`; the only fields tshark registers as signed integers
/// are ones `ecpri` reports signed; and tshark's unsigned freqOffset
/// (a 4.0 fault) is the same 24 bits.
#[test]
fn signed_fields_are_signed() {
    struct Signed(Vec<(&'static str, i64)>, Vec<&'static str>);
    impl<'a> FieldVisitor<'a> for Signed {
        fn field(&mut self, name: &'static str, value: FieldValue<'a>) {
            match value {
                FieldValue::I(x) => self.0.push((name, x)),
                _ => self.1.push(name),
            }
        }
        fn begin(&mut self, _: &'static str) {}
        fn end(&mut self) {}
    }
    let known = wireshark_fields();
    let samples = samples::cplane_samples().unwrap();
    let mut all = Signed(Vec::new(), Vec::new());
    for s in &samples {
        FrameRepr::parse(&s.frame, &s.decode)
            .unwrap()
            .visit(&mut all, &s.decode);
    }
    let signed: BTreeSet<&str> = all.0.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        signed,
        BTreeSet::from(["oran_fh_cus.freqOffset", "oran_fh_cus.regularizationFactor"]),
        "the spec's signed fields, and only those"
    );
    for (n, i) in &known {
        if i.ftype.starts_with("FT_INT") && all.1.contains(&n.as_str()) {
            panic!(
                "tshark registers {n} as {}, ecpri reports it unsigned",
                i.ftype
            );
        }
    }
    // The PRACH sample's freqOffset is negative.
    let st3 = samples
        .iter()
        .find(|s| s.name.contains("st3"))
        .expect("a section type 3 sample");
    let mut one = Signed(Vec::new(), Vec::new());
    FrameRepr::parse(&st3.frame, &st3.decode)
        .unwrap()
        .visit(&mut one, &st3.decode);
    let fo = one
        .0
        .iter()
        .find(|(n, _)| *n == "oran_fh_cus.freqOffset")
        .unwrap()
        .1;
    assert_eq!(fo, -2448);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("st3.pcap");
    write_pcap(&path, &[&st3.frame]);
    let ws = tshark_decode(&path, &st3.decode, &["oran_fh_cus.freqOffset".to_string()]);
    assert_eq!(
        ws[0]["oran_fh_cus.freqOffset"],
        vec![((1i64 << 24) + fo).to_string()],
        "tshark 4.0 prints the 24-bit pattern"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_fhgate"))
        .arg("inspect")
        .arg(&path)
        .arg("--json")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("\"oran_fh_cus.freqOffset\":-2448"),
        "inspect prints the signed value: {text}"
    );
    assert!(!text.contains("16774768"), "{text}");
}
