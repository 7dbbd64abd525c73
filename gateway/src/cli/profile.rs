//! `fhgate profile learn CAPTURE... [-o FILE]`: writes an interop profile
//! (one side's keys and what its traffic showed) from captures alone.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use fhgate::io::pcap;
use fhgate::profile::{render, Learner};

/// Arguments of `profile`.
#[derive(Args, Debug)]
pub struct ProfileArgs {
    #[command(subcommand)]
    command: ProfileCommand,
}

#[derive(Subcommand, Debug)]
enum ProfileCommand {
    /// Infer one side's profile from what it sends; no decode flags needed.
    Learn(LearnArgs),
}

/// Arguments of `profile learn`.
#[derive(Args, Debug)]
struct LearnArgs {
    /// Captures of one side's traffic (pcap or pcapng).
    #[arg(required = true)]
    captures: Vec<PathBuf>,
    /// Write the profile here (refuses an existing file); default: standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub fn run(a: ProfileArgs) -> Result<ExitCode> {
    let ProfileCommand::Learn(a) = a.command;
    if let Some(o) = &a.output {
        // A profile is often hand-edited afterwards: never overwrite one.
        anyhow::ensure!(!o.exists(), "{} exists; not overwriting it (remove it or choose another -o)", o.display());
    }
    let mut learner = Learner::default();
    let mut sources = Vec::new();
    for path in &a.captures {
        let capture = pcap::read(path)?;
        if let Some(c) = &capture.cut_short {
            eprintln!("fhgate: warning: {}: file cut short: {c}; learning from the frames before it", path.display());
        }
        sources.push(format!("{} ({} frames)", path.display(), capture.frames.len()));
        for f in &capture.frames {
            learner.add(&f.data, f.timestamp);
        }
    }
    let (profile, ev) = learner.finish().with_context(|| format!("learning from {}", a.captures.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")))?;
    for w in profile.learned.iter().flat_map(|l| &l.warnings) {
        eprintln!("fhgate: warning: {w}");
    }
    let text = render::to_toml(&profile, &ev, &sources)?;
    match &a.output {
        Some(o) => fhgate::io::output::write_new(o, text.as_bytes())?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
