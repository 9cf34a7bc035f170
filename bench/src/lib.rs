//! Qualification harness helpers shared by the benches.

/// Moves the bench program's code onto 2 MiB pages, as `pcscf-dp run` does
/// at start-up (`dataplane::hugetext`), unless `PCSCF_HUGE_TEXT=0` (for a
/// profiler that names functions by the mapped file, or to see the effect
/// of the page cache's placement). Returns what happened, in words.
pub fn code_on_huge_pages() -> String {
    if std::env::var("PCSCF_HUGE_TEXT").as_deref() == Ok("0") {
        return "code left where the loader mapped it (PCSCF_HUGE_TEXT=0)".into();
    }
    dataplane::hugetext::describe(&dataplane::hugetext::remap_once())
}
