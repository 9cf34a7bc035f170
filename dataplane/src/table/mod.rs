//! Lock-free tables: one writer, many readers that never wait.
//!
//! Owns the generic building blocks of the data plane's lookup tables:
//! - [`qsbr`]: quiescent-state-based reclamation (a [`QsbrDomain`], one
//!   [`QsbrReader`] per worker, the writer's [`RetireList`]);
//! - [`map`]: [`LfMap`], an open-addressing hash map split into a single
//!   [`MapWriter`] (the control thread) and cloneable [`MapReader`]s (the
//!   workers);
//! - [`key`]: [`AddrKey`], the compact key of the tables keyed by IP
//!   address, and [`AddrMap`], an `LfMap` that stores it but takes the API's
//!   `IpAddr`-based keys.
//!
//! The concrete tables (SPI → SA, IP → Annex N binding, …) are built from
//! these elsewhere. Several maps share one domain, so each worker holds one
//! reader handle and reports quiescence once per poll loop:
//!
//! ```
//! use dataplane::table::{LfMap, QsbrDomain};
//! let domain = QsbrDomain::new(8);
//! let (mut spis, spi_reader) = LfMap::<u32, u64>::with_capacity(&domain, 1024);
//! let (mut ips, ip_reader) = LfMap::<core::net::IpAddr, u32>::with_capacity(&domain, 1024);
//! spis.insert(0x1000, 1);
//! ips.insert("10.0.0.1".parse().unwrap(), 7);
//! spis.publish();
//! ips.publish();
//!
//! let mut worker = domain.register().unwrap();
//! for _poll in 0..3 {
//!     let g = worker.guard();
//!     assert_eq!(spi_reader.get(&g, &0x1000), Some(&1));
//!     assert_eq!(ip_reader.get(&g, &"10.0.0.1".parse().unwrap()), Some(&7));
//!     worker.quiescent();
//! }
//! ```
//!
//! This module must never make a reader wait, lock, or perform a
//! read-modify-write atomic, and must never free memory a reader could still
//! reach.

pub mod key;
pub mod map;
pub mod qsbr;

pub use key::{AddrHashBuilder, AddrHasher, AddrKey, AddrMap, AddrMapReader, AddrMapWriter, CompactKey};
pub(crate) use map::prefetch;
pub use map::{DefaultHashBuilder, Found, LfMap, MapMemory, MapReader, MapWriter, BULK};
pub use qsbr::{DomainFull, Guard, OfflineReader, QsbrDomain, QsbrReader, RetireList};
