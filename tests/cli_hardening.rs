//! What a new user or a hostile input does to `replay`, `run` and
//! `translator check`: a refused run never touches existing files, an
//! output may not be an input or another output, a closed pipe or a full
//! disk on standard output never panics, `run --check` refuses what `run`
//! would, and keys given twice are refused by name. Real files, real
//! pipes, `/dev/full`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

#[path = "support/cli.rs"]
mod cli;
use cli::{fhgate, repo, translators};

fn input() -> PathBuf {
    repo().join("captures/du_100mhz_4ant_bfp8_mtu1500.pcap")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Fails with the output when fhgate panicked (exit 101 or a panic message).
fn no_panic(o: &Output) {
    let e = stderr(o);
    assert!(
        o.status.code() != Some(101) && !e.contains("panicked"),
        "fhgate panicked: {e}"
    );
}

/// The directory holds exactly these names (no temporary file left behind).
fn only(dir: &Path, names: &[&str]) {
    let mut got: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    got.sort();
    let mut want: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    want.sort();
    assert_eq!(got, want, "files in {}", dir.display());
}

/// A gateway configuration of capture files in `dir` with `widen`
/// configured by `widen_config` (a TOML inline table body).
fn config(dir: &Path, widen_config: &str) -> String {
    let t = translators();
    format!(
        r#"
[du]
backend = "pcap"
input = "{input}"
output = "{dir}/du_out.pcap"
dl_comp = "bfp:8"
ul_comp = "bfp:8"
mtu = 1500

[ru]
backend = "pcap"
output = "{dir}/ru_out.pcap"
dl_comp = "bfp:12"
ul_comp = "bfp:12"
mtu = 1500

[[translator]]
name = "widen"
path = "{t}/bfp_width.wasm"
config = {{ {widen_config} }}
deadline_us = 200000

[[chain]]
select = "dir=dl"
translators = ["widen"]
"#,
        input = s(&input()),
        dir = s(dir),
        t = s(&t)
    )
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("gw.toml");
    std::fs::write(&p, text).unwrap();
    p
}

const PRECIOUS: &[u8] = b"the user's own capture, not to be lost";

#[test]
fn a_refused_replay_leaves_existing_outputs_as_they_were() {
    let t = translators();
    let dir = tempfile::tempdir().unwrap();
    let (out, tap) = (dir.path().join("out.pcap"), dir.path().join("tap.pcap"));
    std::fs::write(&out, PRECIOUS).unwrap();
    std::fs::write(&tap, PRECIOUS).unwrap();
    // fhgate_init refuses out_width = 99.
    let bad = format!("{}:in_width=8,out_width=99", s(&t.join("bfp_width.wasm")));
    let o = fhgate(&[
        "replay",
        s(&input()),
        "-o",
        s(&out),
        "--tap",
        s(&tap),
        "--translator",
        &bad,
    ]);
    no_panic(&o);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(std::fs::read(&out).unwrap(), PRECIOUS);
    assert_eq!(std::fs::read(&tap).unwrap(), PRECIOUS);
    only(dir.path(), &["out.pcap", "tap.pcap"]);
    // A replay that succeeds replaces them.
    let good = format!("{}:in_width=8,out_width=12", s(&t.join("bfp_width.wasm")));
    let o = fhgate(&[
        "replay",
        s(&input()),
        "-o",
        s(&out),
        "--tap",
        s(&tap),
        "--translator",
        &good,
        "--dl-comp",
        "bfp:8",
        "--mtu",
        "1500",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let frames = |p: &Path| fhgate::io::pcap::read_all(p).unwrap().len();
    assert_eq!(
        frames(&tap),
        frames(&input()),
        "the tap holds every ingress frame"
    );
    assert!(frames(&out) >= frames(&input()));
    only(dir.path(), &["out.pcap", "tap.pcap"]);
}

#[test]
fn a_refused_run_leaves_existing_outputs_as_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let (du, ru) = (
        dir.path().join("du_out.pcap"),
        dir.path().join("ru_out.pcap"),
    );
    // A translator whose fhgate_init fails, then a metrics port already in use.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let cases = [
        (
            config(dir.path(), "in_width = 8, out_width = 99"),
            "out_width".to_string(),
        ),
        (
            config(dir.path(), "in_width = 8, out_width = 12")
                + &format!("\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n"),
            format!("metrics.listen: cannot listen on 127.0.0.1:{port}"),
        ),
    ];
    for (text, why) in cases {
        std::fs::write(&du, PRECIOUS).unwrap();
        std::fs::write(&ru, PRECIOUS).unwrap();
        let cfg = write_config(dir.path(), &text);
        // --force: past the refusal of existing captures, to the refusal tested here.
        let o = fhgate(&["run", "-c", s(&cfg), "--force"]);
        no_panic(&o);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert_eq!(std::fs::read(&du).unwrap(), PRECIOUS, "{}", stderr(&o));
        assert_eq!(std::fs::read(&ru).unwrap(), PRECIOUS, "{}", stderr(&o));
        only(dir.path(), &["du_out.pcap", "ru_out.pcap", "gw.toml"]);
        assert!(stderr(&o).contains(&why), "{why}: {}", stderr(&o));
    }
    drop(busy);
}

#[test]
fn replay_refuses_an_output_that_is_its_input_or_another_output() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("in.pcap");
    std::fs::copy(input(), &copy).unwrap();
    let before = std::fs::read(&copy).unwrap();
    let link = dir.path().join("link.pcap");
    std::os::unix::fs::symlink(&copy, &link).unwrap();
    let dotted = format!("{}/./in.pcap", s(dir.path()));
    let other = dir.path().join("o.pcap");
    for (args, keys) in [
        (vec!["-o", s(&copy)], ["-o", "IN"]),
        (vec!["-o", &dotted], ["-o", "IN"]),
        (vec!["-o", s(&link)], ["-o", "IN"]),
        (vec!["-o", s(&other), "--tap", s(&copy)], ["--tap", "IN"]),
        (vec!["-o", s(&other), "--tap", s(&other)], ["-o", "--tap"]),
    ] {
        let mut a = vec!["replay", s(&copy)];
        a.extend(args.iter().copied());
        let o = fhgate(&a);
        no_panic(&o);
        assert_eq!(o.status.code(), Some(2), "{a:?}: {}", stderr(&o));
        for k in keys {
            assert!(stderr(&o).contains(k), "{a:?} names {k}: {}", stderr(&o));
        }
        assert_eq!(std::fs::read(&copy).unwrap(), before, "{a:?}");
        assert!(!other.exists(), "{a:?}");
    }
}

#[test]
fn run_and_its_check_refuse_clashing_files_naming_the_keys() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("in.pcap");
    std::fs::copy(input(), &copy).unwrap();
    let before = std::fs::read(&copy).unwrap();
    let good = config(dir.path(), "in_width = 8, out_width = 12").replace(s(&input()), s(&copy));
    let du_out = format!("{}/du_out.pcap", s(dir.path()));
    let ru_out = format!("{}/ru_out.pcap", s(dir.path()));
    for (text, keys) in [
        (good.replace(&ru_out, s(&copy)), ["ru.output", "du.input"]),
        (good.replace(&du_out, s(&copy)), ["du.output", "du.input"]),
        (good.replace(&ru_out, &du_out), ["du.output", "ru.output"]),
    ] {
        let cfg = write_config(dir.path(), &text);
        for check in [true, false] {
            let mut a = vec!["run", "-c", s(&cfg)];
            if check {
                a.push("--check");
            }
            let o = fhgate(&a);
            no_panic(&o);
            assert_eq!(o.status.code(), Some(2), "{a:?}: {}", stderr(&o));
            for k in keys {
                assert!(stderr(&o).contains(k), "{a:?} names {k}: {}", stderr(&o));
            }
            assert_eq!(std::fs::read(&copy).unwrap(), before);
        }
    }
}

#[test]
fn run_check_loads_and_initialises_every_translator() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &config(dir.path(), "in_width = 8, out_width = 12"),
    );
    let o = fhgate(&["run", "-c", s(&cfg), "--check"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("ok"));
    // fhgate_init refuses out_width = 99: --check must say so, naming the translator.
    let cfg = write_config(
        dir.path(),
        &config(dir.path(), "in_width = 8, out_width = 99"),
    );
    let o = fhgate(&["run", "-c", s(&cfg), "--check"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("translator[0] (widen)") && stderr(&o).contains("out_width"),
        "{}",
        stderr(&o)
    );
    // An input capture that is not there, or not a capture: --check said
    // only "ok" and the run then failed. It warns (a config may name a
    // capture that exists only where it runs), and the run refuses it.
    let good = config(dir.path(), "in_width = 8, out_width = 12");
    let junk = dir.path().join("junk.pcap");
    std::fs::write(&junk, b"not a capture at all").unwrap();
    for bad in [dir.path().join("missing.pcap"), junk] {
        let text = good.replace(&format!("input = \"{}\"", input().display()), &format!("input = \"{}\"", bad.display()));
        assert_ne!(text, good);
        let cfg = write_config(dir.path(), &text);
        let o = fhgate(&["run", "-c", s(&cfg), "--check"]);
        assert!(o.status.success(), "{}: {}", bad.display(), stderr(&o));
        assert!(stderr(&o).contains("du.input") && stderr(&o).contains(&*bad.to_string_lossy()) && stderr(&o).contains("WARN"), "{}", stderr(&o));
        let o = fhgate(&["run", "-c", s(&cfg)]);
        assert_eq!(o.status.code(), Some(2), "{}: {}", bad.display(), stderr(&o));
        assert!(stderr(&o).contains("du.input"), "{}", stderr(&o));
    }
}

#[test]
fn a_chain_an_earlier_one_hides_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let base = config(dir.path(), "in_width = 8, out_width = 12");
    for second in ["dir=dl", "dir=dl,plane=u", "dir=dl,eaxc=0x1000/0xf000"] {
        let text = format!("{base}\n[[chain]]\nselect = \"{second}\"\ntranslators = [\"widen\"]\n");
        let cfg = write_config(dir.path(), &text);
        let o = fhgate(&["run", "-c", s(&cfg), "--check"]);
        assert_eq!(o.status.code(), Some(2), "{second}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("chain[1].select") && stderr(&o).contains("chain[0]"),
            "{second}: {}",
            stderr(&o)
        );
    }
    // A narrower chain first, then a broader one: both run.
    let text = base.replace("select = \"dir=dl\"", "select = \"dir=dl,plane=u\"")
        + "\n[[chain]]\nselect = \"dir=dl\"\ntranslators = [\"widen\"]\n";
    let o = fhgate(&["run", "-c", s(&write_config(dir.path(), &text)), "--check"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn keys_given_twice_are_refused_by_name() {
    let t = translators();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.pcap");
    let twice = format!(
        "{}:in_width=8,out_width=12,in_width=9",
        s(&t.join("bfp_width.wasm"))
    );
    let o = fhgate(&["replay", s(&input()), "-o", s(&out), "--translator", &twice]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("`in_width` is given twice"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    let o = fhgate(&[
        "translator",
        "check",
        s(&t.join("bfp_width.wasm")),
        "--config",
        "in_width=8,out_width=12,out_width=16",
    ]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("`out_width` is given twice"),
        "{}",
        stderr(&o)
    );
    // In TOML: a nested table and a dotted key that flatten to one key.
    let text = config(
        dir.path(),
        "in_width = 8, out_width = 12, map = { x = 1 }, \"map.x\" = 2",
    );
    let o = fhgate(&["run", "-c", s(&write_config(dir.path(), &text)), "--check"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("translator[0].config.map.x"),
        "{}",
        stderr(&o)
    );
}

/// Runs fhgate with standard output to a pipe whose reading end is closed
/// before it writes anything (`| head -0`).
fn to_closed_pipe(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fhgate"))
        .args(args)
        .current_dir(repo())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    Output {
        status,
        stdout: Vec::new(),
        stderr: err.into_bytes(),
    }
}

/// Runs fhgate with standard output to `/dev/full`.
fn to_full_disk(args: &[&str]) -> Output {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full is there on Linux");
    Command::new(env!("CARGO_BIN_EXE_fhgate"))
        .args(args)
        .current_dir(repo())
        .stdout(full)
        .output()
        .unwrap()
}

#[test]
fn a_closed_pipe_ends_every_command_quietly_and_a_full_disk_is_an_error() {
    let t = translators();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.pcap");
    let cfg = write_config(
        dir.path(),
        &config(dir.path(), "in_width = 8, out_width = 12"),
    );
    let check = t.join("bfp_width.wasm");
    let input = input();
    let commands: [Vec<&str>; 5] = [
        vec!["replay", s(&input), "-o", s(&out)],
        // Each command runs twice (closed pipe, full disk): the second run replaces the first's captures.
        vec!["run", "-c", s(&cfg), "--force"],
        vec![
            "translator",
            "check",
            s(&check),
            "--config",
            "in_width=8,out_width=12",
            "-v",
        ],
        vec!["inspect", s(&input)],
        vec!["diff", s(&input), s(&input)],
    ];
    for a in &commands {
        let o = to_closed_pipe(a);
        no_panic(&o);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{a:?} to a closed pipe: {}",
            stderr(&o)
        );
        assert!(
            !stderr(&o).contains("error"),
            "{a:?} to a closed pipe is quiet: {}",
            stderr(&o)
        );
        let o = to_full_disk(a);
        no_panic(&o);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{a:?} to /dev/full: {}",
            stderr(&o)
        );
        assert!(
            stderr(&o).contains("No space left on device"),
            "{a:?} to /dev/full: {}",
            stderr(&o)
        );
    }
}

#[test]
fn logs_carry_no_colour_codes_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.pcap");
    // replay logs at info level ("replay finished"); stderr here is a pipe.
    let o = fhgate(&["replay", s(&input()), "-o", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("replay finished"), "{}", stderr(&o));
    assert!(
        !o.stderr.contains(&0x1b),
        "ANSI escape in piped logs: {:?}",
        stderr(&o)
    );
}

#[test]
fn run_names_the_key_of_a_capture_it_cannot_open() {
    let dir = tempfile::tempdir().unwrap();
    let good = config(dir.path(), "in_width = 8, out_width = 12");
    let missing = format!("{}/missing.pcap", s(dir.path()));
    let not_a_dir = format!("{}/gw.toml/ru_out.pcap", s(dir.path()));
    for (text, key, why) in [
        (
            good.replace(s(&input()), &missing),
            "du.input",
            "No such file",
        ),
        (
            good.replace(&format!("{}/ru_out.pcap", s(dir.path())), &not_a_dir),
            "ru.output",
            "cannot create",
        ),
    ] {
        let o = fhgate(&["run", "-c", s(&write_config(dir.path(), &text))]);
        no_panic(&o);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(
            stderr(&o).contains(key) && stderr(&o).contains(why),
            "{key}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn an_interrupted_replay_leaves_its_output_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.pcap");
    std::fs::write(&out, PRECIOUS).unwrap();
    // 864 frames at 100 frames/s: about 9 s, interrupted after 1.
    let child = Command::new(env!("CARGO_BIN_EXE_fhgate"))
        .args(["replay", s(&input()), "-o", s(&out), "--pace", "rate:100"])
        .current_dir(repo())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(1));
    // SAFETY: kill has no memory preconditions; the pid is our child's.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let o = child.wait_with_output().unwrap();
    no_panic(&o);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("interrupted"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&out).unwrap(), PRECIOUS);
    only(dir.path(), &["out.pcap"]);
}

#[test]
fn a_side_vlan_nothing_acts_on_is_said_not_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let text = config(dir.path(), "in_width = 8, out_width = 12").replacen(
        "mtu = 1500",
        "mtu = 1500\nvlan = 7",
        1,
    );
    let o = fhgate(&["run", "-c", s(&write_config(dir.path(), &text)), "--check"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("du.vlan = 7"), "{}", stderr(&o));
}

/// `profile learn -o` and `plan -o` write through a temporary file and
/// never replace a file that exists (a profile is often hand-edited):
/// refused, the file left as it was, no temporary file left behind.
#[test]
fn profile_and_plan_never_replace_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let du = dir.path().join("du.toml");
    let o = fhgate(&["profile", "learn", s(&input()), "-o", s(&du)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let learned = std::fs::read(&du).unwrap();
    assert!(String::from_utf8_lossy(&learned).contains("eaxc_bits"), "a profile was written");
    let o = fhgate(&["profile", "learn", s(&input()), "-o", s(&du)]);
    no_panic(&o);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("exists; not overwriting it"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&du).unwrap(), learned);
    let gw = dir.path().join("gw.toml");
    std::fs::write(&gw, PRECIOUS).unwrap();
    let ru = repo().join("gateway/ru.example.toml");
    let o = fhgate(&["plan", "--du", s(&du), "--ru", s(&ru), "-o", s(&gw)]);
    no_panic(&o);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("exists; not overwriting it"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&gw).unwrap(), PRECIOUS);
    std::fs::remove_file(&gw).unwrap();
    let o = fhgate(&["plan", "--du", s(&du), "--ru", s(&ru), "-o", s(&gw)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&gw).unwrap().contains("[[chain]]"));
    only(dir.path(), &["du.toml", "gw.toml"]);
}

/// A VLAN PCP without a VLAN ID was silently ignored (frames went out
/// untagged, exit 0): gen and owd now refuse it, naming --vlan.
#[test]
fn a_pcp_without_a_vlan_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g.pcap");
    for args in [&["gen", "-o", s(&out), "--slots", "1", "--pcp", "3"][..], &["owd", "--port", "af_packet:lo", "--pcp", "3", "--count", "1"][..]] {
        let o = fhgate(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("--vlan"), "{args:?}: {}", stderr(&o));
    }
    assert!(!out.exists(), "nothing written");
}

/// A translator whose declared input is not what the decoding flags say
/// arrives gets a warning that says where its premise comes from (it said
/// "but none:16 here: it passes that traffic unchanged" while it converted
/// every section: none:16 was only the flags' default).
#[test]
fn a_declared_effect_the_flags_do_not_match_is_warned_of_as_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.pcap");
    let t = format!("{}:in_comp=bfp:9,out_comp=none:16", s(&translators().join("comp_convert.wasm")));
    let cap = repo().join("captures/du_16prb_bfp9_exp0-15.pcap");
    let o = fhgate(&["replay", s(&cap), "-o", s(&out), "--translator", &t]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("but the decoding flags say none:16 arrives: if so it passes that traffic unchanged"), "{}", stderr(&o));
    assert!(stderr(&o).contains("--du-profile"), "{}", stderr(&o));
}

/// VLAN ID 4095 is reserved by IEEE 802.1Q: every place that takes a VLAN
/// ID to send or expect refuses it naming the key (they took 0-4095): a
/// side's `vlan`, a profile's `vlan`, gen and owd `--vlan`, vlan_retag's
/// `u_vlan`. 4094 is accepted.
#[test]
fn the_reserved_vlan_id_4095_is_refused_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let side = |vid: u16| config(dir.path(), "in_width = 8, out_width = 12").replacen("mtu = 1500", &format!("mtu = 1500\nvlan = {vid}"), 1);
    let o = fhgate(&["run", "-c", s(&write_config(dir.path(), &side(4095))), "--check"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("du.vlan") && stderr(&o).contains("4095 is reserved"), "{}", stderr(&o));
    let o = fhgate(&["run", "-c", s(&write_config(dir.path(), &side(4094))), "--check"]);
    assert!(o.status.success(), "4094 is a VLAN ID: {}", stderr(&o));

    let ru = std::fs::read_to_string(repo().join("gateway/ru.example.toml")).unwrap();
    let reserved = dir.path().join("ru4095.toml");
    std::fs::write(&reserved, format!("{ru}\nvlan = 4095\n")).unwrap();
    let o = fhgate(&["replay", s(&input()), "-o", s(&dir.path().join("r.pcap")), "--ru-profile", s(&reserved), "--dl-comp", "bfp:8"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("vlan") && stderr(&o).contains("4095 is outside 0-4094"), "{}", stderr(&o));

    let out = dir.path().join("g.pcap");
    for args in [&["gen", "-o", s(&out), "--slots", "1", "--vlan", "4095"][..], &["owd", "--port", "af_packet:lo", "--vlan", "4095", "--count", "1"][..]] {
        let o = fhgate(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("--vlan") && stderr(&o).contains("4095"), "{args:?}: {}", stderr(&o));
    }
    assert!(!out.exists(), "nothing written");

    let t = translators();
    let o = fhgate(&["translator", "check", s(&t.join("vlan_retag.wasm")), "--config", "u_vlan=4095"]);
    assert_ne!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(format!("{}{}", stderr(&o), String::from_utf8_lossy(&o.stdout)).contains("u_vlan"), "{}", stderr(&o));
    let o = fhgate(&["translator", "check", s(&t.join("vlan_retag.wasm")), "--config", "u_vlan=4094"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// A profile that sets no key (an empty file, or only comments) compared
/// nothing and checked as "ok": it is refused, naming the file, wherever a
/// profile is read (plan, replay, a side's `profile = FILE`).
#[test]
fn an_empty_profile_is_refused_not_taken_as_agreement() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "# the DU's profile, to be filled in\n").unwrap();
    let ru = repo().join("gateway/ru.example.toml");
    let (inp, out) = (input(), dir.path().join("o.pcap"));
    let cases: [Vec<&str>; 2] = [
        vec!["plan", "--du", s(&empty), "--ru", s(&ru)],
        vec!["replay", s(&inp), "-o", s(&out), "--du-profile", s(&empty), "--ru-profile", s(&ru)],
    ];
    for a in &cases {
        let o = fhgate(a);
        no_panic(&o);
        assert_eq!(o.status.code(), Some(2), "{a:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("empty.toml") && stderr(&o).contains("describes nothing"), "{a:?}: {}", stderr(&o));
    }
    let text = config(dir.path(), "in_width = 8, out_width = 12").replacen("[du]", &format!("[du]\nprofile = \"{}\"", s(&empty)), 1);
    let o = fhgate(&["run", "-c", s(&write_config(dir.path(), &text)), "--check"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("empty.toml") && stderr(&o).contains("describes nothing"), "{}", stderr(&o));
}
