//! `fhgate bench compare A.json B.json` (filled in by a later step).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Result};

/// Shows two runs side by side.
pub fn run(_a: &Path, _b: &Path) -> Result<ExitCode> {
    bail!("bench compare: not yet")
}
