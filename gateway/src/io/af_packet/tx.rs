//! The transmit half of an AF_PACKET port: a TPACKET_V2 ring that
//! bypasses the qdisc, filled frame by frame and kicked once per burst.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{bind, field, packet_socket, setsockopt, sys_error, Ring, ETH_HEADER_LEN, TAG_LEN, TX_DATA_OFFSET, TX_FULL_WAIT};
use crate::config::AfPacketConfig;
use crate::io::live::OpenError;
use crate::io::port_stats::PortCounters;
use crate::io::port_stats::PortEvent::{self, *};
use crate::io::TxPort;

/// Socket send buffer asked for, so that frames in flight are limited by the ring, not the buffer.
const TX_SNDBUF: libc::c_int = 32 << 20;

/// What the transmit half counts.
pub(super) const EVENTS: &[PortEvent] = &[Frames, Bytes, DropTooLong, DropRunt, DropRingFull, Congested, LinkDown];

/// A snapshot of an [`AfPacketTx`]'s counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AfPacketTxStats {
    /// Frames queued on the ring (published at each flush).
    pub frames: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Dropped: longer than the interface carries (MTU + header + one tag), or than a ring slot.
    pub too_long: u64,
    /// Dropped: shorter than an Ethernet header.
    pub runt: u64,
    /// Dropped: no slot came free within [`TX_FULL_WAIT`].
    pub ring_full: u64,
    /// Kicks the kernel could not complete at once (device busy or send buffer full); the frames stay queued.
    pub congested: u64,
    /// Kicks refused because the interface was down or gone; the frames stay queued.
    pub link_down: u64,
}

/// The transmit half: a TPACKET_V2 ring that bypasses the qdisc.
///
/// A TX ring rather than `sendmmsg`: frames are copied once, into memory
/// the kernel sends from, and a burst costs one `send` with no per-frame
/// `msghdr`/iovec setup or socket-buffer allocation in the syscall.
pub struct AfPacketTx {
    ring: Ring,
    block_size: usize,
    frame_size: usize,
    per_block: usize,
    slots: usize,
    /// The next slot to fill.
    head: usize,
    /// Frames written since the last kick.
    queued: usize,
    /// Longest frame the interface and a slot take.
    max_len: usize,
    /// The last wait for a slot timed out: drop at once while the ring stays full.
    stalled: bool,
    /// Frames and bytes queued since the counters were last published (once per flush).
    unpublished: (u64, u64),
    counters: PortCounters,
    fd: OwnedFd,
}

impl AfPacketTx {
    pub(super) fn open(port: &str, c: &AfPacketConfig, index: u32, if_mtu: usize, counters: PortCounters) -> Result<Self, OpenError> {
        // A frame: MTU of payload, the header and one tag (what the kernel
        // lets through), after the slot header; slots are 16-byte aligned.
        let max_len = if_mtu + ETH_HEADER_LEN + TAG_LEN;
        let frame_size = (TX_DATA_OFFSET + max_len + libc::TPACKET_ALIGNMENT - 1) & !(libc::TPACKET_ALIGNMENT - 1);
        let block_size = (c.block_size as usize).max(frame_size.next_power_of_two());
        let blocks = ((c.block_size as usize * c.blocks as usize) / block_size).max(2);
        let per_block = block_size / frame_size;
        let fd = packet_socket().map_err(|e| sys_error(port, "cannot open a packet socket", e))?;
        let v2 = libc::tpacket_versions::TPACKET_V2 as libc::c_int;
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_VERSION, &v2).map_err(|e| sys_error(port, "PACKET_VERSION 2", e))?;
        let one: libc::c_int = 1;
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_QDISC_BYPASS, &one).map_err(|e| sys_error(port, "PACKET_QDISC_BYPASS", e))?;
        // Skip a frame the kernel finds malformed instead of stopping the ring on it.
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_LOSS, &one).map_err(|e| sys_error(port, "PACKET_LOSS", e))?;
        // Frames in flight count against the send buffer: make it as large
        // as allowed (FORCE needs CAP_NET_ADMIN; the plain one is capped by wmem_max).
        if setsockopt(&fd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, &TX_SNDBUF).is_err() {
            let _ = setsockopt(&fd, libc::SOL_SOCKET, libc::SO_SNDBUF, &TX_SNDBUF);
        }
        let req = libc::tpacket_req {
            tp_block_size: block_size as u32,
            tp_block_nr: blocks as u32,
            tp_frame_size: frame_size as u32,
            tp_frame_nr: (per_block * blocks) as u32,
        };
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_TX_RING, &req).map_err(|e| sys_error(port, "setting up the TX ring", e))?;
        let ring = Ring::map(&fd, block_size * blocks).map_err(|e| sys_error(port, "mapping the TX ring", e))?;
        // Protocol 0: bound to the interface for sending, receives nothing.
        bind(&fd, index, 0).map_err(|e| sys_error(port, "binding the TX socket", e))?;
        Ok(AfPacketTx {
            ring,
            block_size,
            frame_size,
            per_block,
            slots: per_block * blocks,
            head: 0,
            queued: 0,
            max_len,
            stalled: false,
            unpublished: (0, 0),
            counters,
            fd,
        })
    }

    /// The counters now.
    pub fn stats(&self) -> AfPacketTxStats {
        let c = &self.counters;
        AfPacketTxStats {
            frames: c.get(Frames),
            bytes: c.get(Bytes),
            too_long: c.get(DropTooLong),
            runt: c.get(DropRunt),
            ring_full: c.get(DropRingFull),
            congested: c.get(Congested),
            link_down: c.get(LinkDown),
        }
    }

    /// The counters, readable after the port has moved into a pipeline.
    pub fn counters(&self) -> PortCounters {
        self.counters.clone()
    }

    fn slot_at(&self, i: usize) -> usize {
        (i / self.per_block) * self.block_size + (i % self.per_block) * self.frame_size
    }

    fn slot_free(&self) -> bool {
        // Acquire: the kernel is done with the slot's bytes before it marks it available.
        let s = self.ring.status(self.slot_at(self.head) + field::TX_STATUS).load(Ordering::Acquire);
        s & (libc::TP_STATUS_SEND_REQUEST | libc::TP_STATUS_SENDING) == 0
    }

    /// One `send(fd, NULL, 0, MSG_DONTWAIT)`: the kernel sends every queued
    /// slot in order. Congestion and a downed link leave frames queued
    /// (they go with the next kick); only unexpected errors are returned.
    fn kick(&mut self) -> io::Result<bool> {
        if self.queued == 0 {
            return Ok(true);
        }
        // SAFETY: a NULL, zero-length send is how a TX ring is kicked; the
        // kernel reads only the ring.
        let r = unsafe { libc::send(self.fd.as_raw_fd(), std::ptr::null(), 0, libc::MSG_DONTWAIT) };
        if r >= 0 {
            // The kernel stops early when the send buffer fills; it sends in
            // order, so the newest request still pending means more to do.
            let newest = if self.head == 0 { self.slots - 1 } else { self.head - 1 };
            let s = self.ring.status(self.slot_at(newest) + field::TX_STATUS).load(Ordering::Acquire);
            if s == libc::TP_STATUS_SEND_REQUEST {
                self.counters.add(Congested, 1);
                return Ok(false);
            }
            self.queued = 0;
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => Ok(false),
            Some(libc::EAGAIN | libc::ENOBUFS) => {
                self.counters.add(Congested, 1);
                Ok(false)
            }
            Some(libc::ENETDOWN) => {
                self.counters.report(LinkDown, 1, "interface down, frames stay queued");
                Ok(false)
            }
            // Gone, not down: what is queued can never leave.
            Some(libc::ENXIO | libc::ENODEV) => Err(super::super::live::gone(&self.counters.port(), e)),
            _ => Err(e),
        }
    }

    /// Kicks until everything queued went out or `budget` is spent.
    fn kick_for(&mut self, budget: Duration) -> io::Result<()> {
        let deadline = Instant::now() + budget;
        while !self.kick()? {
            if Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_micros(50));
        }
        Ok(())
    }

    /// The ring is full: kick and wait up to [`TX_FULL_WAIT`] for the slot
    /// at the head to come free. After one wait has timed out, later ones
    /// give up at once (no syscall per frame) until a slot is free again.
    fn wait_for_slot(&mut self) -> io::Result<bool> {
        if self.stalled {
            return Ok(false);
        }
        let deadline = Instant::now() + TX_FULL_WAIT;
        loop {
            self.kick()?;
            if self.slot_free() {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                self.stalled = true;
                return Ok(false);
            }
            let mut p = libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLOUT, revents: 0 };
            // SAFETY: one valid pollfd; the 1 ms timeout bounds the wait.
            unsafe { libc::poll(&mut p, 1, 1) };
        }
    }
}

impl TxPort for AfPacketTx {
    fn send(&mut self, frame: &[u8], _time_ns: u64) -> io::Result<()> {
        if frame.len() > self.max_len {
            self.counters.report(DropTooLong, 1, "longer than the interface MTU allows");
            return Ok(());
        }
        if frame.len() < ETH_HEADER_LEN {
            self.counters.report(DropRunt, 1, "shorter than an Ethernet header");
            return Ok(());
        }
        if self.slot_free() {
            self.stalled = false;
        } else if !self.wait_for_slot()? {
            self.counters.report(DropRingFull, 1, "TX ring full");
            return Ok(());
        }
        let at = self.slot_at(self.head);
        // SAFETY: the slot is free (status AVAILABLE or WRONG_FORMAT), so
        // the kernel does not read it; `frame.len() <= max_len` fits the
        // slot after its header (frame_size was sized for max_len).
        unsafe {
            let p = self.ring.ptr.as_ptr().add(at);
            std::ptr::copy_nonoverlapping(frame.as_ptr(), p.add(TX_DATA_OFFSET), frame.len());
            p.add(field::TX_LEN).cast::<u32>().write_volatile(frame.len() as u32);
        }
        // Release: the frame bytes and length are visible before the kernel sees the request.
        self.ring.status(at + field::TX_STATUS).store(libc::TP_STATUS_SEND_REQUEST, Ordering::Release);
        self.head += 1;
        if self.head == self.slots {
            self.head = 0;
        }
        self.queued += 1;
        self.unpublished.0 += 1;
        self.unpublished.1 += frame.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        let (frames, bytes) = std::mem::take(&mut self.unpublished);
        self.counters.add(Frames, frames);
        self.counters.add(Bytes, bytes);
        // A short budget: congestion is retried here briefly, then by the next burst's kick.
        self.kick_for(Duration::from_millis(1))
    }
}

impl Drop for AfPacketTx {
    fn drop(&mut self) {
        // Give frames still queued a last chance before the ring goes away.
        let _ = self.flush();
        let _ = self.kick_for(TX_FULL_WAIT);
    }
}
