//! Link errors: values with enough context (file, section, offset, symbol, relocation) for a
//! user to find the problem, printed one per line like `ld.lld` does.

use std::fmt;
use std::path::PathBuf;

#[derive(Debug)]
pub enum LinkError {
    /// Command-line misuse (unknown option, missing value, ...).
    Usage(String),
    /// A file could not be opened, read or written.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// An input is not a well-formed ELF object, archive, shared library or script.
    Malformed { file: String, what: String },
    /// Several problems found in one pass (every undefined symbol, every bad relocation).
    Many(Vec<String>),
    /// Anything else, already phrased with its context.
    Other(String),
}

impl LinkError {
    pub fn malformed(file: &str, what: impl fmt::Display) -> LinkError {
        LinkError::Malformed {
            file: file.to_string(),
            what: what.to_string(),
        }
    }
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> LinkError {
        LinkError::Io {
            path: path.into(),
            source,
        }
    }
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::Usage(msg) => write!(f, "{msg} (try --help)"),
            LinkError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            LinkError::Malformed { file, what } => write!(f, "{file}: malformed input: {what}"),
            LinkError::Many(msgs) => {
                for (i, m) in msgs.iter().enumerate() {
                    if i > 0 {
                        f.write_str("\nld.tether: error: ")?;
                    }
                    f.write_str(m)?;
                }
                Ok(())
            }
            LinkError::Other(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for LinkError {}

pub type Result<T, E = LinkError> = std::result::Result<T, E>;

/// Renders a symbol name from an input for a message, lossily.
pub fn sym_name(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}
