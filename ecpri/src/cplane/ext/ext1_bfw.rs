//! Extension 1: beamforming weights. bfwCompHdr, bfwCompParam (present for
//! block floating point, block scaling and µ-law), then bfwI/bfwQ for each
//! of the O-RU's antennas, zero-padded to the 4-byte boundary.
//!
//! The number of antennas is M-plane configuration, not on the wire, so
//! the weights are kept as raw bytes together with the padding; only an
//! upper bound on the count follows from extLen. For the beamspace methods
//! (4, 5) the length of bfwCompParam also depends on the antenna count, so
//! for them (and reserved methods) everything after bfwCompHdr is kept raw.

use crate::fields::{FieldValue, FieldVisitor};
use crate::{Error, Result};

use super::super::read_bits;
use super::ExtBody;

/// bfwCompHdr: bfwIqWidth (4 bits, 0 = 16) and bfwCompMeth (4 bits).
/// Shared by extensions 1 and 11.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BfwCompHdr {
    /// bfwIqWidth as sent (0 means 16 bits).
    pub iq_width: u8,
    /// bfwCompMeth: 0 none, 1 BFP, 2 block scaling, 3 µ-law, 4/5 beamspace.
    pub comp_meth: u8,
}

impl BfwCompHdr {
    /// Decodes the byte.
    pub const fn from_byte(b: u8) -> Self {
        BfwCompHdr { iq_width: b >> 4, comp_meth: b & 0xF }
    }

    /// Encodes the byte.
    pub const fn to_byte(self) -> u8 {
        (self.iq_width << 4) | (self.comp_meth & 0xF)
    }

    /// Bits of bfwI (and of bfwQ).
    pub const fn width(self) -> u32 {
        if self.iq_width == 0 { 16 } else { self.iq_width as u32 }
    }

    /// Bytes of bfwCompParam, when they do not depend on M-plane configuration.
    pub const fn param_len(self) -> Option<usize> {
        match self.comp_meth {
            0 => Some(0),
            1..=3 => Some(1),
            _ => None,
        }
    }

    pub(crate) fn check(self) -> Result<()> {
        crate::bits::check_fits("oran_fh_cus.bfwCompHdr_iqWidth", self.iq_width as u32, 0xF)?;
        crate::bits::check_fits("oran_fh_cus.bfwCompHdr_compMeth", self.comp_meth as u32, 0xF)
    }

    pub(crate) fn visit<'a, V: FieldVisitor<'a>>(self, v: &mut V) {
        v.field("oran_fh_cus.bfwCompHdr_iqWidth", FieldValue::U(self.iq_width as u64));
        v.field("oran_fh_cus.bfwCompHdr_compMeth", FieldValue::U(self.comp_meth as u64));
    }

    /// Reports one bfwCompParam byte under Wireshark's names.
    pub(crate) fn visit_param<'a, V: FieldVisitor<'a>>(self, v: &mut V, p: u8) {
        match self.comp_meth {
            1 => {
                v.field("oran_fh_cus.reserved4", FieldValue::U((p >> 4) as u64));
                v.field("oran_fh_cus.exponent", FieldValue::U((p & 0xF) as u64));
            }
            2 => v.field("oran_fh_cus.blockScaler", FieldValue::U(p as u64)),
            _ => {
                v.field("oran_fh_cus.compBitWidth", FieldValue::U((p >> 4) as u64));
                v.field("oran_fh_cus.compShift", FieldValue::U((p & 0xF) as u64));
            }
        }
    }
}

/// Extension 1 (beamforming weights).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ext1Bfw<'a> {
    /// bfwCompHdr.
    pub bfw_comp_hdr: BfwCompHdr,
    /// bfwCompParam, present exactly when bfwCompMeth is 1, 2 or 3.
    pub bfw_comp_param: Option<u8>,
    /// bfwI/bfwQ pairs followed by padding (for beamspace and reserved
    /// methods, bfwCompParam too), as sent.
    pub bfw: &'a [u8],
}

impl<'a> Ext1Bfw<'a> {
    /// The most weights (I/Q pairs) that fit, if the method's layout is known.
    pub fn max_num_weights(&self) -> Option<usize> {
        self.bfw_comp_hdr.param_len()?;
        Some(self.bfw.len() * 8 / (2 * self.bfw_comp_hdr.width() as usize))
    }

    /// Weight `n` as raw signed (I, Q) mantissas, if present.
    pub fn weight(&self, n: usize) -> Option<(i32, i32)> {
        let w = self.bfw_comp_hdr.width();
        if n >= self.max_num_weights()? {
            return None;
        }
        let sext = |v: u32| ((v << (32 - w)) as i32) >> (32 - w);
        let bit = n * 2 * w as usize;
        Some((sext(read_bits(self.bfw, bit, w)), sext(read_bits(self.bfw, bit + w as usize, w))))
    }
}

impl<'a> ExtBody<'a> for Ext1Bfw<'a> {
    const EXT_TYPE: u8 = 1;

    fn parse_body(body: &'a [u8]) -> Result<Self> {
        crate::error::check_len(body, "oran_fh_cus.bfwCompHdr_iqWidth", 0, 1)?;
        let hdr = BfwCompHdr::from_byte(body[0]);
        if hdr.param_len() == Some(1) {
            crate::error::check_len(body, "oran_fh_cus.bfwCompParam", 1, 1)?;
            Ok(Ext1Bfw { bfw_comp_hdr: hdr, bfw_comp_param: Some(body[1]), bfw: &body[2..] })
        } else {
            Ok(Ext1Bfw { bfw_comp_hdr: hdr, bfw_comp_param: None, bfw: &body[1..] })
        }
    }

    fn body_len(&self) -> usize {
        1 + self.bfw_comp_param.is_some() as usize + self.bfw.len()
    }

    fn emit_body(&self, b: &mut [u8]) -> Result<()> {
        self.bfw_comp_hdr.check()?;
        let want = self.bfw_comp_hdr.param_len() == Some(1);
        if want != self.bfw_comp_param.is_some() {
            return Err(Error::LengthMismatch {
                field: "oran_fh_cus.bfwCompParam",
                offset: 1,
                declared: want as usize,
                actual: self.bfw_comp_param.is_some() as usize,
            });
        }
        b[0] = self.bfw_comp_hdr.to_byte();
        let at = match self.bfw_comp_param {
            Some(p) => {
                b[1] = p;
                2
            }
            None => 1,
        };
        b[at..].copy_from_slice(self.bfw);
        Ok(())
    }

    fn visit_body<V: FieldVisitor<'a>>(&self, v: &mut V) {
        self.bfw_comp_hdr.visit(v);
        if let Some(p) = self.bfw_comp_param {
            self.bfw_comp_hdr.visit_param(v, p);
        }
        v.field("oran_fh_cus.ext1.bfw", FieldValue::Bytes(self.bfw));
    }
}

#[cfg(test)]
mod tests {
    use super::super::ExtRepr;
    use super::*;

    // ef 0, extType 1, extLen 2; bfwCompHdr BFP 9 bits; exponent 5 (reserved
    // nibble 0xA); room for one 9-bit I/Q pair, then padding.
    const EXT1: [u8; 8] = [0x01, 0x02, 0x91, 0xA5, 0x00, 0xBF, 0xF0, 0x00];

    #[test]
    fn deconstruct() {
        let ExtRepr::Bfw(e) = ExtRepr::parse(&EXT1, 1).unwrap() else { panic!() };
        assert_eq!(e.bfw_comp_hdr, BfwCompHdr { iq_width: 9, comp_meth: 1 });
        assert_eq!(e.bfw_comp_param, Some(0xA5));
        assert_eq!(e.bfw, &EXT1[4..]);
        assert_eq!(e.max_num_weights(), Some(1));
    }

    #[test]
    fn weights_decode() {
        // 4 bytes of 9-bit weights hold one pair; use a longer body for two.
        let bfw = [0x00, 0xFF, 0xE0, 0x0F, 0xF0, 0];
        let e = Ext1Bfw { bfw_comp_hdr: BfwCompHdr { iq_width: 9, comp_meth: 1 }, bfw_comp_param: Some(0), bfw: &bfw };
        assert_eq!(e.weight(0), Some((1, -1)));
        assert_eq!(e.weight(1), Some((-256, 255)));
        assert_eq!(e.weight(2), None);
    }

    #[test]
    fn construct() {
        let e = ExtRepr::Bfw(Ext1Bfw {
            bfw_comp_hdr: BfwCompHdr { iq_width: 9, comp_meth: 1 },
            bfw_comp_param: Some(0xA5),
            bfw: &EXT1[4..],
        });
        let mut b = [0xEEu8; 8];
        assert_eq!(e.emit(&mut b, false), Ok(8));
        assert_eq!(b, EXT1);
        let bad = Ext1Bfw { bfw_comp_param: None, ..match e { ExtRepr::Bfw(x) => x, _ => unreachable!() } };
        assert!(ExtRepr::Bfw(bad).emit(&mut b, false).is_err());
    }

    #[test]
    fn beamspace_kept_raw() {
        let b = [0x01, 0x01, 0x84, 0x12];
        let ExtRepr::Bfw(e) = ExtRepr::parse(&b, 3).unwrap() else { panic!() };
        assert_eq!((e.bfw_comp_param, e.bfw, e.max_num_weights()), (None, &b[3..], None));
    }
}
