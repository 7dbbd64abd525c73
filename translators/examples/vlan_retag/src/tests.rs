use super::*;
use fhgate_sdk::abi::verdict;
use fhgate_sdk::ecpri::frame::{DecodeConfig, FrameRepr};
use fhgate_sdk::ecpri::samples::{catalog, Sample};
use fhgate_sdk::native::{counter, Harness};

fn sample(name: &str) -> Sample {
    catalog().unwrap().into_iter().find(|s| s.name == name).unwrap()
}

/// Runs `config` over a sample; returns the output frame.
fn run(config: &str, s: &Sample) -> (u8, Vec<u8>) {
    let mut h = Harness::<VlanRetag>::with_decode(config, s.decode).unwrap();
    let o = h.translate(&s.frame);
    (o.verdict, o.bytes)
}

fn tags(frame: &[u8], d: &DecodeConfig) -> Vec<VlanTag> {
    FrameRepr::parse(frame, d).unwrap().eth.vlan_tags().to_vec()
}

/// Everything but the Ethernet header decodes the same.
fn same_payload(a: &[u8], b: &[u8], d: &DecodeConfig) {
    let (fa, fb) = (FrameRepr::parse(a, d).unwrap(), FrameRepr::parse(b, d).unwrap());
    assert_eq!(fa.payload, fb.payload);
    assert_eq!(fa.transport, fb.transport);
    assert_eq!(fa.eth.ethertype, fb.eth.ethertype);
}

#[test]
fn set_rewrites_the_innermost_tag() {
    let s = sample("vlan-qinq");
    let (v, out) = run("u_vlan=7\nu_pcp=5\n", &s);
    assert_eq!(v, verdict::MODIFIED);
    let t = tags(&out, &s.decode);
    assert_eq!(t[0], tags(&s.frame, &s.decode)[0], "outer tag untouched");
    assert_eq!((t[1].vid, t[1].pcp, t[1].tpid), (7, 5, TPID_8021Q));
    same_payload(&s.frame, &out, &s.decode);
    assert_eq!(counter("retagged"), Some(1));
}

#[test]
fn planes_are_separate() {
    let c = sample("cplane-st1");
    let (v, out) = run("u_vlan=7\nc_vlan=9\n", &c);
    assert_eq!(v, verdict::MODIFIED);
    assert_eq!(tags(&out, &c.decode)[0].vid, 9);
    assert_eq!(tags(&out, &c.decode)[0].pcp, 7, "PCP kept when not configured");
    let (v, _) = run("u_vlan=7\n", &c);
    assert_eq!(v, verdict::FORWARD, "no C-plane rule: untouched");
}

#[test]
fn add_then_strip_round_trips_over_udp() {
    let s = sample("udp-ipv4");
    let (_, added) = run("mode=\"add\"\nu_vlan=100\nu_pcp=7\n", &s);
    assert_eq!(added.len(), s.frame.len() + 4);
    let t = tags(&added, &s.decode);
    assert_eq!((t.len(), t[0].vid, t[0].pcp), (1, 100, 7));
    same_payload(&s.frame, &added, &s.decode);
    let mut h = Harness::<VlanRetag>::with_decode("mode=\"strip\"\n", s.decode).unwrap();
    let back = h.translate(&added);
    assert_eq!(back.bytes, s.frame);
    assert_eq!(counter("stripped"), Some(1));
}

#[test]
fn add_on_tagged_frame_pushes_an_outer_tag() {
    let s = sample("vlan-8021q");
    let (_, out) = run("mode=\"add\"\ntpid=0x88A8\nu_vlan=300\n", &s);
    let t = tags(&out, &s.decode);
    assert_eq!(t.len(), 2);
    assert_eq!((t[0].tpid, t[0].vid), (TPID_8021AD, 300));
    assert_eq!(t[1], tags(&s.frame, &s.decode)[0]);
    same_payload(&s.frame, &out, &s.decode);
}

#[test]
fn set_on_untagged_adds_and_strip_on_untagged_forwards() {
    let s = sample("uplane-bfp-9-hdr");
    let (_, out) = run("u_vlan=12\n", &s);
    assert_eq!(tags(&out, &s.decode)[0].vid, 12);
    let (v, out) = run("mode=\"strip\"\n", &s);
    assert_eq!((v, out), (verdict::FORWARD, s.frame.clone()));
}

#[test]
fn config_errors_name_keys() {
    let e = Harness::<VlanRetag>::new("u_vlan=5000\n").err().unwrap();
    assert_eq!(e.to_string(), "config key `u_vlan`: out of range 0..=4094");
    // 4095 is reserved by IEEE 802.1Q.
    let e = Harness::<VlanRetag>::new("u_vlan=4095\n").err().unwrap();
    assert_eq!(e.to_string(), "config key `u_vlan`: out of range 0..=4094");
    let e = Harness::<VlanRetag>::new("mode=\"add\"\nu_pcp=1\n").err().unwrap();
    assert_eq!(e.to_string(), "config key `u_vlan`: required when adding a tag");
    let e = Harness::<VlanRetag>::new("u_vlan=5\nc_valn=3\n").err().unwrap();
    assert_eq!(e.to_string(), "config key `c_valn`: unknown key");
    assert!(FHGATE_META.starts_with("name=vlan_retag\nversion=1.0.0\nplanes=u,c\n"));
}
