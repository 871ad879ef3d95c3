//! What a backend saw when it ran a built scenario, in a form every backend can produce.

use serde::{Deserialize, Serialize};

/// One run's observable behaviour. Object names are file names (`libgo.so`, `main`).
/// `None` means "this backend cannot observe it", and the matching expectation is not checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// The output, every line ending in a newline. Real-loader backends merge the program's
    /// stderr into it in write order.
    pub stdout: String,
    /// The program's exit code; `None` if it was killed or the backend ran no program.
    pub exit_code: Option<i32>,
    /// Initialisers run, in order: object file names (libraries and the program alike; the
    /// check ignores objects that are not scenario libraries, such as libc).
    pub init_order: Option<Vec<String>>,
    /// Finalisers run, in order, as `init_order`.
    pub fini_order: Option<Vec<String>>,
    /// Every symbol binding the loader made, in order.
    pub bindings: Vec<ObservedBinding>,
    /// Values returned by the calls the backend made (in-process backends).
    pub returns: Vec<CallReturn>,
    /// Why the run failed (loader error, crash, timeout, emulator fault), if it did.
    pub error: Option<String>,
    /// The backend's full log (loader lines and output interleaved), shown around a difference.
    pub log: String,
    /// Every JUMP_SLOT bound by the end of the run and where it points, for a backend that can
    /// read the final GOT (the harness); `None` when it cannot.
    #[serde(default)]
    pub jump_slots: Option<Vec<JumpSlot>>,
}

/// A bound JUMP_SLOT as the run left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JumpSlot {
    /// The object whose GOT holds the slot.
    pub object: String,
    /// The slot's offset from the object's load address (one symbol may have several slots,
    /// one per version).
    pub offset: u64,
    pub symbol: String,
    pub version: Option<String>,
    /// The object the slot's value lies in (`libc.so.6` for the harness's host library).
    pub target_object: String,
    /// Where it points, as `object:symbol+offset`.
    pub target: String,
}

/// A lookup that bound a reference in `from` to `symbol` in `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedBinding {
    pub from: String,
    pub symbol: String,
    pub to: String,
    pub version: Option<String>,
    /// Output lines printed before the binding happened, if the backend can tell.
    pub after_lines: Option<usize>,
}

/// What one call returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallReturn {
    pub symbol: String,
    pub value: i64,
}
