//! ecpriSeqid as O-RAN uses it: an 8-bit sequence ID, the E bit (last
//! sub-sequence) and a 7-bit sub-sequence ID for radio-transport-layer
//! fragmentation.

use crate::fields::{FieldValue, FieldVisitor};

/// The decoded ecpriSeqid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqId {
    /// Sequence ID, incremented per message on each eAxC and wrapping at 256.
    pub seq_id: u8,
    /// E bit: set on the last (or only) sub-sequence of a message.
    pub e_bit: bool,
    /// Sub-sequence ID.
    pub subseq_id: u8,
}

impl SeqId {
    /// Decodes the two wire bytes.
    pub const fn from_bytes(b: [u8; 2]) -> Self {
        SeqId { seq_id: b[0], e_bit: b[1] & 0x80 != 0, subseq_id: b[1] & 0x7F }
    }

    /// Encodes the two wire bytes.
    pub const fn to_bytes(self) -> [u8; 2] {
        [self.seq_id, ((self.e_bit as u8) << 7) | (self.subseq_id & 0x7F)]
    }

    /// A whole (unfragmented) message with this sequence number.
    pub const fn whole(seq_id: u8) -> Self {
        SeqId { seq_id, e_bit: true, subseq_id: 0 }
    }

    /// Reports the three sub-fields under Wireshark's names.
    pub fn visit<'a, V: FieldVisitor<'a>>(&self, v: &mut V) {
        v.field("oran_fh_cus.sequence_id", FieldValue::U(self.seq_id as u64));
        v.field("oran_fh_cus.e_bit", FieldValue::U(self.e_bit as u64));
        v.field("oran_fh_cus.subsequence_id", FieldValue::U(self.subseq_id as u64));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips() {
        for v in 0..=u16::MAX {
            let b = v.to_be_bytes();
            assert_eq!(SeqId::from_bytes(b).to_bytes(), b);
        }
        assert_eq!(SeqId::from_bytes([7, 0x80]), SeqId::whole(7));
        assert_eq!(SeqId::from_bytes([1, 0x05]), SeqId { seq_id: 1, e_bit: false, subseq_id: 5 });
    }
}
