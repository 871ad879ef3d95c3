//! A scenario's manifest (`scenario.json` in its directory): the modules to build and what must
//! be observed when the program runs.
//!
//! ```json
//! {
//!   "about": "what this scenario proves",
//!   "libraries": [
//!     { "name": "libtest.so", "sources": ["libtest.c"] },
//!     { "name": "libgo.so", "sources": ["libgo.c"], "ldflags": ["-Wl,-init=go_init"],
//!       "needs": ["libtest.so"] }
//!   ],
//!   "program": { "kind": "pie", "sources": ["main.c"], "needs": ["libgo.so", "libtest.so"] },
//!   "calls": [{ "symbol": "Go_callback", "args": [2] }],
//!   "expect": { "stdout_file": "expected.txt", "exit_code": 0, "init_order": ["libtest.so", "libgo.so"] }
//! }
//! ```
//!
//! The program (`main`) is what qemu-user and native backends run; in-process backends (Unicorn)
//! load `program.needs` and make `calls` instead, or, when the scenario lists no `calls`, run the
//! program from its entry point too; all must produce `expect`. Every module, the program too,
//! is linked by the linker under test. The program's `kind` says how it is linked (`pie`, the
//! default, `no-pie`, `static`, `static-pie`) and which code its sources are compiled to by
//! default (`-fPIE` or `-fno-PIE`; a source's own `cflags` such as `-fPIC` come after). A library
//! with `"runs_directly": true` is also an executable (its own `.interp` and `-Wl,-e,ENTRY`): real
//! loaders run it before the program, and the expected output is both runs' output in turn.
//! Flags may use `{src}` for the scenario's source directory (e.g. a version script).

use crate::target::{Compiler, Target};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tether_qemu::Arch;

/// The parsed `scenario.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// What the scenario proves, in a sentence or two.
    pub about: String,
    /// Architectures it applies to (`"x86_64"`, `"arm"`); both when absent.
    #[serde(default = "all_arches")]
    pub arches: Vec<String>,
    /// Compilers it applies to (`"gcc"`, `"clang"`); both when absent (e.g. a flag only gcc has).
    #[serde(default = "all_compilers")]
    pub compilers: Vec<String>,
    /// True when only a real loader (qemu-user, native) can run it, e.g. C++ exceptions.
    #[serde(default)]
    pub real_loader_only: bool,
    /// Shared libraries, built in this order (a library's `needs` come before it).
    #[serde(default)]
    pub libraries: Vec<Module>,
    /// The main program, linked by the linker under test like the libraries.
    pub program: Option<Module>,
    /// What an in-process backend does in place of running the program: call these exported
    /// functions in order (after loading `program.needs` and running their initialisers).
    #[serde(default)]
    pub calls: Vec<Call>,
    pub expect: Expect,
}

fn all_compilers() -> Vec<String> {
    vec!["gcc".into(), "clang".into()]
}

fn all_arches() -> Vec<String> {
    vec!["x86_64".into(), "arm".into()]
}

impl Manifest {
    /// How the program is linked (`pie` when it does not say, or when there is no program).
    pub fn program_kind(&self) -> ProgramKind {
        self.program
            .as_ref()
            .and_then(|p| p.kind)
            .unwrap_or_default()
    }

    /// Whether in-process backends run the program from its entry point (no `calls` to make).
    pub fn runs_program_in_process(&self) -> bool {
        self.calls.is_empty() && self.program.is_some()
    }

    /// The libraries that are also run directly, in manifest order.
    pub fn libraries_run_directly(&self) -> impl Iterator<Item = &Module> {
        self.libraries.iter().filter(|l| l.runs_directly)
    }

    pub fn applies_to(&self, arch: Arch) -> bool {
        self.arches.iter().any(|a| a == arch.name())
    }

    /// Whether the scenario is built for `target` (its architecture and compiler).
    pub fn applies_to_target(&self, target: Target) -> bool {
        let compiler = match target.compiler {
            Compiler::Gcc => "gcc",
            Compiler::Clang => "clang",
        };
        self.applies_to(target.arch) && self.compilers.iter().any(|c| c == compiler)
    }
}

/// One module (a shared library or the program) and how to build it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Module {
    /// Output file name (`libgo.so`); the program defaults to `main`.
    #[serde(default = "default_program_name")]
    pub name: String,
    pub sources: Vec<Source>,
    /// Extra sources per architecture (`{"arm": ["far.S"]}`).
    #[serde(default)]
    pub arch_sources: BTreeMap<String, Vec<Source>>,
    /// Compiler flags for every source of this module.
    #[serde(default)]
    pub cflags: Vec<String>,
    /// Extra compiler flags per architecture.
    #[serde(default)]
    pub arch_cflags: BTreeMap<String, Vec<String>>,
    /// Flags for the link step (given to the compiler driver: `-Wl,...`).
    #[serde(default)]
    pub ldflags: Vec<String>,
    /// Extra link flags per architecture.
    #[serde(default)]
    pub arch_ldflags: BTreeMap<String, Vec<String>>,
    /// Scenario libraries this module links against (DT_NEEDED), in order.
    #[serde(default)]
    pub needs: Vec<String>,
    /// Which linker links this module: the one under test (default) or the reference GNU ld.
    #[serde(default)]
    pub linker: LinkerRole,
    /// How the program is linked (the program only; `pie` when absent).
    pub kind: Option<ProgramKind>,
    /// A library that is also run directly as a program (libraries only).
    #[serde(default)]
    pub runs_directly: bool,
}

/// The kinds of executable a program can be, as the compiler driver's options name them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProgramKind {
    /// Position-independent (`-pie`, gcc's default on Debian).
    #[default]
    Pie,
    /// Fixed-address (`-no-pie`, ET_EXEC).
    NoPie,
    /// Statically linked, no loader (`-static`).
    Static,
    /// Statically linked and self-relocating (`-static-pie`, rcrt1.o).
    StaticPie,
}

impl ProgramKind {
    pub fn name(self) -> &'static str {
        match self {
            ProgramKind::Pie => "pie",
            ProgramKind::NoPie => "no-pie",
            ProgramKind::Static => "static",
            ProgramKind::StaticPie => "static-pie",
        }
    }

    /// The driver option that links this kind.
    pub fn link_flag(self) -> &'static str {
        match self {
            ProgramKind::Pie => "-pie",
            ProgramKind::NoPie => "-no-pie",
            ProgramKind::Static => "-static",
            ProgramKind::StaticPie => "-static-pie",
        }
    }

    /// The code model its sources are compiled to unless a source says otherwise.
    pub fn compile_flag(self) -> &'static str {
        match self {
            ProgramKind::Pie | ProgramKind::StaticPie => "-fPIE",
            ProgramKind::NoPie | ProgramKind::Static => "-fno-PIE",
        }
    }

    /// True when no dynamic loader runs the program.
    pub fn is_static(self) -> bool {
        matches!(self, ProgramKind::Static | ProgramKind::StaticPie)
    }
}

fn default_program_name() -> String {
    "main".into()
}

/// A source file, optionally with its own compiler flags (e.g. `-marm` for one file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Source {
    File(String),
    WithFlags { file: String, cflags: Vec<String> },
}

impl Source {
    pub fn file(&self) -> &str {
        match self {
            Source::File(f) | Source::WithFlags { file: f, .. } => f,
        }
    }

    pub fn cflags(&self) -> &[String] {
        match self {
            Source::File(_) => &[],
            Source::WithFlags { cflags, .. } => cflags,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkerRole {
    #[default]
    Tested,
    Reference,
}

/// A call an in-process backend makes in place of the program's `main`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Call {
    pub symbol: String,
    #[serde(default)]
    pub args: Vec<i64>,
    /// The value the call must return, if checked.
    pub returns: Option<i64>,
}

/// What must be observed. Absent fields are not checked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The exact output (stdout, and stderr merged where the backend cannot separate them).
    pub stdout: Option<String>,
    /// Same, read from a file of the scenario (the usual `expected.txt`).
    pub stdout_file: Option<String>,
    /// The program's exit code (real-loader backends only).
    pub exit_code: Option<i32>,
    /// Scenario libraries in the order their initialisers ran (exactly; the program excluded).
    pub init_order: Option<Vec<String>>,
    /// Scenario libraries in the order their finalisers ran (exactly; the program excluded).
    pub fini_order: Option<Vec<String>>,
    /// Bindings that must occur, in this order (other bindings may come between them).
    #[serde(default)]
    pub bindings: Vec<ExpectedBinding>,
    /// The `bindings` may occur in any order (e.g. load-time relocations, whose order is the
    /// order a linker happened to write them in).
    #[serde(default)]
    pub bindings_in_any_order: bool,
    /// Symbols no scenario object may bind to another object at run time (they must have been
    /// resolved inside their own object at link time).
    #[serde(default)]
    pub unbound: Vec<String>,
    /// The building or the run must fail with a message containing this text.
    pub error: Option<ExpectedError>,
}

/// A binding of a reference in `from` to `symbol` defined in `to` (object file names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedBinding {
    pub from: String,
    pub symbol: String,
    pub to: String,
    /// The symbol version the reference asks for, if checked.
    pub version: Option<String>,
    /// How many lines the program had printed when it was bound: 0 for bind-now, more for a
    /// lazy binding at first call. Unchecked when absent or when the backend cannot tell.
    pub after_lines: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorStage {
    /// A library fails to link (with the linker under test).
    Link,
    /// Loading or running fails (the loader's message, a crash).
    Run,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedError {
    pub stage: ErrorStage,
    pub contains: String,
}
