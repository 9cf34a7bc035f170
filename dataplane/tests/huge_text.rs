//! The `pcscf-dp` binary is linked with 2 MiB segment alignment (build
//! script) and moves its code onto huge pages at start-up
//! (`dataplane::hugetext`). Run the demo and read what its report says: the
//! move must have happened, and unless the kernel's transparent huge pages
//! are off, the kernel must back the code with huge pages.

use std::process::Command;

#[test]
fn demo_binary_runs_with_its_code_on_huge_pages() {
    let out = Command::new(env!("CARGO_BIN_EXE_pcscf-dp"))
        .args(["demo", "--ues", "8", "--seconds", "0.3", "--json"])
        .output()
        .expect("run pcscf-dp demo");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let d = &v["dataplane"];
    let pages = d["code_pages"].as_str().expect("code_pages");
    let huge = d["code_huge_page_bytes"].as_u64().expect("code_huge_page_bytes");
    // `describe` starts with "code (N KiB)" only when the code moved.
    assert!(pages.starts_with("code ("), "the code did not move: {pages}");
    let thp = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
    if thp.contains("[never]") || thp.is_empty() {
        assert_eq!(huge, 0, "{pages}");
    } else {
        assert!(
            huge >= 2 << 20,
            "THP is {thp:?} but no huge page backs the code: {pages}"
        );
    }
    // And the demo still did its job from the moved code.
    assert!(d["asserted"].as_u64().unwrap_or(0) > 0, "{v}");
}
