//! Whether a UDP port's bound address is still on this host: a socket
//! bound to an address whose interface was deleted neither receives nor
//! fails, so without this a deleted interface left `run` idle forever.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::io::live;

/// How often an idle receive half, or a refused send, looks again.
pub(super) const ADDR_CHECK: Duration = Duration::from_secs(1);

/// Looks, at most once per [`ADDR_CHECK`], whether the bound address is
/// still on this host. A wildcard bind (0.0.0.0, [::]) has no interface
/// to lose and is never checked.
pub(super) struct AddrWatch {
    ip: Option<IpAddr>,
    next: Instant,
}

impl AddrWatch {
    /// Watches `bind`'s address; the first look is `first` from now.
    pub(super) fn new(bind: SocketAddr, first: Duration) -> AddrWatch {
        AddrWatch { ip: (!bind.ip().is_unspecified()).then(|| bind.ip()), next: Instant::now() + first }
    }

    /// The port's error ([`live::gone`], naming the port `port()` gives)
    /// once no interface has the address; `Ok` otherwise and between looks
    /// (a few system calls per look, never per packet).
    pub(super) fn check(&mut self, port: impl FnOnce() -> String) -> io::Result<()> {
        let Some(ip) = self.ip else { return Ok(()) };
        let now = Instant::now();
        if now < self.next {
            return Ok(());
        }
        self.next = now + ADDR_CHECK;
        match std::net::UdpSocket::bind((ip, 0)) {
            Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => Err(live::gone(&port(), io::Error::new(e.kind(), format!("no interface has {ip} any more")))),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_of_no_interface_is_gone_and_a_wildcard_never_is() {
        // 192.0.2.0/24 is TEST-NET-1: no host has it.
        let mut w = AddrWatch::new("192.0.2.77:45054".parse().unwrap(), Duration::ZERO);
        let e = w.check(|| "udp 192.0.2.77:45054".into()).unwrap_err();
        assert!(e.to_string().contains("udp 192.0.2.77:45054: the interface is gone") && e.to_string().contains("no interface has 192.0.2.77"), "{e}");
        assert!(w.check(|| "udp 192.0.2.77:45054".into()).is_ok(), "looked again only after ADDR_CHECK");
        let mut w = AddrWatch::new("127.0.0.1:45054".parse().unwrap(), Duration::ZERO);
        assert!(w.check(|| "udp 127.0.0.1:45054".into()).is_ok());
        let mut w = AddrWatch::new("0.0.0.0:45054".parse().unwrap(), Duration::ZERO);
        assert!(w.check(|| "udp 0.0.0.0:45054".into()).is_ok());
    }
}
