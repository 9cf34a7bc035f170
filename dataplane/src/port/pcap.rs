//! `pcap` port: receive the frames of a pcap file, write what is sent to
//! another pcap file.
//!
//! For tests and offline qualification. Worker 0's queue replays the input;
//! other workers' queues receive nothing. All queues (the control thread's
//! included) append to one output file behind a mutex: this backend is not for
//! line-rate use, and says so.

use std::collections::VecDeque;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::{OpenedPort, PortError, PortInfo, PortQueue};
use crate::buf::PacketBuf;
use crate::pcapfile::{self, PcapWriter};

type SharedWriter = Arc<Mutex<Option<PcapWriter<BufWriter<File>>>>>;

/// One queue of a pcap port.
pub struct PcapQueue {
    input: VecDeque<Vec<u8>>,
    out: SharedWriter,
    ts_ns: u64,
}

/// Open a pcap port: `input` (optional) is replayed on worker 0's queue;
/// `output` (optional) receives every frame sent.
pub fn open(
    name: &str,
    mac: [u8; 6],
    input: Option<&Path>,
    output: Option<&Path>,
    workers: usize,
) -> Result<OpenedPort<PcapQueue>, PortError> {
    let frames: VecDeque<Vec<u8>> = match input {
        Some(p) => pcapfile::read_file(p)
            .map_err(|e| PortError::Config(format!("pcap port {name}: {}: {e}", p.display())))?
            .into_iter()
            .map(|r| r.data)
            .collect(),
        None => VecDeque::new(),
    };
    let writer = match output {
        Some(p) => {
            let f = File::create(p).map_err(|source| PortError::Io {
                what: format!("create {}", p.display()),
                source,
            })?;
            Some(
                PcapWriter::new(BufWriter::new(f))
                    .map_err(|e| PortError::Config(format!("pcap port {name}: {}: {e}", p.display())))?,
            )
        }
        None => None,
    };
    let out: SharedWriter = Arc::new(Mutex::new(writer));
    let mut queues = Vec::with_capacity(workers);
    let mut first = Some(frames);
    for _ in 0..workers.max(1) {
        queues.push(PcapQueue {
            input: first.take().unwrap_or_default(),
            out: out.clone(),
            ts_ns: 0,
        });
    }
    Ok(OpenedPort {
        info: PortInfo {
            name: name.to_string(),
            mac,
            mtu: 1500,
        },
        worker_queues: queues,
        control_queue: PcapQueue {
            input: VecDeque::new(),
            out,
            ts_ns: 0,
        },
    })
}

impl PcapQueue {
    /// Frames still waiting to be received.
    pub fn pending(&self) -> usize {
        self.input.len()
    }
}

impl PortQueue for PcapQueue {
    type Buf = PacketBuf;

    fn rx_burst(&mut self, out: &mut Vec<PacketBuf>, max: usize) -> usize {
        let mut n = 0;
        while n < max {
            let Some(f) = self.input.pop_front() else { break };
            // Frames larger than a buffer are cut to the buffer size; the
            // pipeline then sees inconsistent IP lengths and counts a drop.
            let mut b = PacketBuf::new();
            let len = f.len().min(crate::buf::MAX_FRAME);
            b.fill(&f[..len]);
            out.push(b);
            n += 1;
        }
        n
    }

    fn tx_burst(&mut self, pkts: &mut Vec<PacketBuf>) -> usize {
        use crate::buf::Buf;
        let n = pkts.len();
        // A poisoned lock means another thread panicked mid-write; keep going
        // with what is there rather than losing every later frame.
        let mut g = match self.out.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let mut sent = 0;
        if let Some(w) = g.as_mut() {
            for b in pkts.iter() {
                self.ts_ns += 1000;
                if w.write(self.ts_ns, b.data()).is_ok() {
                    sent += 1;
                }
            }
            let _ = w.flush();
        } else {
            sent = n;
        }
        pkts.clear();
        sent
    }

    fn alloc(&mut self) -> Option<PacketBuf> {
        Some(PacketBuf::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::Buf;

    #[test]
    fn replays_input_and_writes_output() {
        let dir = std::env::temp_dir().join(format!("pcscf-pcap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (inp, outp) = (dir.join("in.pcap"), dir.join("out.pcap"));
        let mut w = PcapWriter::new(File::create(&inp).unwrap()).unwrap();
        w.write(0, b"frame-1").unwrap();
        w.write(0, b"frame-2").unwrap();
        w.flush().unwrap();
        drop(w);
        let mut p = open("p", [0; 6], Some(&inp), Some(&outp), 2).unwrap();
        let mut v = Vec::new();
        assert_eq!(p.worker_queues[1].rx_burst(&mut v, 32), 0);
        assert_eq!(p.worker_queues[0].rx_burst(&mut v, 32), 2);
        assert_eq!(v[1].data(), b"frame-2");
        assert_eq!(p.worker_queues[0].tx_burst(&mut v), 2);
        let mut c = vec![PacketBuf::from_slice(b"ctl").unwrap()];
        assert_eq!(p.control_queue.tx_burst(&mut c), 1);
        let got = pcapfile::read_file(&outp).unwrap();
        assert_eq!(
            got.iter().map(|r| r.data.clone()).collect::<Vec<_>>(),
            vec![b"frame-1".to_vec(), b"frame-2".to_vec(), b"ctl".to_vec()]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
