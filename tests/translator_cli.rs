//! `fhgate translator check`, run as a user would: the real binary on
//! good modules (WAT and binary) and on every load-time hostile
//! translator of translators/hostile/.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn check(file: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fhgate"))
        .args(["translator", "check"])
        .arg(file)
        .args(extra)
        .output()
        .expect("fhgate runs")
}

fn hostile(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../translators/hostile")
        .join(format!("{name}.wat"))
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Sets the last byte of every U-plane DL packet to 0x5A; init fails with
/// code 3 unless the configuration is exactly "mark=0x5a\n".
const STAMP: &str = r#"(module
  (memory (export "memory") 34)
  (data (i32.const 16) "mark=0x5a\n")
  (func (export "fhgate_abi_version") (result i32) (i32.const 2))
  (func (export "fhgate_io") (result i32) (i32.const 65536))
  (func (export "fhgate_init") (param $p i32) (param $l i32) (result i32)
    (if (i32.ne (local.get $l) (i32.const 10)) (then (return (i32.const 3))))
    (if (i64.ne (i64.load (local.get $p)) (i64.load (i32.const 16))) (then (return (i32.const 3))))
    (i32.const 0))
  (func (export "fhgate_process") (param $n i32) (result i32)
    (local $j i32) (local $d i32)
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $j) (local.get $n)))
      (local.set $d (i32.add (i32.const 65600) (i32.mul (local.get $j) (i32.const 64))))
      (i32.store8 (i32.add (i32.const 65535) (i32.add (i32.load (local.get $d)) (i32.load offset=4 (local.get $d)))) (i32.const 0x5a))
      (i32.store8 offset=12 (local.get $d) (i32.const 2))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $each)))
    (local.get $n))
  (func (export "fhgate_unload"))
  (@custom "fhgate.meta" "name=stamp\nversion=0.1.0\nplanes=u\ndirections=dl\n")
)"#;

#[test]
fn a_good_module_passes_as_wat_and_as_wasm() {
    let dir = tempfile::tempdir().unwrap();
    let wat_path = dir.path().join("stamp.wat");
    std::fs::write(&wat_path, STAMP).unwrap();
    let wasm_path = dir.path().join("stamp.wasm");
    std::fs::write(&wasm_path, wat::parse_str(STAMP).unwrap()).unwrap();
    for p in [&wat_path, &wasm_path] {
        let o = check(p, &["--config", "mark=0x5a"]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{out}\n{err}");
        assert!(
            out.contains("ABI v2: exports ok (with fhgate_unload), imports: none"),
            "{out}"
        );
        assert!(
            out.contains("metadata: name=stamp version=0.1.0 planes=u directions=dl types=any"),
            "{out}"
        );
        // Only the DL U-plane samples run; the rest bypass it.
        assert!(
            out.contains("samples: ") && out.contains(" bypass it)"),
            "{out}"
        );
        assert!(
            out.contains("uplane-bfp-9-hdr") && out.contains("MODIFIED"),
            "{out}"
        );
        assert!(
            !out.contains("cplane-st1 "),
            "C-plane samples bypass: {out}"
        );
        assert!(out.contains("faults: 0"), "{out}");
        assert!(out.contains("time per packet: "), "{out}");
        assert!(
            out.ends_with("ok: stamp 0.1.0 passes the ABI v2 check\n"),
            "{out}"
        );
    }
}

#[test]
fn init_failure_with_the_wrong_config_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("stamp.wat");
    std::fs::write(&p, STAMP).unwrap();
    let o = check(&p, &["--config", "mark=1"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("fhgate_init returned error code 3"), "{err}");
}

#[test]
fn load_time_hostiles_fail_naming_the_problem() {
    for (name, want) in [
        (
            "forbidden_import",
            vec!["forbidden import `wasi_snapshot_preview1.fd_write`"],
        ),
        (
            "wrong_signature",
            vec![
                "export `fhgate_process` has signature (func (param i64) (result i32))",
                "ABI v2 wants (func (param i32) (result i32))",
            ],
        ),
        (
            "wrong_abi_version",
            vec![
                "fhgate_abi_version returned 1",
                "rebuild it with the current SDK",
            ],
        ),
    ] {
        let o = check(&hostile(name), &[]);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{name}: {out}\n{err}");
        for w in want {
            assert!(err.contains(w), "{name}: {err}");
        }
        assert!(err.starts_with("fhgate: translator check: "), "{err}");
    }
}

#[test]
fn runtime_hostiles_fail_with_the_fault() {
    for (name, config, want) in [
        ("unreachable", "", "wasm `unreachable` instruction executed"),
        ("oob_store", "", "out of bounds memory access"),
        ("infinite_loop", "", "missed its deadline"),
        (
            "garbage_output",
            "mode=verdict",
            "bad output: descriptor 0 has verdict 9",
        ),
        ("memory_grow", "", "out of bounds memory access"),
    ] {
        let o = check(
            &hostile(name),
            &["--config", config, "--deadline-us", "2000"],
        );
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{name}: {out}\n{err}");
        assert!(
            err.contains("faulted on ") && err.contains(want),
            "{name}: {err}"
        );
        assert!(out.contains("FAULT"), "{name}: {out}");
    }
}

#[test]
fn native_code_and_missing_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.cwasm");
    std::fs::write(&p, b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0").unwrap();
    let o = check(&p, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o)
        .1
        .contains("precompiled modules are never accepted"));
    let o = check(&dir.path().join("missing.wasm"), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("cannot read"));
}

fn built(name: &str) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let st = Command::new(repo.join("scripts/build-translators"))
        .current_dir(&repo)
        .status()
        .expect("build-translators runs");
    assert!(st.success(), "scripts/build-translators failed");
    repo.join("target/translators").join(format!("{name}.wasm"))
}

#[test]
fn a_failed_init_says_why_as_replay_does() {
    // bfp_width requires in_width and out_width; its SDK init logs which key is wrong.
    let o = check(&built("bfp_width"), &[]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("fhgate_init returned error code 1")
            && err.contains("config key `in_width`: missing"),
        "{err}"
    );
    let o = check(
        &built("bfp_width"),
        &["--config", "in_width=8,out_width=99"],
    );
    let (_, err) = text(&o);
    assert!(err.contains("config key `out_width`"), "{err}");
}

#[test]
fn the_config_keys_a_translator_reads_are_listed() {
    let o = check(
        &built("bfp_width"),
        &["--config", "in_width=8,out_width=12"],
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    // Given and defaulted keys alike, in the order init looked them up.
    let line = out
        .lines()
        .find(|l| l.contains("config keys it reads:"))
        .unwrap_or_else(|| panic!("{out}"));
    for k in ["in_width", "out_width", "on_error", "direction"] {
        assert!(line.contains(k), "{line}");
    }
    // A module without the optional import still loads, and the check says the keys are not known.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("stamp.wat");
    std::fs::write(&p, STAMP).unwrap();
    let (out, _) = text(&check(&p, &["--config", "mark=0x5a"]));
    assert!(out.contains("config keys it reads: not reported"), "{out}");
}

#[test]
fn limits_outside_their_range_are_refused_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("stamp.wat");
    std::fs::write(&p, STAMP).unwrap();
    // 2^44 MiB would wrap to a cap of 0 bytes; a 0 µs deadline faults every sample.
    for (flag, v) in [
        ("--memory-mib", "0"),
        ("--memory-mib", "17592186044416"),
        ("--deadline-us", "0"),
    ] {
        let o = check(&p, &["--config", "mark=0x5a", flag, v]);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{flag} {v}: {err}");
        assert!(err.contains(flag), "{flag} {v}: {err}");
    }
}
