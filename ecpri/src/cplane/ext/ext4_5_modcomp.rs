//! Extensions 4 and 5: modulation compression parameters.
//!
//! Extension 4 carries one csf flag and modCompScaler. Extension 5 carries
//! a list of 28-bit sets (mcScaleReMask, csf, mcScaleOffset) packed back to
//! back and zero-filled to the 4-byte boundary. The list length is not on
//! the wire: it is as many sets as fit, except that when the sets fill the
//! extension exactly and the last one is all zero, that one is padding
//! (extLen 4 holds either three sets and 28 reserved bits or four sets;
//! Wireshark reads it the same way). The body is kept as bytes, so emit is
//! exact whatever the count.

use crate::bits::{be16, check_fits, set_be16};
use crate::fields::{FieldValue, FieldVisitor};
use crate::Result;

use super::super::{read_bits, round_up4, write_bits};
use super::{split_content, ExtBody};

/// Extension 4 (modulation compression parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ext4ModComp<'a> {
    /// csf: constellation shift flag.
    pub csf: bool,
    /// modCompScaler (15 bits: 4-bit exponent, 11-bit mantissa).
    pub mod_comp_scaler: u16,
    /// Bytes after modCompScaler up to extLen.
    pub padding: &'a [u8],
}

impl<'a> ExtBody<'a> for Ext4ModComp<'a> {
    const EXT_TYPE: u8 = 4;

    fn parse_body(body: &'a [u8]) -> Result<Self> {
        let (c, padding) = split_content(body, "oran_fh_cus.modcompscaler", 2)?;
        let w = be16(c, 0);
        Ok(Ext4ModComp { csf: w & 0x8000 != 0, mod_comp_scaler: w & 0x7FFF, padding })
    }

    fn body_len(&self) -> usize {
        2 + self.padding.len()
    }

    fn emit_body(&self, b: &mut [u8]) -> Result<()> {
        check_fits("oran_fh_cus.modcompscaler", self.mod_comp_scaler as u32, 0x7FFF)?;
        set_be16(b, 0, ((self.csf as u16) << 15) | self.mod_comp_scaler);
        b[2..].copy_from_slice(self.padding);
        Ok(())
    }

    fn visit_body<V: FieldVisitor<'a>>(&self, v: &mut V) {
        v.field("oran_fh_cus.csf", FieldValue::Bool(self.csf));
        v.field("oran_fh_cus.modcompscaler", FieldValue::U(self.mod_comp_scaler as u64));
    }
}

/// One set of extension 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct McScaleSet {
    /// mcScaleReMask (12 bits).
    pub mc_scale_re_mask: u16,
    /// csf.
    pub csf: bool,
    /// mcScaleOffset (15 bits).
    pub mc_scale_offset: u16,
}

const SET_BITS: usize = 28;

/// Extension 5 (modulation compression additional scaling parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ext5ModCompSets<'a> {
    /// The packed sets followed by reserved bits, as sent (extLen × 4 − 2 bytes).
    pub sets: &'a [u8],
}

impl<'a> Ext5ModCompSets<'a> {
    /// Number of sets present (see the module documentation).
    pub fn num_sets(&self) -> usize {
        let bits = self.sets.len() * 8;
        let n = bits / SET_BITS;
        if n > 0 && n * SET_BITS == bits && read_bits(self.sets, (n - 1) * SET_BITS, SET_BITS as u32) == 0 {
            n - 1
        } else {
            n
        }
    }

    /// Set `i`, if present.
    pub fn set(&self, i: usize) -> Option<McScaleSet> {
        if i >= self.num_sets() {
            return None;
        }
        let bit = i * SET_BITS;
        Some(McScaleSet {
            mc_scale_re_mask: read_bits(self.sets, bit, 12) as u16,
            csf: read_bits(self.sets, bit + 12, 1) != 0,
            mc_scale_offset: read_bits(self.sets, bit + 13, 15) as u16,
        })
    }

    /// The reserved bits after the last set, and how many there are.
    pub fn reserved(&self) -> (u32, u32) {
        let from = self.num_sets() * SET_BITS;
        let n = (self.sets.len() * 8 - from) as u32;
        (read_bits(self.sets, from, n.min(32)), n)
    }

    /// Packs `sets` into `out` with zero fill so that the extension ends on
    /// a 4-byte boundary; returns the bytes used, to borrow as [`Self::sets`].
    pub fn encode(sets: &[McScaleSet], out: &mut [u8]) -> Result<usize> {
        let len = round_up4(2 + (sets.len() * SET_BITS).div_ceil(8)) - 2;
        crate::error::check_len(out, "oran_fh_cus.ext5.mcScaleReMask", 0, len)?;
        out[..len].fill(0);
        for (i, s) in sets.iter().enumerate() {
            check_fits("oran_fh_cus.ext5.mcScaleReMask", s.mc_scale_re_mask as u32, 0xFFF)?;
            check_fits("oran_fh_cus.ext5.mcScaleOffset", s.mc_scale_offset as u32, 0x7FFF)?;
            let bit = i * SET_BITS;
            write_bits(out, bit, 12, s.mc_scale_re_mask as u32);
            write_bits(out, bit + 12, 1, s.csf as u32);
            write_bits(out, bit + 13, 15, s.mc_scale_offset as u32);
        }
        Ok(len)
    }
}

impl<'a> ExtBody<'a> for Ext5ModCompSets<'a> {
    const EXT_TYPE: u8 = 5;

    fn parse_body(body: &'a [u8]) -> Result<Self> {
        Ok(Ext5ModCompSets { sets: body })
    }

    fn body_len(&self) -> usize {
        self.sets.len()
    }

    fn emit_body(&self, b: &mut [u8]) -> Result<()> {
        b.copy_from_slice(self.sets);
        Ok(())
    }

    fn visit_body<V: FieldVisitor<'a>>(&self, v: &mut V) {
        for i in 0..self.num_sets() {
            let s = self.set(i).unwrap_or_default();
            v.field("oran_fh_cus.ext5.mcScaleReMask", FieldValue::U(s.mc_scale_re_mask as u64));
            v.field("oran_fh_cus.csf", FieldValue::Bool(s.csf));
            v.field("oran_fh_cus.ext5.mcScaleOffset", FieldValue::U(s.mc_scale_offset as u64));
        }
        let (r, n) = self.reserved();
        if n > 0 {
            v.field("oran_fh_cus.ext5.reserved", FieldValue::U(r as u64));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::ExtRepr;
    use super::*;

    #[test]
    fn ext4_by_hand() {
        let b = [0x84, 0x01, 0x92, 0x34];
        let ExtRepr::ModComp(e) = ExtRepr::parse(&b, 5).unwrap() else { panic!() };
        assert_eq!(e, Ext4ModComp { csf: true, mod_comp_scaler: 0x1234, padding: &[] });
        let mut out = [0u8; 4];
        assert_eq!(ExtRepr::ModComp(e).emit(&mut out, true), Ok(4));
        assert_eq!(out, b);
    }

    // extLen 2: one set (reMask 0xABC, csf 1, offset 0x1234) and 20 reserved bits.
    // 0xABC | 1 | 001 0010 0011 0100 -> ABC 9 234 then five zero nibbles.
    const EXT5: [u8; 8] = [0x05, 0x02, 0xAB, 0xC9, 0x23, 0x40, 0x00, 0x00];

    #[test]
    fn ext5_by_hand() {
        let ExtRepr::ModCompSets(e) = ExtRepr::parse(&EXT5, 1).unwrap() else { panic!() };
        assert_eq!(e.num_sets(), 1);
        assert_eq!(e.set(0), Some(McScaleSet { mc_scale_re_mask: 0xABC, csf: true, mc_scale_offset: 0x1234 }));
        assert_eq!(e.reserved(), (0, 20));
        let mut body = [0u8; 6];
        assert_eq!(Ext5ModCompSets::encode(&[e.set(0).unwrap()], &mut body), Ok(6));
        assert_eq!(body, EXT5[2..]);
        let mut out = [0u8; 8];
        assert_eq!(ExtRepr::ModCompSets(e).emit(&mut out, false), Ok(8));
        assert_eq!(out, EXT5);
    }

    #[test]
    fn ext5_len4_three_or_four_sets() {
        let s = McScaleSet { mc_scale_re_mask: 1, csf: false, mc_scale_offset: 2 };
        let mut body = [0u8; 14];
        assert_eq!(Ext5ModCompSets::encode(&[s; 3], &mut body), Ok(14));
        assert_eq!(Ext5ModCompSets { sets: &body }.num_sets(), 3);
        assert_eq!(Ext5ModCompSets::encode(&[s; 4], &mut body), Ok(14));
        assert_eq!(Ext5ModCompSets { sets: &body }.num_sets(), 4);
        assert_eq!(Ext5ModCompSets { sets: &body }.reserved(), (0, 0));
    }
}
