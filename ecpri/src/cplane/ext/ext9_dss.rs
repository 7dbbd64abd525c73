//! Extension 9: dynamic spectrum sharing, the technology (LTE or NR) whose
//! numerology the section uses.

use crate::fields::{FieldValue, FieldVisitor};
use crate::Result;

use super::{split_content, ExtBody};

/// Extension 9 (DSS parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ext9Dss<'a> {
    /// technology: 0 LTE, 1 NR.
    pub technology: u8,
    /// The reserved byte after technology.
    pub reserved: u8,
    /// Bytes after the reserved byte up to extLen.
    pub padding: &'a [u8],
}

impl<'a> ExtBody<'a> for Ext9Dss<'a> {
    const EXT_TYPE: u8 = 9;

    fn parse_body(body: &'a [u8]) -> Result<Self> {
        let (c, padding) = split_content(body, "oran_fh_cus.ext9.technology", 2)?;
        Ok(Ext9Dss { technology: c[0], reserved: c[1], padding })
    }

    fn body_len(&self) -> usize {
        2 + self.padding.len()
    }

    fn emit_body(&self, b: &mut [u8]) -> Result<()> {
        b[0] = self.technology;
        b[1] = self.reserved;
        b[2..].copy_from_slice(self.padding);
        Ok(())
    }

    fn visit_body<V: FieldVisitor<'a>>(&self, v: &mut V) {
        v.field("oran_fh_cus.ext9.technology", FieldValue::U(self.technology as u64));
        v.field("oran_fh_cus.reserved8", FieldValue::U(self.reserved as u64));
    }
}

#[cfg(test)]
mod tests {
    use super::super::ExtRepr;
    use super::*;

    #[test]
    fn by_hand() {
        let b = [0x89, 0x01, 0x01, 0x00];
        let ExtRepr::Dss(e) = ExtRepr::parse(&b, 1).unwrap() else { panic!() };
        assert_eq!(e, Ext9Dss { technology: 1, reserved: 0, padding: &[] });
        let mut out = [0u8; 4];
        assert_eq!(ExtRepr::Dss(e).emit(&mut out, true), Ok(4));
        assert_eq!(out, b);
        // Padding beyond the minimum length is kept.
        let long = [0x09, 0x02, 0x00, 0x7E, 1, 2, 3, 4];
        let ExtRepr::Dss(e) = ExtRepr::parse(&long, 3).unwrap() else { panic!() };
        assert_eq!((e.reserved, e.padding), (0x7E, &long[4..]));
        let mut out = [0u8; 8];
        ExtRepr::Dss(e).emit(&mut out, false).unwrap();
        assert_eq!(out, long);
    }
}
