//! Qualification harness helpers shared by the benches.
