//! Packet buffers and their pool, shared by `io/` (which receives into
//! them and sends from them), `pipeline/` and `translate/` (which runs
//! translators on them). They live apart from both so that I/O does not
//! depend on the translator host.

/// Bytes every packet buffer holds: a packet may grow up to this (ABI.md
/// §3 `capacity`).
pub const PACKET_CAPACITY: usize = 16_384;
/// Most packets a burst holds: 64 received, plus room for extras (also
/// the most buffers an I/O backend moves in one batch).
pub const BURST_CAPACITY: usize = 256;

/// One packet buffer of [`PACKET_CAPACITY`] bytes.
pub struct PacketBuf(Box<[u8; PACKET_CAPACITY]>);

impl PacketBuf {
    /// A zeroed buffer (allocates: call when filling a pool). Its pages
    /// are touched now: a zeroed allocation is mapped lazily, and the page
    /// faults would otherwise land on the hot path, at first use.
    pub fn new() -> PacketBuf {
        let mut b: Box<[u8]> = vec![0u8; PACKET_CAPACITY].into_boxed_slice();
        for i in (0..b.len()).step_by(4096) {
            // SAFETY: `i` is within the slice; a volatile write is not
            // elided, so the page is really faulted in here.
            unsafe { std::ptr::write_volatile(b.as_mut_ptr().add(i), 0) };
        }
        // The slice has exactly PACKET_CAPACITY bytes, so the conversion cannot fail.
        PacketBuf(b.try_into().unwrap_or_else(|_| unreachable!()))
    }

    /// All of its bytes.
    #[inline]
    pub fn bytes(&self) -> &[u8; PACKET_CAPACITY] {
        &self.0
    }

    /// All of its bytes, writable.
    #[inline]
    pub fn bytes_mut(&mut self) -> &mut [u8; PACKET_CAPACITY] {
        &mut self.0
    }
}

impl Default for PacketBuf {
    fn default() -> Self {
        Self::new()
    }
}

/// A free list of packet buffers. The pipeline fills it once; the host
/// takes buffers for extra packets and gives back those of dropped ones.
#[derive(Default)]
pub struct BufPool {
    free: Vec<PacketBuf>,
}

impl BufPool {
    /// A pool of `n` buffers (allocates them all now).
    pub fn new(n: usize) -> BufPool {
        BufPool { free: (0..n).map(|_| PacketBuf::new()).collect() }
    }

    /// A buffer, if one is free.
    #[inline]
    pub fn get(&mut self) -> Option<PacketBuf> {
        self.free.pop()
    }

    /// Gives a buffer back. Never allocates: the pool's vector was sized
    /// for every buffer it made; a buffer that did not come from it and
    /// finds no room is freed instead.
    #[inline]
    pub fn put(&mut self, b: PacketBuf) {
        if self.free.len() < self.free.capacity() {
            self.free.push(b)
        }
    }

    /// Buffers free now.
    pub fn available(&self) -> usize {
        self.free.len()
    }
}
