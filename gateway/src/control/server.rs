//! The control API's HTTP side: axum on a current-thread tokio runtime on
//! its own thread, TCP or a Unix socket. It checks the bearer token,
//! bounds and parses bodies (every refusal names the field), sends a
//! [`Command`] to run's control loop, awaits the reply and appends every
//! mutating call to the audit log. `/metrics` is served here too.

use std::io::Write as _;
use std::path::Path as FsPath;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use axum::body::Bytes;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use serde_json::{json, Value};

use super::layout::ChainEdit;
use super::{body, ApiError, CanaryCall, Change, Command, Reply, Request};
use crate::config::{ControlConfig, ControlListen};
use crate::metrics::{Collector, PortBoard};

/// Largest uploaded module.
pub const MAX_UPLOAD: usize = 16 << 20;
/// Largest JSON body.
pub const MAX_JSON: usize = 64 << 10;

/// What `status` adds besides what the control loop reports.
pub struct StatusInfo {
    /// The live ports' counters.
    pub ports: PortBoard,
    /// The two sides, described.
    pub sides: Value,
}

struct App {
    tx: Mutex<Sender<Request>>,
    token: Option<String>,
    audit: Option<Mutex<std::fs::File>>,
    collector: Arc<Mutex<Collector>>,
    info: StatusInfo,
    started: Instant,
}

/// Who called: a TCP peer address, or a Unix socket peer's uid and pid.
#[derive(Clone, Debug)]
struct Peer(String);

impl Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>> for Peer {
    fn connect_info(s: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        Peer(s.remote_addr().to_string())
    }
}

impl Connected<axum::serve::IncomingStream<'_, tokio::net::UnixListener>> for Peer {
    fn connect_info(s: axum::serve::IncomingStream<'_, tokio::net::UnixListener>) -> Self {
        Peer(match s.io().peer_cred() {
            Ok(c) => format!("unix uid={} pid={}", c.uid(), c.pid().unwrap_or(0)),
            Err(_) => "unix".into(),
        })
    }
}

/// Reads the token file: one non-empty line.
fn read_token(path: &FsPath) -> Result<String> {
    let t = std::fs::read_to_string(path).with_context(|| format!("control.token_file: cannot read {}", path.display()))?;
    let t = t.trim().to_string();
    if t.is_empty() || t.contains(char::is_whitespace) {
        bail!("control.token_file: {} must hold one token without spaces", path.display());
    }
    Ok(t)
}

enum Bound {
    Tcp(std::net::TcpListener),
    Unix(std::os::unix::net::UnixListener),
}

/// Binds the listener; a Unix socket path that exists is reused only if
/// it is a stale socket (nothing answers on it), never a file.
fn bind(listen: &ControlListen) -> Result<Bound> {
    match listen {
        ControlListen::Tcp(a) => {
            let l = std::net::TcpListener::bind(a).map_err(|e| anyhow!("control.listen: cannot listen on {a}: {e}"))?;
            l.set_nonblocking(true)?;
            Ok(Bound::Tcp(l))
        }
        ControlListen::Unix(p) => {
            use std::os::unix::fs::{FileTypeExt, PermissionsExt};
            if let Ok(m) = std::fs::symlink_metadata(p) {
                if !m.file_type().is_socket() {
                    bail!("control.listen: {} exists and is not a socket; not replacing it", p.display());
                }
                if std::os::unix::net::UnixStream::connect(p).is_ok() {
                    bail!("control.listen: {} is in use by another process", p.display());
                }
                std::fs::remove_file(p).with_context(|| format!("control.listen: removing the stale socket {}", p.display()))?;
            }
            let l = std::os::unix::net::UnixListener::bind(p).map_err(|e| anyhow!("control.listen: cannot listen on {}: {e}", p.display()))?;
            // Only this user may call it.
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600))?;
            l.set_nonblocking(true)?;
            Ok(Bound::Unix(l))
        }
    }
}

/// Starts the control API: binds `cfg.listen` (before returning, so an
/// error is the caller's), then serves on its own thread until exit.
/// Returns where it listens (`http://ADDR:PORT`, the port bound when 0
/// was asked, or `unix:PATH`).
pub fn serve(cfg: &ControlConfig, tx: Sender<Request>, collector: Arc<Mutex<Collector>>, info: StatusInfo) -> Result<String> {
    let token = cfg.token_file.as_deref().map(read_token).transpose()?;
    let audit = match &cfg.audit_log {
        Some(p) => Some(Mutex::new(
            std::fs::OpenOptions::new().create(true).append(true).open(p).with_context(|| format!("control.audit_log: cannot open {}", p.display()))?,
        )),
        None => None,
    };
    let bound = bind(&cfg.listen)?;
    let at = match &bound {
        Bound::Tcp(l) => format!("http://{}", l.local_addr()?),
        Bound::Unix(_) => describe(&cfg.listen),
    };
    let app = Arc::new(App { tx: Mutex::new(tx), token, audit, collector, info, started: Instant::now() });
    let router = Router::new()
        .route("/v1/status", get(status))
        .route("/metrics", get(metrics))
        .route("/v1/translators", post(load).layer(DefaultBodyLimit::max(MAX_UPLOAD)))
        .route("/v1/translators/{name}/config", post(config))
        .route("/v1/chains", post(chain_add))
        .route("/v1/chains/order", post(chain_order))
        .route("/v1/chains/{chain}", delete(chain_remove))
        .route("/v1/chains/{chain}/order", post(stage_order))
        .route("/v1/chains/{chain}/stages", post(stage_add))
        .route("/v1/chains/{chain}/stages/{stage}", post(swap).delete(stage_remove))
        .route("/v1/chains/{chain}/stages/{stage}/rollback", post(rollback))
        .route("/v1/config/save", post(save))
        .route("/v1/canary", post(canary_start).get(canary_status))
        .route("/v1/canary/promote", post(canary_promote))
        .route("/v1/canary/abort", post(canary_abort))
        .fallback(|| async { reply(Err(ApiError::not_found("no such endpoint; see the README's control API section"))) })
        .layer(DefaultBodyLimit::max(MAX_JSON))
        .layer(axum::middleware::from_fn(declared_length))
        .with_state(app);
    thread::Builder::new().name("fhgate-control".into()).spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build() {
            Ok(rt) => rt,
            Err(e) => {
                tracing::error!("control API: cannot start its runtime: {e}");
                return;
            }
        };
        rt.block_on(async move {
            let r = match bound {
                Bound::Tcp(l) => match tokio::net::TcpListener::from_std(l) {
                    Ok(l) => axum::serve(l, router.into_make_service_with_connect_info::<Peer>()).await,
                    Err(e) => Err(e),
                },
                Bound::Unix(l) => match tokio::net::UnixListener::from_std(l) {
                    Ok(l) => axum::serve(l, router.into_make_service_with_connect_info::<Peer>()).await,
                    Err(e) => Err(e),
                },
            };
            if let Err(e) = r {
                tracing::error!("control API stopped: {e}");
            }
        });
    })?;
    Ok(at)
}

/// A reply as HTTP: the JSON value, or `{"error": message}` with its status.
/// Refuses a body whose declared length is over the route's bound before
/// any of it is read. Answering 413 only after reading part of it, then
/// closing, resets the connection with bytes unread, and a reset can
/// discard the answer before the client reads it; refused up front, a
/// client that sent `Expect: 100-continue` never sends the body at all.
async fn declared_length(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let bound = if req.uri().path() == "/v1/translators" { MAX_UPLOAD } else { MAX_JSON };
    let declared = req.headers().get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > bound as u64 => reply(Err(ApiError { status: 413, message: format!("body: Content-Length {n} bytes; at most {bound} here") })),
        _ => next.run(req).await,
    }
}

fn reply(r: Reply) -> Response {
    let (code, v) = match r {
        Ok(v) => (StatusCode::OK, v),
        Err(e) => (StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), json!({ "error": e.message })),
    };
    (code, [(axum::http::header::CONTENT_TYPE, "application/json")], v.to_string() + "\n").into_response()
}

impl App {
    /// Sends `cmd` to the control loop and awaits its reply.
    async fn call(&self, cmd: Command) -> Reply {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let req = Request { cmd, received: Instant::now(), reply: tx };
        let sent = self.tx.lock().map_err(|_| ApiError { status: 500, message: "control channel poisoned".into() })?.send(req);
        if sent.is_err() {
            return Err(ApiError { status: 503, message: "the gateway is stopping".into() });
        }
        rx.await.unwrap_or_else(|_| Err(ApiError { status: 503, message: "the gateway is stopping".into() }))
    }

    /// Checks the bearer token (when one is set), runs `cmd` (or the
    /// refusal `parsed` carries) and appends the call to the audit log.
    async fn mutate(&self, peer: &Peer, headers: &HeaderMap, what: &str, parsed: Result<Command, ApiError>) -> Response {
        let action = parsed.as_ref().map(|c| c.action()).unwrap_or_else(|_| what.to_string());
        let r = match self.authorize(headers) {
            Err(e) => Err(e),
            Ok(()) => match parsed {
                Ok(cmd) => self.call(cmd).await,
                Err(e) => Err(e),
            },
        };
        let outcome = match &r {
            Ok(_) => "200 ok".to_string(),
            Err(e) => format!("{} {}", e.status, e.message),
        };
        self.audit(&peer.0, &action, &outcome);
        reply(r)
    }

    fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(token) = &self.token else { return Ok(()) };
        let given = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(bearer);
        match given {
            Some(g) if body::same(g.trim().as_bytes(), token.as_bytes()) => Ok(()),
            Some(_) => Err(ApiError { status: 403, message: "Authorization: the bearer token is wrong".into() }),
            None => Err(ApiError { status: 401, message: "Authorization: this call needs `Authorization: Bearer <token>`".into() }),
        }
    }

    fn audit(&self, caller: &str, action: &str, outcome: &str) {
        tracing::info!(caller, action, outcome, "control call");
        let Some(f) = &self.audit else { return };
        let line = json!({ "time": body::utc_now(), "caller": caller, "action": action, "outcome": outcome }).to_string();
        let ok = f.lock().map(|mut f| writeln!(f, "{line}").is_ok()).unwrap_or(false);
        if !ok {
            tracing::error!(caller, action, outcome, "control: cannot append to the audit log");
        }
    }
}

/// The token of an `Authorization: Bearer TOKEN` value; the scheme is
/// case-insensitive (RFC 7235 §2.1), then one or more spaces.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("Bearer").then(|| token.trim_start_matches(' '))
}

async fn status(State(app): State<Arc<App>>) -> Response {
    let r = app.call(Command::Status).await.map(|mut v| {
        let snapshot = app.collector.lock().map(|mut c| c.snapshot()).ok();
        v["version"] = json!(env!("CARGO_PKG_VERSION"));
        v["uptime_s"] = json!(app.started.elapsed().as_secs_f64());
        v["sides"] = app.info.sides.clone();
        v["ports"] = app.info.ports.json();
        v["flows"] = snapshot.map(|s| body::flows_json(&s)).unwrap_or(Value::Null);
        v
    });
    reply(r)
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let text = match app.collector.lock() {
        Ok(mut c) => c.prometheus(),
        Err(_) => return reply(Err(ApiError { status: 500, message: "metrics collector poisoned".into() })),
    };
    // The canary's lines come from the control loop, which owns it.
    let canary = app.call(Command::Canary(CanaryCall::Metrics)).await.ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text + &canary).into_response()
}

async fn canary_start(State(app): State<Arc<App>>, ConnectInfo(peer): ConnectInfo<Peer>, headers: HeaderMap, bytes: Bytes) -> Response {
    app.mutate(&peer, &headers, "canary start", body::canary_json(&bytes)).await
}

async fn canary_status(State(app): State<Arc<App>>) -> Response {
    reply(app.call(Command::Canary(CanaryCall::Status)).await)
}

async fn canary_promote(State(app): State<Arc<App>>, ConnectInfo(peer): ConnectInfo<Peer>, headers: HeaderMap, bytes: Bytes) -> Response {
    let parsed = body::empty_json(&bytes).map(|()| Command::Canary(CanaryCall::Promote));
    app.mutate(&peer, &headers, "canary promote", parsed).await
}

async fn canary_abort(State(app): State<Arc<App>>, ConnectInfo(peer): ConnectInfo<Peer>, headers: HeaderMap, bytes: Bytes) -> Response {
    let parsed = body::empty_json(&bytes).map(|()| Command::Canary(CanaryCall::Abort));
    app.mutate(&peer, &headers, "canary abort", parsed).await
}

async fn load(State(app): State<Arc<App>>, ConnectInfo(peer): ConnectInfo<Peer>, uri: Uri, headers: HeaderMap, bytes: Bytes) -> Response {
    let ctype = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let parsed = if ctype.starts_with("application/wasm") {
        body::upload(uri.query().unwrap_or(""), bytes.to_vec())
    } else if bytes.len() > MAX_JSON {
        Err(ApiError { status: 413, message: format!("body: {} bytes of JSON; at most {MAX_JSON} (upload modules as application/wasm)", bytes.len()) })
    } else {
        body::load_json(&bytes)
    };
    app.mutate(&peer, &headers, "load", parsed).await
}

async fn config(State(app): State<Arc<App>>, ConnectInfo(peer): ConnectInfo<Peer>, Path(name): Path<String>, headers: HeaderMap, bytes: Bytes) -> Response {
    let parsed = body::config_json(&bytes).map(|config| Command::Change(Change::Config { translator: name.clone(), config }));
    app.mutate(&peer, &headers, &format!("config {name}"), parsed).await
}

async fn swap(State(app): State<Arc<App>>, ConnectInfo(peer): ConnectInfo<Peer>, Path((chain, stage)): Path<(String, String)>, headers: HeaderMap, bytes: Bytes) -> Response {
    let parsed = body::position(&chain, &stage).and_then(|(chain, stage)| {
        let (translator, version) = body::swap_json(&bytes)?;
        Ok(Command::Change(Change::Swap { chain, stage, translator, version }))
    });
    app.mutate(&peer, &headers, &format!("swap chain {chain} stage {stage}"), parsed).await
}

async fn rollback(State(app): State<Arc<App>>, ConnectInfo(peer): ConnectInfo<Peer>, Path((chain, stage)): Path<(String, String)>, headers: HeaderMap, bytes: Bytes) -> Response {
    let parsed = body::position(&chain, &stage).and_then(|(chain, stage)| {
        body::empty_json(&bytes)?;
        Ok(Command::Rollback { chain, stage })
    });
    app.mutate(&peer, &headers, &format!("rollback chain {chain} stage {stage}"), parsed).await
}

async fn save(State(app): State<Arc<App>>, ConnectInfo(peer): ConnectInfo<Peer>, headers: HeaderMap, bytes: Bytes) -> Response {
    app.mutate(&peer, &headers, "config save", body::save_json(&bytes)).await
}

/// A chain index from a path.
fn chain_index(chain: &str) -> Result<usize, ApiError> {
    chain.parse().map_err(|_| ApiError::bad("chain", format!("`{chain}` is not a chain index")))
}

async fn chain_add(State(app): State<Arc<App>>, ConnectInfo(peer): ConnectInfo<Peer>, headers: HeaderMap, bytes: Bytes) -> Response {
    app.mutate(&peer, &headers, "chain add", body::chain_add_json(&bytes).map(Command::Chains)).await
}

async fn chain_order(State(app): State<Arc<App>>, ConnectInfo(peer): ConnectInfo<Peer>, headers: HeaderMap, bytes: Bytes) -> Response {
    let parsed = body::order_json(&bytes).map(|order| Command::Chains(ChainEdit::Order { order }));
    app.mutate(&peer, &headers, "chain order", parsed).await
}

async fn chain_remove(State(app): State<Arc<App>>, ConnectInfo(peer): ConnectInfo<Peer>, Path(chain): Path<String>, headers: HeaderMap, bytes: Bytes) -> Response {
    let parsed = chain_index(&chain).and_then(|chain| {
        body::empty_json(&bytes)?;
        Ok(Command::Chains(ChainEdit::Remove { chain }))
    });
    app.mutate(&peer, &headers, &format!("chain remove {chain}"), parsed).await
}

async fn stage_order(State(app): State<Arc<App>>, ConnectInfo(peer): ConnectInfo<Peer>, Path(chain): Path<String>, headers: HeaderMap, bytes: Bytes) -> Response {
    let parsed = chain_index(&chain).and_then(|chain| Ok(Command::Chains(ChainEdit::OrderStages { chain, order: body::order_json(&bytes)? })));
    app.mutate(&peer, &headers, &format!("chain {chain} order stages"), parsed).await
}

async fn stage_add(State(app): State<Arc<App>>, ConnectInfo(peer): ConnectInfo<Peer>, Path(chain): Path<String>, headers: HeaderMap, bytes: Bytes) -> Response {
    let parsed = chain_index(&chain).and_then(|chain| body::stage_add_json(chain, &bytes).map(Command::Chains));
    app.mutate(&peer, &headers, &format!("chain {chain} add stage"), parsed).await
}

async fn stage_remove(State(app): State<Arc<App>>, ConnectInfo(peer): ConnectInfo<Peer>, Path((chain, stage)): Path<(String, String)>, headers: HeaderMap, bytes: Bytes) -> Response {
    let parsed = body::position(&chain, &stage).and_then(|(chain, stage)| {
        body::empty_json(&bytes)?;
        Ok(Command::Chains(ChainEdit::RemoveStage { chain, stage }))
    });
    app.mutate(&peer, &headers, &format!("chain {chain} remove stage {stage}"), parsed).await
}

fn describe(listen: &ControlListen) -> String {
    match listen {
        ControlListen::Tcp(a) => format!("http://{a}"),
        ControlListen::Unix(p) => format!("unix:{}", p.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for v in ["Bearer tok", "bearer tok", "BEARER tok", "bEaReR  tok"] {
            assert_eq!(bearer(v), Some("tok"), "{v}");
        }
        for v in ["Basic tok", "Bearertok", "tok", "Bearer-x tok"] {
            assert_eq!(bearer(v), None, "{v}");
        }
    }
}
