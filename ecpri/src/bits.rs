//! Big-endian field access and bit-field helpers shared by every layer.
//!
//! Accessors assume the caller has already checked the length (the
//! `new_checked` contract), so they index directly.

/// Reads a big-endian u16 at `at`.
#[inline(always)]
pub fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Reads a big-endian 24-bit value at `at`.
#[inline(always)]
pub fn be24(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([0, b[at], b[at + 1], b[at + 2]])
}

/// Reads a big-endian u32 at `at`.
#[inline(always)]
pub fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Writes a big-endian u16 at `at`.
#[inline(always)]
pub fn set_be16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Writes the low 24 bits of `v` big-endian at `at`.
#[inline(always)]
pub fn set_be24(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 3].copy_from_slice(&v.to_be_bytes()[1..]);
}

/// Writes a big-endian u32 at `at`.
#[inline(always)]
pub fn set_be32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// Extracts the bits selected by `mask` from `v`, shifted down.
#[inline(always)]
pub const fn get_bits(v: u32, mask: u32) -> u32 {
    (v & mask) >> mask.trailing_zeros()
}

/// Replaces the bits selected by `mask` in `v` with `field`, leaving every
/// other bit (reserved ones included) as it was.
#[inline(always)]
pub const fn put_bits(v: u32, mask: u32, field: u32) -> u32 {
    (v & !mask) | ((field << mask.trailing_zeros()) & mask)
}

/// Checks that `value` fits in `mask`, for encoders.
#[inline]
pub fn check_fits(field: &'static str, value: u32, mask: u32) -> crate::Result<()> {
    let max = mask >> mask.trailing_zeros();
    if value > max {
        Err(crate::Error::ValueOutOfRange { field, value, max })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_helpers_round_trip_and_keep_neighbours() {
        assert_eq!(get_bits(0xABCD, 0x0FF0), 0xBC);
        assert_eq!(put_bits(0xABCD, 0x0FF0, 0x12), 0xA12D);
        let mut b = [0u8; 4];
        set_be24(&mut b, 1, 0x00AB_CDEF);
        assert_eq!(b, [0, 0xAB, 0xCD, 0xEF]);
        assert_eq!(be24(&b, 1), 0xABCDEF);
        set_be16(&mut b, 0, 0x1234);
        assert_eq!(be16(&b, 0), 0x1234);
        assert!(check_fits("x", 16, 0xF).is_err());
        assert!(check_fits("x", 15, 0xF).is_ok());
    }
}
