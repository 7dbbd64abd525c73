//! IQ compression throughput on a full 273-PRB symbol (100 MHz at 30 kHz).
//!
//! Targets (the IQ compression issue), medians on one core:
//! - BFP compress and decompress at widths 8, 9, 12, 14 and 16: at least
//!   70 M PRB/s each;
//! - BFP 9 → 12 re-compression: at least 200 M PRB/s, and at least half
//!   the speed of a memcpy of the same input plus output bytes, measured
//!   in the same group.
//!
//! Criterion's `elem/s` is PRB/s (`Throughput::Elements(273)`). Each group
//! first prints the bytes one PRB moves (samples in plus wire bytes out,
//! or the reverse), so GB/s = PRB/s × that figure.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ecpri::iq::{bfp, convert};
use fhgate_benches::iq_symbol;

const PRBS: usize = 273;

fn bfp_widths(c: &mut Criterion) {
    let x = iq_symbol(PRBS, 0x1D);
    let mut g = c.benchmark_group("bfp");
    g.throughput(Throughput::Elements(PRBS as u64));
    for w in [8u8, 9, 12, 14, 16] {
        eprintln!("bfp width {w}: {} bytes per PRB (48 sample bytes + {} wire bytes)", 48 + 3 * w as usize + 1, 3 * w as usize + 1);
    }
    for w in [8u8, 9, 12, 14, 16] {
        let len = PRBS * (3 * w as usize + 1);
        let mut wire = vec![0u8; len];
        g.bench_with_input(BenchmarkId::new("compress", w), &w, |b, &w| {
            b.iter(|| bfp::compress(w, black_box(&x), black_box(&mut wire)).unwrap())
        });
        let mut out = vec![0i16; PRBS * 24];
        g.bench_with_input(BenchmarkId::new("decompress", w), &w, |b, &w| {
            b.iter(|| bfp::decompress(w, black_box(&wire), black_box(&mut out)).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("compress_scalar", w), &w, |b, &w| {
            b.iter(|| bfp::compress_scalar(w, black_box(&x), black_box(&mut wire)).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("decompress_scalar", w), &w, |b, &w| {
            b.iter(|| bfp::decompress_scalar(w, black_box(&wire), black_box(&mut out)).unwrap())
        });
    }
    g.finish();
}

fn bfp_recompress(c: &mut Criterion) {
    let x = iq_symbol(PRBS, 0x2E);
    let mut g = c.benchmark_group("bfp_recompress");
    g.throughput(Throughput::Elements(PRBS as u64));
    for (a, b) in [(9u8, 12u8), (12, 9), (9, 9), (14, 8)] {
        eprintln!("bfp {a} -> {b}: {} bytes per PRB in plus out", 3 * (a + b) as usize + 2);
    }
    for (a, b) in [(9u8, 12u8), (12, 9), (9, 9), (14, 8)] {
        let mut wire = vec![0u8; PRBS * (3 * a as usize + 1)];
        bfp::compress(a, &x, &mut wire).unwrap();
        let mut out = vec![0u8; PRBS * (3 * b as usize + 1)];
        g.bench_function(BenchmarkId::new("fused", format!("{a}to{b}")), |bch| {
            bch.iter(|| convert::bfp_recompress(a, black_box(&wire), b, black_box(&mut out)).unwrap())
        });
        if (a, b) == (9, 12) {
            // The ratio target's yardstick: copy the same input and output bytes.
            let mut copy_in = vec![0u8; wire.len()];
            let mut copy_out = vec![0u8; out.len()];
            let src_out = out.clone();
            g.bench_function(BenchmarkId::new("memcpy", "9to12"), |bch| {
                bch.iter(|| {
                    copy_in.copy_from_slice(black_box(&wire));
                    copy_out.copy_from_slice(black_box(&src_out));
                    black_box((&copy_in, &copy_out));
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bfp_widths, bfp_recompress);
criterion_main!(benches);
