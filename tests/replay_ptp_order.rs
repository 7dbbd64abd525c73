//! Replay with several workers: frames that are not eCPRI (PTP here) keep
//! their place among the eCPRI frames, with their own timestamps. They
//! used to take the live ports' priority ring and overtake the frames the
//! workers still held, which then left with timestamps clamped to the PTP
//! frame's (DEVELOPERS.md, "Egress and ordering").

use std::time::Duration;

use fhgate::io::pcap::{read_all, Captured, PcapOut};

#[path = "support/cli.rs"]
mod cli;
use cli::fhgate;

/// A PTP Sync over L2 (IEEE 1588 Table 35: 44 bytes), sequence `seq`.
fn sync(seq: u16) -> Vec<u8> {
    let mut f = vec![0x01, 0x1B, 0x19, 0, 0, 0, 0x02, 0, 0, 0, 0, 1, 0x88, 0xF7];
    let mut m = vec![0u8; 44];
    m[1] = 2;
    m[3] = 44;
    m[30..32].copy_from_slice(&seq.to_be_bytes());
    f.extend(m);
    f.resize(60, 0);
    f
}

#[test]
fn ptp_frames_keep_their_place_and_time_among_ecpri_frames_with_workers() {
    let dir = tempfile::tempdir().unwrap();
    let du = dir.path().join("du.pcap");
    // One antenna: one eAxC, so every eCPRI frame is one flow on one worker.
    let o = fhgate(&["gen", "-o", du.to_str().unwrap(), "--prbs", "51", "--antennas", "1", "--slots", "40"]);
    assert!(o.status.success(), "gen: {}", String::from_utf8_lossy(&o.stderr));
    let ecpri = read_all(&du).unwrap();
    assert!(ecpri.len() > 500, "{} frames", ecpri.len());
    // A PTP frame after every 7th eCPRI frame; every frame 10 µs after the last.
    let mut frames = Vec::new();
    for (i, f) in ecpri.into_iter().enumerate() {
        frames.push(f.data);
        if i % 7 == 6 {
            frames.push(sync(i as u16));
        }
    }
    let input = dir.path().join("in.pcap");
    let (mut w, commit) = PcapOut::create(&input, fhgate::io::output::Existing::Replace).unwrap();
    for (i, f) in frames.iter().enumerate() {
        w.write(Duration::from_micros(1_000_000 + 10 * i as u64), f).unwrap();
    }
    drop(w);
    commit.commit().unwrap();
    // Egress pads every frame to 60 bytes (gen's C-plane frames are 38).
    let mut want = read_all(&input).unwrap();
    for f in &mut want {
        if f.data.len() < 60 {
            f.data.resize(60, 0);
        }
    }
    for workers in ["1", "2", "3"] {
        let out = dir.path().join(format!("out{workers}.pcap"));
        let o = fhgate(&["replay", input.to_str().unwrap(), "-o", out.to_str().unwrap(), "--workers", workers, "--dl-comp", "bfp:9"]);
        assert!(o.status.success(), "replay: {}", String::from_utf8_lossy(&o.stderr));
        let got: Vec<Captured> = read_all(&out).unwrap();
        assert_eq!(got.len(), want.len(), "--workers {workers}");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(g.data == w.data, "--workers {workers}: frame {i} in its place");
            assert_eq!(g.timestamp, w.timestamp, "--workers {workers}: frame {i} keeps its timestamp");
        }
    }
}
