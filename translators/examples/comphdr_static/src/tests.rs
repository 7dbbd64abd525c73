use super::*;
use ecpri::frame::{Body, DecodeConfig, FrameRepr};
use ecpri::samples::{catalog, uplane_frame, Sample, SAMPLE_UDP_PORT};
use ecpri::uplane::CompHdrMode;
use fhgate_sdk::abi::verdict;
use fhgate_sdk::native::{counter, Harness};

fn comp(m: CompMethod, w: u8) -> UdCompHdr {
    UdCompHdr::new(m, w)
}

fn decode(c: UdCompHdr, present: bool) -> DecodeConfig {
    DecodeConfig {
        dl_comp: c,
        ul_comp: c,
        comp_hdr: if present { CompHdrMode::Present } else { CompHdrMode::Absent },
        udp_port: Some(SAMPLE_UDP_PORT),
        ..DecodeConfig::default()
    }
}

/// (sectionId, startPrbu, numPrbu, udCompHdr carried, IQ bytes) of a section.
type Section = (u16, u16, u8, Option<UdCompHdr>, Vec<u8>);

/// Every section of a frame.
fn sections(frame: &[u8], d: &DecodeConfig) -> Vec<Section> {
    let f = FrameRepr::parse(frame, d).unwrap_or_else(|e| panic!("output does not decode: {e}"));
    let mut v = Vec::new();
    for m in f.messages() {
        if let Body::IqData { uplane, .. } = &m.body {
            for s in &uplane.sections {
                v.push((s.section_id, s.start_prbu, s.num_prbu, s.ud_comp_hdr.map(|h| h.0), s.iq_data.to_vec()));
            }
        }
    }
    v
}

fn run(config: &str, frame: &[u8], d: DecodeConfig) -> (u8, Vec<u8>) {
    let mut h = Harness::<ComphdrStatic>::with_decode(config, d).unwrap();
    let o = h.translate(frame);
    (o.verdict, o.bytes)
}

#[test]
fn strip_then_insert_round_trips() {
    for c in [
        comp(CompMethod::Bfp, 9),
        comp(CompMethod::None, 16),
        comp(CompMethod::MuLaw, 8),
        comp(CompMethod::BlockScaling, 8),
    ] {
        let ranges = [(0u16, 10u8), (10, 5), (15, 1)];
        let dynamic = uplane_frame(c, true, &ranges).unwrap();
        let (v, stat) = run("mode=\"strip\"\n", &dynamic, decode(c, true));
        assert_eq!(v, verdict::MODIFIED);
        assert_eq!(stat.len(), dynamic.len() - 2 * ranges.len(), "{c}");
        assert_eq!(stat, uplane_frame(c, false, &ranges).unwrap(), "{c}: the static form, byte for byte");
        let a = sections(&dynamic, &decode(c, true));
        let b = sections(&stat, &decode(c, false));
        for (x, y) in a.iter().zip(&b) {
            assert_eq!((x.0, x.1, x.2, &x.4), (y.0, y.1, y.2, &y.4));
            assert_eq!((x.3, y.3), (Some(c), None));
        }
        let method = c.comp_meth.name();
        let cfg = format!("mode=\"insert\"\nmethod=\"{method}\"\nwidth={}\n", c.iq_width);
        let (v, back) = run(&cfg, &stat, decode(c, false));
        assert_eq!(v, verdict::MODIFIED);
        assert_eq!(back, dynamic, "{c}");
    }
    assert_eq!(counter("sections"), Some(3));
}

#[test]
fn over_udp_and_concatenated() {
    for name in ["udp-ipv4", "udp-ipv6", "concatenated"] {
        let s: Sample = catalog().unwrap().into_iter().find(|s| s.name == name).unwrap();
        let c = comp(CompMethod::Bfp, 9);
        let (_, out) = run("mode=\"strip\"\nwidth=9\n", &s.frame, s.decode);
        let f = FrameRepr::parse(&out, &decode(c, false)).unwrap();
        let before = sections(&s.frame, &s.decode);
        let after = sections(&out, &decode(c, false));
        assert_eq!(before.len(), after.len());
        for (x, y) in before.iter().zip(&after) {
            assert_eq!(x.4, y.4, "{name}");
        }
        for m in f.messages().iter().filter(|m| m.header.concatenation) {
            assert_eq!(m.buffer_len() % 4, 0, "{name}");
        }
        if let Some(t) = f.transport {
            assert_eq!(t.udp.length as usize, 8 + f.messages().iter().map(|m| m.buffer_len()).sum::<usize>());
            let hl = f.eth.buffer_len();
            let mut again = out.clone();
            ecpri::ip::fill_checksums(&mut again[hl..]).unwrap();
            assert_eq!(again, out, "{name}: checksums");
        }
    }
}

#[test]
fn already_in_the_wanted_form_passes() {
    let c = comp(CompMethod::Bfp, 9);
    let stat = uplane_frame(c, false, &[(0, 4)]).unwrap();
    let (v, out) = run("mode=\"strip\"\n", &stat, decode(c, false));
    assert_eq!((v, out), (verdict::FORWARD, stat));
    let dynamic = uplane_frame(c, true, &[(0, 4)]).unwrap();
    let (v, _) = run("mode=\"insert\"\nwidth=9\n", &dynamic, decode(c, true));
    assert_eq!(v, verdict::FORWARD);
    let (v, _) = run("mode=\"strip\"\ndirection=\"ul\"\n", &dynamic, decode(c, true));
    assert_eq!(v, verdict::FORWARD, "uplane_frame is DL");
}

#[test]
fn strip_refuses_sections_the_static_config_cannot_describe() {
    let dynamic = uplane_frame(comp(CompMethod::Bfp, 8), true, &[(0, 4)]).unwrap();
    let (v, out) = run("mode=\"strip\"\nwidth=9\n", &dynamic, decode(comp(CompMethod::Bfp, 8), true));
    assert_eq!((v, out), (verdict::FORWARD, dynamic));
    assert_eq!(counter("errors"), Some(1));
}

#[test]
fn short_frames_are_padded_to_60_bytes() {
    let c = comp(CompMethod::Bfp, 1);
    let dynamic = uplane_frame(c, true, &[(0, 1)]).unwrap();
    assert!(dynamic.len() <= 60, "{}", dynamic.len());
    let (_, out) = run("mode=\"strip\"\n", &dynamic, decode(c, true));
    assert_eq!(out.len(), 60);
    assert_eq!(sections(&out, &decode(c, false))[0].4, sections(&dynamic, &decode(c, true))[0].4);
}

#[test]
fn config_errors_name_keys() {
    let e = Harness::<ComphdrStatic>::new("").err().unwrap();
    assert_eq!(e.to_string(), "config key `mode`: missing");
    let e = Harness::<ComphdrStatic>::new("mode=\"insert\"\n").err().unwrap();
    assert_eq!(e.to_string(), "config key `width`: required to insert udCompHdr");
    let e = Harness::<ComphdrStatic>::new("mode=\"insert\"\nwidth=9\nmethod=\"zip\"\n").err().unwrap();
    assert!(e.to_string().starts_with("config key `method`"));
}
