//! Classic pcap files (libpcap format, LINKTYPE_ETHERNET): a reader and a
//! writer, used by the `pcap` port and by the test and ESP tools.
//!
//! Must never: panic on a malformed file (every problem is a [`PcapError`]),
//! or allocate per frame beyond the frame itself.

use std::io::{Read, Write};

/// LINKTYPE_ETHERNET.
pub const LINKTYPE_ETHERNET: u32 = 1;
const MAGIC_US: u32 = 0xa1b2_c3d4;
const MAGIC_NS: u32 = 0xa1b2_3c4d;
/// Largest captured frame accepted by the reader.
pub const MAX_SNAPLEN: u32 = 262_144;

/// A problem reading or writing a pcap file.
#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    /// I/O error.
    #[error("pcap I/O: {0}")]
    Io(#[from] std::io::Error),
    /// Not a pcap file (bad magic).
    #[error("not a pcap file (magic {0:#010x})")]
    BadMagic(u32),
    /// A link type other than Ethernet.
    #[error("unsupported pcap link type {0} (only Ethernet, 1)")]
    LinkType(u32),
    /// A record header is cut short or claims an absurd length.
    #[error("truncated or corrupt pcap record {index}")]
    Corrupt {
        /// Zero-based record number.
        index: usize,
    },
}

/// One captured frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcapRecord {
    /// Timestamp, nanoseconds since the epoch.
    pub ts_ns: u64,
    /// Frame bytes.
    pub data: Vec<u8>,
}

/// Read every record of a pcap file held in memory.
pub fn parse(bytes: &[u8]) -> Result<Vec<PcapRecord>, PcapError> {
    let hdr = bytes.get(..24).ok_or(PcapError::Corrupt { index: 0 })?;
    let m_le = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
    let m_be = u32::from_be_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
    let (le, nanos) = match (m_le, m_be) {
        (MAGIC_US, _) => (true, false),
        (MAGIC_NS, _) => (true, true),
        (_, MAGIC_US) => (false, false),
        (_, MAGIC_NS) => (false, true),
        _ => return Err(PcapError::BadMagic(m_le)),
    };
    let rd = |b: &[u8]| {
        let a = [b[0], b[1], b[2], b[3]];
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let linktype = rd(&hdr[20..24]);
    if linktype != LINKTYPE_ETHERNET {
        return Err(PcapError::LinkType(linktype));
    }
    let mut out = Vec::new();
    let mut off = 24;
    while off < bytes.len() {
        let index = out.len();
        let rh = bytes.get(off..off + 16).ok_or(PcapError::Corrupt { index })?;
        let (sec, frac, incl) = (rd(&rh[0..4]), rd(&rh[4..8]), rd(&rh[8..12]));
        if incl > MAX_SNAPLEN {
            return Err(PcapError::Corrupt { index });
        }
        let start = off + 16;
        let data = bytes
            .get(start..start + incl as usize)
            .ok_or(PcapError::Corrupt { index })?;
        let ts_ns = u64::from(sec) * 1_000_000_000
            + if nanos {
                u64::from(frac)
            } else {
                u64::from(frac) * 1000
            };
        out.push(PcapRecord {
            ts_ns,
            data: data.to_vec(),
        });
        off = start + incl as usize;
    }
    Ok(out)
}

/// Read every record of a pcap file.
pub fn read_file(path: &std::path::Path) -> Result<Vec<PcapRecord>, PcapError> {
    let mut v = Vec::new();
    std::fs::File::open(path)?.read_to_end(&mut v)?;
    parse(&v)
}

/// Writes frames to a pcap file (microsecond timestamps, little endian).
pub struct PcapWriter<W: Write> {
    w: W,
}

impl<W: Write> PcapWriter<W> {
    /// Write the file header.
    pub fn new(mut w: W) -> Result<Self, PcapError> {
        let mut h = [0u8; 24];
        h[0..4].copy_from_slice(&MAGIC_US.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        h[16..20].copy_from_slice(&65535u32.to_le_bytes());
        h[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        w.write_all(&h)?;
        Ok(PcapWriter { w })
    }

    /// Append one frame with the given timestamp.
    pub fn write(&mut self, ts_ns: u64, frame: &[u8]) -> Result<(), PcapError> {
        let mut h = [0u8; 16];
        let sec = (ts_ns / 1_000_000_000) as u32;
        let usec = ((ts_ns % 1_000_000_000) / 1000) as u32;
        let len = frame.len() as u32;
        h[0..4].copy_from_slice(&sec.to_le_bytes());
        h[4..8].copy_from_slice(&usec.to_le_bytes());
        h[8..12].copy_from_slice(&len.to_le_bytes());
        h[12..16].copy_from_slice(&len.to_le_bytes());
        self.w.write_all(&h)?;
        self.w.write_all(frame)?;
        Ok(())
    }

    /// Flush the underlying writer.
    pub fn flush(&mut self) -> Result<(), PcapError> {
        self.w.flush()?;
        Ok(())
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_parse_round_trips() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        w.write(1_500_000_000, b"abc").unwrap();
        w.write(2_000_001_000, &[0u8; 60]).unwrap();
        let v = parse(&w.into_inner()).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].data, b"abc");
        assert_eq!(v[0].ts_ns, 1_500_000_000);
        assert_eq!(v[1].data.len(), 60);
    }

    #[test]
    fn corrupt_files_are_errors() {
        assert!(matches!(parse(b"short"), Err(PcapError::Corrupt { .. })));
        assert!(matches!(parse(&[0u8; 24]), Err(PcapError::BadMagic(_))));
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        w.write(0, b"abcdef").unwrap();
        let mut v = w.into_inner();
        v.truncate(v.len() - 2);
        assert!(matches!(parse(&v), Err(PcapError::Corrupt { index: 0 })));
        let mut bad = PcapWriter::new(Vec::new()).unwrap().into_inner();
        bad[20] = 113;
        assert!(matches!(parse(&bad), Err(PcapError::LinkType(113))));
    }
}
