//! In-memory ports, for benchmarks and tests: [`MemoryRx`] replays a
//! prepared set of frames (cycling through it, as fast as asked or at a
//! fixed rate) and [`MemoryTx`] counts what leaves, checking a sample and
//! optionally timing each frame from when it was due at the receive port.
//! Neither allocates or locks per frame; the only copy is the one into the
//! packet buffer that any receive port makes.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ecpri::frame::{DecodeConfig, FrameRepr};
use hdrhistogram::Histogram;

use super::{RxPoll, RxPort, TxPort};
use crate::packet::PacketBuf;

/// Wall-clock time, ns since the Unix epoch (what `times` carries).
fn unix_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// A receive port over frames held in memory: frame `i` of the stream is
/// `frames[i % frames.len()]`, `total` frames in all, then [`RxPoll::Closed`].
pub struct MemoryRx {
    frames: Arc<[Vec<u8>]>,
    next: usize,
    remaining: u64,
    /// Frames per second, or `None` for as fast as the pipeline takes them.
    rate: Option<f64>,
    sent: u64,
    start: Arc<OnceLock<Instant>>,
    /// Unix time of `start`, ns (paced ports).
    start_unix: u64,
    /// How long after the first poll the port stays open with nothing
    /// more to give (idle), and when that poll was.
    linger: Option<(std::time::Duration, Option<Instant>)>,
}

impl MemoryRx {
    /// Replays `total` frames cycling through `frames`, as fast as the
    /// pipeline takes them. An empty `frames` is closed at once.
    pub fn new(frames: Arc<[Vec<u8>]>, total: u64) -> Self {
        let remaining = if frames.is_empty() { 0 } else { total };
        MemoryRx { frames, next: 0, remaining, rate: None, sent: 0, start: Arc::new(OnceLock::new()), start_unix: 0, linger: None }
    }

    /// Releases frames at `pps` frames per second from the first call on
    /// (a frame is due at `k / pps`; late polls catch up in bursts). Each
    /// frame's time is when it was due, not when it was taken, so that a
    /// sink's latency includes any wait in the port.
    pub fn paced(mut self, pps: f64) -> Self {
        self.rate = Some(pps);
        self
    }

    /// Stays open until `d` after the first poll, idle once the frames are
    /// out (zero frames: an idle port for `d`), then closes.
    pub fn open_for(mut self, d: std::time::Duration) -> Self {
        self.linger = Some((d, None));
        self
    }

    /// A handle on when the first frame was received (set by the first
    /// `recv` that returns frames); still readable once the port has moved
    /// into a pipeline.
    pub fn started(&self) -> Arc<OnceLock<Instant>> {
        self.start.clone()
    }

    /// Frames still to come.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }
}

impl RxPort for MemoryRx {
    fn recv(&mut self, bufs: &mut [PacketBuf], lens: &mut [usize], times: &mut [u64]) -> std::io::Result<RxPoll> {
        if let Some((d, first)) = &mut self.linger {
            let first = *first.get_or_insert_with(Instant::now);
            if self.remaining == 0 {
                return Ok(if first.elapsed() < *d { RxPoll::Idle } else { RxPoll::Closed });
            }
        }
        if self.remaining == 0 {
            return Ok(RxPoll::Closed);
        }
        let mut n = bufs.len().min(lens.len()).min(times.len()).min(self.remaining.min(usize::MAX as u64) as usize);
        let now = unix_ns();
        if let Some(pps) = self.rate {
            let t0 = match self.start.get() {
                Some(t) => *t,
                None => {
                    self.start_unix = now;
                    *self.start.get_or_init(Instant::now)
                }
            };
            // Frame k is due at k / pps: the first at once.
            let due = (t0.elapsed().as_secs_f64() * pps) as u64 + 1;
            n = n.min(due.saturating_sub(self.sent) as usize);
            if n == 0 {
                return Ok(RxPoll::Idle);
            }
        } else {
            self.start.get_or_init(Instant::now);
        }
        for i in 0..n {
            let f = &self.frames[self.next];
            let len = f.len().min(crate::packet::PACKET_CAPACITY);
            bufs[i].bytes_mut()[..len].copy_from_slice(&f[..len]);
            lens[i] = len;
            times[i] = match self.rate {
                Some(pps) => self.start_unix + ((self.sent + i as u64) as f64 * 1e9 / pps) as u64,
                None => now,
            };
            self.next += 1;
            if self.next == self.frames.len() {
                self.next = 0;
            }
        }
        self.sent += n as u64;
        self.remaining -= n as u64;
        Ok(RxPoll::Frames(n))
    }

    /// Sleeps until the next frame is due (as an interrupt would wake the
    /// thread on its arrival), the port closes, or `timeout`. The thread's
    /// timer slack is set to 1 ns first, so the sleep ends when asked,
    /// not up to 50 µs later: what is measured is the wake-up itself.
    fn wait(&mut self, timeout: std::time::Duration) -> std::io::Result<bool> {
        let now = Instant::now();
        let mut until = now + timeout;
        if let (Some(pps), Some(t0), true) = (self.rate, self.start.get(), self.remaining > 0) {
            until = until.min(*t0 + std::time::Duration::from_secs_f64(self.sent as f64 / pps));
        } else if self.remaining > 0 {
            // Frames wait at an unpaced port: nothing to sleep for.
            return Ok(false);
        }
        if let Some((d, Some(first))) = self.linger {
            until = until.min(first + d);
        }
        // SAFETY: PR_SET_TIMERSLACK takes an unsigned long and touches only this thread.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
        std::thread::sleep(until.saturating_duration_since(now));
        Ok(true)
    }
}

/// What a [`MemoryTx`] saw, shared with whoever made it.
#[derive(Debug, Default)]
pub struct SinkShared {
    packets: AtomicU64,
    bytes: AtomicU64,
    checked: AtomicU64,
    invalid: AtomicU64,
    last: Mutex<Option<Instant>>,
    first_error: Mutex<Option<String>>,
    kept: Mutex<Vec<Vec<u8>>>,
    latency: Mutex<Option<Histogram<u64>>>,
}

/// A snapshot of a [`MemoryTx`]'s counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkReport {
    /// Frames sent.
    pub packets: u64,
    /// Bytes sent.
    pub bytes: u64,
    /// Frames decoded to check them.
    pub checked: u64,
    /// Checked frames that did not decode.
    pub invalid: u64,
    /// The first decode error, as text.
    pub first_error: Option<String>,
}

impl SinkShared {
    /// The counters now (complete once the port is dropped).
    pub fn report(&self) -> SinkReport {
        SinkReport {
            packets: self.packets.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            checked: self.checked.load(Relaxed),
            invalid: self.invalid.load(Relaxed),
            first_error: self.first_error.lock().ok().and_then(|e| e.clone()),
        }
    }

    /// When the last burst was flushed.
    pub fn last_flush(&self) -> Option<Instant> {
        self.last.lock().ok().and_then(|l| *l)
    }

    /// The frames kept by [`MemoryTx::keep_first`], in order.
    pub fn kept(&self) -> Vec<Vec<u8>> {
        self.kept.lock().map(|k| k.clone()).unwrap_or_default()
    }

    /// With [`MemoryTx::timing`], once the port is dropped: ns from each
    /// frame's time (`time_ns`) to the flush that sent it.
    pub fn latency(&self) -> Option<Histogram<u64>> {
        self.latency.lock().ok().and_then(|l| l.clone())
    }
}

/// A transmit port that counts frames and bytes and decodes every
/// `check_every`-th frame with [`FrameRepr::parse`] to check it is valid.
/// Counters are published once per flush.
pub struct MemoryTx {
    shared: Arc<SinkShared>,
    check: Option<(u64, DecodeConfig)>,
    keep: usize,
    kept: Vec<Vec<u8>>,
    /// With timing: the latency histogram and the times of the frames queued since the last flush.
    timing: Option<(Histogram<u64>, Vec<u64>)>,
    packets: u64,
    bytes: u64,
    checked: u64,
    invalid: u64,
    first_error: Option<String>,
}

impl MemoryTx {
    /// A sink that only counts.
    pub fn new() -> Self {
        MemoryTx {
            shared: Arc::new(SinkShared::default()),
            check: None,
            keep: 0,
            kept: Vec::new(),
            timing: None,
            packets: 0,
            bytes: 0,
            checked: 0,
            invalid: 0,
            first_error: None,
        }
    }

    /// Also decodes frames 0, `every`, 2 × `every`, … with `decode`.
    pub fn checking(mut self, every: u64, decode: DecodeConfig) -> Self {
        self.check = Some((every.max(1), decode));
        self
    }

    /// Also times every frame: from its `time_ns` (ns since the Unix
    /// epoch; a paced [`MemoryRx`] gives when it was due) to the flush
    /// that sends it, in a histogram read from [`SinkShared::latency`].
    pub fn timing(mut self) -> Self {
        // 1 ns to 10 s at 3 significant digits, like the pipeline's own.
        let h = Histogram::new_with_bounds(1, 10_000_000_000, 3).expect("valid bounds");
        self.timing = Some((h, Vec::with_capacity(1024)));
        self
    }

    /// Also keeps a copy of the first `n` frames (for tests; allocates up front).
    pub fn keep_first(mut self, n: usize) -> Self {
        self.keep = n;
        self.kept = Vec::with_capacity(n);
        self
    }

    /// The shared counters; still readable once the port has moved into a pipeline.
    pub fn shared(&self) -> Arc<SinkShared> {
        self.shared.clone()
    }

    fn publish(&self) {
        let s = &self.shared;
        s.packets.store(self.packets, Relaxed);
        s.bytes.store(self.bytes, Relaxed);
        s.checked.store(self.checked, Relaxed);
        s.invalid.store(self.invalid, Relaxed);
    }
}

impl Default for MemoryTx {
    fn default() -> Self {
        Self::new()
    }
}

impl TxPort for MemoryTx {
    fn send(&mut self, frame: &[u8], time_ns: u64) -> std::io::Result<()> {
        if let Some((_, pending)) = &mut self.timing {
            pending.push(time_ns);
        }
        if let Some((every, decode)) = &self.check {
            if self.packets.is_multiple_of(*every) {
                self.checked += 1;
                if let Err(e) = FrameRepr::parse(frame, decode) {
                    self.invalid += 1;
                    self.first_error.get_or_insert_with(|| format!("frame {}: {e}", self.packets));
                }
            }
        }
        if self.kept.len() < self.keep {
            self.kept.push(frame.to_vec());
        }
        self.packets += 1;
        self.bytes += frame.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if let Some((h, pending)) = &mut self.timing {
            let now = unix_ns();
            for t in pending.drain(..) {
                let _ = h.record(now.saturating_sub(t).max(1));
            }
        }
        self.publish();
        if let Ok(mut l) = self.shared.last.lock() {
            *l = Some(Instant::now());
        }
        Ok(())
    }
}

impl Drop for MemoryTx {
    fn drop(&mut self) {
        self.publish();
        if let Ok(mut e) = self.shared.first_error.lock() {
            *e = self.first_error.take();
        }
        if let Ok(mut k) = self.shared.kept.lock() {
            *k = std::mem::take(&mut self.kept);
        }
        if let (Some((h, _)), Ok(mut l)) = (self.timing.take(), self.shared.latency.lock()) {
            *l = Some(h);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::pipeline::runner::{start, DirectionSpec};

    fn frames() -> Arc<[Vec<u8>]> {
        ecpri::samples::catalog().unwrap().into_iter().take(3).map(|s| s.frame).collect::<Vec<_>>().into()
    }

    fn bufs(n: usize) -> (Vec<PacketBuf>, Vec<usize>, Vec<u64>) {
        ((0..n).map(|_| PacketBuf::new()).collect(), vec![0; n], vec![0; n])
    }

    #[test]
    fn replays_cycling_then_closes() {
        let f = frames();
        let mut rx = MemoryRx::new(f.clone(), 7);
        let (mut b, mut l, mut t) = bufs(4);
        assert_eq!(rx.recv(&mut b, &mut l, &mut t).unwrap(), RxPoll::Frames(4));
        for i in 0..4 {
            let want = &f[i % 3];
            assert_eq!((&b[i].bytes()[..l[i]], l[i]), (&want[..], want.len()));
            assert!(t[i] > 1_600_000_000_000_000_000, "a Unix time in ns");
        }
        assert!(rx.started().get().is_some());
        assert_eq!(rx.recv(&mut b, &mut l, &mut t).unwrap(), RxPoll::Frames(3));
        // Frame 4 of the stream is frame 1 of the set.
        assert_eq!(&b[0].bytes()[..l[0]], &f[1][..]);
        assert_eq!(rx.recv(&mut b, &mut l, &mut t).unwrap(), RxPoll::Closed);
        assert_eq!(MemoryRx::new(Arc::from(Vec::new()), 5).recv(&mut b, &mut l, &mut t).unwrap(), RxPoll::Closed);
    }

    #[test]
    fn paced_releases_frames_on_time() {
        let mut rx = MemoryRx::new(frames(), 1000).paced(1000.0);
        let (mut b, mut l, mut t) = bufs(32);
        assert_eq!(rx.recv(&mut b, &mut l, &mut t).unwrap(), RxPoll::Frames(1), "the first frame is due at once");
        let first = t[0];
        assert_eq!(rx.recv(&mut b, &mut l, &mut t).unwrap(), RxPoll::Idle);
        std::thread::sleep(Duration::from_millis(10));
        let RxPoll::Frames(n) = rx.recv(&mut b, &mut l, &mut t).unwrap() else { panic!("frames are due") };
        assert!((10..=31).contains(&n), "{n} frames after 10 ms at 1 kHz");
        // Times are when each frame was due: 1 ms apart.
        for (i, ti) in t[..n].iter().enumerate() {
            assert_eq!(ti - first, (i as u64 + 1) * 1_000_000);
        }
    }

    #[test]
    fn sink_counts_checks_and_keeps() {
        let f = frames();
        let decode = ecpri::samples::catalog().unwrap()[0].decode;
        let mut tx = MemoryTx::new().checking(2, decode).keep_first(1);
        let shared = tx.shared();
        tx.send(&f[0], 0).unwrap();
        // An eCPRI frame cut inside its common header does not decode.
        let cut = &f[0][..16];
        tx.send(cut, 0).unwrap();
        tx.send(cut, 0).unwrap();
        tx.flush().unwrap();
        let r = shared.report();
        assert_eq!((r.packets, r.bytes, r.checked, r.invalid), (3, f[0].len() as u64 + 32, 2, 1));
        assert!(shared.last_flush().is_some());
        drop(tx);
        assert!(shared.report().first_error.unwrap().starts_with("frame 2: "));
        assert_eq!(shared.kept(), vec![f[0].clone()]);
        assert!(shared.latency().is_none(), "not timing");
    }

    #[test]
    fn sink_times_frames_from_their_time() {
        let mut tx = MemoryTx::new().timing();
        let shared = tx.shared();
        let now = unix_ns();
        tx.send(&[0u8; 60], now - 5_000_000).unwrap();
        tx.send(&[0u8; 60], now - 1_000_000).unwrap();
        tx.flush().unwrap();
        drop(tx);
        let h = shared.latency().unwrap();
        assert_eq!(h.len(), 2);
        // The histogram keeps 3 significant digits.
        assert!(h.min() >= 999_000 && h.max() >= 4_995_000 && h.max() < 1_000_000_000, "{} {}", h.min(), h.max());
    }

    #[test]
    fn drives_the_pipeline_end_to_end_in_both_threadings() {
        use crate::pipeline::runner::Threading;
        for threading in [Threading::RunToCompletion, Threading::Pipelined] {
            let comp = ecpri::UdCompHdr::new(ecpri::CompMethod::Bfp, 9);
            let decode = DecodeConfig { dl_comp: comp, ul_comp: comp, comp_hdr: ecpri::uplane::CompHdrMode::Present, ..DecodeConfig::default() };
            let frame = ecpri::samples::uplane_frame(comp, true, &[(0, 53)]).unwrap();
            // Every other frame is not eCPRI (IPv4): it skips the chains and leaves untouched.
            let mut other = frame[..60].to_vec();
            other[12..14].copy_from_slice(&[0x08, 0x00]);
            let rx = MemoryRx::new(vec![frame.clone(), other.clone()].into(), 2000);
            let started = rx.started();
            let tx = MemoryTx::new().keep_first(2000);
            let shared = tx.shared();
            let spec = DirectionSpec::for_test(Box::new(rx), Box::new(tx), decode, threading);
            let stats = start(spec).unwrap().join().unwrap();
            assert_eq!(stats.totals(), (1000, 1000), "{threading:?}");
            assert_eq!(stats.other.get(&0x0800), Some(&1000), "{threading:?}");
            assert_eq!(stats.latency.len(), 2000, "{threading:?}: every frame forwarded is timed");
            let r = shared.report();
            assert_eq!((r.packets, r.bytes), (2000, 1000 * (frame.len() + 60) as u64), "{threading:?}: {r:?}");
            assert!(started.get().unwrap() <= &shared.last_flush().unwrap());
            // Nothing split, so even the sequence IDs pass as they came.
            let kept = shared.kept();
            let ecpri: Vec<_> = kept.iter().filter(|k| k.len() == frame.len()).collect();
            assert_eq!(ecpri.len(), 1000, "{threading:?}");
            assert!(ecpri.iter().all(|k| *k == &frame), "{threading:?}: unchanged, byte for byte");
            assert!(kept.iter().any(|k| k == &other), "{threading:?}: the IPv4 frame left untouched");
        }
    }
}
