//! The configuration file: parsing, validation, and the errors that name keys.

use super::*;
use ecpri::{EaxcLayout, UdCompHdr};

const GOOD: &str = r#"
[du]
backend = "pcap"
input = "captures/du.pcap"
eaxc_bits = "4,4,4,4"
dl_comp = "bfp:8"
vlan = 2
mtu = 1500

[ru]
backend = "pcap"
output = "out.pcap"
eaxc_bits = "2,6,4,4"
dl_comp = "bfp:12"
mtu = 1500

[[translator]]
name = "widen"
path = "target/translators/bfp_width.wasm"
config = { in_width = 8, out_width = 12 }
fault_policy = "fallback:pass"

[[translator]]
name = "pass"
path = "target/translators/noop.wasm"

[[translator]]
name = "remap"
path = "target/translators/eaxc_remap.wasm"
config = { from = "4,4,4,4", to = "2,6,4,4", map = { "0x0001" = "0x0101" } }

[[chain]]
select = "dir=dl,plane=u"
translators = ["widen", "remap"]

[pipeline]
workers = 2
cores = [0, 1]

[metrics]
listen = "127.0.0.1:9100"
"#;

#[test]
fn parses_a_full_config() {
    let c = GatewayConfig::from_toml(GOOD).unwrap();
    assert_eq!(c.du.decode.dl_comp, UdCompHdr::from_spec("bfp:8").unwrap());
    assert_eq!(c.ru.decode.eaxc, EaxcLayout::new(2, 6, 4, 4).unwrap());
    assert_eq!(c.du.vlan, Some(2));
    assert_eq!(c.translators[0].config, vec![("in_width".into(), "8".into()), ("out_width".into(), "12".into())]);
    assert_eq!(c.translators[0].fault_policy, FaultPolicyConfig::Fallback("pass".into()));
    assert_eq!(c.translators[2].config[2], ("map.0x0001".into(), "\"0x0101\"".into()));
    assert_eq!(c.chains[0].translators, vec!["widen", "remap"]);
    assert_eq!(c.pipeline.workers, 2);
    assert_eq!(c.du.oversize, crate::pipeline::egress::OversizePolicy::Drop, "the default");
    assert_eq!(c.metrics_listen, Some("127.0.0.1:9100".parse().unwrap()));
    assert!(!c.metrics_expose, "loopback unless asked");
}

/// A pod's metrics must reach Prometheus and the kubelet's probes: a
/// non-loopback `listen` is taken with `expose = true`, and only then.
#[test]
fn metrics_leave_loopback_only_with_expose() {
    let wide = GOOD.replace("listen = \"127.0.0.1:9100\"", "listen = \"0.0.0.0:9100\"\nexpose = true");
    let c = GatewayConfig::from_toml(&wide).unwrap();
    assert_eq!((c.metrics_listen, c.metrics_expose), (Some("0.0.0.0:9100".parse().unwrap()), true));
    let e = bad(("listen = \"127.0.0.1:9100\"", "listen = \"[::]:9100\""));
    assert_eq!(e.key, "metrics.listen", "{e}");
    assert!(e.why.contains("expose = true"), "{e}");
    let text = GOOD.replace("listen = \"127.0.0.1:9100\"", "listen = \"0.0.0.0:9100\"\nexpose = \"yes\"");
    let line = text.lines().position(|l| l.starts_with("expose")).unwrap() + 1;
    let e = GatewayConfig::from_toml(&text).unwrap_err().to_string();
    assert!(e.contains(&format!("line {line} (metrics.expose):")) && e.contains("expected a boolean"), "{e}");
}

fn bad(edit: (&str, &str)) -> ConfigError {
    GatewayConfig::from_toml(&GOOD.replace(edit.0, edit.1)).unwrap_err()
}

#[test]
fn every_error_names_its_key() {
    let cases: &[((&str, &str), &str, &str)] = &[
        (("dl_comp = \"bfp:8\"", "dl_comp = \"bfp:17\""), "du.dl_comp", "METHOD:WIDTH"),
        (("eaxc_bits = \"2,6,4,4\"", "eaxc_bits = \"2,6,4\""), "ru.eaxc_bits", "adding up to 16"),
        (("vlan = 2", "vlan = 5000"), "du.vlan", "0-4094"),
        (("vlan = 2", "vlan = 4095"), "du.vlan", "4095 is reserved"),
        (("vlan = 2", "vlan = 2\noversize = \"truncate\""), "du.oversize", "drop, forward or cut"),
        (("translators = [\"widen\", \"remap\"]", "translators = [\"widen\", \"nope\"]"), "chain[0].translators[1]", "no translator named `nope`"),
        (("select = \"dir=dl,plane=u\"", "select = \"dir=up\""), "chain[0].select", "expected dl or ul"),
        (("fault_policy = \"fallback:pass\"", "fault_policy = \"retry\""), "translator[0].fault_policy", "pass, drop or fallback"),
        (("fault_policy = \"fallback:pass\"", "fault_policy = \"fallback:ghost\""), "translator[0].fault_policy", "no translator named `ghost`"),
        (("name = \"pass\"", "name = \"widen\""), "translator[1].name", "already the name"),
        (("bfp_width.wasm", "bfp_width.so"), "translator[0].path", "precompiled native code"),
        (("listen = \"127.0.0.1:9100\"", "listen = \"0.0.0.0:9100\""), "metrics.listen", "loopback"),
        (("workers = 2", "workers = 0"), "pipeline.workers", "outside"),
        (("workers = 2", "workers = 2\ncoalesce_us = 5000"), "pipeline.coalesce_us", "outside 0-1000"),
        (("workers = 2", "workers = 2\npolling = \"busy\"\ncoalesce_us = 20"), "pipeline.coalesce_us", "only adaptive"),
        (("backend = \"pcap\"\ninput", "backend = \"af_xdp\"\ninput"), "du.interface", "required"),
        (("backend = \"pcap\"\ninput", "backend = \"tap\"\ninput"), "du.backend", "af_xdp"),
    ];
    for (edit, key, why) in cases {
        let e = bad(*edit);
        assert_eq!(e.key, *key, "{e}");
        assert!(e.why.contains(why), "{e}");
    }
}

#[test]
fn unknown_keys_and_type_errors_give_the_line() {
    let e = bad(("mtu = 1500\n\n[ru]", "mtu = 1500\nmtuu = 3\n\n[ru]"));
    assert!(e.key.starts_with("line "), "{e}");
    assert!(e.why.contains("mtuu"), "{e}");
    let e = bad(("workers = 2", "workers = \"two\""));
    assert!(e.key.starts_with("line "), "{e}");
}

#[test]
fn port_specs_parse_like_config_sides() {
    let Backend::AfXdp(x) = parse_port_spec("af_xdp:veth0,xdp_mode=generic,queue=1,busy_poll_us=50").unwrap() else { panic!() };
    assert_eq!((x.interface.as_str(), x.queue, x.mode, x.copy, x.busy_poll_us), ("veth0", 1, XdpMode::Generic, XdpCopy::Auto, Some(50)));
    let Backend::AfPacket(p) = parse_port_spec("af_packet:eth1").unwrap() else { panic!() };
    assert_eq!((p.interface.as_str(), p.block_size, p.blocks), ("eth1", 256 << 10, 64));
    let Backend::Udp(u) = parse_port_spec("udp:0.0.0.0:5000,[::1]:6000").unwrap() else { panic!() };
    assert_eq!((u.bind.port(), u.peer.to_string().as_str()), (5000, "[::1]:6000"));
    for (spec, want) in [
        ("tap:x", "expected af_xdp"),
        ("af_xdp:", "interface"),
        ("af_xdp:veth0,xdp_mode=fast", "port.xdp_mode"),
        ("udp:1.2.3.4:5", "port.peer"),
        ("udp:0.0.0.0:5000,10.0.0.1:0", "port.peer: `10.0.0.1:0`: datagrams cannot be sent"),
        ("udp:0.0.0.0:5000,0.0.0.0:5000", "port.peer: `0.0.0.0:5000`: datagrams cannot be sent"),
        ("udp:[::]:5000,[::]:6000", "port.peer: `[::]:6000`: datagrams cannot be sent"),
        ("af_packet:e,bogus=1", "bogus"),
        ("af_xdp:veth0,xdp_ring_size=100", "port.xdp_ring_size"),
    ] {
        let e = parse_port_spec(spec).unwrap_err().to_string();
        assert!(e.contains(want), "{spec}: {e}");
    }
}

/// `queues` (AF_XDP) and `sockets`/`fanout` (AF_PACKET), in a file and a
/// port spec; a key of one backend given to another is refused by name.
#[test]
fn multi_queue_keys_parse_and_are_refused_where_they_do_not_belong() {
    assert_eq!(parse_queues("0-3"), Ok((0, 4)));
    assert_eq!(parse_queues("2"), Ok((2, 1)));
    assert_eq!(parse_queues(" 4 - 5 "), Ok((4, 2)));
    for bad in ["3-1", "a-b", "", "0-64", "1,2"] {
        assert!(parse_queues(bad).is_err(), "{bad}");
    }
    let Backend::AfXdp(x) = parse_port_spec("af_xdp:veth0,queues=0-3").unwrap() else { panic!() };
    assert_eq!((x.queue, x.queues), (0, 4));
    let Backend::AfXdp(x) = parse_port_spec("af_xdp:veth0,queues=2").unwrap() else { panic!() };
    assert_eq!((x.queue, x.queues, Backend::AfXdp(x.clone()).lanes()), (2, 1, 1));
    let Backend::AfXdp(x) = parse_port_spec("af_xdp:veth0,queue=3").unwrap() else { panic!() };
    assert_eq!((x.queue, x.queues), (3, 1));
    let Backend::AfPacket(p) = parse_port_spec("af_packet:eth1,sockets=4,fanout=queue").unwrap() else { panic!() };
    assert_eq!((p.sockets, p.fanout, Backend::AfPacket(p.clone()).lanes()), (4, Fanout::Queue, 4));
    let Backend::AfPacket(p) = parse_port_spec("af_packet:eth1").unwrap() else { panic!() };
    assert_eq!((p.sockets, p.fanout), (1, Fanout::Hash));
    for (spec, want) in [
        ("af_xdp:veth0,queue=1,queues=0-3", "port.queues: give `queue` (one queue) or `queues`"),
        ("af_xdp:veth0,queues=3-0", "port.queues: `3-0`: the range ends before it starts"),
        ("af_xdp:veth0,sockets=2", "port.sockets: is not a key of backend \"af_xdp\""),
        ("af_packet:eth1,queues=0-3", "port.queues: is not a key of backend \"af_packet\""),
        ("af_packet:eth1,queue=1", "port.queue: is not a key of backend \"af_packet\""),
        ("af_packet:eth1,sockets=0", "port.sockets: 0 is outside 1-64"),
        ("af_packet:eth1,fanout=rss", "port.fanout: `rss`: expected hash, cpu, queue or eaxc"),
        ("af_packet:eth1,fanout=eaxc", "port.fanout: spreads frames over a group of sockets, and with sockets = 1"),
        ("udp:0.0.0.0:5000,10.0.0.1:5000,fanout=hash", "port.fanout: is not a key of backend \"udp\""),
    ] {
        let e = parse_port_spec(spec).unwrap_err().to_string();
        assert!(e.contains(want), "{spec}: {e}");
    }
    let e = bad(("backend = \"pcap\"\ninput", "backend = \"pcap\"\nqueues = \"0-1\"\ninput"));
    assert_eq!(e.to_string(), "du.queues: is not a key of backend \"pcap\"");
}

#[test]
fn a_key_twice_in_a_translator_config_is_refused() {
    let e = bad(("config = { in_width = 8, out_width = 12 }", "config = { in_width = 8, out_width = 12, map = { x = 1 }, \"map.x\" = 2 }"));
    assert_eq!(e.key, "translator[0].config.map.x", "{e}");
    assert!(e.why.contains("given twice"), "{e}");
}

#[test]
fn a_chain_an_earlier_chain_hides_is_refused() {
    let extra = |sel: &str| format!("{GOOD}\n[[chain]]\nselect = \"{sel}\"\ntranslators = [\"pass\"]\n");
    for hidden in ["dir=dl,plane=u", "dir=dl,plane=u,eaxc=0x1001", "dir=dl,plane=u,vlan=2,eaxc=0x1000/0xf000"] {
        let e = GatewayConfig::from_toml(&extra(hidden)).unwrap_err();
        assert_eq!(e.key, "chain[1].select", "{hidden}: {e}");
        assert!(e.why.contains("chain[0]"), "{e}");
    }
    for distinct in ["dir=ul", "dir=dl,plane=c", "plane=u", "dir=dl"] {
        assert!(GatewayConfig::from_toml(&extra(distinct)).is_ok(), "{distinct}");
    }
    // eaxc masks: 0x1000/0xf000 first hides 0x1234, not the other way round.
    let two = |a: &str, b: &str| {
        GOOD.replace("select = \"dir=dl,plane=u\"", &format!("select = \"{a}\"")) + &format!("\n[[chain]]\nselect = \"{b}\"\ntranslators = [\"pass\"]\n")
    };
    assert!(GatewayConfig::from_toml(&two("eaxc=0x1000/0xf000", "eaxc=0x1234")).is_err());
    assert!(GatewayConfig::from_toml(&two("eaxc=0x1234", "eaxc=0x1000/0xf000")).is_ok());
}

#[test]
fn cores_must_be_ones_the_process_may_use() {
    let c = GatewayConfig::from_toml(GOOD).unwrap();
    assert!(c.check_cores(&[0, 1]).is_ok());
    let e = c.check_cores(&[0]).unwrap_err();
    assert_eq!(e.key, "pipeline.cores[1]", "{e}");
}

/// What best-effort pinning and shared worker cores will do is said, with
/// the key (`run --check` printed "ok" and nothing else for both).
#[test]
fn best_effort_cores_and_shared_worker_cores_are_warned_of() {
    let c = GatewayConfig::from_toml(&GOOD.replace("cores = [0, 1]", "pin = \"best-effort\"\n[pipeline.dl]\nworker_cores = [1000, 1]")).unwrap();
    assert!(c.check_cores(&[0, 1]).is_ok(), "best-effort is not refused");
    let w = c.pipeline.core_warnings(&[0, 1]);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].starts_with("pipeline.dl.worker_cores[0]: core 1000 ") && w[0].contains("unpinned"), "{w:?}");
    let c = GatewayConfig::from_toml(&GOOD.replace("cores = [0, 1]", "cores = [0, 0]")).unwrap();
    let w = c.pipeline.core_warnings(&[0, 1]);
    assert_eq!(w, ["pipeline.cores: core 0 is given to 2 workers of each direction: they share it"], "once, for the shared list");
    assert!(GatewayConfig::from_toml(GOOD).unwrap().pipeline.core_warnings(&[0, 1]).is_empty());
}

/// A canary core a worker also runs on is warned of; under best-effort an
/// unusable one is too, and under strict it is refused.
#[test]
fn canary_cores_are_checked_like_worker_cores() {
    let with = |pin: &str, cores: &str| GatewayConfig::from_toml(&format!("{}\n[control]\nlisten = \"127.0.0.1:0\"\ncanary_cores = {cores}\n", GOOD.replace("cores = [0, 1]", &format!("cores = [0, 1]{pin}")))).unwrap();
    let c = with("", "[1]");
    assert_eq!(c.core_warnings(&[0, 1, 2]), ["control.canary_cores[0]: core 1 also runs a worker: a canary's shadow work would take that worker's time"]);
    assert!(with("", "[2]").core_warnings(&[0, 1, 2]).is_empty());
    assert_eq!(with("", "[2]").check_cores(&[0, 1]).unwrap_err().key, "control.canary_cores[0]");
    let c = with("\npin = \"best-effort\"", "[2]");
    assert!(c.check_cores(&[0, 1]).is_ok(), "best-effort is not refused");
    let w = c.core_warnings(&[0, 1]);
    assert!(w.len() == 1 && w[0].starts_with("control.canary_cores[0]: core 2 ") && w[0].contains("unpinned"), "{w:?}");
}

/// A key given twice, or of the wrong type, is named (the error said only
/// "line 69: duplicate key", at the table's first line, or "line 69:
/// invalid type"); keys of two `[[translator]]` tables are not twice.
#[test]
fn duplicate_and_mistyped_keys_are_named() {
    let twice = GOOD.replace("workers = 2", "workers = 2\nworkers = 3");
    let line = |t: &str, pat: &str| t.lines().position(|l| l == pat).unwrap() + 1;
    let e = GatewayConfig::from_toml(&twice).unwrap_err();
    assert_eq!((e.key.clone(), e.why.clone()), (format!("line {}", line(&twice, "workers = 3")), format!("duplicate key `workers` (first given on line {})", line(&twice, "workers = 2"))));
    let typed = GOOD.replace("workers = 2", "workers = \"two\"");
    let e = GatewayConfig::from_toml(&typed).unwrap_err();
    assert_eq!(e.key, format!("line {} (pipeline.workers)", line(&typed, "workers = \"two\"")), "{e}");
    assert!(GOOD.matches("[[translator]]").count() >= 2, "the fixture has two translator tables");
    assert!(GatewayConfig::from_toml(GOOD).is_ok());
}

#[test]
fn capture_files_that_clash_are_refused_naming_the_keys() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.pcap");
    std::fs::write(&input, b"x").unwrap();
    let d = dir.path().display();
    let with = |du_out: &str, ru_out: &str| {
        GOOD.replace("input = \"captures/du.pcap\"", &format!("input = \"{d}/in.pcap\"\noutput = \"{du_out}\""))
            .replace("output = \"out.pcap\"", &format!("output = \"{ru_out}\""))
    };
    let ok = GatewayConfig::from_toml(&with(&format!("{d}/a.pcap"), &format!("{d}/b.pcap"))).unwrap();
    assert!(ok.check_files().is_ok());
    for (du_out, ru_out, key, other) in [
        (format!("{d}/a.pcap"), format!("{d}/in.pcap"), "ru.output", "du.input"),
        (format!("{d}/./in.pcap"), format!("{d}/b.pcap"), "du.output", "du.input"),
        (format!("{d}/a.pcap"), format!("{d}/a.pcap"), "ru.output", "du.output"),
    ] {
        let e = GatewayConfig::from_toml(&with(&du_out, &ru_out)).unwrap().check_files().unwrap_err();
        assert_eq!(e.key, key, "{e}");
        assert!(e.why.contains(other), "{e}");
    }
}
