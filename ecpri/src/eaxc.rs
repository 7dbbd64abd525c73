//! ecpriPcid / ecpriRtcid: the eAxC ID, split into DU port, band sector,
//! component carrier and RU port. The split is not on the wire; it is an
//! M-plane agreement between DU and RU, so the widths are configuration.

use crate::fields::{FieldValue, FieldVisitor};
use crate::{Error, Result};

/// Bit widths of the four eAxC sub-fields, most significant first. They
/// must add up to 16.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EaxcLayout {
    /// DU_port_ID width.
    pub du_port_bits: u8,
    /// BandSector_ID width.
    pub band_sector_bits: u8,
    /// CC_ID width.
    pub cc_bits: u8,
    /// RU_port_ID width.
    pub ru_port_bits: u8,
}

impl Default for EaxcLayout {
    fn default() -> Self {
        EaxcLayout::new(4, 4, 4, 4).unwrap()
    }
}

impl EaxcLayout {
    /// A layout; the widths must sum to 16.
    pub fn new(du_port_bits: u8, band_sector_bits: u8, cc_bits: u8, ru_port_bits: u8) -> Result<Self> {
        let sum = du_port_bits as u32 + band_sector_bits as u32 + cc_bits as u32 + ru_port_bits as u32;
        if sum != 16 {
            return Err(Error::ValueOutOfRange { field: "eaxc-bits (sum of widths must be 16)", value: sum, max: 16 });
        }
        Ok(EaxcLayout { du_port_bits, band_sector_bits, cc_bits, ru_port_bits })
    }

    /// Parses `"4,4,4,4"`.
    pub fn from_spec(s: &str) -> Option<Self> {
        let mut it = s.split(',').map(|p| p.trim().parse::<u8>());
        let l = EaxcLayout::new(
            it.next()?.ok()?,
            it.next()?.ok()?,
            it.next()?.ok()?,
            it.next()?.ok()?,
        )
        .ok()?;
        if it.next().is_some() {
            return None;
        }
        Some(l)
    }

    /// Splits a raw 16-bit eAxC ID.
    pub fn split(&self, raw: u16) -> EaxcId {
        let r = raw as u32;
        let ru_shift = 0;
        let cc_shift = self.ru_port_bits as u32;
        let bs_shift = cc_shift + self.cc_bits as u32;
        let du_shift = bs_shift + self.band_sector_bits as u32;
        let m = |bits: u8| if bits == 0 { 0 } else { (1u32 << bits) - 1 };
        EaxcId {
            du_port: ((r >> du_shift) & m(self.du_port_bits)) as u16,
            band_sector: ((r >> bs_shift) & m(self.band_sector_bits)) as u16,
            cc: ((r >> cc_shift) & m(self.cc_bits)) as u16,
            ru_port: ((r >> ru_shift) & m(self.ru_port_bits)) as u16,
        }
    }

    /// Joins the four sub-fields into a raw 16-bit eAxC ID, checking that
    /// each fits its width.
    pub fn join(&self, id: EaxcId) -> Result<u16> {
        let parts = [
            ("oran_fh_cus.du_port_id", id.du_port, self.du_port_bits),
            ("oran_fh_cus.bandsector_id", id.band_sector, self.band_sector_bits),
            ("oran_fh_cus.cc_id", id.cc, self.cc_bits),
            ("oran_fh_cus.ru_port_id", id.ru_port, self.ru_port_bits),
        ];
        let mut raw = 0u32;
        for (field, v, bits) in parts {
            let max = if bits == 0 { 0 } else { (1u32 << bits) - 1 };
            if v as u32 > max {
                return Err(Error::ValueOutOfRange { field, value: v as u32, max });
            }
            raw = (raw << bits) | v as u32;
        }
        Ok(raw as u16)
    }
}

impl core::fmt::Display for EaxcLayout {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{},{},{},{}", self.du_port_bits, self.band_sector_bits, self.cc_bits, self.ru_port_bits)
    }
}

/// The four parts of an eAxC ID under some [`EaxcLayout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EaxcId {
    /// DU_port_ID.
    pub du_port: u16,
    /// BandSector_ID.
    pub band_sector: u16,
    /// CC_ID.
    pub cc: u16,
    /// RU_port_ID.
    pub ru_port: u16,
}

impl EaxcId {
    /// Reports the four sub-fields under Wireshark's names.
    pub fn visit<'a, V: FieldVisitor<'a>>(&self, v: &mut V) {
        v.field("oran_fh_cus.du_port_id", FieldValue::U(self.du_port as u64));
        v.field("oran_fh_cus.bandsector_id", FieldValue::U(self.band_sector as u64));
        v.field("oran_fh_cus.cc_id", FieldValue::U(self.cc as u64));
        v.field("oran_fh_cus.ru_port_id", FieldValue::U(self.ru_port as u64));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn default_split() {
        let l = EaxcLayout::default();
        let id = l.split(0x1234);
        assert_eq!(id, EaxcId { du_port: 1, band_sector: 2, cc: 3, ru_port: 4 });
        assert_eq!(l.join(id), Ok(0x1234));
    }

    #[test]
    fn wireshark_default_layout() {
        let l = EaxcLayout::new(2, 6, 4, 4).unwrap();
        // Grouped by field: 2, 6, 4 and 4 bits.
        #[allow(clippy::unusual_byte_groupings)]
        let id = l.split(0b10_000011_0101_0110);
        assert_eq!(id, EaxcId { du_port: 2, band_sector: 3, cc: 5, ru_port: 6 });
    }

    #[test]
    fn bad_layouts_and_values() {
        assert!(EaxcLayout::new(4, 4, 4, 5).is_err());
        assert_eq!(EaxcLayout::from_spec("2,6,4,4"), EaxcLayout::new(2, 6, 4, 4).ok());
        assert_eq!(EaxcLayout::from_spec("4,4,4"), None);
        assert_eq!(EaxcLayout::from_spec("4,4,4,4,0"), None);
        let l = EaxcLayout::new(0, 8, 4, 4).unwrap();
        assert!(l.join(EaxcId { du_port: 1, ..Default::default() }).is_err());
    }

    proptest! {
        #[test]
        fn split_join_round_trip(raw: u16, mut cuts in proptest::array::uniform3(0u8..=16)) {
            cuts.sort();
            let l = EaxcLayout::new(cuts[0], cuts[1] - cuts[0], cuts[2] - cuts[1], 16 - cuts[2]).unwrap();
            prop_assert_eq!(l.join(l.split(raw)), Ok(raw));
        }
    }
}
