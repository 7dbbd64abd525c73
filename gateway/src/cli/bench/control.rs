//! The control channel of a cross-host run: `bench --role rx` (which runs
//! the search, so it decides every trial) connects over TCP to `bench
//! --role tx --control ADDR` and asks it for each trial; the tx side sends
//! the traffic, then its send times (one table entry per frame, in
//! sending order) back, and the rx side matches its arrivals to them.
//!
//! Messages are JSON lines; a trial's send times follow their `Done` line
//! as a count of little-endian `u64`s. Every wait is bounded: a peer that
//! is unreachable, never connects, goes silent or closes the channel is a
//! [`ControlError`] naming the flag, the address and what was awaited.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::trial::Sent;

/// The protocol's version; both sides must speak the same.
pub const VERSION: u32 = 1;
/// Longest JSON line accepted.
const MAX_LINE: u64 = 1 << 20;
/// Most send times one trial may report (2^27: 1 GiB of them).
const MAX_ENTRIES: u64 = 1 << 27;
/// How long a new connection may take to send its first message (an rx
/// side sends its hello at once) before it is refused and listening goes on.
const FIRST_WAIT: Duration = Duration::from_secs(3);

/// One control message.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "msg", rename_all = "snake_case")]
pub enum Msg {
    /// rx → tx, first: who it is and the traffic it expects.
    Hello {
        /// [`VERSION`].
        version: u32,
        /// The traffic's description and fingerprint.
        traffic: Traffic,
        /// How long the tx side may wait for the next trial, seconds.
        idle_seconds: f64,
    },
    /// tx → rx, the answer: its traffic, clock epoch and port.
    Welcome {
        /// [`VERSION`].
        version: u32,
        /// The traffic the tx side sends.
        traffic: Traffic,
        /// CLOCK_REALTIME (tx host) its send times count from, ns.
        epoch_ns: u64,
        /// Its port, as the report names it.
        tx: String,
        /// Its NIC and driver.
        tx_nic: String,
        /// Its port's queues (absent: one, as before there were several).
        #[serde(default = "super::report::one_queue", skip_serializing_if = "super::report::is_one_queue")]
        tx_queues: u32,
        /// Its host name.
        hostname: String,
        /// How it timestamps sends.
        send_timestamping: String,
        /// Its PTP offset, ns, and where that came from.
        ptp_offset: Option<(f64, String)>,
    },
    /// rx → tx: an NTP-style probe (`t1` on the rx clock).
    Ping {
        /// rx clock when sent, ns.
        t1: u64,
    },
    /// tx → rx: the probe's answer (`t2` received, `t3` sent, tx clock).
    Pong {
        /// Echoed.
        t1: u64,
        /// tx clock on receipt, ns.
        t2: u64,
        /// tx clock on answering, ns.
        t3: u64,
    },
    /// rx → tx: run one trial now.
    Trial {
        /// Frames per second, `None` flat out.
        rate: Option<f64>,
        /// Warm-up, seconds.
        warmup: f64,
        /// The measured part, seconds.
        duration: f64,
    },
    /// tx → rx: the trial's sending is over; `entries` send times follow.
    Done {
        /// What was sent.
        sent: Sent,
        /// tx clock when the trial started, ns.
        trial_start: u64,
        /// The measured part's start, relative to the epoch, + 1 (u64::MAX: never).
        measure_start: u64,
        /// Lap and pool position of the first frame sent.
        lap: u64,
        /// Pool position of the first frame sent.
        pos: usize,
        /// Send times that follow.
        entries: u64,
    },
    /// rx → tx: the run is over.
    Bye,
    /// Either way: the sender gives up, and why.
    Error {
        /// Why.
        message: String,
    },
}

/// The traffic a side sends or expects: both must generate the same pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Traffic {
    /// The carrier in words.
    pub carrier: String,
    /// Frames in the pool.
    pub frames: usize,
    /// FNV-1a 64 of the pool's bytes.
    pub fingerprint: u64,
}

/// What went wrong on the control channel.
#[derive(Debug)]
pub enum ControlError {
    /// `--peer`: nothing accepted a connection within the time.
    Unreachable { peer: String, waited: Duration, last: String },
    /// `--control`: the address cannot be listened on.
    Listen { control: String, error: String },
    /// `--control`: no rx side connected within the time (`refused`
    /// connections did, but did not open with a valid message).
    NeverConnected { control: String, waited: Duration, refused: u64, last: String },
    /// The whole message did not come within the time (`got` bytes of it did).
    Silent { peer: String, awaiting: &'static str, waited: Duration, got: u64 },
    /// The peer closed the channel between messages.
    Closed { peer: String, awaiting: &'static str },
    /// The peer closed the channel after `got` bytes of a message.
    ClosedMidMessage { peer: String, awaiting: &'static str, got: u64 },
    /// A message that does not parse, at this byte offset of the stream.
    Protocol { peer: String, offset: u64, what: String },
    /// The two sides disagree on `field`.
    Mismatch { field: &'static str, tx: String, rx: String },
    /// The peer gave up.
    Peer { peer: String, message: String },
    /// Writing to the peer failed.
    Io { peer: String, error: String },
}

impl std::fmt::Display for ControlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use ControlError::*;
        match self {
            Unreachable { peer, waited, last } => write!(
                f,
                "--peer {peer}: no tx side answered within {:.1} s ({last}); start `fhgate bench --role tx --control {peer}` there first (--peer-timeout waits longer)",
                waited.as_secs_f64()
            ),
            Listen { control, error } => write!(f, "--control {control}: cannot listen there: {error}"),
            NeverConnected { control, waited, refused, last } => {
                write!(f, "--control {control}: no rx side connected within {:.1} s", waited.as_secs_f64())?;
                if *refused > 0 {
                    write!(f, " ({refused} connections refused, the last: {last})")?;
                }
                write!(f, "; start `fhgate bench --role rx --peer {control}` on the receiving host (--peer-timeout waits longer)")
            }
            Silent { peer, awaiting, waited, got } => write!(
                f,
                "control channel to {peer}: {awaiting} did not come within {:.1} s ({got} bytes of it came): the peer stopped answering",
                waited.as_secs_f64()
            ),
            Closed { peer, awaiting } => write!(f, "control channel to {peer}: the peer closed it while bench awaited {awaiting}"),
            ClosedMidMessage { peer, awaiting, got } => write!(f, "control channel to {peer}: the peer closed it mid-message, after {got} bytes of {awaiting}"),
            Protocol { peer, offset, what } => write!(f, "control channel to {peer}: byte {offset}: {what}"),
            Mismatch { field, tx, rx } => write!(f, "the tx and rx sides disagree on {field}: tx {tx}, rx {rx}; give both the same traffic flags"),
            Peer { peer, message } => write!(f, "the peer at {peer} gave up: {message}"),
            Io { peer, error } => write!(f, "control channel to {peer}: {error}"),
        }
    }
}

impl std::error::Error for ControlError {}

/// A connection [`Channel::accept`] took, with its first message.
pub struct Accepted {
    /// The channel.
    pub ch: Channel,
    /// Its first message (valid).
    pub first: Msg,
    /// Connections refused before it.
    pub refused: u64,
}

/// An open control channel.
pub struct Channel {
    r: BufReader<TcpStream>,
    w: BufWriter<TcpStream>,
    /// The peer's address.
    pub peer: String,
    offset: u64,
}

impl Channel {
    fn new(s: TcpStream, peer: String) -> Result<Channel, ControlError> {
        let io = |e: std::io::Error| ControlError::Io { peer: peer.clone(), error: e.to_string() };
        s.set_nodelay(true).map_err(io)?;
        let r = BufReader::new(s.try_clone().map_err(io)?);
        Ok(Channel { r, w: BufWriter::new(s), peer, offset: 0 })
    }

    /// Connects to `peer` (the tx side's `--control`), retrying until `within`.
    pub fn connect(peer: &str, within: Duration) -> Result<Channel, ControlError> {
        let t0 = Instant::now();
        let mut last = String::from("nothing tried");
        while t0.elapsed() < within && !fhgate::signals::stop_requested() {
            match peer.to_socket_addrs() {
                Ok(addrs) => {
                    for a in addrs {
                        let left = within.saturating_sub(t0.elapsed()).clamp(Duration::from_millis(10), Duration::from_secs(1));
                        match TcpStream::connect_timeout(&a, left) {
                            Ok(s) => return Channel::new(s, peer.to_string()),
                            Err(e) => last = format!("{a}: {e}"),
                        }
                    }
                }
                Err(e) => last = format!("resolving: {e}"),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(ControlError::Unreachable { peer: peer.to_string(), waited: t0.elapsed(), last })
    }

    /// Listens on `control` until a connection opens with a message that
    /// is `valid` (`awaiting` in words), within `within` overall. Any other
    /// connection (garbage, another message, a close, silence for
    /// [`FIRST_WAIT`]) is refused, logged and counted, and listening goes
    /// on: a stray connection cannot end the run.
    pub fn accept(control: &str, within: Duration, awaiting: &'static str, valid: impl Fn(&Msg) -> bool) -> Result<Accepted, ControlError> {
        let listen = |e: std::io::Error| ControlError::Listen { control: control.into(), error: e.to_string() };
        let l = TcpListener::bind(control).map_err(listen)?;
        l.set_nonblocking(true).map_err(listen)?;
        let t0 = Instant::now();
        let (mut refused, mut last) = (0u64, String::new());
        while t0.elapsed() < within && !fhgate::signals::stop_requested() {
            let (s, addr) = match l.accept() {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(listen(e)),
            };
            let wait = within.saturating_sub(t0.elapsed()).min(FIRST_WAIT);
            let why = match s.set_nonblocking(false).map_err(|e| ControlError::Io { peer: addr.to_string(), error: e.to_string() }).and_then(|_| Channel::new(s, addr.to_string())) {
                Ok(mut ch) => match ch.recv(awaiting, wait) {
                    Ok(first) if valid(&first) => return Ok(Accepted { ch, first, refused }),
                    Ok(other) => format!("{addr}: opened with {other:?}, not {awaiting}"),
                    Err(e) => e.to_string(),
                },
                Err(e) => e.to_string(),
            };
            refused += 1;
            eprintln!("fhgate bench: --control {control}: refused a connection ({refused} so far): {why}");
            last = why;
        }
        Err(ControlError::NeverConnected { control: control.into(), waited: t0.elapsed(), refused, last })
    }

    /// Sends one message.
    pub fn send(&mut self, m: &Msg) -> Result<(), ControlError> {
        let line = serde_json::to_string(m).map_err(|e| self.io(e.to_string()))?;
        let r = writeln!(self.w, "{line}").and_then(|_| self.w.flush());
        r.map_err(|e| self.io(e.to_string()))
    }

    /// Sends a trial's send times.
    pub fn send_entries(&mut self, e: &[u64]) -> Result<(), ControlError> {
        for v in e {
            self.w.write_all(&v.to_le_bytes()).map_err(|e| self.io(e.to_string()))?;
        }
        self.w.flush().map_err(|e| self.io(e.to_string()))
    }

    /// Receives one message within `within`, overall: however the peer
    /// spaces its bytes, the wait ends at the deadline. A peer's `Error`
    /// is returned as one.
    pub fn recv(&mut self, awaiting: &'static str, within: Duration) -> Result<Msg, ControlError> {
        let deadline = Instant::now() + within;
        let at = self.offset;
        let mut line: Vec<u8> = Vec::new();
        loop {
            let buf = self.fill(deadline, awaiting, within, line.len() as u64)?;
            let (take, end) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            if line.len() as u64 + take as u64 > MAX_LINE {
                return Err(ControlError::Protocol { peer: self.peer.clone(), offset: at, what: format!("a line longer than {MAX_LINE} bytes") });
            }
            line.extend_from_slice(&buf[..take]);
            self.r.consume(take);
            self.offset += take as u64;
            if end {
                break;
            }
        }
        match serde_json::from_slice::<Msg>(&line) {
            Ok(Msg::Error { message }) => Err(ControlError::Peer { peer: self.peer.clone(), message }),
            Ok(m) => Ok(m),
            Err(e) => Err(ControlError::Protocol { peer: self.peer.clone(), offset: at, what: format!("not a control message ({e})") }),
        }
    }

    /// Receives `n` send times within `within`, overall.
    pub fn recv_entries(&mut self, n: u64, out: &mut Vec<u64>, within: Duration) -> Result<(), ControlError> {
        const AWAITING: &str = "the trial's send times";
        if n > MAX_ENTRIES {
            return Err(ControlError::Protocol { peer: self.peer.clone(), offset: self.offset, what: format!("{n} send times announced (at most {MAX_ENTRIES})") });
        }
        out.clear();
        out.reserve(n as usize);
        let deadline = Instant::now() + within;
        let (mut b, mut have, mut got) = ([0u8; 8], 0usize, 0u64);
        while (out.len() as u64) < n {
            let buf = self.fill(deadline, AWAITING, within, got)?;
            let take = buf.len().min(8 - have);
            b[have..have + take].copy_from_slice(&buf[..take]);
            self.r.consume(take);
            (have, got) = (have + take, got + take as u64);
            if have == 8 {
                out.push(u64::from_le_bytes(b));
                have = 0;
            }
        }
        self.offset += 8 * n;
        Ok(())
    }

    /// The buffered bytes, reading more (waiting at most until `deadline`)
    /// when there are none; `got` bytes of the message are in so far.
    fn fill(&mut self, deadline: Instant, awaiting: &'static str, within: Duration, got: u64) -> Result<&[u8], ControlError> {
        if self.r.buffer().is_empty() {
            // The socket's timeout is per read: set it to what is left of
            // the message's time before each one.
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ControlError::Silent { peer: self.peer.clone(), awaiting, waited: within, got });
            }
            self.r.get_ref().set_read_timeout(Some(left.max(Duration::from_millis(1)))).map_err(|e| self.io(e.to_string()))?;
        }
        let peer = &self.peer;
        match self.r.fill_buf() {
            Ok([]) if got == 0 => Err(ControlError::Closed { peer: peer.clone(), awaiting }),
            Ok([]) => Err(ControlError::ClosedMidMessage { peer: peer.clone(), awaiting, got }),
            Ok(b) => Ok(b),
            Err(e) => Err(match e.kind() {
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => ControlError::Silent { peer: peer.clone(), awaiting, waited: within, got },
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset if got == 0 => ControlError::Closed { peer: peer.clone(), awaiting },
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset => ControlError::ClosedMidMessage { peer: peer.clone(), awaiting, got },
                std::io::ErrorKind::Interrupted => return Ok(&[]),
                _ => ControlError::Io { peer: peer.clone(), error: e.to_string() },
            }),
        }
    }

    fn io(&self, error: String) -> ControlError {
        ControlError::Io { peer: self.peer.clone(), error }
    }
}

/// FNV-1a 64 over bytes: the pool's fingerprint (both sides must agree).
pub fn fnv1a(h: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(h, |h, &b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

/// FNV-1a's offset basis.
pub const FNV_BASIS: u64 = 0xcbf2_9ce4_8422_2325;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_send_times_cross_and_a_silent_or_absent_peer_is_an_error() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        drop(l);
        // Nobody listens: bounded, named.
        let t = Instant::now();
        let e = Channel::connect(&addr, Duration::from_millis(500)).err().unwrap();
        assert!(matches!(e, ControlError::Unreachable { .. }), "{e}");
        assert!(t.elapsed() < Duration::from_secs(3));
        assert!(e.to_string().contains("--peer") && e.to_string().contains(&addr), "{e}");
        // Nobody connects.
        let e = Channel::accept("127.0.0.1:0", Duration::from_millis(200), "a ping", |_| true).err().unwrap();
        assert!(e.to_string().contains("no rx side connected"), "{e}");
        // A real exchange.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        drop(l);
        let server = std::thread::spawn({
            let addr = addr.clone();
            move || {
                let Accepted { ch: mut c, first: m, .. } = Channel::accept(&addr, Duration::from_secs(5), "a ping", |_| true).unwrap();
                let Msg::Ping { t1 } = m else { panic!("{m:?}") };
                c.send(&Msg::Pong { t1, t2: 2, t3: 3 }).unwrap();
                c.send_entries(&[7, u64::MAX, 0]).unwrap();
                // Then silence until the other side gives up.
                std::thread::sleep(Duration::from_millis(700));
            }
        });
        let mut c = Channel::connect(&addr, Duration::from_secs(5)).unwrap();
        c.send(&Msg::Ping { t1: 1 }).unwrap();
        let m = c.recv("a pong", Duration::from_secs(5)).unwrap();
        assert!(matches!(m, Msg::Pong { t1: 1, t2: 2, t3: 3 }), "{m:?}");
        let mut v = Vec::new();
        c.recv_entries(3, &mut v, Duration::from_secs(5)).unwrap();
        assert_eq!(v, [7, u64::MAX, 0]);
        let t = Instant::now();
        let e = c.recv("the end of the trial", Duration::from_millis(300)).err().unwrap();
        assert!(matches!(e, ControlError::Silent { .. }), "{e}");
        assert!(t.elapsed() < Duration::from_secs(2));
        server.join().unwrap();
        let e = c.recv("the end of the trial", Duration::from_secs(2)).err().unwrap();
        assert!(matches!(e, ControlError::Closed { .. }), "{e}");
    }

    /// A peer at `addr` that, once connected, writes `bytes` one every
    /// `gap`, then waits `linger` and closes.
    fn trickler(bytes: &'static [u8], gap: Duration, linger: Duration) -> (String, std::thread::JoinHandle<()>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            for b in bytes {
                if s.write_all(&[*b]).is_err() {
                    return;
                }
                std::thread::sleep(gap);
            }
            std::thread::sleep(linger);
        });
        (addr, h)
    }

    #[test]
    fn a_peer_trickling_bytes_is_bounded_by_the_message_deadline_and_a_close_mid_message_says_so() {
        // One byte every 50 ms for 3 s: each read succeeds, the message never ends.
        let (addr, h) = trickler(&[b' '; 60], Duration::from_millis(50), Duration::ZERO);
        let mut c = Channel::connect(&addr, Duration::from_secs(5)).unwrap();
        let t = Instant::now();
        let e = c.recv("the end of the trial", Duration::from_millis(400)).err().unwrap();
        let waited = t.elapsed();
        assert!(waited < Duration::from_millis(1500), "one deadline for the whole message, not per read: {waited:?}");
        assert!(matches!(e, ControlError::Silent { got, .. } if got > 0), "{e}");
        let m = e.to_string();
        assert!(m.contains(&addr) && m.contains("the end of the trial did not come within 0.4 s") && m.contains("stopped answering"), "{m}");
        assert!(!m.contains("no the "), "reads as English: {m}");
        drop(c);
        h.join().unwrap();
        // Send times likewise (8 bytes each; 60 bytes trickled, 8 asked).
        let (addr, h) = trickler(&[1; 60], Duration::from_millis(50), Duration::ZERO);
        let mut c = Channel::connect(&addr, Duration::from_secs(5)).unwrap();
        let t = Instant::now();
        let e = c.recv_entries(8, &mut Vec::new(), Duration::from_millis(400)).err().unwrap();
        assert!(t.elapsed() < Duration::from_millis(1500), "{:?}", t.elapsed());
        assert!(e.to_string().contains("the trial's send times did not come within 0.4 s"), "{e}");
        drop(c);
        h.join().unwrap();
        // Five bytes of a line, then the peer closes.
        let (addr, h) = trickler(b"{\"msg", Duration::ZERO, Duration::ZERO);
        let mut c = Channel::connect(&addr, Duration::from_secs(5)).unwrap();
        let e = c.recv("the next trial", Duration::from_secs(5)).err().unwrap();
        assert!(matches!(e, ControlError::ClosedMidMessage { got: 5, .. }), "{e}");
        assert!(e.to_string().contains("closed it mid-message, after 5 bytes of the next trial"), "{e}");
        h.join().unwrap();
        // Twelve bytes of send times (one and a half), then the peer closes.
        let (addr, h) = trickler(&[2; 12], Duration::ZERO, Duration::ZERO);
        let mut c = Channel::connect(&addr, Duration::from_secs(5)).unwrap();
        let e = c.recv_entries(2, &mut Vec::new(), Duration::from_secs(5)).err().unwrap();
        assert!(e.to_string().contains("after 12 bytes of the trial's send times"), "{e}");
        h.join().unwrap();
    }

    #[test]
    fn stray_connections_are_refused_and_counted_and_listening_goes_on_until_a_valid_peer() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        drop(l);
        let server = std::thread::spawn({
            let addr = addr.clone();
            move || Channel::accept(&addr, Duration::from_secs(10), "a ping", |m| matches!(m, Msg::Ping { .. }))
        });
        let connect = || connect_to(&addr);
        let t = Instant::now();
        // Garbage, another message, a close without a word: each refused.
        let mut s1 = connect();
        s1.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        let mut s2 = connect();
        s2.write_all(b"{\"msg\":\"bye\"}\n").unwrap();
        drop(connect());
        // Then the real peer.
        let mut c = Channel::new(connect(), addr.clone()).unwrap();
        c.send(&Msg::Ping { t1: 9 }).unwrap();
        let a = server.join().unwrap().unwrap();
        assert!(matches!(a.first, Msg::Ping { t1: 9 }), "{:?}", a.first);
        assert_eq!(a.refused, 3);
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        drop((s1, s2));
        // Only strays within the time: the error counts them and says the last.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        drop(l);
        let server = std::thread::spawn({
            let addr = addr.clone();
            move || Channel::accept(&addr, Duration::from_millis(1500), "a ping", |m| matches!(m, Msg::Ping { .. }))
        });
        let mut s = connect_to(&addr);
        s.write_all(b"garbage\n").unwrap();
        let e = server.join().unwrap().err().unwrap();
        assert!(matches!(e, ControlError::NeverConnected { refused: 1, .. }), "{e}");
        assert!(e.to_string().contains("no rx side connected") && e.to_string().contains("1 connections refused, the last: ") && e.to_string().contains("not a control message"), "{e}");
    }

    /// A plain TCP connection to `addr`, retried while it is not yet listening.
    fn connect_to(addr: &str) -> TcpStream {
        let t0 = Instant::now();
        loop {
            match TcpStream::connect(addr) {
                Ok(s) => return s,
                Err(e) if t0.elapsed() > Duration::from_secs(5) => panic!("{addr}: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
}
