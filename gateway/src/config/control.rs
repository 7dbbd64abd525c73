//! `[control]`: where the control API listens, the bearer token file that
//! guards its mutating calls, the audit log they are appended to, and the
//! cores a canary's shadow thread runs on.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use super::{err, ConfigError};

/// Where the control API listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlListen {
    /// A TCP address (loopback unless a token file is set).
    Tcp(SocketAddr),
    /// A Unix socket path (`unix:/run/fhgate.sock`).
    Unix(PathBuf),
}

impl std::fmt::Display for ControlListen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ControlListen::Tcp(a) => write!(f, "{a}"),
            ControlListen::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

impl ControlListen {
    /// Parses `127.0.0.1:9101` or `unix:/path.sock`; the error says why.
    pub fn parse(s: &str) -> Result<ControlListen, String> {
        if let Some(p) = s.strip_prefix("unix:") {
            if p.is_empty() {
                return Err("`unix:` needs a socket path, e.g. unix:/run/fhgate.sock".into());
            }
            return Ok(ControlListen::Unix(PathBuf::from(p)));
        }
        s.parse().map(ControlListen::Tcp).map_err(|_| format!("`{s}` is neither an address:port nor unix:PATH"))
    }
}

/// The control API's settings, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlConfig {
    /// Where it listens.
    pub listen: ControlListen,
    /// A file holding the bearer token mutating calls must present.
    pub token_file: Option<PathBuf>,
    /// Where every mutating call is appended (time, caller, action, outcome).
    pub audit_log: Option<PathBuf>,
    /// The cores a canary's shadow thread may run on (empty: unpinned).
    /// A core that shares nothing with a worker (not its SMT sibling)
    /// keeps the shadow's work off the active path.
    pub canary_cores: Vec<usize>,
}

/// `[control]` as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawControl {
    listen: Option<String>,
    token_file: Option<PathBuf>,
    audit_log: Option<PathBuf>,
    canary_cores: Option<Vec<usize>>,
}

/// Validates `[control]`: a non-loopback TCP address needs a token file.
pub(super) fn control(raw: RawControl) -> Result<Option<ControlConfig>, ConfigError> {
    let Some(l) = raw.listen else {
        if raw.token_file.is_some() || raw.audit_log.is_some() || raw.canary_cores.is_some() {
            return err("control.listen", "token_file, audit_log and canary_cores need a listen address");
        }
        return Ok(None);
    };
    let listen = ControlListen::parse(&l).or_else(|why| err("control.listen", why))?;
    if let ControlListen::Tcp(a) = listen {
        if !a.ip().is_loopback() && raw.token_file.is_none() {
            return err("control.listen", format!("{a} is not loopback: set control.token_file so that mutating calls need a bearer token"));
        }
    }
    let canary_cores = match raw.canary_cores {
        Some(c) if c.is_empty() => return err("control.canary_cores", "an empty list; leave the key out to run the shadow thread unpinned"),
        c => c.unwrap_or_default(),
    };
    Ok(Some(ControlConfig { listen, token_file: raw.token_file, audit_log: raw.audit_log, canary_cores }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(listen: &str, token: bool) -> RawControl {
        RawControl { listen: Some(listen.into()), token_file: token.then(|| "t".into()), audit_log: None, canary_cores: None }
    }

    #[test]
    fn non_loopback_needs_a_token_file() {
        let e = control(raw("0.0.0.0:9101", false)).unwrap_err();
        assert_eq!(e.key, "control.listen");
        assert!(e.why.contains("token_file"), "{e}");
        assert!(control(raw("0.0.0.0:9101", true)).unwrap().is_some());
        assert!(control(raw("127.0.0.1:9101", false)).unwrap().is_some());
    }

    #[test]
    fn unix_and_bad_addresses() {
        assert_eq!(control(raw("unix:/tmp/x.sock", false)).unwrap().unwrap().listen, ControlListen::Unix("/tmp/x.sock".into()));
        assert_eq!(control(raw("unix:", false)).unwrap_err().key, "control.listen");
        assert!(control(raw("localhost", false)).unwrap_err().why.contains("neither"));
        assert_eq!(control(RawControl { listen: None, token_file: Some("t".into()), audit_log: None, canary_cores: None }).unwrap_err().key, "control.listen");
    }

    #[test]
    fn canary_cores_need_a_listener_and_at_least_one_core() {
        let with = |listen: Option<&str>, cores: Vec<usize>| control(RawControl { listen: listen.map(Into::into), token_file: None, audit_log: None, canary_cores: Some(cores) });
        assert_eq!(with(None, vec![1]).unwrap_err().key, "control.listen");
        let e = with(Some("127.0.0.1:0"), vec![]).unwrap_err();
        assert_eq!(e.key, "control.canary_cores");
        assert!(e.why.contains("unpinned"), "{e}");
        assert_eq!(with(Some("127.0.0.1:0"), vec![1, 3]).unwrap().unwrap().canary_cores, vec![1, 3]);
        assert!(control(raw("127.0.0.1:0", false)).unwrap().unwrap().canary_cores.is_empty());
    }
}
