//! The fhgate binary and the repository, as every CLI test reaches them.
#![allow(dead_code)] // each test file uses some of these

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (the workspace), where captures/ and scripts/ live.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Runs the fhgate binary under test from the repository root.
pub fn fhgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fhgate"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("fhgate runs")
}

/// Builds the example translators (once per tree; the script locks) and
/// returns their directory.
pub fn translators() -> PathBuf {
    let st = Command::new(repo().join("scripts/build-translators"))
        .current_dir(repo())
        .status()
        .expect("build-translators runs");
    assert!(st.success(), "scripts/build-translators failed");
    repo().join("target/translators")
}

/// A path as the `&str` an argument list takes.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Command output as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Writes `body` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

/// The two translators of the shipped DU→RU example, as `--translator`
/// arguments: `bfp_width` 8→12 bits and `eaxc_remap` 4,4,4,4→2,6,4,4.
pub fn widen_and_remap(translators: &Path) -> [String; 2] {
    [
        format!("{}:in_width=8,out_width=12", translators.join("bfp_width.wasm").display()),
        format!("{}:from=\"4,4,4,4\",to=\"2,6,4,4\"", translators.join("eaxc_remap.wasm").display()),
    ]
}

/// `fhgate replay INPUT -o OUTPUT` through [`widen_and_remap`], MTU 1500,
/// BFP 8 in and 12 out both ways, then `extra`.
pub fn replay_widen_and_remap(translators: &Path, input: &Path, output: &Path, extra: &[&str]) -> Output {
    let [bfp, remap] = widen_and_remap(translators);
    let mut args = vec!["replay", s(input), "-o", s(output), "--mtu", "1500", "--dl-comp", "bfp:8", "--ul-comp", "bfp:8"];
    args.extend(["--egress-dl-comp", "bfp:12", "--egress-ul-comp", "bfp:12", "--translator", &bfp, "--translator", &remap]);
    args.extend(extra);
    fhgate(&args)
}

/// `fhgate diff --json` of a DU capture `a` against what [`widen_and_remap`]
/// made of it (`b`: BFP 12, eAxC 2,6,4,4, matched in order), failing on any IQ error.
pub fn diff_widened(a: &Path, b: &Path) -> Output {
    fhgate(&[
        "diff", s(a), s(b), "--dl-comp", "bfp:8", "--ul-comp", "bfp:8", "--b-dl-comp", "bfp:12", "--b-ul-comp", "bfp:12",
        "--b-eaxc-bits", "2,6,4,4", "--match-eaxc", "order", "--fail-on-iq-error", "--json",
    ])
}
