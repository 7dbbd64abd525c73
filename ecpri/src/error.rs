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
        }
    }

    /// The field at fault.
    pub fn field(&self) -> &'static str {
        match *self {
            Error::Truncated { field, .. }
            | Error::LengthMismatch { field, .. }
            | Error::ReservedValue { field, .. }
            | Error::Unsupported { field, .. }
            | Error::ValueOutOfRange { field, .. } => field,
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
            | Error::UnsupportedRevision { offset, .. } => Some(offset),
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

#[cfg(test)]
mod tests {
    use super::*;

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
