//! ecpri's wasm32 simd128 IQ kernels, checked in a real wasm runtime:
//! `translators/selftest/iq_selftest` (built by scripts/build-translators
//! into target/translators/iq_selftest.wasm) compares every simd128 BFP
//! path against the scalar reference over all widths and width pairs, in
//! both rounding modes, on random and extreme PRBs and random wire bytes
//! (every exponent 0–15), and returns the number of mismatches. Here it
//! runs in plain wasmtime: no fhgate host, no imports.

use std::path::PathBuf;
use std::process::Command;

use wasmtime::{Config, Engine, Instance, Module, OptLevel, Store};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// target/translators/iq_selftest.wasm, rebuilt first when its sources
/// changed. A failed build fails the test: a module built earlier may not
/// match the sources.
fn module_path() -> PathBuf {
    let path = root().join("target/translators/iq_selftest.wasm");
    let status = Command::new(root().join("scripts/build-translators"))
        .current_dir(root())
        .status();
    match status {
        Ok(s) if s.success() => {}
        r => panic!(
            "scripts/build-translators failed ({r:?}): {} would be stale",
            path.display()
        ),
    }
    path
}

/// The decoded `first_mismatch` export: which check, mode, and its two numbers.
fn describe(first: i32) -> String {
    let check = [
        "",
        "compress",
        "decompress",
        "bfp_recompress",
        "fused kernel",
    ];
    let (c, a, b) = (
        ((first >> 16) & 0xFF) as usize,
        (first >> 8) & 0xFF,
        first & 0xFF,
    );
    let mode = if first >> 24 == 1 {
        "nearest"
    } else {
        "truncate"
    };
    format!("{} {mode} {a} -> {b}", check.get(c).copied().unwrap_or("?"))
}

#[test]
fn simd128_kernels_match_the_scalar_reference_in_wasmtime() {
    let path = module_path();
    let mut config = Config::new();
    // The gateway's code generation: Cranelift, optimised, simd128 on.
    config.cranelift_opt_level(OptLevel::Speed).wasm_simd(true);
    let engine = Engine::new(&config).expect("engine");
    let module = Module::from_file(&engine, &path).expect("iq_selftest.wasm");
    assert_eq!(module.imports().count(), 0, "the self-test imports nothing");
    let wasm = std::fs::read(&path).expect("read iq_selftest.wasm");
    assert!(
        uses_simd128(&wasm),
        "iq_selftest.wasm was built without simd128: it would test the scalar paths only"
    );
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).expect("instantiate");
    let run = instance
        .get_typed_func::<(), i32>(&mut store, "run")
        .expect("export run");
    let first = instance
        .get_typed_func::<(), i32>(&mut store, "first_mismatch")
        .expect("export first_mismatch");
    let mismatches = run.call(&mut store, ()).expect("run traps");
    let f = first.call(&mut store, ()).expect("first_mismatch");
    assert_eq!(mismatches, 0, "first: {}", describe(f));
    assert_eq!(f, -1);
}

/// Whether the module's code loads a v128 and shuffles bytes, as the
/// simd128 kernels do (a build without simd128 has neither).
fn uses_simd128(wasm: &[u8]) -> bool {
    use wasmparser::{Operator, Parser, Payload};
    let (mut load, mut shuffle) = (false, false);
    for payload in Parser::new(0).parse_all(wasm) {
        let Ok(Payload::CodeSectionEntry(body)) = payload else {
            continue;
        };
        let Ok(mut ops) = body.get_operators_reader() else {
            continue;
        };
        while let Ok(op) = ops.read() {
            load |= matches!(op, Operator::V128Load { .. });
            shuffle |= matches!(op, Operator::I8x16Shuffle { .. } | Operator::I8x16Swizzle);
            if ops.eof() {
                break;
            }
        }
    }
    load && shuffle
}
