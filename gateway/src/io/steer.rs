//! Sending over several transmit queues with flows kept whole: a
//! [`SteeredTx`] puts every frame of one eAxC on the same queue (eAxC ID
//! mod the number of queues), as a DU with a queue per antenna group
//! does, so the peer's NIC receives each flow on one queue. Frames that
//! are not eCPRI over Ethernet, or whose message type carries no eAxC
//! (4 and up: a delay measurement's request and follow-up stay on one
//! queue), go on the first queue.

use std::io;

use super::TxPort;

/// EtherType of eCPRI, and the VLAN tags a frame may carry before it.
const ETHERTYPE_ECPRI: u16 = 0xAEFE;
const TPID_8021Q: u16 = 0x8100;
const TPID_8021AD: u16 = 0x88A8;
/// The last eCPRI message type whose bytes 4-5 are an eAxC (PC_ID or RTC_ID).
const LAST_TYPE_WITH_EAXC: u8 = 3;
/// Where ecpriPcid (the eAxC ID) sits in the eCPRI common header.
const PCID_AT: usize = 4;

/// The eAxC ID (ecpriPcid) of an eCPRI-over-Ethernet frame, past up to
/// two VLAN tags; `None` for anything else or a frame too short to say.
pub fn eaxc_of(frame: &[u8]) -> Option<u16> {
    let be16 = |at: usize| frame.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let mut at = 12;
    let mut ethertype = be16(at)?;
    for _ in 0..2 {
        if ethertype != TPID_8021Q && ethertype != TPID_8021AD {
            break;
        }
        at += 4;
        ethertype = be16(at)?;
    }
    // Message types 0-3 carry PC_ID or RTC_ID there; the others do not.
    if ethertype != ETHERTYPE_ECPRI || *frame.get(at + 3)? > LAST_TYPE_WITH_EAXC {
        return None;
    }
    be16(at + 2 + PCID_AT)
}

/// Transmit halves of several queues behind one [`TxPort`]: a frame goes
/// to queue `eAxC mod N`; each queue is flushed with the burst.
pub struct SteeredTx {
    queues: Vec<Box<dyn TxPort>>,
}

impl SteeredTx {
    /// Steers over `queues` (at least one).
    pub fn new(queues: Vec<Box<dyn TxPort>>) -> io::Result<SteeredTx> {
        if queues.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "steering needs at least one transmit queue"));
        }
        Ok(SteeredTx { queues })
    }
}

/// The transmit halves of a port's lanes as one port: a single lane as it
/// is, several through a [`SteeredTx`] (at least one).
pub fn steered(mut queues: Vec<Box<dyn TxPort>>) -> io::Result<Box<dyn TxPort>> {
    if queues.len() == 1 {
        Ok(queues.pop().expect("one queue"))
    } else {
        Ok(Box::new(SteeredTx::new(queues)?))
    }
}

impl TxPort for SteeredTx {
    fn send(&mut self, frame: &[u8], time_ns: u64) -> io::Result<()> {
        let q = eaxc_of(frame).map_or(0, |e| e as usize % self.queues.len());
        self.queues[q].send(frame, time_ns)
    }

    fn flush(&mut self) -> io::Result<()> {
        for q in &mut self.queues {
            q.flush()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ethernet header with `tags` VLAN tags, then eCPRI's common header
    /// with ecpriPcid `pcid`, laid out from the spec here (not from `ecpri`).
    fn frame(tags: &[u16], ethertype: u16, pcid: u16) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        for t in tags {
            f.extend_from_slice(&t.to_be_bytes());
            f.extend_from_slice(&[0, 7]);
        }
        f.extend_from_slice(&ethertype.to_be_bytes());
        // revision/flags, message type, payload size, then ecpriPcid.
        f.extend_from_slice(&[0x10, 0x00, 0x00, 0x08]);
        f.extend_from_slice(&pcid.to_be_bytes());
        f.extend_from_slice(&[0x80, 0x00]);
        f
    }

    #[test]
    fn the_eaxc_is_read_past_vlan_tags() {
        assert_eq!(eaxc_of(&frame(&[], 0xAEFE, 0x1203)), Some(0x1203));
        assert_eq!(eaxc_of(&frame(&[0x8100], 0xAEFE, 7)), Some(7));
        assert_eq!(eaxc_of(&frame(&[0x88A8, 0x8100], 0xAEFE, 9)), Some(9));
        assert_eq!(eaxc_of(&frame(&[], 0x88F7, 9)), None, "PTP is not eCPRI");
        assert_eq!(eaxc_of(&frame(&[], 0xAEFE, 9)[..17]), None, "cut before ecpriPcid");
    }

    /// Counts what it was given.
    struct Count(std::sync::Arc<std::sync::Mutex<Vec<u16>>>, u16);
    impl TxPort for Count {
        fn send(&mut self, _: &[u8], _: u64) -> io::Result<()> {
            self.0.lock().unwrap().push(self.1);
            Ok(())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_flow_goes_to_one_queue() {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let qs: Vec<Box<dyn TxPort>> = (0..4).map(|i| Box::new(Count(seen.clone(), i)) as Box<dyn TxPort>).collect();
        let mut s = SteeredTx::new(qs).unwrap();
        for pcid in [0u16, 1, 2, 3, 4, 5, 0x0103] {
            s.send(&frame(&[], 0xAEFE, pcid), 0).unwrap();
        }
        s.send(&frame(&[], 0x0806, 3), 0).unwrap();
        assert_eq!(*seen.lock().unwrap(), vec![0, 1, 2, 3, 0, 1, 3, 0]);
        assert!(SteeredTx::new(Vec::new()).is_err());
    }
}
