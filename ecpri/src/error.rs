//! The one error type of the codec: every variant names the field at fault
//! and the byte offset where it starts, counted from the start of the
//! buffer handed to the outermost parser.

use core::fmt;

/// Why a buffer could not be read (or a `Repr` could not be written).
///
/// `field` uses Wireshark's display-filter names where one exists
/// (`oran_fh_cus.numPrbu`, `ecpri.size`), so an error can be looked up
/// next to a tshark dissection of the same frame.
///
/// Variant fields: `field` is the field's name, `offset` the byte offset
/// where it starts; the rest say what was expected and what was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Error {
    /// The buffer ends before `field` does.
    Truncated { field: &'static str, offset: usize, needed: usize, available: usize },
    /// A length carried in (or implied by) `field` disagrees with the bytes present.
    LengthMismatch { field: &'static str, offset: usize, declared: usize, actual: usize },
    /// `field` holds a value the specification reserves or forbids.
    ReservedValue { field: &'static str, offset: usize, value: u32 },
    /// The eCPRI common header carries a protocol revision other than 1.
    UnsupportedRevision { offset: usize, revision: u8 },
    /// `field` holds a legal value that this decoder cannot follow
    /// (for example a compression method whose layout depends on state
    /// that the frame does not carry).
    Unsupported { field: &'static str, offset: usize, value: u32 },
    /// A value handed to an encoder does not fit `field`.
    ValueOutOfRange { field: &'static str, value: u32, max: u32 },
    /// A section's PRBs (startPrbu/startPrbc and numPrbu/numPrbc, every
    /// other PRB with rb set) reach `last_prb`, past the carrier's
    /// `carrier_prbs` PRBs (numbered from 0).
    BeyondCarrier { field: &'static str, offset: usize, last_prb: u32, carrier_prbs: u16 },
}

impl Error {
    /// A short, stable name for the kind of error, used as a counter label.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Truncated { .. } => "truncated",
            Error::LengthMismatch { .. } => "length_mismatch",
            Error::ReservedValue { .. } => "reserved_value",
            Error::UnsupportedRevision { .. } => "unsupported_revision",
            Error::Unsupported { .. } => "unsupported",
            Error::ValueOutOfRange { .. } => "value_out_of_range",
            Error::BeyondCarrier { .. } => "beyond_carrier",
        }
    }

    /// The field at fault.
    pub fn field(&self) -> &'static str {
        match *self {
            Error::Truncated { field, .. }
            | Error::LengthMismatch { field, .. }
            | Error::ReservedValue { field, .. }
            | Error::Unsupported { field, .. }
            | Error::ValueOutOfRange { field, .. }
            | Error::BeyondCarrier { field, .. } => field,
            Error::UnsupportedRevision { .. } => "ecpri.revision",
        }
    }

    /// The byte offset of the field at fault, if the error came from a buffer.
    pub fn offset(&self) -> Option<usize> {
        match *self {
            Error::Truncated { offset, .. }
            | Error::LengthMismatch { offset, .. }
            | Error::ReservedValue { offset, .. }
            | Error::Unsupported { offset, .. }
            | Error::UnsupportedRevision { offset, .. }
            | Error::BeyondCarrier { offset, .. } => Some(offset),
            Error::ValueOutOfRange { .. } => None,
        }
    }

    /// Moves the offset by `base`: inner parsers count from the start of
    /// their own slice, and the caller that knows where that slice sits in
    /// the frame rebases the error on the way out.
    #[must_use]
    pub fn at(self, base: usize) -> Error {
        match self {
            Error::Truncated { field, offset, needed, available } => {
                Error::Truncated { field, offset: offset + base, needed, available }
            }
            Error::LengthMismatch { field, offset, declared, actual } => {
                Error::LengthMismatch { field, offset: offset + base, declared, actual }
            }
            Error::ReservedValue { field, offset, value } => {
                Error::ReservedValue { field, offset: offset + base, value }
            }
            Error::UnsupportedRevision { offset, revision } => {
                Error::UnsupportedRevision { offset: offset + base, revision }
            }
            Error::Unsupported { field, offset, value } => {
                Error::Unsupported { field, offset: offset + base, value }
            }
            Error::BeyondCarrier { field, offset, last_prb, carrier_prbs } => {
                Error::BeyondCarrier { field, offset: offset + base, last_prb, carrier_prbs }
            }
            e @ Error::ValueOutOfRange { .. } => e,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Truncated { field, offset, needed, available } => write!(
                f,
                "{field} at offset {offset} is truncated: needs {needed} bytes, {available} available"
            ),
            Error::LengthMismatch { field, offset, declared, actual } => write!(
                f,
                "{field} at offset {offset} declares {declared} bytes but {actual} are present"
            ),
            Error::ReservedValue { field, offset, value } => {
                write!(f, "{field} at offset {offset} holds reserved value {value}")
            }
            Error::UnsupportedRevision { offset, revision } => {
                write!(f, "ecpri.revision at offset {offset} is {revision}; only revision 1 is defined")
            }
            Error::Unsupported { field, offset, value } => {
                write!(f, "{field} at offset {offset} holds {value}, which this decoder does not support")
            }
            Error::ValueOutOfRange { field, value, max } => {
                write!(f, "{field} = {value} does not fit (maximum {max})")
            }
            Error::BeyondCarrier { field, offset, last_prb, carrier_prbs } => write!(
                f,
                "{field} at offset {offset}: the section reaches PRB {last_prb}, past the carrier's {carrier_prbs} PRBs (0-{})",
                carrier_prbs.saturating_sub(1)
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

/// Result alias used throughout the crate.
pub type Result<T> = core::result::Result<T, Error>;

/// Returns `Truncated` unless `buf` holds at least `len` bytes from `offset`.
#[inline]
pub(crate) fn check_len(buf: &[u8], field: &'static str, offset: usize, len: usize) -> Result<()> {
    if buf.len() < offset + len {
        Err(Error::Truncated { field, offset, needed: len, available: buf.len().saturating_sub(offset) })
    } else {
        Ok(())
    }
}

/// Returns `BeyondCarrier` unless the `count` PRBs from `start` (every
/// other one when `rb`) lie within a carrier of `carrier_prbs` PRBs. The
/// error names `start_field` when `start` itself is past the carrier, else
/// `count_field`; both at their offsets.
#[inline]
pub(crate) fn check_carrier(
    (start_field, start_at): (&'static str, usize),
    (count_field, count_at): (&'static str, usize),
    start: u16,
    count: usize,
    rb: bool,
    carrier_prbs: u16,
) -> Result<()> {
    let step = if rb { 2 } else { 1 };
    let last = start as u32 + (count.max(1) as u32 - 1) * step;
    if last < carrier_prbs as u32 {
        return Ok(());
    }
    let (field, offset) = if (start as u32) < carrier_prbs as u32 { (count_field, count_at) } else { (start_field, start_at) };
    Err(Error::BeyondCarrier { field, offset, last_prb: last, carrier_prbs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carrier_bounds() {
        let s = ("oran_fh_cus.startPrbu", 1);
        let n = ("oran_fh_cus.numPrbu", 3);
        assert_eq!(check_carrier(s, n, 0, 273, false, 273), Ok(()));
        assert_eq!(check_carrier(s, n, 270, 3, false, 273), Ok(()));
        let e = check_carrier(s, n, 270, 4, false, 273).unwrap_err();
        assert_eq!((e.kind(), e.field(), e.offset()), ("beyond_carrier", "oran_fh_cus.numPrbu", Some(3)));
        let e = check_carrier(s, n, 273, 1, false, 273).unwrap_err();
        assert_eq!((e.field(), e.offset()), ("oran_fh_cus.startPrbu", Some(1)));
        // rb: every other PRB, so 2 PRBs from 270 reach 272.
        assert_eq!(check_carrier(s, n, 270, 2, true, 273), Ok(()));
        assert!(check_carrier(s, n, 271, 2, true, 273).is_err());
    }

    #[test]
    fn at_rebases_offsets() {
        let e = Error::Truncated { field: "oran_fh_cus.numPrbu", offset: 3, needed: 1, available: 0 };
        assert_eq!(e.at(14).offset(), Some(17));
        assert_eq!(e.at(14).field(), "oran_fh_cus.numPrbu");
        assert_eq!(e.kind(), "truncated");
    }

    #[cfg(feature = "std")]
    #[test]
    fn display_names_field_and_offset() {
        extern crate std;
        use std::string::ToString;
        let e = Error::ReservedValue { field: "ecpri.type", offset: 15, value: 9 };
        let s = e.to_string();
        assert!(s.contains("ecpri.type") && s.contains("offset 15"), "{s}");
    }
}
