//! `fhgate ctl`: a thin client of a running gateway's control API (see
//! the README), with text output for people and `--json` for scripts.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::{Args, Subcommand};
use fhgate::config::ControlListen;
use fhgate::control::client;
use serde_json::Value;

/// Arguments of `ctl`.
#[derive(Args, Debug)]
pub struct CtlArgs {
    /// The control API: `127.0.0.1:9101` or `unix:/run/fhgate.sock`.
    #[arg(long, default_value = "127.0.0.1:9101")]
    pub connect: String,
    /// A file holding the bearer token for mutating calls.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Print the API's JSON reply as it came.
    #[arg(long)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub what: CtlCommand,
}

/// `ctl` subcommands.
#[derive(Subcommand, Debug)]
pub enum CtlCommand {
    /// Version, uptime, ports, flows, translators and chains.
    Status,
    /// Load (compile and initialise) a translator as NAME; nothing is cut over.
    Load {
        /// Its name (a new one, or a new version of a loaded one).
        name: String,
        /// The .wasm (or .wat) module.
        path: PathBuf,
        /// Its config as key=value pairs (values in TOML syntax), comma-separated.
        #[arg(long, default_value = "")]
        config: String,
        /// Send the module's bytes rather than its path (for a gateway on another host's files).
        #[arg(long)]
        upload: bool,
        /// Its deadline per burst in µs.
        #[arg(long)]
        deadline_us: Option<u64>,
    },
    /// Cut a chain stage over to a loaded translator.
    Swap {
        /// Chain index.
        chain: usize,
        /// Stage index.
        stage: usize,
        /// A loaded translator's name.
        translator: String,
        /// Its version (default: the newest).
        #[arg(long)]
        version: Option<usize>,
    },
    /// A new instance of NAME with this config, initialised, then cut over where NAME runs.
    Config {
        /// A loaded translator's name.
        name: String,
        /// key=value pairs (values in TOML syntax), comma-separated.
        pairs: String,
    },
    /// Cut a chain stage back to what it ran before its last swap.
    Rollback {
        /// Chain index.
        chain: usize,
        /// Stage index.
        stage: usize,
    },
}

/// `key=value,...` (TOML values) as a JSON object.
fn config_object(pairs: &str) -> Result<Value> {
    let pairs = fhgate::translate::parse_config_pairs(pairs).map_err(|e| anyhow!("config: {e}"))?;
    let text: String = pairs.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
    let table: toml::Table = toml::from_str(&text).map_err(|e| anyhow!("config: {}", e.message()))?;
    Ok(serde_json::to_value(table)?)
}

fn percent_encode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

pub fn run(a: CtlArgs) -> Result<ExitCode> {
    let addr = ControlListen::parse(&a.connect).map_err(|e| anyhow!("--connect: {e}"))?;
    let token = match &a.token_file {
        Some(p) => Some(std::fs::read_to_string(p).with_context(|| format!("--token-file: cannot read {}", p.display()))?.trim().to_string()),
        None => None,
    };
    let json = |v: Value| v.to_string().into_bytes();
    let (method, path, ctype, body) = match &a.what {
        CtlCommand::Status => ("GET", "/v1/status".to_string(), "", Vec::new()),
        CtlCommand::Load { name, path, config, upload: true, deadline_us } => {
            let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            let mut q = format!("name={}&config={}", percent_encode(name), percent_encode(&config_object(config)?.to_string()));
            if let Some(d) = deadline_us {
                q += &format!("&deadline_us={d}");
            }
            ("POST", format!("/v1/translators?{q}"), "application/wasm", bytes)
        }
        CtlCommand::Load { name, path, config, upload: false, deadline_us } => {
            // The gateway reads the path: make it absolute from here.
            let path = std::path::absolute(path).with_context(|| format!("{}", path.display()))?;
            let mut v = serde_json::json!({ "name": name, "path": path, "config": config_object(config)? });
            if let Some(d) = deadline_us {
                v["deadline_us"] = (*d).into();
            }
            ("POST", "/v1/translators".to_string(), "application/json", json(v))
        }
        CtlCommand::Swap { chain, stage, translator, version } => {
            let mut v = serde_json::json!({ "translator": translator });
            if let Some(n) = version {
                v["version"] = (*n).into();
            }
            ("POST", format!("/v1/chains/{chain}/stages/{stage}"), "application/json", json(v))
        }
        CtlCommand::Config { name, pairs } => {
            ("POST", format!("/v1/translators/{}/config", percent_encode(name)), "application/json", json(serde_json::json!({ "config": config_object(pairs)? })))
        }
        CtlCommand::Rollback { chain, stage } => ("POST", format!("/v1/chains/{chain}/stages/{stage}/rollback"), "application/json", Vec::new()),
    };
    let r = client::request(&addr, method, &path, ctype, &body, token.as_deref())?;
    let v: Value = serde_json::from_slice(&r.body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&r.body).into_owned()));
    if a.json {
        println!("{v}");
    } else if r.status == 200 {
        print_text(&a.what, &v);
    }
    if r.status != 200 {
        let msg = v["error"].as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
        eprintln!("fhgate ctl: {} {}: {msg}", r.status, path);
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn cutover(v: &Value) -> String {
    match v["cutover_us"].as_u64() {
        Some(us) => format!("cut over on {} workers in {us} µs", v["workers"]),
        None => format!("sent to {} workers; not every worker has run a burst since", v["workers"]),
    }
}

fn print_text(what: &CtlCommand, v: &Value) {
    match what {
        CtlCommand::Status => {
            println!("fhgate {} up {:.1} s", v["version"].as_str().unwrap_or("?"), v["uptime_s"].as_f64().unwrap_or(0.0));
            for c in v["chains"].as_array().into_iter().flatten() {
                println!("chain {} ({})", c["chain"], c["select"].as_str().unwrap_or(""));
                for s in c["stages"].as_array().into_iter().flatten() {
                    let k = &s["counters"];
                    println!(
                        "  stage {}: {} v{} (rollbacks {}) calls {} packets {} faults {}",
                        s["stage"], s["translator"].as_str().unwrap_or(""), s["version"], s["rollbacks_available"], k["calls"], k["packets_in"], k["faults"]
                    );
                }
            }
            for t in v["translators"].as_array().into_iter().flatten() {
                for ver in t["versions"].as_array().into_iter().flatten() {
                    println!("translator {} v{}: {} {} hash {}", t["name"].as_str().unwrap_or(""), ver["version"], ver["module"].as_str().unwrap_or(""), ver["source"].as_str().unwrap_or(""), ver["hash"].as_str().unwrap_or(""));
                }
            }
            for f in v["flows"].as_array().into_iter().flatten() {
                println!("flow {} {} eaxc {}: {} in, {} out", f["direction"].as_str().unwrap_or(""), f["plane"].as_str().unwrap_or(""), f["eaxc"], f["packets_in"], f["packets_out"]);
            }
        }
        CtlCommand::Load { .. } => println!("loaded {} v{} (hash {})", v["name"].as_str().unwrap_or(""), v["version"], v["hash"].as_str().unwrap_or("")),
        CtlCommand::Swap { .. } | CtlCommand::Rollback { .. } => {
            println!("chain {} stage {}: {} v{}, {}", v["chain"], v["stage"], v["translator"].as_str().unwrap_or(""), v["version"], cutover(&v["cutover"]))
        }
        CtlCommand::Config { .. } => {
            println!("{} v{}", v["name"].as_str().unwrap_or(""), v["version"]);
            for s in v["stages"].as_array().into_iter().flatten() {
                println!("  chain {} stage {}: {}", s["chain"], s["stage"], cutover(&s["cutover"]));
            }
        }
    }
}
