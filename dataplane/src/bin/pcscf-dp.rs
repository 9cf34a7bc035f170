//! The pcscf-dp binary.
fn main() {}
