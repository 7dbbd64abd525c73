//! The command line: one file per subcommand.

/// `println!` for every subcommand: writes through [`out`], which never
/// panics (std's does on a closed pipe or a full disk). Defined before the
/// subcommand modules so that it is the `println!` they see.
macro_rules! println {
    () => { $crate::cli::out::write(format_args!(""), true) };
    ($($arg:tt)*) => { $crate::cli::out::write(format_args!($($arg)*), true) };
}

/// `print!` for every subcommand, through [`out`].
#[allow(unused_macros, reason = "kept beside println! so that no subcommand reaches std's panicking print!")]
macro_rules! print {
    ($($arg:tt)*) => { $crate::cli::out::write(format_args!($($arg)*), false) };
}

/// `eprintln!` for every subcommand: a failed write to standard error is ignored, never a panic.
macro_rules! eprintln {
    ($($arg:tt)*) => { $crate::cli::out::ewrite(format_args!($($arg)*)) };
}

mod out;

mod bench;
mod ctl;
mod decode_args;
mod diff;
mod gen;
mod inspect;
mod inspect_iq;
mod owd;
mod plan;
mod profile;
mod replay;
mod replay_profiles;
mod run;
mod run_ports;
mod seq_report;
mod sink;
mod timing;
mod translator;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use decode_args::DecodeArgs;

/// `DL` for dataDirection 1, `UL` for 0, as every report prints it.
fn dir_name(data_direction: u8) -> &'static str {
    if data_direction == 1 {
        "DL"
    } else {
        "UL"
    }
}

/// An eAxC ID's fields under `layout`: `DU:BS:CC:RU`.
fn eaxc_fields(id: u16, layout: &ecpri::EaxcLayout) -> String {
    let e = layout.split(id);
    format!("{}:{}:{}:{}", e.du_port, e.band_sector, e.cc, e.ru_port)
}

/// The U- or C-plane flow of a frame that does not decode, when its eCPRI
/// common header and eAxC ID are still readable: plane (`U`/`C`),
/// dataDirection, eAxC ID and VLAN ID.
fn raw_flow(frame: &[u8], udp_port: Option<u16>) -> Option<(&'static str, u8, u16, Option<u16>)> {
    let loc = ecpri::frame::locate(frame, udp_port).ok()?;
    let b = frame.get(loc.ecpri?)?;
    if b.len() < 9 || !matches!(b[1], 0 | 2) {
        return None;
    }
    let plane = if b[1] == 0 { "U" } else { "C" };
    Some((plane, b[8] >> 7, u16::from_be_bytes([b[4], b[5]]), loc.vid))
}

/// O-RAN 7.2x fronthaul interop gateway.
#[derive(Parser, Debug)]
#[command(name = "fhgate", version, about)]
struct Cli {
    /// Log lines on standard error: `text` or `json`.
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: fhgate::logging::LogFormat,
    /// Most detailed log level: error, warn, info, debug or trace.
    #[arg(long, global = true, default_value = "info")]
    log_level: tracing::Level,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Decode every frame of a pcap/pcapng file, as text or JSON lines.
    Inspect(inspect::InspectArgs),
    /// Generate a 7.2x DU or RU stream for a carrier, into a pcap file or out of a live port.
    Gen(gen::GenArgs),
    /// Receive a 7.2x stream on a port (or from a capture): validate and count every frame, measure IQ error.
    Sink(sink::SinkArgs),
    /// Compare two captures flow by flow: PRBs matched, field differences, IQ error (EVM).
    Diff(diff::DiffArgs),
    /// Arrival of every C/U-plane message against its OTA time, from a site capture: per flow, windows, C-to-U advance.
    Timing(timing::TimingArgs),
    /// One-way delay towards a peer with eCPRI message type 5 (request, follow-up or remote request).
    Owd(owd::OwdArgs),
    /// Run the gateway as a configuration file describes it.
    Run(run::RunArgs),
    /// Talk to a running gateway's control API: status, load, swap, config, rollback.
    Ctl(ctl::CtlArgs),
    /// Replay a capture through translators and the pipeline into a new capture.
    Replay(replay::ReplayArgs),
    /// Work with WebAssembly translators (`translator check X.wasm`).
    Translator(translator::TranslatorArgs),
    /// Interop profiles: `profile learn CAPTURE...` infers one side's keys from its traffic.
    Profile(profile::ProfileArgs),
    /// Benchmark a device (RFC 2544 throughput, latency, integrity): `bench --tx PORT --rx PORT`, `bench compare A.json B.json`.
    Bench(bench::BenchArgs),
    /// Derive the translator chain from a DU and an RU profile, say how each difference is bridged, write a gateway config.
    Plan(plan::PlanArgs),
}

/// Exit codes: 0 success, 1 the input had errors (inspect found bad
/// frames), 2 usage or I/O failure. A closed standard output (`| head`)
/// ends a command quietly with the code it would have had (0 if it was cut
/// short); a full disk is an error.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    fhgate::logging::init(cli.log_format, cli.log_level);
    let json_logs = cli.log_format == fhgate::logging::LogFormat::Json;
    let r = match cli.command {
        Command::Inspect(a) => inspect::run(a),
        Command::Gen(a) => gen::run(a),
        Command::Sink(a) => sink::run(a),
        Command::Diff(a) => diff::run(a),
        Command::Replay(a) => replay::run(a),
        Command::Run(a) => run::run(a),
        Command::Ctl(a) => ctl::run(a),
        Command::Timing(a) => timing::run(a),
        Command::Owd(a) => owd::run(a),
        Command::Translator(a) => translator::run(a),
        Command::Profile(a) => profile::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Plan(a) => plan::run(a),
    };
    let flushed = out::finish();
    match (r, flushed) {
        (Ok(code), Ok(())) => code,
        (Err(e), _) if out::is_broken_pipe(&e) => ExitCode::SUCCESS,
        (Ok(code), Err(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => code,
        (Ok(_), Err(e)) => {
            if json_logs {
                tracing::error!("writing standard output: {e}");
            } else {
                eprintln!("fhgate: error: writing standard output: {e}");
            }
            ExitCode::from(2)
        }
        (Err(e), _) => {
            if json_logs {
                tracing::error!("{e:#}");
            } else {
                eprintln!("fhgate: error: {e:#}");
            }
            ExitCode::from(2)
        }
    }
}
