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
    /// `config NAME PAIRS`: a new instance of NAME with this config,
    /// initialised, then cut over where NAME runs. `config save PATH`:
    /// write the running configuration as TOML `run -c` accepts.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Config {
        /// A loaded translator's name.
        #[arg(required = true)]
        name: Option<String>,
        /// key=value pairs (values in TOML syntax), comma-separated.
        #[arg(required = true)]
        pairs: Option<String>,
        /// `save PATH [--force]`.
        #[command(subcommand)]
        save: Option<ConfigSave>,
    },
    /// Add, remove or reorder chains, or a chain's stages.
    Chain {
        /// What to change.
        #[command(subcommand)]
        edit: ChainCmd,
    },
    /// Cut a chain stage back to what it ran before its last swap.
    Rollback {
        /// Chain index.
        chain: usize,
        /// Stage index.
        stage: usize,
    },
    /// Run a candidate beside the active chains on a copy of some traffic, compare, promote or abort.
    Canary {
        /// start, status, promote or abort.
        #[command(subcommand)]
        call: CanaryCmd,
    },
}

/// `ctl canary ...`.
#[derive(Subcommand, Debug)]
pub enum CanaryCmd {
    /// Start a canary: TRANSLATOR at `--at CHAIN,STAGE`, or TRANSLATOR's `--config PAIRS` wherever it runs.
    Start {
        /// A loaded translator's name.
        translator: String,
        /// The stage it would replace: CHAIN,STAGE.
        #[arg(long, conflicts_with = "config")]
        at: Option<String>,
        /// Its version (default: the newest).
        #[arg(long)]
        version: Option<usize>,
        /// A new config for TRANSLATOR (key=value pairs, comma-separated) instead of a stage swap.
        #[arg(long)]
        config: Option<String>,
        /// Copy one packet in N: `1/N` (default 1/16).
        #[arg(long, conflicts_with = "flows")]
        sample: Option<String>,
        /// Copy every packet of these eAxC IDs (comma-separated, decimal or 0x hex).
        #[arg(long)]
        flows: Option<String>,
        /// Promotion criteria, e.g. `fields<=udCompHdrWidth,evm<=-60,faults=0,packets>=10000`.
        #[arg(long)]
        promote_when: Option<String>,
        /// Promote when the criteria hold, abort when they cannot.
        #[arg(long)]
        auto: bool,
        /// Compare a candidate the profiles refuse (it can be aborted, never promoted).
        #[arg(long)]
        compare_only: bool,
    },
    /// The comparison so far (or the last canary's outcome).
    Status,
    /// Cut the candidate over (between bursts, nothing lost), and stop.
    Promote,
    /// Stop; the active chains are untouched.
    Abort,
}

/// The request of a `ctl canary` command.
fn canary_request(call: &CanaryCmd) -> Result<(&'static str, String, Vec<u8>)> {
    use serde_json::json;
    Ok(match call {
        CanaryCmd::Start { translator, at, version, config, sample, flows, promote_when, auto, compare_only } => {
            let mut v = json!({ "translator": translator, "auto": auto, "compare_only": compare_only });
            match (at, config) {
                (Some(at), None) => {
                    let (c, s) = at.split_once(',').filter(|(_, s)| !s.contains(',')).ok_or_else(|| anyhow!("--at: `{at}`: expected CHAIN,STAGE (two indices)"))?;
                    let idx = |x: &str, what: &str| x.trim().parse::<usize>().map_err(|_| anyhow!("--at: `{at}`: {what} `{}` is not an index", x.trim()));
                    (v["chain"], v["stage"]) = (idx(c, "CHAIN")?.into(), idx(s, "STAGE")?.into());
                }
                (None, Some(pairs)) => v["config"] = config_object(pairs)?,
                _ => return Err(anyhow!("canary start: give --at CHAIN,STAGE or --config PAIRS")),
            }
            if let Some(n) = version {
                v["version"] = (*n).into();
            }
            if let Some(s) = sample {
                v["sample"] = s.clone().into();
            }
            if let Some(f) = flows {
                let ids = f
                    .split(',')
                    .map(|x| {
                        let x = x.trim();
                        let r = match x.strip_prefix("0x") {
                            Some(h) => u16::from_str_radix(h, 16),
                            None => x.parse(),
                        };
                        r.map_err(|_| anyhow!("--flows: `{x}` is not an eAxC ID"))
                    })
                    .collect::<Result<Vec<u16>>>()?;
                v["flows"] = ids.into();
            }
            if let Some(p) = promote_when {
                v["promote_when"] = p.clone().into();
            }
            ("POST", "/v1/canary".into(), v.to_string().into_bytes())
        }
        CanaryCmd::Status => ("GET", "/v1/canary".into(), Vec::new()),
        CanaryCmd::Promote => ("POST", "/v1/canary/promote".into(), Vec::new()),
        CanaryCmd::Abort => ("POST", "/v1/canary/abort".into(), Vec::new()),
    })
}

/// `ctl chain ...`.
#[derive(Subcommand, Debug)]
pub enum ChainCmd {
    /// A new chain: its selector and translators (NAME or NAME@VERSION, comma-separated).
    Add {
        /// Selector, e.g. `dir=dl,eaxc=0x1000/0xf000`.
        select: String,
        /// Translators in order, comma-separated.
        translators: String,
        /// Its index (default: last).
        #[arg(long)]
        at: Option<usize>,
    },
    /// Remove a chain.
    Remove {
        /// Chain index.
        chain: usize,
    },
    /// Put the chains in a new order: the current indices, comma-separated, in their new order.
    Order {
        /// e.g. `1,0`.
        order: String,
    },
    /// A new stage in a chain.
    AddStage {
        /// Chain index.
        chain: usize,
        /// A loaded translator's name.
        translator: String,
        /// Its index in the chain (default: last).
        #[arg(long)]
        at: Option<usize>,
        /// Its version (default: the newest).
        #[arg(long)]
        version: Option<usize>,
    },
    /// Remove a stage from a chain.
    RemoveStage {
        /// Chain index.
        chain: usize,
        /// Stage index.
        stage: usize,
    },
    /// Put a chain's stages in a new order.
    OrderStages {
        /// Chain index.
        chain: usize,
        /// The current stage indices, comma-separated, in their new order.
        order: String,
    },
}

/// `1,0,2` as indices.
fn indices(s: &str) -> Result<Vec<usize>> {
    s.split(',').map(|i| i.trim().parse().map_err(|_| anyhow!("order: `{i}` is not an index"))).collect()
}

/// The request of a `ctl chain` command.
fn chain_request(edit: &ChainCmd) -> Result<(&'static str, String, Vec<u8>)> {
    use serde_json::json;
    Ok(match edit {
        ChainCmd::Add { select, translators, at } => {
            let list: Vec<Value> = translators
                .split(',')
                .map(|t| match t.trim().split_once('@') {
                    Some((n, v)) => v.parse::<usize>().map(|v| json!({ "name": n, "version": v })).map_err(|_| anyhow!("translators: `{t}`: the version after @ is a number")),
                    None => Ok(json!(t.trim())),
                })
                .collect::<Result<_>>()?;
            let mut v = json!({ "select": select, "translators": list });
            if let Some(a) = at {
                v["at"] = (*a).into();
            }
            ("POST", "/v1/chains".into(), v.to_string().into_bytes())
        }
        ChainCmd::Remove { chain } => ("DELETE", format!("/v1/chains/{chain}"), Vec::new()),
        ChainCmd::Order { order } => ("POST", "/v1/chains/order".into(), json!({ "order": indices(order)? }).to_string().into_bytes()),
        ChainCmd::AddStage { chain, translator, at, version } => {
            let mut v = json!({ "translator": translator });
            if let Some(a) = at {
                v["at"] = (*a).into();
            }
            if let Some(n) = version {
                v["version"] = (*n).into();
            }
            ("POST", format!("/v1/chains/{chain}/stages"), v.to_string().into_bytes())
        }
        ChainCmd::RemoveStage { chain, stage } => ("DELETE", format!("/v1/chains/{chain}/stages/{stage}"), Vec::new()),
        ChainCmd::OrderStages { chain, order } => ("POST", format!("/v1/chains/{chain}/order"), json!({ "order": indices(order)? }).to_string().into_bytes()),
    })
}

/// `ctl config save`.
#[derive(Subcommand, Debug)]
pub enum ConfigSave {
    /// Write the running configuration to PATH (a .toml file; never replaced unless --force).
    Save {
        /// Where (on the gateway's host).
        path: PathBuf,
        /// Replace PATH if it exists.
        #[arg(long)]
        force: bool,
    },
}

/// `key=value,...` (TOML values) as a JSON object.
fn config_object(pairs: &str) -> Result<Value> {
    let pairs = fhgate::translate::parse_config_pairs(pairs).map_err(|e| anyhow!("config: {e}"))?;
    let table = fhgate::config::unflatten_pairs(&pairs).map_err(|e| anyhow!("{e}"))?;
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
        CtlCommand::Config { save: Some(ConfigSave::Save { path, force }), .. } => {
            let path = std::path::absolute(path).with_context(|| format!("{}", path.display()))?;
            ("POST", "/v1/config/save".to_string(), "application/json", json(serde_json::json!({ "path": path, "force": force })))
        }
        CtlCommand::Config { name, pairs, save: None } => {
            let (Some(name), Some(pairs)) = (name, pairs) else { return Err(anyhow!("config: give NAME and PAIRS, or `save PATH`")) };
            ("POST", format!("/v1/translators/{}/config", percent_encode(name)), "application/json", json(serde_json::json!({ "config": config_object(pairs)? })))
        }
        CtlCommand::Chain { edit } => {
            let (method, path, body) = chain_request(edit)?;
            (method, path, "application/json", body)
        }
        CtlCommand::Rollback { chain, stage } => ("POST", format!("/v1/chains/{chain}/stages/{stage}/rollback"), "application/json", Vec::new()),
        CtlCommand::Canary { call } => {
            let (method, path, body) = canary_request(call)?;
            (method, path, "application/json", body)
        }
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
        CtlCommand::Chain { .. } => {
            for (i, c) in v["chains"].as_array().into_iter().flatten().enumerate() {
                let ts: Vec<&str> = c["translators"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                println!("chain {i} ({}): {}", c["select"].as_str().unwrap_or(""), ts.join(" -> "));
            }
            println!("{}", cutover(&v["cutover"]));
        }
        CtlCommand::Config { save: Some(_), .. } => {
            println!("saved {} ({} translators, {} chains)", v["path"].as_str().unwrap_or(""), v["translators"], v["chains"])
        }
        CtlCommand::Canary { call: CanaryCmd::Promote } => {
            let p = &v["promoted"];
            println!("promoted: {}", cutover(if p["cutover"].is_null() { &p["stages"][0]["cutover"] } else { &p["cutover"] }));
            print_canary(&v["canary"]);
        }
        CtlCommand::Canary { call: CanaryCmd::Abort } => print_canary(&v["canary"]),
        CtlCommand::Canary { .. } => print_canary(v),
        CtlCommand::Config { .. } => {
            println!("{} v{}", v["name"].as_str().unwrap_or(""), v["version"]);
            for s in v["stages"].as_array().into_iter().flatten() {
                println!("  chain {} stage {}: {}", s["chain"], s["stage"], cutover(&s["cutover"]));
            }
        }
    }
}

/// A canary's status as text.
fn print_canary(c: &Value) {
    if c["running"] == Value::Bool(false) && c.get("outcome").is_none() {
        match c.get("last").filter(|l| !l.is_null()) {
            Some(l) => {
                println!("no canary running; the last one:");
                print_canary(l);
            }
            None => println!("no canary running"),
        }
        return;
    }
    let k = &c["candidate"];
    let what = match k["kind"].as_str() {
        Some("swap") => format!("{} at chain {} stage {}", k["translator"].as_str().unwrap_or(""), k["chain"], k["stage"]),
        _ => format!("{} with config {}", k["translator"].as_str().unwrap_or(""), k["config"]),
    };
    println!("canary {what}: sample {}, since {}{}", c["sample"], c["started"].as_str().unwrap_or(""), if c["auto"] == Value::Bool(true) { ", auto" } else { "" });
    if let Some(why) = c["refused"].as_str() {
        println!("  compare only, not promotable: {why}");
    }
    if let Some(o) = c["outcome"].as_str() {
        println!("  outcome: {o}");
    }
    println!("  sampled {} dropped {} compared {}; verdict mismatches {}; faults active {} candidate {}", c["sampled"], c["dropped"], c["compared"], c["verdict_mismatches"], c["faults"]["active"], c["faults"]["candidate"]);
    let ns = |x: &Value| x.as_f64().map_or("-".to_string(), |n| format!("{n:.0} ns"));
    println!("  per packet: active {}, candidate {}", ns(&c["ns_per_packet"]["active"]), ns(&c["ns_per_packet"]["candidate"]));
    for f in c["flows"].as_array().into_iter().flatten() {
        let iq = &f["iq"];
        let evm = match iq["evm_db"].as_f64() {
            Some(e) => format!("EVM {e:.2} dB ({} of {} PRBs differ)", iq["differing_prbs"], iq["prbs"]),
            None if f["plane"] == "u" => "IQ identical".into(),
            None => String::new(),
        };
        println!("  {}: {} matched, {} missing, {} extra; {evm}", f["flow"].as_str().unwrap_or(""), f["matched"], f["missing"], f["extra"]);
        for d in f["fields"].as_array().into_iter().flatten() {
            println!("    {}: {} -> {} ({}x)", d["field"].as_str().unwrap_or(""), d["active"].as_str().unwrap_or(""), d["candidate"].as_str().unwrap_or(""), d["count"]);
        }
    }
    if let Some(d) = c["decision"]["verdict"].as_str() {
        println!("  criteria `{}`: {d}: {}", c["promote_when"].as_str().unwrap_or(""), c["decision"]["why"].as_str().unwrap_or(""));
    }
}

#[cfg(test)]
mod tests {
    use super::{canary_request, CanaryCmd};

    fn at(a: &str) -> Result<serde_json::Value, String> {
        let call = CanaryCmd::Start { translator: "w2".into(), at: Some(a.into()), version: None, config: None, sample: None, flows: None, promote_when: None, auto: false, compare_only: false };
        canary_request(&call).map(|(_, _, b)| serde_json::from_slice(&b).unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn at_errors_name_the_whole_argument() {
        let v = at("1, 2").unwrap();
        assert_eq!((v["chain"].as_u64(), v["stage"].as_u64()), (Some(1), Some(2)));
        assert_eq!(at("0,0,0").unwrap_err(), "--at: `0,0,0`: expected CHAIN,STAGE (two indices)");
        assert_eq!(at("0").unwrap_err(), "--at: `0`: expected CHAIN,STAGE (two indices)");
        assert_eq!(at("x,0").unwrap_err(), "--at: `x,0`: CHAIN `x` is not an index");
        assert_eq!(at("0,-1").unwrap_err(), "--at: `0,-1`: STAGE `-1` is not an index");
    }
}
