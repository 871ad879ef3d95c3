//! tether's linker: turns ELF relocatable objects, archives and shared libraries into
//! shared libraries and executables for x86-64 and ARM32 (EABI).

pub mod arch;
pub mod script;
pub mod search;
pub mod hash;
