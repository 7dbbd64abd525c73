//! Extension 10: group configuration of multiple ports. beamGroupType says
//! how the numPortc further eAxC ports get their beams: 0 (common beam) and
//! 1 (beam matrix indication) add only a reserved byte, 2 (beam vector
//! listing) lists one 15-bit beamId (or ueId) per port, and 3 (later CUS
//! versions: ids with port-list indices) is kept as bytes.

use crate::bits::be16;
use crate::fields::{FieldValue, FieldVisitor};
use crate::Result;

use super::{split_content, ExtBody};

/// Extension 10 (group configuration of multiple ports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ext10PortGroup<'a> {
    /// beamGroupType (2 bits).
    pub beam_group_type: u8,
    /// numPortc (6 bits).
    pub num_portc: u8,
    /// What the group type adds: the reserved byte (types 0, 1), numPortc
    /// 16-bit words of reserved bit + beamId (type 2), or everything up to
    /// extLen (type 3).
    pub entries: &'a [u8],
    /// Bytes after the entries up to extLen.
    pub padding: &'a [u8],
}

impl<'a> Ext10PortGroup<'a> {
    fn entries_len(beam_group_type: u8, num_portc: u8, rest: usize) -> usize {
        match beam_group_type {
            0 | 1 => 1,
            2 => 2 * num_portc as usize,
            _ => rest,
        }
    }

    /// The beamIds (15 bits each) of a beam vector listing (type 2).
    pub fn beam_ids(&self) -> impl Iterator<Item = u16> + 'a {
        let list = if self.beam_group_type == 2 { self.entries } else { &[] };
        list.chunks_exact(2).map(|w| be16(w, 0) & 0x7FFF)
    }
}

impl<'a> ExtBody<'a> for Ext10PortGroup<'a> {
    const EXT_TYPE: u8 = 10;

    fn parse_body(body: &'a [u8]) -> Result<Self> {
        crate::error::check_len(body, "oran_fh_cus.beamGroupType", 0, 1)?;
        let (beam_group_type, num_portc) = (body[0] >> 6, body[0] & 0x3F);
        let n = Self::entries_len(beam_group_type, num_portc, body.len() - 1);
        let (entries, padding) = split_content(&body[1..], "oran_fh_cus.beamId", n).map_err(|e| e.at(1))?;
        Ok(Ext10PortGroup { beam_group_type, num_portc, entries, padding })
    }

    fn body_len(&self) -> usize {
        1 + self.entries.len() + self.padding.len()
    }

    fn emit_body(&self, b: &mut [u8]) -> Result<()> {
        crate::bits::check_fits("oran_fh_cus.beamGroupType", self.beam_group_type as u32, 3)?;
        crate::bits::check_fits("oran_fh_cus.numPortc", self.num_portc as u32, 0x3F)?;
        let n = Self::entries_len(self.beam_group_type, self.num_portc, self.entries.len());
        if n != self.entries.len() {
            return Err(crate::Error::LengthMismatch {
                field: "oran_fh_cus.numPortc",
                offset: 0,
                declared: n,
                actual: self.entries.len(),
            });
        }
        b[0] = (self.beam_group_type << 6) | self.num_portc;
        b[1..1 + n].copy_from_slice(self.entries);
        b[1 + n..].copy_from_slice(self.padding);
        Ok(())
    }

    fn visit_body<V: FieldVisitor<'a>>(&self, v: &mut V) {
        v.field("oran_fh_cus.beamGroupType", FieldValue::U(self.beam_group_type as u64));
        v.field("oran_fh_cus.numPortc", FieldValue::U(self.num_portc as u64));
        match self.beam_group_type {
            0 | 1 => v.field("oran_fh_cus.reserved8", FieldValue::U(self.entries.first().copied().unwrap_or(0) as u64)),
            2 => self.beam_ids().for_each(|id| v.field("oran_fh_cus.beamId", FieldValue::U(id as u64))),
            _ => v.field("oran_fh_cus.ext10.entries", FieldValue::Bytes(self.entries)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::ExtRepr;

    // Beam vector listing: 3 ports, beamIds 1, 2 and 0x7FFF, one pad byte.
    const LISTING: [u8; 12] = [0x0A, 0x03, 0x83, 0x00, 0x01, 0x00, 0x02, 0xFF, 0xFF, 0x00, 0x00, 0x00];

    #[test]
    fn listing_by_hand() {
        let ExtRepr::PortGroup(e) = ExtRepr::parse(&LISTING, 5).unwrap() else { panic!() };
        assert_eq!((e.beam_group_type, e.num_portc), (2, 3));
        assert_eq!(e.beam_ids().collect::<Vec<_>>(), [1, 2, 0x7FFF]);
        assert_eq!(e.padding, &LISTING[9..]);
        let mut out = [0u8; 12];
        assert_eq!(ExtRepr::PortGroup(e).emit(&mut out, false), Ok(12));
        assert_eq!(out, LISTING);
    }

    #[test]
    fn common_beam_and_short_listing() {
        let b = [0x0A, 0x01, 0x04, 0x00];
        let ExtRepr::PortGroup(e) = ExtRepr::parse(&b, 1).unwrap() else { panic!() };
        assert_eq!((e.beam_group_type, e.num_portc, e.entries, e.padding), (0, 4, &b[3..], &[][..]));
        let short = [0x0A, 0x01, 0x83, 0x00];
        assert!(matches!(
            ExtRepr::parse(&short, 1),
            Err(crate::Error::Truncated { field: "oran_fh_cus.beamId", offset: 3, needed: 6, .. })
        ));
    }
}
