//! The receive half of an AF_PACKET port: a TPACKET_V3 ring of every frame
//! the interface receives (the port is one end of a bridge), read a block
//! at a time.

use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::Ordering;

use ecpri::ethernet::TPID_8021Q;

use super::{bind, field, packet_socket, setsockopt, sys_error, Ring, ETH_HEADER_LEN, RETIRE_TIMEOUT_MS, TAG_AT, TAG_LEN};
use crate::config::AfPacketConfig;
use crate::io::live::{self, OpenError};
use crate::io::port_stats::PortCounters;
use crate::io::port_stats::PortEvent::{self, *};
use crate::io::{RxPoll, RxPort};
use crate::packet::{PacketBuf, PACKET_CAPACITY};

/// Room an RX block needs besides the frame: block descriptor, frame header, alignment.
const RX_BLOCK_OVERHEAD: usize = 256;

/// What the receive half counts.
pub(super) const EVENTS: &[PortEvent] = &[Frames, Bytes, DropTooLong, DropTruncated, DropMalformed, DropRingFull];

/// A snapshot of an [`AfPacketRx`]'s counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AfPacketRxStats {
    /// Frames handed to the pipeline.
    pub frames: u64,
    /// Their bytes (restored tags included).
    pub bytes: u64,
    /// Dropped: longer than a packet buffer ([`PACKET_CAPACITY`]).
    pub too_long: u64,
    /// Dropped: cut short by the ring (a block smaller than the frame).
    pub truncated: u64,
    /// Dropped: shorter than an Ethernet header, or a ring entry out of bounds.
    pub malformed: u64,
    /// Dropped by the kernel because the ring was full (PACKET_STATISTICS).
    pub ring_full: u64,
}

/// The receive half: a TPACKET_V3 ring of the interface's frames.
pub struct AfPacketRx {
    ring: Ring,
    block_size: usize,
    blocks: usize,
    /// The block being read.
    block: usize,
    /// Frames of that block still to read (0: wait for the block to be ours).
    left: u32,
    /// Offset in the block of the next frame's header.
    next: usize,
    counters: PortCounters,
    fd: OwnedFd,
    /// Whether the interface is still there, looked at while idle.
    watch: live::IfaceWatch,
    /// A fanout member not yet polled: it takes no frame (a socket filter).
    held: bool,
}

/// A classic BPF program as the kernel takes it (it copies the
/// instructions during the call that passes it, and only reads them).
fn fprog(prog: &[libc::sock_filter]) -> io::Result<libc::sock_fprog> {
    let len = u16::try_from(prog.len()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "cBPF program too long"))?;
    Ok(libc::sock_fprog { len, filter: prog.as_ptr().cast_mut() })
}

/// Attaches a socket filter (SO_ATTACH_FILTER).
fn set_filter(fd: &OwnedFd, prog: &[libc::sock_filter]) -> io::Result<()> {
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog(prog)?)
}

impl AfPacketRx {
    pub(super) fn open(port: &str, c: &AfPacketConfig, index: u32, mtu: usize, counters: PortCounters) -> Result<Self, OpenError> {
        let block_size = c.block_size as usize;
        if block_size < mtu + ETH_HEADER_LEN + 2 * TAG_LEN + RX_BLOCK_OVERHEAD {
            return Err(OpenError::new(
                port,
                format!("ring blocks of {block_size} bytes cannot hold a frame of MTU {mtu}"),
                "raise `packet_block_kib` (a block holds at least one whole frame)",
            ));
        }
        let fd = packet_socket().map_err(|e| sys_error(port, "cannot open a packet socket", e))?;
        let v3 = libc::tpacket_versions::TPACKET_V3 as libc::c_int;
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_VERSION, &v3).map_err(|e| sys_error(port, "PACKET_VERSION 3", e))?;
        let one: libc::c_int = 1;
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &one).map_err(|e| sys_error(port, "PACKET_IGNORE_OUTGOING", e))?;
        // In V3 the frame size only has to divide the block; frames are packed.
        let frame_size = 2048.min(block_size) as u32;
        let req = libc::tpacket_req3 {
            tp_block_size: c.block_size,
            tp_block_nr: c.blocks,
            tp_frame_size: frame_size,
            tp_frame_nr: (c.block_size / frame_size) * c.blocks,
            tp_retire_blk_tov: RETIRE_TIMEOUT_MS,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_RX_RING, &req).map_err(|e| sys_error(port, "setting up the RX ring", e))?;
        let len = block_size * c.blocks as usize;
        let ring = Ring::map(&fd, len).map_err(|e| sys_error(port, "mapping the RX ring", e))?;
        let held = c.sockets > 1;
        if held {
            // A fanout member takes nothing until its whole group has
            // formed and its stage polls it (the hold ends at its first
            // `recv`): bound but not yet joined it would take a copy of
            // every frame, while the group grows a flow's frames would go
            // to other members than later, and until the pipeline runs its
            // ring would fill with frames too old to send (a few seconds
            // of start-up: 64 blocks retired after 1 ms each hold 64 ms
            // of a trickle).
            set_filter(&fd, &super::fanout::TAKE_NOTHING).map_err(|e| sys_error(port, "holding the RX socket until its fanout group forms (SO_ATTACH_FILTER)", e))?;
        }
        bind(&fd, index, libc::ETH_P_ALL as u16).map_err(|e| sys_error(port, "binding the RX socket", e))?;
        Ok(AfPacketRx {
            ring,
            block_size,
            blocks: c.blocks as usize,
            block: 0,
            left: 0,
            next: 0,
            counters,
            fd,
            watch: live::IfaceWatch::new(&c.interface, index),
            held,
        })
    }

    /// Joins PACKET_FANOUT group `id` in `mode` (with `flags`); returns the
    /// group's id, which the kernel picks under PACKET_FANOUT_FLAG_UNIQUEID.
    pub(super) fn join_fanout(&self, id: u16, mode: u32, flags: u32) -> io::Result<u16> {
        let arg: u32 = u32::from(id) | (mode | flags) << 16;
        setsockopt(&self.fd, libc::SOL_PACKET, libc::PACKET_FANOUT, &arg)?;
        let mut v: u32 = 0;
        let mut len = size_of::<u32>() as libc::socklen_t;
        // SAFETY: `v` is `len` writable bytes; the kernel writes the group's u32.
        let r = unsafe { libc::getsockopt(self.fd.as_raw_fd(), libc::SOL_PACKET, libc::PACKET_FANOUT, (&mut v as *mut u32).cast(), &mut len) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(v as u16)
    }

    /// Gives the fanout group (CBPF mode) its program.
    pub(super) fn set_fanout_program(&self, prog: &[libc::sock_filter]) -> io::Result<()> {
        setsockopt(&self.fd, libc::SOL_PACKET, libc::PACKET_FANOUT_DATA, &fprog(prog)?)
    }

    /// Starts taking frames: removes the hold a fanout member was opened
    /// with (its group formed and programmed when the port opened).
    fn release(&mut self) -> io::Result<()> {
        let zero: libc::c_int = 0;
        setsockopt(&self.fd, libc::SOL_SOCKET, libc::SO_DETACH_FILTER, &zero)
            .map_err(|e| io::Error::new(e.kind(), format!("starting to take frames on an af_packet fanout socket (SO_DETACH_FILTER): {e}")))?;
        self.held = false;
        Ok(())
    }

    /// The counters now.
    pub fn stats(&self) -> AfPacketRxStats {
        let c = &self.counters;
        AfPacketRxStats {
            frames: c.get(Frames),
            bytes: c.get(Bytes),
            too_long: c.get(DropTooLong),
            truncated: c.get(DropTruncated),
            malformed: c.get(DropMalformed),
            ring_full: c.get(DropRingFull),
        }
    }

    /// The counters, readable after the port has moved into a pipeline.
    pub fn counters(&self) -> PortCounters {
        self.counters.clone()
    }

    fn block_at(&self) -> usize {
        self.block * self.block_size
    }

    /// Gives the current block back to the kernel and moves to the next.
    fn release_block(&mut self) {
        self.ring.status(self.block_at() + field::BLOCK_STATUS).store(libc::TP_STATUS_KERNEL, Ordering::Release);
        self.left = 0;
        self.block += 1;
        if self.block == self.blocks {
            self.block = 0;
        }
    }

    /// Takes the next block if the kernel has handed it over.
    fn open_block(&mut self) -> bool {
        let base = self.block_at();
        // Acquire: the kernel writes the frames, then the status.
        let status = self.ring.status(base + field::BLOCK_STATUS).load(Ordering::Acquire);
        if status & libc::TP_STATUS_USER == 0 {
            return false;
        }
        if status & libc::TP_STATUS_LOSING != 0 {
            self.read_kernel_drops();
        }
        let n = self.ring.read_u32(base + field::NUM_PKTS);
        let first = self.ring.read_u32(base + field::FIRST_PKT) as usize;
        if n == 0 || first < size_of::<libc::tpacket_block_desc>() || first >= self.block_size {
            if n != 0 {
                self.counters.report(DropMalformed, 1, "ring block out of bounds");
            }
            self.release_block();
            return true;
        }
        self.left = n;
        self.next = first;
        true
    }

    /// PACKET_STATISTICS: frames the kernel dropped for want of ring space
    /// (reading resets them). Only called when a block says it lost some.
    fn read_kernel_drops(&mut self) {
        // SAFETY: plain data; all-zero is valid.
        let mut st: libc::tpacket_stats_v3 = unsafe { std::mem::zeroed() };
        let mut len = size_of::<libc::tpacket_stats_v3>() as libc::socklen_t;
        // SAFETY: `st` and `len` are valid for writes of the sizes given.
        let r = unsafe { libc::getsockopt(self.fd.as_raw_fd(), libc::SOL_PACKET, libc::PACKET_STATISTICS, (&mut st as *mut libc::tpacket_stats_v3).cast(), &mut len) };
        if r == 0 && st.tp_drops > 0 {
            self.counters.report(DropRingFull, st.tp_drops as u64, "RX ring full: the kernel dropped frames");
        }
    }

    /// Reads the frame at `self.next` into `buf`; its length and time, or
    /// `None` when it was dropped. Returns `Err(())` when the block is
    /// corrupt and must be given up.
    fn take_frame(&mut self, buf: &mut PacketBuf) -> Result<Option<(usize, u64)>, ()> {
        let base = self.block_at();
        let at = self.next;
        if at + size_of::<libc::tpacket3_hdr>() > self.block_size {
            return Err(());
        }
        // SAFETY: the header lies inside the block (checked above), which
        // is ours until released; read_unaligned copies it out.
        let h: libc::tpacket3_hdr = unsafe { self.ring.ptr.as_ptr().add(base + at).cast::<libc::tpacket3_hdr>().read_unaligned() };
        self.next = at + h.tp_next_offset as usize;
        let (mac, snap) = (h.tp_mac as usize, h.tp_snaplen as usize);
        if at + mac + snap > self.block_size {
            return Err(());
        }
        if snap < h.tp_len as usize {
            self.counters.report(DropTruncated, 1, "truncated by the ring (raise packet_block_kib)");
            return Ok(None);
        }
        if snap < ETH_HEADER_LEN {
            self.counters.report(DropMalformed, 1, "shorter than an Ethernet header");
            return Ok(None);
        }
        let tag = (h.tp_status & libc::TP_STATUS_VLAN_VALID != 0).then(|| {
            let tpid = if h.tp_status & libc::TP_STATUS_VLAN_TPID_VALID != 0 { h.hv1.tp_vlan_tpid } else { TPID_8021Q };
            (tpid, h.hv1.tp_vlan_tci as u16)
        });
        let len = snap + if tag.is_some() { TAG_LEN } else { 0 };
        if len > PACKET_CAPACITY {
            self.counters.report(DropTooLong, 1, "longer than a packet buffer");
            return Ok(None);
        }
        // SAFETY: `base + at + mac .. + snap` lies inside the block (checked
        // above), which the kernel does not touch until it is released.
        let data = unsafe { std::slice::from_raw_parts(self.ring.ptr.as_ptr().add(base + at + mac), snap) };
        let out = buf.bytes_mut();
        match tag {
            Some((tpid, tci)) => {
                // Put the tag the kernel stripped back where it was on the wire.
                out[..TAG_AT].copy_from_slice(&data[..TAG_AT]);
                out[TAG_AT..TAG_AT + 2].copy_from_slice(&tpid.to_be_bytes());
                out[TAG_AT + 2..TAG_AT + 4].copy_from_slice(&tci.to_be_bytes());
                out[TAG_AT + TAG_LEN..len].copy_from_slice(&data[TAG_AT..]);
            }
            None => out[..len].copy_from_slice(data),
        }
        Ok(Some((len, h.tp_sec as u64 * 1_000_000_000 + h.tp_nsec as u64)))
    }
}

impl RxPort for AfPacketRx {
    fn recv(&mut self, bufs: &mut [PacketBuf], lens: &mut [usize], times: &mut [u64]) -> io::Result<RxPoll> {
        if self.held {
            self.release()?;
        }
        let cap = bufs.len().min(lens.len()).min(times.len());
        let (mut n, mut bytes) = (0, 0u64);
        // At most one pass over the ring, so a call always returns.
        let mut blocks_seen = 0;
        while n < cap {
            if self.left == 0 {
                if blocks_seen == self.blocks || !self.open_block() {
                    break;
                }
                blocks_seen += 1;
                continue;
            }
            let r = self.take_frame(&mut bufs[n]);
            self.left -= 1;
            match r {
                Ok(Some((len, t))) => {
                    lens[n] = len;
                    times[n] = t;
                    bytes += len as u64;
                    n += 1;
                }
                Ok(None) => {}
                Err(()) => {
                    self.counters.report(DropMalformed, 1, "ring frame out of bounds");
                    self.left = 0;
                }
            }
            if self.left == 0 {
                self.release_block();
            }
        }
        self.counters.add(Frames, n as u64);
        self.counters.add(Bytes, bytes);
        if n == 0 {
            // A deleted interface shows only as silence.
            self.watch.check(|| self.counters.port())?;
            return Ok(RxPoll::Idle);
        }
        Ok(RxPoll::Frames(n))
    }

    fn wait(&mut self, timeout: std::time::Duration) -> io::Result<bool> {
        live::wait_readable(self.fd.as_raw_fd(), timeout)
    }
}
