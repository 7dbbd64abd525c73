//! The eCPRI common header (eCPRI 2.0 §3.1.3.1): revision, reserved bits,
//! the C (concatenation) bit, message type and payload size.

use crate::bits::{be16, set_be16};
use crate::error::check_len;
use crate::fields::{FieldValue, FieldVisitor};
use crate::{Error, Result};

/// Byte ranges of the common header.
pub mod field {
    /// Revision (high nibble), reserved (3 bits), C bit (bit 0).
    pub const REV_C: usize = 0;
    /// Message type.
    pub const TYPE: usize = 1;
    /// Payload size, bytes after this header.
    pub const SIZE: usize = 2;
    /// Header length.
    pub const HEADER_LEN: usize = 4;
}

/// The only protocol revision eCPRI 1.x and 2.0 define.
pub const REVISION: u8 = 1;

/// eCPRI message types (eCPRI 2.0 table 4) by number.
pub mod message_type {
    /// IQ data: the O-RAN U-plane.
    pub const IQ_DATA: u8 = 0;
    /// Bit sequence.
    pub const BIT_SEQUENCE: u8 = 1;
    /// Real-time control data: the O-RAN C-plane.
    pub const RT_CONTROL: u8 = 2;
    /// Generic data transfer.
    pub const GENERIC_DATA: u8 = 3;
    /// Remote memory access.
    pub const REMOTE_MEMORY_ACCESS: u8 = 4;
    /// One-way delay measurement.
    pub const ONE_WAY_DELAY: u8 = 5;
    /// Remote reset.
    pub const REMOTE_RESET: u8 = 6;
    /// Event indication.
    pub const EVENT_INDICATION: u8 = 7;

    /// A readable name for any type number.
    pub const fn name(t: u8) -> &'static str {
        match t {
            0 => "iq-data",
            1 => "bit-sequence",
            2 => "rt-control",
            3 => "generic-data",
            4 => "remote-memory-access",
            5 => "one-way-delay",
            6 => "remote-reset",
            7 => "event-indication",
            8 => "iwf-start-up",
            9 => "iwf-operation",
            10 => "iwf-mapping",
            11 => "iwf-delay-control",
            12..=63 => "reserved",
            _ => "vendor-specific",
        }
    }
}

/// A zero-copy view of one eCPRI message: common header plus payload.
#[derive(Debug, Clone)]
pub struct EcpriPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EcpriPacket<T> {
    /// Checks that the header and the payload it declares are present.
    /// Bytes past the payload (concatenated messages, Ethernet padding)
    /// are allowed and not part of this message.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        check_len(b, "ecpri.header", 0, field::HEADER_LEN)?;
        let size = be16(b, field::SIZE) as usize;
        if b.len() < field::HEADER_LEN + size {
            return Err(Error::LengthMismatch {
                field: "ecpri.size",
                offset: field::SIZE,
                declared: size,
                actual: b.len() - field::HEADER_LEN,
            });
        }
        Ok(EcpriPacket { buffer })
    }

    /// Wraps a buffer without checks; accessors may panic on short buffers.
    pub const fn new_unchecked(buffer: T) -> Self {
        EcpriPacket { buffer }
    }

    /// ecpriRevision.
    pub fn revision(&self) -> u8 {
        self.buffer.as_ref()[field::REV_C] >> 4
    }

    /// The three reserved bits.
    pub fn reserved(&self) -> u8 {
        (self.buffer.as_ref()[field::REV_C] >> 1) & 0x7
    }

    /// ecpriConcatenation: another message follows this one in the frame.
    pub fn concatenation(&self) -> bool {
        self.buffer.as_ref()[field::REV_C] & 1 != 0
    }

    /// ecpriMessage.
    pub fn message_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    /// ecpriPayload: bytes after the common header.
    pub fn payload_size(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SIZE)
    }

    /// Header plus payload, the bytes this message occupies.
    pub fn total_len(&self) -> usize {
        field::HEADER_LEN + self.payload_size() as usize
    }

    /// The payload.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::HEADER_LEN..self.total_len()]
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EcpriPacket<T> {
    /// Sets ecpriPayload.
    pub fn set_payload_size(&mut self, size: u16) {
        set_be16(self.buffer.as_mut(), field::SIZE, size)
    }

    /// Sets the C bit, keeping revision and reserved bits.
    pub fn set_concatenation(&mut self, c: bool) {
        let b = &mut self.buffer.as_mut()[field::REV_C];
        *b = (*b & !1) | c as u8;
    }

    /// Sets ecpriMessage.
    pub fn set_message_type(&mut self, t: u8) {
        self.buffer.as_mut()[field::TYPE] = t;
    }

    /// The payload, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = self.total_len();
        &mut self.buffer.as_mut()[field::HEADER_LEN..end]
    }
}

/// The decoded common header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HeaderRepr {
    /// ecpriRevision (must be 1).
    pub revision: u8,
    /// Reserved bits, kept as received.
    pub reserved: u8,
    /// ecpriConcatenation.
    pub concatenation: bool,
    /// ecpriMessage.
    pub message_type: u8,
    /// ecpriPayload.
    pub payload_size: u16,
}

impl HeaderRepr {
    /// A revision-1 header with no concatenation.
    pub const fn new(message_type: u8, payload_size: u16) -> Self {
        HeaderRepr { revision: REVISION, reserved: 0, concatenation: false, message_type, payload_size }
    }

    /// Reads and checks the header: the revision must be 1.
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(p: &EcpriPacket<T>) -> Result<Self> {
        if p.revision() != REVISION {
            return Err(Error::UnsupportedRevision { offset: field::REV_C, revision: p.revision() });
        }
        Ok(HeaderRepr {
            revision: p.revision(),
            reserved: p.reserved(),
            concatenation: p.concatenation(),
            message_type: p.message_type(),
            payload_size: p.payload_size(),
        })
    }

    /// Bytes `emit` writes.
    pub const fn buffer_len(&self) -> usize {
        field::HEADER_LEN
    }

    /// Writes the header.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        check_len(buf, "ecpri.header", 0, field::HEADER_LEN)?;
        crate::bits::check_fits("ecpri.revision", self.revision as u32, 0xF)?;
        crate::bits::check_fits("ecpri.reserved", self.reserved as u32, 0x7)?;
        buf[field::REV_C] = (self.revision << 4) | (self.reserved << 1) | self.concatenation as u8;
        buf[field::TYPE] = self.message_type;
        set_be16(buf, field::SIZE, self.payload_size);
        Ok(field::HEADER_LEN)
    }

    /// Reports the fields under Wireshark's names.
    pub fn visit<'a, V: FieldVisitor<'a>>(&self, v: &mut V) {
        v.field("ecpri.revision", FieldValue::U(self.revision as u64));
        v.field("ecpri.reserved", FieldValue::U(self.reserved as u64));
        v.field("ecpri.cbit", FieldValue::Bool(self.concatenation));
        v.field("ecpri.type", FieldValue::U(self.message_type as u64));
        v.field("ecpri.size", FieldValue::U(self.payload_size as u64));
    }
}

/// Padding after a concatenated message so that the next one starts on a
/// 4-byte boundary (eCPRI 2.0 §3.1.3.1.4).
pub const fn concat_padding(total_len: usize) -> usize {
    (4 - total_len % 4) % 4
}

#[cfg(test)]
mod tests {
    use super::*;

    const BYTES: [u8; 8] = [0x1F, 0x02, 0x00, 0x04, 0xAA, 0xBB, 0xCC, 0xDD];

    #[test]
    fn deconstruct() {
        let p = EcpriPacket::new_checked(&BYTES[..]).unwrap();
        assert_eq!(p.revision(), 1);
        assert_eq!(p.reserved(), 7);
        assert!(p.concatenation());
        assert_eq!(p.message_type(), message_type::RT_CONTROL);
        assert_eq!(p.payload_size(), 4);
        assert_eq!(p.payload(), &[0xAA, 0xBB, 0xCC, 0xDD]);
    }

    #[test]
    fn construct_and_round_trip() {
        let r = HeaderRepr { revision: 1, reserved: 7, concatenation: true, message_type: 2, payload_size: 4 };
        let mut b = [0u8; 4];
        r.emit(&mut b).unwrap();
        assert_eq!(b, BYTES[..4]);
        assert_eq!(HeaderRepr::parse(&EcpriPacket::new_checked(&BYTES[..]).unwrap()), Ok(r));
        let mut buf = BYTES;
        let mut p = EcpriPacket::new_unchecked(&mut buf[..]);
        p.set_concatenation(false);
        p.set_payload_size(3);
        p.set_message_type(0);
        assert_eq!(&buf[..4], &[0x1E, 0x00, 0x00, 0x03]);
    }

    #[test]
    fn errors() {
        assert_eq!(
            EcpriPacket::new_checked(&BYTES[..6]).unwrap_err(),
            Error::LengthMismatch { field: "ecpri.size", offset: 2, declared: 4, actual: 2 }
        );
        let bad = [0x20, 0, 0, 0];
        let p = EcpriPacket::new_checked(&bad[..]).unwrap();
        assert_eq!(HeaderRepr::parse(&p), Err(Error::UnsupportedRevision { offset: 0, revision: 2 }));
        assert!(EcpriPacket::new_checked(&BYTES[..3]).is_err());
    }

    #[test]
    fn padding() {
        assert_eq!(concat_padding(8), 0);
        assert_eq!(concat_padding(9), 3);
        assert_eq!(concat_padding(11), 1);
    }
}
