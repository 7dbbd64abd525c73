//! proptest strategies for C-plane `Repr`s. Byte slices are leaked to get
//! `'static` borrows (test-only). Every strategy yields values that emit to
//! a 4-byte-aligned extension, so that emit → parse gives them back.

use alloc::vec::Vec;

use proptest::collection::vec;
use proptest::prelude::*;

use crate::uplane::AppHeader;
use crate::{CompMethod, UdCompHdr};

use super::ext::*;
use super::header::{CommonHeader, FrameStructure, TypeFields};
use super::laa::{layout, LaaMsg, MAX_LAA_FIELDS};
use super::section::{CommonSection, SectionFields};
use super::{round_up4, MessageRepr, ParseOptions, SectionRepr};

/// Leaks `v` for a `'static` borrow.
pub fn leak(v: Vec<u8>) -> &'static [u8] {
    Vec::leak(v)
}

/// `n` random bytes.
pub fn bytes(n: usize) -> impl Strategy<Value = &'static [u8]> {
    vec(any::<u8>(), n).prop_map(leak)
}

/// Bytes that pad a body of `used` bytes (header included) to a word
/// boundary, plus up to two more words.
fn pad(used: usize) -> impl Strategy<Value = &'static [u8]> {
    (0usize..3).prop_flat_map(move |extra| bytes(round_up4(used) - used + 4 * extra))
}

/// Any udCompHdr with a width that round-trips (1–16).
pub fn ud_comp_hdr() -> impl Strategy<Value = UdCompHdr> {
    (1u8..=16, 0u8..16).prop_map(|(w, m)| UdCompHdr::new(CompMethod::from_bits(m), w))
}

fn bfw_comp_hdr() -> impl Strategy<Value = BfwCompHdr> {
    (0u8..16, 0u8..16).prop_map(|(iq_width, comp_meth)| BfwCompHdr { iq_width, comp_meth })
}

/// Extension 1 (any method; bfwCompParam present exactly when required).
pub fn ext1() -> impl Strategy<Value = Ext1Bfw<'static>> {
    (bfw_comp_hdr(), any::<u8>(), 1usize..8).prop_flat_map(|(h, p, words)| {
        let param = (h.param_len() == Some(1)).then_some(p);
        let n = 4 * words - 3 - param.is_some() as usize;
        bytes(n).prop_map(move |bfw| Ext1Bfw { bfw_comp_hdr: h, bfw_comp_param: param, bfw })
    })
}

/// Extension 2 (values fitting their widths, gap bits fitting the gap).
pub fn ext2() -> impl Strategy<Value = Ext2BfAttributes<'static>> {
    (0u8..4, 0u8..8, 0u8..8, 0u8..4, 0u8..8, 0u8..8, any::<[u8; 4]>(), any::<u8>(), 0u8..8, 0u8..8).prop_flat_map(
        |(ra, azw, zew, rb, az3w, ze3w, vals, gap, azsl, zesl)| {
            let mask = |code: u8, v: u8| if code == 0 { 0 } else { v & ((1u16 << (code + 1)) - 1) as u8 };
            let mut e = Ext2BfAttributes {
                reserved_a: ra,
                bf_az_pt_width: azw,
                bf_ze_pt_width: zew,
                reserved_b: rb,
                bf_az_3dd_width: az3w,
                bf_ze_3dd_width: ze3w,
                bf_az_pt: mask(azw, vals[0]),
                bf_ze_pt: mask(zew, vals[1]),
                bf_az_3dd: mask(az3w, vals[2]),
                bf_ze_3dd: mask(ze3w, vals[3]),
                gap: 0,
                bf_az_sl: azsl,
                bf_ze_sl: zesl,
                padding: &[],
            };
            e.gap = gap & ((1u16 << e.gap_bits()) - 1) as u8;
            let used = 2 + ExtBody::body_len(&e);
            pad(used).prop_map(move |padding| Ext2BfAttributes { padding, ..e })
        },
    )
}

/// Extension 3, first-layer or other-layer form.
pub fn ext3() -> impl Strategy<Value = Ext3Layer<'static>> {
    let first = (0u8..16, 0u16..0x1000, any::<bool>(), 0u8..8, 0u8..16, any::<u8>(), any::<[u16; 3]>()).prop_map(
        |(tx_scheme, crs_re_mask, crs_shift, reserved_a, crs_sym_num, reserved_b, beam_id_ap)| Ext3FirstLayer {
            tx_scheme,
            crs_re_mask,
            crs_shift,
            reserved_a,
            crs_sym_num,
            reserved_b,
            beam_id_ap,
        },
    );
    (any::<u8>(), 0u8..16, 0u8..16, first).prop_flat_map(|(codebook_index, layer_id, num_layers, f)| {
        let first = ext3_layer::is_first_layer(layer_id).then_some(f);
        let used = 2 + if first.is_some() { 12 } else { 2 };
        pad(used).prop_map(move |padding| Ext3Layer { codebook_index, layer_id, num_layers, first, padding })
    })
}

/// Extension 4.
pub fn ext4() -> impl Strategy<Value = Ext4ModComp<'static>> {
    (any::<bool>(), 0u16..0x8000, pad(4)).prop_map(|(csf, mod_comp_scaler, padding)| Ext4ModComp { csf, mod_comp_scaler, padding })
}

/// Extension 5 (any body of a whole number of words).
pub fn ext5() -> impl Strategy<Value = Ext5ModCompSets<'static>> {
    (1usize..7).prop_flat_map(|w| bytes(4 * w - 2)).prop_map(|sets| Ext5ModCompSets { sets })
}

/// Extension 6.
pub fn ext6() -> impl Strategy<Value = Ext6NonContig<'static>> {
    (any::<bool>(), 0u8..8, 0u32..0x1000_0000, 0u8..4, 0u16..0x4000, pad(8)).prop_map(
        |(repetition, rbg_size, rbg_mask, priority, symbol_mask, padding)| Ext6NonContig {
            repetition,
            rbg_size,
            rbg_mask,
            priority,
            symbol_mask,
            padding,
        },
    )
}

/// Extension 9.
pub fn ext9() -> impl Strategy<Value = Ext9Dss<'static>> {
    (any::<u8>(), any::<u8>(), pad(4)).prop_map(|(technology, reserved, padding)| Ext9Dss { technology, reserved, padding })
}

/// Extension 10, every beamGroupType.
pub fn ext10() -> impl Strategy<Value = Ext10PortGroup<'static>> {
    (0u8..4, 0u8..24, 1usize..6).prop_flat_map(|(bgt, num_portc, words)| {
        let n = match bgt {
            0 | 1 => 1,
            2 => 2 * num_portc as usize,
            _ => 4 * words - 3,
        };
        let used = 3 + n;
        let padding = if bgt == 3 { Just(&[][..]).boxed() } else { pad(used).boxed() };
        (bytes(n), padding).prop_map(move |(entries, padding)| Ext10PortGroup {
            beam_group_type: bgt,
            num_portc,
            entries,
            padding,
        })
    })
}

/// Extension 11, weights enabled or disabled.
pub fn ext11() -> impl Strategy<Value = Ext11FlexBfw<'static>> {
    (any::<bool>(), any::<bool>(), 0u8..64, any::<u8>(), bfw_comp_hdr(), 1usize..8).prop_flat_map(
        |(disable_bfws, rad, reserved, num_bund_prb, h, words)| {
            let bfw_comp_hdr = (!disable_bfws).then_some(h);
            let n = 4 * (words + 1) - 5 - bfw_comp_hdr.is_some() as usize;
            bytes(n).prop_map(move |bundles| Ext11FlexBfw { disable_bfws, rad, reserved, num_bund_prb, bfw_comp_hdr, bundles })
        },
    )
}

/// Extension 12 (an even number of pairs).
pub fn ext12() -> impl Strategy<Value = Ext12FreqRanges<'static>> {
    (0u8..4, 0u16..0x4000, 0usize..5).prop_flat_map(|(priority, symbol_mask, m)| {
        bytes(4 * m).prop_map(move |ranges| Ext12FreqRanges { priority, symbol_mask, ranges })
    })
}

/// A raw extension of a type not modelled in `section_type` (ef clear).
pub fn raw_ext(section_type: u8) -> impl Strategy<Value = ExtRepr<'static>> {
    (1u8..128, 1usize..6)
        .prop_filter("not modelled", move |(t, _)| !modelled(section_type, *t))
        .prop_flat_map(|(ext_type, words)| {
            let hl = header_len(ext_type);
            bytes(4 * words - hl).prop_map(move |body| {
                let mut b = Vec::with_capacity(4 * words);
                b.push(ext_type);
                if hl == 3 {
                    b.extend_from_slice(&(words as u16).to_be_bytes());
                } else {
                    b.push(words as u8);
                }
                b.extend_from_slice(body);
                ExtRepr::Raw { ext_type, bytes: leak(b) }
            })
        })
}

/// Any extension a section of `section_type` may carry (typed where modelled).
pub fn ext_repr(section_type: u8) -> BoxedStrategy<ExtRepr<'static>> {
    let mut s: Vec<BoxedStrategy<ExtRepr<'static>>> = Vec::new();
    let m = |t: u8| modelled(section_type, t);
    if m(1) {
        s.push(ext1().prop_map(ExtRepr::Bfw).boxed());
        s.push(ext2().prop_map(ExtRepr::BfAttributes).boxed());
        s.push(ext3().prop_map(ExtRepr::Layer).boxed());
        s.push(ext9().prop_map(ExtRepr::Dss).boxed());
        s.push(ext11().prop_map(ExtRepr::FlexBfw).boxed());
    }
    if m(4) {
        s.push(ext4().prop_map(ExtRepr::ModComp).boxed());
        s.push(ext5().prop_map(ExtRepr::ModCompSets).boxed());
        s.push(ext10().prop_map(ExtRepr::PortGroup).boxed());
    }
    if m(6) {
        s.push(ext6().prop_map(ExtRepr::NonContig).boxed());
        s.push(ext12().prop_map(ExtRepr::FreqRanges).boxed());
    }
    s.push(raw_ext(section_type).boxed());
    proptest::strategy::Union::new(s).boxed()
}

/// Sets the ef bit of raw extensions to match their place in the chain,
/// as emit does, so that emit → parse gives the same bytes back.
pub fn fix_raw_ef(exts: &mut [ExtRepr<'static>]) {
    let last = exts.len().saturating_sub(1);
    for (i, e) in exts.iter_mut().enumerate() {
        if let ExtRepr::Raw { bytes, .. } = e {
            let mut b = bytes.to_vec();
            b[0] = (b[0] & 0x7F) | (((i < last) as u8) << 7);
            *bytes = leak(b);
        }
    }
}

fn common_section() -> impl Strategy<Value = CommonSection> {
    (0u16..0x1000, any::<bool>(), any::<bool>(), 0u16..0x400, any::<u8>(), 0u16..0x1000, 0u8..16).prop_map(
        |(section_id, rb, sym_inc, start_prbc, num_prbc, re_mask, num_symbol)| CommonSection {
            section_id,
            rb,
            sym_inc,
            start_prbc,
            num_prbc,
            re_mask,
            num_symbol,
        },
    )
}

/// The fixed fields of a section of `section_type` (0, 1, 3, 5 or 6;
/// type 6 gets numPrbc ≥ 1 so that its channel information is delimited).
pub fn section_fields(section_type: u8) -> BoxedStrategy<SectionFields> {
    let id15 = 0u16..0x8000;
    match section_type {
        0 => (common_section(), id15).prop_map(|(common, reserved)| SectionFields::Type0 { common, reserved }).boxed(),
        1 => (common_section(), id15).prop_map(|(common, beam_id)| SectionFields::Type1 { common, beam_id }).boxed(),
        3 => (common_section(), id15, -(1i32 << 23)..(1 << 23), any::<u8>())
            .prop_map(|(common, beam_id, freq_offset, reserved)| SectionFields::Type3 { common, beam_id, freq_offset, reserved })
            .boxed(),
        5 => (common_section(), id15).prop_map(|(common, ue_id)| SectionFields::Type5 { common, ue_id }).boxed(),
        _ => (id15, any::<i16>(), 0u8..16, any::<bool>(), any::<bool>(), 0u16..0x400, 1u8..8)
            .prop_map(|(ue_id, regularization_factor, reserved, rb, sym_inc, start_prbc, num_prbc)| SectionFields::Type6 {
                ue_id,
                regularization_factor,
                reserved,
                rb,
                sym_inc,
                start_prbc,
                num_prbc,
            })
            .boxed(),
    }
}

/// Bytes of channel information per PRB used for type 6 in these strategies.
pub const CI_BYTES_PER_PRB: usize = 8;

/// Options that delimit the type 6 sections these strategies build.
pub fn opts() -> ParseOptions {
    ParseOptions { ci_bytes_per_prb: Some(CI_BYTES_PER_PRB), ..ParseOptions::default() }
}

/// A section of `section_type` with up to four extensions.
pub fn section(section_type: u8) -> impl Strategy<Value = SectionRepr<'static>> {
    (section_fields(section_type), vec(ext_repr(section_type), 0..4)).prop_flat_map(move |(fields, mut extensions)| {
        fix_raw_ef(&mut extensions);
        let ci = match fields {
            SectionFields::Type6 { num_prbc, .. } => CI_BYTES_PER_PRB * num_prbc as usize,
            _ => 0,
        };
        bytes(ci).prop_map(move |ci_samples| SectionRepr { fields, ci_samples, extensions: extensions.clone() })
    })
}

fn app_header() -> impl Strategy<Value = AppHeader> {
    (0u8..2, 0u8..8, 0u8..16, any::<u8>(), 0u8..16, 0u8..64, 0u8..64).prop_map(
        |(data_direction, payload_version, filter_index, frame_id, subframe_id, slot_id, symbol_id)| AppHeader {
            data_direction,
            payload_version,
            filter_index,
            frame_id,
            subframe_id,
            slot_id,
            symbol_id,
        },
    )
}

/// An LBT message (known or unknown laaMsgType).
pub fn laa_msg() -> impl Strategy<Value = LaaMsg> {
    (0u8..16, 0u8..16, any::<u16>(), any::<[u32; MAX_LAA_FIELDS]>()).prop_map(|(t, len, handle, raw)| {
        let mut m = LaaMsg { laa_msg_type: t, laa_msg_len: len, ..Default::default() };
        if let Some(l) = layout(t) {
            m.lbt_handle = handle;
            for (i, &(_, w)) in l.iter().enumerate() {
                m.values[i] = raw[i] & ((1u64 << w) - 1) as u32;
            }
        }
        m
    })
}

/// The type-dependent header fields of `section_type`.
pub fn type_fields(section_type: u8) -> BoxedStrategy<TypeFields> {
    let fs = any::<u8>().prop_map(FrameStructure::from_byte);
    match section_type {
        0 => (any::<u16>(), fs, any::<u16>(), any::<u8>())
            .prop_map(|(time_offset, frame_structure, cp_length, reserved)| TypeFields::Type0 {
                time_offset,
                frame_structure,
                cp_length,
                reserved,
            })
            .boxed(),
        1 => (ud_comp_hdr(), any::<u8>()).prop_map(|(ud_comp_hdr, reserved)| TypeFields::Type1 { ud_comp_hdr, reserved }).boxed(),
        3 => (any::<u16>(), fs, any::<u16>(), ud_comp_hdr())
            .prop_map(|(time_offset, frame_structure, cp_length, ud_comp_hdr)| TypeFields::Type3 {
                time_offset,
                frame_structure,
                cp_length,
                ud_comp_hdr,
            })
            .boxed(),
        5 => (ud_comp_hdr(), any::<u8>()).prop_map(|(ud_comp_hdr, reserved)| TypeFields::Type5 { ud_comp_hdr, reserved }).boxed(),
        6 => (1u8..=255, any::<u8>()).prop_map(|(number_of_ues, reserved)| TypeFields::Type6 { number_of_ues, reserved }).boxed(),
        _ => (any::<u16>(), laa_msg()).prop_map(|(reserved, laa)| TypeFields::Type7 { reserved, laa }).boxed(),
    }
}

/// A whole message of `section_type` with up to four sections and a few
/// arbitrary trailing bytes.
pub fn message(section_type: u8) -> impl Strategy<Value = MessageRepr<'static>> {
    let n = if section_type == 7 { 0..1usize } else { 0..4usize };
    (app_header(), type_fields(section_type), vec(section(section_type), n), any::<u8>(), 0usize..6).prop_flat_map(
        move |(app, mut fields, sections, rsv, trailer_len)| {
            let number_of_sections = if section_type == 7 { rsv } else { sections.len() as u8 };
            if let TypeFields::Type6 { number_of_ues, .. } = &mut fields {
                if sections.is_empty() {
                    *number_of_ues = 0;
                }
            }
            let header = CommonHeader { app, number_of_sections, fields };
            bytes(trailer_len).prop_map(move |trailer| MessageRepr { header, sections: sections.clone(), trailer })
        },
    )
}
