//! The C-plane common header: the 4-byte application header shared with the
//! U-plane, numberOfSections, sectionType, then fields that depend on the
//! section type (timeOffset, frameStructure, cpLength, udCompHdr,
//! numberOfUEs, or the LAA message of type 7).

use crate::bits::{be16, check_fits, get_bits, put_bits, set_be16};
use crate::error::check_len;
use crate::fields::{FieldValue, FieldVisitor};
use crate::uplane::AppHeader;
use crate::{Error, Result, UdCompHdr};

use super::laa::LaaMsg;

/// Byte ranges of the common header.
pub mod field {
    #![allow(missing_docs)]
    pub type Field = core::ops::Range<usize>;

    pub const DIR_VER_FILTER: usize = 0;
    pub const FRAME_ID: usize = 1;
    pub const SUBFRAME_SLOT_SYMBOL: Field = 2..4;
    pub const NUMBER_OF_SECTIONS: usize = 4;
    pub const SECTION_TYPE: usize = 5;
    /// Bytes every section type shares.
    pub const FIXED_LEN: usize = 6;

    // Bit masks within DIR_VER_FILTER and SUBFRAME_SLOT_SYMBOL.
    pub const DATA_DIRECTION: u32 = 0x80;
    pub const PAYLOAD_VERSION: u32 = 0x70;
    pub const FILTER_INDEX: u32 = 0x0F;
    pub const SUBFRAME_ID: u32 = 0xF000;
    pub const SLOT_ID: u32 = 0x0FC0;
    pub const START_SYMBOL_ID: u32 = 0x003F;

    // Section types 0 and 3.
    pub const TIME_OFFSET: Field = 6..8;
    pub const FRAME_STRUCTURE: usize = 8;
    pub const CP_LENGTH: Field = 9..11;
    /// Reserved in type 0, udCompHdr in type 3.
    pub const T03_LAST: usize = 11;
    pub const T03_LEN: usize = 12;

    // Section types 1 and 5: udCompHdr, reserved. Type 6: numberOfUEs, reserved.
    pub const T156_FIRST: usize = 6;
    pub const T156_RESERVED: usize = 7;
    pub const T156_LEN: usize = 8;

    // Section type 7.
    pub const T7_RESERVED: Field = 6..8;
    pub const T7_LAA: usize = 8;
}

/// frameStructure: FFT size (4 bits) and subcarrier spacing µ (4 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FrameStructure {
    /// FFT size code (8 = 256 … 12 = 4096, 13 = 1536, 14 = 128).
    pub fft_size: u8,
    /// Subcarrier spacing code µ (0 = 15 kHz … 4 = 240 kHz, 12–15 PRACH/LTE).
    pub scs: u8,
}

impl FrameStructure {
    /// Decodes the byte.
    pub const fn from_byte(b: u8) -> Self {
        FrameStructure { fft_size: b >> 4, scs: b & 0xF }
    }

    /// Encodes the byte.
    pub const fn to_byte(self) -> u8 {
        (self.fft_size << 4) | (self.scs & 0xF)
    }
}

/// The fields of the common header that depend on the section type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TypeFields {
    /// Section type 0: unused resource blocks or symbols.
    Type0 {
        /// timeOffset, in samples.
        time_offset: u16,
        /// frameStructure.
        frame_structure: FrameStructure,
        /// cpLength, in samples.
        cp_length: u16,
        /// The reserved byte after cpLength.
        reserved: u8,
    },
    /// Section type 1: most DL/UL channels.
    Type1 {
        /// udCompHdr (ignored by the O-RU in DL).
        ud_comp_hdr: UdCompHdr,
        /// The reserved byte after udCompHdr.
        reserved: u8,
    },
    /// Section type 3: PRACH and mixed numerology.
    Type3 {
        /// timeOffset, in samples.
        time_offset: u16,
        /// frameStructure.
        frame_structure: FrameStructure,
        /// cpLength, in samples.
        cp_length: u16,
        /// udCompHdr.
        ud_comp_hdr: UdCompHdr,
    },
    /// Section type 5: UE scheduling information.
    Type5 {
        /// udCompHdr.
        ud_comp_hdr: UdCompHdr,
        /// The reserved byte after udCompHdr.
        reserved: u8,
    },
    /// Section type 6: channel information.
    Type6 {
        /// numberOfUEs.
        number_of_ues: u8,
        /// The byte after numberOfUEs: reserved, ciCompHdr in later CUS versions.
        reserved: u8,
    },
    /// Section type 7: LAA.
    Type7 {
        /// The two reserved bytes after sectionType.
        reserved: u16,
        /// The LBT message.
        laa: LaaMsg,
    },
}

impl TypeFields {
    /// The sectionType value these fields belong to.
    pub const fn section_type(&self) -> u8 {
        match self {
            TypeFields::Type0 { .. } => 0,
            TypeFields::Type1 { .. } => 1,
            TypeFields::Type3 { .. } => 3,
            TypeFields::Type5 { .. } => 5,
            TypeFields::Type6 { .. } => 6,
            TypeFields::Type7 { .. } => 7,
        }
    }

    /// udCompHdr, for the section types that carry one (1, 3 and 5).
    pub const fn ud_comp_hdr(&self) -> Option<UdCompHdr> {
        match *self {
            TypeFields::Type1 { ud_comp_hdr, .. }
            | TypeFields::Type3 { ud_comp_hdr, .. }
            | TypeFields::Type5 { ud_comp_hdr, .. } => Some(ud_comp_hdr),
            _ => None,
        }
    }
}

/// Header length of a section type, or `None` for types this codec does
/// not model (type 7 gives the length up to and including the LAA type byte).
pub const fn header_len(section_type: u8) -> Option<usize> {
    match section_type {
        0 | 3 => Some(field::T03_LEN),
        1 | 5 | 6 => Some(field::T156_LEN),
        7 => Some(field::T7_LAA + 1),
        _ => None,
    }
}

/// A zero-copy view of a C-plane message, starting at the
/// dataDirection/payloadVersion/filterIndex byte.
#[derive(Debug, Clone)]
pub struct CplanePacket<T: AsRef<[u8]>> {
    buffer: T,
    header_len: usize,
}

impl<T: AsRef<[u8]>> CplanePacket<T> {
    /// Wraps `buffer` after checking that the common header of a modelled
    /// section type (0, 1, 3, 5, 6, 7) is complete.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        check_len(b, "oran_fh_cus.sectionType", 0, field::FIXED_LEN)?;
        let st = b[field::SECTION_TYPE];
        let Some(mut len) = header_len(st) else {
            return Err(Error::Unsupported { field: "oran_fh_cus.sectionType", offset: field::SECTION_TYPE, value: st as u32 });
        };
        check_len(b, "oran_fh_cus.sectionType", 0, len)?;
        if st == 7 {
            let laa = LaaMsg::parse(&b[field::T7_LAA..]).map_err(|e| e.at(field::T7_LAA))?;
            len = field::T7_LAA + laa.buffer_len();
        }
        Ok(CplanePacket { buffer, header_len: len })
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// The whole message.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn word(&self) -> u32 {
        be16(self.b(), field::SUBFRAME_SLOT_SYMBOL.start) as u32
    }

    /// dataDirection: 1 = DL, 0 = UL.
    pub fn data_direction(&self) -> u8 {
        get_bits(self.b()[field::DIR_VER_FILTER] as u32, field::DATA_DIRECTION) as u8
    }

    /// payloadVersion.
    pub fn payload_version(&self) -> u8 {
        get_bits(self.b()[field::DIR_VER_FILTER] as u32, field::PAYLOAD_VERSION) as u8
    }

    /// filterIndex (reserved bits in type 7).
    pub fn filter_index(&self) -> u8 {
        get_bits(self.b()[field::DIR_VER_FILTER] as u32, field::FILTER_INDEX) as u8
    }

    /// frameId.
    pub fn frame_id(&self) -> u8 {
        self.b()[field::FRAME_ID]
    }

    /// subframeId.
    pub fn subframe_id(&self) -> u8 {
        get_bits(self.word(), field::SUBFRAME_ID) as u8
    }

    /// slotId.
    pub fn slot_id(&self) -> u8 {
        get_bits(self.word(), field::SLOT_ID) as u8
    }

    /// startSymbolId (reserved bits in type 7).
    pub fn start_symbol_id(&self) -> u8 {
        get_bits(self.word(), field::START_SYMBOL_ID) as u8
    }

    /// numberOfSections (a reserved byte in type 7).
    pub fn number_of_sections(&self) -> u8 {
        self.b()[field::NUMBER_OF_SECTIONS]
    }

    /// sectionType.
    pub fn section_type(&self) -> u8 {
        self.b()[field::SECTION_TYPE]
    }

    /// udCompHdr, for section types 1, 3 and 5.
    pub fn ud_comp_hdr(&self) -> Option<UdCompHdr> {
        self.ud_comp_hdr_at().map(|at| UdCompHdr::from_byte(self.b()[at]))
    }

    fn ud_comp_hdr_at(&self) -> Option<usize> {
        match self.section_type() {
            1 | 5 => Some(field::T156_FIRST),
            3 => Some(field::T03_LAST),
            _ => None,
        }
    }

    /// timeOffset, for section types 0 and 3.
    pub fn time_offset(&self) -> Option<u16> {
        matches!(self.section_type(), 0 | 3).then(|| be16(self.b(), field::TIME_OFFSET.start))
    }

    /// frameStructure, for section types 0 and 3.
    pub fn frame_structure(&self) -> Option<FrameStructure> {
        matches!(self.section_type(), 0 | 3).then(|| FrameStructure::from_byte(self.b()[field::FRAME_STRUCTURE]))
    }

    /// cpLength, for section types 0 and 3.
    pub fn cp_length(&self) -> Option<u16> {
        matches!(self.section_type(), 0 | 3).then(|| be16(self.b(), field::CP_LENGTH.start))
    }

    /// numberOfUEs, for section type 6.
    pub fn number_of_ues(&self) -> Option<u8> {
        (self.section_type() == 6).then(|| self.b()[field::T156_FIRST])
    }

    /// Length of the common header (for type 7, up to the end of the LBT message).
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// Where the first section starts.
    pub fn sections_offset(&self) -> usize {
        self.header_len
    }

    /// The bytes after the common header: the sections (or what follows the LBT message).
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len..]
    }

    /// Walks the sections without allocating.
    pub fn sections(&self, opts: super::ParseOptions) -> super::SectionIter<'_> {
        super::SectionIter::from_packet(self, opts)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> CplanePacket<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    fn set_word_bits(&mut self, mask: u32, v: u32) {
        let w = put_bits(be16(self.b(), 2) as u32, mask, v);
        set_be16(self.bm(), field::SUBFRAME_SLOT_SYMBOL.start, w as u16);
    }

    fn set_byte0_bits(&mut self, mask: u32, v: u32) {
        let b0 = put_bits(self.b()[0] as u32, mask, v);
        self.bm()[0] = b0 as u8;
    }

    /// Sets dataDirection (low bit of `v`).
    pub fn set_data_direction(&mut self, v: u8) {
        self.set_byte0_bits(field::DATA_DIRECTION, v as u32);
    }

    /// Sets payloadVersion (low 3 bits of `v`).
    pub fn set_payload_version(&mut self, v: u8) {
        self.set_byte0_bits(field::PAYLOAD_VERSION, v as u32);
    }

    /// Sets filterIndex (low 4 bits of `v`).
    pub fn set_filter_index(&mut self, v: u8) {
        self.set_byte0_bits(field::FILTER_INDEX, v as u32);
    }

    /// Sets frameId.
    pub fn set_frame_id(&mut self, v: u8) {
        self.bm()[field::FRAME_ID] = v;
    }

    /// Sets subframeId (low 4 bits of `v`).
    pub fn set_subframe_id(&mut self, v: u8) {
        self.set_word_bits(field::SUBFRAME_ID, v as u32);
    }

    /// Sets slotId (low 6 bits of `v`).
    pub fn set_slot_id(&mut self, v: u8) {
        self.set_word_bits(field::SLOT_ID, v as u32);
    }

    /// Sets startSymbolId (low 6 bits of `v`).
    pub fn set_start_symbol_id(&mut self, v: u8) {
        self.set_word_bits(field::START_SYMBOL_ID, v as u32);
    }

    /// Sets numberOfSections (the caller keeps it in step with the sections).
    pub fn set_number_of_sections(&mut self, v: u8) {
        self.bm()[field::NUMBER_OF_SECTIONS] = v;
    }

    /// Rewrites udCompHdr in place (section types 1, 3 and 5).
    pub fn set_ud_comp_hdr(&mut self, h: UdCompHdr) -> Result<()> {
        ud_comp_hdr_byte(h)?;
        let Some(at) = self.ud_comp_hdr_at() else {
            let st = self.section_type();
            return Err(Error::Unsupported { field: "oran_fh_cus.udCompHdrMeth", offset: field::SECTION_TYPE, value: st as u32 });
        };
        self.bm()[at] = h.to_byte();
        Ok(())
    }

    /// The sections, for rewriting in place.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let at = self.header_len;
        &mut self.bm()[at..]
    }
}

/// The decoded common header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommonHeader {
    /// dataDirection … startSymbolId (`symbol_id` holds startSymbolId).
    /// In type 7 filterIndex and startSymbolId are reserved bits, kept here.
    pub app: AppHeader,
    /// numberOfSections (a reserved byte in type 7, kept as sent).
    pub number_of_sections: u8,
    /// sectionType and the fields that depend on it.
    pub fields: TypeFields,
}

impl CommonHeader {
    /// sectionType.
    pub const fn section_type(&self) -> u8 {
        self.fields.section_type()
    }

    /// Parses the common header at the start of `b`.
    pub fn parse(b: &[u8]) -> Result<Self> {
        let p = CplanePacket::new_checked(b)?;
        let app = AppHeader::parse(b)?;
        let fields = match p.section_type() {
            0 => TypeFields::Type0 {
                time_offset: be16(b, field::TIME_OFFSET.start),
                frame_structure: FrameStructure::from_byte(b[field::FRAME_STRUCTURE]),
                cp_length: be16(b, field::CP_LENGTH.start),
                reserved: b[field::T03_LAST],
            },
            1 => TypeFields::Type1 { ud_comp_hdr: UdCompHdr::from_byte(b[6]), reserved: b[7] },
            3 => TypeFields::Type3 {
                time_offset: be16(b, field::TIME_OFFSET.start),
                frame_structure: FrameStructure::from_byte(b[field::FRAME_STRUCTURE]),
                cp_length: be16(b, field::CP_LENGTH.start),
                ud_comp_hdr: UdCompHdr::from_byte(b[field::T03_LAST]),
            },
            5 => TypeFields::Type5 { ud_comp_hdr: UdCompHdr::from_byte(b[6]), reserved: b[7] },
            6 => TypeFields::Type6 { number_of_ues: b[6], reserved: b[7] },
            _ => TypeFields::Type7 {
                reserved: be16(b, field::T7_RESERVED.start),
                laa: LaaMsg::parse(&b[field::T7_LAA..]).map_err(|e| e.at(field::T7_LAA))?,
            },
        };
        Ok(CommonHeader { app, number_of_sections: p.number_of_sections(), fields })
    }

    /// Bytes `emit` writes.
    pub fn buffer_len(&self) -> usize {
        match &self.fields {
            TypeFields::Type7 { laa, .. } => field::T7_LAA + laa.buffer_len(),
            f => header_len(f.section_type()).unwrap_or(field::FIXED_LEN),
        }
    }

    /// Writes the header at the start of `b`, returning its length.
    pub fn emit(&self, b: &mut [u8]) -> Result<usize> {
        let n = self.buffer_len();
        check_len(b, "oran_fh_cus.sectionType", 0, n)?;
        self.app.emit(b)?;
        b[field::NUMBER_OF_SECTIONS] = self.number_of_sections;
        b[field::SECTION_TYPE] = self.section_type();
        match self.fields {
            TypeFields::Type0 { time_offset, frame_structure, cp_length, reserved } => {
                emit_timing(b, time_offset, frame_structure, cp_length)?;
                b[field::T03_LAST] = reserved;
            }
            TypeFields::Type3 { time_offset, frame_structure, cp_length, ud_comp_hdr } => {
                emit_timing(b, time_offset, frame_structure, cp_length)?;
                b[field::T03_LAST] = ud_comp_hdr_byte(ud_comp_hdr)?;
            }
            TypeFields::Type1 { ud_comp_hdr, reserved } | TypeFields::Type5 { ud_comp_hdr, reserved } => {
                b[field::T156_FIRST] = ud_comp_hdr_byte(ud_comp_hdr)?;
                b[field::T156_RESERVED] = reserved;
            }
            TypeFields::Type6 { number_of_ues, reserved } => {
                b[field::T156_FIRST] = number_of_ues;
                b[field::T156_RESERVED] = reserved;
            }
            TypeFields::Type7 { reserved, laa } => {
                set_be16(b, field::T7_RESERVED.start, reserved);
                laa.emit(&mut b[field::T7_LAA..])?;
            }
        }
        Ok(n)
    }

    /// Reports the fields in wire order under Wireshark's names. udCompHdr
    /// is reported as the raw nibbles (width 0 means 16), as Wireshark does.
    pub fn visit<'a, V: FieldVisitor<'a>>(&self, v: &mut V) {
        self.app.visit(v, "oran_fh_cus.startSymbolId");
        v.field("oran_fh_cus.numberOfSections", FieldValue::U(self.number_of_sections as u64));
        v.field("oran_fh_cus.sectionType", FieldValue::U(self.section_type() as u64));
        let timing = |v: &mut V, t: u16, fs: FrameStructure, cp: u16| {
            v.field("oran_fh_cus.timeOffset", FieldValue::U(t as u64));
            v.field("oran_fh_cus.frameStructure.fft", FieldValue::U(fs.fft_size as u64));
            v.field("oran_fh_cus.frameStructure.spacing", FieldValue::U(fs.scs as u64));
            v.field("oran_fh_cus.cpLength", FieldValue::U(cp as u64));
        };
        let comp = |v: &mut V, h: UdCompHdr| {
            v.field("oran_fh_cus.udCompHdrWidth", FieldValue::U((h.to_byte() >> 4) as u64));
            v.field("oran_fh_cus.udCompHdrMeth", FieldValue::U(h.comp_meth.bits() as u64));
        };
        match self.fields {
            TypeFields::Type0 { time_offset, frame_structure, cp_length, reserved } => {
                timing(v, time_offset, frame_structure, cp_length);
                v.field("oran_fh_cus.reserved8", FieldValue::U(reserved as u64));
            }
            TypeFields::Type3 { time_offset, frame_structure, cp_length, ud_comp_hdr } => {
                timing(v, time_offset, frame_structure, cp_length);
                comp(v, ud_comp_hdr);
            }
            TypeFields::Type1 { ud_comp_hdr, reserved } | TypeFields::Type5 { ud_comp_hdr, reserved } => {
                comp(v, ud_comp_hdr);
                v.field("oran_fh_cus.reserved8", FieldValue::U(reserved as u64));
            }
            TypeFields::Type6 { number_of_ues, reserved } => {
                v.field("oran_fh_cus.numberOfUEs", FieldValue::U(number_of_ues as u64));
                v.field("oran_fh_cus.reserved8", FieldValue::U(reserved as u64));
            }
            TypeFields::Type7 { reserved, laa } => {
                v.field("oran_fh_cus.reserved16", FieldValue::U(reserved as u64));
                laa.visit(v);
            }
        }
    }
}

fn emit_timing(b: &mut [u8], time_offset: u16, fs: FrameStructure, cp_length: u16) -> Result<()> {
    check_fits("oran_fh_cus.frameStructure.fft", fs.fft_size as u32, 0xF)?;
    check_fits("oran_fh_cus.frameStructure.spacing", fs.scs as u32, 0xF)?;
    set_be16(b, field::TIME_OFFSET.start, time_offset);
    b[field::FRAME_STRUCTURE] = fs.to_byte();
    set_be16(b, field::CP_LENGTH.start, cp_length);
    Ok(())
}

fn ud_comp_hdr_byte(h: UdCompHdr) -> Result<u8> {
    // Width 16 is written as 0; anything above 16 would alias another width.
    if h.iq_width > 16 {
        return Err(Error::ValueOutOfRange { field: "oran_fh_cus.udCompHdrWidth", value: h.iq_width as u32, max: 16 });
    }
    Ok(h.to_byte())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CompMethod;

    // Type 3, DL, payloadVersion 1, filterIndex 3, frame 0x42, subframe 5,
    // slot 9, startSymbol 2, 1 section, timeOffset 0x1234, FFT 12 / µ 1,
    // cpLength 0x0160, udCompHdr BFP 9.
    const T3: [u8; 12] = [0x93, 0x42, 0x52, 0x42, 0x01, 0x03, 0x12, 0x34, 0xC1, 0x01, 0x60, 0x91];

    #[test]
    fn deconstruct_type3() {
        let p = CplanePacket::new_checked(&T3[..]).unwrap();
        assert_eq!(p.data_direction(), 1);
        assert_eq!(p.payload_version(), 1);
        assert_eq!(p.filter_index(), 3);
        assert_eq!(p.frame_id(), 0x42);
        assert_eq!(p.subframe_id(), 5);
        assert_eq!(p.slot_id(), 9);
        assert_eq!(p.start_symbol_id(), 2);
        assert_eq!(p.number_of_sections(), 1);
        assert_eq!(p.section_type(), 3);
        assert_eq!(p.time_offset(), Some(0x1234));
        assert_eq!(p.frame_structure(), Some(FrameStructure { fft_size: 12, scs: 1 }));
        assert_eq!(p.cp_length(), Some(0x160));
        assert_eq!(p.ud_comp_hdr(), Some(UdCompHdr::new(CompMethod::Bfp, 9)));
        assert_eq!(p.number_of_ues(), None);
        assert_eq!(p.header_len(), 12);
        assert!(p.payload().is_empty());
        // One section is declared but none is present.
        let mut it = p.sections(super::super::ParseOptions::default());
        assert!(matches!(it.next(), Some(Err(Error::Truncated { offset: 12, .. }))));
        assert!(it.next().is_none());
    }

    #[test]
    fn construct_type3() {
        let mut b = [0u8; 12];
        b[field::SECTION_TYPE] = 3;
        let mut p = CplanePacket::new_checked(&mut b[..]).unwrap();
        p.set_data_direction(1);
        p.set_payload_version(1);
        p.set_filter_index(3);
        p.set_frame_id(0x42);
        p.set_subframe_id(5);
        p.set_slot_id(9);
        p.set_start_symbol_id(2);
        p.set_number_of_sections(1);
        p.set_ud_comp_hdr(UdCompHdr::new(CompMethod::Bfp, 9)).unwrap();
        b[6..11].copy_from_slice(&[0x12, 0x34, 0xC1, 0x01, 0x60]);
        assert_eq!(b, T3);
    }

    #[test]
    fn repr_round_trip_type3() {
        let h = CommonHeader::parse(&T3).unwrap();
        assert_eq!(
            h.fields,
            TypeFields::Type3 {
                time_offset: 0x1234,
                frame_structure: FrameStructure { fft_size: 12, scs: 1 },
                cp_length: 0x160,
                ud_comp_hdr: UdCompHdr::new(CompMethod::Bfp, 9),
            }
        );
        assert_eq!(h.buffer_len(), 12);
        let mut out = [0u8; 12];
        assert_eq!(h.emit(&mut out), Ok(12));
        assert_eq!(out, T3);
    }

    #[test]
    fn type1_reserved_byte_is_kept_and_udcomphdr_rewritten() {
        let mut b = [0x10, 0, 0, 0, 2, 1, 0x00, 0xA5];
        let h = CommonHeader::parse(&b).unwrap();
        assert_eq!(h.fields, TypeFields::Type1 { ud_comp_hdr: UdCompHdr::UNCOMPRESSED, reserved: 0xA5 });
        let mut p = CplanePacket::new_checked(&mut b[..]).unwrap();
        p.set_ud_comp_hdr(UdCompHdr::new(CompMethod::Bfp, 9)).unwrap();
        assert_eq!(b[6..], [0x91, 0xA5]);
        let mut six = [0u8, 0, 0, 0, 1, 6, 4, 0];
        assert!(CplanePacket::new_checked(&mut six[..]).unwrap().set_ud_comp_hdr(UdCompHdr::UNCOMPRESSED).is_err());
    }

    #[test]
    fn errors_name_field_and_offset() {
        assert!(matches!(
            CplanePacket::new_checked(&[0u8, 0, 0, 0, 0, 4, 0, 0][..]),
            Err(Error::Unsupported { field: "oran_fh_cus.sectionType", offset: 5, value: 4 })
        ));
        assert!(matches!(
            CplanePacket::new_checked(&[0u8, 0, 0, 0, 0, 3, 0][..]),
            Err(Error::Truncated { field: "oran_fh_cus.sectionType", needed: 12, available: 7, .. })
        ));
        // Type 7 with a known LBT message that is cut short.
        assert!(matches!(
            CommonHeader::parse(&[0u8, 0, 0, 0, 0, 7, 0, 0, 0x01, 0x12]),
            Err(Error::Truncated { field: "oran_fh_cus.lbtHandle", offset: 9, .. })
        ));
    }

    #[test]
    fn type7_header_includes_laa() {
        let b = [0x10u8, 7, 0, 0, 0, 7, 0xAB, 0xCD, 0x31, 0xBE, 0xEF, 0x80];
        let h = CommonHeader::parse(&b).unwrap();
        let TypeFields::Type7 { reserved, laa } = h.fields else { panic!() };
        assert_eq!(reserved, 0xABCD);
        assert_eq!((laa.laa_msg_type, laa.laa_msg_len, laa.lbt_handle), (3, 1, 0xBEEF));
        assert_eq!(laa.get("oran_fh_cus.lbtDrsRes"), Some(1));
        assert_eq!(h.buffer_len(), 12);
        let mut out = [0u8; 12];
        h.emit(&mut out).unwrap();
        assert_eq!(out, b);
    }
}
