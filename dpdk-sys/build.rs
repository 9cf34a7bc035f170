//! Build script for `dpdk-sys`.
//!
//! Without the `link` feature it does nothing at all: no pkg-config, no C
//! compiler, no bindgen, so a default `cargo build --workspace` works on a
//! machine without DPDK.
//!
//! With `link` it:
//! 1. finds DPDK with pkg-config (`libdpdk`), pinned to the one version range
//!    below — the only place in the tree that names a DPDK version;
//! 2. compiles `shim/shim.c` with exactly the cflags pkg-config gives (the
//!    `-march` there is DPDK's own build baseline, not ours: we add none);
//! 3. runs bindgen over `shim/shim.h` with the same flags;
//! 4. links what `pkg-config --libs libdpdk` names (no library list here).
//!
//! A missing DPDK fails the build with a message saying how to install it. It
//! never falls back to stubs.

/// The DPDK release this tree is written against: Debian 12's 22.11 LTS.
/// Lower bound inclusive, upper bound exclusive.
#[cfg(feature = "link")]
const DPDK_VERSION: (&str, &str) = ("22.11", "22.12");

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "link")]
    link::main();
}

#[cfg(feature = "link")]
mod link {
    use super::DPDK_VERSION;
    use std::env;
    use std::path::PathBuf;
    use std::process::Command;

    const INSTALL_HINT: &str = "\
The `dpdk` feature needs DPDK's development files (DPDK 22.11, pkg-config module `libdpdk`),
a C compiler, and libclang for bindgen. On Debian 12 / Ubuntu 24.04:

    apt-get update && apt-get install -y dpdk dpdk-dev libdpdk-dev pkg-config clang libclang-dev

For a DPDK built from source, point PKG_CONFIG_PATH at its lib/<arch>/pkgconfig.
To build without DPDK, leave out `--features dpdk` (the mem, pcap and af_packet ports need nothing).
See docs/dpdk.md.";

    fn fail(what: &str) -> ! {
        eprintln!("\nerror: dpdk-sys: {what}\n\n{INSTALL_HINT}\n");
        std::process::exit(1);
    }

    pub fn main() {
        println!("cargo:rerun-if-changed=shim/shim.c");
        println!("cargo:rerun-if-changed=shim/shim.h");
        println!("cargo:rerun-if-env-changed=PCSCF_DPDK_XLTO");

        let (lo, hi) = DPDK_VERSION;
        let lib = match pkg_config::Config::new().range_version(lo..hi).probe("libdpdk") {
            Ok(lib) => lib,
            Err(e) => fail(&format!("DPDK >= {lo}, < {hi} not found by pkg-config:\n{e}")),
        };
        println!("cargo:rustc-env=PCSCF_DPDK_VERSION={}", lib.version);
        println!("cargo:version={}", lib.version);

        // The raw cflags: the pkg-config crate keeps only -I and -D, but DPDK's
        // also carry `-include rte_config.h` and its ISA baseline, which the
        // headers need.
        let pkg_config = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".into());
        let out = Command::new(&pkg_config)
            .args(["--cflags", "libdpdk"])
            .output()
            .unwrap_or_else(|e| fail(&format!("running {pkg_config} --cflags libdpdk: {e}")));
        if !out.status.success() {
            fail(&format!(
                "{pkg_config} --cflags libdpdk failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let cflags: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect();

        // The shim.
        let mut cc = cc::Build::new();
        cc.file("shim/shim.c").warnings(true);
        let mut it = cflags.iter();
        while let Some(f) = it.next() {
            if f == "-include" {
                if let Some(h) = it.next() {
                    cc.flag("-include").flag(h);
                }
            } else {
                cc.flag(f);
            }
        }
        // Opt-in cross-language LTO: emit LLVM bitcode for the shim so that a
        // Rust build with `-Clinker-plugin-lto` can inline it (needs CC=clang;
        // see docs/dpdk.md for when this applies and what it measured).
        if env::var_os("PCSCF_DPDK_XLTO").is_some_and(|v| v == "1") {
            cc.flag("-flto=thin");
        }
        cc.compile("pcscf_dpdk_shim");

        // The bindings.
        let mut b = bindgen::Builder::default()
            .header("shim/shim.h")
            .clang_args(cflags.iter())
            .clang_arg("-DPCSCF_BINDGEN")
            .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
            .use_core()
            .ctypes_prefix("::libc")
            .generate_comments(false)
            .layout_tests(true)
            .derive_default(true)
            .derive_debug(false)
            .default_enum_style(bindgen::EnumVariation::ModuleConsts)
            .prepend_enum_name(false);
        for f in [
            "pcscf_.*",
            "rte_eal_.*",
            "rte_dev_probe",
            "rte_strerror",
            "rte_version",
            "rte_thread_(un)?register",
            "rte_lcore_count",
            "rte_socket_id",
            "rte_lcore_to_socket_id",
            "rte_get_main_lcore",
            "rte_eth_dev_.*",
            "rte_eth_stats_.*",
            "rte_eth_xstats_.*",
            "rte_eth_macaddr_get",
            "rte_eth_link_get_nowait",
            "rte_eth_link_speed_to_str",
            "rte_eth_promiscuous_enable",
            "rte_eth_rx_queue_setup",
            "rte_eth_tx_queue_setup",
            "rte_eth_find_next_owned_by",
            "rte_pktmbuf_pool_create",
            "rte_mempool_free",
            "rte_mempool_avail_count",
            "rte_mempool_in_use_count",
        ] {
            b = b.allowlist_function(f);
        }
        for v in [
            "RTE_ETH_RSS_.*",
            "RTE_ETH_RX_OFFLOAD_.*",
            "RTE_ETH_TX_OFFLOAD_.*",
            "RTE_MBUF_F_.*",
            "RTE_PKTMBUF_HEADROOM",
            "RTE_MBUF_DEFAULT_BUF_SIZE",
            "RTE_MAX_LCORE",
            "RTE_MAX_ETHPORTS",
            "RTE_ETH_NAME_MAX_LEN",
            "RTE_ETH_LINK_.*",
            "RTE_ETHER_.*",
            "RTE_MEMPOOL_CACHE_MAX_SIZE",
            "LCORE_ID_ANY",
            "SOCKET_ID_ANY",
            "RTE_VER_.*",
        ] {
            b = b.allowlist_var(v);
        }
        for t in ["rte_eth_rx_mq_mode", "rte_eth_tx_mq_mode", "pcscf_.*"] {
            b = b.allowlist_type(t);
        }
        let bindings = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || b.generate())) {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => fail(&format!("bindgen failed on shim/shim.h: {e}")),
            Err(_) => fail("bindgen panicked (is libclang installed? apt-get install libclang-dev)"),
        };
        let out = PathBuf::from(env::var("OUT_DIR").unwrap_or_else(|_| fail("OUT_DIR not set")));
        if let Err(e) = bindings.write_to_file(out.join("bindings.rs")) {
            fail(&format!("writing bindings: {e}"));
        }
    }
}
