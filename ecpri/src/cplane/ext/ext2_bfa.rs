//! Extension 2: beamforming attributes. bfaCompHdr gives four 3-bit widths;
//! each attribute (bfAzPt, bfZePt, bfAz3dd, bfZe3dd) is present when its
//! width code w is non-zero and then takes w + 1 bits. The attributes are
//! packed back to back; bfAzSl and bfZeSl (3 bits each) take the low six
//! bits of the first byte that still has six bits free after them, and the
//! bits in between (reserved or pad) are kept as a value so that emit is
//! byte-exact.

use crate::bits::check_fits;
use crate::fields::{FieldValue, FieldVisitor};
use crate::Result;

use super::super::{read_bits, write_bits};
use super::{split_content, ExtBody};

/// Extension 2 (beamforming attributes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ext2BfAttributes<'a> {
    /// The 2 reserved bits before bfAzPtWidth.
    pub reserved_a: u8,
    /// bfAzPtWidth code (0 = absent, else width − 1).
    pub bf_az_pt_width: u8,
    /// bfZePtWidth code.
    pub bf_ze_pt_width: u8,
    /// The 2 reserved bits before bfAz3ddWidth.
    pub reserved_b: u8,
    /// bfAz3ddWidth code.
    pub bf_az_3dd_width: u8,
    /// bfZe3ddWidth code.
    pub bf_ze_3dd_width: u8,
    /// bfAzPt (0 when absent).
    pub bf_az_pt: u8,
    /// bfZePt (0 when absent).
    pub bf_ze_pt: u8,
    /// bfAz3dd (0 when absent).
    pub bf_az_3dd: u8,
    /// bfZe3dd (0 when absent).
    pub bf_ze_3dd: u8,
    /// The bits between the last attribute and bfAzSl ([`Self::gap_bits`] of them).
    pub gap: u8,
    /// bfAzSl (3 bits).
    pub bf_az_sl: u8,
    /// bfZeSl (3 bits).
    pub bf_ze_sl: u8,
    /// Bytes after bfZeSl up to extLen.
    pub padding: &'a [u8],
}

const fn bits_of(code: u8) -> u32 {
    if code == 0 { 0 } else { code as u32 + 1 }
}

impl<'a> Ext2BfAttributes<'a> {
    fn attr_bits(&self) -> [u32; 4] {
        [
            bits_of(self.bf_az_pt_width),
            bits_of(self.bf_ze_pt_width),
            bits_of(self.bf_az_3dd_width),
            bits_of(self.bf_ze_3dd_width),
        ]
    }

    /// Index (after bfaCompHdr) of the byte holding bfAzSl and bfZeSl.
    fn sl_byte(&self) -> usize {
        let t = self.attr_bits().iter().sum::<u32>() as usize;
        (t + 6).div_ceil(8) - 1
    }

    /// How many bits lie between the last attribute and bfAzSl.
    pub fn gap_bits(&self) -> u32 {
        let t = self.attr_bits().iter().sum::<u32>() as usize;
        (8 * self.sl_byte() + 2 - t) as u32
    }

    fn values(&self) -> [u8; 4] {
        [self.bf_az_pt, self.bf_ze_pt, self.bf_az_3dd, self.bf_ze_3dd]
    }
}

const NAMES: [&str; 4] = ["oran_fh_cus.bfAzPt", "oran_fh_cus.bfZePt", "oran_fh_cus.bfAz3dd", "oran_fh_cus.bfZe3dd"];
const WIDTH_NAMES: [&str; 4] =
    ["oran_fh_cus.bfAzPtWidth", "oran_fh_cus.bfZePtWidth", "oran_fh_cus.bfAz3ddWidth", "oran_fh_cus.bfZe3ddWidth"];

/// Checks that `v` fits in `bits` bits (0 bits admit only 0).
fn fits_bits(field: &'static str, v: u8, bits: u32) -> Result<()> {
    let max = ((1u32 << bits) - 1).min(0xFF);
    if v as u32 > max {
        return Err(crate::Error::ValueOutOfRange { field, value: v as u32, max });
    }
    Ok(())
}

impl<'a> ExtBody<'a> for Ext2BfAttributes<'a> {
    const EXT_TYPE: u8 = 2;

    fn parse_body(body: &'a [u8]) -> Result<Self> {
        crate::error::check_len(body, "oran_fh_cus.bfAzPtWidth", 0, 2)?;
        let mut e = Ext2BfAttributes {
            reserved_a: body[0] >> 6,
            bf_az_pt_width: (body[0] >> 3) & 7,
            bf_ze_pt_width: body[0] & 7,
            reserved_b: body[1] >> 6,
            bf_az_3dd_width: (body[1] >> 3) & 7,
            bf_ze_3dd_width: body[1] & 7,
            ..Default::default()
        };
        let (content, padding) = split_content(body, "oran_fh_cus.bfAzSl", 3 + e.sl_byte())?;
        let a = &content[2..];
        let mut bit = 0;
        let mut vals = [0u8; 4];
        for (i, w) in e.attr_bits().into_iter().enumerate() {
            vals[i] = read_bits(a, bit, w) as u8;
            bit += w as usize;
        }
        [e.bf_az_pt, e.bf_ze_pt, e.bf_az_3dd, e.bf_ze_3dd] = vals;
        e.gap = read_bits(a, bit, e.gap_bits()) as u8;
        let sl = a[e.sl_byte()];
        e.bf_az_sl = (sl >> 3) & 7;
        e.bf_ze_sl = sl & 7;
        e.padding = padding;
        Ok(e)
    }

    fn body_len(&self) -> usize {
        3 + self.sl_byte() + self.padding.len()
    }

    fn emit_body(&self, b: &mut [u8]) -> Result<()> {
        check_fits("oran_fh_cus.ext2.reserved", self.reserved_a as u32, 3)?;
        check_fits("oran_fh_cus.ext2.reserved", self.reserved_b as u32, 3)?;
        let codes = [self.bf_az_pt_width, self.bf_ze_pt_width, self.bf_az_3dd_width, self.bf_ze_3dd_width];
        for (name, c) in WIDTH_NAMES.iter().zip(codes) {
            check_fits(name, c as u32, 7)?;
        }
        for ((name, w), v) in NAMES.iter().zip(self.attr_bits()).zip(self.values()) {
            fits_bits(name, v, w)?;
        }
        fits_bits("oran_fh_cus.ext2.reserved", self.gap, self.gap_bits())?;
        check_fits("oran_fh_cus.bfAzSl", self.bf_az_sl as u32, 7)?;
        check_fits("oran_fh_cus.bfZeSl", self.bf_ze_sl as u32, 7)?;
        b[0] = (self.reserved_a << 6) | (self.bf_az_pt_width << 3) | self.bf_ze_pt_width;
        b[1] = (self.reserved_b << 6) | (self.bf_az_3dd_width << 3) | self.bf_ze_3dd_width;
        let k = self.sl_byte();
        let a = &mut b[2..3 + k];
        a.fill(0);
        let mut bit = 0;
        for (w, v) in self.attr_bits().into_iter().zip(self.values()) {
            write_bits(a, bit, w, v as u32);
            bit += w as usize;
        }
        write_bits(a, bit, self.gap_bits(), self.gap as u32);
        a[k] = (a[k] & 0xC0) | (self.bf_az_sl << 3) | self.bf_ze_sl;
        b[3 + k..].copy_from_slice(self.padding);
        Ok(())
    }

    fn visit_body<V: FieldVisitor<'a>>(&self, v: &mut V) {
        let codes = [self.bf_az_pt_width, self.bf_ze_pt_width, self.bf_az_3dd_width, self.bf_ze_3dd_width];
        v.field("oran_fh_cus.ext2.reserved", FieldValue::U(self.reserved_a as u64));
        v.field(WIDTH_NAMES[0], FieldValue::U(codes[0] as u64));
        v.field(WIDTH_NAMES[1], FieldValue::U(codes[1] as u64));
        v.field("oran_fh_cus.ext2.reserved", FieldValue::U(self.reserved_b as u64));
        v.field(WIDTH_NAMES[2], FieldValue::U(codes[2] as u64));
        v.field(WIDTH_NAMES[3], FieldValue::U(codes[3] as u64));
        for i in 0..4 {
            if codes[i] != 0 {
                v.field(NAMES[i], FieldValue::U(self.values()[i] as u64));
            }
        }
        if self.gap_bits() != 0 {
            v.field("oran_fh_cus.ext2.reserved", FieldValue::U(self.gap as u64));
        }
        v.field("oran_fh_cus.bfAzSl", FieldValue::U(self.bf_az_sl as u64));
        v.field("oran_fh_cus.bfZeSl", FieldValue::U(self.bf_ze_sl as u64));
    }
}

#[cfg(test)]
mod tests {
    use super::super::ExtRepr;
    use super::*;

    // extLen 2. Widths: AzPt code 7 (8 bits), ZePt code 1 (2 bits), the 3dd
    // ones absent: 10 attribute bits, so bfAzSl/bfZeSl take the low six bits
    // of the second attribute byte with no gap. AzPt 0xA5, ZePt 0b10,
    // AzSl 3, ZeSl 5; then 2 padding bytes.
    const EXT2: [u8; 8] = [0x02, 0x02, 0x39, 0x00, 0xA5, 0b10_011_101, 0, 0];

    fn ext2() -> Ext2BfAttributes<'static> {
        Ext2BfAttributes {
            bf_az_pt_width: 7,
            bf_ze_pt_width: 1,
            bf_az_pt: 0xA5,
            bf_ze_pt: 0b10,
            bf_az_sl: 3,
            bf_ze_sl: 5,
            padding: &[0, 0],
            ..Default::default()
        }
    }

    #[test]
    fn layout_of_sl_fields() {
        let e = ext2();
        assert_eq!((e.sl_byte(), e.gap_bits()), (1, 0));
        let none = Ext2BfAttributes::default();
        assert_eq!((none.sl_byte(), none.gap_bits()), (0, 2));
        let three = Ext2BfAttributes { bf_az_pt_width: 2, ..Default::default() };
        assert_eq!((three.sl_byte(), three.gap_bits()), (1, 7));
    }

    /// O-RAN CUS §7.7.2.3-7.7.2.8: bfAzPt, bfZePt, bfAz3dd and bfZe3dd are
    /// unsigned integers of (width code + 1) bits, bfAzSl and bfZeSl
    /// unsigned 3-bit codes (Wireshark's packet-oran.c agrees: FT_UINT8).
    /// The oracle packs each attribute with its top bit set by hand, MSB
    /// first, in layouts whose attribute bits fill whole bytes (so the
    /// sidelobe byte is the next one on any reading of the figure), and
    /// expects every value back as an unsigned number, never negative.
    #[test]
    fn attributes_are_unsigned_as_the_spec_says() {
        struct Seen(std::vec::Vec<(&'static str, FieldValue<'static>)>);
        impl<'a> FieldVisitor<'a> for Seen {
            fn field(&mut self, name: &'static str, value: FieldValue<'a>) {
                if let FieldValue::U(v) = value {
                    self.0.push((name, FieldValue::U(v)));
                } else if let FieldValue::I(v) = value {
                    self.0.push((name, FieldValue::I(v)));
                }
            }
            fn begin(&mut self, _: &'static str) {}
            fn end(&mut self) {}
        }
        // Width codes (AzPt, ZePt, Az3dd, Ze3dd) whose bits sum to a multiple of 8.
        for codes in [[7u8, 0, 0, 0], [3, 3, 0, 0], [1, 1, 1, 1], [0, 0, 7, 0], [0, 5, 0, 1], [7, 7, 7, 7]] {
            let bits: std::vec::Vec<u32> = codes.iter().map(|&c| if c == 0 { 0 } else { c as u32 + 1 }).collect();
            let total: u32 = bits.iter().sum();
            assert_eq!(total % 8, 0, "{codes:?}: a layout with whole bytes of attributes");
            // Each present attribute all ones: the largest value, top bit set.
            let mut attr = std::vec![0u8; total as usize / 8];
            let mut at = 0;
            for &w in &bits {
                for _ in 0..w {
                    attr[at / 8] |= 0x80 >> (at % 8);
                    at += 1;
                }
            }
            // Two reserved bits, bfAzSl = 7, bfZeSl = 6.
            let sl = 0b00_111_110u8;
            let mut body = std::vec![(codes[0] << 3) | codes[1], (codes[2] << 3) | codes[3]];
            body.extend(&attr);
            body.push(sl);
            let ext_len = (2 + body.len()).div_ceil(4);
            let mut ext = std::vec![0x02, ext_len as u8];
            ext.extend(&body);
            ext.resize(4 * ext_len, 0);
            let ExtRepr::BfAttributes(e) = ExtRepr::parse(&ext, 1).unwrap() else { panic!("not ext 2") };
            let mut seen = Seen(std::vec::Vec::new());
            e.visit_body(&mut seen);
            for (i, name) in NAMES.iter().enumerate() {
                let got = seen.0.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
                let want = (bits[i] != 0).then(|| FieldValue::U((1u64 << bits[i]) - 1));
                assert_eq!(got, want, "{name} with width code {}: unsigned, all ones", codes[i]);
            }
            let value = |n: &str| seen.0.iter().find(|(m, _)| *m == n).map(|(_, v)| *v);
            assert_eq!(value("oran_fh_cus.bfAzSl"), Some(FieldValue::U(7)), "{codes:?}");
            assert_eq!(value("oran_fh_cus.bfZeSl"), Some(FieldValue::U(6)), "{codes:?}");
        }
    }

    #[test]
    fn round_trip_by_hand() {
        let ExtRepr::BfAttributes(e) = ExtRepr::parse(&EXT2, 1).unwrap() else { panic!() };
        assert_eq!(e, ext2());
        let mut out = [0xFFu8; 8];
        assert_eq!(ExtRepr::BfAttributes(ext2()).emit(&mut out, false), Ok(8));
        assert_eq!(out, EXT2);
        let bad = Ext2BfAttributes { bf_az_3dd: 1, ..ext2() };
        assert!(ExtRepr::BfAttributes(bad).emit(&mut out, false).is_err());
    }
}
