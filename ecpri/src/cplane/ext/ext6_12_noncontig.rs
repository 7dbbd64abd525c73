//! Extensions 6 and 12: non-contiguous PRB allocation. Both end in the same
//! priority/symbolMask word; extension 6 selects resource block groups with
//! rbgSize/rbgMask, extension 12 adds (offStartPrb, numPrb) frequency ranges
//! after the section's own range.
//!
//! Extension 12's ranges fill the extension (as Wireshark reads them); a
//! final (0, 0) pair is how an odd number of ranges is padded to the word
//! boundary and is reported like any other pair.

use crate::bits::{be16, be32, check_fits, set_be16, set_be32};
use crate::fields::{FieldValue, FieldVisitor};
use crate::Result;

use super::{split_content, ExtBody};

fn priority_symbol_mask(w: u16) -> (u8, u16) {
    ((w >> 14) as u8, w & 0x3FFF)
}

fn emit_priority_symbol_mask(b: &mut [u8], priority: u8, symbol_mask: u16) -> Result<()> {
    check_fits("oran_fh_cus.priority", priority as u32, 3)?;
    check_fits("oran_fh_cus.symbolMask", symbol_mask as u32, 0x3FFF)?;
    set_be16(b, 0, ((priority as u16) << 14) | symbol_mask);
    Ok(())
}

/// Extension 6 (non-contiguous PRB allocation in time and frequency).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ext6NonContig<'a> {
    /// repetition.
    pub repetition: bool,
    /// rbgSize code (3 bits: 1, 2, 3, 4, 6, 8, 16 PRBs; 0 reserved).
    pub rbg_size: u8,
    /// rbgMask (28 bits).
    pub rbg_mask: u32,
    /// priority (2 bits).
    pub priority: u8,
    /// symbolMask (14 bits).
    pub symbol_mask: u16,
    /// Bytes after symbolMask up to extLen.
    pub padding: &'a [u8],
}

impl<'a> ExtBody<'a> for Ext6NonContig<'a> {
    const EXT_TYPE: u8 = 6;

    fn parse_body(body: &'a [u8]) -> Result<Self> {
        let (c, padding) = split_content(body, "oran_fh_cus.rbgMask", 6)?;
        let w = be32(c, 0);
        let (priority, symbol_mask) = priority_symbol_mask(be16(c, 4));
        Ok(Ext6NonContig {
            repetition: w & 0x8000_0000 != 0,
            rbg_size: ((w >> 28) & 7) as u8,
            rbg_mask: w & 0x0FFF_FFFF,
            priority,
            symbol_mask,
            padding,
        })
    }

    fn body_len(&self) -> usize {
        6 + self.padding.len()
    }

    fn emit_body(&self, b: &mut [u8]) -> Result<()> {
        check_fits("oran_fh_cus.rbgSize", self.rbg_size as u32, 7)?;
        check_fits("oran_fh_cus.rbgMask", self.rbg_mask, 0x0FFF_FFFF)?;
        set_be32(b, 0, ((self.repetition as u32) << 31) | ((self.rbg_size as u32) << 28) | self.rbg_mask);
        emit_priority_symbol_mask(&mut b[4..], self.priority, self.symbol_mask)?;
        b[6..].copy_from_slice(self.padding);
        Ok(())
    }

    fn visit_body<V: FieldVisitor<'a>>(&self, v: &mut V) {
        v.field("oran_fh_cus.repetition", FieldValue::U(self.repetition as u64));
        v.field("oran_fh_cus.rbgSize", FieldValue::U(self.rbg_size as u64));
        v.field("oran_fh_cus.rbgMask", FieldValue::U(self.rbg_mask as u64));
        v.field("oran_fh_cus.priority", FieldValue::U(self.priority as u64));
        v.field("oran_fh_cus.symbolMask", FieldValue::U(self.symbol_mask as u64));
    }
}

/// Extension 12 (non-contiguous PRB allocation with frequency ranges).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ext12FreqRanges<'a> {
    /// priority (2 bits).
    pub priority: u8,
    /// symbolMask (14 bits).
    pub symbol_mask: u16,
    /// The (offStartPrb, numPrb) byte pairs, as sent (an even number of pairs).
    pub ranges: &'a [u8],
}

impl<'a> Ext12FreqRanges<'a> {
    /// The (offStartPrb, numPrb) pairs.
    pub fn pairs(&self) -> impl Iterator<Item = (u8, u8)> + 'a {
        self.ranges.chunks_exact(2).map(|p| (p[0], p[1]))
    }
}

impl<'a> ExtBody<'a> for Ext12FreqRanges<'a> {
    const EXT_TYPE: u8 = 12;

    fn parse_body(body: &'a [u8]) -> Result<Self> {
        let (c, ranges) = split_content(body, "oran_fh_cus.symbolMask", 2)?;
        let (priority, symbol_mask) = priority_symbol_mask(be16(c, 0));
        Ok(Ext12FreqRanges { priority, symbol_mask, ranges })
    }

    fn body_len(&self) -> usize {
        2 + self.ranges.len()
    }

    fn emit_body(&self, b: &mut [u8]) -> Result<()> {
        emit_priority_symbol_mask(b, self.priority, self.symbol_mask)?;
        b[2..].copy_from_slice(self.ranges);
        Ok(())
    }

    fn visit_body<V: FieldVisitor<'a>>(&self, v: &mut V) {
        v.field("oran_fh_cus.priority", FieldValue::U(self.priority as u64));
        v.field("oran_fh_cus.symbolMask", FieldValue::U(self.symbol_mask as u64));
        for (off, num) in self.pairs() {
            v.field("oran_fh_cus.offStartPrb", FieldValue::U(off as u64));
            v.field("oran_fh_cus.numPrb", FieldValue::U(num as u64));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::ExtRepr;
    use super::*;

    // extLen 2; repetition 1, rbgSize 5 (6 PRBs), rbgMask 0x0ABCDEF,
    // priority 1, symbolMask 0x3FFF.
    const EXT6: [u8; 8] = [0x06, 0x02, 0xD0, 0xAB, 0xCD, 0xEF, 0x7F, 0xFF];
    // extLen 2; priority 3, symbolMask 0x0F0F; ranges (4, 10), (0, 0) padding.
    const EXT12: [u8; 8] = [0x0C, 0x02, 0xCF, 0x0F, 0x04, 0x0A, 0x00, 0x00];

    #[test]
    fn ext6_by_hand() {
        let ExtRepr::NonContig(e) = ExtRepr::parse(&EXT6, 1).unwrap() else { panic!() };
        assert_eq!(
            e,
            Ext6NonContig { repetition: true, rbg_size: 5, rbg_mask: 0x0ABCDEF, priority: 1, symbol_mask: 0x3FFF, padding: &[] }
        );
        let mut out = [0u8; 8];
        assert_eq!(ExtRepr::NonContig(e).emit(&mut out, false), Ok(8));
        assert_eq!(out, EXT6);
    }

    #[test]
    fn ext12_by_hand() {
        let ExtRepr::FreqRanges(e) = ExtRepr::parse(&EXT12, 0).unwrap() else { panic!() };
        assert_eq!((e.priority, e.symbol_mask), (3, 0x0F0F));
        assert_eq!(e.pairs().collect::<Vec<_>>(), [(4, 10), (0, 0)]);
        let mut out = [0u8; 8];
        assert_eq!(ExtRepr::FreqRanges(e).emit(&mut out, false), Ok(8));
        assert_eq!(out, EXT12);
    }
}
