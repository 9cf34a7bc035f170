//! Links the examples and benches with their segments on 2 MiB boundaries,
//! so that `dataplane::hugetext::remap` can move their code onto huge pages.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        for kind in ["examples", "benches"] {
            println!("cargo:rustc-link-arg-{kind}=-Wl,-z,max-page-size=0x200000");
            println!("cargo:rustc-link-arg-{kind}=-Wl,-z,separate-loadable-segments");
        }
    }
}
