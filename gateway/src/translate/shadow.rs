//! The worker's side of a canary: a tap that copies a sampled share of the
//! packets it is about to translate onto a bounded lock-free ring, for a
//! shadow thread that runs the active and the candidate chains on the copy
//! (`control/canary`). The active path never waits for it: a sample for
//! which the ring or the buffer pool has no room is dropped and counted.
//! Per packet it costs a counter or a bit test, and for a sampled one a
//! copy of its bytes into a preallocated buffer and one ring push: no
//! allocation, no lock, no syscall.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use rtrb::{Consumer, Producer, RingBuffer};

use super::burst::{Packet, PacketBuf};

/// How a canary picks the packets it copies (classified ones only: the
/// others bypass every translator).
#[derive(Clone)]
pub enum Sample {
    /// One packet in every `n` (1: all), counted per worker.
    Every(u32),
    /// Every packet of these eAxC IDs: a 65 536-bit set.
    Flows(Arc<[u64; 1024]>),
}

impl Sample {
    /// The set of `eaxcs` as a [`Sample::Flows`].
    pub fn flows(eaxcs: &[u16]) -> Sample {
        let mut bits = [0u64; 1024];
        for &e in eaxcs {
            bits[e as usize >> 6] |= 1 << (e & 63);
        }
        Sample::Flows(Arc::new(bits))
    }
}

/// One sampled input packet, as it came in (before any translator).
pub struct ShadowFrame {
    /// The copy, in `buf[..len]`.
    pub buf: PacketBuf,
    /// Frame length.
    pub len: usize,
    /// Direction of the port it came in on.
    pub port_direction: u8,
    /// Its capture or receive time, ns since the Unix epoch.
    pub time_ns: u64,
}

/// What a tap counted, read by the control thread.
#[derive(Debug, Default)]
pub struct TapCounters {
    /// Packets the sampling picked.
    pub sampled: AtomicU64,
    /// Of those, not copied: the ring to the shadow was full or no buffer was free.
    pub dropped: AtomicU64,
}

/// The worker's end: installed through the swap ring, run at the start of
/// every burst by [`super::WorkerHost::process`].
pub struct ShadowTap {
    out: Producer<ShadowFrame>,
    free: Consumer<PacketBuf>,
    sample: Sample,
    n: u32,
    sampled: u64,
    dropped: u64,
    counters: Arc<TapCounters>,
}

/// The shadow thread's end of one tap.
pub struct ShadowFeed {
    /// Sampled packets.
    pub frames: Consumer<ShadowFrame>,
    /// Buffers handed back to the tap once the shadow is done with them.
    pub free: Producer<PacketBuf>,
    /// The tap's counters.
    pub counters: Arc<TapCounters>,
}

/// A tap and its feed, joined by a ring of `slots` and as many buffers
/// (allocated here, on the calling thread, never on the worker).
pub fn link(sample: Sample, slots: usize) -> (ShadowTap, ShadowFeed) {
    let (out, frames) = RingBuffer::new(slots);
    let (mut put, free) = RingBuffer::new(slots);
    for _ in 0..slots {
        let _ = put.push(PacketBuf::new());
    }
    let counters = Arc::new(TapCounters::default());
    let n = match sample {
        // The first packet is sampled: 1/N starts at once.
        Sample::Every(n) => n.saturating_sub(1),
        Sample::Flows(_) => 0,
    };
    let tap = ShadowTap { out, free, sample, n, sampled: 0, dropped: 0, counters: counters.clone() };
    (tap, ShadowFeed { frames, free: put, counters })
}

impl ShadowTap {
    /// Copies the sampled packets of `pkts` (a burst as received) to the
    /// shadow, dropping (and counting) what it has no room for.
    #[inline]
    pub fn take(&mut self, pkts: &[Packet]) {
        let before = self.sampled;
        for p in pkts {
            let Some(d) = &p.desc else { continue };
            let pick = match &self.sample {
                Sample::Every(n) => {
                    self.n += 1;
                    let hit = self.n >= *n;
                    if hit {
                        self.n = 0;
                    }
                    hit
                }
                Sample::Flows(bits) => {
                    let e = d.eaxc() as usize;
                    bits[e >> 6] >> (e & 63) & 1 == 1
                }
            };
            if !pick {
                continue;
            }
            self.sampled += 1;
            if self.out.slots() == 0 {
                self.dropped += 1;
                continue;
            }
            let Ok(mut buf) = self.free.pop() else {
                self.dropped += 1;
                continue;
            };
            buf.bytes_mut()[..p.len].copy_from_slice(&p.buf.bytes()[..p.len]);
            // There was a slot (checked above, and only this thread pushes).
            let _ = self.out.push(ShadowFrame { buf, len: p.len, port_direction: p.port_direction, time_ns: p.time_ns });
        }
        if self.sampled != before {
            self.counters.sampled.store(self.sampled, Relaxed);
            self.counters.dropped.store(self.dropped, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::burst::BufPool;
    use ecpri::frame::DecodeConfig;
    use std::sync::atomic::Ordering::Relaxed;

    /// eCPRI bit-sequence messages (type 1), hand-packed: they classify
    /// with the ecpriPcid as their eAxC.
    fn packets(pool: &mut BufPool, eaxcs: &[u16]) -> Vec<Packet> {
        eaxcs
            .iter()
            .enumerate()
            .map(|(i, &e)| {
                let mut f = vec![0u8; 14];
                f[12..14].copy_from_slice(&0xAEFEu16.to_be_bytes());
                let id = e.to_be_bytes();
                f.extend_from_slice(&[0x10, 1, 0, 6, id[0], id[1], 0, i as u8, 0xAB, 0xCD]);
                let p = Packet::from_frame(pool, &f, &DecodeConfig::default(), 1).expect("a buffer");
                assert_eq!(p.desc.map(|d| d.eaxc()), Some(e), "the test frame classifies");
                p
            })
            .collect()
    }

    fn counts(feed: &ShadowFeed) -> (u64, u64) {
        (feed.counters.sampled.load(Relaxed), feed.counters.dropped.load(Relaxed))
    }

    #[test]
    fn samples_one_in_n_from_the_first_and_counts_what_does_not_fit() {
        let mut pool = BufPool::new(64);
        let (mut tap, mut feed) = link(Sample::Every(4), 4);
        let pkts = packets(&mut pool, &[1; 20]);
        tap.take(&pkts);
        // Packets 0, 4, 8, 12, 16 are picked; 4 slots: the fifth is dropped.
        assert_eq!(counts(&feed), (5, 1));
        for want in [0, 4, 8, 12] {
            let f = feed.frames.pop().expect("a copy");
            assert_eq!(&f.buf.bytes()[..f.len], pkts[want].data(), "packet {want}, byte for byte");
            feed.free.push(f.buf).ok().expect("room for the buffer");
        }
        assert!(feed.frames.pop().is_err());
        // With the buffers back, the next picks are copied again.
        tap.take(&pkts);
        assert_eq!(counts(&feed), (10, 2));
    }

    #[test]
    fn a_flow_set_picks_every_packet_of_its_eaxcs_only() {
        let mut pool = BufPool::new(64);
        let (mut tap, mut feed) = link(Sample::flows(&[3, 700]), 16);
        tap.take(&packets(&mut pool, &[1, 3, 700, 3, 2, 701]));
        assert_eq!(counts(&feed), (3, 0));
        let got: Vec<u16> = std::iter::from_fn(|| feed.frames.pop().ok()).map(|f| u16::from_be_bytes([f.buf.bytes()[18], f.buf.bytes()[19]])).collect();
        assert_eq!(got, vec![3, 700, 3]);
    }
}
