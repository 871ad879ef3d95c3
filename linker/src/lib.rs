//! tether's linker: turns ELF relocatable objects, archives and shared libraries into
//! shared libraries and executables for x86-64 and ARM32 (EABI).

pub mod arch;
pub mod build_id;
pub mod dynamic;
pub mod eh_frame;
pub mod eh_frame_hdr;
pub mod error;
pub mod got_plt;
pub mod hash;
pub mod inputs;
pub mod layout;
pub mod link;
pub mod object_file;
pub mod options;
pub mod relocate;
pub mod resolve;
pub mod scan;
pub mod script;
pub mod search;
pub mod shared_file;
pub mod symbols;
pub mod symtab;
pub mod thunks;
pub mod unwind;
pub mod version_script;
pub mod versions;
pub mod write;
