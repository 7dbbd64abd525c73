//! What the bench tests share (`#[path]`-included beside `support/cli.rs`
//! and `support/live.rs`): the device's configuration, the short trials,
//! running `fhgate bench` bounded in time, and the checks every run holds.
#![allow(dead_code)] // each test file uses some of these

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::cli::repo;
use super::live::Testbed;

/// A gateway configuration for the gw namespace, with shallow rings (a
/// deep backlog would hide overload from short trials, the very thing the
/// plausibility test checks): `backend` on both sides, BFP 9 everywhere
/// but the RU side's DL (`ru_dl_width`), and the chain `translators` for
/// the frames `select` picks (TOML of [[translator]] tables; names listed).
/// `fhgate run` checks that the chain turns the DU's side into the RU's.
pub fn dut_config(dir: &Path, backend: &str, ru_dl_width: u8, translators: &str, select: &str, chain: &[&str]) -> PathBuf {
    let side = |name: &str, iface: &str, w: u8| {
        format!(
            "[{name}]\nbackend = \"{backend}\"\ninterface = \"{iface}\"\ncarrier_prbs = 51\ndl_comp = \"bfp:{w}\"\nul_comp = \"bfp:9\"\ncomp_hdr = \"present\"\nmtu = 9000\n{}\n",
            if backend == "af_xdp" { "umem_frames = 4096\nxdp_ring_size = 1024" } else { "packet_blocks = 16" }
        )
    };
    let mut t = side("du", "gw-du", 9) + &side("ru", "gw-ru", ru_dl_width);
    t += &translators.replace("target/translators/", &format!("{}/target/translators/", repo().display()));
    if !chain.is_empty() {
        let names: Vec<String> = chain.iter().map(|n| format!("\"{n}\"")).collect();
        t += &format!("\n[[chain]]\nselect = \"{select}\"\ntranslators = [{}]\n", names.join(", "));
    }
    t += "\n[pipeline]\nworkers = 1\nburst = 32\nring_size = 1024\n";
    let p = dir.join("gw.toml");
    std::fs::write(&p, t).unwrap();
    p
}

/// Short trials, coarse resolution, the 20 MHz 2T2R BFP 9 preset.
/// The ceiling keeps a debug-build device on a loaded machine out of a
/// deep backlog (flat out is several times what it forwards).
pub const FAST: &[&str] = &["--preset", "2t2r-20mhz-bfp9", "--trial", "0.3", "--warmup", "0.1", "--drain", "0.3", "--settle", "1", "--resolution", "10%", "--max-rate", "10000"];

/// Runs `fhgate bench ARGS` (killed after `within`: a hang fails);
/// returns its exit code, the JSON it wrote (if any) and its stderr.
pub fn bench(args: &[String], json: Option<&Path>, within: Duration) -> (i32, Value, String) {
    bounded(Command::new(env!("CARGO_BIN_EXE_fhgate")), args, json, within)
}

/// [`bench`], the process inside network namespace `ns` (`ip netns exec`).
pub fn bench_in(ns: &str, args: &[String], json: Option<&Path>, within: Duration) -> (i32, Value, String) {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_fhgate")]);
    bounded(c, args, json, within)
}

fn bounded(mut c: Command, args: &[String], json: Option<&Path>, within: Duration) -> (i32, Value, String) {
    c.arg("bench").args(args).current_dir(repo()).stdout(Stdio::null()).stderr(Stdio::piped());
    if let Some(j) = json {
        c.arg("--json").arg(j);
    }
    let mut child = c.spawn().expect("fhgate runs");
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let t = Instant::now();
    let st = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if t.elapsed() > within {
            let _ = child.kill();
            let _ = child.wait();
            panic!("fhgate bench {args:?} still ran after {within:?}: a hang\n{}", reader.join().unwrap());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = reader.join().unwrap();
    let v = json.and_then(|j| std::fs::read_to_string(j).ok()).map_or(Value::Null, |s| serde_json::from_str(&s).expect("--json writes JSON"));
    (st.code().unwrap_or(-1), v, stderr)
}

/// The testbed's ports and the device (`fhgate run -c cfg` in gw), with
/// `extra` flags, and [`FAST`]'s for the flags `extra` does not give.
pub fn around(tb: &Testbed, backend: &str, cfg: Option<&Path>, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "--tx".into(),
        format!("{backend}:du0"),
        "--tx-netns".into(),
        tb.ns("du"),
        "--rx".into(),
        format!("{backend}:ru0"),
        "--rx-netns".into(),
        tb.ns("ru"),
    ];
    if let Some(c) = cfg {
        a.extend(["--dut-config".into(), c.display().to_string(), "--dut-netns".into(), tb.ns("gw")]);
    }
    for kv in FAST.chunks(2) {
        if !extra.contains(&kv[0]) {
            a.extend(kv.iter().map(|s| s.to_string()));
        }
    }
    a.extend(strs(extra));
    a
}

pub fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Every trial of a run: search, confirmation, sweep.
pub fn trials(r: &Value) -> Vec<&Value> {
    let t = &r["throughput"];
    t["trials"].as_array().unwrap().iter().chain(t["confirmation"].as_object().map(|_| &t["confirmation"])).chain(r["sweep"].as_array().unwrap()).collect()
}

/// Checks what every run must hold whatever the device: schema, latency
/// order, counts that add up, and the device's own counters (when bench
/// started it) against bench's.
pub fn check_run(r: &Value) {
    assert_eq!(r["schema"], "fhgate-bench/1");
    for t in trials(r) {
        let (sent, recv, lost) = (t["sent"].as_u64().unwrap(), t["received"].as_u64().unwrap(), t["lost"].as_u64().unwrap());
        assert_eq!(sent, recv + lost, "sent = received + lost: {t}");
        let flow_sent: u64 = t["flows"].as_array().unwrap().iter().map(|f| f["sent"].as_u64().unwrap()).sum();
        assert_eq!(flow_sent, sent, "the flows' sent add up to the trial's");
        if let Some(l) = t["latency"].as_object() {
            let v = |k: &str| l[k].as_f64().unwrap();
            assert!(v("min_ns") <= v("p50_ns") && v("p50_ns") <= v("p99_ns") && v("p99_ns") <= v("p999_ns") && v("p999_ns") <= v("max_ns"), "latency order: {l:?}");
            assert_eq!(l["frames"].as_u64().unwrap(), recv, "every received frame has a latency");
        }
    }
    if let Some(d) = r["dut"].as_object() {
        // The device counted on its own: it cannot have forwarded fewer
        // frames than bench received, nor taken more than bench sent.
        let all = trials(r);
        let received: u64 = all.iter().map(|t| t["received"].as_u64().unwrap()).sum();
        let sent: u64 = all.iter().map(|t| t["sent"].as_u64().unwrap() + t["warmup_sent"].as_u64().unwrap()).sum();
        let (din, dout) = (d["frames_in"].as_u64().unwrap(), d["frames_out"].as_u64().unwrap());
        assert!(dout >= received, "device sent {dout}, bench received {received}");
        assert!(din <= sent, "device took {din}, bench sent {sent}");
    }
}


/// Makes the device of [`dut_config`]'s `cfg` a gateway of `queues`
/// queues on both ports (`queues = "0-N"`, a worker per queue), as
/// tests/multiqueue_live.rs configures it.
pub fn multiqueue(cfg: &Path, queues: u32) {
    let lanes = format!("queues = \"0-{}\"\n", queues - 1);
    let text = std::fs::read_to_string(cfg)
        .unwrap()
        .replace("interface = \"gw-du\"\n", &format!("interface = \"gw-du\"\n{lanes}"))
        .replace("interface = \"gw-ru\"\n", &format!("interface = \"gw-ru\"\n{lanes}"))
        .replace("workers = 1", &format!("workers = {queues}"));
    std::fs::write(cfg, text).unwrap();
}

/// Checks a run between two ports of `queues` queues through a gateway
/// of as many: the report names them, and the gateway's own per-queue
/// counters show each of its queues took and sent frames, so bench spread
/// its flows over every queue and read them back from every queue.
pub fn check_queues(r: &Value, queues: u64) {
    let host = &r["host"];
    assert_eq!((host["tx_queues"].as_u64(), host["rx_queues"].as_u64()), (Some(queues), Some(queues)), "the report names each port's queues: {host}");
    for nic in ["tx_nic", "rx_nic"] {
        assert!(host[nic].as_str().unwrap().ends_with(&format!(", {queues} queues")), "{nic}: {}", host[nic]);
    }
    for (side, half) in [("du", "rx"), ("ru", "tx")] {
        let per_queue = super::live::frames_per_queue(&r["dut"], side, half);
        assert_eq!(per_queue.iter().map(|q| q.0).collect::<Vec<_>>(), (0..queues).collect::<Vec<_>>(), "{side} {half}: {per_queue:?}");
        assert!(per_queue.iter().all(|q| q.1 > 0), "{side} {half}: every queue carried frames: {per_queue:?}");
    }
}

/// Checks that pass-through kept the IQ of every U-plane flow with
/// enough frames to say, in every trial, and that some flow had.
pub fn check_iq_exact(r: &Value) {
    let mut checked = 0;
    for t in trials(r) {
        for f in t["flows"].as_array().unwrap().iter().filter(|f| f["flow"].as_str().unwrap().starts_with('U')) {
            if f["received"].as_u64().unwrap() >= 16 {
                assert_eq!(f["iq"]["exact"], true, "pass-through keeps the IQ: {f}");
                checked += 1;
            }
        }
    }
    assert!(checked > 0, "no U-plane flow had IQ to check");
}
