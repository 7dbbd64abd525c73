//! `iq_selftest`: checks ecpri's BFP kernels, as built for wasm32 with
//! simd128, against the scalar reference from inside a real wasm runtime
//! (the gateway's `tests/iq_wasm_selftest.rs` runs it in wasmtime). The
//! crate's own tests run the same checks natively.
//!
//! It is not a translator: it imports nothing and exports
//!
//! | export | does |
//! |---|---|
//! | `run() -> i32` | every check below; returns the number of mismatching cases (0: all agree) |
//! | `first_mismatch() -> i32` | the first failing case of the last `run` as `nearest << 24 \| check << 16 \| a << 8 \| b`, or -1 |
//! | `bench_prepare(a, b) -> i32` | makes one 273-PRB symbol, compressed at `a` bits, for the three below |
//! | `bench_rounding(nearest) -> i32` | the three below round to nearest if `nearest` is 1 (the default), else truncate |
//! | `bench_compress(iters) -> i32` | `bfp::compress` of the symbol at `a` bits, `iters` times |
//! | `bench_decompress(iters) -> i32` | `bfp::decompress` of it at `a` bits likewise |
//! | `bench_recompress(iters) -> i32` | `convert::bfp_recompress` of it from `a` to `b` bits likewise |
//!
//! The bench exports return a byte of their output so the work is kept;
//! the translators benchmark times them in wasmtime and natively.
//!
//! The checks, each over widths 1–16 (and every pair for re-compression)
//! and both rounding modes, on 103 extreme PRBs (zeros, full scale both
//! ways, -32768 alone, alternating extremes, powers of two around every
//! exponent boundary) and 197 pseudo-random ones of random amplitude,
//! plus, for the decoders, every third of those PRBs with a random
//! exponent (small mantissas at high exponents) and 60 PRBs of random
//! bytes (every exponent and reserved nibble), at lengths 0–3 PRBs and the
//! whole signal (so tails are covered):
//!
//! 1. `bfp::compress` equals `bfp::compress_scalar`, saturation count
//!    included, and writes nothing past its output;
//! 2. `bfp::decompress` (into `i32`) equals `bfp::decompress_scalar`;
//! 3. `convert::bfp_recompress`, and on wasm32 the fused simd128 kernel
//!    of every pair, equal the reference definition (`recompress_scalar`
//!    below: decompress, compress, reserved nibble copied), saturation
//!    count included, and write nothing past their output.
#![cfg_attr(target_arch = "wasm32", no_std)]

use core::sync::atomic::{AtomicI32, Ordering};

use ecpri::iq::{bfp, convert, Rounding};

/// Both rounding modes, checked alike.
const MODES: [Rounding; 2] = [Rounding::Truncate, Rounding::Nearest];

/// PRBs in the test signal: more than a 273-PRB symbol.
const N: usize = 300;
/// PRBs of random bytes appended for the decoders.
const NOISE: usize = 60;
/// All of them.
const ALL: usize = N + NOISE;
/// Bytes of the longest PRB (16 bits).
const MAX_LEN: usize = 49;
/// Guard bytes after every output, checked untouched.
const GUARD: usize = 64;
/// The value guard bytes hold.
const GUARD_BYTE: u8 = 0xA5;
/// PRBs in a benchmark symbol (100 MHz at 30 kHz).
const SYMBOL: usize = 273;

/// The checks, for [`first_mismatch`].
const CHECK_COMPRESS: i32 = 1;
const CHECK_DECOMPRESS: i32 = 2;
const CHECK_RECOMPRESS: i32 = 3;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
const CHECK_FUSED: i32 = 4;

static FIRST: AtomicI32 = AtomicI32::new(-1);

/// A deterministic xorshift64* generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

const fn prb_len(w: u32) -> usize {
    3 * w as usize + 1
}

/// The test signal: extreme PRBs, then random ones.
fn signal(x: &mut [i16; N * 24], rng: &mut Rng) {
    let mut k = 0;
    let mut put = |prb: [i16; 24]| {
        x[k * 24..(k + 1) * 24].copy_from_slice(&prb);
        k += 1;
    };
    put([0; 24]);
    put([i16::MAX; 24]);
    put([i16::MIN; 24]);
    put([-1; 24]);
    put([1; 24]);
    put(core::array::from_fn(|i| if i % 2 == 0 { i16::MIN } else { i16::MAX }));
    let mut lone = [0i16; 24];
    lone[23] = i16::MIN;
    put(lone);
    for b in 0..16 {
        let p = 1i32 << b;
        for d in [-1i32, 0, 1] {
            for sign in [1i32, -1] {
                let v = (sign * (p + d)).clamp(-32768, 32767) as i16;
                let mut prb = [0i16; 24];
                prb[(b * 5 + 7) % 24] = v;
                prb[(b * 3) % 24] = (-(v as i32) / 3) as i16;
                put(prb);
            }
        }
    }
    let extremes = k;
    for prb in x[extremes * 24..].chunks_exact_mut(24) {
        let shift = (rng.next() % 17) as u32;
        for s in prb {
            *s = if shift == 16 { 0 } else { (rng.next() as i16) >> shift };
        }
    }
}

/// Counts mismatches and remembers the first.
struct Tally(i32);

impl Tally {
    fn check(&mut self, ok: bool, check: i32, r: Rounding, a: u32, b: u32) {
        if !ok {
            self.0 += 1;
            let case = ((r == Rounding::Nearest) as i32) << 24 | check << 16 | (a as i32) << 8 | b as i32;
            let _ = FIRST.compare_exchange(-1, case, Ordering::Relaxed, Ordering::Relaxed);
        }
    }
}

fn guarded(buf: &[u8]) -> bool {
    buf.iter().all(|&b| b == GUARD_BYTE)
}

/// Compresses the signal at `w` bits into `wire`, gives every third PRB a
/// random exponent and reserved nibble, and appends [`NOISE`] PRBs of
/// random bytes.
fn make_wire(w: u32, r: Rounding, x: &[i16; N * 24], rng: &mut Rng, wire: &mut [u8]) {
    let len = prb_len(w);
    bfp::compress_scalar(w as u8, r, &x[..], &mut wire[..N * len]).unwrap();
    for p in wire[..N * len].chunks_exact_mut(len).step_by(3) {
        p[0] = rng.next() as u8;
    }
    for b in wire[N * len..ALL * len].iter_mut() {
        *b = rng.next() as u8;
    }
}

/// The definition of re-compression, PRB by PRB on the scalar reference:
/// decompress at `a`, compress at `b`, keep the reserved nibble. Returns
/// the samples saturated.
fn recompress_scalar(a: u32, src: &[u8], b: u32, r: Rounding, dst: &mut [u8]) -> u32 {
    let (la, lb) = (prb_len(a), prb_len(b));
    let mut saturated = 0;
    for (i, o) in src.chunks_exact(la).zip(dst.chunks_exact_mut(lb)) {
        let mut x = [0i32; 24];
        bfp::decompress_scalar(a as u8, i, &mut x).unwrap();
        saturated += bfp::compress_scalar(b as u8, r, &x[..], o).unwrap().saturated;
        o[0] |= i[0] & 0xF0;
    }
    saturated
}

/// Runs every check; returns the number of mismatching cases.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn run() -> i32 {
    FIRST.store(-1, Ordering::Relaxed);
    let mut t = Tally(0);
    let mut rng = Rng(0x1D_5EED);
    let mut x = [0i16; N * 24];
    signal(&mut x, &mut rng);
    let mut wire = [[0u8; ALL * MAX_LEN]; 2];
    let mut got = [0u8; ALL * MAX_LEN + GUARD];
    let mut mid = [0i32; ALL * 24];
    let mut back = [0i32; ALL * 24 + 8];
    for r in MODES {
        for w in 1..=16u32 {
            let len = prb_len(w);
            // 1. Compress.
            let want = &mut wire[0];
            for k in [0, 1, 2, 3, N] {
                let e = bfp::compress_scalar(w as u8, r, &x[..k * 24], &mut want[..k * len]);
                got.fill(GUARD_BYTE);
                let ok = bfp::compress(w as u8, r, &x[..k * 24], &mut got[..k * len]) == e;
                t.check(ok && got[..k * len] == want[..k * len] && guarded(&got[k * len..]), CHECK_COMPRESS, r, w, k as u32);
            }
            // 2. Decompress the wire, high exponents and noise included.
            let wa = &mut wire[1];
            make_wire(w, r, &x, &mut rng, wa);
            bfp::decompress_scalar(w as u8, &wa[..ALL * len], &mut mid).unwrap();
            for (from, k) in [(0, 0), (0, 1), (0, 3), (N - 2, 2), (N - 2, NOISE + 2), (0, ALL)] {
                back.fill(0x5A5A);
                let ok = bfp::decompress(w as u8, &wa[from * len..(from + k) * len], &mut back[..k * 24]) == Ok(k);
                let same = back[..k * 24] == mid[from * 24..(from + k) * 24];
                t.check(ok && same && back[k * 24..].iter().all(|&s| s == 0x5A5A), CHECK_DECOMPRESS, r, w, k as u32);
            }
        }
        // 3. Re-compress every pair, from the wire at `a` bits.
        let [wa, want] = &mut wire;
        for a in 1..=16u32 {
            let la = prb_len(a);
            make_wire(a, r, &x, &mut rng, wa);
            for b in 1..=16u32 {
                let lb = prb_len(b);
                let saturated = recompress_scalar(a, &wa[..ALL * la], b, r, &mut want[..ALL * lb]);
                for (from, k) in [(0, 1), (0, 2), (N - 1, 3), (0, ALL)] {
                    got.fill(GUARD_BYTE);
                    let src = &wa[from * la..(from + k) * la];
                    let e = convert::bfp_recompress(a as u8, src, b as u8, r, &mut got[..k * lb]);
                    let sat = if k == ALL { Some(saturated) } else { e.ok().map(|e| e.saturated) };
                    let ok = e.ok().map(|e| (e.len, Some(e.saturated))) == Some((k * lb, sat));
                    let same = got[..k * lb] == want[from * lb..(from + k) * lb];
                    t.check(ok && same && guarded(&got[k * lb..]), CHECK_RECOMPRESS, r, a, b);
                }
                kernels(&mut t, a, &wa[..ALL * la], b, r, (&want[..ALL * lb], saturated), &mut got);
            }
        }
    }
    t.0
}

/// Check 3 on the fused simd128 kernel itself, whichever path the public
/// entry point takes for this pair.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn kernels(t: &mut Tally, a: u32, src: &[u8], b: u32, r: Rounding, (want, sat): (&[u8], u32), got: &mut [u8]) {
    use ecpri::iq::simd128_kernels::recompress_fused_any;
    got.fill(GUARD_BYTE);
    let n = src.len() / prb_len(a);
    let ok = recompress_fused_any(a, n, src, b, r, &mut got[..want.len()]) == (n, sat);
    t.check(ok && got[..want.len()] == *want && guarded(&got[want.len()..]), CHECK_FUSED, r, a, b);
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn kernels(_: &mut Tally, _: u32, _: &[u8], _: u32, _: Rounding, _: (&[u8], u32), _: &mut [u8]) {}

/// The first failing case of the last [`run`], `nearest << 24 | check <<
/// 16 | a << 8 | b` (for compress and decompress, `b` is the PRB count),
/// or -1.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn first_mismatch() -> i32 {
    FIRST.load(Ordering::Relaxed)
}

/// The benchmark's buffers: one 273-PRB symbol as samples, compressed at
/// `a` bits, and room for the output.
struct BenchState {
    a: u8,
    b: u8,
    rounding: Rounding,
    x: [i16; SYMBOL * 24],
    y: [i32; SYMBOL * 24],
    wire: [u8; SYMBOL * MAX_LEN],
    out: [u8; SYMBOL * MAX_LEN],
}

/// [`BenchState`] in a static, so that a benchmark call does only the work
/// it times.
struct BenchCell(core::cell::UnsafeCell<BenchState>);

// SAFETY: only the `bench_*` exports touch it, and they are not called
// concurrently: a wasm instance is single-threaded, and natively the
// benchmark calls them from one thread.
unsafe impl Sync for BenchCell {}

static BENCH: BenchCell = BenchCell(core::cell::UnsafeCell::new(BenchState {
    a: 0,
    b: 0,
    rounding: Rounding::Nearest,
    x: [0; SYMBOL * 24],
    y: [0; SYMBOL * 24],
    wire: [0; SYMBOL * MAX_LEN],
    out: [0; SYMBOL * MAX_LEN],
}));

/// The benchmark state.
///
/// # Safety
/// No other reference to it may be alive (see [`BenchCell`]).
unsafe fn bench_state() -> &'static mut BenchState {
    // SAFETY: forwarded from the caller.
    unsafe { &mut *BENCH.0.get() }
}

/// Prepares the `bench_*` exports: one 273-PRB symbol like an OFDM symbol
/// with power variation (0 to 4 bits of headroom per PRB), compressed at
/// `a` bits (truncating, as a DU would), to be converted to `b`. Returns
/// 0, or -1 for a width outside 1–16.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn bench_prepare(a: i32, b: i32) -> i32 {
    if !(1..=16).contains(&a) || !(1..=16).contains(&b) {
        return -1;
    }
    // SAFETY: the exports run one at a time and keep no reference.
    let s = unsafe { bench_state() };
    let mut rng = Rng(0x2E);
    for prb in s.x.chunks_exact_mut(24) {
        let headroom = (rng.next() % 5) as u32;
        for v in prb {
            *v = (rng.next() as i16) >> headroom;
        }
    }
    (s.a, s.b) = (a as u8, b as u8);
    bfp::compress_scalar(s.a, Rounding::Truncate, &s.x[..], &mut s.wire[..SYMBOL * prb_len(a as u32)]).unwrap();
    0
}

/// Sets the rounding of the `bench_*` exports: to nearest if `nearest` is
/// 1, else truncation. Returns 0.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn bench_rounding(nearest: i32) -> i32 {
    // SAFETY: the exports run one at a time and keep no reference.
    let s = unsafe { bench_state() };
    s.rounding = if nearest == 1 { Rounding::Nearest } else { Rounding::Truncate };
    0
}

/// `bfp::compress` of the prepared symbol at `a` bits, `iters` times;
/// returns a byte of the output.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn bench_compress(iters: i32) -> i32 {
    // SAFETY: the exports run one at a time and keep no reference.
    let s = unsafe { bench_state() };
    let len = SYMBOL * prb_len(s.a as u32);
    for _ in 0..iters {
        bfp::compress(s.a, s.rounding, core::hint::black_box(&s.x[..]), core::hint::black_box(&mut s.out[..len])).unwrap();
    }
    s.out[len - 1] as i32
}

/// `bfp::decompress` of the prepared symbol at `a` bits, `iters` times;
/// returns a sample of the output.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn bench_decompress(iters: i32) -> i32 {
    // SAFETY: the exports run one at a time and keep no reference.
    let s = unsafe { bench_state() };
    let len = SYMBOL * prb_len(s.a as u32);
    for _ in 0..iters {
        bfp::decompress(s.a, core::hint::black_box(&s.wire[..len]), core::hint::black_box(&mut s.y)).unwrap();
    }
    s.y[SYMBOL * 24 - 1] as i32
}

/// `convert::bfp_recompress` of the prepared symbol from `a` to `b` bits,
/// `iters` times; returns a byte of the output.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn bench_recompress(iters: i32) -> i32 {
    // SAFETY: the exports run one at a time and keep no reference.
    let s = unsafe { bench_state() };
    let (la, lb) = (SYMBOL * prb_len(s.a as u32), SYMBOL * prb_len(s.b as u32));
    for _ in 0..iters {
        let src = core::hint::black_box(&s.wire[..la]);
        convert::bfp_recompress(s.a, src, s.b, s.rounding, core::hint::black_box(&mut s.out[..lb])).unwrap();
    }
    s.out[lb - 1] as i32
}

#[cfg(target_arch = "wasm32")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

#[cfg(test)]
mod tests {
    #[test]
    fn native_kernels_agree() {
        assert_eq!((super::run(), super::first_mismatch()), (0, -1));
    }

    #[test]
    fn bench_exports_run() {
        assert_eq!(super::bench_prepare(9, 17), -1);
        assert_eq!(super::bench_prepare(9, 12), 0);
        assert_eq!(super::bench_rounding(0), 0);
        super::bench_compress(1);
        assert_eq!(super::bench_rounding(1), 0);
        assert_eq!(super::bench_recompress(2), super::bench_recompress(1));
        super::bench_compress(1);
        super::bench_decompress(1);
    }
}
