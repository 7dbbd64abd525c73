//! A catalogue of sample frames built with this crate: every U-plane
//! compression and width, every C-plane section type and modelled
//! extension, each transport (untagged, 802.1Q, QinQ, UDP over IPv4 and
//! IPv6), concatenation, delay measurement and vendor-specific messages.
//!
//! The tshark oracle test decodes each of them with Wireshark, and
//! `fhgate translator check` runs translators on them.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::cplane;
use crate::ethernet::{EthernetRepr, VlanTag, ETHERTYPE_ECPRI, ETHERTYPE_IPV4, ETHERTYPE_IPV6, TPID_8021AD, TPID_8021Q};
use crate::frame::{Body, DecodeConfig, FrameRepr, MessageRepr, Payload, Transport};
use crate::header::{message_type, HeaderRepr};
use crate::ip::{IpRepr, Ipv4Repr, Ipv6Repr, UdpRepr, PROTO_UDP};
use crate::owd::OwdRepr;
use crate::uplane::{self, AppHeader, CompHdrMode, UplaneConfig};
use crate::{CompMethod, Result, SeqId, UdCompHdr};

/// UDP port the samples use for eCPRI over UDP.
pub const SAMPLE_UDP_PORT: u16 = 0xAEFE;

/// One sample frame and the decoding options it needs.
#[derive(Debug, Clone)]
pub struct Sample {
    /// What the frame shows, e.g. `uplane-bfp-9-hdr`.
    pub name: String,
    /// The frame.
    pub frame: Vec<u8>,
    /// How to decode it (static compression, udCompHdr presence, UDP port).
    pub decode: DecodeConfig,
}

/// Deterministic IQ: a few tones at varying power, so exponents differ per PRB.
pub fn test_samples(prbs: usize, seed: u32) -> Vec<i16> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    (0..prbs * 24)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let scale = 15 - ((i / 24) % 12) as u32;
            ((x as i32) >> (16 + (15 - scale))) as i16
        })
        .collect()
}

fn eth(tags: &[VlanTag], ethertype: u16) -> EthernetRepr {
    let mut e = EthernetRepr::new([0x02, 0, 0, 0, 0x20, 1], [0x02, 0, 0, 0, 0xD0, 1], ethertype);
    for t in tags {
        // At most two tags are pushed here.
        let _ = e.push_tag(*t);
    }
    e
}

fn app(dir: u8, symbol: u8) -> AppHeader {
    AppHeader { data_direction: dir, payload_version: 1, filter_index: 0, frame_id: 17, subframe_id: 3, slot_id: 1, symbol_id: symbol }
}

fn build(eth: EthernetRepr, transport: Option<Transport<'_>>, messages: Vec<MessageRepr<'_>>) -> Result<Vec<u8>> {
    let mut f = FrameRepr { eth, transport, payload: Payload::Ecpri(messages), trailer: &[] };
    f.finalize()?;
    f.to_bytes()
}

/// An IQ-data message with one section per `(start, n)` range.
fn iq_message<'a>(dir: u8, comp: UdCompHdr, hdr: bool, ranges: &[(u16, u8)], iq: &'a [u8], seq: u8) -> Result<MessageRepr<'a>> {
    let prb_len = comp.prb_len()?;
    let mut sections = Vec::new();
    let mut at = 0;
    for (i, &(start, n)) in ranges.iter().enumerate() {
        let len = n as usize * prb_len;
        sections.push(uplane::SectionRepr {
            section_id: 1 + i as u16,
            rb: false,
            sym_inc: false,
            start_prbu: start,
            num_prbu: n,
            ud_comp_hdr: hdr.then_some((comp, 0)),
            iq_data: &iq[at..at + len],
        });
        at += len;
    }
    let cfg = UplaneConfig {
        static_comp: comp,
        comp_hdr: if hdr { CompHdrMode::Present } else { CompHdrMode::Absent },
        carrier_prbs: 273,
    };
    Ok(MessageRepr {
        header: HeaderRepr::new(message_type::IQ_DATA, 0),
        body: Body::IqData { pc_id: 0x0001, seq_id: SeqId::whole(seq), uplane: uplane::MessageRepr { header: app(dir, 2), sections }, cfg },
        padding: &[],
    })
}

fn decode_for(comp: UdCompHdr, hdr: bool) -> DecodeConfig {
    DecodeConfig {
        dl_comp: comp,
        ul_comp: comp,
        comp_hdr: if hdr { CompHdrMode::Present } else { CompHdrMode::Absent },
        udp_port: Some(SAMPLE_UDP_PORT),
        ..DecodeConfig::default()
    }
}

/// U-plane samples: BFP at every width with and without udCompHdr, and
/// uncompressed at the widths Wireshark decodes.
pub fn uplane_samples() -> Result<Vec<Sample>> {
    let mut out = Vec::new();
    let ranges = [(0u16, 4u8), (10, 3)];
    let samples = test_samples(7, 9);
    for (meth, widths) in [(CompMethod::Bfp, 1..=16u8), (CompMethod::None, 1..=16u8)] {
        for w in widths {
            let comp = UdCompHdr::new(meth, w);
            let mut iq = vec![0u8; 7 * comp.prb_len()?];
            crate::iq::compress(comp, crate::iq::Rounding::Truncate, &samples, &mut iq)?;
            for hdr in [true, false] {
                let msg = iq_message(1, comp, hdr, &ranges, &iq, w)?;
                out.push(Sample {
                    name: alloc::format!("uplane-{}-{}-{}", meth.name(), w, if hdr { "hdr" } else { "static" }),
                    frame: build(eth(&[], ETHERTYPE_ECPRI), None, vec![msg])?,
                    decode: decode_for(comp, hdr),
                });
            }
        }
    }
    Ok(out)
}

/// Transport samples: VLAN, QinQ, UDP over IPv4/IPv6, concatenation,
/// one-way delay and vendor-specific messages.
pub fn transport_samples() -> Result<Vec<Sample>> {
    let comp = UdCompHdr::new(CompMethod::Bfp, 9);
    let samples = test_samples(4, 3);
    let mut iq = vec![0u8; 4 * comp.prb_len()?];
    crate::iq::compress(comp, crate::iq::Rounding::Truncate, &samples, &mut iq)?;
    let msg = || iq_message(0, comp, true, &[(0, 4)], &iq, 5);
    let d = decode_for(comp, true);
    let c_tag = VlanTag { tpid: TPID_8021Q, pcp: 7, dei: false, vid: 2 };
    let s_tag = VlanTag { tpid: TPID_8021AD, pcp: 6, dei: true, vid: 100 };
    let v4 = IpRepr::V4(Ipv4Repr {
        tos: 0xB8, total_len: 0, ident: 1, flags_frag: 0x4000, ttl: 64, protocol: PROTO_UDP, checksum: 0,
        src: [192, 0, 2, 1], dst: [192, 0, 2, 2], options: &[],
    });
    let v6 = IpRepr::V6(Ipv6Repr {
        ver_tc_flow: 0x6000_0000, payload_len: 0, next_header: PROTO_UDP, hop_limit: 64,
        src: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        dst: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
    });
    let udp = UdpRepr { src_port: 40000, dst_port: SAMPLE_UDP_PORT, length: 0, checksum: 1 };
    let owd = OwdRepr { measurement_id: 9, action_type: 0, seconds: 1_700_000_000, nanoseconds: 123_456_789, compensation: 65536, dummy: &[0; 8] };
    let vendor = [0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3];
    // Generic data transfer: 4-byte PC_ID, 4-byte SEQ_ID, then data.
    let generic = [0, 0, 0, 7, 0, 0, 0, 1, 0xAA, 0xBB];
    let other = |t: u8, body| MessageRepr { header: HeaderRepr::new(t, 0), body, padding: &[] };
    Ok(vec![
        Sample { name: "vlan-8021q".into(), frame: build(eth(&[c_tag], ETHERTYPE_ECPRI), None, vec![msg()?])?, decode: d },
        Sample { name: "vlan-qinq".into(), frame: build(eth(&[s_tag, c_tag], ETHERTYPE_ECPRI), None, vec![msg()?])?, decode: d },
        Sample { name: "udp-ipv4".into(), frame: build(eth(&[], ETHERTYPE_IPV4), Some(Transport { ip: v4, udp }), vec![msg()?])?, decode: d },
        Sample { name: "udp-ipv6".into(), frame: build(eth(&[c_tag], ETHERTYPE_IPV6), Some(Transport { ip: v6, udp }), vec![msg()?])?, decode: d },
        Sample { name: "concatenated".into(), frame: build(eth(&[], ETHERTYPE_ECPRI), None, vec![msg()?, other(message_type::ONE_WAY_DELAY, Body::OneWayDelay(owd)), msg()?])?, decode: d },
        Sample { name: "one-way-delay".into(), frame: build(eth(&[], ETHERTYPE_ECPRI), None, vec![other(message_type::ONE_WAY_DELAY, Body::OneWayDelay(owd))])?, decode: d },
        Sample { name: "vendor-specific".into(), frame: build(eth(&[], ETHERTYPE_ECPRI), None, vec![other(200, Body::Other(&vendor))])?, decode: d },
        Sample { name: "generic-data".into(), frame: build(eth(&[], ETHERTYPE_ECPRI), None, vec![other(message_type::GENERIC_DATA, Body::Other(&generic))])?, decode: d },
    ])
}

/// Every sample.
pub fn catalog() -> Result<Vec<Sample>> {
    let mut v = uplane_samples()?;
    v.extend(transport_samples()?);
    v.extend(cplane_samples()?);
    Ok(v)
}

fn cplane_message<'a>(header: cplane::CommonHeader, sections: Vec<cplane::SectionRepr<'a>>) -> MessageRepr<'a> {
    let cp = cplane::MessageRepr { header, sections, trailer: &[] };
    MessageRepr {
        header: HeaderRepr::new(message_type::RT_CONTROL, 0),
        body: Body::RtControl { rtc_id: 0x0002, seq_id: SeqId::whole(7), cplane: cp },
        padding: &[],
    }
}

fn common(section_id: u16, start_prbc: u16, num_prbc: u8) -> cplane::CommonSection {
    cplane::CommonSection { section_id, rb: false, sym_inc: false, start_prbc, num_prbc, re_mask: 0xFFF, num_symbol: 14 }
}

fn header(section_type_fields: cplane::TypeFields, sections: usize) -> cplane::CommonHeader {
    let mut app = app(1, 0);
    if let cplane::TypeFields::Type7 { .. } = section_type_fields {
        app.filter_index = 0;
    }
    cplane::CommonHeader { app, number_of_sections: sections as u8, fields: section_type_fields }
}

fn type1(ud: UdCompHdr) -> cplane::TypeFields {
    cplane::TypeFields::Type1 { ud_comp_hdr: ud, reserved: 0 }
}

/// A type 1 section with `extensions`.
fn section1<'a>(id: u16, start: u16, n: u8, beam: u16, extensions: Vec<cplane::ExtRepr<'a>>) -> cplane::SectionRepr<'a> {
    cplane::SectionRepr {
        fields: cplane::SectionFields::Type1 { common: common(id, start, n), beam_id: beam },
        ci_samples: &[],
        extensions,
    }
}

/// C-plane samples: every section type, and every modelled extension in
/// a type 1 section, plus a chain and an extension kept raw.
pub fn cplane_samples() -> Result<Vec<Sample>> {
    use cplane::ext::*;
    let ud = UdCompHdr::new(CompMethod::Bfp, 9);
    let d = decode_for(ud, true);
    let e = || eth(&[VlanTag::c_tag(2, 7)], ETHERTYPE_ECPRI);
    let fs = cplane::FrameStructure { fft_size: 12, scs: 1 };
    let bfw = [0x11u8; 16];
    let ext10_beams = [0x00u8, 0x21, 0x00, 0x22, 0x00, 0x23];
    let ext12_ranges = [5u8, 10, 20, 4];
    let ext5_sets = [0xFF, 0xF1, 0x23, 0x45, 0x67, 0x89, 0xAB, 0x00, 0x00, 0x00];
    // numPrbc 50 in bundles of 16 PRBs: ⌈50 / 16⌉ = 4 bundles, one beamId each.
    let ext11_bundles = [0x00u8, 0x07, 0x00, 0x08, 0x00, 0x09, 0x00, 0x0A];
    // Extension 13 (PRB allocation with frequency hopping) is not modelled: kept raw.
    let raw_ext = [0x0Du8, 0x01, 0x12, 0x34];
    let first_layer = Ext3FirstLayer { tx_scheme: 1, crs_re_mask: 0x111, crs_shift: true, reserved_a: 0, crs_sym_num: 2, reserved_b: 0, beam_id_ap: [3, 4, 5] };
    let exts: Vec<(&str, Vec<ExtRepr<'_>>)> = vec![
        ("ext1", vec![ExtRepr::Bfw(Ext1Bfw { bfw_comp_hdr: BfwCompHdr { iq_width: 8, comp_meth: 0 }, bfw_comp_param: None, bfw: &bfw[..13] })]),
        ("ext2", vec![ExtRepr::BfAttributes(Ext2BfAttributes {
            reserved_a: 0, bf_az_pt_width: 3, bf_ze_pt_width: 3, reserved_b: 0, bf_az_3dd_width: 3, bf_ze_3dd_width: 3,
            bf_az_pt: 5, bf_ze_pt: 6, bf_az_3dd: 7, bf_ze_3dd: 8, gap: 0, bf_az_sl: 1, bf_ze_sl: 2, padding: &[],
        })]),
        ("ext3-first-layer", vec![ExtRepr::Layer(Ext3Layer { codebook_index: 9, layer_id: 0, num_layers: 2, first: Some(first_layer), padding: &[] })]),
        ("ext3-other-layer", vec![ExtRepr::Layer(Ext3Layer { codebook_index: 9, layer_id: 1, num_layers: 2, first: None, padding: &[] })]),
        ("ext4", vec![ExtRepr::ModComp(Ext4ModComp { csf: true, mod_comp_scaler: 0x1234, padding: &[] })]),
        ("ext5", vec![ExtRepr::ModCompSets(Ext5ModCompSets { sets: &ext5_sets })]),
        ("ext6", vec![ExtRepr::NonContig(Ext6NonContig { repetition: false, rbg_size: 2, rbg_mask: 0x0AB_CDEF, priority: 0, symbol_mask: 0x3FFF, padding: &[] })]),
        ("ext9", vec![ExtRepr::Dss(Ext9Dss { technology: 1, reserved: 0, padding: &[] })]),
        ("ext10", vec![ExtRepr::PortGroup(Ext10PortGroup { beam_group_type: 2, num_portc: 3, entries: &ext10_beams, padding: &[] })]),
        ("ext11", vec![ExtRepr::FlexBfw(Ext11FlexBfw { disable_bfws: true, rad: false, reserved: 0, num_bund_prb: 16, bfw_comp_hdr: None, bundles: &ext11_bundles })]),
        ("ext12", vec![ExtRepr::FreqRanges(Ext12FreqRanges { priority: 1, symbol_mask: 0x0F0F, ranges: &ext12_ranges })]),
        ("chain-ext6-ext4-raw", vec![
            ExtRepr::NonContig(Ext6NonContig { repetition: true, rbg_size: 1, rbg_mask: 0x5555, priority: 0, symbol_mask: 0x00FF, padding: &[] }),
            ExtRepr::ModComp(Ext4ModComp { csf: false, mod_comp_scaler: 0x7FFF, padding: &[] }),
            ExtRepr::Raw { ext_type: 13, bytes: &raw_ext },
        ]),
        ("raw-unknown-ext", vec![ExtRepr::Raw { ext_type: 13, bytes: &raw_ext }]),
    ];
    let mut out = Vec::new();
    let mut push = |name: String, msg: MessageRepr<'_>| -> Result<()> {
        out.push(Sample { name, frame: build(e(), None, vec![msg])?, decode: d });
        Ok(())
    };
    push("cplane-st1".into(), cplane_message(header(type1(ud), 2), vec![section1(1, 0, 100, 1, vec![]), section1(2, 100, 0, 2, vec![])]))?;
    for (name, ext) in exts {
        push(alloc::format!("cplane-st1-{name}"), cplane_message(header(type1(ud), 1), vec![section1(1, 0, 50, 7, ext)]))?;
    }
    let st0 = cplane::TypeFields::Type0 { time_offset: 100, frame_structure: fs, cp_length: 288, reserved: 0 };
    let s0 = |id| cplane::SectionRepr { fields: cplane::SectionFields::Type0 { common: common(id, 0, 20), reserved: 0 }, ci_samples: &[], extensions: vec![] };
    push("cplane-st0".into(), cplane_message(header(st0, 2), vec![s0(1), s0(2)]))?;
    let st3 = cplane::TypeFields::Type3 { time_offset: 0x1234, frame_structure: cplane::FrameStructure { fft_size: 12, scs: 12 }, cp_length: 0, ud_comp_hdr: ud };
    let s3 = cplane::SectionRepr {
        fields: cplane::SectionFields::Type3 { common: common(3, 0, 12), beam_id: 9, freq_offset: -2448, reserved: 0 },
        ci_samples: &[],
        extensions: vec![],
    };
    push("cplane-st3-prach".into(), cplane_message(header(st3, 1), vec![s3]))?;
    let st5 = cplane::TypeFields::Type5 { ud_comp_hdr: ud, reserved: 0 };
    let s5 = |id, ue| cplane::SectionRepr { fields: cplane::SectionFields::Type5 { common: common(id, id * 10, 10), ue_id: ue }, ci_samples: &[], extensions: vec![] };
    push("cplane-st5".into(), cplane_message(header(st5, 2), vec![s5(1, 100), s5(2, 200)]))?;
    // ciIsample/ciQsample (16 bits, uncompressed) for 2 PRBs × 32 antennas.
    // The antenna count is M-plane configuration; 32 is Wireshark's default.
    let ci: Vec<u8> = (1..=2 * 32 * 2u16).flat_map(|x| (x << 4).to_be_bytes()).collect();
    let st6 = cplane::TypeFields::Type6 { number_of_ues: 1, reserved: 0 };
    let s6 = cplane::SectionRepr {
        fields: cplane::SectionFields::Type6 { ue_id: 5, regularization_factor: -3, reserved: 0, rb: false, sym_inc: false, start_prbc: 0, num_prbc: 2 },
        ci_samples: &ci,
        extensions: vec![],
    };
    push("cplane-st6".into(), cplane_message(header(st6, 1), vec![s6]))?;
    let mut laa = cplane::LaaMsg { laa_msg_type: 0, laa_msg_len: 1, lbt_handle: 0x0102, values: Default::default() };
    laa.values[0] = 300; // lbtOffset
    laa.values[1] = 1; // lbtMode
    laa.values[3] = 3; // lbtDeferFactor
    laa.values[4] = 511; // lbtBackoffCounter
    laa.values[5] = 8; // MCOT
    let st7 = cplane::TypeFields::Type7 { reserved: 0, laa };
    push("cplane-st7-laa".into(), cplane_message(header(st7, 0), vec![]))?;
    Ok(out)
}

/// A single-message U-plane frame (DL, BFP or other `comp`), one section
/// per `(startPrbu, numPrbu)`; for benchmarks and translator checks.
pub fn uplane_frame(comp: UdCompHdr, comp_hdr: bool, ranges: &[(u16, u8)]) -> Result<Vec<u8>> {
    let prbs: usize = ranges.iter().map(|r| r.1 as usize).sum();
    let mut iq = vec![0u8; prbs * comp.prb_len()?];
    crate::iq::compress(comp, crate::iq::Rounding::Truncate, &test_samples(prbs, 1), &mut iq)?;
    build(eth(&[], ETHERTYPE_ECPRI), None, vec![iq_message(1, comp, comp_hdr, ranges, &iq, 0)?])
}

/// A C-plane type 1 frame with `n` sections of 50 PRBs each.
pub fn cplane_type1_frame(n: u16) -> Result<Vec<u8>> {
    let ud = UdCompHdr::new(CompMethod::Bfp, 9);
    let sections = (0..n).map(|i| section1(i + 1, i * 50, 50, i + 1, vec![])).collect();
    build(eth(&[], ETHERTYPE_ECPRI), None, vec![cplane_message(header(type1(ud), n as usize), sections)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::FrameRepr;

    #[test]
    fn every_sample_parses_and_round_trips() {
        for s in catalog().unwrap() {
            let f = FrameRepr::parse(&s.frame, &s.decode).unwrap_or_else(|e| panic!("{}: {e}", s.name));
            let mut out = vec![0u8; f.buffer_len()];
            f.emit(&mut out).unwrap();
            assert_eq!(out, s.frame, "{}", s.name);
        }
    }
}
