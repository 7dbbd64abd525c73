//! eCPRI message type 5, one-way delay measurement (eCPRI 2.0 §3.2.4.6):
//! measurement ID, action type, a 10-byte timestamp (48-bit seconds,
//! 32-bit nanoseconds), an 8-byte compensation value, then dummy bytes.

use crate::bits::{be16, be32, set_be16, set_be32};
use crate::error::check_len;
use crate::fields::{FieldValue, FieldVisitor};
use crate::Result;

/// Byte ranges of the message body (after the common header).
pub mod field {
    /// Measurement ID.
    pub const MEASUREMENT_ID: usize = 0;
    /// Action type.
    pub const ACTION_TYPE: usize = 1;
    /// Seconds, 48 bits.
    pub const SECONDS: usize = 2;
    /// Nanoseconds, 32 bits.
    pub const NANOSECONDS: usize = 8;
    /// Compensation value, 64 bits (ns × 2^16).
    pub const COMPENSATION: usize = 12;
    /// Fixed part length; dummy bytes follow.
    pub const FIXED_LEN: usize = 20;
}

/// The decoded one-way delay measurement message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwdRepr<'a> {
    /// Measurement ID.
    pub measurement_id: u8,
    /// Action type (0 request, 1 request with follow-up, 2 response, ...).
    pub action_type: u8,
    /// Timestamp seconds (48 bits).
    pub seconds: u64,
    /// Timestamp nanoseconds.
    pub nanoseconds: u32,
    /// Compensation value.
    pub compensation: u64,
    /// Dummy bytes, kept as received.
    pub dummy: &'a [u8],
}

impl<'a> OwdRepr<'a> {
    /// Parses the body.
    pub fn parse(b: &'a [u8]) -> Result<Self> {
        check_len(b, "ecpri.measurementid", 0, field::FIXED_LEN)?;
        Ok(OwdRepr {
            measurement_id: b[field::MEASUREMENT_ID],
            action_type: b[field::ACTION_TYPE],
            seconds: ((be16(b, field::SECONDS) as u64) << 32) | be32(b, field::SECONDS + 2) as u64,
            nanoseconds: be32(b, field::NANOSECONDS),
            compensation: ((be32(b, field::COMPENSATION) as u64) << 32) | be32(b, field::COMPENSATION + 4) as u64,
            dummy: &b[field::FIXED_LEN..],
        })
    }

    /// Bytes `emit` writes.
    pub fn buffer_len(&self) -> usize {
        field::FIXED_LEN + self.dummy.len()
    }

    /// Writes the body.
    pub fn emit(&self, b: &mut [u8]) -> Result<usize> {
        check_len(b, "ecpri.measurementid", 0, self.buffer_len())?;
        crate::bits::check_fits("ecpri.sec", (self.seconds >> 32) as u32, 0xFFFF)?;
        b[field::MEASUREMENT_ID] = self.measurement_id;
        b[field::ACTION_TYPE] = self.action_type;
        set_be16(b, field::SECONDS, (self.seconds >> 32) as u16);
        set_be32(b, field::SECONDS + 2, self.seconds as u32);
        set_be32(b, field::NANOSECONDS, self.nanoseconds);
        set_be32(b, field::COMPENSATION, (self.compensation >> 32) as u32);
        set_be32(b, field::COMPENSATION + 4, self.compensation as u32);
        b[field::FIXED_LEN..self.buffer_len()].copy_from_slice(self.dummy);
        Ok(self.buffer_len())
    }

    /// Reports the fields under Wireshark's names.
    pub fn visit<V: FieldVisitor<'a>>(&self, v: &mut V) {
        v.field("ecpri.measurementid", FieldValue::U(self.measurement_id as u64));
        v.field("ecpri.actiontype", FieldValue::U(self.action_type as u64));
        v.field("ecpri.sec", FieldValue::U(self.seconds));
        v.field("ecpri.nanosec", FieldValue::U(self.nanoseconds as u64));
        v.field("ecpri.compval", FieldValue::U(self.compensation));
        if !self.dummy.is_empty() {
            v.field("ecpri.data", FieldValue::Bytes(self.dummy));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BYTES: [u8; 22] = [
        7, 2, // id, action
        0x00, 0x01, 0x00, 0x00, 0x00, 0x02, // seconds = 2^32 + 2
        0x3B, 0x9A, 0xC9, 0xFF, // ns = 999999999
        0, 0, 0, 0, 0, 1, 0, 0, // comp = 65536 (1 ns)
        0xDE, 0xAD,
    ];

    #[test]
    fn deconstruct_construct() {
        let r = OwdRepr::parse(&BYTES).unwrap();
        assert_eq!(r.measurement_id, 7);
        assert_eq!(r.action_type, 2);
        assert_eq!(r.seconds, (1 << 32) + 2);
        assert_eq!(r.nanoseconds, 999_999_999);
        assert_eq!(r.compensation, 65536);
        assert_eq!(r.dummy, &[0xDE, 0xAD]);
        let mut out = [0u8; 22];
        assert_eq!(r.emit(&mut out), Ok(22));
        assert_eq!(out, BYTES);
        assert!(OwdRepr::parse(&BYTES[..19]).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(id: u8, act: u8, s in 0u64..(1 << 48), ns: u32, comp: u64, dummy in proptest::collection::vec(any::<u8>(), 0..8)) {
            let r = OwdRepr { measurement_id: id, action_type: act, seconds: s, nanoseconds: ns, compensation: comp, dummy: &dummy };
            let mut b = std::vec![0u8; r.buffer_len()];
            r.emit(&mut b).unwrap();
            prop_assert_eq!(OwdRepr::parse(&b).unwrap(), r);
        }
    }
}
