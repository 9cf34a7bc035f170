//! Checked, zero-copy wire views (smoltcp style). OWNER: wire helper.
