//! Lock-free tables. OWNER: table helper.
