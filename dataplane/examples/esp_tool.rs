//! pcap-to-pcap ESP transform for peer tests:
//! `esp_tool encap|decap SA.json IN.pcap OUT.pcap`.
//!
//! The SA file format is documented in `dataplane::esp::tool`. Exits 1 with
//! the reason (never a key) when a packet is dropped.

use dataplane::esp::{pcap_transform, Direction, SaFile};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: esp_tool encap|decap SA.json IN.pcap OUT.pcap");
        std::process::exit(2);
    }
    let dir = match args[1].as_str() {
        "encap" => Direction::Encap,
        "decap" => Direction::Decap,
        other => {
            eprintln!("unknown direction {other:?}");
            std::process::exit(2);
        }
    };
    let run = || -> Result<(), Box<dyn std::error::Error>> {
        let sa = SaFile::from_json(&std::fs::read_to_string(&args[2])?)?;
        let input = std::fs::read(&args[3])?;
        let out = pcap_transform(dir, &sa, &input)?;
        std::fs::write(&args[4], out)?;
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("esp_tool: {e}");
        std::process::exit(1);
    }
}
