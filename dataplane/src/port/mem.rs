//! mem port. OWNER: lead.
