//! Section type 7 (LAA): one listen-before-talk message after the common
//! header, introduced by laaMsgType and laaMsgLen.
//!
//! Every LBT message starts with the 16-bit lbtHandle and continues with a
//! handful of bit fields whose layout depends on laaMsgType. The layouts
//! are kept in one table ([`layout`]) so that parse, emit and the field
//! visitor cannot disagree. Message types the table does not know (7–15)
//! carry no decoded body: their bytes stay in the message trailer.
//!
//! laaMsgLen is kept as sent and not checked against the bytes present:
//! its meaning changed between CUS versions (early versions count words
//! minus one including the type byte, later ones reserve 0), and the
//! message is delimited by the eCPRI payload anyway.

use crate::error::check_len;
use crate::fields::{FieldValue, FieldVisitor};
use crate::{Error, Result};

use super::{read_bits, write_bits};

/// The most bit fields any LBT message has after lbtHandle.
pub const MAX_LAA_FIELDS: usize = 7;

/// Bit fields after lbtHandle, in wire order: (display-filter name, width in bits).
/// Names follow Wireshark's dissector; reserved bits use `oran_fh_cus.laa.reserved`.
pub fn layout(laa_msg_type: u8) -> Option<&'static [(&'static str, u32)]> {
    const RSV: &str = "oran_fh_cus.laa.reserved";
    Some(match laa_msg_type {
        // LBT_PDSCH_REQ
        0 => &[
            ("oran_fh_cus.lbtOffset", 10),
            ("oran_fh_cus.lbtMode", 2),
            (RSV, 1),
            ("oran_fh_cus.lbtDeferFactor", 3),
            ("oran_fh_cus.lbtBackoffCounter", 10),
            ("oran_fh_cus.MCOT", 4),
            (RSV, 10),
        ],
        // LBT_DRS_REQ
        1 => &[("oran_fh_cus.lbtOffset", 10), ("oran_fh_cus.lbtMode", 2), (RSV, 28)],
        // LBT_PDSCH_RSP
        2 => &[
            ("oran_fh_cus.lbtPdschRes", 2),
            ("oran_fh_cus.initialPartialSF", 1),
            ("oran_fh_cus.sfStatus", 1),
            ("oran_fh_cus.sfnSfEnd", 12),
            (RSV, 24),
        ],
        // LBT_DRS_RSP
        3 => &[("oran_fh_cus.lbtDrsRes", 1), (RSV, 7)],
        // LBT_Buffer_Error
        4 => &[("oran_fh_cus.lbtBufErr", 1), (RSV, 7)],
        // LBT_CWCONFIG_REQ
        5 => &[
            ("oran_fh_cus.lbtCWConfig_H", 8),
            ("oran_fh_cus.lbtCWConfig_T", 8),
            ("oran_fh_cus.lbtMode", 2),
            ("oran_fh_cus.lbtTrafficClass", 3),
            (RSV, 19),
        ],
        // LBT_CWCONFIG_RSP
        6 => &[("oran_fh_cus.lbtCWR_Rst", 1), (RSV, 7)],
        _ => return None,
    })
}

/// One decoded LBT message (laaMsgType, laaMsgLen and the message body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LaaMsg {
    /// laaMsgType (4 bits): 0 LBT_PDSCH_REQ … 6 LBT_CWCONFIG_RSP.
    pub laa_msg_type: u8,
    /// laaMsgLen (4 bits), kept as sent.
    pub laa_msg_len: u8,
    /// lbtHandle; 0 and unused for message types without a layout.
    pub lbt_handle: u16,
    /// The bit fields after lbtHandle in the order of [`layout`]
    /// (reserved ones included); unused entries are 0.
    pub values: [u32; MAX_LAA_FIELDS],
}

impl LaaMsg {
    /// Bytes this message occupies, the laaMsgType/laaMsgLen byte included.
    pub fn buffer_len(&self) -> usize {
        match layout(self.laa_msg_type) {
            Some(l) => 3 + (l.iter().map(|f| f.1).sum::<u32>() as usize).div_ceil(8),
            None => 1,
        }
    }

    /// The value of the named field, if this message type has it.
    pub fn get(&self, name: &str) -> Option<u32> {
        let l = layout(self.laa_msg_type)?;
        l.iter().position(|f| f.0 == name).map(|i| self.values[i])
    }

    /// Parses the message at the start of `b`.
    pub fn parse(b: &[u8]) -> Result<Self> {
        check_len(b, "oran_fh_cus.laaMsgType", 0, 1)?;
        let mut m = LaaMsg { laa_msg_type: b[0] >> 4, laa_msg_len: b[0] & 0xF, ..Default::default() };
        if let Some(l) = layout(m.laa_msg_type) {
            check_len(b, "oran_fh_cus.lbtHandle", 1, m.buffer_len() - 1)?;
            m.lbt_handle = crate::bits::be16(b, 1);
            let mut bit = 24;
            for (i, &(_, w)) in l.iter().enumerate() {
                m.values[i] = read_bits(b, bit, w);
                bit += w as usize;
            }
        }
        Ok(m)
    }

    /// Writes the message at the start of `b`, returning its length.
    pub fn emit(&self, b: &mut [u8]) -> Result<usize> {
        crate::bits::check_fits("oran_fh_cus.laaMsgType", self.laa_msg_type as u32, 0xF)?;
        crate::bits::check_fits("oran_fh_cus.laaMsgLen", self.laa_msg_len as u32, 0xF)?;
        let n = self.buffer_len();
        check_len(b, "oran_fh_cus.laaMsgType", 0, n)?;
        b[0] = (self.laa_msg_type << 4) | self.laa_msg_len;
        if let Some(l) = layout(self.laa_msg_type) {
            crate::bits::set_be16(b, 1, self.lbt_handle);
            let mut bit = 24;
            for (i, &(name, w)) in l.iter().enumerate() {
                let max = (1u64 << w) - 1;
                if self.values[i] as u64 > max {
                    return Err(Error::ValueOutOfRange { field: name, value: self.values[i], max: max as u32 });
                }
                write_bits(b, bit, w, self.values[i]);
                bit += w as usize;
            }
        }
        Ok(n)
    }

    /// Reports laaMsgType, laaMsgLen and the body fields in wire order.
    pub fn visit<'a, V: FieldVisitor<'a>>(&self, v: &mut V) {
        v.field("oran_fh_cus.laaMsgType", FieldValue::U(self.laa_msg_type as u64));
        v.field("oran_fh_cus.laaMsgLen", FieldValue::U(self.laa_msg_len as u64));
        if let Some(l) = layout(self.laa_msg_type) {
            v.field("oran_fh_cus.lbtHandle", FieldValue::U(self.lbt_handle as u64));
            for (i, &(name, _)) in l.iter().enumerate() {
                v.field(name, FieldValue::U(self.values[i] as u64));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // LBT_PDSCH_REQ, laaMsgLen 1, handle 0x1234, lbtOffset 0x2AB, lbtMode 2,
    // reserved 1, deferFactor 7, backoffCounter 0x155, MCOT 9, reserved 0x3FF.
    const PDSCH_REQ: [u8; 8] = [0x01, 0x12, 0x34, 0xAA, 0xEF, 0x55, 0x67, 0xFF];

    #[test]
    fn deconstruct_pdsch_req() {
        let m = LaaMsg::parse(&PDSCH_REQ).unwrap();
        assert_eq!(m.laa_msg_type, 0);
        assert_eq!(m.laa_msg_len, 1);
        assert_eq!(m.lbt_handle, 0x1234);
        assert_eq!(m.get("oran_fh_cus.lbtOffset"), Some(0x2AB));
        assert_eq!(m.get("oran_fh_cus.lbtMode"), Some(2));
        assert_eq!(m.get("oran_fh_cus.lbtDeferFactor"), Some(7));
        assert_eq!(m.get("oran_fh_cus.lbtBackoffCounter"), Some(0x155));
        assert_eq!(m.get("oran_fh_cus.MCOT"), Some(9));
        assert_eq!(m.values[2], 1);
        assert_eq!(m.values[6], 0x3FF);
        assert_eq!(m.buffer_len(), 8);
    }

    #[test]
    fn construct_pdsch_req() {
        let m = LaaMsg {
            laa_msg_type: 0,
            laa_msg_len: 1,
            lbt_handle: 0x1234,
            values: [0x2AB, 2, 1, 7, 0x155, 9, 0x3FF],
        };
        let mut b = [0u8; 8];
        assert_eq!(m.emit(&mut b), Ok(8));
        assert_eq!(b, PDSCH_REQ);
    }

    #[test]
    fn short_and_unknown() {
        assert!(matches!(LaaMsg::parse(&PDSCH_REQ[..5]), Err(Error::Truncated { field: "oran_fh_cus.lbtHandle", .. })));
        let m = LaaMsg::parse(&[0xF3, 9, 9]).unwrap();
        assert_eq!((m.laa_msg_type, m.laa_msg_len, m.buffer_len()), (15, 3, 1));
        let bad = LaaMsg { laa_msg_type: 3, values: [2, 0, 0, 0, 0, 0, 0], ..Default::default() };
        assert!(matches!(bad.emit(&mut [0; 4]), Err(Error::ValueOutOfRange { field: "oran_fh_cus.lbtDrsRes", .. })));
    }
}
