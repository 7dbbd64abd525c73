//! Whole-message tests: one hand-built message per section type, an
//! extension chain, the field visitor, and the proptest round trips.

use alloc::vec::Vec;

use proptest::prelude::*;

use super::*;
use crate::cplane::ext::{BfwCompHdr, Ext10PortGroup, Ext11FlexBfw, Ext1Bfw};
use crate::cplane::section::CommonSection;
use crate::cplane::strategies;
use crate::fields::FieldValue;
use crate::{CompMethod, UdCompHdr};

/// Collects (name, value) pairs and group markers.
#[derive(Default)]
struct Collect<'a>(Vec<(&'static str, Option<FieldValue<'a>>)>);

impl<'a> FieldVisitor<'a> for Collect<'a> {
    fn field(&mut self, name: &'static str, value: FieldValue<'a>) {
        self.0.push((name, Some(value)));
    }
    fn begin(&mut self, group: &'static str) {
        self.0.push((group, None));
    }
    fn end(&mut self) {
        self.0.push(("end", None));
    }
}

fn round_trip(b: &[u8], opts: ParseOptions) -> MessageRepr<'_> {
    let m = MessageRepr::parse_with(b, opts).unwrap();
    assert_eq!(m.buffer_len(), b.len());
    let mut out = alloc::vec![0u8; b.len()];
    assert_eq!(m.emit(&mut out), Ok(b.len()));
    assert_eq!(out, b);
    m
}

fn common(section_id: u16, start_prbc: u16, num_prbc: u8, num_symbol: u8) -> CommonSection {
    CommonSection { section_id, rb: false, sym_inc: false, start_prbc, num_prbc, re_mask: 0xFFF, num_symbol }
}

#[rustfmt::skip]
const ST0: [u8; 20] = [
    0x90, 0x01, 0x20, 0xC4, 0x01, 0x00, 0x01, 0x02, 0x81, 0x03, 0x04, 0x00,
    0x00, 0x10, 0x05, 0x0A, 0xFF, 0xF1, 0x00, 0x00,
];

#[test]
fn type0_message() {
    let m = round_trip(&ST0, ParseOptions::default());
    assert_eq!((m.header.app.subframe_id, m.header.app.slot_id, m.header.app.symbol_id), (2, 3, 4));
    assert_eq!(
        m.header.fields,
        TypeFields::Type0 {
            time_offset: 0x102,
            frame_structure: crate::cplane::FrameStructure { fft_size: 8, scs: 1 },
            cp_length: 0x304,
            reserved: 0
        }
    );
    assert_eq!(m.sections.len(), 1);
    assert_eq!(m.sections[0].fields, SectionFields::Type0 { common: common(1, 5, 10, 1), reserved: 0 });
    assert!(m.trailer.is_empty());
}

#[rustfmt::skip]
const ST3: [u8; 24] = [
    0x93, 0x42, 0x52, 0x42, 0x01, 0x03, 0x12, 0x34, 0xC1, 0x01, 0x60, 0x91,
    0xAB, 0xC9, 0x55, 0x0C, 0xFF, 0xF1, 0x12, 0x34, 0xFF, 0xFF, 0xF6, 0x5A,
];

#[test]
fn type3_message() {
    let m = round_trip(&ST3, ParseOptions::default());
    assert_eq!(m.header.fields.ud_comp_hdr(), Some(UdCompHdr::new(CompMethod::Bfp, 9)));
    let SectionFields::Type3 { common, beam_id, freq_offset, reserved } = m.sections[0].fields else { panic!() };
    assert_eq!((common.section_id, common.rb, beam_id, freq_offset, reserved), (0xABC, true, 0x1234, -10, 0x5A));
}

#[rustfmt::skip]
const ST5: [u8; 24] = [
    0x10, 0x00, 0x00, 0x00, 0x01, 0x05, 0x91, 0x00,
    0x00, 0x20, 0x00, 0x00, 0xFF, 0xFE, 0x81, 0x23,
    0x0A, 0x02, 0x82, 0x00, 0x05, 0x00, 0x06, 0x00,
];

#[test]
fn type5_message_with_ext10() {
    let m = round_trip(&ST5, ParseOptions::default());
    let s = &m.sections[0];
    assert_eq!(s.fields, SectionFields::Type5 { common: common(2, 0, 0, 14), ue_id: 0x123 });
    let [ExtRepr::PortGroup(e)] = s.extensions[..] else { panic!("{:?}", s.extensions) };
    assert_eq!(e, Ext10PortGroup { beam_group_type: 2, num_portc: 2, entries: &ST5[19..23], padding: &ST5[23..] });
    assert_eq!(e.beam_ids().collect::<Vec<_>>(), [5, 6]);
}

#[rustfmt::skip]
const ST6: [u8; 30] = [
    0x90, 0x00, 0x00, 0x00, 0x02, 0x06, 0x02, 0x00,
    0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x01, 1, 2, 3, 4,
    0x00, 0x02, 0xFF, 0xFF, 0x00, 0x01, 0x01, 5, 6, 7, 8,
];

#[test]
fn type6_message_needs_ci_size() {
    let opts = ParseOptions { ci_bytes_per_prb: Some(4), ..ParseOptions::default() };
    let m = round_trip(&ST6, opts);
    assert_eq!(m.sections.len(), 2);
    assert_eq!(m.sections[1].ci_samples, [5, 6, 7, 8]);
    let SectionFields::Type6 { ue_id, regularization_factor, start_prbc, .. } = m.sections[1].fields else { panic!() };
    assert_eq!((ue_id, regularization_factor, start_prbc), (2, -1, 1));
    // Without the antenna count only the last section can be delimited.
    assert_eq!(
        MessageRepr::parse(&ST6),
        Err(Error::Unsupported { field: "oran_fh_cus.ciSamples", offset: 15, value: 1 })
    );
    let mut one = ST6;
    one[4] = 1;
    let m = MessageRepr::parse(&one[..19]).unwrap();
    assert_eq!(m.sections[0].ci_samples, [1, 2, 3, 4]);
}

#[rustfmt::skip]
const ST7: [u8; 16] = [
    0x10, 0x07, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00,
    0x01, 0x12, 0x34, 0xAA, 0xEF, 0x55, 0x67, 0xFF,
];

#[test]
fn type7_message() {
    let m = round_trip(&ST7, ParseOptions::default());
    let TypeFields::Type7 { laa, .. } = m.header.fields else { panic!() };
    assert_eq!((laa.laa_msg_type, laa.lbt_handle, laa.get("oran_fh_cus.MCOT")), (0, 0x1234, Some(9)));
    assert!(m.sections.is_empty() && m.trailer.is_empty());
}

#[rustfmt::skip]
const CHAIN: [u8; 36] = [
    0x90, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00,
    0x00, 0x10, 0x00, 0x04, 0xFF, 0xF1, 0x80, 0x00,
    0x81, 0x02, 0x91, 0x05, 0x12, 0x34, 0x56, 0x00,
    0x8B, 0x00, 0x02, 0x80, 0x04, 0x00, 0x05, 0x00,
    0x07, 0x01, 0xAB, 0xCD,
];

fn chain_repr() -> MessageRepr<'static> {
    MessageRepr {
        header: CommonHeader {
            app: crate::uplane::AppHeader { data_direction: 1, payload_version: 1, ..Default::default() },
            number_of_sections: 1,
            fields: TypeFields::Type1 { ud_comp_hdr: UdCompHdr::UNCOMPRESSED, reserved: 0 },
        },
        sections: alloc::vec![SectionRepr {
            fields: SectionFields::Type1 { common: common(1, 0, 4, 1), beam_id: 0 },
            ci_samples: &[],
            extensions: alloc::vec![
                ExtRepr::Bfw(Ext1Bfw {
                    bfw_comp_hdr: BfwCompHdr { iq_width: 9, comp_meth: 1 },
                    bfw_comp_param: Some(5),
                    bfw: &CHAIN[20..24],
                }),
                ExtRepr::FlexBfw(Ext11FlexBfw {
                    disable_bfws: true,
                    rad: false,
                    reserved: 0,
                    num_bund_prb: 4,
                    bfw_comp_hdr: None,
                    bundles: &CHAIN[29..32],
                }),
                ExtRepr::Raw { ext_type: 7, bytes: &CHAIN[32..] },
            ],
        }],
        trailer: &[],
    }
}

#[test]
fn extension_chain_parse_and_construct() {
    assert_eq!(round_trip(&CHAIN, ParseOptions::default()), chain_repr());
    let m = chain_repr();
    let mut out = [0u8; 36];
    assert_eq!(m.emit(&mut out), Ok(36));
    assert_eq!(out, CHAIN);
}

#[test]
fn visitor_reports_wireshark_names_in_wire_order() {
    let m = MessageRepr::parse(&CHAIN).unwrap();
    let mut c = Collect::default();
    m.visit_fields(&mut c);
    let names: Vec<_> = c.0.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names[..22],
        [
            "oran_fh_cus.data_direction",
            "oran_fh_cus.payloadVersion",
            "oran_fh_cus.filterIndex",
            "oran_fh_cus.frameId",
            "oran_fh_cus.subframe_id",
            "oran_fh_cus.slotId",
            "oran_fh_cus.startSymbolId",
            "oran_fh_cus.numberOfSections",
            "oran_fh_cus.sectionType",
            "oran_fh_cus.udCompHdrWidth",
            "oran_fh_cus.udCompHdrMeth",
            "oran_fh_cus.reserved8",
            "sections",
            "oran_fh_cus.sectionId",
            "oran_fh_cus.rb",
            "oran_fh_cus.symInc",
            "oran_fh_cus.startPrbc",
            "oran_fh_cus.numPrbc",
            "oran_fh_cus.reMask",
            "oran_fh_cus.numSymbol",
            "oran_fh_cus.ef",
            "oran_fh_cus.beamId",
        ]
    );
    let ext_starts = names.iter().filter(|n| **n == "extensions").count();
    assert_eq!(ext_starts, 3);
    let ends = names.iter().filter(|n| **n == "end").count();
    assert_eq!(ends, 4);
    // Each extension reports ef, extType, extLen first; the last has ef clear.
    let efs: Vec<_> = c.0.iter().filter(|(n, _)| *n == "oran_fh_cus.ef").map(|(_, v)| *v).collect();
    assert_eq!(efs, [Some(FieldValue::Bool(true)); 3].into_iter().chain([Some(FieldValue::Bool(false))]).collect::<Vec<_>>());
    assert!(c.0.contains(&("oran_fh_cus.exponent", Some(FieldValue::U(5)))));
    assert!(c.0.contains(&("oran_fh_cus.extLen", Some(FieldValue::U(2)))));
}

#[test]
fn visitor_gives_ext11_bundles_as_beam_ids_when_num_prbc_delimits_them() {
    let beam_ids = |m: &MessageRepr<'_>| {
        let mut c = Collect::default();
        m.visit_fields(&mut c);
        let ids: Vec<u64> = c
            .0
            .iter()
            .filter_map(|(n, v)| match (n, v) {
                (&"oran_fh_cus.beamId", Some(FieldValue::U(x))) => Some(*x),
                _ => None,
            })
            .collect();
        let raw = c.0.iter().any(|(n, _)| *n == "oran_fh_cus.ext11.bundles");
        (ids, raw)
    };
    // numPrbc 4 in bundles of 4: one bundle, beamId 5 (after the section's beamId 0).
    let m = chain_repr();
    assert_eq!(beam_ids(&m), (alloc::vec![0, 5], false));
    // An extension 6 reshapes the allocation: the bundles stay bytes.
    let mut m = chain_repr();
    let ext6 = crate::cplane::ext::Ext6NonContig { rbg_size: 1, rbg_mask: 0xF, symbol_mask: 1, ..Default::default() };
    m.sections[0].extensions.insert(0, ExtRepr::NonContig(ext6));
    assert_eq!(beam_ids(&m), (alloc::vec![0], true));
    // So does numPrbc 0 (the whole carrier, which is configuration).
    let mut m = chain_repr();
    m.sections[0].fields = SectionFields::Type1 { common: common(1, 0, 0, 1), beam_id: 0 };
    assert_eq!(beam_ids(&m), (alloc::vec![0], true));
}

#[test]
fn emit_checks_section_count_and_type() {
    let mut m = chain_repr();
    m.header.number_of_sections = 2;
    assert!(matches!(m.emit(&mut [0; 64]), Err(Error::LengthMismatch { field: "oran_fh_cus.numberOfSections", .. })));
    let mut m = chain_repr();
    m.sections[0].fields = SectionFields::Type5 { common: common(1, 0, 4, 1), ue_id: 0 };
    assert!(matches!(m.emit(&mut [0; 64]), Err(Error::Unsupported { field: "oran_fh_cus.sectionType", .. })));
    assert!(matches!(chain_repr().emit(&mut [0; 35]), Err(Error::Truncated { .. })));
}

#[test]
fn errors_inside_extensions_carry_message_offsets() {
    let mut b = CHAIN;
    b[33] = 0; // extLen of the raw extension at 32
    assert_eq!(MessageRepr::parse(&b), Err(Error::ReservedValue { field: "oran_fh_cus.extLen", offset: 33, value: 0 }));
    // Extension 11 with extLen 1 has no room for numBundPrb.
    let b = [
        0x90, 0, 0, 0, 1, 1, 0, 0, //
        0x00, 0x10, 0x00, 0x04, 0xFF, 0xF1, 0x80, 0x00, //
        0x0B, 0x00, 0x01, 0x00,
    ];
    assert_eq!(
        MessageRepr::parse(&b),
        Err(Error::Truncated { field: "oran_fh_cus.numBundPrbs", offset: 19, needed: 2, available: 1 })
    );
}

fn check_round_trip(m: &MessageRepr<'_>) -> core::result::Result<(), TestCaseError> {
    let n = m.buffer_len();
    let mut out = alloc::vec![0u8; n];
    prop_assert_eq!(m.emit(&mut out), Ok(n));
    let back = MessageRepr::parse_with(&out, strategies::opts());
    prop_assert_eq!(back.as_ref(), Ok(m));
    Ok(())
}

/// Parsing any bytes never panics, and whatever parses emits back byte for byte.
fn check_any(b: &[u8]) -> core::result::Result<(), TestCaseError> {
    for opts in [ParseOptions::default(), strategies::opts()] {
        if let Ok(m) = MessageRepr::parse_with(b, opts) {
            let mut out = alloc::vec![0u8; m.buffer_len()];
            prop_assert_eq!(m.emit(&mut out), Ok(b.len()));
            prop_assert_eq!(&out[..], b);
            let mut c = Collect::default();
            m.visit_fields(&mut c);
        }
        if let Ok(it) = SectionIter::new(b, opts) {
            for s in it {
                let Ok(s) = s else { break };
                s.extensions().for_each(|e| {
                    let _ = e.map(|e| e.repr(s.fields.section_type()));
                });
            }
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn round_trip_type0(m in strategies::message(0)) { check_round_trip(&m)?; }

    #[test]
    fn round_trip_type1(m in strategies::message(1)) { check_round_trip(&m)?; }

    #[test]
    fn round_trip_type3(m in strategies::message(3)) { check_round_trip(&m)?; }

    #[test]
    fn round_trip_type5(m in strategies::message(5)) { check_round_trip(&m)?; }

    #[test]
    fn round_trip_type6(m in strategies::message(6)) { check_round_trip(&m)?; }

    #[test]
    fn round_trip_type7(m in strategies::message(7)) { check_round_trip(&m)?; }

    #[test]
    fn every_extension_round_trips_alone(
        (st, e) in prop::sample::select(&[0u8, 1, 3, 5, 6][..]).prop_flat_map(|st| (Just(st), strategies::ext_repr(st)))
    ) {
        let mut out = alloc::vec![0u8; e.buffer_len()];
        prop_assert_eq!(e.emit(&mut out, false), Ok(out.len()));
        prop_assert_eq!(ExtRepr::parse(&out, st), Ok(e));
        if let ExtRepr::Raw { bytes, .. } = e {
            prop_assert_eq!(&out[..], bytes);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(st in prop::sample::select(&[0u8, 1, 3, 5, 6, 7, 2, 4][..]), mut b in prop::collection::vec(any::<u8>(), 0..160)) {
        if b.len() > 5 {
            b[5] = st;
        }
        check_any(&b)?;
    }

    #[test]
    fn mutated_messages_never_panic(m in strategies::message(1), at in any::<prop::sample::Index>(), x in any::<u8>()) {
        let mut out = alloc::vec![0u8; m.buffer_len()];
        m.emit(&mut out).unwrap();
        if !out.is_empty() {
            let i = at.index(out.len());
            out[i] ^= x;
        }
        check_any(&out)?;
    }
}
