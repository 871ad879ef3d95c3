//! tether's scenario corpus and the check that runs it.
//!
//! - [`corpus()`] gives the built-in scenarios (embedded in the binary); [`Scenario::load`] reads
//!   one from disk. A scenario's `scenario.json` is described in [`manifest`].
//! - [`build()`] compiles a scenario for a [`Target`] and links its libraries with a [`Linker`].
//! - A [`Backend`] runs a built scenario and returns an [`Observation`]; [`RealLoader`] is
//!   glibc's loader natively or under qemu-user; the harness adds its Unicorn backend.
//! - [`check::run`] builds and runs the matrix scenario × target × backend × linker and
//!   compares every observation with the manifest's expectation ([`check::Report`]).

pub mod backend;
pub mod build;
pub mod check;
pub mod child;
pub mod cleanup;
pub mod compare;
pub mod corpus;
pub mod junit;
pub mod linker;
pub mod manifest;
pub mod modes;
pub mod mutate;
pub mod observation;
pub mod target;

pub use backend::{Backend, RealLoader};
pub use build::{build, BuildError, BuiltModule, BuiltScenario};
pub use corpus::{corpus, Scenario, ScenarioError};
pub use linker::Linker;
pub use manifest::Manifest;
pub use observation::{CallReturn, JumpSlot, Observation, ObservedBinding};
pub use target::{Compiler, Target};
pub use tether_qemu::Arch;
