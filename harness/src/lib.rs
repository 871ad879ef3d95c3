//! tether's harness: a minimal dynamic loader on Unicorn that runs ARM32 and x86-64 shared
//! libraries in-process and records what it did.
//!
//! # Using it
//! ```no_run
//! use tether_harness::{Arch, Options, Session};
//! let mut s = Session::new(Arch::Arm, Options::default())?;
//! s.add_search_dir("/tmp/libs");          // DT_NEEDED by file name here…
//! s.add_library("/tmp/libs/libtest.so");  // …or by SONAME/file name among given libraries
//! s.load("/tmp/libs/libgo.so")?;          // maps it and its dependencies, relocates
//! s.run_init()?;                          // DT_INIT, DT_INIT_ARRAY: dependencies first
//! let r = s.call("Go_callback", &[2])?;   // AAPCS / SysV call, returns r0 / rax
//! s.run_fini()?;                          // atexit handlers, DT_FINI_ARRAY reversed, DT_FINI
//! print!("{}", s.output());               // what the guest printed
//! for e in s.events() { println!("{e}"); } // loads, relocations, bindings, init/fini, calls
//! # Ok::<(), tether_harness::HarnessError>(())
//! ```
//!
//! # Model
//! - Every object is mapped at a page-aligned base (ET_EXEC at its own addresses) with its
//!   segments' permissions; PT_GNU_RELRO becomes read-only after relocation.
//! - Symbols are looked up through DT_GNU_HASH / DT_HASH (cross-checked against `.dynsym` at
//!   load) in the global scope: loaded objects in breadth-first order, then the host library.
//!   Versions follow glibc's rules; undefined weak resolves to 0.
//! - The host library answers to `libc.so.6` (and the loader's sonames) with glibc version
//!   names. Its functions live at addresses in a never-mapped trap region: a guest jump there
//!   stops emulation with a fetch fault the session turns into a Rust call, then resumes at
//!   the return address. [`Session::register_host_fn`] adds more; the returned address is a
//!   valid guest function pointer (a callback).
//! - Lazy binding follows glibc's trampolines exactly (GOT[1] = the object's base as its
//!   handle, GOT[2] = the resolver trap); every binding becomes an [`Event::Bound`].
//! - A runaway guest is stopped by a basic-block budget ([`Options::block_budget`]); every
//!   fault is a [`HarnessError::Fault`] with pc, location, registers and the last blocks.

pub mod arch;
pub mod cli;
pub mod elf;
pub mod error;
pub mod events;
pub mod host_libc;
pub mod machine;
mod printf;
pub mod session;
pub mod symbols;

pub use arch::Arch;
pub use error::{Fault, FaultKind, HarnessError, Result};
pub use events::Event;
pub use session::{HostFn, LoadedObject, Options, Session};
