//! The AF_XDP socket: its UMEM and its four rings, mapped from the kernel.
//!
//! The `xdp` crate's `Umem` and ring types are not used here: they assume
//! that one thread owns the whole UMEM, and they can neither bind with
//! `XDP_USE_SG` nor set `XDP_PKT_CONTD` on TX descriptors. We need both
//! (jumbo frames through multi-buffer), and we split one socket between
//! two pipeline threads: the RX half owns the fill and RX rings and UMEM
//! frames `[0, n/2)`, the TX half the TX and completion rings and frames
//! `[n/2, n)`. So this module registers the UMEM and maps the rings itself,
//! using the kernel ABI definitions of the `libc` crate.

use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

/// Size of one UMEM frame (chunk).
pub const CHUNK: usize = 4096;

/// `SO_PREFER_BUSY_POLL` (asm-generic/socket.h).
const SO_PREFER_BUSY_POLL: libc::c_int = 69;
/// `SO_BUSY_POLL_BUDGET` (asm-generic/socket.h).
const SO_BUSY_POLL_BUDGET: libc::c_int = 70;

/// An anonymous or file mapping, unmapped on drop.
pub struct Mmap {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mmap {
    /// Maps `len` bytes of `fd` at `offset` (shared), or anonymous memory when `fd` is `None`.
    fn new(len: usize, fd: Option<BorrowedFd<'_>>, offset: u64) -> io::Result<Mmap> {
        let (flags, raw) = match fd {
            Some(fd) => (libc::MAP_SHARED | libc::MAP_POPULATE, fd.as_raw_fd()),
            None => (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE, -1),
        };
        // SAFETY: a fresh mapping chosen by the kernel (addr NULL) aliases no
        // Rust object; a failure returns MAP_FAILED, checked below.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, flags, raw, offset as libc::off_t) };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        NonNull::new(p.cast()).map(|ptr| Mmap { ptr, len }).ok_or_else(|| io::Error::other("mmap returned NULL"))
    }

    /// The first byte.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly one mapping made by `new`, and every
        // pointer derived from it lives in a struct that owns (via `Arc`) this
        // mapping, so none is used after this.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

// SAFETY: the mapping is plain memory; which thread touches which part is
// governed by the ring and UMEM halves built on it.
unsafe impl Send for Mmap {}
// SAFETY: as above; `Mmap` itself offers no access to the bytes.
unsafe impl Sync for Mmap {}

/// The socket and everything mapped from it; shared (read-only) by both halves.
pub struct Xsk {
    // Field order is drop order: the rings, then the socket, then the UMEM
    // (the socket keeps the UMEM pages pinned while it lives).
    rings: Vec<Mmap>,
    fd: OwnedFd,
    umem: Mmap,
}

/// A ring's shared words and its descriptor array.
pub struct RingMap<T> {
    producer: NonNull<AtomicU32>,
    consumer: NonNull<AtomicU32>,
    flags: NonNull<AtomicU32>,
    descs: NonNull<T>,
    size: u32,
}

fn sockopt<T>(fd: BorrowedFd<'_>, level: libc::c_int, name: libc::c_int, v: &T) -> io::Result<()> {
    // SAFETY: `v` points at `size_of::<T>()` readable bytes for the whole call.
    let r = unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, (v as *const T).cast(), std::mem::size_of::<T>() as libc::socklen_t) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn getsockopt<T: Default>(fd: BorrowedFd<'_>, level: libc::c_int, name: libc::c_int) -> io::Result<(T, usize)> {
    let mut v = T::default();
    let mut len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `v` is `len` writable bytes, and the kernel writes at most `len`
    // of them; T is a plain `repr(C)` struct of integers, valid for any bytes.
    let r = unsafe { libc::getsockopt(fd.as_raw_fd(), level, name, (&mut v as *mut T).cast(), &mut len) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok((v, len as usize))
    }
}

/// A `libc` ABI struct all of whose fields are integers, zeroed.
fn zeroed<T: Copy>() -> T {
    // SAFETY: only used for the `libc` XDP structs below, which are integers only.
    unsafe { std::mem::zeroed() }
}

/// The step of opening that failed, with the system error.
#[derive(Debug)]
pub struct StepError {
    /// What was being done, e.g. "registering the UMEM".
    pub step: &'static str,
    /// The error.
    pub error: io::Error,
}

fn step<T>(step: &'static str, r: io::Result<T>) -> Result<T, StepError> {
    r.map_err(|error| StepError { step, error })
}

impl Xsk {
    /// Creates the socket, registers a UMEM of `frames` chunks and sets up
    /// and maps the four rings of `ring_size` entries each. Not yet bound.
    pub fn new(frames: u32, ring_size: u32) -> Result<Xsk, StepError> {
        // SAFETY: plain socket(2); the result is checked and then owned.
        let raw = unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(StepError { step: "creating the AF_XDP socket", error: io::Error::last_os_error() });
        }
        // SAFETY: `raw` is a new descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let umem = step("allocating the UMEM", Mmap::new(frames as usize * CHUNK, None, 0))?;
        let mut reg: libc::xdp_umem_reg = zeroed();
        reg.addr = umem.as_ptr() as u64;
        reg.len = (frames as usize * CHUNK) as u64;
        reg.chunk_size = CHUNK as u32;
        step("registering the UMEM", sockopt(fd.as_fd(), libc::SOL_XDP, libc::XDP_UMEM_REG, &reg))?;
        for (name, opt) in [
            ("sizing the fill ring", libc::XDP_UMEM_FILL_RING),
            ("sizing the completion ring", libc::XDP_UMEM_COMPLETION_RING),
            ("sizing the RX ring", libc::XDP_RX_RING),
            ("sizing the TX ring", libc::XDP_TX_RING),
        ] {
            step(name, sockopt(fd.as_fd(), libc::SOL_XDP, opt, &(ring_size as libc::c_int)))?;
        }
        let (off, _) = step("reading the ring offsets", getsockopt::<Offsets>(fd.as_fd(), libc::SOL_XDP, libc::XDP_MMAP_OFFSETS))?;
        let desc = std::mem::size_of::<libc::xdp_desc>() as u64;
        let n = ring_size as u64;
        let mut rings = Vec::with_capacity(4);
        for (name, pgoff, o, entry) in [
            ("mapping the fill ring", libc::XDP_UMEM_PGOFF_FILL_RING, off.0.fr, 8),
            ("mapping the RX ring", libc::XDP_PGOFF_RX_RING as u64, off.0.rx, desc),
            ("mapping the TX ring", libc::XDP_PGOFF_TX_RING as u64, off.0.tx, desc),
            ("mapping the completion ring", libc::XDP_UMEM_PGOFF_COMPLETION_RING, off.0.cr, 8),
        ] {
            rings.push(step(name, Mmap::new((o.desc + n * entry) as usize, Some(fd.as_fd()), pgoff))?);
        }
        let xsk = Xsk { rings, fd, umem };
        Ok(xsk)
    }

    /// The socket.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The UMEM's first byte.
    pub fn umem(&self) -> *mut u8 {
        self.umem.as_ptr()
    }

    /// Binds to `queue` of `ifindex` with `flags` (XDP_COPY, XDP_USE_SG, ...).
    pub fn bind(&self, ifindex: u32, queue: u32, flags: u16) -> io::Result<()> {
        let mut sa: libc::sockaddr_xdp = zeroed();
        sa.sxdp_family = libc::AF_XDP as u16;
        sa.sxdp_flags = flags;
        sa.sxdp_ifindex = ifindex;
        sa.sxdp_queue_id = queue;
        // SAFETY: `sa` is a valid sockaddr_xdp and we pass its exact size.
        let r = unsafe {
            libc::bind(self.fd.as_raw_fd(), (&sa as *const libc::sockaddr_xdp).cast(), std::mem::size_of::<libc::sockaddr_xdp>() as libc::socklen_t)
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Whether the bound socket runs in zero-copy mode (XDP_OPTIONS).
    pub fn zero_copy(&self) -> bool {
        getsockopt::<Opts>(self.fd(), libc::SOL_XDP, libc::XDP_OPTIONS).is_ok_and(|(o, _)| o.0.flags & libc::XDP_OPTIONS_ZEROCOPY != 0)
    }

    /// Sets SO_PREFER_BUSY_POLL, SO_BUSY_POLL (`us`) and SO_BUSY_POLL_BUDGET (`budget`).
    pub fn busy_poll(&self, us: u32, budget: u32) -> io::Result<()> {
        sockopt(self.fd(), libc::SOL_SOCKET, SO_PREFER_BUSY_POLL, &(1 as libc::c_int))?;
        sockopt(self.fd(), libc::SOL_SOCKET, libc::SO_BUSY_POLL, &(us as libc::c_int))?;
        sockopt(self.fd(), libc::SOL_SOCKET, SO_BUSY_POLL_BUDGET, &(budget as libc::c_int))
    }

    /// The kernel's counters for this socket (XDP_STATISTICS).
    pub fn statistics(&self) -> io::Result<libc::xdp_statistics> {
        getsockopt::<Stats>(self.fd(), libc::SOL_XDP, libc::XDP_STATISTICS).map(|(s, _)| s.0)
    }

    /// Kicks the kernel: `sendto(fd, NULL, 0, MSG_DONTWAIT)` (TX) or `recvfrom` (RX, busy poll).
    pub fn kick(&self, tx: bool) -> io::Result<()> {
        let fd = self.fd.as_raw_fd();
        // SAFETY: a zero-length send/receive with no buffer and no address
        // touches no user memory.
        let r = unsafe {
            if tx {
                libc::sendto(fd, std::ptr::null(), 0, libc::MSG_DONTWAIT, std::ptr::null(), 0)
            } else {
                libc::recvfrom(fd, std::ptr::null_mut(), 0, libc::MSG_DONTWAIT, std::ptr::null_mut(), std::ptr::null_mut())
            }
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// The pointers of ring `which` (0 fill, 1 RX, 2 TX, 3 completion).
    fn ring<T>(&self, which: usize, size: u32) -> Result<RingMap<T>, StepError> {
        let (off, _) = step("reading the ring offsets", getsockopt::<Offsets>(self.fd(), libc::SOL_XDP, libc::XDP_MMAP_OFFSETS))?;
        let o = [off.0.fr, off.0.rx, off.0.tx, off.0.cr][which];
        let base = self.rings[which].as_ptr();
        let at = |o: u64| {
            // SAFETY: the kernel's offsets lie inside the mapping, which is
            // `desc + size * entry` bytes long (see `new`).
            NonNull::new(unsafe { base.add(o as usize) }).ok_or(StepError { step: "mapping the rings", error: io::Error::other("null ring") })
        };
        Ok(RingMap { producer: at(o.producer)?.cast(), consumer: at(o.consumer)?.cast(), flags: at(o.flags)?.cast(), descs: at(o.desc)?.cast(), size })
    }

    /// The fill and RX rings (for the RX half) and the TX and completion rings (for the TX half).
    #[allow(clippy::type_complexity)]
    pub fn rings(&self, size: u32) -> Result<((Producer<u64>, Consumer<libc::xdp_desc>), (Producer<libc::xdp_desc>, Consumer<u64>)), StepError> {
        Ok((
            (Producer::new(self.ring(0, size)?), Consumer::new(self.ring(1, size)?)),
            (Producer::new(self.ring(2, size)?), Consumer::new(self.ring(3, size)?)),
        ))
    }
}

/// `xdp_mmap_offsets` with a `Default` for `getsockopt`.
#[derive(Clone, Copy)]
struct Offsets(libc::xdp_mmap_offsets);
impl Default for Offsets {
    fn default() -> Self {
        Offsets(zeroed())
    }
}
#[derive(Clone, Copy)]
struct Stats(libc::xdp_statistics);
impl Default for Stats {
    fn default() -> Self {
        Stats(zeroed())
    }
}
#[derive(Clone, Copy)]
struct Opts(libc::xdp_options);
impl Default for Opts {
    fn default() -> Self {
        Opts(zeroed())
    }
}

impl<T> RingMap<T> {
    fn producer(&self) -> &AtomicU32 {
        // SAFETY: the word is 4-byte aligned (the kernel lays the ring out on
        // cache lines) and lives as long as the mapping, which the owner of
        // this ring keeps alive through its `Arc`.
        unsafe { self.producer.as_ref() }
    }
    fn consumer(&self) -> &AtomicU32 {
        // SAFETY: as for `producer`.
        unsafe { self.consumer.as_ref() }
    }
    fn flags(&self) -> &AtomicU32 {
        // SAFETY: as for `producer`.
        unsafe { self.flags.as_ref() }
    }
    fn slot(&self, idx: u32) -> *mut T {
        // SAFETY: `idx & (size - 1)` is below `size` (a power of two), the
        // number of entries mapped after `descs`.
        unsafe { self.descs.as_ptr().add((idx & (self.size - 1)) as usize) }
    }
}

/// A ring we produce into (fill, TX). Entries are written, then published
/// together with one Release store of the producer index.
pub struct Producer<T> {
    map: RingMap<T>,
    /// Our producer index, including entries written but not yet published.
    prod: u32,
    /// The consumer index last read.
    cons: u32,
    /// Entries written since the last publish.
    pending: u32,
    _t: PhantomData<T>,
}

impl<T: Copy> Producer<T> {
    fn new(map: RingMap<T>) -> Self {
        let prod = map.producer().load(Ordering::Relaxed);
        let cons = map.consumer().load(Ordering::Acquire);
        Producer { map, prod, cons, pending: 0, _t: PhantomData }
    }

    /// Free entries, reading the consumer index only when fewer than `want` seem free.
    pub fn free(&mut self, want: u32) -> u32 {
        let free = self.map.size - self.prod.wrapping_sub(self.cons);
        if free >= want {
            return free;
        }
        self.cons = self.map.consumer().load(Ordering::Acquire);
        self.map.size - self.prod.wrapping_sub(self.cons)
    }

    /// Writes one entry; the caller checked [`Producer::free`].
    pub fn push(&mut self, v: T) {
        // SAFETY: the slot is inside the ring, and it is ours: it lies between
        // the consumer index and consumer + size, so the kernel does not read
        // it until we publish.
        unsafe { self.map.slot(self.prod).write(v) };
        self.prod = self.prod.wrapping_add(1);
        self.pending += 1;
    }

    /// Publishes what was written (Release: the entries before the index).
    pub fn publish(&mut self) {
        if self.pending > 0 {
            self.map.producer().store(self.prod, Ordering::Release);
            self.pending = 0;
        }
    }

    /// Whether the kernel has consumed everything published.
    pub fn drained(&self) -> bool {
        self.map.consumer().load(Ordering::Acquire) == self.prod.wrapping_sub(self.pending)
    }

    /// Whether the kernel asks to be woken (XDP_RING_NEED_WAKEUP).
    pub fn needs_wakeup(&self) -> bool {
        self.map.flags().load(Ordering::Relaxed) & libc::XDP_RING_NEED_WAKEUP != 0
    }
}

/// A ring we consume from (RX, completion).
pub struct Consumer<T> {
    map: RingMap<T>,
    /// Our consumer index, including entries read but not yet released.
    cons: u32,
    /// The producer index last read.
    prod: u32,
    _t: PhantomData<T>,
}

impl<T: Copy> Consumer<T> {
    fn new(map: RingMap<T>) -> Self {
        let cons = map.consumer().load(Ordering::Relaxed);
        let prod = map.producer().load(Ordering::Acquire);
        Consumer { map, cons, prod, _t: PhantomData }
    }

    /// Entries ready to read (reads the producer index: Acquire, so the entries are visible).
    pub fn available(&mut self) -> u32 {
        self.prod = self.map.producer().load(Ordering::Acquire);
        self.prod.wrapping_sub(self.cons)
    }

    /// Entry `i` past our consumer index; the caller checked `i < available()`.
    pub fn get(&self, i: u32) -> T {
        // SAFETY: the slot is inside the ring and the kernel published it
        // (it lies before the producer index read with Acquire) and will not
        // touch it until we release it.
        unsafe { self.map.slot(self.cons.wrapping_add(i)).read() }
    }

    /// Entries in the ring.
    pub fn size(&self) -> u32 {
        self.map.size
    }

    /// Gives `n` read entries back to the kernel (Release: our reads before the index).
    pub fn release(&mut self, n: u32) {
        if n > 0 {
            self.cons = self.cons.wrapping_add(n);
            self.map.consumer().store(self.cons, Ordering::Release);
        }
    }
}

// SAFETY: a ring half is used by exactly one thread at a time (it moves
// with its port half); the memory it points into is kept alive by the
// `Arc<Xsk>` that the same half holds.
unsafe impl<T: Send> Send for Producer<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for Consumer<T> {}

/// One half's frames of the UMEM: `[start, end)` in bytes.
pub struct UmemPart {
    base: NonNull<u8>,
    start: u64,
    end: u64,
}

// SAFETY: the frames of a part are touched only by the half that owns it,
// and the mapping is kept alive by that half's `Arc<Xsk>`.
unsafe impl Send for UmemPart {}

impl UmemPart {
    /// Frames `[first, first + count)` of `xsk`'s UMEM.
    pub fn new(xsk: &Xsk, first: u32, count: u32) -> Self {
        let base = NonNull::new(xsk.umem()).unwrap_or(NonNull::dangling());
        UmemPart { base, start: first as u64 * CHUNK as u64, end: (first as u64 + count as u64) * CHUNK as u64 }
    }

    /// The frame addresses of this part.
    pub fn frames(&self) -> impl Iterator<Item = u64> {
        (self.start..self.end).step_by(CHUNK)
    }

    /// Whether `addr` lies in one of this part's frames.
    pub fn owns(&self, addr: u64) -> bool {
        addr >= self.start && addr < self.end
    }

    /// Whether `[addr, addr + len)` lies in this part and within one chunk.
    pub fn holds(&self, addr: u64, len: usize) -> bool {
        let chunk = addr & !(CHUNK as u64 - 1);
        addr >= self.start && addr < self.end && addr + len as u64 <= chunk + CHUNK as u64
    }

    /// The bytes at `addr`; the caller checked [`UmemPart::holds`].
    pub fn bytes(&self, addr: u64, len: usize) -> &[u8] {
        debug_assert!(self.holds(addr, len));
        // SAFETY: the range is inside this part's frames (checked by the
        // caller), which the kernel filled and handed back to us: it does not
        // write them until we put them in the fill ring again.
        unsafe { std::slice::from_raw_parts(self.base.as_ptr().add(addr as usize), len) }
    }

    /// The bytes at `addr`, to write; the caller checked [`UmemPart::holds`].
    pub fn bytes_mut(&mut self, addr: u64, len: usize) -> &mut [u8] {
        debug_assert!(self.holds(addr, len));
        // SAFETY: as for `bytes`; the frame is free (not in the TX ring), so
        // the kernel does not read it while we write.
        unsafe { std::slice::from_raw_parts_mut(self.base.as_ptr().add(addr as usize), len) }
    }
}
