//! The event log: what the loader and the guest did, in order.

use serde::{Deserialize, Serialize};

/// One thing the loader did or saw. Serialised as JSON objects tagged by `event`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// An object was mapped. `host` objects are the built-in libc.
    Loaded {
        object: String,
        path: String,
        base: u64,
        size: u64,
    },
    /// A non-fatal finding (e.g. a writable and executable segment).
    Warning { object: String, message: String },
    /// A symbolic relocation was applied at load time (RELATIVE ones are only counted).
    Relocated {
        object: String,
        kind: String,
        address: u64,
        symbol: String,
        /// The version the reference asks for (`GLIBC_2.4` in `puts@GLIBC_2.4`).
        version: Option<String>,
        value: u64,
        /// The object that defined the symbol (None for symbol 0 and undefined weak ones).
        target_object: Option<String>,
    },
    /// The count of RELATIVE relocations applied in one object.
    RelativeRelocations { object: String, count: u64 },
    /// A PLT slot was bound: lazily at its first call, or at load with BIND_NOW.
    Bound {
        object: String,
        slot: u64,
        symbol: String,
        version: Option<String>,
        target: u64,
        target_object: String,
        before: u64,
        after: u64,
        lazy: bool,
    },
    /// `dlsym` on a handle found `symbol` for the handle's `object` in `target_object`.
    Dlsym {
        object: String,
        symbol: String,
        target_object: String,
        value: u64,
    },
    /// An initialiser or finaliser started (`kind`: `DT_INIT`, `DT_INIT_ARRAY[i]`, `DT_FINI_ARRAY[i]`, `DT_FINI`).
    Init {
        object: String,
        kind: String,
        address: u64,
    },
    Fini {
        object: String,
        kind: String,
        address: u64,
    },
    /// The host called a guest function.
    Call {
        function: String,
        address: u64,
        args: Vec<u64>,
    },
    /// A guest function called by the host returned.
    Return { function: String, value: u64 },
    /// The guest called a host function (the built-in libc or one registered by the user).
    HostCall { function: String, from: u64 },
    /// A static program made a system call (`args` as many as the call takes; `result` as
    /// the kernel returns it, a negated errno on failure).
    SystemCall {
        number: u64,
        name: String,
        args: Vec<u64>,
        result: i64,
    },
    /// A static program's own start-up called the IFUNC resolver of the IRELATIVE
    /// relocation at `place`.
    IfuncResolver {
        object: String,
        place: u64,
        resolver: u64,
        name: String,
    },
    /// A program's undefined function symbol with a value: its PLT entry is the function's
    /// canonical address, which every library's references bind to.
    CanonicalPlt {
        object: String,
        symbol: String,
        address: u64,
    },
    /// The log reached `--max-events` (`limit`); `dropped` later events were counted, not kept.
    LogTruncated { limit: u64, dropped: u64 },
}

fn at(version: &Option<String>) -> String {
    version
        .as_ref()
        .map(|v| format!("@{v}"))
        .unwrap_or_default()
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Loaded {
                object,
                path,
                base,
                size,
            } => write!(f, "load   {object} at {base:#x} ({size:#x} bytes) from {path}"),
            Event::Warning { object, message } => write!(f, "warn   {object}: {message}"),
            Event::Relocated {
                object,
                kind,
                address,
                symbol,
                version,
                value,
                target_object,
            } => {
                write!(
                    f,
                    "reloc  {object}: {kind} {address:#x} = {value:#x} ({symbol}{}",
                    at(version)
                )?;
                match target_object {
                    Some(t) => write!(f, " in {t})"),
                    None => write!(f, ")"),
                }
            }
            Event::RelativeRelocations { object, count } => {
                write!(f, "reloc  {object}: {count} RELATIVE")
            }
            Event::Bound {
                object,
                slot,
                symbol,
                version,
                target,
                target_object,
                before,
                after,
                lazy,
            } => write!(
                f,
                "bind   {object}: slot {slot:#x} {symbol}{} -> {target:#x} in {target_object} ({before:#x} -> {after:#x}, {})",
                at(version),
                if *lazy { "lazy" } else { "now" }
            ),
            Event::Dlsym {
                object,
                symbol,
                target_object,
                value,
            } => write!(f, "dlsym  {object}: {symbol} = {value:#x} in {target_object}"),
            Event::Init {
                object,
                kind,
                address,
            } => write!(f, "init   {object}: {kind} at {address:#x}"),
            Event::Fini {
                object,
                kind,
                address,
            } => write!(f, "fini   {object}: {kind} at {address:#x}"),
            Event::Call {
                function,
                address,
                args,
            } => write!(f, "call   {function} at {address:#x} {args:x?}"),
            Event::Return { function, value } => write!(f, "return {function} = {value:#x}"),
            Event::HostCall { function, from } => write!(f, "host   {function} from {from:#x}"),
            Event::SystemCall {
                name, args, result, ..
            } => {
                let args: Vec<String> = args.iter().map(|a| format!("{a:#x}")).collect();
                write!(f, "sys    {name}({}) = {result}", args.join(", "))
            }
            Event::IfuncResolver {
                object,
                place,
                resolver,
                name,
            } => write!(
                f,
                "irel   {object}: {place:#x} <- resolver {resolver:#x} ({name})"
            ),
            Event::CanonicalPlt {
                object,
                symbol,
                address,
            } => write!(f, "canon  {object}: {symbol} = {address:#x} (PLT entry)"),
            Event::LogTruncated { limit, dropped } => write!(
                f,
                "log    truncated at {limit} events (--max-events): {dropped} more not kept"
            ),
        }
    }
}
