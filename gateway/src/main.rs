//! `fhgate`: the O-RAN fronthaul interop gateway.

mod cli;
mod io;
mod traffic;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
