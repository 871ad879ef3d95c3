//! tether's harness: a minimal dynamic loader on Unicorn that runs ARM32 and x86-64 shared
//! libraries (and programs) in-process and records what it did.
//!
//! # Using it
//! ```no_run
//! use tether_harness::{Arch, Event, Options, Session};
//! let mut s = Session::new(Arch::Arm, Options::default())?;
//! s.add_search_dir("/tmp/libs");          // DT_NEEDED by file name here…
//! s.add_library("/tmp/libs/libtest.so");  // …or by SONAME/file name among given libraries
//! s.load("/tmp/libs/libgo.so")?;          // maps it and its dependencies, relocates
//! s.run_init()?;                          // DT_INIT, DT_INIT_ARRAY: dependencies first
//! let r = s.call("Go_callback", &[2])?;   // AAPCS / SysV call, returns r0 / rax
//! s.run_fini()?;                          // atexit handlers, DT_FINI_ARRAY reversed, DT_FINI
//! print!("{}", s.output());               // what the guest printed
//! for e in s.events() {                   // loads, relocations, bindings, init/fini, calls
//!     if let Event::Bound { object, symbol, lazy: true, .. } = e {
//!         println!("{object} bound {symbol} at its first call");
//!     }
//! }
//! # Ok::<(), tether_harness::HarnessError>(())
//! ```
//! Host functions and callbacks: the closure reads its arguments with [`Session::arg`], may
//! read and write guest memory and call back into the guest; the returned address is a guest
//! function pointer.
//! ```no_run
//! # use tether_harness::{Arch, Options, Session};
//! # let mut s = Session::new(Arch::X86_64, Options::default())?;
//! let twice = s.register_host_fn("twice", None, |s| Ok(s.arg(0)? * 2));
//! s.load("libapply.so")?;                  // int apply(int (*f)(int), int x) { return f(x); }
//! assert_eq!(s.call("apply", &[twice, 21])?, 42);
//! # Ok::<(), tether_harness::HarnessError>(())
//! ```
//! A program (PT_INTERP or ET_EXEC) runs from its entry point with [`Session::run_entry`]: the
//! host builds the initial stack and plays glibc's `__libc_start_main`. A static or static-pie
//! program runs the same way with no loader: glibc's own start-up runs in the guest on the
//! [`syscalls`] layer.
//!
//! # Model
//! - Every object is mapped at a page-aligned base (ET_EXEC at its own addresses) with its
//!   segments' permissions; PT_GNU_RELRO becomes read-only after relocation.
//! - Symbols are looked up through DT_GNU_HASH / DT_HASH (cross-checked against `.dynsym` at
//!   load) in the global scope: loaded objects in breadth-first order, then the host library.
//!   Versions follow glibc's rules; DT_SYMBOLIC and protected definitions bind to themselves;
//!   undefined weak resolves to 0; STT_GNU_IFUNC resolvers are called.
//! - The host library answers to `libc.so.6`, `libdl.so.2` and the loader's sonames with glibc
//!   version names. Its functions live at addresses in a never-mapped trap region: a guest jump
//!   there stops emulation with a fetch fault the session turns into a Rust call, then resumes
//!   at the return address. [`Session::register_host_fn`] adds more.
//! - Lazy binding follows glibc's trampolines exactly (`GOT[1]` = the object's base as its
//!   handle, `GOT[2]` = the resolver trap); every binding becomes an [`Event::Bound`].
//! - A runaway guest is stopped by a basic-block budget ([`Options::block_budget`]); every
//!   fault is a [`HarnessError::Fault`] with pc, location, registers and the last blocks.
//! - `dlopen` loads into the global scope (as RTLD_GLOBAL) and runs initialisers; `dlclose`
//!   unloads nothing. One thread, one static TLS block per module.
//!
//! # Modules
//! [`elf`] reads files; [`symbols`] hashes and version rules; [`session`] loads
//! (`session/load.rs`), resolves, relocates, binds lazily, runs init/fini and guest code;
//! [`arch`] holds what differs per target (`arch/arm.rs`, `arch/x86_64.rs`: relocation kinds,
//! resolver protocol, calling convention, CPU set-up); [`host_libc`] is the built-in libc and
//! [`host_runtime`] what a C++ runtime linked into a program asks of it; [`syscalls`] is the
//! Linux system-call layer static programs run on (`session/process.rs` maps them and builds
//! the initial stack); [`machine`] wraps Unicorn and its hooks; [`gdb`] serves gdb's remote
//! protocol over a session ([`Session::attach_gdb`]); [`cli`] is the `tether` command line.

pub mod arch;
pub mod cli;
pub mod elf;
pub mod error;
pub mod event_log;
pub mod events;
pub mod fuzz;
pub mod gdb;
pub mod heap;
pub mod host_libc;
pub mod host_runtime;
pub mod machine;
mod printf;
pub mod session;
pub mod symbols;
pub mod syscalls;
pub mod unicorn_backend;

pub use arch::Arch;
pub use error::{Fault, FaultKind, HarnessError, Result};
pub use events::Event;
pub use session::{HostFn, LoadedObject, Options, Session};
pub use unicorn_backend::UnicornBackend;
