//! Translators in Wasm against the same source built natively: the
//! `bfp_width` example re-compressing full 273-PRB symbols (DL U-plane
//! frames of two sections, udCompHdr present) from BFP 9 and 8 bits to 12
//! (widening: exact, the same in both rounding modes), and from 12 to 9
//! (narrowing, where rounding to nearest costs a little).
//!
//! - `bfp_width/wasm`: target/translators/bfp_width.wasm (built by
//!   scripts/build-translators, simd128) in the real host,
//!   `fhgate::translate::WorkerHost::process`, bursts of 32;
//! - `bfp_width/native`: `bfp_width::bench::Bench`, the SDK's native
//!   harness running the same burst loop the wasm build runs in the host.
//!
//! Both get the same frames, configuration and burst size; before each
//! burst the frames are copied back into their buffers (the harness's
//! `rerun`; for the host, the packet buffers and their classification), so
//! every burst converts. Criterion's `elem/s` is PRB/s.
//!
//! `bfp_width_parts` splits the Wasm time: `host_noop` is the host alone
//! on the same burst (the `noop` translator: copy in, call, no copy back);
//! `kernel_*` is the IQ kernel alone, `ecpri::iq::convert::bfp_recompress`
//! on a 273-PRB symbol, 32 per iteration, from
//! target/translators/iq_selftest.wasm in the host's engine and from the
//! same crate natively (AVX2 there).
//!
//! Targets (the bfp_width issue), medians on one core: 9 → 12 in Wasm at
//! least 112 M PRB/s (25 GbE of BFP-9 input), and at most 1.5 × the
//! native time; rounding to nearest (the default, timed above) at most
//! 10 % slower than truncation (issue 17). The `ratio` and `rounding`
//! lines printed at the end come from interleaved timings of the two
//! sides in this same run.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bfp_width::bench::{config, config_rounding, decode, frame, Bench};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fhgate::translate::abi::DescriptorImage;
use fhgate::translate::{
    parse_config_pairs, BufPool, Burst, ChainSpec, Limits, Packet, Runtime, RuntimeConfig, Selector, TranslatorModule,
    TranslatorSpec, WorkerHost,
};
use wasmtime::{Instance, Module, Store, TypedFunc};

/// Frames per burst on both sides, and symbols per kernel iteration.
const BURST: usize = 32;
/// PRBs in one frame ([`frame`]: a full 100 MHz carrier).
const PRBS: usize = 273;
/// The width pairs measured.
const PAIRS: [(u8, u8); 3] = [(9, 12), (8, 12), (12, 9)];

/// `key=value` lines as the host's comma-separated `key=value` list.
fn pairs(config: &str) -> String {
    config.lines().collect::<Vec<_>>().join(",")
}

/// target/translators, rebuilt first when sources changed (the modules
/// already there are used when there is no wasm toolchain).
/// One translator instance in the host, and a burst of `frame` to feed it.
struct Wasm {
    host: WorkerHost,
    pool: BufPool,
    burst: Burst,
    frame: Vec<u8>,
    desc: Option<DescriptorImage>,
}

impl Wasm {
    fn new(rt: &Arc<Runtime>, path: &Path, config: &str, in_width: u8) -> Wasm {
        let module = TranslatorModule::load_file(rt, path).expect("load module");
        let cfg = parse_config_pairs(config).expect("config");
        let limits = Limits { deadline: Duration::from_millis(100), ..Limits::default() };
        let spec = TranslatorSpec::new(module).with_config(&cfg).with_limits(limits);
        let chain = ChainSpec { selector: Selector::ALL, translators: vec![Arc::new(spec)] };
        let d = decode(in_width);
        let (host, _control) = WorkerHost::new(&[chain], d).expect("instantiate");
        let mut pool = BufPool::new(2 * BURST + 8);
        let frame = frame(in_width);
        let mut burst = Burst::new();
        let mut desc = None;
        for _ in 0..BURST {
            let p = Packet::from_frame(&mut pool, &frame, &d, 1).expect("buffer");
            assert!(p.desc.is_some(), "the frame classifies");
            desc = p.desc;
            assert!(burst.push(p).is_ok());
        }
        Wasm { host, pool, burst, frame, desc }
    }

    /// Restores the input frames and runs one burst; returns the outputs.
    fn run(&mut self) -> usize {
        for p in self.burst.packets_mut() {
            p.buf.bytes_mut()[..self.frame.len()].copy_from_slice(&self.frame);
            p.len = self.frame.len();
            p.desc = self.desc;
        }
        self.host.process(&mut self.burst, &mut self.pool).packets_out
    }
}

/// iq_selftest.wasm's benchmark exports, in the host's engine (same code
/// generation as translators).
struct WasmKernel {
    store: Store<()>,
    prepare: TypedFunc<(i32, i32), i32>,
    rounding: TypedFunc<i32, i32>,
    recompress: TypedFunc<i32, i32>,
}

impl WasmKernel {
    fn new(rt: &Runtime, path: &Path) -> WasmKernel {
        let module = Module::from_file(rt.engine(), path).expect("iq_selftest.wasm");
        let mut store = Store::new(rt.engine(), ());
        // The engine interrupts on epochs; this store never needs to.
        store.set_epoch_deadline(1 << 40);
        let instance = Instance::new(&mut store, &module, &[]).expect("instantiate iq_selftest");
        let prepare = instance.get_typed_func(&mut store, "bench_prepare").expect("bench_prepare");
        let recompress = instance.get_typed_func(&mut store, "bench_recompress").expect("bench_recompress");
        let rounding = instance.get_typed_func(&mut store, "bench_rounding").expect("bench_rounding");
        WasmKernel { store, prepare, rounding, recompress }
    }

    fn prepare(&mut self, a: u8, b: u8) {
        assert_eq!(self.prepare.call(&mut self.store, (a as i32, b as i32)).expect("bench_prepare"), 0);
    }

    /// [`WasmKernel::run`] rounding to nearest or truncating.
    fn run_rounding(&mut self, nearest: bool) -> i32 {
        assert_eq!(self.rounding.call(&mut self.store, nearest as i32).expect("bench_rounding"), 0);
        self.run()
    }

    /// [`BURST`] symbols.
    fn run(&mut self) -> i32 {
        self.recompress.call(&mut self.store, BURST as i32).expect("bench_recompress")
    }
}

/// The same kernel natively: prepares `a → b` (the crate's one static
/// state) and returns the timed call, rounding to nearest or truncating.
fn native_kernel(a: u8, b: u8, nearest: bool) -> impl FnMut() -> i32 {
    assert_eq!(iq_selftest::bench_prepare(a as i32, b as i32), 0);
    move || {
        iq_selftest::bench_rounding(nearest as i32);
        iq_selftest::bench_recompress(BURST as i32)
    }
}

/// Median of `rounds` rounds, each the mean of `per_round` calls of `f`.
fn median(f: &mut dyn FnMut() -> i64, per_round: u32, rounds: usize) -> Duration {
    let mut t: Vec<Duration> = (0..rounds)
        .map(|_| {
            let t0 = Instant::now();
            for _ in 0..per_round {
                black_box(f());
            }
            t0.elapsed() / per_round
        })
        .collect();
    t.sort();
    t[t.len() / 2]
}

/// Alternates rounds of `a` and `b` so that noise hits both alike; returns
/// both medians.
fn same_run(a: &mut dyn FnMut() -> i64, b: &mut dyn FnMut() -> i64) -> (Duration, Duration) {
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for _ in 0..41 {
        ta.push(median(a, 50, 1));
        tb.push(median(b, 50, 1));
    }
    ta.sort();
    tb.sort();
    (ta[ta.len() / 2], tb[tb.len() / 2])
}

fn rate(d: Duration) -> f64 {
    (PRBS * BURST) as f64 / d.as_secs_f64() / 1e6
}

fn bench(c: &mut Criterion) {
    let dir = fhgate_benches::translators_dir(&["bfp_width", "noop", "iq_selftest"]);
    let rt = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let mut sides = Vec::new();
    for (a, b) in PAIRS {
        let mut native = Bench::new(a, b, BURST);
        let mut wasm = Wasm::new(&rt, &dir.join("bfp_width.wasm"), &pairs(&config(a, b)), a);
        // Same outputs, byte for byte, before anything is timed.
        assert_eq!(native.run(), BURST);
        assert_eq!(wasm.run(), BURST);
        for (i, p) in wasm.burst.packets().iter().enumerate() {
            assert_eq!(p.data(), &native.harness().output(i).bytes[..], "{a}->{b}: packet {i} differs");
        }
        assert_eq!(wasm.host.translator(0, 0).unwrap().shared().stats.faults(), 0);
        eprintln!(
            "bfp_width {a} -> {b}: {BURST} frames of {} bytes ({PRBS} PRBs) per burst",
            native.bytes_per_burst() / BURST as u64
        );
        sides.push(((a, b), native, wasm));
    }

    let mut g = c.benchmark_group("bfp_width");
    g.throughput(Throughput::Elements((PRBS * BURST) as u64));
    for ((a, b), native, wasm) in sides.iter_mut() {
        let id = format!("{a}to{b}");
        g.bench_function(BenchmarkId::new("native", &id), |bch| bch.iter(|| native.run()));
        g.bench_function(BenchmarkId::new("wasm", &id), |bch| bch.iter(|| wasm.run()));
    }
    g.finish();

    let mut noop = Wasm::new(&rt, &dir.join("noop.wasm"), "", 9);
    assert_eq!(noop.run(), BURST);
    let mut kernel = WasmKernel::new(&rt, &dir.join("iq_selftest.wasm"));
    let mut g = c.benchmark_group("bfp_width_parts");
    g.throughput(Throughput::Elements((PRBS * BURST) as u64));
    g.bench_function(BenchmarkId::new("host_noop", "9bit"), |bch| bch.iter(|| noop.run()));
    for (a, b) in PAIRS {
        let id = format!("{a}to{b}");
        let mut native = native_kernel(a, b, true);
        g.bench_function(BenchmarkId::new("kernel_native", &id), |bch| bch.iter(&mut native));
        kernel.prepare(a, b);
        g.bench_function(BenchmarkId::new("kernel_wasm", &id), |bch| bch.iter(|| kernel.run_rounding(true)));
    }
    g.finish();

    // Same-run ratios: alternate the two sides, compare medians.
    for ((a, b), native, wasm) in sides.iter_mut() {
        let (n, w) = same_run(&mut || native.run() as i64, &mut || wasm.run() as i64);
        let mut kn = native_kernel(*a, *b, true);
        kernel.prepare(*a, *b);
        let (kn, kw) = same_run(&mut || kn() as i64, &mut || kernel.run_rounding(true) as i64);
        let host = median(&mut || noop.run() as i64, 50, 21);
        eprintln!(
            "ratio bfp_width {a}->{b}: native {:.1} M PRB/s, wasm {:.1} M PRB/s, wasm/native time {:.2} \
             | kernel native {:.1}, wasm {:.1} M PRB/s ({:.2}) | per frame: wasm {:.2} us = kernel {:.2} + host noop {:.2} + rest {:.2}",
            rate(n),
            rate(w),
            w.as_secs_f64() / n.as_secs_f64(),
            rate(kn),
            rate(kw),
            kw.as_secs_f64() / kn.as_secs_f64(),
            w.as_secs_f64() * 1e6 / BURST as f64,
            kw.as_secs_f64() * 1e6 / BURST as f64,
            host.as_secs_f64() * 1e6 / BURST as f64,
            w.saturating_sub(kw + host).as_secs_f64() * 1e6 / BURST as f64,
        );
    }
    rounding(&rt, &dir, &mut kernel);
}

/// Same-run ratio lines of rounding to nearest against truncation, per
/// pair: bfp_width in Wasm and natively, and the kernel alone.
fn rounding(rt: &Arc<Runtime>, dir: &Path, kernel: &mut WasmKernel) {
    for (a, b) in PAIRS {
        let [mut wn, mut wt] = ["nearest", "truncate"].map(|r| Wasm::new(rt, &dir.join("bfp_width.wasm"), &pairs(&config_rounding(a, b, r)), a));
        let [mut nn, mut nt] = ["nearest", "truncate"].map(|r| Bench::with_config(&config_rounding(a, b, r), a, BURST));
        for (w, n) in [(&mut wn, &mut nn), (&mut wt, &mut nt)] {
            assert_eq!((w.run(), n.run()), (BURST, BURST));
            for (i, p) in w.burst.packets().iter().enumerate() {
                assert_eq!(p.data(), &n.harness().output(i).bytes[..], "{a}->{b}: packet {i} differs");
            }
        }
        let (wasm_n, wasm_t) = same_run(&mut || wn.run() as i64, &mut || wt.run() as i64);
        let (native_n, native_t) = same_run(&mut || nn.run() as i64, &mut || nt.run() as i64);
        // The kernels: wasm and native each prepare their own state.
        let (mut kn, mut kt) = (native_kernel(a, b, true), native_kernel(a, b, false));
        let (kernel_n, kernel_t) = same_run(&mut || kn() as i64, &mut || kt() as i64);
        kernel.prepare(a, b);
        let k = std::cell::RefCell::new(&mut *kernel);
        let (kw_n, kw_t) = same_run(&mut || k.borrow_mut().run_rounding(true) as i64, &mut || k.borrow_mut().run_rounding(false) as i64);
        let line = |n: Duration, t: Duration| format!("nearest {:.1}, truncate {:.1} M PRB/s ({:+.1} %)", rate(n), rate(t), (n.as_secs_f64() / t.as_secs_f64() - 1.0) * 100.0);
        eprintln!(
            "rounding bfp_width {a}->{b}: wasm {} | native {} | kernel wasm {} | kernel native {}",
            line(wasm_n, wasm_t),
            line(native_n, native_t),
            line(kw_n, kw_t),
            line(kernel_n, kernel_t),
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
