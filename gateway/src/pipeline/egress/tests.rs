//! Egress tests: frames are built with `ecpri`'s `Repr`s, run through
//! [`Egress`], and every output is decoded again with `FrameRepr::parse`.

use std::collections::BTreeMap;

use ecpri::ethernet::{EthernetRepr, VlanTag, ETHERTYPE_ECPRI, ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use ecpri::frame::{Body, DecodeConfig, FrameRepr, MessageRepr, Payload, Transport};
use ecpri::header::HeaderRepr;
use ecpri::ip::{IpRepr, Ipv4Repr, Ipv6Repr, UdpRepr, PROTO_UDP};
use ecpri::owd::OwdRepr;
use ecpri::uplane::{AppHeader, CompHdrMode, UplaneConfig};
use ecpri::{CompMethod, SeqId, UdCompHdr};
use ecpri::bits::set_be16;
use ecpri::header::message_type;
use ecpri::uplane::{self, SectionRepr};
use proptest::prelude::*;

use super::*;
use crate::pipeline::stats::Stats;
use crate::translate::{BufPool, Burst};

const PORT: u16 = 0xAEFE;
const BFP8: UdCompHdr = UdCompHdr::new(CompMethod::Bfp, 8);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Net {
    Eth,
    V4,
    V6,
}

/// One U-plane message to build.
#[derive(Debug, Clone)]
struct Spec {
    comp: UdCompHdr,
    comp_hdr: bool,
    /// (startPrbu, numPrbu); numPrbu 0 is the whole carrier.
    ranges: Vec<(u16, u8)>,
    rb: bool,
    carrier: u16,
    eaxc: u16,
    symbol: u8,
    seq: u8,
}

impl Spec {
    fn new(comp: UdCompHdr, comp_hdr: bool, ranges: &[(u16, u8)]) -> Self {
        Spec { comp, comp_hdr, ranges: ranges.to_vec(), rb: false, carrier: 273, eaxc: 1, symbol: 3, seq: 42 }
    }

    fn decode(&self, net: Net) -> DecodeConfig {
        DecodeConfig {
            dl_comp: self.comp,
            ul_comp: self.comp,
            comp_hdr: if self.comp_hdr { CompHdrMode::Present } else { CompHdrMode::Absent },
            udp_port: (net != Net::Eth).then_some(PORT),
            carrier_prbs: self.carrier,
            ..DecodeConfig::default()
        }
    }

    fn prbs(&self) -> usize {
        self.ranges.iter().map(|r| uplane::prb_count(r.1, self.carrier)).sum()
    }

    /// The compressed IQ of every PRB, in section order.
    fn iq(&self) -> Vec<u8> {
        let n = self.prbs();
        let mut iq = vec![0u8; n * self.comp.prb_len().unwrap()];
        ecpri::iq::compress(self.comp, ecpri::iq::Rounding::Truncate, &ecpri::samples::test_samples(n, self.eaxc as u32 + self.symbol as u32), &mut iq).unwrap();
        iq
    }

    fn message<'a>(&self, iq: &'a [u8]) -> MessageRepr<'a> {
        let prb_len = self.comp.prb_len().unwrap();
        let mut at = 0;
        let sections = self
            .ranges
            .iter()
            .enumerate()
            .map(|(i, &(start, n))| {
                let len = uplane::prb_count(n, self.carrier) * prb_len;
                at += len;
                SectionRepr {
                    section_id: 1 + i as u16,
                    rb: self.rb,
                    sym_inc: false,
                    start_prbu: start,
                    num_prbu: n,
                    ud_comp_hdr: self.comp_hdr.then_some((self.comp, 0)),
                    iq_data: &iq[at - len..at],
                }
            })
            .collect();
        let header = AppHeader { data_direction: 1, payload_version: 1, filter_index: 0, frame_id: 9, subframe_id: 4, slot_id: 1, symbol_id: self.symbol };
        let cfg = UplaneConfig { static_comp: self.comp, comp_hdr: if self.comp_hdr { CompHdrMode::Present } else { CompHdrMode::Absent }, carrier_prbs: self.carrier };
        MessageRepr {
            header: HeaderRepr::new(message_type::IQ_DATA, 0),
            body: Body::IqData { pc_id: self.eaxc, seq_id: SeqId::whole(self.seq), uplane: uplane::MessageRepr { header, sections }, cfg },
            padding: &[],
        }
    }
}

/// A frame of `messages` on `net`, VLAN-tagged if `vlan`, lengths and checksums right.
fn frame_of(messages: Vec<MessageRepr<'_>>, net: Net, vlan: Option<u16>) -> Vec<u8> {
    let ethertype = match net {
        Net::Eth => ETHERTYPE_ECPRI,
        Net::V4 => ETHERTYPE_IPV4,
        Net::V6 => ETHERTYPE_IPV6,
    };
    let mut eth = EthernetRepr::new([0x02, 0, 0, 0, 0x20, 1], [0x02, 0, 0, 0, 0xD0, 1], ethertype);
    if let Some(v) = vlan {
        eth.push_tag(VlanTag::c_tag(v, 7)).unwrap();
    }
    let udp = UdpRepr { src_port: 40000, dst_port: PORT, length: 0, checksum: 1 };
    let transport = match net {
        Net::Eth => None,
        Net::V4 => Some(Transport {
            ip: IpRepr::V4(Ipv4Repr { tos: 0xB8, total_len: 0, ident: 7, flags_frag: 0x4000, ttl: 64, protocol: PROTO_UDP, checksum: 0, src: [192, 0, 2, 1], dst: [192, 0, 2, 2], options: &[] }),
            udp,
        }),
        Net::V6 => Some(Transport {
            ip: IpRepr::V6(Ipv6Repr { ver_tc_flow: 0x6000_0000, payload_len: 0, next_header: PROTO_UDP, hop_limit: 64, src: [0x20; 16], dst: [0x21; 16] }),
            udp,
        }),
    };
    let mut f = FrameRepr { eth, transport, payload: Payload::Ecpri(messages), trailer: &[] };
    f.finalize().unwrap();
    f.to_bytes().unwrap()
}

fn build(spec: &Spec, net: Net, vlan: Option<u16>) -> Vec<u8> {
    let iq = spec.iq();
    frame_of(vec![spec.message(&iq)], net, vlan)
}

/// Key of one PRB: eAxC, symbol, PRB index.
type PrbKey = (u16, u8, usize);

/// Every PRB of every U-plane message of `f`, with its udCompHdr presence
/// and its bytes (udCompParam + IQ).
fn prbs_of(f: &FrameRepr<'_>, d: &DecodeConfig) -> Vec<(PrbKey, bool, Vec<u8>)> {
    let mut out = Vec::new();
    for m in f.messages() {
        if let Body::IqData { pc_id, uplane, cfg, .. } = &m.body {
            for s in &uplane.sections {
                let prb_len = s.comp(cfg.static_comp).prb_len().unwrap();
                for i in 0..s.prb_count(d.carrier_prbs) {
                    let prb = s.start_prbu as usize + i * if s.rb { 2 } else { 1 };
                    out.push(((*pc_id, uplane.header.symbol_id, prb), s.ud_comp_hdr.is_some(), s.iq_data[i * prb_len..(i + 1) * prb_len].to_vec()));
                }
            }
        }
    }
    out
}

/// Checks that `pieces` are valid frames within `mtu` that together carry
/// exactly the PRBs of `orig`, each once and byte-identical, with the
/// original Ethernet header, transport and application header.
fn check_split(orig: &[u8], pieces: &[Vec<u8>], d: &DecodeConfig, mtu: usize) {
    let o = FrameRepr::parse(orig, d).unwrap();
    let want: BTreeMap<PrbKey, (bool, Vec<u8>)> = prbs_of(&o, d).into_iter().map(|(k, h, b)| (k, (h, b))).collect();
    let mut got: BTreeMap<PrbKey, (bool, Vec<u8>)> = BTreeMap::new();
    let eth_len = o.eth.buffer_len();
    for p in pieces {
        // Padding to the 60-byte minimum is not payload (any real MTU is at least 46).
        assert!(p.len() == MIN_FRAME || p.len() - eth_len <= mtu, "piece of {} bytes exceeds MTU {mtu}", p.len());
        let f = FrameRepr::parse(p, d).unwrap_or_else(|e| panic!("piece does not decode: {e}"));
        assert_eq!(f.eth, o.eth);
        // Nothing after the messages but the zeros that pad a short piece to 60 bytes.
        assert!(f.trailer.is_empty() || (p.len() == MIN_FRAME && f.trailer.iter().all(|&b| b == 0)), "trailer {:?}", f.trailer);
        assert_eq!(f.transport.is_some(), o.transport.is_some());
        // Lengths, ecpriPayload, C bits, padding and checksums are exactly
        // what a freshly built frame would carry.
        let mut canon = f.clone();
        canon.finalize().unwrap();
        assert_eq!(&canon.to_bytes().unwrap(), p, "piece is not canonical");
        for m in f.messages() {
            if let Body::IqData { seq_id, .. } = &m.body {
                assert!(seq_id.e_bit && seq_id.subseq_id == 0);
            }
        }
        for (k, h, b) in prbs_of(&f, d) {
            assert!(got.insert(k, (h, b)).is_none(), "PRB {k:?} sent twice");
        }
    }
    assert_eq!(got.len(), want.len(), "PRBs lost");
    assert!(got == want, "PRB bytes or udCompHdr presence differ");
}

fn egress(mtu: usize, d: DecodeConfig) -> Egress {
    Egress::new(EgressConfig::new(mtu, d), d)
}

/// Runs one frame through `e`; returns the frames that leave.
fn run(e: &mut Egress, frame: &[u8]) -> Result<Vec<Vec<u8>>, EgressError> {
    let mut sink = SplitBuf::new(MAX_PIECES, 16_384);
    let mut buf = frame.to_vec();
    Ok(match e.process_frame(&mut buf, &mut sink)? {
        Emitted::InPlace { len } => vec![buf[..len].to_vec()],
        Emitted::Split { pieces } => {
            assert_eq!(pieces, sink.len());
            sink.iter().map(|p| p.to_vec()).collect()
        }
    })
}

#[test]
fn splits_a_273_prb_bfp8_symbol_under_1500() {
    for comp_hdr in [true, false] {
        // numPrbu = 0: the whole carrier, 273 PRBs from DecodeConfig.
        let spec = Spec::new(BFP8, comp_hdr, &[(0, 0)]);
        let d = spec.decode(Net::Eth);
        let f = build(&spec, Net::Eth, None);
        assert!(f.len() > 6000);
        let mut e = egress(1500, d);
        let out = run(&mut e, &f).unwrap();
        // 25 bytes a PRB: (1500 - 12 - section header) / 25 PRBs a piece.
        let per = (1500 - 12 - if comp_hdr { 6 } else { 4 }) / 25;
        assert_eq!(out.len(), 273usize.div_ceil(per));
        check_split(&f, &out, &d, 1500);
        let first = FrameRepr::parse(&out[0], &d).unwrap();
        let Body::IqData { uplane, .. } = &first.messages()[0].body else { panic!() };
        assert_eq!((uplane.sections[0].start_prbu, uplane.sections[0].num_prbu as usize), (0, per));
        assert_eq!(e.stats().split, 1);
        assert_eq!(e.stats().pieces, out.len() as u64);
    }
}

#[test]
fn splits_with_vlan_and_over_udp_v4_and_v6() {
    for (net, vlan) in [(Net::Eth, Some(7)), (Net::V4, None), (Net::V4, Some(3)), (Net::V6, Some(12))] {
        for comp_hdr in [true, false] {
            let spec = Spec::new(BFP8, comp_hdr, &[(0, 255), (255, 18)]);
            let d = spec.decode(net);
            let f = build(&spec, net, vlan);
            let mut e = egress(1500, d);
            let out = run(&mut e, &f).unwrap();
            assert!(out.len() >= 5, "{net:?}");
            check_split(&f, &out, &d, 1500);
            if net != Net::Eth {
                // The transport headers take room too.
                let overhead = if net == Net::V4 { 28 } else { 48 };
                for p in &out {
                    assert!(p.len() - 14 - 4 * vlan.is_some() as usize <= 1500);
                    let fr = FrameRepr::parse(p, &d).unwrap();
                    let t = fr.transport.unwrap();
                    assert_eq!(t.udp.length as usize, p.len() - 14 - 4 * vlan.is_some() as usize - (overhead - 8));
                }
            }
        }
    }
}

#[test]
fn multi_section_messages_are_packed_greedily() {
    let ranges: Vec<(u16, u8)> = (0..10).map(|i| (i * 20, 20)).collect();
    let comp = UdCompHdr::new(CompMethod::Bfp, 9);
    let spec = Spec::new(comp, true, &ranges);
    let d = spec.decode(Net::Eth);
    let f = build(&spec, Net::Eth, Some(1));
    let mut e = egress(1000, d);
    let out = run(&mut e, &f).unwrap();
    check_split(&f, &out, &d, 1000);
    // Every piece but the last is full: not even one more PRB would fit.
    for p in &out[..out.len() - 1] {
        assert!(1000 - (p.len() - 18) < 6 + 28, "piece of {} bytes could hold more", p.len());
    }
    let bytes = 200 * 28 + 10 * 6;
    assert!(out.len() <= bytes / (1000 - 12 - 6 * 3) + 1, "{} pieces", out.len());
    // Sections keep their sectionId across pieces.
    let ids: Vec<u16> = out
        .iter()
        .flat_map(|p| {
            let fr = FrameRepr::parse(p, &d).unwrap();
            let Body::IqData { uplane, .. } = &fr.messages()[0].body else { panic!() };
            uplane.sections.iter().map(|s| s.section_id).collect::<Vec<_>>()
        })
        .collect();
    let mut dedup = ids.clone();
    dedup.dedup();
    assert_eq!(dedup, (1..=10).collect::<Vec<u16>>());
}

#[test]
fn every_other_prb_sections_split_on_their_own_grid() {
    let mut spec = Spec::new(UdCompHdr::new(CompMethod::None, 16), false, &[(1, 100)]);
    spec.rb = true;
    let d = spec.decode(Net::Eth);
    let f = build(&spec, Net::Eth, None);
    let out = run(&mut egress(1500, d), &f).unwrap();
    assert_eq!(out.len(), 4);
    check_split(&f, &out, &d, 1500);
}

#[test]
fn frames_that_fit_pass_in_place() {
    let spec = Spec::new(BFP8, true, &[(0, 40)]);
    let d = spec.decode(Net::V4);
    let f = build(&spec, Net::V4, Some(5));
    let mut off = Egress::new(EgressConfig::new(1500, d).with_seq_id_mode(SeqIdMode::Off), d);
    assert_eq!(run(&mut off, &f).unwrap(), vec![f.clone()], "unchanged, byte for byte");
    // Renumbering on: nothing split, so the sender's sequence IDs stay too.
    let mut on = egress(1500, d);
    for _ in 0..3 {
        assert_eq!(run(&mut on, &f).unwrap(), vec![f.clone()], "unchanged, byte for byte");
    }
    assert_eq!(on.stats().renumbered, 0);
}

/// Per flow (direction, plane, eAxC): the sequence IDs of `frames` in order.
fn seq_ids(frames: &[Vec<u8>], d: &DecodeConfig) -> BTreeMap<(u8, u8, u16), Vec<u8>> {
    let mut m: BTreeMap<(u8, u8, u16), Vec<u8>> = BTreeMap::new();
    for f in frames {
        for msg in FrameRepr::parse(f, d).unwrap().messages() {
            let (id, s) = msg.body.eaxc_and_seq().unwrap();
            assert!(s.e_bit && s.subseq_id == 0);
            m.entry((1, msg.header.message_type, id)).or_default().push(s.seq_id);
        }
    }
    m
}

#[test]
fn sequence_ids_pass_until_a_split_and_then_move_by_the_packets_added() {
    let d = Spec::new(BFP8, true, &[]).decode(Net::Eth);
    let cplane = ecpri::samples::cplane_type1_frame(2).unwrap();
    // Per flow (eAxC 1 and 2 U-plane, the C-plane flow): the sender's IDs
    // in order, and for each message how many pieces it leaves as.
    let mut input = Vec::new();
    let mut sent: BTreeMap<(u8, u8, u16), Vec<(u8, usize)>> = BTreeMap::new();
    for sym in 0..60u8 {
        for eaxc in [1u16, 2] {
            // Symbols 5 and 6 of eAxC 2 were dropped upstream: a gap the
            // receiver must still see.
            if eaxc == 2 && (5..7).contains(&sym) {
                continue;
            }
            // The DU numbers from 9; eAxC 1 sends a whole carrier (split
            // under 1500) every 10th symbol, 40 PRBs (no split) otherwise.
            let whole = eaxc == 1 && sym % 10 == 0;
            let mut s = Spec::new(BFP8, true, &[(0, if whole { 0 } else { 40 })]);
            (s.eaxc, s.symbol, s.seq) = (eaxc, sym % 14, sym.wrapping_add(9));
            input.push(build(&s, Net::Eth, None));
            sent.entry((1, message_type::IQ_DATA, eaxc)).or_default().push((s.seq, input.len() - 1));
        }
        if sym % 10 == 0 {
            let mut c = cplane.clone();
            c[14 + 6] = sym / 10 + 200;
            input.push(c);
            sent.entry((1, message_type::RT_CONTROL, 0)).or_default().push((sym / 10 + 200, input.len() - 1));
        }
    }
    let mut e = egress(1500, d);
    let mut out = Vec::new();
    let mut pieces_of = Vec::new();
    for f in &input {
        let o = run(&mut e, f).unwrap();
        if o.len() > 1 {
            check_split(f, &o, &d, 1500);
        }
        pieces_of.push(o.len());
        out.extend(o);
    }
    let got = seq_ids(&out, &d);
    // The reference: a message with ID s split into k pieces leaves as
    // s+o, ..., s+o+k-1, and o (the flow's offset, 0 at first) grows by k-1.
    for (k, msgs) in &sent {
        let mut want = Vec::new();
        let mut o = 0u8;
        for &(s, i) in msgs {
            let pieces = pieces_of[i];
            for j in 0..pieces {
                want.push(s.wrapping_add(o).wrapping_add(j as u8));
            }
            o = o.wrapping_add(pieces as u8 - 1);
        }
        let k = (k.0, k.1, if k.1 == message_type::RT_CONTROL { got.keys().find(|g| g.1 == k.1).unwrap().2 } else { k.2 });
        assert_eq!(got[&k], want, "flow {k:?}");
    }
    assert_eq!(got.len(), 3, "two U-plane flows and one C-plane flow");
    // eAxC 2 never split: its IDs, gap included, are the DU's own.
    assert_eq!(got[&(1, 0, 2)][..6], [9, 10, 11, 12, 13, 16]);
    // eAxC 1: the first symbol split into 5 pieces (9..=13), then 10 -> 14.
    assert_eq!(pieces_of[0], 5);
    assert_eq!(got[&(1, 0, 1)][..7], [9, 10, 11, 12, 13, 14, 15]);

    // Off: every piece keeps its message's sequence ID.
    let mut off = Egress::new(EgressConfig::new(1500, d).with_seq_id_mode(SeqIdMode::Off), d);
    let mut s = Spec::new(BFP8, true, &[(0, 0)]);
    s.seq = 200;
    let pieces = run(&mut off, &build(&s, Net::Eth, None)).unwrap();
    assert!(seq_ids(&pieces, &d)[&(1, 0, 1)].iter().all(|&x| x == 200));
}

#[test]
fn ecpri_payload_is_made_to_match_the_content() {
    let spec = Spec::new(BFP8, true, &[(0, 10), (10, 10)]);
    let d = spec.decode(Net::V6);
    let good = build(&spec, Net::V6, None);
    let ecpri_at = 14 + 40 + 8;
    let mut e = egress(1500, d);
    // A translator appended the second section but left ecpriPayload and
    // the IP and UDP lengths as they were.
    let mut short = good.clone();
    let one_section = 4 + 4 + 6 + 10 * 25;
    set_be16(&mut short, ecpri_at + 2, one_section as u16);
    set_be16(&mut short, 14 + 4, (8 + 4 + one_section) as u16);
    set_be16(&mut short, 14 + 40 + 4, (8 + 4 + one_section) as u16);
    let mut off_cfg = EgressConfig::new(1500, d).with_seq_id_mode(SeqIdMode::Off);
    let mut off = Egress::new(off_cfg, d);
    assert_eq!(run(&mut off, &short).unwrap(), vec![good.clone()]);
    assert_eq!(off.stats().sizes_fixed, 1);
    // Larger than the frame (a translator shrank the sections).
    let mut long = good.clone();
    set_be16(&mut long, ecpri_at + 2, 9999);
    assert_eq!(run(&mut off, &long).unwrap(), vec![good.clone()]);
    // Trailing Ethernet padding (kept), and a C bit on the last message (cleared).
    let mut padded = good.clone();
    padded[ecpri_at] |= 1;
    padded.extend_from_slice(&[0; 20]);
    let mut want = good.clone();
    want.extend_from_slice(&[0; 20]);
    assert_eq!(run(&mut off, &padded).unwrap(), vec![want]);
    assert_eq!((off.stats().sizes_fixed, off.stats().cbits_fixed, off.stats().bytes_trimmed), (2, 1, 0));
    // A truncated frame is not "repaired" into a shorter one.
    let cut = &good[..good.len() - 7];
    let err = run(&mut e, cut).unwrap_err();
    assert_eq!((err.kind, err.field, err.offset), (EgressErrorKind::PayloadSize, "ecpri.size", ecpri_at + 2));

    // Concatenated: U-plane, one-way delay, U-plane; the first one's size is wrong.
    let iq = spec.iq();
    let owd = OwdRepr { measurement_id: 1, action_type: 0, seconds: 5, nanoseconds: 6, compensation: 0, dummy: &[] };
    let owd_msg = MessageRepr { header: HeaderRepr::new(message_type::ONE_WAY_DELAY, 0), body: Body::OneWayDelay(owd), padding: &[] };
    let mut second = spec.clone();
    second.eaxc = 2;
    let iq2 = second.iq();
    let d = spec.decode(Net::Eth);
    let concat = frame_of(vec![spec.message(&iq), owd_msg, second.message(&iq2)], Net::Eth, None);
    let mut bad = concat.clone();
    set_be16(&mut bad, 14 + 2, 100);
    off_cfg.decode = d;
    let mut off = Egress::new(off_cfg, d);
    assert_eq!(run(&mut off, &bad).unwrap(), vec![concat.clone()]);
    // C-plane: sections walked against numberOfSections.
    let c = ecpri::samples::cplane_type1_frame(3).unwrap();
    let mut bad = c.clone();
    set_be16(&mut bad, 14 + 2, 12);
    assert_eq!(run(&mut off, &bad).unwrap(), vec![c]);
}

#[test]
fn concatenated_frames_are_repacked_message_by_message() {
    let big = Spec::new(UdCompHdr::new(CompMethod::Bfp, 9), true, &[(0, 100)]);
    let mut small = Spec::new(UdCompHdr::new(CompMethod::Bfp, 9), true, &[(0, 7)]);
    small.eaxc = 3;
    let (iq1, iq2) = (big.iq(), small.iq());
    let owd = OwdRepr { measurement_id: 1, action_type: 0, seconds: 5, nanoseconds: 6, compensation: 0, dummy: &[1, 2, 3] };
    let owd_msg = MessageRepr { header: HeaderRepr::new(message_type::ONE_WAY_DELAY, 0), body: Body::OneWayDelay(owd), padding: &[] };
    let f = frame_of(vec![big.message(&iq1), owd_msg, small.message(&iq2)], Net::V4, None);
    let d = big.decode(Net::V4);
    let mut e = egress(1200, d);
    let out = run(&mut e, &f).unwrap();
    check_split(&f, &out, &d, 1200);
    let kinds: Vec<Vec<u8>> = out.iter().map(|p| FrameRepr::parse(p, &d).unwrap().messages().iter().map(|m| m.header.message_type).collect()).collect();
    assert_eq!(kinds.iter().flatten().filter(|&&t| t == message_type::ONE_WAY_DELAY).count(), 1);
    assert!(kinds.iter().any(|k| k.len() > 1), "small messages share the last piece's frame: {kinds:?}");
}

#[test]
fn unsplittable_packets_are_errors_with_field_and_offset() {
    let d = Spec::new(BFP8, true, &[]).decode(Net::Eth);
    let mut e = egress(100, d);
    // A C-plane message larger than the MTU.
    let c = ecpri::samples::cplane_type1_frame(20).unwrap();
    let err = run(&mut e, &c).unwrap_err();
    assert_eq!((err.kind, err.field, err.offset), (EgressErrorKind::NotSplittable, "ecpri.type", 15));
    // One uncompressed PRB (48 bytes) and its headers exceed a 60-byte MTU.
    let spec = Spec::new(UdCompHdr::UNCOMPRESSED, true, &[(0, 4)]);
    let mut e60 = egress(60, spec.decode(Net::Eth));
    let err = run(&mut e60, &build(&spec, Net::Eth, None)).unwrap_err();
    assert_eq!((err.kind, err.field, err.offset), (EgressErrorKind::PrbTooLarge, "oran_fh_cus.iq_user_data", 14 + 12 + 6));
    // An unknown eCPRI revision.
    let mut bad = build(&Spec::new(BFP8, true, &[(0, 10)]), Net::Eth, None);
    bad[14] = 0x20;
    let err = run(&mut e, &bad).unwrap_err();
    assert_eq!((err.kind, err.offset), (EgressErrorKind::Malformed, 14));
    assert!(err.to_string().contains("revision"), "{err}");
    // Non-eCPRI traffic larger than the MTU.
    let mut ptp = vec![0x01, 0x1B, 0x19, 0, 0, 0, 0x02, 0, 0, 0, 0, 1, 0x88, 0xF7];
    ptp.extend([0u8; 200]);
    let err = run(&mut e, &ptp).unwrap_err();
    assert_eq!((err.kind, err.field), (EgressErrorKind::NotSplittable, "eth.type"));
    ptp.truncate(60);
    assert_eq!(run(&mut e, &ptp).unwrap(), vec![ptp.clone()], "small non-eCPRI frames pass");
    // symInc makes a section's symbol depend on the sections before it.
    let mut s = build(&Spec::new(BFP8, true, &[(0, 40)]), Net::Eth, None);
    s[14 + 12 + 1] |= 0x04;
    let err = run(&mut e, &s).unwrap_err();
    assert_eq!((err.kind, err.field), (EgressErrorKind::NotSplittable, "oran_fh_cus.symInc"));
    // Shorter than an Ethernet header.
    for n in 0..14 {
        let _ = run(&mut e, &vec![0xAEu8; n]);
    }
    assert_eq!(e.stats().errors_of(EgressErrorKind::NotSplittable), 3);
    assert_eq!(e.stats().errors_of(EgressErrorKind::Malformed), 1 + 14);
    assert_eq!(e.last_error().map(|e| e.kind), Some(EgressErrorKind::Malformed));
}

#[test]
fn a_burst_is_processed_in_order_with_pieces_in_place_of_their_parent() {
    let spec = Spec::new(BFP8, true, &[(0, 0)]);
    let d = spec.decode(Net::Eth);
    let mut pool = BufPool::new(32);
    let mut burst = Burst::new();
    let small = build(&Spec::new(BFP8, true, &[(0, 10)]), Net::Eth, None);
    let big = build(&spec, Net::Eth, None);
    // Not eCPRI and larger than the MTU: cannot be split.
    let mut jumbo = vec![0x01, 0x1B, 0x19, 0, 0, 0, 0x02, 0, 0, 0, 0, 1, 0x88, 0xF7];
    jumbo.extend([0u8; 2000]);
    for (i, f) in [&small, &big, &jumbo, &small].into_iter().enumerate() {
        let mut p = Packet::from_frame(&mut pool, f, &d, 1).unwrap();
        p.time_ns = 1000 + i as u64;
        burst.push(p).map_err(|_| ()).unwrap();
    }
    let mut e = egress(1500, d);
    let mut stats = Stats::default();
    let r = e.process(&mut burst, &mut pool, &mut stats);
    assert_eq!((r.packets_in, r.split, r.oversize, r.dropped, r.forwarded_with_error), (4, 1, 1, 1, 0));
    assert_eq!(r.packets_out, 2 + 5);
    // The jumbo frame did not classify: it bypassed everything, and the
    // oversize policy (drop, the default) took it.
    assert_eq!(stats.oversize.get("dropped"), Some(&1));
    assert!(stats.egress_errors.is_empty());
    let times: Vec<u64> = burst.packets().iter().map(|p| p.time_ns).collect();
    assert_eq!(times, [1000, 1001, 1001, 1001, 1001, 1001, 1003]);
    let frames: Vec<Vec<u8>> = burst.packets().iter().map(|p| p.data().to_vec()).collect();
    check_split(&big, &frames[1..6], &d, 1500);
    assert!(burst.packets()[1].desc.is_some(), "pieces are classified");
    burst.recycle(&mut pool);
    assert_eq!(pool.available(), 32, "every buffer is back");
}

/// Runs `frames` through `e` as one burst; returns the frames that leave.
fn run_burst(e: &mut Egress, frames: &[Vec<u8>], d: &DecodeConfig, translated: bool, stats: &mut Stats) -> Vec<Vec<u8>> {
    let mut pool = BufPool::new(64);
    let mut burst = Burst::new();
    for f in frames {
        let mut p = Packet::from_frame(&mut pool, f, d, 1).unwrap();
        if translated {
            // As a translator's output: reclassified, not pristine.
            p.reclassify(d);
        }
        burst.push(p).map_err(|_| ()).unwrap();
    }
    e.process(&mut burst, &mut pool, stats);
    burst.packets().iter().map(|p| p.data().to_vec()).collect()
}

/// A translator widened static BFP 9 to 12, and egress was not told: it
/// must not read the 12-bit sections as 9-bit ones and "repair",
/// split or renumber the message, but forward it as it is, counted with
/// its flow and the field; too large for the MTU, the oversize policy
/// decides.
#[test]
fn output_in_another_format_is_never_rewritten() {
    let wide = Spec::new(UdCompHdr::new(CompMethod::Bfp, 12), false, &[(0, 10)]);
    let big = Spec::new(UdCompHdr::new(CompMethod::Bfp, 12), false, &[(0, 100)]);
    // Egress reads U-plane as the ingress did: BFP 9, no udCompHdr.
    let d = Spec::new(UdCompHdr::new(CompMethod::Bfp, 9), false, &[]).decode(Net::Eth);
    let (small_f, big_f) = (build(&wide, Net::Eth, None), build(&big, Net::Eth, None));
    assert!(big_f.len() > 1500 + 14);
    let mut e = egress(1500, d);
    for f in [&small_f, &big_f] {
        let err = run(&mut e, f).unwrap_err();
        assert_eq!((err.kind, err.field, err.offset), (EgressErrorKind::FormatMismatch, "ecpri.size", 14 + 2), "{err}");
        assert!(err.to_string().contains("egress format"), "{err}");
    }
    assert!(EgressErrorKind::FormatMismatch.hint().unwrap().contains("--egress-dl-comp"));
    for (policy, want) in [(OversizePolicy::Forward, vec![small_f.clone(), big_f.clone()]), (OversizePolicy::Drop, vec![small_f.clone()])] {
        let mut e = Egress::new(EgressConfig { oversize: policy, ..EgressConfig::new(1500, d) }, d);
        let mut stats = Stats::default();
        let out = run_burst(&mut e, &[small_f.clone(), big_f.clone()], &d, true, &mut stats);
        assert_eq!(out, want, "{policy:?}: unchanged, byte for byte, never split");
        assert_eq!(stats.egress_errors.get("format_mismatch"), Some(&2));
        let flow = FlowKey { direction: 1, plane: 0, eaxc: 1, vlan: 0xFFFF };
        assert_eq!(stats.egress_error_flows.get(&("format_mismatch", "ecpri.size", Some(flow))), Some(&2), "{:?}", stats.egress_error_flows);
        assert_eq!(stats.oversize.get(policy.outcome()), Some(&1));
        assert_eq!(e.stats().split, 0);
    }
    // Told the format, egress splits the same frame into valid pieces.
    let told = DecodeConfig { dl_comp: UdCompHdr::new(CompMethod::Bfp, 12), ..d };
    let mut e = Egress::new(EgressConfig::new(1500, told), d);
    let out = run_burst(&mut e, &[big_f.clone()], &d, true, &mut Stats::default());
    check_split(&big_f, &out, &told, 1500);
}

/// Frames keep their Ethernet padding; none leaves shorter than 60 bytes,
/// split pieces included.
#[test]
fn padding_is_kept_and_short_frames_are_padded() {
    let c = ecpri::samples::cplane_type1_frame(1).unwrap();
    assert!(c.len() < 60, "the sample is a runt: {}", c.len());
    let mut padded = c.clone();
    padded.resize(64, 0);
    let d = Spec::new(BFP8, true, &[]).decode(Net::Eth);
    let mut e = egress(1500, d);
    let mut stats = Stats::default();
    for translated in [false, true] {
        let out = run_burst(&mut e, &[padded.clone(), c.clone()], &d, translated, &mut stats);
        assert_eq!(out[0], padded, "64 bytes in, the same 64 out");
        assert_eq!(out[1].len(), 60);
        assert_eq!(&out[1][..c.len()], &c[..]);
        assert!(out[1][c.len()..].iter().all(|&b| b == 0));
    }
    // Pieces of 57 bytes are padded to 60, and still decode.
    let spec = Spec::new(BFP8, true, &[(0, 4)]);
    let f = build(&spec, Net::Eth, None);
    let out = run(&mut egress(43, d), &f).unwrap();
    assert_eq!(out.len(), 4);
    for p in &out {
        assert_eq!(p.len(), 60);
        assert!(FrameRepr::parse(p, &d).is_ok());
    }
    let unpadded: Vec<Vec<u8>> = out.iter().map(|p| p[..57].to_vec()).collect();
    check_split(&f, &unpadded, &d, 43);
}

/// Frames that did not classify on ingress keep their place and bytes;
/// past the MTU, the oversize policy drops, forwards or cuts them.
#[test]
fn unclassified_frames_keep_their_place_and_meet_the_oversize_policy() {
    let spec = Spec::new(BFP8, true, &[(0, 10)]);
    let d = spec.decode(Net::Eth);
    let good = build(&spec, Net::Eth, None);
    // Truncated inside its section: does not classify.
    let bad = good[..good.len() - 30].to_vec();
    let mut jumbo = good.clone();
    jumbo.resize(9600, 0xA5);
    set_be16(&mut jumbo, 14 + 2, 9000);
    for (policy, jumbo_out) in [(OversizePolicy::Drop, None), (OversizePolicy::Forward, Some(9600)), (OversizePolicy::Cut, Some(14 + 1500))] {
        let mut e = Egress::new(EgressConfig { oversize: policy, ..EgressConfig::new(1500, d) }, d);
        let mut stats = Stats::default();
        let out = run_burst(&mut e, &[good.clone(), bad.clone(), jumbo.clone(), good.clone()], &d, false, &mut stats);
        assert_eq!(out[0], good);
        assert_eq!(out[1], bad, "in its place, untouched");
        match jumbo_out {
            None => assert_eq!(out.len(), 3),
            Some(n) => {
                assert_eq!(out[2].len(), n);
                assert_eq!(&out[2][..], &jumbo[..n]);
            }
        }
        assert_eq!(out.last(), Some(&good));
        assert_eq!(stats.oversize.get(policy.outcome()), Some(&1), "{policy:?}");
        assert_eq!(e.stats().untouched, 2);
    }
}

prop_compose! {
    fn arb_spec()(
        width in 1u8..=16,
        bfp in any::<bool>(),
        comp_hdr in any::<bool>(),
        rb in any::<bool>(),
        counts in proptest::collection::vec(0u8..=255, 1..5),
        carrier in 1u16..=300,
        gap in 0u16..20,
    ) -> Spec {
        let comp = UdCompHdr::new(if bfp { CompMethod::Bfp } else { CompMethod::None }, width);
        let mut ranges = Vec::new();
        let mut start = 0u16;
        let step = if rb { 2 } else { 1 };
        for n in counts {
            let prbs = uplane::prb_count(n, carrier) as u16;
            // Every section within the carrier (its last PRB below carrier_prbs).
            if start + (prbs - 1) * step >= carrier {
                break;
            }
            ranges.push((start, n));
            start += prbs * step + gap;
        }
        if ranges.is_empty() {
            ranges.push((0, 1));
        }
        let mut s = Spec::new(comp, comp_hdr, &ranges);
        (s.rb, s.carrier) = (rb, carrier);
        s
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Any split carries exactly the original PRBs, byte for byte, in
    /// valid frames within the MTU.
    #[test]
    fn any_split_reassembles_to_the_original_prbs(spec in arb_spec(), net in 0u8..3, vlan: bool, mtu_extra in 0usize..3000) {
        let net = [Net::Eth, Net::V4, Net::V6][net as usize];
        let d = spec.decode(net);
        let f = build(&spec, net, vlan.then_some(9));
        let transport = match net { Net::Eth => 0, Net::V4 => 28, Net::V6 => 48 };
        // Small enough to split, large enough to need at most ~150 pieces.
        let prb_len = spec.comp.prb_len().unwrap();
        let mtu = transport + 12 + 6 + prb_len * (1 + spec.prbs() / 128) + mtu_extra;
        let mut e = egress(mtu, d);
        let out = run(&mut e, &f).unwrap();
        check_split(&f, &out, &d, mtu);
        prop_assert_eq!(e.stats().error_total(), 0);
    }
}

proptest! {
    /// Egress never panics, whatever the bytes after an eCPRI (or eCPRI
    /// over UDP) header, and whatever it emits decodes.
    #[test]
    fn arbitrary_frames_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400), udp: bool, mtu in 20usize..300, mutate in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 0..4)) {
        let spec = Spec::new(BFP8, true, &[(0, 3), (3, 4)]);
        let net = if udp { Net::V4 } else { Net::Eth };
        let d = DecodeConfig { comp_hdr: CompHdrMode::Auto, ..spec.decode(net) };
        let mut f = build(&spec, net, None);
        f.extend_from_slice(&body);
        for (i, v) in mutate {
            let i = i.index(f.len());
            f[i] = v;
        }
        let mut e = egress(mtu, d);
        if let Ok(out) = run(&mut e, &f) {
            for p in out {
                if p != f {
                    prop_assert!(FrameRepr::parse(&p, &d).is_ok());
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A pristine packet (as received) takes the fast path when it can;
    /// whatever path it takes, the burst that leaves is the same bytes as
    /// when every packet takes the full path.
    #[test]
    fn the_pristine_fast_path_changes_nothing(spec in arb_spec(), net in 0u8..3, vlan: bool, mtu in prop::sample::select(vec![600usize, 1500, 9000]), pad in 0usize..3) {
        let net = [Net::Eth, Net::V4, Net::V6][net as usize];
        let d = spec.decode(net);
        let mut f = build(&spec, net, vlan.then_some(9));
        // Trailing bytes (Ethernet padding) take the full path, which trims them.
        f.extend(std::iter::repeat_n(0u8, pad));
        prop_assume!(f.len() <= crate::translate::PACKET_CAPACITY);
        let out = |pristine: bool| {
            let mut pool = BufPool::new(256);
            let mut burst = Burst::new();
            for _ in 0..3 {
                let mut p = Packet::from_frame(&mut pool, &f, &d, 1).unwrap();
                p.pristine &= pristine;
                burst.push(p).map_err(|_| ()).unwrap();
            }
            let mut e = egress(mtu, d);
            let r = e.process(&mut burst, &mut pool, &mut Stats::default());
            let frames: Vec<Vec<u8>> = burst.packets().iter().map(|p| p.data().to_vec()).collect();
            (frames, r.packets_out, e.stats().packets_out, e.stats().renumbered)
        };
        prop_assert_eq!(out(true), out(false));
    }
}
