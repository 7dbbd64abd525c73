//! Extension 11: flexible beamforming weights, with a 16-bit extLen.
//! disableBFWs, RAD and numBundPrb, then (when weights are enabled)
//! bfwCompHdr, then one entry per PRB bundle: bfwCompParam, a beamId word
//! and the weights, or only the beamId word when weights are disabled.
//!
//! How many bundles there are follows from the section's PRB allocation
//! (numPrbc, extensions 6/12/13) and how many weights a bundle has is
//! M-plane configuration, so the bundles are kept as bytes with their
//! padding; [`Ext11FlexBfw::beam_id`] reads the weightless form. When the
//! section's allocation is plain numPrbc (no extension 6, 12 or 13) the
//! bundle count is ⌈numPrbc / numBundPrb⌉ ([`Ext11FlexBfw::contiguous_bundles`]),
//! and the field visitor then reports one beamId per bundle.

use crate::bits::be16;
use crate::fields::{FieldValue, FieldVisitor};
use crate::{Error, Result};

use super::{BfwCompHdr, ExtBody};

/// Extension 11 (flexible beamforming weights).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ext11FlexBfw<'a> {
    /// disableBFWs: bundles carry only beamIds.
    pub disable_bfws: bool,
    /// RAD: reset after PRB discontinuity.
    pub rad: bool,
    /// The 6 bits after RAD (reserved; bundleOffset in later CUS versions).
    pub reserved: u8,
    /// numBundPrb: PRBs per bundle (0 is reserved but kept).
    pub num_bund_prb: u8,
    /// bfwCompHdr, present exactly when weights are enabled.
    pub bfw_comp_hdr: Option<BfwCompHdr>,
    /// The bundles and the padding after them, as sent.
    pub bundles: &'a [u8],
}

impl<'a> Ext11FlexBfw<'a> {
    /// beamId of bundle `i` when weights are disabled (one word per bundle).
    pub fn beam_id(&self, i: usize) -> Option<u16> {
        let at = 2 * i;
        (self.disable_bfws && at + 2 <= self.bundles.len()).then(|| be16(self.bundles, at) & 0x7FFF)
    }

    /// Bundles in a section of `num_prbc` PRBs whose allocation no extension
    /// 6, 12 or 13 reshapes: ⌈numPrbc / numBundPrb⌉, the last one possibly
    /// partial. `None` for numPrbc 0 (all PRBs of the carrier, which is
    /// configuration) and for the reserved numBundPrb 0.
    pub fn contiguous_bundles(&self, num_prbc: u8) -> Option<usize> {
        (num_prbc != 0 && self.num_bund_prb != 0).then(|| (num_prbc as usize).div_ceil(self.num_bund_prb as usize))
    }

    /// Reports the fields like [`ExtBody::visit_body`], except that with
    /// weights disabled and `bundles` known (and present) each bundle is
    /// reported as its beamId, as Wireshark does, instead of as bytes.
    pub(crate) fn visit_bundles<V: FieldVisitor<'a>>(&self, v: &mut V, bundles: Option<usize>) {
        v.field("oran_fh_cus.disableBFWs", FieldValue::Bool(self.disable_bfws));
        v.field("oran_fh_cus.rad", FieldValue::Bool(self.rad));
        v.field("oran_fh_cus.ext11.reserved", FieldValue::U(self.reserved as u64));
        v.field("oran_fh_cus.numBundPrbs", FieldValue::U(self.num_bund_prb as u64));
        if let Some(h) = self.bfw_comp_hdr {
            h.visit(v);
        }
        match bundles {
            Some(n) if self.disable_bfws && 2 * n <= self.bundles.len() => {
                for i in 0..n {
                    v.field("oran_fh_cus.beamId", FieldValue::U((be16(self.bundles, 2 * i) & 0x7FFF) as u64));
                }
            }
            _ => v.field("oran_fh_cus.ext11.bundles", FieldValue::Bytes(self.bundles)),
        }
    }
}

impl<'a> ExtBody<'a> for Ext11FlexBfw<'a> {
    const EXT_TYPE: u8 = 11;

    fn parse_body(body: &'a [u8]) -> Result<Self> {
        crate::error::check_len(body, "oran_fh_cus.numBundPrbs", 0, 2)?;
        let disable_bfws = body[0] & 0x80 != 0;
        let mut e = Ext11FlexBfw {
            disable_bfws,
            rad: body[0] & 0x40 != 0,
            reserved: body[0] & 0x3F,
            num_bund_prb: body[1],
            bfw_comp_hdr: None,
            bundles: &body[2..],
        };
        if !disable_bfws {
            crate::error::check_len(body, "oran_fh_cus.bfwCompHdr_iqWidth", 2, 1)?;
            e.bfw_comp_hdr = Some(BfwCompHdr::from_byte(body[2]));
            e.bundles = &body[3..];
        }
        Ok(e)
    }

    fn body_len(&self) -> usize {
        2 + self.bfw_comp_hdr.is_some() as usize + self.bundles.len()
    }

    fn emit_body(&self, b: &mut [u8]) -> Result<()> {
        crate::bits::check_fits("oran_fh_cus.ext11.reserved", self.reserved as u32, 0x3F)?;
        if self.disable_bfws == self.bfw_comp_hdr.is_some() {
            return Err(Error::LengthMismatch {
                field: "oran_fh_cus.bfwCompHdr_iqWidth",
                offset: 2,
                declared: !self.disable_bfws as usize,
                actual: self.bfw_comp_hdr.is_some() as usize,
            });
        }
        b[0] = ((self.disable_bfws as u8) << 7) | ((self.rad as u8) << 6) | self.reserved;
        b[1] = self.num_bund_prb;
        let mut at = 2;
        if let Some(h) = self.bfw_comp_hdr {
            h.check()?;
            b[2] = h.to_byte();
            at = 3;
        }
        b[at..].copy_from_slice(self.bundles);
        Ok(())
    }

    fn visit_body<V: FieldVisitor<'a>>(&self, v: &mut V) {
        self.visit_bundles(v, None);
    }
}

#[cfg(test)]
mod tests {
    use super::super::ExtRepr;
    use super::*;

    // Weights disabled: extLen 2 (16-bit), numBundPrb 4, beamId 5, pad 1 byte.
    const NO_BFW: [u8; 8] = [0x0B, 0x00, 0x02, 0x80, 0x04, 0x00, 0x05, 0x00];
    // Weights enabled: RAD, numBundPrb 2, bfwCompHdr BFP 9, one bundle (exponent, beamId 3, 1 byte of weights).
    const BFW: [u8; 8] = [0x8B, 0x00, 0x02, 0x40, 0x02, 0x91, 0x03, 0x00];

    #[test]
    fn disabled_by_hand() {
        let ExtRepr::FlexBfw(e) = ExtRepr::parse(&NO_BFW, 1).unwrap() else { panic!() };
        assert_eq!((e.disable_bfws, e.rad, e.num_bund_prb, e.bfw_comp_hdr), (true, false, 4, None));
        assert_eq!((e.beam_id(0), e.beam_id(1)), (Some(5), None));
        let mut out = [0u8; 8];
        assert_eq!(ExtRepr::FlexBfw(e).emit(&mut out, false), Ok(8));
        assert_eq!(out, NO_BFW);
    }

    #[test]
    fn enabled_by_hand() {
        let ExtRepr::FlexBfw(e) = ExtRepr::parse(&BFW, 3).unwrap() else { panic!() };
        assert_eq!(e.bfw_comp_hdr, Some(BfwCompHdr { iq_width: 9, comp_meth: 1 }));
        assert_eq!((e.rad, e.num_bund_prb, e.bundles), (true, 2, &BFW[6..]));
        let mut out = [0u8; 8];
        assert_eq!(ExtRepr::FlexBfw(e).emit(&mut out, true), Ok(8));
        assert_eq!(out, BFW);
        let bad = Ext11FlexBfw { bfw_comp_hdr: None, ..e };
        assert!(ExtRepr::FlexBfw(bad).emit(&mut out, true).is_err());
    }

    /// Collects the beamIds and the raw bundles a visitor is given.
    #[derive(Default)]
    struct Bundles(Vec<u64>, Option<Vec<u8>>);

    impl<'a> FieldVisitor<'a> for Bundles {
        fn field(&mut self, name: &'static str, value: FieldValue<'a>) {
            match (name, value) {
                ("oran_fh_cus.beamId", FieldValue::U(x)) => self.0.push(x),
                ("oran_fh_cus.ext11.bundles", FieldValue::Bytes(b)) => self.1 = Some(b.to_vec()),
                _ => {}
            }
        }
        fn begin(&mut self, _: &'static str) {}
        fn end(&mut self) {}
    }

    // Weights disabled, numBundPrb 16, four bundles (beamIds 7, 8, 9 and
    // 0x7FFF, the last with its reserved bit set), 3 pad bytes: extLen 4.
    const FOUR: [u8; 16] = [0x0B, 0x00, 0x04, 0x80, 0x10, 0x00, 0x07, 0x00, 0x08, 0x00, 0x09, 0xFF, 0xFF, 0, 0, 0];

    #[test]
    fn bundle_count_from_num_prbc() {
        let ExtRepr::FlexBfw(e) = ExtRepr::parse(&FOUR, 1).unwrap() else { panic!() };
        // 50 PRBs in bundles of 16: three whole bundles and a partial one.
        assert_eq!(e.contiguous_bundles(50), Some(4));
        assert_eq!(e.contiguous_bundles(48), Some(3));
        assert_eq!(e.contiguous_bundles(0), None, "numPrbc 0 is the whole carrier");
        assert_eq!(Ext11FlexBfw { num_bund_prb: 0, ..e }.contiguous_bundles(50), None);
    }

    #[test]
    fn visitor_reports_one_beam_id_per_bundle() {
        let ExtRepr::FlexBfw(e) = ExtRepr::parse(&FOUR, 1).unwrap() else { panic!() };
        let mut v = Bundles::default();
        e.visit_bundles(&mut v, e.contiguous_bundles(50));
        assert_eq!((v.0, v.1), (vec![7, 8, 9, 0x7FFF], None), "padding is not a bundle");
        // Count unknown, or more bundles than bytes: the bundles stay bytes.
        for n in [None, Some(6)] {
            let mut v = Bundles::default();
            e.visit_bundles(&mut v, n);
            assert_eq!((v.0, v.1), (vec![], Some(FOUR[5..].to_vec())));
        }
        // With weights the bundle layout depends on the antenna count.
        let ExtRepr::FlexBfw(w) = ExtRepr::parse(&BFW, 1).unwrap() else { panic!() };
        let mut v = Bundles::default();
        w.visit_bundles(&mut v, Some(1));
        assert_eq!((v.0, v.1), (vec![], Some(BFW[6..].to_vec())));
    }
}
