//! Section extensions: a chain after a section's fixed part, each starting
//! with ef (another extension follows) and extType, then extLen in 4-byte
//! words covering the whole extension (1 byte; 2 bytes for types 11, 19
//! and 20). extLen 0 is reserved and rejected, since it would never advance.
//!
//! Types 1–6 and 9–12 are decoded into typed structs where the section
//! type allows them ([`modelled`]); every other extension is kept whole as
//! [`ExtRepr::Raw`]. Typed structs keep bytes they do not interpret
//! (padding, weights whose count is M-plane configuration) as slices, so
//! `emit` writes back exactly what `parse` read.

use crate::bits::{be16, set_be16};
use crate::fields::{FieldValue, FieldVisitor};
use crate::{Error, Result};

use super::round_up4;

pub mod ext1_bfw;
pub mod ext10_port_group;
pub mod ext11_flex_bfw;
pub mod ext2_bfa;
pub mod ext3_layer;
pub mod ext4_5_modcomp;
pub mod ext6_12_noncontig;
pub mod ext9_dss;

pub use ext1_bfw::{BfwCompHdr, Ext1Bfw};
pub use ext10_port_group::Ext10PortGroup;
pub use ext11_flex_bfw::Ext11FlexBfw;
pub use ext2_bfa::Ext2BfAttributes;
pub use ext3_layer::{Ext3FirstLayer, Ext3Layer};
pub use ext4_5_modcomp::{Ext4ModComp, Ext5ModCompSets, McScaleSet};
pub use ext6_12_noncontig::{Ext12FreqRanges, Ext6NonContig};
pub use ext9_dss::Ext9Dss;

/// Bytes of the extension header (ef/extType and extLen) for `ext_type`.
pub const fn header_len(ext_type: u8) -> usize {
    match ext_type {
        11 | 19 | 20 => 3,
        _ => 2,
    }
}

/// Whether `ext_type` is decoded into a typed struct in sections of
/// `section_type` (the pairings the CUS specification allows).
pub const fn modelled(section_type: u8, ext_type: u8) -> bool {
    match ext_type {
        1 | 2 | 3 | 9 | 11 => matches!(section_type, 1 | 3),
        4 | 5 | 10 => matches!(section_type, 1 | 3 | 5),
        6 | 12 => matches!(section_type, 0 | 1 | 3 | 5),
        _ => false,
    }
}

/// The body of a typed extension (everything after extLen, padding included).
pub(crate) trait ExtBody<'a>: Sized {
    /// extType.
    const EXT_TYPE: u8;
    /// Parses a body; offsets in errors count from the start of the body.
    fn parse_body(body: &'a [u8]) -> Result<Self>;
    /// Bytes `emit_body` writes (before the fill to a 4-byte boundary).
    fn body_len(&self) -> usize;
    /// Writes the body into `b`, which is exactly `body_len` long.
    fn emit_body(&self, b: &mut [u8]) -> Result<()>;
    /// Reports the body's fields in wire order.
    fn visit_body<V: FieldVisitor<'a>>(&self, v: &mut V);
}

/// One extension found by [`ExtIter`], not yet decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtItem<'a> {
    /// extType.
    pub ext_type: u8,
    /// ef: another extension follows.
    pub ef: bool,
    /// Where the extension starts, counted from the start of its section.
    pub offset: usize,
    /// The whole extension, header included (extLen × 4 bytes).
    pub bytes: &'a [u8],
}

impl<'a> ExtItem<'a> {
    /// extLen in 4-byte words.
    pub fn ext_len(&self) -> usize {
        self.bytes.len() / 4
    }

    /// The bytes after the extension header.
    pub fn body(&self) -> &'a [u8] {
        &self.bytes[header_len(self.ext_type)..]
    }

    /// Decodes the extension as it appears in a section of `section_type`.
    /// Offsets in errors count from the start of the section.
    pub fn repr(&self, section_type: u8) -> Result<ExtRepr<'a>> {
        ExtRepr::parse(self.bytes, section_type).map_err(|e| e.at(self.offset))
    }
}

/// Walks an extension chain without allocating. It stops after the
/// extension whose ef bit is clear, or at the first error.
#[derive(Debug, Clone)]
pub struct ExtIter<'a> {
    buf: &'a [u8],
    pos: usize,
    more: bool,
}

impl<'a> ExtIter<'a> {
    /// Starts at `pos` in `section` (the section's bytes from its first
    /// byte); `ef` is the section's ef bit.
    pub fn new(section: &'a [u8], pos: usize, ef: bool) -> Self {
        ExtIter { buf: section, pos, more: ef }
    }

    /// Where the chain ends (after iteration has finished).
    pub fn end(&self) -> usize {
        self.pos
    }

    fn next_item(&mut self) -> Result<ExtItem<'a>> {
        let at = self.pos;
        crate::error::check_len(self.buf, "oran_fh_cus.extType", at, 1)?;
        let b0 = self.buf[at];
        let ext_type = b0 & 0x7F;
        let hl = header_len(ext_type);
        crate::error::check_len(self.buf, "oran_fh_cus.extLen", at + 1, hl - 1)?;
        let words = if hl == 3 { be16(self.buf, at + 1) as usize } else { self.buf[at + 1] as usize };
        if words == 0 {
            return Err(Error::ReservedValue { field: "oran_fh_cus.extLen", offset: at + 1, value: 0 });
        }
        let len = words * 4;
        let available = self.buf.len() - at;
        if len > available {
            return Err(Error::LengthMismatch { field: "oran_fh_cus.extLen", offset: at + 1, declared: len, actual: available });
        }
        self.pos = at + len;
        Ok(ExtItem { ext_type, ef: b0 & 0x80 != 0, offset: at, bytes: &self.buf[at..at + len] })
    }
}

impl<'a> Iterator for ExtIter<'a> {
    type Item = Result<ExtItem<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if !self.more {
            return None;
        }
        let r = self.next_item();
        self.more = matches!(r, Ok(ExtItem { ef: true, .. }));
        Some(r)
    }
}

/// One decoded section extension. The ef bit is not stored: emit sets it
/// from the extension's place in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtRepr<'a> {
    /// Type 1: beamforming weights.
    Bfw(Ext1Bfw<'a>),
    /// Type 2: beamforming attributes.
    BfAttributes(Ext2BfAttributes<'a>),
    /// Type 3: DL precoding (layer) parameters.
    Layer(Ext3Layer<'a>),
    /// Type 4: modulation compression parameters.
    ModComp(Ext4ModComp<'a>),
    /// Type 5: modulation compression additional scaling parameters.
    ModCompSets(Ext5ModCompSets<'a>),
    /// Type 6: non-contiguous PRB allocation.
    NonContig(Ext6NonContig<'a>),
    /// Type 9: dynamic spectrum sharing.
    Dss(Ext9Dss<'a>),
    /// Type 10: group configuration of multiple ports.
    PortGroup(Ext10PortGroup<'a>),
    /// Type 11: flexible beamforming weights.
    FlexBfw(Ext11FlexBfw<'a>),
    /// Type 12: non-contiguous PRB allocation with frequency ranges.
    FreqRanges(Ext12FreqRanges<'a>),
    /// Any other extension, kept whole (header included). On emit, byte 0
    /// is rewritten from `ext_type` and the ef bit of its place in the chain.
    Raw {
        /// extType.
        ext_type: u8,
        /// The whole extension, extLen × 4 bytes.
        bytes: &'a [u8],
    },
}

/// Applies `$body` to the typed struct inside an [`ExtRepr`], or `$raw`.
macro_rules! on_typed {
    ($e:expr, $x:ident => $body:expr, $raw:pat => $rawbody:expr) => {
        match $e {
            ExtRepr::Bfw($x) => $body,
            ExtRepr::BfAttributes($x) => $body,
            ExtRepr::Layer($x) => $body,
            ExtRepr::ModComp($x) => $body,
            ExtRepr::ModCompSets($x) => $body,
            ExtRepr::NonContig($x) => $body,
            ExtRepr::Dss($x) => $body,
            ExtRepr::PortGroup($x) => $body,
            ExtRepr::FlexBfw($x) => $body,
            ExtRepr::FreqRanges($x) => $body,
            $raw => $rawbody,
        }
    };
}

fn typed_ext_type<'a, T: ExtBody<'a>>(_: &T) -> u8 {
    T::EXT_TYPE
}

fn typed_len<'a, T: ExtBody<'a>>(t: &T) -> usize {
    round_up4(header_len(T::EXT_TYPE) + t.body_len())
}

impl<'a> ExtRepr<'a> {
    /// Decodes one whole extension (`bytes` is exactly extLen × 4 long) as it
    /// appears in a section of `section_type`.
    pub fn parse(bytes: &'a [u8], section_type: u8) -> Result<Self> {
        crate::error::check_len(bytes, "oran_fh_cus.extType", 0, 1)?;
        let ext_type = bytes[0] & 0x7F;
        let hl = header_len(ext_type);
        crate::error::check_len(bytes, "oran_fh_cus.extLen", 1, hl - 1)?;
        if !modelled(section_type, ext_type) {
            return Ok(ExtRepr::Raw { ext_type, bytes });
        }
        let body = &bytes[hl..];
        let typed = || -> Result<Self> {
            Ok(match ext_type {
                1 => ExtRepr::Bfw(Ext1Bfw::parse_body(body)?),
                2 => ExtRepr::BfAttributes(Ext2BfAttributes::parse_body(body)?),
                3 => ExtRepr::Layer(Ext3Layer::parse_body(body)?),
                4 => ExtRepr::ModComp(Ext4ModComp::parse_body(body)?),
                5 => ExtRepr::ModCompSets(Ext5ModCompSets::parse_body(body)?),
                6 => ExtRepr::NonContig(Ext6NonContig::parse_body(body)?),
                9 => ExtRepr::Dss(Ext9Dss::parse_body(body)?),
                10 => ExtRepr::PortGroup(Ext10PortGroup::parse_body(body)?),
                11 => ExtRepr::FlexBfw(Ext11FlexBfw::parse_body(body)?),
                _ => ExtRepr::FreqRanges(Ext12FreqRanges::parse_body(body)?),
            })
        };
        typed().map_err(|e| e.at(hl))
    }

    /// extType.
    pub fn ext_type(&self) -> u8 {
        on_typed!(self, x => typed_ext_type(x), ExtRepr::Raw { ext_type, .. } => *ext_type)
    }

    /// Bytes `emit` writes (extLen × 4).
    pub fn buffer_len(&self) -> usize {
        on_typed!(self, x => typed_len(x), ExtRepr::Raw { bytes, .. } => bytes.len())
    }

    /// Writes the extension at the start of `b` with the given ef bit,
    /// filling with zeros up to the 4-byte boundary; returns its length.
    pub fn emit(&self, b: &mut [u8], ef: bool) -> Result<usize> {
        let n = self.buffer_len();
        crate::error::check_len(b, "oran_fh_cus.extLen", 0, n)?;
        let ext_type = self.ext_type();
        crate::bits::check_fits("oran_fh_cus.extType", ext_type as u32, 0x7F)?;
        let hl = header_len(ext_type);
        if let ExtRepr::Raw { bytes, .. } = self {
            check_raw(bytes, hl)?;
            b[..n].copy_from_slice(bytes);
        } else {
            let words = n / 4;
            let max = if hl == 3 { 0xFFFF } else { 0xFF };
            if words > max {
                return Err(Error::ValueOutOfRange { field: "oran_fh_cus.extLen", value: words as u32, max: max as u32 });
            }
            if hl == 3 {
                set_be16(b, 1, words as u16);
            } else {
                b[1] = words as u8;
            }
            let body = &mut b[hl..n];
            let len = on_typed!(self, x => x.body_len(), ExtRepr::Raw { .. } => 0);
            on_typed!(self, x => x.emit_body(&mut body[..len])?, ExtRepr::Raw { .. } => ());
            body[len..].fill(0);
        }
        b[0] = ((ef as u8) << 7) | ext_type;
        Ok(n)
    }

    /// Reports the extension inside an `extensions` group: ef, extType,
    /// extLen, then the body's fields (raw extensions give their body as
    /// `oran_fh_cus.ext.raw` bytes).
    pub fn visit<V: FieldVisitor<'a>>(&self, v: &mut V, ef: bool) {
        self.visit_in_section(v, ef, None);
    }

    /// As [`Self::visit`], given the number of PRB bundles of the section
    /// ([`Ext11FlexBfw::contiguous_bundles`]): an extension 11 without
    /// weights then reports one `oran_fh_cus.beamId` per bundle.
    pub fn visit_in_section<V: FieldVisitor<'a>>(&self, v: &mut V, ef: bool, bundles: Option<usize>) {
        v.begin("extensions");
        v.field("oran_fh_cus.ef", FieldValue::Bool(ef));
        v.field("oran_fh_cus.extType", FieldValue::U(self.ext_type() as u64));
        v.field("oran_fh_cus.extLen", FieldValue::U((self.buffer_len() / 4) as u64));
        match self {
            ExtRepr::FlexBfw(x) => x.visit_bundles(v, bundles),
            _ => on_typed!(self, x => x.visit_body(v), ExtRepr::Raw { ext_type, bytes } => {
                let hl = header_len(*ext_type).min(bytes.len());
                v.field("oran_fh_cus.ext.raw", FieldValue::Bytes(&bytes[hl..]))
            }),
        }
        v.end();
    }
}

/// A raw extension must carry a header whose extLen matches its length.
fn check_raw(bytes: &[u8], hl: usize) -> Result<()> {
    crate::error::check_len(bytes, "oran_fh_cus.extLen", 1, hl - 1)?;
    let words = if hl == 3 { be16(bytes, 1) as usize } else { bytes[1] as usize };
    if words == 0 || words * 4 != bytes.len() {
        return Err(Error::LengthMismatch { field: "oran_fh_cus.extLen", offset: 1, declared: words * 4, actual: bytes.len() });
    }
    Ok(())
}

/// Splits `body` after `len` content bytes into (content, padding), or
/// reports `field` as truncated.
pub(crate) fn split_content<'a>(body: &'a [u8], field: &'static str, len: usize) -> Result<(&'a [u8], &'a [u8])> {
    crate::error::check_len(body, field, 0, len)?;
    Ok(body.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_of_two_and_raw_type() {
        // ext 4 (ef=1, csf, scaler 0x1234) then unknown ext 7 (ef=0, 1 word).
        let sec = [0x84, 0x01, 0x92, 0x34, 0x07, 0x01, 0xAB, 0xCD];
        let items: Vec<_> = ExtIter::new(&sec, 0, true).collect::<Result<_>>().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!((items[0].ext_type, items[0].ef, items[0].offset), (4, true, 0));
        assert_eq!((items[1].ext_type, items[1].ef, items[1].offset), (7, false, 4));
        let r = items[1].repr(1).unwrap();
        assert_eq!(r, ExtRepr::Raw { ext_type: 7, bytes: &sec[4..] });
        let mut out = [0u8; 4];
        assert_eq!(r.emit(&mut out, false), Ok(4));
        assert_eq!(out, sec[4..]);
    }

    #[test]
    fn ext_len_zero_and_overrun() {
        let sec = [0x04, 0x00, 0, 0];
        let e = ExtIter::new(&sec, 0, true).next().unwrap();
        assert_eq!(e, Err(Error::ReservedValue { field: "oran_fh_cus.extLen", offset: 1, value: 0 }));
        let sec = [0x00, 0x00, 0x0B, 0x00, 0x00];
        let e = ExtIter::new(&sec, 2, true).next().unwrap();
        assert_eq!(e, Err(Error::ReservedValue { field: "oran_fh_cus.extLen", offset: 3, value: 0 }));
        let sec = [0x04, 0x02, 0, 0];
        assert!(matches!(
            ExtIter::new(&sec, 0, true).next().unwrap(),
            Err(Error::LengthMismatch { field: "oran_fh_cus.extLen", declared: 8, actual: 4, .. })
        ));
    }

    #[test]
    fn typed_only_where_modelled() {
        let ext4 = [0x04, 0x01, 0x92, 0x34];
        assert!(matches!(ExtRepr::parse(&ext4, 1), Ok(ExtRepr::ModComp(_))));
        assert!(matches!(ExtRepr::parse(&ext4, 0), Ok(ExtRepr::Raw { ext_type: 4, .. })));
        assert!(matches!(ExtRepr::parse(&ext4, 6), Ok(ExtRepr::Raw { ext_type: 4, .. })));
    }
}
