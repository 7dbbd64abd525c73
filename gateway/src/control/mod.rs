//! The control API of `fhgate run`: an HTTP/1.1 + JSON server (axum, on
//! its own tokio thread, off the hot path) turns each call into a
//! [`Command`] and sends it through a channel to run's control loop,
//! which already owns the workers' swap rings. There, [`Endpoint::wait`]
//! carries it out between bursts (compile and init before any cut-over)
//! and sends the reply back.
//!
//! - [`body`]: request bodies to commands, each refusal naming the field.
//! - [`server`]: transport, bearer token, audit log, body limits, JSON.
//! - [`state`]: what is loaded and installed, and the commands themselves.
//! - [`client`]: the blocking HTTP/1.1 client `fhgate ctl` uses.

pub mod body;
pub mod canary;
pub mod client;
pub mod layout;
pub mod reload;
pub mod save;
pub mod server;
pub mod state;

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use state::{Base, State};

/// Where a translator module comes from.
#[derive(Debug)]
pub enum Source {
    /// A `.wasm` (or `.wat`) file the gateway reads.
    Path(PathBuf),
    /// Module bytes uploaded with the call.
    Bytes(Vec<u8>),
}

/// One control call, as run's control loop carries it out.
#[derive(Debug)]
pub enum Command {
    /// What runs: translators, chains, counters.
    Status,
    /// Compiles and initialises a translator as a new version of `name`
    /// (nothing is cut over).
    Load {
        /// Its name in the API (a new name, or a new version of one).
        name: String,
        /// The module.
        source: Source,
        /// Its config, as `key=value` pairs (values in TOML syntax).
        config: Vec<(String, String)>,
        /// Its deadline per burst, if not the default.
        deadline: Option<Duration>,
    },
    /// A swap or a config change.
    Change(Change),
    /// Cuts a stage back to what it ran before its last swap.
    Rollback {
        /// Chain index.
        chain: usize,
        /// Stage index.
        stage: usize,
    },
    /// Adds, removes or reorders chains or their stages.
    Chains(layout::ChainEdit),
    /// Canary start, status, promote, abort, or its metrics.
    Canary(CanaryCall),
    /// Writes the running configuration to `path` as TOML `run -c` accepts.
    Save {
        /// Where (absolute, `.toml`).
        path: PathBuf,
        /// Replace the file if it exists.
        force: bool,
    },
}

/// A change of what runs at chain stages: what a swap or config call
/// makes, and what a canary's candidate stands for (and promotion makes).
#[derive(Debug, Clone)]
pub enum Change {
    /// Cuts chain `chain`'s stage `stage` over to `translator`
    /// (its newest version unless `version` says which, from 1).
    Swap {
        /// Chain index.
        chain: usize,
        /// Stage index.
        stage: usize,
        /// A loaded translator's name.
        translator: String,
        /// Its version (1 is the first loaded).
        version: Option<usize>,
    },
    /// A new version of `translator` with this config, initialised, then
    /// cut over at every stage that runs `translator`.
    Config {
        /// A loaded translator's name.
        translator: String,
        /// Its new config pairs.
        config: Vec<(String, String)>,
    },
}

impl Change {
    /// The change's name in the audit log.
    pub fn action(&self) -> String {
        match self {
            Change::Swap { chain, stage, translator, version: Some(v) } => format!("swap chain {chain} stage {stage} to {translator} v{v}"),
            Change::Swap { chain, stage, translator, version: None } => format!("swap chain {chain} stage {stage} to {translator}"),
            Change::Config { translator, config } => format!("config {translator} {config:?}"),
        }
    }
}

/// A canary call ([`canary`]).
#[derive(Debug)]
pub enum CanaryCall {
    /// Start one.
    Start(canary::CanaryStart),
    /// Its comparison so far.
    Status,
    /// Cut the candidate over, and stop.
    Promote,
    /// Stop; the active chains are untouched.
    Abort,
    /// Its Prometheus lines.
    Metrics,
}

impl Command {
    /// The action's name in the audit log.
    pub fn action(&self) -> String {
        match self {
            Command::Status => "status".into(),
            Command::Load { name, source: Source::Path(p), .. } => format!("load {name} from {}", p.display()),
            Command::Load { name, source: Source::Bytes(b), .. } => format!("load {name} from {} uploaded bytes", b.len()),
            Command::Change(c) => c.action(),
            Command::Rollback { chain, stage } => format!("rollback chain {chain} stage {stage}"),
            Command::Chains(e) => e.action(),
            Command::Canary(CanaryCall::Start(s)) => format!("canary start ({}) sample {:?} promote_when `{}`{}", s.candidate.action(), s.sample, s.criteria_text, if s.auto { " auto" } else { "" }),
            Command::Canary(CanaryCall::Status) => "canary status".into(),
            Command::Canary(CanaryCall::Metrics) => "canary metrics".into(),
            Command::Canary(CanaryCall::Promote) => "canary promote".into(),
            Command::Canary(CanaryCall::Abort) => "canary abort".into(),
            Command::Save { path, force } => format!("config save {}{}", path.display(), if *force { " (force)" } else { "" }),
        }
    }
}

/// A refused or failed call: the HTTP status and a message saying why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status code (4xx: the request; 5xx: the gateway).
    pub status: u16,
    /// What is wrong, naming the field or the translator.
    pub message: String,
}

impl ApiError {
    /// A 400 naming the field at fault.
    pub fn bad(field: &str, why: impl std::fmt::Display) -> ApiError {
        ApiError { status: 400, message: format!("{field}: {why}") }
    }

    /// A 404 for something that is not there.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError { status: 404, message: message.into() }
    }

    /// A 409: well-formed, but refused in the running state (a module
    /// that does not compile or initialise, nothing to roll back to).
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError { status: 409, message: message.into() }
    }
}

/// What a call returns.
pub type Reply = Result<serde_json::Value, ApiError>;

/// A call on its way to the control loop.
pub struct Request {
    /// What to do.
    pub cmd: Command,
    /// When the server received it (for the cut-over time).
    pub received: Instant,
    /// Where the answer goes.
    pub reply: tokio::sync::oneshot::Sender<Reply>,
}

/// Run's end of the channel, with the state it acts on.
pub struct Endpoint {
    rx: mpsc::Receiver<Request>,
    /// What is loaded and installed.
    pub state: State,
}

/// Makes the channel: the server's sender and run's [`Endpoint`].
pub fn channel(state: State) -> (mpsc::Sender<Request>, Endpoint) {
    let (tx, rx) = mpsc::channel();
    (tx, Endpoint { rx, state })
}

impl Endpoint {
    /// Waits up to `timeout` for calls and carries out every one that
    /// came (so a call is served at once, not at the next tick). Returns
    /// whether any translator was cut over.
    pub fn wait(&mut self, running: &mut [(&str, crate::pipeline::runner::Running)], timeout: Duration) -> bool {
        let mut swapped = false;
        let mut next = self.rx.recv_timeout(timeout).ok();
        while let Some(req) = next {
            let (reply, cut) = self.state.handle(req.cmd, req.received, running);
            swapped |= cut;
            // The caller may have gone; the change stands either way.
            let _ = req.reply.send(reply);
            next = self.rx.try_recv().ok();
        }
        swapped | self.state.canary_tick(running)
    }
}

impl Endpoint {
    /// A SIGHUP reload through the same state as the API ([`reload`]):
    /// returns the stages cut over.
    pub fn reload(&mut self, changed: Vec<reload::Reloaded>, running: &mut [(&str, crate::pipeline::runner::Running)]) -> anyhow::Result<Vec<(usize, usize, String)>> {
        self.state.reload(changed, running).map_err(|e| anyhow::anyhow!("{}", e.message))
    }
}

/// Starts the control API of `cfg` if it has a `[control]` table: the
/// server thread, and run's [`Endpoint`] for its control loop. `rt` is
/// the engine the workers' translators were compiled for, `chains` what
/// they were started with, `base` the file they came from.
pub fn start(
    cfg: &crate::config::GatewayConfig,
    base: Base,
    rt: std::sync::Arc<crate::translate::Runtime>,
    chains: &[crate::translate::ChainSpec],
    collector: std::sync::Arc<std::sync::Mutex<crate::metrics::Collector>>,
    ports: crate::metrics::PortBoard,
) -> anyhow::Result<Option<Endpoint>> {
    let Some(c) = &cfg.control else { return Ok(None) };
    let (tx, endpoint) = channel(State::new(rt, cfg, chains, base));
    let side = |s: &crate::config::Side| serde_json::json!({ "backend": s.backend.name(), "mtu": s.mtu });
    let info = server::StatusInfo { ports, sides: serde_json::json!({ "du": side(&cfg.du), "ru": side(&cfg.ru) }) };
    let at = server::serve(c, tx, collector, info)?;
    tracing::info!("control API on {at}");
    Ok(Some(endpoint))
}
