//! pcap port. OWNER: lead.
