//! The fixed part of a C-plane section, per section type. Types 0, 1, 3 and
//! 5 share sectionId … numSymbol and the ef bit and differ in the 15 bits
//! beside ef (reserved, beamId or ueId) and what follows; type 6 has its
//! own layout (ueId first, no sectionId) and is followed by channel
//! information whose size comes from M-plane configuration.

use crate::bits::{be16, be24, check_fits, get_bits, put_bits, set_be16, set_be24};
use crate::error::check_len;
use crate::fields::{FieldValue, FieldVisitor};
use crate::{Error, Result};

/// Byte ranges and bit masks of the section header.
pub mod field {
    #![allow(missing_docs)]
    pub type Field = core::ops::Range<usize>;

    // Types 0, 1, 3, 5.
    pub const ID_RB_SYM_START: Field = 0..3;
    pub const SECTION_ID: u32 = 0xFF_F000;
    pub const RB: u32 = 0x00_0800;
    pub const SYM_INC: u32 = 0x00_0400;
    pub const START_PRBC: u32 = 0x00_03FF;
    pub const NUM_PRBC: usize = 3;
    pub const RE_MASK_NUM_SYMBOL: Field = 4..6;
    pub const RE_MASK: u32 = 0xFFF0;
    pub const NUM_SYMBOL: u32 = 0x000F;
    /// ef and beamId (type 1, 3), ueId (type 5) or reserved (type 0).
    pub const EF_WORD: Field = 6..8;
    pub const EF: u32 = 0x8000;
    pub const ID15: u32 = 0x7FFF;
    pub const COMMON_LEN: usize = 8;
    // Type 3 only.
    pub const FREQ_OFFSET: Field = 8..11;
    pub const T3_RESERVED: usize = 11;
    pub const T3_LEN: usize = 12;

    // Type 6.
    pub const T6_EF_UE_ID: Field = 0..2;
    pub const T6_REGULARIZATION_FACTOR: Field = 2..4;
    pub const T6_RSV_RB_SYM_START: Field = 4..6;
    pub const T6_RESERVED: u32 = 0xF000;
    pub const T6_NUM_PRBC: usize = 6;
    pub const T6_LEN: usize = 7;
}

/// Length of the fixed part of a section (before channel information and
/// extensions), or `None` if the section type has no modelled sections.
pub const fn fixed_len(section_type: u8) -> Option<usize> {
    match section_type {
        0 | 1 | 5 => Some(field::COMMON_LEN),
        3 => Some(field::T3_LEN),
        6 => Some(field::T6_LEN),
        _ => None,
    }
}

/// The fields sections of types 0, 1, 3 and 5 share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CommonSection {
    /// sectionId (12 bits).
    pub section_id: u16,
    /// rb: every other resource block used.
    pub rb: bool,
    /// symInc: increment the symbol number for this section.
    pub sym_inc: bool,
    /// startPrbc (10 bits).
    pub start_prbc: u16,
    /// numPrbc (0 means all PRBs of the carrier).
    pub num_prbc: u8,
    /// reMask (12 bits).
    pub re_mask: u16,
    /// numSymbol (4 bits).
    pub num_symbol: u8,
}

impl CommonSection {
    fn parse(b: &[u8]) -> Self {
        let w = be24(b, field::ID_RB_SYM_START.start);
        let m = be16(b, field::RE_MASK_NUM_SYMBOL.start) as u32;
        CommonSection {
            section_id: get_bits(w, field::SECTION_ID) as u16,
            rb: w & field::RB != 0,
            sym_inc: w & field::SYM_INC != 0,
            start_prbc: get_bits(w, field::START_PRBC) as u16,
            num_prbc: b[field::NUM_PRBC],
            re_mask: get_bits(m, field::RE_MASK) as u16,
            num_symbol: get_bits(m, field::NUM_SYMBOL) as u8,
        }
    }

    fn emit(&self, b: &mut [u8]) -> Result<()> {
        check_fits("oran_fh_cus.sectionId", self.section_id as u32, 0xFFF)?;
        check_fits("oran_fh_cus.startPrbc", self.start_prbc as u32, 0x3FF)?;
        check_fits("oran_fh_cus.reMask", self.re_mask as u32, 0xFFF)?;
        check_fits("oran_fh_cus.numSymbol", self.num_symbol as u32, 0xF)?;
        let w = ((self.section_id as u32) << 12)
            | ((self.rb as u32) << 11)
            | ((self.sym_inc as u32) << 10)
            | self.start_prbc as u32;
        set_be24(b, field::ID_RB_SYM_START.start, w);
        b[field::NUM_PRBC] = self.num_prbc;
        set_be16(b, field::RE_MASK_NUM_SYMBOL.start, (self.re_mask << 4) | self.num_symbol as u16);
        Ok(())
    }

    fn visit<'a, V: FieldVisitor<'a>>(&self, v: &mut V) {
        v.field("oran_fh_cus.sectionId", FieldValue::U(self.section_id as u64));
        v.field("oran_fh_cus.rb", FieldValue::U(self.rb as u64));
        v.field("oran_fh_cus.symInc", FieldValue::U(self.sym_inc as u64));
        v.field("oran_fh_cus.startPrbc", FieldValue::U(self.start_prbc as u64));
        v.field("oran_fh_cus.numPrbc", FieldValue::U(self.num_prbc as u64));
        v.field("oran_fh_cus.reMask", FieldValue::U(self.re_mask as u64));
        v.field("oran_fh_cus.numSymbol", FieldValue::U(self.num_symbol as u64));
    }
}

/// The fixed fields of one section, by section type. The ef bit is not
/// stored: it is set exactly when the section carries extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SectionFields {
    /// Section type 0.
    Type0 {
        /// Shared fields.
        common: CommonSection,
        /// The 15 reserved bits after ef.
        reserved: u16,
    },
    /// Section type 1.
    Type1 {
        /// Shared fields.
        common: CommonSection,
        /// beamId (15 bits).
        beam_id: u16,
    },
    /// Section type 3.
    Type3 {
        /// Shared fields.
        common: CommonSection,
        /// beamId (15 bits).
        beam_id: u16,
        /// freqOffset in subcarrier spacings (signed 24 bits).
        freq_offset: i32,
        /// The reserved byte after freqOffset.
        reserved: u8,
    },
    /// Section type 5.
    Type5 {
        /// Shared fields.
        common: CommonSection,
        /// ueId (15 bits).
        ue_id: u16,
    },
    /// Section type 6 (channel information for one UE).
    Type6 {
        /// ueId (15 bits).
        ue_id: u16,
        /// regularizationFactor (signed).
        regularization_factor: i16,
        /// The 4 reserved bits before rb.
        reserved: u8,
        /// rb.
        rb: bool,
        /// symInc.
        sym_inc: bool,
        /// startPrbc (10 bits).
        start_prbc: u16,
        /// numPrbc.
        num_prbc: u8,
    },
}

impl SectionFields {
    /// The section type these fields belong to.
    pub const fn section_type(&self) -> u8 {
        match self {
            SectionFields::Type0 { .. } => 0,
            SectionFields::Type1 { .. } => 1,
            SectionFields::Type3 { .. } => 3,
            SectionFields::Type5 { .. } => 5,
            SectionFields::Type6 { .. } => 6,
        }
    }

    /// The shared fields, for types 0, 1, 3 and 5.
    pub const fn common(&self) -> Option<&CommonSection> {
        match self {
            SectionFields::Type0 { common, .. }
            | SectionFields::Type1 { common, .. }
            | SectionFields::Type3 { common, .. }
            | SectionFields::Type5 { common, .. } => Some(common),
            SectionFields::Type6 { .. } => None,
        }
    }

    /// sectionId (type 6 sections have none).
    pub const fn section_id(&self) -> Option<u16> {
        match self.common() {
            Some(c) => Some(c.section_id),
            None => None,
        }
    }

    /// startPrbc.
    pub const fn start_prbc(&self) -> u16 {
        match self {
            SectionFields::Type6 { start_prbc, .. } => *start_prbc,
            s => s.common().unwrap().start_prbc,
        }
    }

    /// numPrbc.
    pub const fn num_prbc(&self) -> u8 {
        match self {
            SectionFields::Type6 { num_prbc, .. } => *num_prbc,
            s => s.common().unwrap().num_prbc,
        }
    }

    /// Bytes of the fixed part.
    pub const fn buffer_len(&self) -> usize {
        match self {
            SectionFields::Type3 { .. } => field::T3_LEN,
            SectionFields::Type6 { .. } => field::T6_LEN,
            _ => field::COMMON_LEN,
        }
    }

    /// Parses the fixed part of a section of `section_type`; also returns ef.
    #[inline]
    pub fn parse(b: &[u8], section_type: u8) -> Result<(Self, bool)> {
        let Some(len) = fixed_len(section_type) else {
            return Err(Error::Unsupported { field: "oran_fh_cus.sectionType", offset: 0, value: section_type as u32 });
        };
        let first = if section_type == 6 { "oran_fh_cus.ueId" } else { "oran_fh_cus.sectionId" };
        check_len(b, first, 0, len)?;
        if section_type == 6 {
            let w = be16(b, field::T6_EF_UE_ID.start) as u32;
            let r = be16(b, field::T6_RSV_RB_SYM_START.start) as u32;
            let f = SectionFields::Type6 {
                ue_id: get_bits(w, field::ID15) as u16,
                regularization_factor: be16(b, field::T6_REGULARIZATION_FACTOR.start) as i16,
                reserved: get_bits(r, field::T6_RESERVED) as u8,
                rb: r & field::RB != 0,
                sym_inc: r & field::SYM_INC != 0,
                start_prbc: get_bits(r, field::START_PRBC) as u16,
                num_prbc: b[field::T6_NUM_PRBC],
            };
            return Ok((f, w & field::EF != 0));
        }
        let common = CommonSection::parse(b);
        let w = be16(b, field::EF_WORD.start) as u32;
        let id15 = get_bits(w, field::ID15) as u16;
        let f = match section_type {
            0 => SectionFields::Type0 { common, reserved: id15 },
            1 => SectionFields::Type1 { common, beam_id: id15 },
            3 => SectionFields::Type3 {
                common,
                beam_id: id15,
                // Sign-extend the 24-bit two's complement value.
                freq_offset: ((be24(b, field::FREQ_OFFSET.start) << 8) as i32) >> 8,
                reserved: b[field::T3_RESERVED],
            },
            _ => SectionFields::Type5 { common, ue_id: id15 },
        };
        Ok((f, w & field::EF != 0))
    }

    /// Writes the fixed part with the given ef bit, returning its length.
    pub fn emit(&self, b: &mut [u8], ef: bool) -> Result<usize> {
        let n = self.buffer_len();
        check_len(b, "oran_fh_cus.sectionId", 0, n)?;
        let ef = (ef as u16) << 15;
        let id15 = |field: &'static str, v: u16| check_fits(field, v as u32, field::ID15).map(|_| ef | v);
        match *self {
            SectionFields::Type6 { ue_id, regularization_factor, reserved, rb, sym_inc, start_prbc, num_prbc } => {
                set_be16(b, field::T6_EF_UE_ID.start, id15("oran_fh_cus.ueId", ue_id)?);
                set_be16(b, field::T6_REGULARIZATION_FACTOR.start, regularization_factor as u16);
                check_fits("oran_fh_cus.reserved4", reserved as u32, 0xF)?;
                check_fits("oran_fh_cus.startPrbc", start_prbc as u32, 0x3FF)?;
                let r = ((reserved as u32) << 12) | ((rb as u32) << 11) | ((sym_inc as u32) << 10) | start_prbc as u32;
                set_be16(b, field::T6_RSV_RB_SYM_START.start, r as u16);
                b[field::T6_NUM_PRBC] = num_prbc;
            }
            SectionFields::Type0 { common, reserved } => {
                common.emit(b)?;
                set_be16(b, field::EF_WORD.start, id15("oran_fh_cus.reserved16", reserved)?);
            }
            SectionFields::Type1 { common, beam_id } => {
                common.emit(b)?;
                set_be16(b, field::EF_WORD.start, id15("oran_fh_cus.beamId", beam_id)?);
            }
            SectionFields::Type3 { common, beam_id, freq_offset, reserved } => {
                common.emit(b)?;
                set_be16(b, field::EF_WORD.start, id15("oran_fh_cus.beamId", beam_id)?);
                if !(-(1 << 23)..(1 << 23)).contains(&freq_offset) {
                    return Err(Error::ValueOutOfRange {
                        field: "oran_fh_cus.freqOffset",
                        value: freq_offset as u32,
                        max: (1 << 23) - 1,
                    });
                }
                set_be24(b, field::FREQ_OFFSET.start, freq_offset as u32 & 0xFF_FFFF);
                b[field::T3_RESERVED] = reserved;
            }
            SectionFields::Type5 { common, ue_id } => {
                common.emit(b)?;
                set_be16(b, field::EF_WORD.start, id15("oran_fh_cus.ueId", ue_id)?);
            }
        }
        Ok(n)
    }

    /// Reports the fields in wire order. freqOffset and
    /// regularizationFactor are signed, as the specification defines them
    /// (Wireshark 4.0 registers freqOffset as unsigned; the oracle test
    /// compares its bit pattern). As in Wireshark 4.0, the 15 reserved bits
    /// of type 0 are reported as `oran_fh_cus.reserved16` (4.0 predates ef
    /// in type 0).
    pub fn visit<'a, V: FieldVisitor<'a>>(&self, v: &mut V, ef: bool) {
        if let SectionFields::Type6 { ue_id, regularization_factor, reserved, rb, sym_inc, start_prbc, num_prbc } = *self {
            v.field("oran_fh_cus.ef", FieldValue::Bool(ef));
            v.field("oran_fh_cus.ueId", FieldValue::U(ue_id as u64));
            v.field("oran_fh_cus.regularizationFactor", FieldValue::I(regularization_factor as i64));
            v.field("oran_fh_cus.reserved4", FieldValue::U(reserved as u64));
            v.field("oran_fh_cus.rb", FieldValue::U(rb as u64));
            v.field("oran_fh_cus.symInc", FieldValue::U(sym_inc as u64));
            v.field("oran_fh_cus.startPrbc", FieldValue::U(start_prbc as u64));
            v.field("oran_fh_cus.numPrbc", FieldValue::U(num_prbc as u64));
            return;
        }
        self.common().unwrap().visit(v);
        v.field("oran_fh_cus.ef", FieldValue::Bool(ef));
        match *self {
            SectionFields::Type0 { reserved, .. } => v.field("oran_fh_cus.reserved16", FieldValue::U(reserved as u64)),
            SectionFields::Type1 { beam_id, .. } => v.field("oran_fh_cus.beamId", FieldValue::U(beam_id as u64)),
            SectionFields::Type3 { beam_id, freq_offset, reserved, .. } => {
                v.field("oran_fh_cus.beamId", FieldValue::U(beam_id as u64));
                // Signed: 24-bit two's complement (O-RAN.WG4.CUS, section type 3).
                v.field("oran_fh_cus.freqOffset", FieldValue::I(freq_offset as i64));
                v.field("oran_fh_cus.reserved8", FieldValue::U(reserved as u64));
            }
            SectionFields::Type5 { ue_id, .. } => v.field("oran_fh_cus.ueId", FieldValue::U(ue_id as u64)),
            SectionFields::Type6 { .. } => {}
        }
    }
}

/// A zero-copy view of one section's fixed part, for reading and
/// rewriting fields in place (translators remap beamId, startPrbc, ...).
#[derive(Debug, Clone)]
pub struct SectionPacket<T: AsRef<[u8]>> {
    buffer: T,
    section_type: u8,
}

impl<T: AsRef<[u8]>> SectionPacket<T> {
    /// Wraps `buffer` (starting at the section) after checking that the
    /// fixed part of a `section_type` section fits.
    pub fn new_checked(buffer: T, section_type: u8) -> Result<Self> {
        let Some(len) = fixed_len(section_type) else {
            return Err(Error::Unsupported { field: "oran_fh_cus.sectionType", offset: 0, value: section_type as u32 });
        };
        check_len(buffer.as_ref(), "oran_fh_cus.sectionId", 0, len)?;
        Ok(SectionPacket { buffer, section_type })
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn is6(&self) -> bool {
        self.section_type == 6
    }

    fn id_word(&self) -> u32 {
        be24(self.b(), field::ID_RB_SYM_START.start)
    }

    fn prb_word(&self) -> u32 {
        if self.is6() {
            be16(self.b(), field::T6_RSV_RB_SYM_START.start) as u32
        } else {
            self.id_word()
        }
    }

    fn ef_word(&self) -> u32 {
        let at = if self.is6() { field::T6_EF_UE_ID.start } else { field::EF_WORD.start };
        be16(self.b(), at) as u32
    }

    /// The section type this view was opened for.
    pub fn section_type(&self) -> u8 {
        self.section_type
    }

    /// sectionId (`None` for type 6).
    pub fn section_id(&self) -> Option<u16> {
        (!self.is6()).then(|| get_bits(self.id_word(), field::SECTION_ID) as u16)
    }

    /// rb.
    pub fn rb(&self) -> bool {
        self.prb_word() & field::RB != 0
    }

    /// symInc.
    pub fn sym_inc(&self) -> bool {
        self.prb_word() & field::SYM_INC != 0
    }

    /// startPrbc.
    pub fn start_prbc(&self) -> u16 {
        get_bits(self.prb_word(), field::START_PRBC) as u16
    }

    /// numPrbc.
    pub fn num_prbc(&self) -> u8 {
        self.b()[if self.is6() { field::T6_NUM_PRBC } else { field::NUM_PRBC }]
    }

    /// reMask (`None` for type 6).
    pub fn re_mask(&self) -> Option<u16> {
        (!self.is6()).then(|| get_bits(be16(self.b(), 4) as u32, field::RE_MASK) as u16)
    }

    /// numSymbol (`None` for type 6).
    pub fn num_symbol(&self) -> Option<u8> {
        (!self.is6()).then(|| get_bits(be16(self.b(), 4) as u32, field::NUM_SYMBOL) as u8)
    }

    /// ef: extensions follow the fixed part.
    pub fn ef(&self) -> bool {
        self.ef_word() & field::EF != 0
    }

    /// beamId (types 1 and 3).
    pub fn beam_id(&self) -> Option<u16> {
        matches!(self.section_type, 1 | 3).then(|| get_bits(self.ef_word(), field::ID15) as u16)
    }

    /// ueId (types 5 and 6).
    pub fn ue_id(&self) -> Option<u16> {
        matches!(self.section_type, 5 | 6).then(|| get_bits(self.ef_word(), field::ID15) as u16)
    }

    /// freqOffset (type 3), sign-extended.
    pub fn freq_offset(&self) -> Option<i32> {
        (self.section_type == 3).then(|| ((be24(self.b(), field::FREQ_OFFSET.start) << 8) as i32) >> 8)
    }

    /// regularizationFactor (type 6).
    pub fn regularization_factor(&self) -> Option<i16> {
        self.is6().then(|| be16(self.b(), field::T6_REGULARIZATION_FACTOR.start) as i16)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> SectionPacket<T> {
    fn set_prb_word_bits(&mut self, mask: u32, v: u32) {
        if self.is6() {
            let w = put_bits(self.prb_word(), mask, v);
            set_be16(self.buffer.as_mut(), field::T6_RSV_RB_SYM_START.start, w as u16);
        } else {
            let w = put_bits(self.id_word(), mask, v);
            set_be24(self.buffer.as_mut(), field::ID_RB_SYM_START.start, w);
        }
    }

    fn set_id15(&mut self, field: &'static str, v: u16) -> Result<()> {
        check_fits(field, v as u32, field::ID15)?;
        let at = if self.is6() { field::T6_EF_UE_ID.start } else { field::EF_WORD.start };
        let w = put_bits(self.ef_word(), field::ID15, v as u32);
        set_be16(self.buffer.as_mut(), at, w as u16);
        Ok(())
    }

    fn wrong_type(&self, field: &'static str) -> Error {
        Error::Unsupported { field, offset: 0, value: self.section_type as u32 }
    }

    /// Sets sectionId (not in type 6).
    pub fn set_section_id(&mut self, v: u16) -> Result<()> {
        if self.is6() {
            return Err(self.wrong_type("oran_fh_cus.sectionId"));
        }
        check_fits("oran_fh_cus.sectionId", v as u32, 0xFFF)?;
        self.set_prb_word_bits(field::SECTION_ID, v as u32);
        Ok(())
    }

    /// Sets startPrbc (10 bits), keeping rb, symInc and sectionId.
    pub fn set_start_prbc(&mut self, v: u16) -> Result<()> {
        check_fits("oran_fh_cus.startPrbc", v as u32, 0x3FF)?;
        self.set_prb_word_bits(field::START_PRBC, v as u32);
        Ok(())
    }

    /// Sets numPrbc.
    pub fn set_num_prbc(&mut self, v: u8) {
        let at = if self.is6() { field::T6_NUM_PRBC } else { field::NUM_PRBC };
        self.buffer.as_mut()[at] = v;
    }

    /// Sets beamId (types 1 and 3), keeping ef.
    pub fn set_beam_id(&mut self, v: u16) -> Result<()> {
        if !matches!(self.section_type, 1 | 3) {
            return Err(self.wrong_type("oran_fh_cus.beamId"));
        }
        self.set_id15("oran_fh_cus.beamId", v)
    }

    /// Sets ueId (types 5 and 6), keeping ef.
    pub fn set_ue_id(&mut self, v: u16) -> Result<()> {
        if !matches!(self.section_type, 5 | 6) {
            return Err(self.wrong_type("oran_fh_cus.ueId"));
        }
        self.set_id15("oran_fh_cus.ueId", v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Type 3: sectionId 0xABC, rb 1, symInc 0, startPrbc 0x155, numPrbc 12,
    // reMask 0xFFF, numSymbol 1, ef 1, beamId 0x1234, freqOffset -10, reserved 0x5A.
    const T3: [u8; 12] = [0xAB, 0xC9, 0x55, 0x0C, 0xFF, 0xF1, 0x92, 0x34, 0xFF, 0xFF, 0xF6, 0x5A];
    // Type 6: ef 0, ueId 0x0102, regularizationFactor -2, reserved 0xA,
    // rb 0, symInc 1, startPrbc 3, numPrbc 2.
    const T6: [u8; 7] = [0x01, 0x02, 0xFF, 0xFE, 0xA4, 0x03, 0x02];

    fn t3_fields() -> SectionFields {
        SectionFields::Type3 {
            common: CommonSection {
                section_id: 0xABC,
                rb: true,
                sym_inc: false,
                start_prbc: 0x155,
                num_prbc: 12,
                re_mask: 0xFFF,
                num_symbol: 1,
            },
            beam_id: 0x1234,
            freq_offset: -10,
            reserved: 0x5A,
        }
    }

    #[test]
    fn deconstruct_type3() {
        let p = SectionPacket::new_checked(&T3[..], 3).unwrap();
        assert_eq!(p.section_id(), Some(0xABC));
        assert!(p.rb());
        assert!(!p.sym_inc());
        assert_eq!(p.start_prbc(), 0x155);
        assert_eq!(p.num_prbc(), 12);
        assert_eq!(p.re_mask(), Some(0xFFF));
        assert_eq!(p.num_symbol(), Some(1));
        assert!(p.ef());
        assert_eq!(p.beam_id(), Some(0x1234));
        assert_eq!(p.ue_id(), None);
        assert_eq!(p.freq_offset(), Some(-10));
        assert_eq!(SectionFields::parse(&T3, 3), Ok((t3_fields(), true)));
    }

    #[test]
    fn construct_type3() {
        let mut b = [0u8; 12];
        assert_eq!(t3_fields().emit(&mut b, true), Ok(12));
        assert_eq!(b, T3);
        // Rewrite in place: neighbours of each field stay as they were.
        let mut p = SectionPacket::new_checked(&mut b[..], 3).unwrap();
        p.set_start_prbc(0x3FF).unwrap();
        p.set_beam_id(7).unwrap();
        p.set_num_prbc(255);
        p.set_section_id(1).unwrap();
        assert!(p.set_ue_id(1).is_err());
        assert!(p.set_start_prbc(0x400).is_err());
        assert_eq!(b[..8], [0x00, 0x1B, 0xFF, 0xFF, 0xFF, 0xF1, 0x80, 0x07]);
    }

    #[test]
    fn type6_round_trip() {
        let (f, ef) = SectionFields::parse(&T6, 6).unwrap();
        assert!(!ef);
        assert_eq!(
            f,
            SectionFields::Type6 {
                ue_id: 0x0102,
                regularization_factor: -2,
                reserved: 0xA,
                rb: false,
                sym_inc: true,
                start_prbc: 3,
                num_prbc: 2
            }
        );
        let mut b = [0u8; 7];
        assert_eq!(f.emit(&mut b, false), Ok(7));
        assert_eq!(b, T6);
        let p = SectionPacket::new_checked(&T6[..], 6).unwrap();
        assert_eq!((p.section_id(), p.ue_id(), p.regularization_factor()), (None, Some(0x102), Some(-2)));
        assert_eq!((p.start_prbc(), p.num_prbc(), p.sym_inc()), (3, 2, true));
    }

    #[test]
    fn short_and_out_of_range() {
        assert!(matches!(
            SectionFields::parse(&T3[..11], 3),
            Err(Error::Truncated { field: "oran_fh_cus.sectionId", needed: 12, available: 11, .. })
        ));
        assert!(SectionFields::parse(&T3, 2).is_err());
        let SectionFields::Type3 { common, .. } = t3_fields() else { unreachable!() };
        let f = SectionFields::Type3 { common, beam_id: 1, freq_offset: 1 << 23, reserved: 0 };
        assert!(matches!(f.emit(&mut [0; 12], false), Err(Error::ValueOutOfRange { field: "oran_fh_cus.freqOffset", .. })));
    }
}
