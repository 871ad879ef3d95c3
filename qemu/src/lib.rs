//! Running guest programs with the real glibc loader: natively (x86-64) or under qemu-user
//! (`qemu-arm -L /usr/arm-linux-gnueabihf`, `qemu-x86_64`), with a controlled environment, a
//! timeout, and glibc's `LD_DEBUG=bindings:files` log parsed into events.
//!
//! The guest sees only the environment a [`RunSpec`] names: the host's `LD_*` variables never
//! leak in (qemu-user would pass them through otherwise).

mod error;
mod ld_debug;
mod run;
mod tools;
pub use tools::armhf_sysroot;

pub use error::Error;
pub use ld_debug::{parse_line, Binding, LoaderLine};
pub use run::{ExitStatus, Machine, RunOutcome, RunSpec, TimedBinding};
pub use tools::{find_tool, Arch, Tool, ARMHF_SYSROOT};
