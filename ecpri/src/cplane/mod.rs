//! C-plane messages (eCPRI message type 2, real-time control data).
//!
//! A C-plane message is a common header ([`header`]) followed by
//! `numberOfSections` sections ([`section`]), each of which may carry a
//! chain of section extensions ([`ext`]) linked by the `ef` bit. Section
//! type 7 (LAA) carries one LBT message ([`laa`]) instead of sections.
//!
//! Every parser here takes the bytes that follow ecpriRtcid and ecpriSeqid,
//! exactly as long as the eCPRI payload minus those 4 bytes; offsets in
//! errors count from the start of that slice.
//!
//! Two ways in:
//! - [`CplanePacket`] and [`SectionIter`] read and rewrite fields in place
//!   without allocating (the gateway hot path and Wasm translators);
//! - [`MessageRepr`] (feature `alloc`) decodes a whole message into plain
//!   values and emits it back byte for byte.
//!
//! Bytes after the last section (which a well-formed message does not
//! have) are kept as the message trailer rather than dropped, so that any
//! message that parses also round-trips.

pub mod ext;
pub mod header;
pub mod iter;
pub mod laa;
#[cfg(feature = "alloc")]
pub mod message;
pub mod section;

#[cfg(all(test, feature = "alloc"))]
pub(crate) mod strategies;

pub use ext::{ExtItem, ExtIter, ExtRepr};
pub use header::{CommonHeader, CplanePacket, FrameStructure, TypeFields};
pub use iter::{SectionItem, SectionIter};
pub use laa::LaaMsg;
#[cfg(feature = "alloc")]
pub use message::{MessageRepr, SectionRepr};
pub use section::{CommonSection, SectionFields, SectionPacket};

/// Decoding options the wire does not carry (M-plane configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParseOptions {
    /// Bytes of ciIsample/ciQsample per PRB in section type 6 (4 × the
    /// number of receive antennas for uncompressed 16-bit samples). When
    /// `None`, the channel information of a type 6 section can only be
    /// delimited if it is the last section and carries no extensions.
    pub ci_bytes_per_prb: Option<usize>,
    /// Carrier width in PRBs: when given, a section of type 0, 1, 5 or 6
    /// whose startPrbc and numPrbc reach past it is an
    /// [`crate::Error::BeyondCarrier`] (type 3 counts PRBs at the PRACH
    /// numerology, so it is not checked).
    pub carrier_prbs: Option<u16>,
}

/// Reads `n` (≤ 32) bits starting `bit` bits into `b`, most significant first.
pub(crate) fn read_bits(b: &[u8], bit: usize, n: u32) -> u32 {
    let mut v = 0u32;
    for i in 0..n as usize {
        let p = bit + i;
        v = (v << 1) | ((b[p / 8] >> (7 - p % 8)) & 1) as u32;
    }
    v
}

/// Writes the low `n` (≤ 32) bits of `v` starting `bit` bits into `b`.
pub(crate) fn write_bits(b: &mut [u8], bit: usize, n: u32, v: u32) {
    for i in 0..n {
        let p = bit + i as usize;
        let mask = 0x80u8 >> (p % 8);
        if (v >> (n - 1 - i)) & 1 != 0 {
            b[p / 8] |= mask;
        } else {
            b[p / 8] &= !mask;
        }
    }
}

/// Rounds up to a multiple of 4 (extensions and LAA messages are counted in words).
#[inline]
pub(crate) const fn round_up4(n: usize) -> usize {
    (n + 3) & !3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_helpers_round_trip() {
        let mut b = [0u8; 5];
        write_bits(&mut b, 3, 28, 0x0ABC_DEF1);
        assert_eq!(read_bits(&b, 3, 28), 0x0ABC_DEF1);
        assert_eq!(b[0] & 0xE0, 0, "bits before the field stay as they were");
        write_bits(&mut b, 0, 3, 0b101);
        assert_eq!(read_bits(&b, 3, 28), 0x0ABC_DEF1);
        assert_eq!(round_up4(5), 8);
        assert_eq!(round_up4(8), 8);
    }
}
