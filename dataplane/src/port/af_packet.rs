//! af_packet port. OWNER: lead.
