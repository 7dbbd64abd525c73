//! The translator host with real wasmtime and real modules: chains,
//! metadata bypass, extras, every hostile translator in
//! translators/hostile/, the fault window, the memory cap, log flooding,
//! load-time refusals and a hot swap under traffic.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ecpri::frame::DecodeConfig;
use ecpri::samples::{self, SAMPLE_UDP_PORT};
use ecpri::{CompMethod, UdCompHdr};
use fhgate::translate::host::Level;
use fhgate::translate::*;

/// Counts heap allocations made by the current thread.
struct CountingAlloc;

thread_local! {
    static ALLOCS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// thread-local counter is const-initialised, so touching it never allocates.
unsafe impl std::alloc::GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { std::alloc::System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { std::alloc::System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: std::alloc::Layout, n: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { std::alloc::System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn allocs() -> u64 {
    ALLOCS.with(|c| c.get())
}

fn runtime() -> &'static Arc<Runtime> {
    static RT: OnceLock<Arc<Runtime>> = OnceLock::new();
    RT.get_or_init(|| Runtime::new(RuntimeConfig::default()).expect("runtime"))
}

fn hostile(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../translators/hostile")
        .join(format!("{name}.wat"))
}

fn load(wat: &str) -> Arc<TranslatorModule> {
    TranslatorModule::load(runtime(), wat.as_bytes(), "inline").unwrap_or_else(|e| panic!("{e}"))
}

fn load_hostile(name: &str) -> Arc<TranslatorModule> {
    TranslatorModule::load_file(runtime(), &hostile(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Generous deadlines for well-behaved translators: tests share two cores.
fn relaxed() -> Limits {
    Limits {
        deadline: Duration::from_millis(500),
        ..Limits::default()
    }
}

fn spec(m: Arc<TranslatorModule>) -> TranslatorSpec {
    TranslatorSpec::new(m)
        .with_limits(relaxed())
        .with_sink(Arc::new(MemoryLog::default()))
}

/// A module skeleton with the region at 65 536; `body` is the body of
/// `fhgate_process` (param $n, locals $j $d $off $len), returning a value.
fn wat(meta: &str, body: &str) -> String {
    format!(
        r#"(module
  (import "fhgate" "counter_define" (func $counter_define (param i32 i32) (result i32)))
  (import "fhgate" "counter_add" (func $counter_add (param i32 i64)))
  (import "fhgate" "now_ns" (func $now_ns (result i64)))
  (memory (export "memory") 34)
  (global $R i32 (i32.const 65536))
  (func (export "fhgate_abi_version") (result i32) (i32.const 2))
  (func (export "fhgate_io") (result i32) (global.get $R))
  (func (export "fhgate_init") (param i32 i32) (result i32) (i32.const 0))
  (func $desc (param $i i32) (result i32)
    (i32.add (i32.add (global.get $R) (i32.const 64)) (i32.mul (local.get $i) (i32.const 64))))
  (func (export "fhgate_process") (param $n i32) (result i32)
    (local $j i32) (local $d i32) (local $off i32) (local $len i32)
    {body})
  (@custom "fhgate.meta" "{meta}")
)"#
    )
}

const NOOP: &str = "(local.get $n)";

/// For each input: byte `len - 1` = byte * 10 + `digit`, verdict MODIFIED.
fn stamp_body(digit: u32) -> String {
    format!(
        r#"(block $done (loop $each
      (br_if $done (i32.ge_u (local.get $j) (local.get $n)))
      (local.set $d (call $desc (local.get $j)))
      (local.set $off (i32.add (global.get $R) (i32.add (i32.load (local.get $d)) (i32.sub (i32.load offset=4 (local.get $d)) (i32.const 1)))))
      (i32.store8 (local.get $off) (i32.add (i32.mul (i32.load8_u (local.get $off)) (i32.const 10)) (i32.const {digit})))
      (i32.store8 offset=12 (local.get $d) (i32.const 2))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $each)))
    (local.get $n)"#
    )
}

/// A translator that sets the last byte of every packet to `v` (MODIFIED).
fn marker_wat(v: u32, name: &str) -> String {
    wat(
        &format!("name={name}\\nversion={v}\\n"),
        &format!(
            r#"(block $done (loop $each
      (br_if $done (i32.ge_u (local.get $j) (local.get $n)))
      (local.set $d (call $desc (local.get $j)))
      (local.set $off (i32.add (global.get $R) (i32.add (i32.load (local.get $d)) (i32.sub (i32.load offset=4 (local.get $d)) (i32.const 1)))))
      (i32.store8 (local.get $off) (i32.const {v}))
      (i32.store8 offset=12 (local.get $d) (i32.const 2))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $each)))
    (local.get $n)"#
        ),
    )
}

const SPLIT: &str = r#"(local $k i32) (local $e i32)
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $j) (local.get $n)))
      (local.set $d (call $desc (local.get $j)))
      (if (i32.eqz (i32.and (local.get $j) (i32.const 1)))
        (then (i32.store8 offset=12 (local.get $d) (i32.const 1)))
        (else
          (local.set $e (call $desc (i32.add (local.get $n) (local.get $k))))
          ;; Build the extra in slot n + k.
          (local.set $off (i32.add (i32.const 8256) (i32.mul (i32.add (local.get $n) (local.get $k)) (i32.const 16448))))
          (local.set $len (i32.load offset=4 (local.get $d)))
          (memory.copy (i32.add (global.get $R) (local.get $off)) (i32.add (global.get $R) (i32.load (local.get $d))) (local.get $len))
          (i32.store8 (i32.add (global.get $R) (i32.add (local.get $off) (i32.sub (local.get $len) (i32.const 1)))) (i32.const 0xEE))
          (i32.store (local.get $e) (local.get $off))
          (i32.store offset=4 (local.get $e) (local.get $len))
          (i32.store8 offset=12 (local.get $e) (i32.const 3))
          (i32.store16 offset=20 (local.get $e) (local.get $j))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $each)))
    (i32.add (local.get $n) (local.get $k))"#;

const ID_AT: usize = 40;
const BAD_EAXC: u16 = 0x0BAD;

fn decode() -> DecodeConfig {
    DecodeConfig {
        comp_hdr: ecpri::uplane::CompHdrMode::Present,
        dl_comp: UdCompHdr::new(CompMethod::Bfp, 9),
        ul_comp: UdCompHdr::new(CompMethod::Bfp, 9),
        udp_port: Some(SAMPLE_UDP_PORT),
        ..DecodeConfig::default()
    }
}

/// A DL U-plane frame (BFP 9, 40 PRBs, 1 152 bytes) on `eaxc`, carrying `id` in its IQ bytes.
fn frame(eaxc: u16, id: u32) -> Vec<u8> {
    static BASE: OnceLock<Vec<u8>> = OnceLock::new();
    let mut f = BASE
        .get_or_init(|| {
            samples::uplane_frame(UdCompHdr::new(CompMethod::Bfp, 9), true, &[(0, 40)]).unwrap()
        })
        .clone();
    f[18..20].copy_from_slice(&eaxc.to_be_bytes());
    f[ID_AT..ID_AT + 4].copy_from_slice(&id.to_le_bytes());
    // Markers are written over the last byte: start from 0.
    *f.last_mut().unwrap() = 0;
    f
}

fn id_of(p: &[u8]) -> u32 {
    u32::from_le_bytes(p[ID_AT..ID_AT + 4].try_into().unwrap())
}

fn burst_of(pool: &mut BufPool, frames: &[Vec<u8>]) -> Burst {
    let mut b = Burst::new();
    for f in frames {
        b.push(Packet::from_frame(pool, f, &decode(), 1).expect("pool"))
            .ok()
            .expect("room");
    }
    b
}

/// 32 frames, every fourth on `BAD_EAXC`, the others on eAxC 1..4.
fn mixed_frames(first_id: u32) -> Vec<Vec<u8>> {
    (0..32u32)
        .map(|i| {
            frame(
                if i % 4 == 1 {
                    BAD_EAXC
                } else {
                    (i % 4) as u16 + 1
                },
                first_id + i,
            )
        })
        .collect()
}

fn single_chain(t: TranslatorSpec) -> Vec<ChainSpec> {
    vec![ChainSpec {
        selector: Selector::ALL,
        translators: vec![Arc::new(t)],
    }]
}

#[test]
fn noop_forwards_every_packet_unchanged_and_in_order() {
    let (mut host, _c) = WorkerHost::new(
        &single_chain(spec(load(&wat("name=noop\\nversion=1\\n", NOOP)))),
        decode(),
    )
    .unwrap();
    let mut pool = BufPool::new(256);
    let frames: Vec<_> = (0..64).map(|i| frame(i as u16, i)).collect();
    let mut b = burst_of(&mut pool, &frames);
    let r = host.process(&mut b, &mut pool);
    assert_eq!((r.packets_in, r.packets_out, r.unrouted), (64, 64, 0));
    for (p, f) in b.packets().iter().zip(&frames) {
        assert_eq!(p.data(), &f[..]);
    }
    let s = &host.translator(0, 0).unwrap().shared().stats;
    assert_eq!(
        (
            s.calls.load(Relaxed),
            s.packets_in.load(Relaxed),
            s.forwarded.load(Relaxed)
        ),
        (1, 64, 64)
    );
    b.recycle(&mut pool);
    assert_eq!(pool.available(), 256);
}

#[test]
fn steady_state_bursts_do_not_allocate() {
    // A chain that modifies (copy back + reclassify) then drops every
    // other packet and adds extras: every host path but faults.
    let split = wat("name=split\\nversion=1\\n", SPLIT);
    let chains = vec![ChainSpec {
        selector: Selector::ALL,
        translators: vec![
            Arc::new(spec(load(&marker_wat(3, "m")))),
            Arc::new(spec(load(&split))),
        ],
    }];
    let (mut host, _c) = WorkerHost::new(&chains, decode()).unwrap();
    let mut pool = BufPool::new(256);
    let frames: Vec<_> = (0..32u32).map(|i| frame(i as u16, i)).collect();
    let mut bursts: Vec<Burst> = (0..4).map(|_| burst_of(&mut pool, &frames)).collect();
    for b in &mut bursts[..1] {
        host.process(b, &mut pool);
    }
    let before = allocs();
    for b in &mut bursts[1..] {
        let r = host.process(b, &mut pool);
        assert_eq!(r.packets_out, 32);
    }
    assert_eq!(allocs() - before, 0, "process allocated");
}

#[test]
fn a_chain_runs_its_translators_in_order() {
    let t1 = spec(load(&wat("name=one\\nversion=1\\n", &stamp_body(1))));
    let t2 = spec(load(&wat("name=two\\nversion=1\\n", &stamp_body(2))));
    let chains = vec![ChainSpec {
        selector: Selector::ALL,
        translators: vec![Arc::new(t1), Arc::new(t2)],
    }];
    let (mut host, _c) = WorkerHost::new(&chains, decode()).unwrap();
    let mut pool = BufPool::new(64);
    let mut f = frame(1, 7);
    let n = f.len();
    f[n - 1] = 0;
    let mut b = burst_of(&mut pool, &[f.clone()]);
    host.process(&mut b, &mut pool);
    // 0 → 0*10+1 = 1 → 1*10+2 = 12: one then two.
    assert_eq!(b.packets()[0].data()[n - 1], 12);
    assert_eq!(&b.packets()[0].data()[..n - 1], &f[..n - 1]);
}

#[test]
fn chains_are_selected_by_eaxc_and_metadata_bypasses() {
    // Chain 0: eAxC 2 only, marker 2. Chain 1: everything else, a
    // translator that wants only the C-plane (so U-plane bypasses it).
    let c_only = spec(load(
        &marker_wat(9, "c_only").replace("version=9\\n", "version=9\\nplanes=c\\n"),
    ));
    let chains = vec![
        ChainSpec {
            selector: Selector::parse("eaxc=2").unwrap(),
            translators: vec![Arc::new(spec(load(&marker_wat(2, "two"))))],
        },
        ChainSpec {
            selector: Selector::ALL,
            translators: vec![Arc::new(c_only)],
        },
    ];
    let (mut host, _c) = WorkerHost::new(&chains, decode()).unwrap();
    let mut pool = BufPool::new(64);
    let frames: Vec<_> = (0..8u32).map(|i| frame(i as u16 % 4, i)).collect();
    let mut b = burst_of(&mut pool, &frames);
    host.process(&mut b, &mut pool);
    for (p, f) in b.packets().iter().zip(&frames) {
        let last = *p.data().last().unwrap();
        if u16::from_be_bytes([f[18], f[19]]) == 2 {
            assert_eq!(last, 2);
        } else {
            assert_eq!(p.data(), &f[..]);
        }
    }
    let c = &host.translator(1, 0).unwrap().shared().stats;
    assert_eq!(
        (c.packets_in.load(Relaxed), c.bypassed.load(Relaxed)),
        (0, 6)
    );
}

#[test]
fn the_first_matching_chain_takes_a_packet_and_a_short_chain_stops_early() {
    // Chain 0: eAxC 1, stamps 1 then 2. Chain 1: odd eAxCs, stamps 3; it
    // never sees eAxC 1, which chain 0 took. eAxCs 0 and 2: no chain.
    let stamp = |digit, name: &str| {
        Arc::new(spec(load(&wat(
            &format!("name={name}\\nversion=1\\n"),
            &stamp_body(digit),
        ))))
    };
    let chains = vec![
        ChainSpec {
            selector: Selector::parse("eaxc=1").unwrap(),
            translators: vec![stamp(1, "a"), stamp(2, "b")],
        },
        ChainSpec {
            selector: Selector::parse("eaxc=1/1").unwrap(),
            translators: vec![stamp(3, "c")],
        },
    ];
    let (mut host, _c) = WorkerHost::new(&chains, decode()).unwrap();
    let mut pool = BufPool::new(64);
    let frames: Vec<_> = (0..12u32).map(|i| frame(i as u16 % 4, i)).collect();
    let mut b = burst_of(&mut pool, &frames);
    let r = host.process(&mut b, &mut pool);
    assert_eq!((r.packets_in, r.packets_out, r.unrouted), (12, 12, 6));
    for (i, p) in b.packets().iter().enumerate() {
        assert_eq!(id_of(p.data()), i as u32, "order kept");
        let want = [0, 12, 0, 3][i % 4];
        assert_eq!(*p.data().last().unwrap(), want, "eAxC {}", i % 4);
    }
    assert_eq!(
        host.translator(1, 0)
            .unwrap()
            .shared()
            .stats
            .packets_in
            .load(Relaxed),
        3
    );
}

#[test]
fn a_worker_refuses_more_chains_than_it_can_route() {
    let chains = vec![
        ChainSpec {
            selector: Selector::ALL,
            translators: vec![]
        };
        1024
    ];
    let e = WorkerHost::new(&chains, decode())
        .err()
        .expect("1024 chains refused")
        .to_string();
    assert!(
        e.contains("1024 chains") && e.contains("at most 1023"),
        "{e}"
    );
    assert!(WorkerHost::new(&chains[..1023], decode()).is_ok());
}

#[test]
fn drops_and_extras_keep_the_order() {
    // Even inputs dropped; each odd input gets one extra: a copy of its
    // slot (same len) from descriptor n + k, with its last byte set to 0xEE.
    let w = wat("name=split\\nversion=1\\n", SPLIT);
    let (mut host, _c) = WorkerHost::new(&single_chain(spec(load(&w))), decode()).unwrap();
    let mut pool = BufPool::new(128);
    let frames: Vec<_> = (0..10u32).map(|i| frame(1, i)).collect();
    let mut b = burst_of(&mut pool, &frames);
    let r = host.process(&mut b, &mut pool);
    assert_eq!(r.packets_out, 10);
    let got: Vec<(u32, u8)> = b
        .packets()
        .iter()
        .map(|p| (id_of(p.data()), *p.data().last().unwrap()))
        .collect();
    let orig_last = 0;
    let want: Vec<(u32, u8)> = (0..10u32)
        .filter(|i| i % 2 == 1)
        .flat_map(|i| [(i, orig_last), (i, 0xEE)])
        .collect();
    assert_eq!(got, want);
    // Extras are classified like any packet.
    assert!(b.packets().iter().all(|p| p.desc.is_some()));
    b.recycle(&mut pool);
    assert_eq!(pool.available(), 128);
}

/// Runs two mixed bursts through [hostile on BAD_EAXC] + [marker 5 on the
/// rest]; checks that every packet comes out, in order, the hostile
/// flow's per `policy`, the others marked. Returns the hostile stats.
fn contain(hostile: TranslatorSpec, policy: FaultPolicy) -> Arc<Shared> {
    let fallback = Arc::new(spec(load(&marker_wat(7, "fallback"))));
    let hostile = hostile.with_policy(
        policy,
        (policy == FaultPolicy::Fallback).then_some(fallback),
    );
    let chains = vec![
        ChainSpec {
            selector: Selector::parse(&format!("eaxc={BAD_EAXC}")).unwrap(),
            translators: vec![Arc::new(hostile)],
        },
        ChainSpec {
            selector: Selector::ALL,
            translators: vec![Arc::new(spec(load(&marker_wat(5, "good"))))],
        },
    ];
    let (mut host, mut control) = WorkerHost::new(&chains, decode()).unwrap();
    let mut pool = BufPool::new(256);
    for round in 0..2u32 {
        let frames = mixed_frames(round * 100);
        let mut b = burst_of(&mut pool, &frames);
        host.process(&mut b, &mut pool);
        let expect: Vec<(u32, Option<u8>)> = frames
            .iter()
            .filter_map(|f| {
                let id = id_of(f);
                if u16::from_be_bytes([f[18], f[19]]) != BAD_EAXC {
                    return Some((id, Some(5)));
                }
                match policy {
                    FaultPolicy::Pass => Some((id, None)),
                    FaultPolicy::Drop => None,
                    FaultPolicy::Fallback => Some((id, Some(7))),
                }
            })
            .collect();
        let got: Vec<(u32, Option<u8>)> = b
            .packets()
            .iter()
            .map(|p| {
                let d = p.data();
                let f = &frames[(id_of(d) - round * 100) as usize];
                // Unchanged (pass) or only the marker byte changed.
                assert_eq!(&d[..d.len() - 1], &f[..f.len() - 1]);
                let last = *d.last().unwrap();
                (id_of(d), (last != 0).then_some(last))
            })
            .collect();
        assert_eq!(got, expect, "round {round}, policy {policy}");
        b.recycle(&mut pool);
        control.reap();
    }
    assert_eq!(pool.available(), 256, "no buffer lost");
    let t = host.translator(0, 0).unwrap();
    t.shared().clone()
}

fn faults(s: &Shared) -> (u64, u64, u64) {
    let st = &s.stats;
    (
        st.faults_trap.load(Relaxed),
        st.faults_deadline.load(Relaxed),
        st.faults_bad_output.load(Relaxed),
    )
}

#[test]
fn infinite_loop_misses_its_deadline_and_is_contained() {
    let t0 = Instant::now();
    let h = spec(load_hostile("infinite_loop")).with_limits(Limits {
        deadline: Duration::from_millis(5),
        ..Limits::default()
    });
    let s = contain(h, FaultPolicy::Pass);
    assert_eq!(faults(&s), (0, 2, 0));
    assert_eq!(s.stats.replaced.load(Relaxed), 2);
    assert!(
        t0.elapsed() < Duration::from_secs(20),
        "the deadline stopped the loop"
    );
}

#[test]
fn out_of_bounds_store_traps_and_is_contained() {
    for policy in [FaultPolicy::Pass, FaultPolicy::Drop, FaultPolicy::Fallback] {
        let s = contain(spec(load_hostile("oob_store")), policy);
        assert_eq!(faults(&s), (2, 0, 0), "{policy}");
        assert_eq!(s.stats.policy_packets.load(Relaxed), 16);
    }
}

#[test]
fn unreachable_traps_and_is_contained() {
    let log = Arc::new(MemoryLog::default());
    let s = contain(
        spec(load_hostile("unreachable")).with_sink(log.clone()),
        FaultPolicy::Drop,
    );
    assert_eq!(faults(&s), (2, 0, 0));
    let lines = log.lines();
    assert!(
        lines.iter().any(|(l, m)| *l == Level::Warn
            && m.contains("unreachable")
            && m.contains("instance replaced")),
        "{lines:?}"
    );
}

#[test]
fn garbage_output_of_every_kind_is_a_fault() {
    for mode in ["len", "verdict", "count", "origin", "range"] {
        let h = spec(load_hostile("garbage_output")).with_config(&[("mode", mode)]);
        let s = contain(h, FaultPolicy::Pass);
        assert_eq!(faults(&s), (0, 0, 2), "mode {mode}");
    }
}

#[test]
fn memory_grow_stops_at_the_cap_and_the_store_past_it_traps() {
    let cap = 4 << 20;
    let h = spec(load_hostile("memory_grow")).with_limits(Limits {
        memory: cap,
        ..relaxed()
    });
    let s = contain(h, FaultPolicy::Pass);
    assert_eq!(faults(&s), (2, 0, 0));
    let pages: u64 = s
        .counters
        .snapshot()
        .iter()
        .find(|c| c.0 == "pages")
        .map(|c| c.1)
        .unwrap();
    // Two faulting bursts, each reaching at most cap / 64 KiB pages (34 + 16k ≤ 64 → 50).
    assert_eq!(
        pages,
        2 * 50,
        "grew to 50 pages each time, never past the 64-page cap"
    );
}

#[test]
fn chains_without_translators_still_route_and_only_unmatched_packets_count_as_unrouted() {
    let chains = vec![ChainSpec {
        selector: Selector::parse("eaxc=1").unwrap(),
        translators: vec![],
    }];
    let (mut host, _c) = WorkerHost::new(&chains, decode()).unwrap();
    let mut pool = BufPool::new(64);
    let frames: Vec<_> = (0..8u32).map(|i| frame(i as u16 % 4, i)).collect();
    let mut b = burst_of(&mut pool, &frames);
    let r = host.process(&mut b, &mut pool);
    assert_eq!(
        (r.packets_in, r.packets_out, r.unrouted),
        (8, 8, 6),
        "eAxC 1 is routed (2 of 8), the rest not"
    );
    for (p, f) in b.packets().iter().zip(&frames) {
        assert_eq!(p.data(), &f[..], "forwarded untouched");
    }
}

#[test]
fn outputs_written_after_the_guest_grew_its_memory_are_read_from_the_right_place() {
    // The host keeps the region's address from instantiation (memories
    // never move): a guest that grows its memory mid-call, then stamps
    // its packets, must still have its stamps read back, burst after burst.
    let body = format!("(drop (memory.grow (i32.const 8)))\n    {}", stamp_body(7));
    let t = spec(load(&wat("name=grower\\nversion=1\\n", &body)));
    let (mut host, _c) = WorkerHost::new(&single_chain(t), decode()).unwrap();
    let mut pool = BufPool::new(64);
    for round in 0..3u32 {
        let frames: Vec<_> = (0..4).map(|i| frame(1, round * 4 + i)).collect();
        let mut b = burst_of(&mut pool, &frames);
        assert_eq!(host.process(&mut b, &mut pool).packets_out, 4);
        for (p, f) in b.packets().iter().zip(&frames) {
            assert_eq!(
                p.data()[..f.len() - 1],
                f[..f.len() - 1],
                "round {round}: only the last byte changes"
            );
            assert_eq!(
                *p.data().last().unwrap(),
                7,
                "round {round}: the stamp written after memory.grow"
            );
        }
        b.recycle(&mut pool);
    }
    let t = host.translator(0, 0).unwrap();
    assert_eq!(t.shared().stats.faults(), 0);
    assert_eq!(t.shared().stats.modified.load(Relaxed), 12);
}

#[test]
fn a_module_whose_memory_exceeds_the_cap_does_not_load() {
    // oob_store declares 34 pages (2 176 KiB) of memory; the cap is 1 MiB.
    let h = Arc::new(spec(load_hostile("oob_store")).with_limits(Limits {
        memory: 1 << 20,
        ..relaxed()
    }));
    let e = Translator::new(&h).unwrap_err().to_string();
    let want = InstanceError::MemoryCap {
        minimum: 34 * 65536,
        cap: 1 << 20,
    }
    .to_string();
    assert!(e.ends_with(&want), "refused by the memory cap itself: {e}");
    // With the cap above its memory, the same module loads.
    let h = Arc::new(spec(load_hostile("oob_store")).with_limits(Limits {
        memory: 4 << 20,
        ..relaxed()
    }));
    assert!(Translator::new(&h).is_ok());
}

#[test]
fn log_flood_is_rate_limited_and_counted() {
    let log = Arc::new(MemoryLog::default());
    let h = spec(load_hostile("log_flood")).with_sink(log.clone());
    let (mut host, _c) = WorkerHost::new(&single_chain(h), decode()).unwrap();
    let mut pool = BufPool::new(64);
    for i in 0..3 {
        let mut b = burst_of(&mut pool, &[frame(1, i)]);
        assert_eq!(host.process(&mut b, &mut pool).packets_out, 1);
        b.recycle(&mut pool);
    }
    let st = &host.translator(0, 0).unwrap().shared().stats;
    let written = st.log_lines.load(Relaxed);
    assert!((10..=12).contains(&written), "{written} lines written");
    assert_eq!(written + st.log_dropped.load(Relaxed), 3000);
    assert_eq!(st.faults(), 0);
    assert_eq!(log.lines().len() as u64, written);
    assert!(log.lines()[0].1.contains("log_flood: says: flood!"));
}

#[test]
fn the_fault_window_disables_and_says_so() {
    let log = Arc::new(MemoryLog::default());
    let h = spec(load_hostile("unreachable"))
        .with_sink(log.clone())
        .with_fault_limit(FaultLimit {
            faults: 3,
            within: Duration::from_secs(10),
        });
    let chains = vec![
        ChainSpec {
            selector: Selector::parse(&format!("eaxc={BAD_EAXC}")).unwrap(),
            translators: vec![Arc::new(h)],
        },
        ChainSpec {
            selector: Selector::ALL,
            translators: vec![Arc::new(spec(load(&marker_wat(5, "good"))))],
        },
    ];
    let (mut host, mut control) = WorkerHost::new(&chains, decode()).unwrap();
    let mut pool = BufPool::new(256);
    for round in 0..6u32 {
        let frames = mixed_frames(round * 100);
        let mut b = burst_of(&mut pool, &frames);
        let r = host.process(&mut b, &mut pool);
        assert_eq!(r.packets_out, 32, "pass policy: nothing lost");
        let ids: Vec<u32> = b.packets().iter().map(|p| id_of(p.data())).collect();
        assert_eq!(ids, (round * 100..round * 100 + 32).collect::<Vec<_>>());
        b.recycle(&mut pool);
        control.reap();
    }
    let t = host.translator(0, 0).unwrap();
    assert!(t.is_disabled());
    let s = &t.shared().stats;
    assert_eq!(s.faults_trap.load(Relaxed), 3, "not called once disabled");
    assert_eq!(s.policy_packets.load(Relaxed), 6 * 8);
    assert!(s.disabled.load(Relaxed));
    let errors: Vec<_> = log
        .lines()
        .into_iter()
        .filter(|l| l.0 == Level::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]
            .1
            .contains("translator unreachable: DISABLED after 3 faults within 10s"),
        "{errors:?}"
    );
    assert!(
        errors[0].1.contains("policy pass until it is reloaded"),
        "{errors:?}"
    );
    // Reloading (a swap) brings it back.
    let again = Arc::new(spec(load_hostile("unreachable")));
    control.swap(0, 0, &again).unwrap();
    let mut b = burst_of(&mut pool, &mixed_frames(0));
    host.process(&mut b, &mut pool);
    assert!(!host.translator(0, 0).unwrap().is_disabled());
}

#[test]
fn load_time_problems_are_refused_with_a_name() {
    let e = TranslatorModule::load_file(runtime(), &hostile("forbidden_import")).unwrap_err();
    assert!(
        matches!(&e, LoadError::ForbiddenImport { module, name, .. } if module == "wasi_snapshot_preview1" && name == "fd_write"),
        "{e}"
    );
    assert!(e.to_string().contains("`wasi_snapshot_preview1.fd_write`"));
    let e = TranslatorModule::load_file(runtime(), &hostile("wrong_signature")).unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(&e, LoadError::ExportSignature { name, .. } if name == "fhgate_process"),
        "{msg}"
    );
    assert!(
        msg.contains("(func (param i64) (result i32))")
            && msg.contains("wants (func (param i32) (result i32))"),
        "{msg}"
    );
    let m = load_hostile("wrong_abi_version");
    let e = Translator::new(&Arc::new(spec(m))).unwrap_err().to_string();
    assert!(
        e.contains("fhgate_abi_version returned 1")
            && e.contains("rebuild it with the current SDK"),
        "{e}"
    );
    let future = wat("name=a\\nversion=1", NOOP).replace("(i32.const 2))", "(i32.const 7))");
    let m = TranslatorModule::load(runtime(), future.as_bytes(), "t").unwrap();
    let e = Translator::new(&Arc::new(spec(m))).unwrap_err().to_string();
    assert!(
        e.contains("fhgate_abi_version returned 7; this host speaks ABI version 2"),
        "{e}"
    );
    // No metadata; a bad import signature; a missing export; native code; a component.
    let no_meta = wat("x", NOOP).replace(r#"(@custom "fhgate.meta" "x")"#, "");
    assert!(matches!(
        TranslatorModule::load(runtime(), no_meta.as_bytes(), "t"),
        Err(LoadError::Meta(_))
    ));
    let bad_import = wat("name=a\\nversion=1", NOOP)
        .replace("(func $now_ns (result i64))", "(func $now_ns (result i32))");
    let e = TranslatorModule::load(runtime(), bad_import.as_bytes(), "t")
        .unwrap_err()
        .to_string();
    assert!(e.contains("import `fhgate.now_ns` has signature (func (result i32)), ABI v2 wants (func (result i64))"), "{e}");
    let no_init = wat("name=a\\nversion=1", NOOP).replace(
        r#"(func (export "fhgate_init") (param i32 i32) (result i32) (i32.const 0))"#,
        "",
    );
    assert_eq!(
        TranslatorModule::load(runtime(), no_init.as_bytes(), "t").unwrap_err(),
        LoadError::MissingExport("fhgate_init")
    );
    let elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0";
    assert!(TranslatorModule::load(runtime(), elf, "t")
        .unwrap_err()
        .to_string()
        .contains("precompiled modules are never accepted"));
    let component = b"\0asm\x0d\0\x01\0";
    assert!(TranslatorModule::load(runtime(), component, "t")
        .unwrap_err()
        .to_string()
        .contains("component"));
}

#[test]
fn configuration_reaches_init_and_init_errors_fail_the_load() {
    // fhgate_init returns 0 only if its configuration is exactly "k=[1,2]\n".
    let w = wat("name=cfg\\nversion=1\\n", NOOP).replace(
        r#"(func (export "fhgate_init") (param i32 i32) (result i32) (i32.const 0))"#,
        r#"(data (i32.const 16) "k=[1,2]\n")
  (func (export "fhgate_init") (param $p i32) (param $l i32) (result i32)
    (if (i32.ne (local.get $p) (i32.const 73792)) (then (return (i32.const 5))))
    (if (i32.ne (local.get $l) (i32.const 8)) (then (return (i32.const 6))))
    (if (i64.ne (i64.load (local.get $p)) (i64.load (i32.const 16))) (then (return (i32.const 7))))
    (i32.const 0))"#,
    );
    let m = load(&w);
    let ok = Arc::new(spec(m.clone()).with_config(&parse_config_pairs("k=[1,2]").unwrap()));
    Translator::new(&ok).unwrap();
    let bad = Arc::new(spec(m).with_config(&[("k", "[1,3]")]));
    let e = Translator::new(&bad).unwrap_err().to_string();
    assert!(e.contains("fhgate_init returned error code 7"), "{e}");
}

#[test]
fn counters_and_now_ns() {
    // Defines counter "seen" at init, adds n per call; traps if now_ns goes backwards.
    let w = wat(
        "name=count\\nversion=1\\n",
        r#"(if (i64.lt_u (call $now_ns) (global.get $last)) (then unreachable))
    (global.set $last (call $now_ns))
    (call $counter_add (global.get $seen) (i64.extend_i32_u (local.get $n)))
    ;; An unknown id is counted as an error, not a trap.
    (call $counter_add (i32.const 63) (i64.const 1))
    (drop (call $counter_define (i32.const 16) (i32.const 4)))
    (local.get $n)"#,
    )
    .replace(
        r#"(func (export "fhgate_init") (param i32 i32) (result i32) (i32.const 0))"#,
        r#"(data (i32.const 16) "seen")
  (global $seen (mut i32) (i32.const 0))
  (global $last (mut i64) (i64.const 0))
  (func (export "fhgate_init") (param i32 i32) (result i32)
    (global.set $seen (call $counter_define (i32.const 16) (i32.const 4)))
    (i32.const 0))"#,
    );
    let (mut host, _c) = WorkerHost::new(&single_chain(spec(load(&w))), decode()).unwrap();
    let mut pool = BufPool::new(64);
    for n in [3usize, 5] {
        let frames: Vec<_> = (0..n as u32).map(|i| frame(1, i)).collect();
        let mut b = burst_of(&mut pool, &frames);
        host.process(&mut b, &mut pool);
        b.recycle(&mut pool);
    }
    let s = host.translator(0, 0).unwrap().shared();
    assert_eq!(s.counters.snapshot(), [("seen".to_string(), 8)]);
    // Two bad counter_add ids, two counter_define calls outside init.
    assert_eq!(s.stats.counter_errors.load(Relaxed), 4);
    assert_eq!(s.stats.faults(), 0);
}

#[test]
fn hot_swap_1000_times_under_traffic_loses_nothing() {
    let v1 = Arc::new(spec(load(&marker_wat(1, "stamp"))));
    let v2 = Arc::new(spec(load(&marker_wat(2, "stamp"))));
    let (mut host, mut control) = WorkerHost::new(&single_chain((*v1).clone()), decode()).unwrap();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    const SWAPS: usize = 1000;
    let swapper = {
        let done = done.clone();
        std::thread::spawn(move || {
            for i in 0..SWAPS {
                let spec = if i % 2 == 0 { &v2 } else { &v1 };
                let t = Translator::new(spec).unwrap();
                control.install(0, 0, t).unwrap();
                // One swap per burst boundary at most: wait until it is taken.
                while control.pending() > 0 {
                    control.reap();
                    std::thread::yield_now();
                }
            }
            done.store(true, Relaxed);
            while control.reap() > 0 {}
            control
        })
    };
    let mut pool = BufPool::new(256);
    let (mut next_id, mut out_ids) = (0u32, Vec::new());
    let mut bursts_by_version = [0usize; 3];
    let mut finishing = 0;
    let t0 = Instant::now();
    while finishing < 3 {
        if done.load(Relaxed) {
            finishing += 1;
        }
        assert!(t0.elapsed() < Duration::from_secs(300), "swapper stalled");
        let frames: Vec<_> = (0..32).map(|i| frame(i as u16 % 3, next_id + i)).collect();
        next_id += 32;
        let mut b = burst_of(&mut pool, &frames);
        let r = host.process(&mut b, &mut pool);
        assert_eq!(r.packets_out, 32);
        let versions: BTreeSet<u8> = b
            .packets()
            .iter()
            .map(|p| *p.data().last().unwrap())
            .collect();
        assert_eq!(
            versions.len(),
            1,
            "a burst handled by one version only: {versions:?}"
        );
        bursts_by_version[*versions.first().unwrap() as usize] += 1;
        out_ids.extend(b.packets().iter().map(|p| id_of(p.data())));
        b.recycle(&mut pool);
    }
    let mut control = swapper.join().unwrap();
    control.reap();
    assert_eq!(host.swaps(), SWAPS as u64);
    assert_eq!(
        out_ids,
        (0..next_id).collect::<Vec<_>>(),
        "every packet once, in order"
    );
    assert!(
        bursts_by_version[1] > 0 && bursts_by_version[2] > 0,
        "{bursts_by_version:?}"
    );
    assert_eq!(pool.available(), 256);
    // SWAPS is even: the last installed is v1 again.
    assert_eq!(host.translator(0, 0).unwrap().version(), "1");
}

#[test]
fn unload_is_called_on_swap_and_shutdown_but_not_after_a_fault() {
    // Logs "bye" from fhgate_unload; traps on a packet whose eAxC is BAD_EAXC.
    let w = |v: u32| {
        format!(
            r#"(module
  (import "fhgate" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 34)
  (data (i32.const 16) "bye")
  (func (export "fhgate_abi_version") (result i32) (i32.const 2))
  (func (export "fhgate_io") (result i32) (i32.const 65536))
  (func (export "fhgate_init") (param i32 i32) (result i32) (i32.const 0))
  (func (export "fhgate_process") (param $n i32) (result i32)
    (if (i32.eq (i32.load16_u (i32.const 65616)) (i32.const {BAD_EAXC})) (then unreachable))
    (local.get $n))
  (func (export "fhgate_unload") (call $log (i32.const 2) (i32.const 16) (i32.const 3)))
  (@custom "fhgate.meta" "name=polite\nversion={v}\n"))"#
        )
    };
    let log = Arc::new(MemoryLog::default());
    let v1 = Arc::new(spec(load(&w(1))).with_sink(log.clone()));
    let (mut host, mut control) = WorkerHost::new(&single_chain((*v1).clone()), decode()).unwrap();
    let mut pool = BufPool::new(64);
    let byes = || {
        log.lines()
            .iter()
            .filter(|l| l.1.ends_with("says: bye"))
            .count()
    };
    // A fault: the instance is replaced without unload.
    let mut b = burst_of(&mut pool, &[frame(BAD_EAXC, 0)]);
    host.process(&mut b, &mut pool);
    b.recycle(&mut pool);
    control.reap();
    assert_eq!(
        (
            host.translator(0, 0).unwrap().shared().stats.faults(),
            byes()
        ),
        (1, 0)
    );
    // A swap: the old one is unloaded on the control thread.
    control
        .swap(0, 0, &Arc::new(spec(load(&w(2))).with_sink(log.clone())))
        .unwrap();
    let mut b = burst_of(&mut pool, &[frame(1, 1)]);
    host.process(&mut b, &mut pool);
    assert_eq!(control.reap(), 1);
    assert_eq!(byes(), 1);
    host.shutdown();
    assert_eq!(byes(), 2);
}

/// A stateful translator: a packet counter kept in its linear memory
/// (address 0), written into each packet's last byte.
fn counter_wat(name: &str) -> String {
    wat(
        &format!("name={name}\\nversion=1\\n"),
        r#"(block $done (loop $each
      (br_if $done (i32.ge_u (local.get $j) (local.get $n)))
      (local.set $d (call $desc (local.get $j)))
      (local.set $off (i32.add (global.get $R) (i32.add (i32.load (local.get $d)) (i32.sub (i32.load offset=4 (local.get $d)) (i32.const 1)))))
      (i32.store8 (i32.const 0) (i32.add (i32.load8_u (i32.const 0)) (i32.const 1)))
      (i32.store8 (local.get $off) (i32.load8_u (i32.const 0)))
      (i32.store8 offset=12 (local.get $d) (i32.const 2))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $each)))
    (local.get $n)"#,
    )
}

/// Chain edits reach the worker as one layout between bursts: the stages
/// kept keep their instance (a stateful counter carries on rather than
/// restarting), new ones start fresh, every packet comes out once and in
/// order, applying it allocates nothing on the worker, and a plan naming
/// a stage that is not there is refused before anything is sent.
#[test]
fn a_new_chain_layout_keeps_the_kept_stages_state_and_allocates_nothing_on_the_worker() {
    let count = Arc::new(spec(load(&counter_wat("count"))));
    let noop = Arc::new(spec(load(&wat("name=noop\\nversion=1\\n", NOOP))));
    let chains = vec![ChainSpec { selector: Selector::ALL, translators: vec![count.clone()] }];
    let (mut host, mut control) = WorkerHost::new(&chains, decode()).unwrap();
    let mut pool = BufPool::new(256);
    let mut next_id = 0u32;
    // One burst of 8 frames on eAxC 0, 1, 2, ...: (id, last byte) of each output.
    let mut run = |host: &mut WorkerHost, pool: &mut BufPool| {
        let frames: Vec<_> = (0..8u32).map(|i| frame((i % 3) as u16, next_id + i)).collect();
        next_id += 8;
        let mut b = burst_of(pool, &frames);
        let before = allocs();
        let r = host.process(&mut b, pool);
        let allocated = allocs() - before;
        let out: Vec<(u32, u8)> = b.packets().iter().map(|p| (id_of(p.data()), *p.data().last().unwrap())).collect();
        b.recycle(pool);
        (r, out, allocated)
    };
    let (_, out, _) = run(&mut host, &mut pool);
    assert_eq!(out.iter().map(|o| o.1).collect::<Vec<_>>(), (1..=8).collect::<Vec<u8>>());
    // A new stage in front of the counter: the counter is kept, not rebuilt.
    let plan = vec![(Selector::ALL.flow_mask(), vec![StagePlan::New(Box::new(Translator::new(&noop).unwrap())), StagePlan::Keep { chain: 0, stage: 0 }])];
    control.relayout(plan).unwrap();
    assert_eq!(control.layout(), &[2]);
    let (r, out, allocated) = run(&mut host, &mut pool);
    assert_eq!(r.swapped, 1);
    assert_eq!(allocated, 0, "applying the layout allocated on the worker");
    assert_eq!(out.iter().map(|o| o.1).collect::<Vec<_>>(), (9..=16).collect::<Vec<u8>>(), "the kept counter carries on");
    assert_eq!(host.translator(0, 1).unwrap().name(), "count");
    // A chain for eAxC 1 in front, with a fresh counter; the old chain
    // (its noop removed) takes the rest and keeps counting.
    let eaxc1 = Selector { eaxc_value: 1, eaxc_mask: 0xFFFF, ..Selector::ALL };
    let plan = vec![
        (eaxc1.flow_mask(), vec![StagePlan::New(Box::new(Translator::new(&count).unwrap()))]),
        (Selector::ALL.flow_mask(), vec![StagePlan::Keep { chain: 0, stage: 1 }]),
    ];
    control.relayout(plan).unwrap();
    let (_, out, allocated) = run(&mut host, &mut pool);
    assert_eq!(allocated, 0);
    // Frames 16..24 are the burst's 0..8, on eAxC 0, 1, 2, 0, 1, 2, 0, 1.
    let on_1: Vec<u8> = out.iter().filter(|o| o.0 % 8 % 3 == 1).map(|o| o.1).collect();
    let others: Vec<u8> = out.iter().filter(|o| o.0 % 8 % 3 != 1).map(|o| o.1).collect();
    assert_eq!((on_1, others), (vec![1, 2, 3], vec![17, 18, 19, 20, 21]));
    assert_eq!(out.iter().map(|o| o.0).collect::<Vec<_>>(), (16..24).collect::<Vec<u32>>(), "every packet once, in order");
    // Refused on the control thread: a stage that is not there, or kept twice.
    let swaps = host.swaps();
    let bad = vec![(Selector::ALL.flow_mask(), vec![StagePlan::Keep { chain: 5, stage: 0 }])];
    assert!(matches!(control.relayout(bad), Err(SwapError::NoSuchStage { chain: 5, stage: 0 })));
    let twice = vec![(Selector::ALL.flow_mask(), vec![StagePlan::Keep { chain: 1, stage: 0 }, StagePlan::Keep { chain: 1, stage: 0 }])];
    assert!(control.relayout(twice).is_err());
    assert_eq!(control.layout(), &[1, 1]);
    let (r, _, _) = run(&mut host, &mut pool);
    assert_eq!((r.swapped, host.swaps()), (0, swaps), "nothing was sent");
    // What the worker gave back (the old chains, the removed noop) is unloaded here.
    assert!(control.reap() >= 2);
}
