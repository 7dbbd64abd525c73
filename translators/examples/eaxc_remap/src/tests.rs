use super::*;
use ecpri::frame::{DecodeConfig, FrameRepr};
use ecpri::samples::{catalog, Sample};
use fhgate_sdk::abi::verdict;
use fhgate_sdk::native::{counter, describe, Harness};

fn sample(name: &str) -> Sample {
    catalog().unwrap().into_iter().find(|s| s.name == name).unwrap()
}

/// The frame with the first message's eAxC ID set to `id`.
fn with_eaxc(s: &Sample, id: u16) -> Vec<u8> {
    let mut f = s.frame.clone();
    let at = describe(&f, &s.decode).ecpri_offset as usize + 4;
    f[at..at + 2].copy_from_slice(&id.to_be_bytes());
    f
}

/// The eAxC ID of every message, decoded.
fn eaxcs(frame: &[u8], d: &DecodeConfig) -> Vec<u16> {
    FrameRepr::parse(frame, d).unwrap().messages().iter().filter_map(|m| m.body.eaxc_and_seq()).map(|e| e.0).collect()
}

/// Checks that only the eAxC bytes changed.
fn only_eaxc_changed(a: &[u8], b: &[u8], d: &DecodeConfig) {
    let (fa, fb) = (FrameRepr::parse(a, d).unwrap(), FrameRepr::parse(b, d).unwrap());
    assert_eq!(a.len(), b.len());
    for (ma, mb) in fa.messages().iter().zip(fb.messages()) {
        assert_eq!(ma.header, mb.header);
        assert_eq!(ma.body.eaxc_and_seq().map(|e| e.1), mb.body.eaxc_and_seq().map(|e| e.1), "seqId kept");
    }
    let diff: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
    assert!(diff.len() <= 2 * fa.messages().len(), "only eAxC bytes differ: {diff:?}");
}

fn run(h: &mut Harness<EaxcRemap>, f: &[u8]) -> (u8, Vec<u8>) {
    let o = h.translate(f);
    (o.verdict, o.bytes)
}

#[test]
fn layouts_convert_fields() {
    let s = sample("uplane-bfp-9-hdr");
    let mut h = Harness::<EaxcRemap>::with_decode("from=\"4,4,4,4\"\nto=\"2,6,4,4\"\n", s.decode).unwrap();
    // DU 1, band sector 2, CC 3, RU port 4.
    let input = with_eaxc(&s, 0x1234);
    let (v, out) = run(&mut h, &input);
    assert_eq!(v, verdict::MODIFIED);
    assert_eq!(eaxcs(&out, &s.decode), [(1 << 14) | (2 << 8) | (3 << 4) | 4]);
    only_eaxc_changed(&input, &out, &s.decode);
    assert_eq!(counter("remapped"), Some(1));
}

#[test]
fn ul_uplane_is_mapped_back() {
    let s = sample("vlan-8021q"); // UL U-plane (dataDirection 0)
    let mut h = Harness::<EaxcRemap>::with_decode("from=\"4,4,4,4\"\nto=\"2,6,4,4\"\n", s.decode).unwrap();
    let (_, out) = run(&mut h, &with_eaxc(&s, 0x4234));
    assert_eq!(eaxcs(&out, &s.decode), [0x1234]);
    let mut h =
        Harness::<EaxcRemap>::with_decode("from=\"4,4,4,4\"\nto=\"2,6,4,4\"\nul=\"forward\"\n", s.decode).unwrap();
    let (_, out) = run(&mut h, &with_eaxc(&s, 0x1234));
    assert_eq!(eaxcs(&out, &s.decode), [0x4234]);
}

#[test]
fn explicit_map_wins_both_ways() {
    let dl = sample("uplane-bfp-9-hdr");
    let ul = sample("vlan-8021q");
    let cfg = "map.0x0001=0x0101\nmap.2=0x0F0F\nfrom=\"4,4,4,4\"\nto=\"2,6,4,4\"\n";
    let mut h = Harness::<EaxcRemap>::with_decode(cfg, dl.decode).unwrap();
    assert_eq!(eaxcs(&run(&mut h, &dl.frame).1, &dl.decode), [0x0101]);
    h.set_decode(ul.decode);
    assert_eq!(eaxcs(&run(&mut h, &with_eaxc(&ul, 0x0F0F)).1, &ul.decode), [0x0002]);
}

#[test]
fn prach_offset_learned_from_type3_and_undone_on_ul() {
    let c = sample("cplane-st3-prach"); // rtcid 0x0002, section type 3
    let ul = sample("vlan-8021q");
    let mut h = Harness::<EaxcRemap>::with_decode("prach_offset=4\n", c.decode).unwrap();
    let (v, out) = run(&mut h, &c.frame);
    assert_eq!(v, verdict::MODIFIED);
    assert_eq!(eaxcs(&out, &c.decode), [0x0006]);
    only_eaxc_changed(&c.frame, &out, &c.decode);
    assert_eq!(counter("prach_learned"), Some(1));
    // The UL PRACH U-plane comes back on RU port 6 and goes to the DU as 2.
    h.set_decode(ul.decode);
    assert_eq!(eaxcs(&run(&mut h, &with_eaxc(&ul, 0x0006)).1, &ul.decode), [0x0002]);
    // Other C-plane traffic on the same eAxC is PRACH too, once learned.
    let st1 = sample("cplane-st1");
    h.set_decode(st1.decode);
    assert_eq!(eaxcs(&run(&mut h, &st1.frame).1, &st1.decode), [0x0006]);
}

#[test]
fn prach_set_from_config() {
    let dl = sample("uplane-bfp-9-hdr"); // pcid 0x0001
    let ul = sample("vlan-8021q");
    let mut h =
        Harness::<EaxcRemap>::with_decode("prach_offset=8\nprach_eaxc=[0x0001, 3]\nprach_learn=false\n", ul.decode)
            .unwrap();
    // Before any DL traffic, the UL inverse already knows the PRACH ports.
    assert_eq!(eaxcs(&run(&mut h, &with_eaxc(&ul, 0x0009)).1, &ul.decode), [0x0001]);
    assert_eq!(eaxcs(&run(&mut h, &with_eaxc(&ul, 0x000B)).1, &ul.decode), [0x0003]);
    h.set_decode(dl.decode);
    assert_eq!(eaxcs(&run(&mut h, &dl.frame).1, &dl.decode), [0x0009]);
    let c = sample("cplane-st3-prach");
    h.set_decode(c.decode);
    // A type 3 message is PRACH by definition; with learning off, the
    // rest of its flow is not.
    assert_eq!(eaxcs(&run(&mut h, &c.frame).1, &c.decode), [0x000A]);
    h.set_decode(dl.decode);
    let (v, _) = run(&mut h, &with_eaxc(&dl, 0x0002));
    assert_eq!(v, verdict::FORWARD, "learning off: DL U-plane on 0x0002 is not PRACH");
}

#[test]
fn every_concatenated_message_is_mapped() {
    let s = sample("concatenated");
    let mut h = Harness::<EaxcRemap>::with_decode("map.1=0x00AB\n", s.decode).unwrap();
    let (_, out) = run(&mut h, &s.frame);
    // Both U-plane messages are UL: inverse of the map takes 0x00AB → 1; 1 itself maps by layout (identity).
    assert_eq!(eaxcs(&out, &s.decode), [1, 1]);
    let mut h = Harness::<EaxcRemap>::with_decode("map.1=0x00AB\nul=\"forward\"\n", s.decode).unwrap();
    let (_, out) = run(&mut h, &s.frame);
    assert_eq!(eaxcs(&out, &s.decode), [0xAB, 0xAB]);
    only_eaxc_changed(&s.frame, &out, &s.decode);
}

#[test]
fn over_udp_checksums_follow() {
    let s = sample("udp-ipv6");
    let mut h = Harness::<EaxcRemap>::with_decode("map.1=0x00AB\nul=\"forward\"\n", s.decode).unwrap();
    let (_, out) = run(&mut h, &s.frame);
    let f = FrameRepr::parse(&out, &s.decode).unwrap();
    let hl = f.eth.buffer_len();
    let mut again = out.clone();
    ecpri::ip::fill_checksums(&mut again[hl..]).unwrap();
    assert_eq!(again, out);
    assert_ne!(out, s.frame);
}

#[test]
fn unfit_ids_leave_the_frame_unchanged() {
    let s = sample("uplane-bfp-9-hdr");
    let mut h = Harness::<EaxcRemap>::with_decode("from=\"4,4,4,4\"\nto=\"2,6,4,4\"\n", s.decode).unwrap();
    let input = with_eaxc(&s, 0x4000); // DU port 4 needs 3 bits
    let (v, out) = run(&mut h, &input);
    assert_eq!((v, out), (verdict::FORWARD, input));
    assert_eq!(counter("errors"), Some(1));
}

#[test]
fn config_errors_name_keys() {
    let e = Harness::<EaxcRemap>::new("from=\"4,4,4\"\n").err().unwrap();
    assert!(e.to_string().starts_with("config key `from`: expected four widths"), "{e}");
    let e = Harness::<EaxcRemap>::new("map.zz=1\n").err().unwrap();
    assert!(e.to_string().starts_with("config key `map`"), "{e}");
    let e = Harness::<EaxcRemap>::new("map.1=0x10000\n").err().unwrap();
    assert!(e.to_string().starts_with("config key `map`"), "{e}");
    let e = Harness::<EaxcRemap>::new("ul=\"backward\"\n").err().unwrap();
    assert_eq!(e.to_string(), "config key `ul`: not one of the allowed values");
}
