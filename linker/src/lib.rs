//! tether's linker: turns ELF relocatable objects, archives and shared libraries into
//! shared libraries and executables for x86-64 and ARM32 (EABI).

pub mod arch;
pub mod script;
pub mod search;
pub mod error;
pub mod options;
pub mod hash;
pub mod object_file;
pub mod shared_file;
pub mod inputs;
pub mod symbols;
