//! The harness's structured errors: every failure is a value naming what went wrong and where.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why the emulated CPU stopped where it should not have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    ReadUnmapped,
    WriteUnmapped,
    FetchUnmapped,
    ReadProtected,
    WriteProtected,
    /// A jump into a page mapped without execute permission.
    FetchProtected,
    UndefinedInstruction,
    /// A system call (`svc` on ARM, `syscall`/`sysenter` on x86-64): there is no kernel; guest
    /// code must go through the host libc.
    SystemCall,
    /// A system call the static-program layer (`syscalls`) does not provide.
    UnsupportedSystemCall {
        number: u64,
        name: String,
    },
    /// The CPU halted (`hlt`, `wfi`).
    Halted,
    /// A CPU exception or interrupt the harness does not service (int3, bkpt, int 0x80 …).
    Interrupt(u32),
    /// The guest ran more basic blocks than the session's budget allows (an endless loop).
    BudgetExceeded,
    /// The guest called `abort`.
    Abort,
    /// The guest called `__stack_chk_fail`.
    StackSmashing,
    /// A host function refused its arguments (bad free, bad pointer …).
    HostFunction(String),
    /// Unicorn returned an error the harness does not classify.
    Emulator(String),
}

/// A guest fault with everything needed to understand it without a debugger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    pub kind: FaultKind,
    /// The program counter when the fault was detected.
    pub pc: u64,
    /// The data or fetch address that faulted, when there is one.
    pub address: Option<u64>,
    /// `object:symbol+offset` for the pc, when the pc lies in a loaded object.
    pub location: Option<String>,
    /// General-purpose registers, by name.
    pub registers: Vec<(String, u64)>,
    /// Start addresses of the last few basic blocks executed (oldest first), symbolised.
    pub recent_blocks: Vec<String>,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} at pc {:#x}", self.kind, self.pc)?;
        if let Some(loc) = &self.location {
            write!(f, " ({loc})")?;
        }
        if let Some(a) = self.address {
            write!(f, ", address {a:#x}")?;
        }
        write!(f, "\n  registers:")?;
        for (i, (n, v)) in self.registers.iter().enumerate() {
            if i % 4 == 0 {
                write!(f, "\n   ")?;
            }
            write!(f, " {n:>4}={v:#018x}")?;
        }
        write!(f, "\n  last blocks:")?;
        for b in &self.recent_blocks {
            write!(f, "\n    {b}")?;
        }
        Ok(())
    }
}

/// Every way a session can fail.
#[derive(Debug, Clone, Error, Serialize, Deserialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum HarnessError {
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{path}: malformed ELF: {message}")]
    BadElf { path: String, message: String },
    #[error("{path}: is {found}, the session is {expected}")]
    WrongArch {
        path: String,
        expected: String,
        found: String,
    },
    #[error(
        "{needed_by}: needed library {name} not found (give it with --lib or a search directory)"
    )]
    LibraryNotFound { name: String, needed_by: String },
    #[error("{object}: undefined symbol {symbol}{}", version.as_ref().map(|v| format!("@{v}")).unwrap_or_default())]
    UndefinedSymbol {
        object: String,
        symbol: String,
        version: Option<String>,
    },
    #[error("{object}: unsupported relocation {name} (type {r_type}) at {offset:#x}")]
    UnsupportedRelocation {
        object: String,
        name: String,
        r_type: u32,
        offset: u64,
    },
    #[error("{object}: {message}")]
    BadDynamic { object: String, message: String },
    #[error("no symbol {symbol} in the global scope (searched {} and the host libc)", searched.join(", "))]
    NoSuchSymbol {
        symbol: String,
        /// The loaded objects, by path.
        searched: Vec<String>,
    },
    #[error("guest fault: {0}")]
    Fault(Box<Fault>),
    #[error("guest called exit({code})")]
    Exit { code: i32 },
    #[error("unicorn: {operation}: {message}")]
    Emulator { operation: String, message: String },
    #[error("{0}")]
    Usage(String),
}

impl HarnessError {
    pub(crate) fn emu(operation: &str, err: unicorn_engine::uc_error) -> Self {
        HarnessError::Emulator {
            operation: operation.to_string(),
            message: format!("{err:?}"),
        }
    }
}

pub type Result<T, E = HarnessError> = std::result::Result<T, E>;
