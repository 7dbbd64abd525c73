//! eCPRI message type 5, one-way delay measurement (eCPRI 2.0 §3.2.4.6):
//! measurement ID, action type, a 10-byte timestamp (48-bit seconds,
//! 32-bit nanoseconds), an 8-byte compensation value, then dummy bytes.
//!
//! The sender of a Request (or of the Follow_Up after a Request with
//! follow-up) puts its transmit time t1 and its compensation tCV1 in; the
//! receiver answers with a Response carrying its receive time t2 and
//! tCV2, and the one-way delay is (t2 − tCV2) − (t1 + tCV1). A Remote
//! Request asks the peer to start a measurement towards the sender.

use core::fmt;

use crate::bits::{be16, be32, set_be16, set_be32};
use crate::error::check_len;
use crate::fields::{FieldValue, FieldVisitor};
use crate::{Error, Result};

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

/// The action type (eCPRI 2.0 table 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionType {
    /// 0x00 Request: carries t1 and tCV1.
    Request,
    /// 0x01 Request with follow-up: timestamp zero, t1 follows in a Follow_Up.
    RequestWithFollowUp,
    /// 0x02 Response: carries t2 and tCV2.
    Response,
    /// 0x03 Remote Request: asks the peer to send a Request.
    RemoteRequest,
    /// 0x04 Remote request with follow-up: asks for a Request with follow-up.
    RemoteRequestWithFollowUp,
    /// 0x05 Follow_Up: carries the t1 and tCV1 of the Request with follow-up.
    FollowUp,
}

impl ActionType {
    /// The action type of `v`, or `None` for the reserved values 0x06-0xFF.
    pub const fn from_u8(v: u8) -> Option<ActionType> {
        Some(match v {
            0 => ActionType::Request,
            1 => ActionType::RequestWithFollowUp,
            2 => ActionType::Response,
            3 => ActionType::RemoteRequest,
            4 => ActionType::RemoteRequestWithFollowUp,
            5 => ActionType::FollowUp,
            _ => return None,
        })
    }

    /// Its value on the wire.
    pub const fn to_u8(self) -> u8 {
        self as u8
    }

    /// Whether the timestamp must be zero (remote requests, and the request
    /// whose t1 comes in a Follow_Up).
    pub const fn zero_timestamp(self) -> bool {
        matches!(self, ActionType::RequestWithFollowUp | ActionType::RemoteRequest | ActionType::RemoteRequestWithFollowUp)
    }
}

impl fmt::Display for ActionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ActionType::Request => "request",
            ActionType::RequestWithFollowUp => "request-with-follow-up",
            ActionType::Response => "response",
            ActionType::RemoteRequest => "remote-request",
            ActionType::RemoteRequestWithFollowUp => "remote-request-with-follow-up",
            ActionType::FollowUp => "follow-up",
        })
    }
}

/// A zero-copy view of a one-way delay measurement body.
#[derive(Debug, Clone)]
pub struct OwdPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> OwdPacket<T> {
    /// Checks that the fixed part is present.
    pub fn new_checked(buffer: T) -> Result<Self> {
        check_len(buffer.as_ref(), "ecpri.measurementid", 0, field::FIXED_LEN)?;
        Ok(OwdPacket { buffer })
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Measurement ID.
    pub fn measurement_id(&self) -> u8 {
        self.b()[field::MEASUREMENT_ID]
    }

    /// Action type, raw.
    pub fn action_type(&self) -> u8 {
        self.b()[field::ACTION_TYPE]
    }

    /// Timestamp seconds (48 bits).
    pub fn seconds(&self) -> u64 {
        ((be16(self.b(), field::SECONDS) as u64) << 32) | be32(self.b(), field::SECONDS + 2) as u64
    }

    /// Timestamp nanoseconds.
    pub fn nanoseconds(&self) -> u32 {
        be32(self.b(), field::NANOSECONDS)
    }

    /// Compensation value (ns × 2^16).
    pub fn compensation(&self) -> u64 {
        ((be32(self.b(), field::COMPENSATION) as u64) << 32) | be32(self.b(), field::COMPENSATION + 4) as u64
    }

    /// The dummy bytes after the fixed part.
    pub fn payload(&self) -> &[u8] {
        &self.b()[field::FIXED_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> OwdPacket<T> {
    fn m(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Sets the measurement ID.
    pub fn set_measurement_id(&mut self, v: u8) {
        self.m()[field::MEASUREMENT_ID] = v;
    }

    /// Sets the action type.
    pub fn set_action_type(&mut self, v: u8) {
        self.m()[field::ACTION_TYPE] = v;
    }

    /// Sets the timestamp seconds (the low 48 bits of `v`).
    pub fn set_seconds(&mut self, v: u64) {
        set_be16(self.m(), field::SECONDS, (v >> 32) as u16);
        set_be32(self.m(), field::SECONDS + 2, v as u32);
    }

    /// Sets the timestamp nanoseconds.
    pub fn set_nanoseconds(&mut self, v: u32) {
        set_be32(self.m(), field::NANOSECONDS, v);
    }

    /// Sets the compensation value.
    pub fn set_compensation(&mut self, v: u64) {
        set_be32(self.m(), field::COMPENSATION, (v >> 32) as u32);
        set_be32(self.m(), field::COMPENSATION + 4, v as u32);
    }

    /// The dummy bytes, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.m()[field::FIXED_LEN..]
    }
}

/// The decoded one-way delay measurement message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwdRepr<'a> {
    /// Measurement ID.
    pub measurement_id: u8,
    /// Action type, raw ([`ActionType`] names the defined ones).
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
    /// Parses the body: the action type must be defined (0x00-0x05) and
    /// the nanoseconds below 10^9.
    pub fn parse(b: &'a [u8]) -> Result<Self> {
        let p = OwdPacket::new_checked(b)?;
        if ActionType::from_u8(p.action_type()).is_none() {
            return Err(Error::ReservedValue { field: "ecpri.actiontype", offset: field::ACTION_TYPE, value: p.action_type() as u32 });
        }
        if p.nanoseconds() >= 1_000_000_000 {
            return Err(Error::ReservedValue { field: "ecpri.nanosec", offset: field::NANOSECONDS, value: p.nanoseconds() });
        }
        Ok(OwdRepr {
            measurement_id: p.measurement_id(),
            action_type: p.action_type(),
            seconds: p.seconds(),
            nanoseconds: p.nanoseconds(),
            compensation: p.compensation(),
            dummy: &b[field::FIXED_LEN..],
        })
    }

    /// The action, when defined.
    pub fn action(&self) -> Option<ActionType> {
        ActionType::from_u8(self.action_type)
    }

    /// The timestamp in ns (seconds × 10^9 + nanoseconds).
    pub fn timestamp_ns(&self) -> u128 {
        self.seconds as u128 * 1_000_000_000 + self.nanoseconds as u128
    }

    /// The compensation value in ns (it carries ns × 2^16).
    pub fn compensation_ns(&self) -> f64 {
        self.compensation as f64 / 65536.0
    }

    /// Bytes `emit` writes.
    pub fn buffer_len(&self) -> usize {
        field::FIXED_LEN + self.dummy.len()
    }

    /// Writes the body.
    pub fn emit(&self, b: &mut [u8]) -> Result<usize> {
        check_len(b, "ecpri.measurementid", 0, self.buffer_len())?;
        crate::bits::check_fits("ecpri.sec", (self.seconds >> 32) as u32, 0xFFFF)?;
        let n = self.buffer_len();
        let mut p = OwdPacket { buffer: &mut b[..n] };
        p.set_measurement_id(self.measurement_id);
        p.set_action_type(self.action_type);
        p.set_seconds(self.seconds);
        p.set_nanoseconds(self.nanoseconds);
        p.set_compensation(self.compensation);
        p.payload_mut().copy_from_slice(self.dummy);
        Ok(n)
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
    fn deconstruct() {
        let p = OwdPacket::new_checked(&BYTES[..]).unwrap();
        assert_eq!(p.measurement_id(), 7);
        assert_eq!(p.action_type(), 2);
        assert_eq!(p.seconds(), (1 << 32) + 2);
        assert_eq!(p.nanoseconds(), 999_999_999);
        assert_eq!(p.compensation(), 65536);
        assert_eq!(p.payload(), &[0xDE, 0xAD]);
        assert_eq!(ActionType::from_u8(p.action_type()), Some(ActionType::Response));
    }

    #[test]
    fn construct_setter_by_setter() {
        let mut b = [0u8; 22];
        let mut p = OwdPacket::new_checked(&mut b[..]).unwrap();
        p.set_measurement_id(7);
        p.set_action_type(2);
        p.set_seconds((1 << 32) + 2);
        p.set_nanoseconds(999_999_999);
        p.set_compensation(65536);
        p.payload_mut().copy_from_slice(&[0xDE, 0xAD]);
        assert_eq!(b, BYTES);
    }

    #[test]
    fn parse_and_emit_byte_for_byte() {
        let r = OwdRepr::parse(&BYTES).unwrap();
        assert_eq!(r, OwdRepr { measurement_id: 7, action_type: 2, seconds: (1 << 32) + 2, nanoseconds: 999_999_999, compensation: 65536, dummy: &[0xDE, 0xAD] });
        assert_eq!(r.action(), Some(ActionType::Response));
        assert_eq!(r.timestamp_ns(), ((1u128 << 32) + 2) * 1_000_000_000 + 999_999_999);
        assert_eq!(r.compensation_ns(), 1.0);
        let mut out = [0u8; 22];
        assert_eq!(r.emit(&mut out), Ok(22));
        assert_eq!(out, BYTES);
    }

    #[test]
    fn bad_bodies_are_named() {
        assert!(matches!(OwdRepr::parse(&BYTES[..19]), Err(Error::Truncated { field: "ecpri.measurementid", .. })));
        assert!(OwdPacket::new_checked(&BYTES[..19]).is_err());
        for a in 6..=255u8 {
            let mut b = BYTES;
            b[1] = a;
            assert_eq!(OwdRepr::parse(&b), Err(Error::ReservedValue { field: "ecpri.actiontype", offset: 1, value: a as u32 }));
            assert_eq!(ActionType::from_u8(a), None);
        }
        let mut b = BYTES;
        b[8..12].copy_from_slice(&1_000_000_000u32.to_be_bytes());
        assert_eq!(OwdRepr::parse(&b), Err(Error::ReservedValue { field: "ecpri.nanosec", offset: 8, value: 1_000_000_000 }));
        let r = OwdRepr { seconds: 1 << 48, ..OwdRepr::parse(&BYTES).unwrap() };
        assert!(r.emit(&mut [0u8; 22]).is_err(), "seconds has 48 bits");
        assert!(OwdRepr::parse(&BYTES).unwrap().emit(&mut [0u8; 21]).is_err());
    }

    #[test]
    fn every_action_type_round_trips() {
        for a in 0..=5u8 {
            let t = ActionType::from_u8(a).unwrap();
            assert_eq!(t.to_u8(), a);
            assert_eq!(t.zero_timestamp(), matches!(a, 1 | 3 | 4), "{t}");
        }
    }

    proptest! {
        #[test]
        fn round_trip(id: u8, act in 0u8..6, s in 0u64..(1 << 48), ns in 0u32..1_000_000_000, comp: u64, dummy in proptest::collection::vec(any::<u8>(), 0..8)) {
            let r = OwdRepr { measurement_id: id, action_type: act, seconds: s, nanoseconds: ns, compensation: comp, dummy: &dummy };
            let mut b = std::vec![0u8; r.buffer_len()];
            r.emit(&mut b).unwrap();
            prop_assert_eq!(OwdRepr::parse(&b).unwrap(), r);
            let p = OwdPacket::new_checked(&b[..]).unwrap();
            prop_assert_eq!((p.measurement_id(), p.action_type(), p.seconds(), p.nanoseconds(), p.compensation()), (id, act, s, ns, comp));
        }

        #[test]
        fn any_bytes_parse_or_fail_cleanly(b in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(r) = OwdRepr::parse(&b) {
                let mut out = std::vec![0u8; r.buffer_len()];
                r.emit(&mut out).unwrap();
                prop_assert_eq!(&out[..], &b[..]);
            }
        }
    }
}
