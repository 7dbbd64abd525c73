//! `fhgate`: the O-RAN fronthaul interop gateway. The command line lives
//! here; everything it drives is in the `fhgate` library (src/lib.rs).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
