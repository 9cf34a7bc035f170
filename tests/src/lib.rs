//! UE and S-CSCF simulators shared by the end-to-end tests.
