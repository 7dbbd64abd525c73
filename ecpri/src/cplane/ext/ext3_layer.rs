//! Extension 3: DL precoding (layer) parameters. Every form starts with
//! codebookIndex and layerId/numLayers; the first data layer (layerId 0,
//! or 0xF in later CUS versions, as Wireshark reads it) adds txScheme,
//! crsReMask, crsShift, crsSymNum and beamIdAP1–3, while other layers stop
//! there.

use crate::bits::{be16, check_fits, set_be16};
use crate::fields::{FieldValue, FieldVisitor};
use crate::{Error, Result};

use super::{split_content, ExtBody};

/// Whether `layer_id` introduces the first-data-layer form.
pub const fn is_first_layer(layer_id: u8) -> bool {
    layer_id == 0 || layer_id == 0xF
}

/// The fields only the first data layer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Ext3FirstLayer {
    /// txScheme (4 bits).
    pub tx_scheme: u8,
    /// crsReMask (12 bits).
    pub crs_re_mask: u16,
    /// crsShift.
    pub crs_shift: bool,
    /// The 3 reserved bits after crsShift.
    pub reserved_a: u8,
    /// crsSymNum (4 bits).
    pub crs_sym_num: u8,
    /// The reserved byte after crsSymNum.
    pub reserved_b: u8,
    /// The 16-bit words holding a reserved bit and beamIdAP1, AP2, AP3.
    pub beam_id_ap: [u16; 3],
}

/// Extension 3 (layer information).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ext3Layer<'a> {
    /// codebookIndex.
    pub codebook_index: u8,
    /// layerId (4 bits).
    pub layer_id: u8,
    /// numLayers (4 bits).
    pub num_layers: u8,
    /// Present exactly when [`is_first_layer`]`(layer_id)`.
    pub first: Option<Ext3FirstLayer>,
    /// Bytes after the last field up to extLen.
    pub padding: &'a [u8],
}

const FIRST_LEN: usize = 12;

impl<'a> ExtBody<'a> for Ext3Layer<'a> {
    const EXT_TYPE: u8 = 3;

    fn parse_body(body: &'a [u8]) -> Result<Self> {
        crate::error::check_len(body, "oran_fh_cus.ext3.layerId", 0, 2)?;
        let layer_id = body[1] >> 4;
        let mut e = Ext3Layer { codebook_index: body[0], layer_id, num_layers: body[1] & 0xF, ..Default::default() };
        if !is_first_layer(layer_id) {
            e.padding = &body[2..];
            return Ok(e);
        }
        let (c, padding) = split_content(body, "oran_fh_cus.ext3.txScheme", FIRST_LEN)?;
        let w = be16(c, 2);
        e.first = Some(Ext3FirstLayer {
            tx_scheme: (w >> 12) as u8,
            crs_re_mask: w & 0xFFF,
            crs_shift: c[4] & 0x80 != 0,
            reserved_a: (c[4] >> 4) & 7,
            crs_sym_num: c[4] & 0xF,
            reserved_b: c[5],
            beam_id_ap: [be16(c, 6), be16(c, 8), be16(c, 10)],
        });
        e.padding = padding;
        Ok(e)
    }

    fn body_len(&self) -> usize {
        (if self.first.is_some() { FIRST_LEN } else { 2 }) + self.padding.len()
    }

    fn emit_body(&self, b: &mut [u8]) -> Result<()> {
        check_fits("oran_fh_cus.ext3.layerId", self.layer_id as u32, 0xF)?;
        check_fits("oran_fh_cus.ext3.numLayers", self.num_layers as u32, 0xF)?;
        if is_first_layer(self.layer_id) != self.first.is_some() {
            return Err(Error::Unsupported { field: "oran_fh_cus.ext3.layerId", offset: 1, value: self.layer_id as u32 });
        }
        b[0] = self.codebook_index;
        b[1] = (self.layer_id << 4) | self.num_layers;
        let mut at = 2;
        if let Some(f) = self.first {
            check_fits("oran_fh_cus.ext3.txScheme", f.tx_scheme as u32, 0xF)?;
            check_fits("oran_fh_cus.ext3.crsReMask", f.crs_re_mask as u32, 0xFFF)?;
            check_fits("oran_fh_cus.ext3.reserved", f.reserved_a as u32, 7)?;
            check_fits("oran_fh_cus.ext3.crsSymNum", f.crs_sym_num as u32, 0xF)?;
            set_be16(b, 2, ((f.tx_scheme as u16) << 12) | f.crs_re_mask);
            b[4] = ((f.crs_shift as u8) << 7) | (f.reserved_a << 4) | f.crs_sym_num;
            b[5] = f.reserved_b;
            for (i, w) in f.beam_id_ap.iter().enumerate() {
                set_be16(b, 6 + 2 * i, *w);
            }
            at = FIRST_LEN;
        }
        b[at..].copy_from_slice(self.padding);
        Ok(())
    }

    fn visit_body<V: FieldVisitor<'a>>(&self, v: &mut V) {
        v.field("oran_fh_cus.ext3.codebookIndex", FieldValue::U(self.codebook_index as u64));
        v.field("oran_fh_cus.ext3.layerId", FieldValue::U(self.layer_id as u64));
        v.field("oran_fh_cus.ext3.numLayers", FieldValue::U(self.num_layers as u64));
        if let Some(f) = self.first {
            v.field("oran_fh_cus.ext3.txScheme", FieldValue::U(f.tx_scheme as u64));
            v.field("oran_fh_cus.ext3.crsReMask", FieldValue::U(f.crs_re_mask as u64));
            v.field("oran_fh_cus.ext3.crsShift", FieldValue::U(f.crs_shift as u64));
            v.field("oran_fh_cus.ext3.reserved", FieldValue::U(f.reserved_a as u64));
            v.field("oran_fh_cus.ext3.crsSymNum", FieldValue::U(f.crs_sym_num as u64));
            v.field("oran_fh_cus.reserved8", FieldValue::U(f.reserved_b as u64));
            const AP: [&str; 3] = ["oran_fh_cus.ext3.beamIdAP1", "oran_fh_cus.ext3.beamIdAP2", "oran_fh_cus.ext3.beamIdAP3"];
            for (name, w) in AP.iter().zip(f.beam_id_ap) {
                v.field(name, FieldValue::U((w & 0x7FFF) as u64));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::ExtRepr;
    use super::*;

    // First layer: extLen 4, codebookIndex 0, layerId 0, numLayers 2,
    // txScheme 1, crsReMask 0x0F0, crsShift 1, reserved 0, crsSymNum 7,
    // reserved 0, beamIdAP1..3 = 1, 2, 0x7FFF; 2 padding bytes.
    const FIRST: [u8; 16] = [0x03, 0x04, 0x00, 0x02, 0x10, 0xF0, 0x87, 0x00, 0x00, 0x01, 0x00, 0x02, 0x7F, 0xFF, 0, 0];
    // Other layer: extLen 1, codebookIndex 0, layerId 1, numLayers 2.
    const OTHER: [u8; 4] = [0x03, 0x01, 0x00, 0x12];

    #[test]
    fn first_layer() {
        let ExtRepr::Layer(e) = ExtRepr::parse(&FIRST, 1).unwrap() else { panic!() };
        let f = Ext3FirstLayer {
            tx_scheme: 1,
            crs_re_mask: 0xF0,
            crs_shift: true,
            reserved_a: 0,
            crs_sym_num: 7,
            reserved_b: 0,
            beam_id_ap: [1, 2, 0x7FFF],
        };
        assert_eq!(e, Ext3Layer { codebook_index: 0, layer_id: 0, num_layers: 2, first: Some(f), padding: &[0, 0] });
        let mut out = [0xAAu8; 16];
        assert_eq!(ExtRepr::Layer(e).emit(&mut out, false), Ok(16));
        assert_eq!(out, FIRST);
    }

    #[test]
    fn other_layer() {
        let ExtRepr::Layer(e) = ExtRepr::parse(&OTHER, 3).unwrap() else { panic!() };
        assert_eq!(e, Ext3Layer { codebook_index: 0, layer_id: 1, num_layers: 2, first: None, padding: &[] });
        let mut out = [0u8; 4];
        assert_eq!(ExtRepr::Layer(e).emit(&mut out, true), Ok(4));
        assert_eq!(out, [0x83, 0x01, 0x00, 0x12]);
        // A first-layer id needs the long form.
        let short = [0x03, 0x01, 0x00, 0x02];
        assert!(matches!(
            ExtRepr::parse(&short, 1),
            Err(Error::Truncated { field: "oran_fh_cus.ext3.txScheme", offset: 2, .. })
        ));
    }
}
