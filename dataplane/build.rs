//! Links the `pcscf-dp` binary and the examples with their segments on
//! 2 MiB boundaries, so that `hugetext::remap` can move their code onto
//! huge pages at start-up (docs/config.md, `huge_text`).
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        for kind in ["bins", "examples"] {
            println!("cargo:rustc-link-arg-{kind}=-Wl,-z,max-page-size=0x200000");
            println!("cargo:rustc-link-arg-{kind}=-Wl,-z,separate-loadable-segments");
        }
    }
}
