//! `fhgate plan --du du.toml --ru ru.toml [--translators DIR] [-o gw.toml]`:
//! derives the chain that takes the DU's format to the RU's (and the RU's
//! UL back to the DU's) from the translators available, prints one line
//! per difference and how it is bridged, and writes a complete gateway
//! configuration. A difference nothing bridges is named, with what would
//! bridge it; then nothing is written and the exit code is 1.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::Args;

use fhgate::config::profile::Profile;
use fhgate::plan::{derive, render, Available, Plan};
use fhgate::translate::{Runtime, RuntimeConfig};

/// Arguments of `plan`.
#[derive(Args, Debug)]
pub struct PlanArgs {
    /// The DU's profile (from `fhgate profile learn`, or written by hand).
    #[arg(long)]
    pub du: PathBuf,
    /// The RU's profile.
    #[arg(long)]
    pub ru: PathBuf,
    /// Where the translators are (every .wasm is read for its `plan` metadata); default: target/translators beside the fhgate binary.
    #[arg(long, value_name = "DIR")]
    pub translators: Option<PathBuf>,
    /// Write the gateway configuration here (refuses an existing file).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// The translators directory: `dir`, else `target/translators` beside the
/// binary (`target/release/fhgate` → `target/translators`).
pub fn translators_dir(dir: Option<&Path>) -> Result<PathBuf> {
    if let Some(d) = dir {
        return Ok(d.to_path_buf());
    }
    let exe = std::env::current_exe().context("finding the fhgate binary")?;
    let guess = exe.parent().and_then(Path::parent).map(|t| t.join("translators"));
    match guess {
        Some(g) if g.is_dir() => Ok(g),
        _ => Err(anyhow!("no translators directory beside {} (build them with scripts/build-translators, or give --translators DIR)", exe.display())),
    }
}

/// Loads the DU and RU profiles and the translators, and derives the plan.
pub fn make_plan(du: &Path, ru: &Path, dir: Option<&Path>) -> Result<(Profile, Profile, Plan)> {
    let (pdu, pru) = (Profile::load(du)?, Profile::load(ru)?);
    let dir = translators_dir(dir)?;
    let rt = Runtime::new(RuntimeConfig::default()).map_err(|e| anyhow!("{e}"))?;
    let (avail, warnings) = Available::load_dir(&rt, &dir).map_err(|e| anyhow!("{e}"))?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    let plan = derive(&pdu, &pru, &avail);
    Ok((pdu, pru, plan))
}

pub fn run(a: PlanArgs) -> Result<ExitCode> {
    if let Some(o) = &a.output {
        anyhow::ensure!(!o.exists(), "{} exists; not overwriting it (remove it or choose another -o)", o.display());
    }
    let (_, _, plan) = make_plan(&a.du, &a.ru, a.translators.as_deref())?;
    println!("plan: {} (DU) -> {} (RU)", a.du.display(), a.ru.display());
    if plan.lines.is_empty() {
        println!("  the profiles agree: nothing to bridge");
    }
    for l in &plan.lines {
        println!("  {}", plan.line_text(l));
    }
    let unbridged = plan.unbridged().count();
    if unbridged > 0 {
        println!("plan: {unbridged} difference(s) nothing available bridges{}", if a.output.is_some() { "; no configuration written" } else { "" });
        return Ok(ExitCode::from(1));
    }
    println!("plan: DL chain [{}], UL chain [{}]", names(&plan.dl), names(&plan.ul));
    if let Some(o) = &a.output {
        let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let text = render::to_toml(&plan, &abs(&a.du), &abs(&a.ru));
        fhgate::io::output::write_new(o, text.as_bytes())?;
        println!("plan: wrote {}", o.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn names(steps: &[fhgate::plan::Step]) -> String {
    steps.iter().map(|s| s.stage.name.clone()).collect::<Vec<_>>().join(", ")
}
