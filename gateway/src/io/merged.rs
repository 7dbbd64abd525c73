//! One receive port over the lanes of a multi-queue live port, for the
//! tools that read a port in one loop (`fhgate sink`): each call polls the
//! lanes in turn, starting after the one that last gave frames, so a busy
//! lane cannot starve the others. Per-lane order is kept, and with it
//! per-flow order wherever the sender kept each flow on one queue; lanes
//! are not ordered against each other.

use std::io;

use super::{RxPoll, RxPort};
use crate::packet::PacketBuf;

/// Several receive halves read as one.
pub struct MergedRx {
    lanes: Vec<Box<dyn RxPort>>,
    /// Ended lanes (a live lane never ends; kept for completeness).
    closed: Vec<bool>,
    next: usize,
}

impl MergedRx {
    /// Reads `lanes` in turn (at least one).
    pub fn new(lanes: Vec<Box<dyn RxPort>>) -> MergedRx {
        let closed = vec![false; lanes.len()];
        MergedRx { lanes, closed, next: 0 }
    }
}

/// The receive halves of a port's lanes as one port: a single lane as it
/// is, several through a [`MergedRx`].
pub fn merged(mut lanes: Vec<Box<dyn RxPort>>) -> Box<dyn RxPort> {
    if lanes.len() == 1 {
        lanes.pop().expect("one lane")
    } else {
        Box::new(MergedRx::new(lanes))
    }
}

impl RxPort for MergedRx {
    fn recv(&mut self, bufs: &mut [PacketBuf], lens: &mut [usize], times: &mut [u64]) -> io::Result<RxPoll> {
        let n = self.lanes.len();
        for k in 0..n {
            let i = (self.next + k) % n;
            if self.closed[i] {
                continue;
            }
            match self.lanes[i].recv(bufs, lens, times)? {
                RxPoll::Frames(got) => {
                    self.next = (i + 1) % n;
                    return Ok(RxPoll::Frames(got));
                }
                RxPoll::Idle => {}
                RxPoll::Closed => self.closed[i] = true,
            }
        }
        Ok(if self.closed.iter().all(|c| *c) { RxPoll::Closed } else { RxPoll::Idle })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::memory::MemoryRx;
    use std::sync::Arc;

    /// A lane of `n` frames whose first byte is `tag` and second their index.
    fn lane(tag: u8, n: u64) -> Box<dyn RxPort> {
        let frames: Arc<[Vec<u8>]> = (0..n).map(|i| vec![tag, i as u8, 0, 0]).collect::<Vec<_>>().into();
        Box::new(MemoryRx::new(frames, n))
    }

    #[test]
    fn every_lanes_frames_come_in_their_order_and_no_lane_waits_for_another() {
        let mut rx = MergedRx::new(vec![lane(1, 70), lane(2, 3), lane(3, 40)]);
        let mut bufs: Vec<PacketBuf> = (0..32).map(|_| PacketBuf::new()).collect();
        let (mut lens, mut times) = ([0usize; 32], [0u64; 32]);
        let mut seen: Vec<Vec<u8>> = vec![Vec::new(); 4];
        let mut first_calls = Vec::new();
        loop {
            match rx.recv(&mut bufs, &mut lens, &mut times).unwrap() {
                RxPoll::Frames(n) => {
                    first_calls.push(bufs[0].bytes()[0]);
                    for b in &bufs[..n] {
                        seen[b.bytes()[0] as usize].push(b.bytes()[1]);
                    }
                }
                RxPoll::Idle => continue,
                RxPoll::Closed => break,
            }
        }
        for (tag, n) in [(1, 70u8), (2, 3), (3, 40)] {
            assert_eq!(seen[tag], (0..n).collect::<Vec<_>>(), "lane {tag}: all, in order");
        }
        assert_eq!(&first_calls[..3], &[1, 2, 3], "the lanes take turns");
    }
}
