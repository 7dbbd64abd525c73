//! The buffer pool shared by the stages of one direction: a lock-free
//! queue of packet buffers (allocated once, at start). Each stage keeps a
//! small local cache and trades with the shared queue between bursts, so
//! a packet costs no allocation and no lock.

use std::sync::Arc;

use crossbeam_queue::ArrayQueue;

use crate::translate::{BufPool, PacketBuf};

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
