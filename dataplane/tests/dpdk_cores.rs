//! Configured cores checked against the machine before the EAL starts
//! (feature `dpdk`; run by `.ci/dpdk-suite`): the fifth "bad input" case next
//! to the four in `dpdk_vdev.rs` (port not found, too few mbufs, more workers
//! than queues, a profile the NIC contradicts).
//!
//! `plan_cores` is driven with a fake list of online CPUs; the `pcscf-dp`
//! binary (built with `--features dpdk`) is run on configurations naming
//! cores this machine cannot give, and must exit non-zero with a message
//! naming the key and the core, without starting the EAL. The same check on
//! a non-DPDK (`pcap`) run comes last.
#![cfg(feature = "dpdk")]

use dataplane::config::Config;
use dataplane::dpdk_run::plan_cores;
use dataplane::profile::{self, Profile};
use std::path::{Path, PathBuf};
use std::process::Command;

fn ring_profile_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../hw-profiles/vdev-ring.toml")
}

fn ring_profile() -> Profile {
    profile::check(ring_profile_path()).unwrap_or_else(|e| panic!("{e}"))
}

/// A DPDK configuration over net_ring; `dataplane` is the `[dataplane]`
/// table's body.
fn dpdk_config(dataplane: &str) -> String {
    let prof = ring_profile_path();
    let prof = prof.display();
    format!(
        r#"
[dataplane]
{dataplane}

[access]
ipv4 = "10.77.0.1"
gateway_mac = "02:00:00:00:01:02"
[access.port]
backend = "dpdk"
profile = "{prof}"
devargs = "net_ring0"

[core]
ipv4 = "10.77.1.1"
gateway_mac = "02:00:00:00:02:02"
next_hop = "10.77.1.2:5060"
[core.port]
backend = "dpdk"
profile = "{prof}"
devargs = "net_ring1"

[[annex_n]]
ip = "10.77.0.2"
impi = "alice@ims.example"
impus = ["sip:alice@ims.example"]
"#
    )
}

fn cfg(dataplane: &str) -> Config {
    Config::from_toml("t.toml", &dpdk_config(dataplane)).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn plan_cores_with_a_fake_machine() {
    let p = ring_profile(); // control core 0, worker cores [1]
    let path = "hw-profiles/vdev-ring.toml";
    let online = [0usize, 1, 2, 3];
    // Nothing in the file: the profile's layout.
    assert_eq!(
        plan_cores(&cfg("workers = 1"), &p, path, Some(&online)),
        Ok((vec![1], 0))
    );
    // The file's cores win over the layout.
    assert_eq!(
        plan_cores(
            &cfg("workers = 2\ncores = [3, 2]\ncontrol_core = 1"),
            &p,
            path,
            Some(&online)
        ),
        Ok((vec![3, 2], 1))
    );
    // A core that is not online, named with its key.
    let e = plan_cores(&cfg("workers = 1\ncores = [5]"), &p, path, Some(&online)).unwrap_err();
    assert!(
        e.contains("`dataplane.cores`") && e.contains("core 5") && e.contains("0-3"),
        "{e}"
    );
    let e = plan_cores(&cfg("workers = 1\ncontrol_core = 9"), &p, path, Some(&online)).unwrap_err();
    assert!(
        e.contains("`dataplane.control_core`") && e.contains("core 9"),
        "{e}"
    );
    // The profile's own layout on a machine that lacks its cores.
    let e = plan_cores(&cfg("workers = 1"), &p, path, Some(&[0])).unwrap_err();
    assert!(
        e.contains("`layout.worker_cores of hw-profiles/vdev-ring.toml`") && e.contains("core 1"),
        "{e}"
    );
    let e = plan_cores(&cfg("workers = 1"), &p, path, Some(&[1, 2])).unwrap_err();
    assert!(
        e.contains("`layout.control_core of hw-profiles/vdev-ring.toml`") && e.contains("core 0"),
        "{e}"
    );
    // Workers twice on one core, or on the control core.
    let e = plan_cores(&cfg("workers = 2\ncores = [2, 2]"), &p, path, Some(&online)).unwrap_err();
    assert!(e.contains("core 2 is listed twice"), "{e}");
    let e = plan_cores(&cfg("workers = 1\ncontrol_core = 1"), &p, path, Some(&online)).unwrap_err();
    assert!(
        e.contains("layout.worker_cores of") && e.contains("core 1 is also the control core"),
        "{e}"
    );
    // More workers than the layout names, and no cores in the file.
    let e = plan_cores(&cfg("workers = 2"), &p, path, Some(&online)).unwrap_err();
    assert!(
        e.contains("`dataplane.workers` is 2") && e.contains("lists 1 core"),
        "{e}"
    );
    // Without a list of online CPUs only the plan is made.
    assert_eq!(
        plan_cores(&cfg("workers = 1\ncores = [4095]"), &p, path, None),
        Ok((vec![4095], 0))
    );
}

/// Run `pcscf-dp run` on `config` (written to a temporary file); returns the
/// exit status's success and stderr.
fn run_binary(name: &str, config: &str) -> (bool, String) {
    let dir = std::env::temp_dir().join(format!("pcscf-dpdk-cores-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pcscf-dp"))
        .args(["run", "--duration", "0.2", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_cores_exit_non_zero_before_the_eal() {
    let online = profile::online_cpus().expect("Linux reports its CPUs");
    let absent = online.last().copied().unwrap_or(0) + 1;
    let cases = [
        (
            "absent-worker",
            format!("workers = 1\ncores = [{absent}]"),
            vec![
                "`dataplane.cores`".to_owned(),
                format!("core {absent} is not an online CPU"),
            ],
        ),
        (
            "absent-control",
            format!("workers = 1\ncontrol_core = {absent}"),
            vec![
                "`dataplane.control_core`".to_owned(),
                format!("core {absent} is not an online CPU"),
            ],
        ),
        (
            "shared",
            format!("workers = 1\ncores = [{0}]\ncontrol_core = {0}", online[0]),
            vec![format!("core {} is also the control core", online[0])],
        ),
    ];
    for (name, dataplane, want) in cases {
        let (ok, err) = run_binary(name, &dpdk_config(&dataplane));
        assert!(!ok, "{name}: exited 0; stderr: {err}");
        for w in &want {
            assert!(err.contains(w.as_str()), "{name}: `{w}` not in: {err}");
        }
        // Refused before rte_eal_init: no EAL output.
        assert!(!err.contains("EAL:"), "{name}: the EAL started: {err}");
    }
    // Two workers on one core, every core otherwise fine.
    if online.len() >= 2 {
        let dataplane = format!(
            "workers = 2\ncores = [{1}, {1}]\ncontrol_core = {0}",
            online[0], online[1]
        );
        let (ok, err) = run_binary("dup", &dpdk_config(&dataplane));
        assert!(
            !ok && err.contains(&format!("core {} is listed twice", online[1])),
            "{err}"
        );
    }
}

#[test]
fn bad_cores_on_a_non_dpdk_run() {
    let online = profile::online_cpus().expect("Linux reports its CPUs");
    let absent = online.last().copied().unwrap_or(0) + 1;
    let dir = std::env::temp_dir().join(format!("pcscf-pcap-cores-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = |n: &str| dir.join(n).display().to_string();
    let config = format!(
        r#"
[dataplane]
workers = 1
cores = [{absent}]

[access]
ipv4 = "10.77.0.1"
gateway_mac = "02:00:00:00:01:02"
[access.port]
backend = "pcap"
output = "{}"

[core]
ipv4 = "10.77.1.1"
gateway_mac = "02:00:00:00:02:02"
next_hop = "10.77.1.2:5060"
[core.port]
backend = "pcap"
output = "{}"
"#,
        out("a.pcap"),
        out("c.pcap")
    );
    let (ok, err) = run_binary("pcap", &config);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!ok, "exited 0; stderr: {err}");
    assert!(
        err.contains("`dataplane.cores`") && err.contains(&format!("core {absent}")),
        "{err}"
    );
}
