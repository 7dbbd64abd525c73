//! The translator host (issue #3): host overhead per packet with a no-op
//! translator at bursts of 1, 32 and 64, with realistic 1 516-byte
//! U-plane frames (copying them into the guest's region is part of the
//! cost) and with 64-byte frames (almost no copy); packets a chain's
//! translator does not want (metadata bypass, no copy, no call); and the
//! hot-swap cut-over from load to the first packet on the new version,
//! compiled on one thread as `fhgate run` does with pinned workers (and
//! the load alone on several threads, for the small module and for
//! bfp_width).
//!
//! Targets: ≤ 5 ns/packet at burst 32 (host overhead); swap cut-over ≤ 1 ms.
//! Run: `cargo bench -p fhgate-benches --bench translate -- --warm-up-time 1 --measurement-time 2`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ecpri::frame::DecodeConfig;
use ecpri::samples;
use ecpri::uplane::CompHdrMode;
use ecpri::{CompMethod, UdCompHdr};
use fhgate::translate::{
    BufPool, Burst, ChainSpec, Control, Limits, Packet, Runtime, RuntimeConfig, Selector, Translator, TranslatorModule,
    TranslatorSpec, WorkerHost,
};

fn wat(meta: &str, body: &str) -> String {
    format!(
        r#"(module
  (memory (export "memory") 34)
  (func (export "fhgate_abi_version") (result i32) (i32.const 2))
  (func (export "fhgate_io") (result i32) (i32.const 65536))
  (func (export "fhgate_init") (param i32 i32) (result i32) (i32.const 0))
  (func (export "fhgate_process") (param $n i32) (result i32)
    (local $j i32) (local $d i32)
    {body})
  (@custom "fhgate.meta" "{meta}"))"#
    )
}

/// Sets the last byte of every packet to `v` (MODIFIED).
fn marker(v: u8) -> String {
    wat(
        &format!("name=marker\\nversion={v}\\n"),
        &format!(
            r#"(block $done (loop $each
      (br_if $done (i32.ge_u (local.get $j) (local.get $n)))
      (local.set $d (i32.add (i32.const 65600) (i32.mul (local.get $j) (i32.const 64))))
      (i32.store8 (i32.add (i32.const 65535) (i32.add (i32.load (local.get $d)) (i32.load offset=4 (local.get $d)))) (i32.const {v}))
      (i32.store8 offset=12 (local.get $d) (i32.const 2))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $each)))
    (local.get $n)"#
        ),
    )
}

fn decode() -> DecodeConfig {
    let comp = UdCompHdr::new(CompMethod::Bfp, 9);
    DecodeConfig { dl_comp: comp, ul_comp: comp, comp_hdr: CompHdrMode::Present, ..DecodeConfig::default() }
}

fn limits() -> Limits {
    Limits { deadline: Duration::from_millis(100), ..Limits::default() }
}

fn host(rt: &Arc<Runtime>, text: &str, selector: Selector) -> (WorkerHost, Control) {
    let m = TranslatorModule::load(rt, text.as_bytes(), "bench").expect("load");
    let spec = TranslatorSpec::new(m).with_limits(limits());
    WorkerHost::new(&[ChainSpec { selector, translators: vec![Arc::new(spec)] }], decode()).expect("instantiate")
}

fn burst(pool: &mut BufPool, frame: &[u8], n: usize) -> Burst {
    let mut b = Burst::new();
    for _ in 0..n {
        let p = Packet::from_frame(pool, frame, &decode(), 1).expect("pool");
        assert!(p.desc.is_some());
        let _ = b.push(p);
    }
    b
}

fn bench(c: &mut Criterion) {
    // Built (or found) first: a missing wasm32 toolchain fails here, not
    // after every other group has run.
    let bfp = std::fs::read(fhgate_benches::translators_dir(&["bfp_width"]).join("bfp_width.wasm")).expect("bfp_width.wasm");
    let rt = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let comp = UdCompHdr::new(CompMethod::Bfp, 9);
    let big = samples::uplane_frame(comp, true, &[(0, 53)]).unwrap();
    let small = samples::uplane_frame(comp, true, &[(0, 1)]).unwrap();
    eprintln!("frames: {} and {} bytes", big.len(), small.len());
    let mut pool = BufPool::new(512);

    let noop = wat("name=noop\\nversion=1\\n", "(local.get $n)");
    let (mut h, _control) = host(&rt, &noop, Selector::ALL);
    let mut g = c.benchmark_group("translate_noop");
    for (label, frame) in [("1516B", &big), ("64B", &small)] {
        for n in [1usize, 32, 64] {
            let mut b = burst(&mut pool, frame, n);
            g.throughput(Throughput::Elements(n as u64));
            g.bench_with_input(BenchmarkId::new(label, n), &n, |bch, _| {
                bch.iter(|| {
                    let r = h.process(black_box(&mut b), &mut pool);
                    debug_assert_eq!(r.packets_out, n);
                    black_box(r)
                })
            });
            b.recycle(&mut pool);
        }
    }
    g.finish();

    // The same chain, but its translator wants only the C-plane: every
    // U-plane packet is routed, checked against the metadata and bypassed.
    let c_only = wat("name=c_only\\nversion=1\\nplanes=c\\n", "(local.get $n)");
    let (mut h2, _control2) = host(&rt, &c_only, Selector::ALL);
    let mut g = c.benchmark_group("translate_bypass");
    let mut b = burst(&mut pool, &big, 32);
    g.throughput(Throughput::Elements(32));
    g.bench_function("1516B/32", |bch| bch.iter(|| black_box(h2.process(black_box(&mut b), &mut pool))));
    b.recycle(&mut pool);
    g.finish();

    // What copying alone costs: 32 frames of 1 516 bytes into slots laid out as in the region.
    let mut g = c.benchmark_group("translate_baseline");
    let mut region = vec![0u8; 128 * 16448];
    g.throughput(Throughput::Elements(32));
    g.bench_function("copy_1516B/32", |bch| {
        bch.iter(|| {
            for j in 0..32 {
                region[j * 16448..j * 16448 + big.len()].copy_from_slice(black_box(&big));
            }
            black_box(&region);
        })
    });
    g.finish();

    // Hot swap: from the start of loading a new version (validate, compile,
    // instantiate, init) to the first burst of 32 handled by it; and from
    // handing a ready instance to the worker to that burst.
    // Compiled on one thread, as `fhgate run` does with pinned workers.
    let rt = Runtime::new(RuntimeConfig { parallel_compilation: false, ..RuntimeConfig::default() }).expect("runtime");
    let (mut hs, mut control) = host(&rt, &marker(1), Selector::ALL);
    let mut b = burst(&mut pool, &big, 32);
    let mut g = c.benchmark_group("translate_swap");
    g.sample_size(20);
    let mut v = 1u8;
    g.bench_function("load_to_first_packet", |bch| {
        bch.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                v = v % 250 + 1;
                // A swap loads a .wasm file: its text form is assembled
                // before the clock starts.
                let wasm = wat::parse_str(marker(v)).expect("assemble");
                let t0 = Instant::now();
                let m = TranslatorModule::load(&rt, &wasm, "bench").expect("load");
                let t = Translator::new(&Arc::new(TranslatorSpec::new(m).with_limits(limits()))).expect("instantiate");
                control.install(0, 0, t).expect("install");
                hs.process(&mut b, &mut pool);
                total += t0.elapsed();
                assert_eq!(*b.packets()[31].data().last().unwrap(), v, "new version on the first burst");
                control.reap();
            }
            total
        })
    });
    // Its parts: checking and compiling; instantiating and initialising.
    let wasm = wat::parse_str(marker(99)).expect("assemble");
    g.bench_function("load_only", |bch| bch.iter(|| TranslatorModule::load(&rt, black_box(&wasm), "bench").expect("load")));
    let spec = Arc::new(TranslatorSpec::new(TranslatorModule::load(&rt, marker(77).as_bytes(), "bench").unwrap()).with_limits(limits()));
    g.bench_function("instantiate_only", |bch| bch.iter(|| Translator::new(&spec).expect("instantiate")));
    g.bench_function("ready_instance_to_first_packet", |bch| {
        bch.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = Translator::new(&spec).expect("instantiate");
                let t0 = Instant::now();
                control.install(0, 0, t).expect("install");
                hs.process(&mut b, &mut pool);
                total += t0.elapsed();
                control.reap();
            }
            total
        })
    });
    g.finish();

    // Loading on a runtime that compiles on several threads, for the small
    // module above and for bfp_width (the largest example translator).
    let rt_par = Runtime::new(RuntimeConfig { parallel_compilation: true, ..RuntimeConfig::default() }).expect("runtime");
    let mut g = c.benchmark_group("translate_swap");
    g.sample_size(20);
    g.bench_function("load_only_parallel", |bch| bch.iter(|| TranslatorModule::load(&rt_par, black_box(&wasm), "bench").expect("load")));
    g.bench_function("load_bfp_width", |bch| bch.iter(|| TranslatorModule::load(&rt, black_box(&bfp), "bench").expect("load")));
    g.bench_function("load_bfp_width_parallel", |bch| bch.iter(|| TranslatorModule::load(&rt_par, black_box(&bfp), "bench").expect("load")));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
