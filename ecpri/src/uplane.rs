//! The O-RAN U-plane message (eCPRI type 0 payload after ecpriPcid and
//! ecpriSeqid): a 4-byte application header, then sections of IQ data.
//!
//! The wire does not say whether sections carry udCompHdr, nor which
//! static compression applies when they do not, nor how wide the carrier
//! is when numPrbu = 0: those are M-plane agreements and come in through
//! [`UplaneConfig`].

use crate::bits::{be16, be24, get_bits, put_bits, set_be16, set_be24};
use crate::comp_hdr::UdCompHdr;
use crate::error::check_len;
use crate::fields::{FieldValue, FieldVisitor};
use crate::{Error, Result};

/// Byte ranges and bit masks of the U-plane message.
pub mod field {
    /// dataDirection (0x80), payloadVersion (0x70), filterIndex (0x0F).
    pub const DIR_VER_FILTER: usize = 0;
    /// frameId.
    pub const FRAME_ID: usize = 1;
    /// subframeId (0xF000), slotId (0x0FC0), symbolId (0x003F).
    pub const SUBFRAME_SLOT_SYMBOL: usize = 2;
    /// Application header length.
    pub const APP_HEADER_LEN: usize = 4;

    /// Mask of dataDirection in byte 0.
    pub const DATA_DIRECTION: u32 = 0x80;
    /// Mask of payloadVersion in byte 0.
    pub const PAYLOAD_VERSION: u32 = 0x70;
    /// Mask of filterIndex in byte 0.
    pub const FILTER_INDEX: u32 = 0x0F;
    /// Mask of subframeId in bytes 2–3.
    pub const SUBFRAME_ID: u32 = 0xF000;
    /// Mask of slotId in bytes 2–3.
    pub const SLOT_ID: u32 = 0x0FC0;
    /// Mask of symbolId in bytes 2–3.
    pub const SYMBOL_ID: u32 = 0x003F;

    /// sectionId (0xFFF000), rb (0x800), symInc (0x400), startPrbu (0x3FF): 3 bytes.
    pub const SECTION_ID_RB_SYMINC_START: usize = 0;
    /// numPrbu.
    pub const NUM_PRBU: usize = 3;
    /// Section header length without udCompHdr.
    pub const SECTION_HEADER_LEN: usize = 4;
    /// udCompHdr, when present.
    pub const UD_COMP_HDR: usize = 4;
    /// The reserved byte after udCompHdr.
    pub const RESERVED: usize = 5;
    /// Length of udCompHdr plus its reserved byte.
    pub const COMP_HDR_LEN: usize = 2;

    /// Mask of sectionId in the 24-bit word.
    pub const SECTION_ID: u32 = 0xFFF000;
    /// Mask of rb.
    pub const RB: u32 = 0x000800;
    /// Mask of symInc.
    pub const SYM_INC: u32 = 0x000400;
    /// Mask of startPrbu.
    pub const START_PRBU: u32 = 0x0003FF;
}

/// Whether U-plane sections carry udCompHdr (`--comp-hdr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CompHdrMode {
    /// Every section carries udCompHdr and its reserved byte.
    Present,
    /// No section carries it; compression is static.
    Absent,
    /// Work it out per message from the section lengths. When both
    /// readings tile the payload exactly, the self-describing one
    /// (present) wins.
    #[default]
    Auto,
}

impl CompHdrMode {
    /// Parses `present`, `absent` or `auto`.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "present" => Some(CompHdrMode::Present),
            "absent" => Some(CompHdrMode::Absent),
            "auto" => Some(CompHdrMode::Auto),
            _ => None,
        }
    }
}

/// What the U-plane parser needs that the wire does not carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UplaneConfig {
    /// Static compression, used when sections carry no udCompHdr.
    pub static_comp: UdCompHdr,
    /// Whether sections carry udCompHdr.
    pub comp_hdr: CompHdrMode,
    /// Carrier width in PRBs, which numPrbu = 0 stands for.
    pub carrier_prbs: u16,
}

impl Default for UplaneConfig {
    fn default() -> Self {
        UplaneConfig { static_comp: UdCompHdr::UNCOMPRESSED, comp_hdr: CompHdrMode::Auto, carrier_prbs: 273 }
    }
}

/// The application header shared in layout by U-plane and C-plane messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AppHeader {
    /// dataDirection: 1 = DL (gNB transmit), 0 = UL (gNB receive).
    pub data_direction: u8,
    /// payloadVersion (1 for this spec version).
    pub payload_version: u8,
    /// filterIndex.
    pub filter_index: u8,
    /// frameId.
    pub frame_id: u8,
    /// subframeId.
    pub subframe_id: u8,
    /// slotId.
    pub slot_id: u8,
    /// symbolId (startSymbolId in the C-plane).
    pub symbol_id: u8,
}

impl AppHeader {
    /// Reads the 4 bytes at the start of `b`.
    pub fn parse(b: &[u8]) -> Result<Self> {
        check_len(b, "oran_fh_cus.data_direction", 0, field::APP_HEADER_LEN)?;
        let b0 = b[field::DIR_VER_FILTER] as u32;
        let w = be16(b, field::SUBFRAME_SLOT_SYMBOL) as u32;
        Ok(AppHeader {
            data_direction: get_bits(b0, field::DATA_DIRECTION) as u8,
            payload_version: get_bits(b0, field::PAYLOAD_VERSION) as u8,
            filter_index: get_bits(b0, field::FILTER_INDEX) as u8,
            frame_id: b[field::FRAME_ID],
            subframe_id: get_bits(w, field::SUBFRAME_ID) as u8,
            slot_id: get_bits(w, field::SLOT_ID) as u8,
            symbol_id: get_bits(w, field::SYMBOL_ID) as u8,
        })
    }

    /// Writes the 4 bytes at the start of `b`.
    pub fn emit(&self, b: &mut [u8]) -> Result<usize> {
        check_len(b, "oran_fh_cus.data_direction", 0, field::APP_HEADER_LEN)?;
        use crate::bits::check_fits;
        check_fits("oran_fh_cus.data_direction", self.data_direction as u32, 1)?;
        check_fits("oran_fh_cus.payloadVersion", self.payload_version as u32, 7)?;
        check_fits("oran_fh_cus.filterIndex", self.filter_index as u32, 0xF)?;
        check_fits("oran_fh_cus.subframe_id", self.subframe_id as u32, 0xF)?;
        check_fits("oran_fh_cus.slotId", self.slot_id as u32, 0x3F)?;
        check_fits("oran_fh_cus.symbolId", self.symbol_id as u32, 0x3F)?;
        b[0] = (self.data_direction << 7) | (self.payload_version << 4) | self.filter_index;
        b[1] = self.frame_id;
        let w = ((self.subframe_id as u16) << 12) | ((self.slot_id as u16) << 6) | self.symbol_id as u16;
        set_be16(b, field::SUBFRAME_SLOT_SYMBOL, w);
        Ok(field::APP_HEADER_LEN)
    }

    /// Reports the fields under Wireshark's names; `symbol_name` differs
    /// between the planes (`symbolId` / `startSymbolId`).
    pub fn visit<'a, V: FieldVisitor<'a>>(&self, v: &mut V, symbol_name: &'static str) {
        v.field("oran_fh_cus.data_direction", FieldValue::U(self.data_direction as u64));
        v.field("oran_fh_cus.payloadVersion", FieldValue::U(self.payload_version as u64));
        v.field("oran_fh_cus.filterIndex", FieldValue::U(self.filter_index as u64));
        v.field("oran_fh_cus.frameId", FieldValue::U(self.frame_id as u64));
        v.field("oran_fh_cus.subframe_id", FieldValue::U(self.subframe_id as u64));
        v.field("oran_fh_cus.slotId", FieldValue::U(self.slot_id as u64));
        v.field(symbol_name, FieldValue::U(self.symbol_id as u64));
    }
}

/// A zero-copy view of one U-plane section header (and udCompHdr if the
/// caller says it is present), for reading and rewriting fields in place.
#[derive(Debug, Clone)]
pub struct SectionHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> SectionHeader<T> {
    /// Checks that the 4-byte header (plus 2 bytes if `comp_hdr`) is present.
    #[inline]
    pub fn new_checked(buffer: T, comp_hdr: bool) -> Result<Self> {
        let need = field::SECTION_HEADER_LEN + if comp_hdr { field::COMP_HDR_LEN } else { 0 };
        check_len(buffer.as_ref(), "oran_fh_cus.sectionId", 0, need)?;
        Ok(SectionHeader { buffer })
    }

    fn word(&self) -> u32 {
        be24(self.buffer.as_ref(), field::SECTION_ID_RB_SYMINC_START)
    }

    /// sectionId.
    pub fn section_id(&self) -> u16 {
        get_bits(self.word(), field::SECTION_ID) as u16
    }

    /// rb: every other resource block.
    pub fn rb(&self) -> bool {
        self.word() & field::RB != 0
    }

    /// symInc.
    pub fn sym_inc(&self) -> bool {
        self.word() & field::SYM_INC != 0
    }

    /// startPrbu.
    pub fn start_prbu(&self) -> u16 {
        get_bits(self.word(), field::START_PRBU) as u16
    }

    /// numPrbu as carried (0 means the whole carrier).
    pub fn num_prbu(&self) -> u8 {
        self.buffer.as_ref()[field::NUM_PRBU]
    }

    /// udCompHdr (only meaningful when present).
    pub fn ud_comp_hdr(&self) -> UdCompHdr {
        UdCompHdr::from_byte(self.buffer.as_ref()[field::UD_COMP_HDR])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> SectionHeader<T> {
    fn set_word(&mut self, mask: u32, v: u32) {
        let w = put_bits(self.word(), mask, v);
        set_be24(self.buffer.as_mut(), field::SECTION_ID_RB_SYMINC_START, w);
    }

    /// Sets sectionId.
    pub fn set_section_id(&mut self, v: u16) {
        self.set_word(field::SECTION_ID, v as u32)
    }

    /// Sets startPrbu.
    pub fn set_start_prbu(&mut self, v: u16) {
        self.set_word(field::START_PRBU, v as u32)
    }

    /// Sets numPrbu.
    pub fn set_num_prbu(&mut self, v: u8) {
        self.buffer.as_mut()[field::NUM_PRBU] = v
    }

    /// Sets udCompHdr (the caller knows it is present).
    pub fn set_ud_comp_hdr(&mut self, h: UdCompHdr) {
        self.buffer.as_mut()[field::UD_COMP_HDR] = h.to_byte()
    }
}

/// One U-plane section, decoded. `iq_data` borrows udCompParam and IQ
/// samples of every PRB, exactly as carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectionRepr<'a> {
    /// sectionId.
    pub section_id: u16,
    /// rb.
    pub rb: bool,
    /// symInc.
    pub sym_inc: bool,
    /// startPrbu.
    pub start_prbu: u16,
    /// numPrbu as carried; 0 stands for the carrier width.
    pub num_prbu: u8,
    /// udCompHdr and the reserved byte after it, when the section carries them.
    pub ud_comp_hdr: Option<(UdCompHdr, u8)>,
    /// udCompParam + IQ for every PRB.
    pub iq_data: &'a [u8],
}

impl<'a> SectionRepr<'a> {
    /// PRBs in the section: numPrbu, or the carrier width when it is 0.
    #[inline]
    pub fn prb_count(&self, carrier_prbs: u16) -> usize {
        prb_count(self.num_prbu, carrier_prbs)
    }

    /// The compression in force: the section's udCompHdr, else `static_comp`.
    pub fn comp(&self, static_comp: UdCompHdr) -> UdCompHdr {
        self.ud_comp_hdr.map_or(static_comp, |(h, _)| h)
    }

    /// Bytes `emit` writes.
    pub fn buffer_len(&self) -> usize {
        field::SECTION_HEADER_LEN + if self.ud_comp_hdr.is_some() { field::COMP_HDR_LEN } else { 0 } + self.iq_data.len()
    }

    /// Parses one section at the start of `b`. With `comp_hdr` the section
    /// carries udCompHdr; otherwise `cfg.static_comp` applies.
    #[inline]
    pub fn parse(b: &'a [u8], comp_hdr: bool, cfg: &UplaneConfig) -> Result<Self> {
        let h = SectionHeader::new_checked(b, comp_hdr)?;
        let mut at = field::SECTION_HEADER_LEN;
        let ud_comp_hdr = if comp_hdr {
            at += field::COMP_HDR_LEN;
            Some((h.ud_comp_hdr(), b[field::RESERVED]))
        } else {
            None
        };
        let comp = ud_comp_hdr.map_or(cfg.static_comp, |(c, _)| c);
        let prb_len = comp.prb_len().map_err(|e| e.at(if comp_hdr { field::UD_COMP_HDR } else { 0 }))?;
        let prbs = prb_count(h.num_prbu(), cfg.carrier_prbs);
        crate::error::check_carrier(
            ("oran_fh_cus.startPrbu", field::SECTION_ID_RB_SYMINC_START + 1),
            ("oran_fh_cus.numPrbu", field::NUM_PRBU),
            h.start_prbu(),
            prbs,
            h.rb(),
            cfg.carrier_prbs,
        )?;
        let len = prbs * prb_len;
        check_len(b, "oran_fh_cus.iq_user_data", at, len)?;
        Ok(SectionRepr {
            section_id: h.section_id(),
            rb: h.rb(),
            sym_inc: h.sym_inc(),
            start_prbu: h.start_prbu(),
            num_prbu: h.num_prbu(),
            ud_comp_hdr,
            iq_data: &b[at..at + len],
        })
    }

    /// Writes the section at the start of `b`.
    pub fn emit(&self, b: &mut [u8]) -> Result<usize> {
        use crate::bits::check_fits;
        let n = self.buffer_len();
        check_len(b, "oran_fh_cus.sectionId", 0, n)?;
        check_fits("oran_fh_cus.sectionId", self.section_id as u32, 0xFFF)?;
        check_fits("oran_fh_cus.startPrbu", self.start_prbu as u32, 0x3FF)?;
        let w = ((self.section_id as u32) << 12)
            | ((self.rb as u32) << 11)
            | ((self.sym_inc as u32) << 10)
            | self.start_prbu as u32;
        set_be24(b, field::SECTION_ID_RB_SYMINC_START, w);
        b[field::NUM_PRBU] = self.num_prbu;
        let mut at = field::SECTION_HEADER_LEN;
        if let Some((h, r)) = self.ud_comp_hdr {
            b[field::UD_COMP_HDR] = h.to_byte();
            b[field::RESERVED] = r;
            at += field::COMP_HDR_LEN;
        }
        b[at..n].copy_from_slice(self.iq_data);
        Ok(n)
    }

    /// Reports the fields under Wireshark's names. BFP exponents are
    /// listed per PRB (`oran_fh_cus.exponent`, low nibble of udCompParam).
    pub fn visit<V: FieldVisitor<'a>>(&self, v: &mut V, cfg: &UplaneConfig) {
        v.field("oran_fh_cus.sectionId", FieldValue::U(self.section_id as u64));
        v.field("oran_fh_cus.rb", FieldValue::U(self.rb as u64));
        v.field("oran_fh_cus.symInc", FieldValue::U(self.sym_inc as u64));
        v.field("oran_fh_cus.startPrbu", FieldValue::U(self.start_prbu as u64));
        v.field("oran_fh_cus.numPrbu", FieldValue::U(self.num_prbu as u64));
        let comp = self.comp(cfg.static_comp);
        if let Some((h, r)) = self.ud_comp_hdr {
            v.field("oran_fh_cus.udCompHdrWidth", FieldValue::U(h.iq_width as u64 & 0xF));
            v.field("oran_fh_cus.udCompHdrMeth", FieldValue::U(h.comp_meth.bits() as u64));
            v.field("oran_fh_cus.reserved8", FieldValue::U(r as u64));
        }
        v.field("oran_fh_cus.iqWidth", FieldValue::U(comp.iq_width as u64));
        v.field("oran_fh_cus.compMeth", FieldValue::Str(comp.comp_meth.name()));
        let Ok(prb_len) = comp.prb_len() else { return };
        let param_len = comp.comp_meth.param_len().unwrap_or(0);
        v.begin("prbs");
        for prb in self.iq_data.chunks_exact(prb_len) {
            v.begin("prb");
            if param_len == 1 {
                match comp.comp_meth {
                    crate::CompMethod::Bfp => {
                        // The upper nibble is reserved: reported, and kept on emit.
                        v.field("oran_fh_cus.reserved4", FieldValue::U((prb[0] >> 4) as u64));
                        v.field("oran_fh_cus.exponent", FieldValue::U((prb[0] & 0xF) as u64));
                    }
                    crate::CompMethod::BlockScaling => v.field("oran_fh_cus.blockScaler", FieldValue::U(prb[0] as u64)),
                    _ => {
                        v.field("oran_fh_cus.compBitWidth", FieldValue::U((prb[0] >> 4) as u64));
                        v.field("oran_fh_cus.compShift", FieldValue::U((prb[0] & 0xF) as u64));
                    }
                }
            }
            v.field("oran_fh_cus.iq_user_data", FieldValue::Bytes(&prb[param_len..]));
            v.end();
        }
        v.end();
    }
}

/// PRBs a section carries: numPrbu, or the carrier width for 0.
#[inline]
pub fn prb_count(num_prbu: u8, carrier_prbs: u16) -> usize {
    if num_prbu == 0 {
        carrier_prbs as usize
    } else {
        num_prbu as usize
    }
}

/// Walks the sections of a U-plane message without allocating. Yields
/// each section with its offset from the start of the message.
#[derive(Debug, Clone)]
pub struct SectionIter<'a> {
    buf: &'a [u8],
    at: usize,
    comp_hdr: bool,
    cfg: UplaneConfig,
}

impl<'a> Iterator for SectionIter<'a> {
    type Item = Result<(usize, SectionRepr<'a>)>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.buf.len() {
            return None;
        }
        let at = self.at;
        match SectionRepr::parse(&self.buf[at..], self.comp_hdr, &self.cfg) {
            Ok(s) => {
                self.at += s.buffer_len();
                Some(Ok((at, s)))
            }
            Err(e) => {
                self.at = self.buf.len();
                Some(Err(e.at(at)))
            }
        }
    }
}

/// Whether `buf` (a whole U-plane message) tiles exactly into sections
/// read with or without udCompHdr. Returns the number of sections.
#[inline]
fn tiles(buf: &[u8], comp_hdr: bool, cfg: &UplaneConfig) -> Result<usize> {
    let mut n = 0;
    for s in sections(buf, comp_hdr, cfg) {
        s?;
        n += 1;
    }
    Ok(n)
}

/// Decides whether this message's sections carry udCompHdr.
#[inline]
pub fn resolve_comp_hdr(buf: &[u8], cfg: &UplaneConfig) -> Result<bool> {
    match cfg.comp_hdr {
        CompHdrMode::Present => Ok(true),
        CompHdrMode::Absent => Ok(false),
        CompHdrMode::Auto => match (tiles(buf, true, cfg), tiles(buf, false, cfg)) {
            (Ok(_), _) => Ok(true),
            (Err(_), Ok(_)) => Ok(false),
            // Neither reading fits: report the static reading's error, which
            // names the first section that overruns.
            (Err(_), Err(e)) => Err(e),
        },
    }
}

/// A zero-copy view of a whole U-plane message.
#[derive(Debug, Clone)]
pub struct UplanePacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UplanePacket<T> {
    /// Checks that the application header is present.
    pub fn new_checked(buffer: T) -> Result<Self> {
        check_len(buffer.as_ref(), "oran_fh_cus.data_direction", 0, field::APP_HEADER_LEN)?;
        Ok(UplanePacket { buffer })
    }

    fn b0(&self) -> u32 {
        self.buffer.as_ref()[field::DIR_VER_FILTER] as u32
    }

    fn w(&self) -> u32 {
        be16(self.buffer.as_ref(), field::SUBFRAME_SLOT_SYMBOL) as u32
    }

    /// dataDirection (1 = DL).
    pub fn data_direction(&self) -> u8 {
        get_bits(self.b0(), field::DATA_DIRECTION) as u8
    }

    /// payloadVersion.
    pub fn payload_version(&self) -> u8 {
        get_bits(self.b0(), field::PAYLOAD_VERSION) as u8
    }

    /// filterIndex.
    pub fn filter_index(&self) -> u8 {
        get_bits(self.b0(), field::FILTER_INDEX) as u8
    }

    /// frameId.
    pub fn frame_id(&self) -> u8 {
        self.buffer.as_ref()[field::FRAME_ID]
    }

    /// subframeId.
    pub fn subframe_id(&self) -> u8 {
        get_bits(self.w(), field::SUBFRAME_ID) as u8
    }

    /// slotId.
    pub fn slot_id(&self) -> u8 {
        get_bits(self.w(), field::SLOT_ID) as u8
    }

    /// symbolId.
    pub fn symbol_id(&self) -> u8 {
        get_bits(self.w(), field::SYMBOL_ID) as u8
    }

    /// Walks the sections; `comp_hdr` comes from [`resolve_comp_hdr`].
    pub fn sections(&self, comp_hdr: bool, cfg: &UplaneConfig) -> SectionIter<'_> {
        sections(self.buffer.as_ref(), comp_hdr, cfg)
    }
}

/// Walks the sections of the message `buf` (application header included).
#[inline]
pub fn sections<'a>(buf: &'a [u8], comp_hdr: bool, cfg: &UplaneConfig) -> SectionIter<'a> {
    SectionIter { buf, at: field::APP_HEADER_LEN, comp_hdr, cfg: *cfg }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UplanePacket<T> {
    /// Sets frameId.
    pub fn set_frame_id(&mut self, v: u8) {
        self.buffer.as_mut()[field::FRAME_ID] = v
    }

    /// Sets symbolId.
    pub fn set_symbol_id(&mut self, v: u8) {
        let w = put_bits(self.w(), field::SYMBOL_ID, v as u32);
        set_be16(self.buffer.as_mut(), field::SUBFRAME_SLOT_SYMBOL, w as u16)
    }

    /// A view of the section header at `offset` for in-place edits.
    pub fn section_mut(&mut self, offset: usize, comp_hdr: bool) -> Result<SectionHeader<&mut [u8]>> {
        let b = self.buffer.as_mut();
        if offset > b.len() {
            return Err(Error::Truncated { field: "oran_fh_cus.sectionId", offset, needed: 4, available: 0 });
        }
        SectionHeader::new_checked(&mut b[offset..], comp_hdr).map_err(|e| e.at(offset))
    }
}

/// A whole U-plane message, decoded.
#[cfg(feature = "alloc")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRepr<'a> {
    /// The application header.
    pub header: AppHeader,
    /// The sections in wire order.
    pub sections: alloc::vec::Vec<SectionRepr<'a>>,
}

#[cfg(feature = "alloc")]
impl<'a> MessageRepr<'a> {
    /// Parses a whole message; `buf` is exactly the message.
    pub fn parse(buf: &'a [u8], cfg: &UplaneConfig) -> Result<Self> {
        let header = AppHeader::parse(buf)?;
        let comp_hdr = resolve_comp_hdr(buf, cfg)?;
        let mut list = alloc::vec::Vec::new();
        for s in sections(buf, comp_hdr, cfg) {
            list.push(s?.1);
        }
        Ok(MessageRepr { header, sections: list })
    }

    /// Bytes `emit` writes.
    pub fn buffer_len(&self) -> usize {
        field::APP_HEADER_LEN + self.sections.iter().map(|s| s.buffer_len()).sum::<usize>()
    }

    /// Writes the message at the start of `b`.
    pub fn emit(&self, b: &mut [u8]) -> Result<usize> {
        check_len(b, "oran_fh_cus", 0, self.buffer_len())?;
        let mut at = self.header.emit(b)?;
        for s in &self.sections {
            at += s.emit(&mut b[at..])?;
        }
        Ok(at)
    }

    /// Reports every field in wire order.
    pub fn visit<V: FieldVisitor<'a>>(&self, v: &mut V, cfg: &UplaneConfig) {
        self.header.visit(v, "oran_fh_cus.symbolId");
        for s in &self.sections {
            v.begin("sections");
            s.visit(v, cfg);
            v.end();
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::CompMethod;
    use proptest::prelude::*;
    use std::vec::Vec;

    // DL, payloadVersion 1, frame 0x12, subframe 3, slot 1, symbol 5; one
    // section: id 0x123, rb 0, symInc 1, startPrbu 0x0AB, numPrbu 2,
    // udCompHdr BFP 9 (0x91), reserved 0, then 2 × 28 bytes.
    fn message() -> Vec<u8> {
        let mut m = std::vec![0x90, 0x12, 0x30, 0x45, 0x12, 0x34, 0xAB, 0x02, 0x91, 0x00];
        for prb in 0..2u8 {
            m.push(0xF0 | (prb + 3)); // reserved nibble set: must survive
            m.extend((0..27).map(|i| i as u8 ^ prb));
        }
        m
    }

    fn cfg(mode: CompHdrMode) -> UplaneConfig {
        UplaneConfig { static_comp: UdCompHdr::new(CompMethod::Bfp, 9), comp_hdr: mode, carrier_prbs: 273 }
    }

    #[test]
    fn deconstruct() {
        let m = message();
        let p = UplanePacket::new_checked(&m[..]).unwrap();
        assert_eq!(p.data_direction(), 1);
        assert_eq!(p.payload_version(), 1);
        assert_eq!(p.filter_index(), 0);
        assert_eq!(p.frame_id(), 0x12);
        assert_eq!(p.subframe_id(), 3);
        assert_eq!(p.slot_id(), 1);
        assert_eq!(p.symbol_id(), 5);
        let secs: Vec<_> = p.sections(true, &cfg(CompHdrMode::Present)).collect();
        assert_eq!(secs.len(), 1);
        let (off, s) = secs[0].unwrap();
        assert_eq!(off, 4);
        assert_eq!((s.section_id, s.rb, s.sym_inc, s.start_prbu, s.num_prbu), (0x123, false, true, 0x0AB, 2));
        assert_eq!(s.ud_comp_hdr, Some((UdCompHdr::new(CompMethod::Bfp, 9), 0)));
        assert_eq!(s.iq_data.len(), 56);
        assert_eq!(s.iq_data[0], 0xF3);
    }

    #[test]
    fn parse_emit_byte_exact_and_auto_detects() {
        let m = message();
        for mode in [CompHdrMode::Present, CompHdrMode::Auto] {
            let r = MessageRepr::parse(&m, &cfg(mode)).unwrap();
            let mut out = std::vec![0u8; r.buffer_len()];
            assert_eq!(r.emit(&mut out), Ok(m.len()));
            assert_eq!(out, m);
        }
        // The same sections without udCompHdr under static BFP-9.
        let mut absent = m.clone();
        absent.drain(8..10);
        let r = MessageRepr::parse(&absent, &cfg(CompHdrMode::Auto)).unwrap();
        assert_eq!(r.sections[0].ud_comp_hdr, None);
        assert_eq!(r.sections[0].prb_count(273), 2);
    }

    #[test]
    fn construct_setter_by_setter() {
        let mut m = message();
        let mut p = UplanePacket::new_checked(&mut m[..]).unwrap();
        p.set_frame_id(0x99);
        p.set_symbol_id(13);
        let mut s = p.section_mut(4, true).unwrap();
        s.set_start_prbu(7);
        s.set_num_prbu(2);
        s.set_section_id(0xFFF);
        s.set_ud_comp_hdr(UdCompHdr::new(CompMethod::Bfp, 12));
        assert_eq!(s.start_prbu(), 7);
        assert_eq!(s.section_id(), 0xFFF);
        assert!(s.sym_inc(), "neighbouring bits untouched");
        assert_eq!(&m[..10], &[0x90, 0x99, 0x30, 0x4D, 0xFF, 0xF4, 0x07, 0x02, 0xC1, 0x00]);
    }

    #[test]
    fn num_prbu_zero_means_carrier() {
        let c = UplaneConfig { static_comp: UdCompHdr::new(CompMethod::Bfp, 9), comp_hdr: CompHdrMode::Absent, carrier_prbs: 3 };
        let mut m = std::vec![0x10, 0, 0, 0, 0x00, 0x10, 0x00, 0x00];
        m.extend(std::iter::repeat_n(0u8, 3 * 28));
        let r = MessageRepr::parse(&m, &c).unwrap();
        assert_eq!(r.sections[0].prb_count(3), 3);
    }

    #[test]
    fn errors_name_field_and_offset() {
        let m = message();
        let e = MessageRepr::parse(&m[..40], &cfg(CompHdrMode::Present)).unwrap_err();
        assert_eq!(e, Error::Truncated { field: "oran_fh_cus.iq_user_data", offset: 10, needed: 56, available: 30 });
        let mut bad = m.clone();
        bad[8] = 0x95; // selective RE sending: not walkable from the U-plane alone
        let e = MessageRepr::parse(&bad, &cfg(CompHdrMode::Present)).unwrap_err();
        assert!(matches!(e, Error::Unsupported { field: "oran_fh_cus.udCompHdrMeth", offset: 8, .. }), "{e:?}");
        assert!(MessageRepr::parse(&m[..3], &cfg(CompHdrMode::Auto)).is_err());
    }

    pub(crate) fn arb_section(comp_hdr: bool) -> impl Strategy<Value = (u16, bool, bool, u16, u8, u8, u8, Vec<u8>)> {
        // Every PRB within the default 273-PRB carrier, with rb set too.
        (0u16..4096, any::<bool>(), any::<bool>(), 0u16..=242, 1u8..=16, 1u8..=16, any::<u8>(), any::<u64>()).prop_map(
            move |(id, rb, si, start, n, w, res, seed)| {
                let width = w;
                let len = n as usize * (1 + 3 * width as usize);
                let mut x = seed | 1;
                let data = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x as u8
                    })
                    .collect();
                (id, rb, si, start, n, width, if comp_hdr { res } else { 0 }, data)
            },
        )
    }

    proptest! {
        #[test]
        fn round_trip(hdr in any::<(u8, u8, u8, u8, u8, u8)>(), secs in proptest::collection::vec(arb_section(true), 0..4)) {
            let header = AppHeader { data_direction: hdr.0 & 1, payload_version: hdr.1 & 7, filter_index: hdr.2 & 15, frame_id: hdr.3, subframe_id: hdr.4 & 15, slot_id: hdr.5 & 63, symbol_id: hdr.0 % 14 };
            let sections: Vec<_> = secs.iter().map(|(id, rb, si, start, n, w, res, data)| SectionRepr {
                section_id: *id, rb: *rb, sym_inc: *si, start_prbu: *start, num_prbu: *n,
                ud_comp_hdr: Some((UdCompHdr::new(CompMethod::Bfp, *w), *res)), iq_data: data,
            }).collect();
            let r = MessageRepr { header, sections };
            let mut b = std::vec![0u8; r.buffer_len()];
            r.emit(&mut b).unwrap();
            prop_assert_eq!(MessageRepr::parse(&b, &cfg(CompHdrMode::Present)).unwrap(), r);
        }

        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..200), mode in 0u8..3, n in 0u16..300) {
            let mode = [CompHdrMode::Present, CompHdrMode::Absent, CompHdrMode::Auto][mode as usize];
            let c = UplaneConfig { carrier_prbs: n, ..cfg(mode) };
            let _ = MessageRepr::parse(&b, &c);
        }
    }
}
