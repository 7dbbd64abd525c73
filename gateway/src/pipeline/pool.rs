//! The buffer pool shared by the stages of one direction: a lock-free
//! queue of packet buffers (allocated once, at start). Each stage keeps a
//! small local cache and trades with the shared queue between bursts, so
//! a packet costs no allocation and no lock.
//!
//! Most buffers take a shorter way back: TX hands the buffers it sent to
//! RX on a [`recycle_ring`], a burst at a time. RX reuses them first, so
//! the buffers in use stay few and warm in cache (the shared queue is
//! first in, first out: through it, every buffer of the pool would take
//! its turn), and neither side pays an atomic read-modify-write per buffer.

use std::sync::Arc;

use crossbeam_queue::ArrayQueue;
use rtrb::chunks::ChunkError;
use rtrb::{Consumer, Producer, RingBuffer};

use crate::packet::{BufPool, PacketBuf};

/// Buffers shared by RX, the workers and TX of one direction.
#[derive(Clone)]
pub struct SharedPool(Arc<ArrayQueue<PacketBuf>>);

impl SharedPool {
    /// Allocates `n` buffers.
    pub fn new(n: usize) -> SharedPool {
        let q = ArrayQueue::new(n.max(1));
        for _ in 0..n {
            // The queue was sized for exactly these buffers.
            let _ = q.push(PacketBuf::new());
        }
        SharedPool(Arc::new(q))
    }

    /// One buffer, if any is free.
    #[inline]
    pub fn get(&self) -> Option<PacketBuf> {
        self.0.pop()
    }

    /// Returns a buffer.
    #[inline]
    pub fn put(&self, b: PacketBuf) {
        // Every buffer came from this queue, so there is always room.
        let _ = self.0.push(b);
    }

    /// Free buffers now.
    pub fn available(&self) -> usize {
        self.0.len()
    }

    /// An empty local cache that can hold `cap` buffers.
    pub fn local(&self, cap: usize) -> BufPool {
        let mut p = BufPool::new(cap);
        // BufPool::new allocated `cap` buffers; hand them to the shared
        // queue's owner by dropping them, keeping the capacity.
        while p.get().is_some() {}
        p
    }

    /// Tops `local` up to `want` buffers, or gives back what exceeds `keep`.
    #[inline]
    pub fn balance(&self, local: &mut BufPool, want: usize, keep: usize) {
        while local.available() < want {
            match self.get() {
                Some(b) => local.put(b),
                None => break,
            }
        }
        while local.available() > keep {
            match local.get() {
                Some(b) => self.put(b),
                None => break,
            }
        }
    }
}

/// A ring of `capacity` buffers from TX back to RX, over `pool`: the
/// returning end and the taking end.
pub fn recycle_ring(pool: &SharedPool, capacity: usize) -> (BufReturn, BufTake) {
    let (ring, take) = RingBuffer::new(capacity.max(1));
    (BufReturn { ring, pool: pool.clone() }, BufTake { ring: take, pool: pool.clone() })
}

/// TX's end of a [`recycle_ring`].
pub struct BufReturn {
    ring: Producer<PacketBuf>,
    pool: SharedPool,
}

impl BufReturn {
    /// Returns `bufs`: onto the ring in one commit, what it has no room
    /// for to the shared pool.
    #[inline]
    pub fn put_all<I: ExactSizeIterator<Item = PacketBuf>>(&mut self, bufs: I) {
        let mut bufs = bufs.into_iter();
        let n = match self.ring.write_chunk_uninit(bufs.len()) {
            Ok(c) => Some(c),
            Err(ChunkError::TooFewSlots(0)) => None,
            Err(ChunkError::TooFewSlots(k)) => self.ring.write_chunk_uninit(k).ok(),
        };
        if let Some(c) = n {
            c.fill_from_iter(&mut bufs);
        }
        for b in bufs {
            self.pool.put(b);
        }
    }
}

/// RX's end of a [`recycle_ring`].
pub struct BufTake {
    ring: Consumer<PacketBuf>,
    pool: SharedPool,
}

impl BufTake {
    /// Tops `bufs` up to `want` buffers: from the ring in one commit, then
    /// from the shared pool; fewer when both are empty.
    #[inline]
    pub fn fill(&mut self, bufs: &mut Vec<PacketBuf>, want: usize) {
        let need = want.saturating_sub(bufs.len());
        if need == 0 {
            return;
        }
        let chunk = match self.ring.read_chunk(need) {
            Ok(c) => Some(c),
            Err(ChunkError::TooFewSlots(0)) => None,
            Err(ChunkError::TooFewSlots(k)) => self.ring.read_chunk(k).ok(),
        };
        if let Some(c) = chunk {
            bufs.extend(c);
        }
        while bufs.len() < want {
            match self.pool.get() {
                Some(b) => bufs.push(b),
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(b: &PacketBuf) -> usize {
        b.bytes().as_ptr() as usize
    }

    #[test]
    fn recycled_buffers_come_back_first_and_overflow_to_the_pool() {
        let pool = SharedPool::new(10);
        let (mut back, mut take) = recycle_ring(&pool, 4);
        let mut bufs = Vec::new();
        take.fill(&mut bufs, 6);
        assert_eq!((bufs.len(), pool.available()), (6, 4));
        let sent: Vec<usize> = bufs.iter().map(addr).collect();
        // Six back: four fit the ring, two go to the pool.
        back.put_all(bufs.drain(..));
        assert_eq!(pool.available(), 6);
        take.fill(&mut bufs, 3);
        assert_eq!(bufs.iter().map(addr).collect::<Vec<_>>(), sent[..3], "the ring first, in order");
        take.fill(&mut bufs, 12);
        assert_eq!(bufs.len(), 10, "then the pool, until it is empty");
        assert_eq!(bufs[3..4].iter().map(addr).collect::<Vec<_>>(), sent[3..4]);
        back.put_all(bufs.drain(..));
        assert_eq!(pool.available(), 6);
    }
}
