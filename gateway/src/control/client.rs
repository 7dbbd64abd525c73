//! A blocking HTTP/1.1 client for the control API over TCP or a Unix
//! socket: one request per connection (`Connection: close`), which is
//! all `fhgate ctl` needs.

use std::io::{Read, Write};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};

use crate::config::ControlListen;

/// A response: status code and body.
#[derive(Debug)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// The body (chunked transfer decoded).
    pub body: Vec<u8>,
}

/// Sends one request to `addr` and reads the whole response.
pub fn request(addr: &ControlListen, method: &str, path: &str, content_type: &str, body: &[u8], token: Option<&str>) -> Result<Response> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: fhgate\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if !body.is_empty() {
        head += &format!("Content-Type: {content_type}\r\n");
    }
    if let Some(t) = token {
        head += &format!("Authorization: Bearer {t}\r\n");
    }
    if body.len() > EXPECT_CONTINUE_ABOVE {
        head += "Expect: 100-continue\r\n";
    }
    head += "\r\n";
    let mut raw = Vec::new();
    match addr {
        ControlListen::Tcp(a) => {
            let mut s = std::net::TcpStream::connect_timeout(a, Duration::from_secs(5)).with_context(|| format!("connecting to {a}"))?;
            s.set_read_timeout(Some(Duration::from_secs(60)))?;
            exchange(&mut s, head.as_bytes(), body, &mut raw)?;
        }
        ControlListen::Unix(p) => {
            let mut s = std::os::unix::net::UnixStream::connect(p).with_context(|| format!("connecting to unix:{}", p.display()))?;
            s.set_read_timeout(Some(Duration::from_secs(60)))?;
            exchange(&mut s, head.as_bytes(), body, &mut raw)?;
        }
    }
    parse(&raw)
}

/// Bodies larger than this ask first (`Expect: 100-continue`), so that a
/// refusal (413, 401) comes before the body is sent, not in a race with it.
const EXPECT_CONTINUE_ABOVE: usize = 64 << 10;

fn exchange<S: Read + Write>(s: &mut S, head: &[u8], body: &[u8], out: &mut Vec<u8>) -> Result<()> {
    s.write_all(head)?;
    if body.len() > EXPECT_CONTINUE_ABOVE {
        // Wait for the interim 100 or a final answer. The server sends 100
        // when the handler starts reading the body.
        let head_end = loop {
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).map_err(|e| anyhow!("waiting for 100 Continue: {e}"))?;
            if n == 0 {
                bail!("the server closed the connection without answering");
            }
            out.extend_from_slice(&buf[..n]);
            if let Some(i) = out.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        if !out.starts_with(b"HTTP/1.1 100") {
            // A final answer: the body is not wanted.
            s.read_to_end(out).map_err(|e| anyhow!("reading the response: {e}"))?;
            return Ok(());
        }
        out.drain(..head_end);
    }
    // The server may answer (413) before taking the whole body; read what it said.
    let wrote = s.write_all(body);
    let read = s.read_to_end(out);
    match (wrote, read) {
        // What came before a reset is still the answer.
        _ if out.windows(4).any(|w| w == b"\r\n\r\n") => Ok(()),
        (Err(e), _) => Err(anyhow!("sending the request: {e}")),
        (_, Err(e)) => Err(anyhow!("reading the response: {e}")),
        (Ok(()), Ok(_)) => bail!("the server closed the connection without answering"),
    }
}

/// Parses a whole HTTP/1.1 response.
fn parse(raw: &[u8]) -> Result<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| anyhow!("response: no end of headers in {} bytes", raw.len()))?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| anyhow!("response: headers are not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| anyhow!("response: bad status line `{status_line}`"))?;
    let chunked = lines.any(|l| l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.to_ascii_lowercase().contains("chunked"));
    let rest = &raw[end + 4..];
    let body = if chunked { dechunk(rest)? } else { rest.to_vec() };
    Ok(Response { status, body })
}

fn dechunk(mut b: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let nl = b.windows(2).position(|w| w == b"\r\n").ok_or_else(|| anyhow!("response: bad chunk header"))?;
        let size_text = std::str::from_utf8(&b[..nl]).unwrap_or("").split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| anyhow!("response: bad chunk size `{size_text}`"))?;
        b = &b[nl + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = b.get(..size).ok_or_else(|| anyhow!("response: chunk of {size} bytes cut short"))?;
        out.extend_from_slice(chunk);
        b = b.get(size + 2..).unwrap_or(&[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked() {
        let r = parse(b"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\nno").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (404, &b"no"[..]));
        let r = parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"abcde"[..]));
        assert!(parse(b"HTTP/1.1 200 OK\r\n").is_err());
    }
}
