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
