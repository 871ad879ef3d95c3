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

/// Errors printed from one pass: a corrupt input can produce one per symbol or relocation,
/// and the first few say what is wrong (lld stops at 20 too).
const MAX_SHOWN: usize = 50;

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::Usage(msg) => write!(f, "{msg} (try --help)"),
            LinkError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            LinkError::Malformed { file, what } => write!(f, "{file}: malformed input: {what}"),
            LinkError::Many(msgs) => {
                for (i, m) in msgs.iter().take(MAX_SHOWN).enumerate() {
                    if i > 0 {
                        f.write_str("\nld.tether: error: ")?;
                    }
                    f.write_str(m)?;
                }
                if msgs.len() > MAX_SHOWN {
                    write!(
                        f,
                        "\nld.tether: note: {} more errors not shown",
                        msgs.len() - MAX_SHOWN
                    )?;
                }
                Ok(())
            }
            LinkError::Other(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for LinkError {}

pub type Result<T, E = LinkError> = std::result::Result<T, E>;

/// Renders a name from an input (a symbol, a section) for a message: UTF-8 as it is, other
/// bytes and control characters as `\xNN`, so a corrupt table never prints garbage, and an
/// empty name as `<unnamed>`.
pub fn sym_name(name: &[u8]) -> String {
    if name.is_empty() {
        return "<unnamed>".into();
    }
    let mut out = String::new();
    for chunk in name.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                out.push_str(&format!("\\x{:02x}", c as u32));
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::sym_name;

    #[test]
    fn names_are_printable_whatever_the_bytes() {
        assert_eq!(sym_name(b"memcpy@@GLIBC_2.14"), "memcpy@@GLIBC_2.14");
        assert_eq!(sym_name(b""), "<unnamed>");
        assert_eq!(sym_name(b"a\xffb\n"), "a\\xffb\\x0a");
        assert_eq!(sym_name("caf\u{e9}".as_bytes()), "caf\u{e9}");
    }
}
