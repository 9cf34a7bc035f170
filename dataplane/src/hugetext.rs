//! Moving the executable's code onto 2 MiB pages.
//!
//! A worker runs a few hundred kilobytes of code in a tight loop. Mapped
//! from the page cache in 4 KiB pages, that code needs a hundred-odd TLB
//! entries, and how well the CPU's TLB covers it depends on where the
//! kernel happened to put the file's pages (physically contiguous runs
//! can share an entry on some CPUs; scattered ones cannot). The same
//! binary then runs at different speeds from copy to copy and after the
//! page cache is dropped (BENCHMARKS.md, seventh session). Copying the code
//! into an anonymous region that transparent huge pages back, and moving
//! that region over the original with one `mremap`, makes the code's
//! mapping one or two TLB entries wherever the file lies.
//!
//! The executable must be linked with its segments on 2 MiB boundaries
//! (`-z max-page-size=0x200000 -z separate-loadable-segments`, which the
//! `dataplane` build script passes to its binaries); otherwise the code's
//! mapping does not start on a huge-page boundary and [`remap`] returns
//! [`HugeTextError::NotAligned`] without changing anything. Every failure
//! leaves the original mapping in place: the program runs as before.
//!
//! Call it once, early, before threads start (the code being replaced is
//! the code that replaces it: the copy is byte-identical and the switch is
//! a single system call, so a thread executing it meanwhile would be
//! unaffected, but there is no reason to race it).

use std::fmt;

/// 2 MiB: the x86-64 PMD page size that transparent huge pages use.
pub const HUGE: usize = 2 << 20;

/// What [`remap`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HugeText {
    /// Start of the code mapping (unchanged).
    pub start: usize,
    /// Bytes of code copied.
    pub code_bytes: usize,
    /// Bytes of the new mapping (the code rounded up to 2 MiB).
    pub mapped_bytes: usize,
    /// Of those, bytes the kernel reports backed by huge pages
    /// (`AnonHugePages` in `/proc/self/smaps`); 0 when THP is off.
    pub huge_bytes: usize,
}

/// Why the code stayed where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HugeTextError {
    /// Not Linux, or `/proc/self/maps` unreadable.
    Unsupported(String),
    /// No executable mapping holds this function.
    NotFound,
    /// The code mapping does not start on a 2 MiB boundary (the binary was
    /// linked without 2 MiB segment alignment).
    NotAligned {
        /// Where the code mapping starts.
        start: usize,
    },
    /// Something else is mapped inside the 2 MiB-rounded range.
    Overlap {
        /// Start of the other mapping.
        start: usize,
        /// Its end.
        end: usize,
    },
    /// A system call failed.
    Sys {
        /// The call.
        call: &'static str,
        /// Its errno.
        errno: i32,
    },
}

impl fmt::Display for HugeTextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HugeTextError::Unsupported(why) => write!(f, "not supported here: {why}"),
            HugeTextError::NotFound => write!(f, "no executable mapping holds the code"),
            HugeTextError::NotAligned { start } => write!(
                f,
                "code mapping at {start:#x} is not 2 MiB-aligned (binary not linked with -z max-page-size=0x200000)"
            ),
            HugeTextError::Overlap { start, end } => write!(
                f,
                "another mapping lies at {start:#x}-{end:#x}, inside the code's 2 MiB-rounded range"
            ),
            HugeTextError::Sys { call, errno } => write!(
                f,
                "{call} failed: {}",
                std::io::Error::from_raw_os_error(*errno)
            ),
        }
    }
}

impl std::error::Error for HugeTextError {}

/// One line of `/proc/self/maps`: start, end, permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Map {
    start: usize,
    end: usize,
    exec: bool,
}

fn parse_maps(text: &str) -> Vec<Map> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_ascii_whitespace();
            let range = it.next()?;
            let perms = it.next()?;
            let (a, b) = range.split_once('-')?;
            Some(Map {
                start: usize::from_str_radix(a, 16).ok()?,
                end: usize::from_str_radix(b, 16).ok()?,
                exec: perms.as_bytes().get(2) == Some(&b'x'),
            })
        })
        .collect()
}

/// Decides what to remap, from the maps and an address inside the code:
/// `(start, code_end, rounded_end)`.
fn plan(maps: &[Map], pc: usize) -> Result<(usize, usize, usize), HugeTextError> {
    let code = maps
        .iter()
        .find(|m| m.exec && m.start <= pc && pc < m.end)
        .ok_or(HugeTextError::NotFound)?;
    if code.start % HUGE != 0 {
        return Err(HugeTextError::NotAligned { start: code.start });
    }
    let end = code.end.div_ceil(HUGE) * HUGE;
    if let Some(o) = maps
        .iter()
        .find(|m| *m != code && m.start < end && m.end > code.start)
    {
        return Err(HugeTextError::Overlap {
            start: o.start,
            end: o.end,
        });
    }
    Ok((code.start, code.end, end))
}

/// Sums `AnonHugePages` of the smaps entries inside `[start, end)`.
fn huge_bytes_in(smaps: &str, start: usize, end: usize) -> usize {
    let mut inside = false;
    let mut total = 0usize;
    for l in smaps.lines() {
        let first = l.split_ascii_whitespace().next().unwrap_or("");
        if first.ends_with(':') {
            if !inside {
                continue;
            }
            if let Some(v) = l.strip_prefix("AnonHugePages:") {
                let kb: usize = v.trim().trim_end_matches("kB").trim().parse().unwrap_or(0);
                total += kb * 1024;
            }
        } else if let Some(m) = parse_maps(l).first() {
            inside = m.start >= start && m.end <= end;
        }
    }
    total
}

/// Moves the code mapping that holds this function onto an anonymous
/// region that asks for transparent huge pages (see the module doc).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub fn remap() -> Result<HugeText, HugeTextError> {
    let maps = std::fs::read_to_string("/proc/self/maps")
        .map_err(|e| HugeTextError::Unsupported(format!("/proc/self/maps: {e}")))?;
    let pc = remap as fn() -> Result<HugeText, HugeTextError> as usize;
    let (start, code_end, end) = plan(&parse_maps(&maps), pc)?;
    let len = end - start;
    let errno = || std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    // SAFETY: the new region is ours alone until it replaces the code
    // mapping; the copy reads the readable code mapping within its bounds;
    // the final mremap swaps in byte-identical, executable contents at the
    // same addresses in one system call, and `plan` checked that nothing
    // else is mapped in the range it covers.
    unsafe {
        let raw = libc::mmap(
            std::ptr::null_mut(),
            len + HUGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if raw == libc::MAP_FAILED {
            return Err(HugeTextError::Sys {
                call: "mmap",
                errno: errno(),
            });
        }
        let raw = raw as usize;
        let new = raw.div_ceil(HUGE) * HUGE;
        // Trim to the aligned window.
        if new > raw {
            libc::munmap(raw as *mut libc::c_void, new - raw);
        }
        let tail = raw + len + HUGE - (new + len);
        if tail > 0 {
            libc::munmap((new + len) as *mut libc::c_void, tail);
        }
        let fail = |call, e| {
            libc::munmap(new as *mut libc::c_void, len);
            Err(HugeTextError::Sys { call, errno: e })
        };
        if libc::madvise(new as *mut libc::c_void, len, libc::MADV_HUGEPAGE) != 0 {
            return fail("madvise(MADV_HUGEPAGE)", errno());
        }
        std::ptr::copy_nonoverlapping(start as *const u8, new as *mut u8, code_end - start);
        if libc::mprotect(new as *mut libc::c_void, len, libc::PROT_READ | libc::PROT_EXEC) != 0 {
            return fail("mprotect", errno());
        }
        let got = libc::mremap(
            new as *mut libc::c_void,
            len,
            len,
            libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
            start as *mut libc::c_void,
        );
        if got as usize != start {
            return fail("mremap", errno());
        }
    }
    let huge_bytes = std::fs::read_to_string("/proc/self/smaps")
        .map(|s| huge_bytes_in(&s, start, end))
        .unwrap_or(0);
    Ok(HugeText {
        start,
        code_bytes: code_end - start,
        mapped_bytes: len,
        huge_bytes,
    })
}

/// [`remap`] once per process: later calls return the first call's result
/// (the code has moved already, or it could not move).
pub fn remap_once() -> Result<HugeText, HugeTextError> {
    static DONE: std::sync::OnceLock<Result<HugeText, HugeTextError>> = std::sync::OnceLock::new();
    DONE.get_or_init(remap).clone()
}

/// One line on what [`remap_once`] did, for start-up messages and reports.
pub fn describe(r: &Result<HugeText, HugeTextError>) -> String {
    match r {
        Ok(h) if h.huge_bytes > 0 => format!(
            "code ({} KiB) on huge pages ({} KiB backed)",
            h.code_bytes / 1024,
            h.huge_bytes / 1024
        ),
        Ok(h) => format!(
            "code ({} KiB) moved, but the kernel gave no huge pages (transparent_hugepage off?)",
            h.code_bytes / 1024
        ),
        Err(e) => format!("code stays on 4 KiB pages: {e}"),
    }
}

/// Not Linux: nothing to do.
#[cfg(not(target_os = "linux"))]
pub fn remap() -> Result<HugeText, HugeTextError> {
    Err(HugeTextError::Unsupported("not Linux".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: usize = HUGE;

    fn map(start: usize, end: usize, exec: bool) -> Map {
        Map { start, end, exec }
    }

    #[test]
    fn parses_proc_maps_lines() {
        let t = "55d0a0000000-55d0a0076000 r--p 00000000 fe:01 123 /bin/x\n\
                 55d0a0200000-55d0a0277000 r-xp 00200000 fe:01 123 /bin/x\n\
                 7ffc1000-7ffc2000 rw-p 00000000 00:00 0 [stack]\n";
        let m = parse_maps(t);
        assert_eq!(m.len(), 3);
        assert_eq!(m[1], map(0x55d0a0200000, 0x55d0a0277000, true));
        assert!(!m[0].exec && !m[2].exec);
    }

    #[test]
    fn plans_the_rounded_range_of_an_aligned_code_mapping() {
        let maps = [
            map(0, M, false),
            map(M, M + 0x76000, true),
            map(3 * M, 3 * M + 0x4000, false),
        ];
        assert_eq!(plan(&maps, M + 0x100), Ok((M, M + 0x76000, 2 * M)));
        // Code of more than 2 MiB rounds up to two pages.
        let maps = [map(M, 2 * M + 0x1000, true), map(4 * M, 5 * M, false)];
        assert_eq!(plan(&maps, M), Ok((M, 2 * M + 0x1000, 3 * M)));
    }

    #[test]
    fn refuses_unaligned_overlapping_or_missing_code() {
        let unaligned = [map(0x16000, 0x8d000, true)];
        assert_eq!(
            plan(&unaligned, 0x20000),
            Err(HugeTextError::NotAligned { start: 0x16000 })
        );
        let crowded = [map(M, M + 0x76000, true), map(M + 0x80000, M + 0x90000, false)];
        assert_eq!(
            plan(&crowded, M + 8),
            Err(HugeTextError::Overlap {
                start: M + 0x80000,
                end: M + 0x90000
            })
        );
        assert_eq!(plan(&crowded, 5), Err(HugeTextError::NotFound));
        // A readable but not executable mapping holding the address is not code.
        assert_eq!(plan(&[map(0, M, false)], 8), Err(HugeTextError::NotFound));
    }

    #[test]
    fn sums_anon_huge_pages_inside_the_range_only() {
        let s = "00200000-00400000 r-xp 00000000 00:00 0\n\
                 Size:               2048 kB\n\
                 AnonHugePages:      2048 kB\n\
                 00400000-00600000 rw-p 00000000 00:00 0\n\
                 AnonHugePages:      2048 kB\n";
        assert_eq!(huge_bytes_in(s, 0x200000, 0x400000), 2 << 20);
        assert_eq!(huge_bytes_in(s, 0x200000, 0x600000), 4 << 20);
        assert_eq!(huge_bytes_in(s, 0, 0x100000), 0);
    }
}
