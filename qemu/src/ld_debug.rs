//! glibc's `LD_DEBUG=bindings:files` log, line by line.
//!
//! Every loader line is `<spaces><pid>:\t<message>`; the messages used here are
//! - ``binding file X [0] to Y [0]: normal symbol `foo' [GLIBC_2.4]`` (the version is absent for
//!   unversioned symbols; "protected" replaces "normal" for protected symbols),
//! - `calling init: /path/libx.so` and `calling fini: /path/libx.so [0]`,
//! - `transferring control: ./main` (main is about to run).
//!
//! Objects are named by file name (`libgo.so`), not path; the main program appears with an
//! empty name in `calling fini:  [0]`, so callers pass its name in.

/// One lookup that bound a reference in `from` to a definition in `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// File name of the object holding the reference.
    pub from: String,
    pub symbol: String,
    /// File name of the object the symbol was found in.
    pub to: String,
    /// The symbol version the reference asked for, if any.
    pub version: Option<String>,
}

/// A line of the merged guest output, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoaderLine {
    Binding(Binding),
    Init(String),
    Fini(String),
    /// `transferring control`: the loader is done and the program's entry point runs next.
    Start,
    /// Any other loader debug line.
    OtherDebug,
    /// Not a loader line: the guest program wrote it.
    Program,
}

/// Classifies one line (without its newline). `program` names the main executable.
pub fn parse_line(line: &str, program: &str) -> LoaderLine {
    let Some(message) = loader_message(line) else {
        return LoaderLine::Program;
    };
    if let Some(rest) = message.strip_prefix("binding file ") {
        return parse_binding(rest, program).map_or(LoaderLine::OtherDebug, LoaderLine::Binding);
    }
    if let Some(path) = message.strip_prefix("calling init: ") {
        return LoaderLine::Init(object_name(path, program));
    }
    if let Some(path) = message.strip_prefix("calling fini: ") {
        return LoaderLine::Fini(object_name(path, program));
    }
    if message.starts_with("transferring control: ") {
        return LoaderLine::Start;
    }
    LoaderLine::OtherDebug
}

/// The message of a loader debug line: digits (the pid) after optional spaces, then ":\t".
fn loader_message(line: &str) -> Option<&str> {
    let trimmed = line.trim_start_matches(' ');
    let digits = trimmed.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let rest = trimmed[digits..].strip_prefix(":\t")?;
    Some(rest)
}

fn parse_binding(rest: &str, program: &str) -> Option<Binding> {
    // "X [0] to Y [0]: normal symbol `foo' [VER]"
    let (from, rest) = rest.split_once(" to ")?;
    let (to, rest) = rest.split_once(": ")?;
    let start = rest.find('`')? + 1;
    let len = rest[start..].find('\'')?;
    let symbol = &rest[start..start + len];
    let after = rest[start + len + 1..].trim();
    let version = after
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .map(str::to_string);
    Some(Binding {
        from: object_name(from, program),
        symbol: symbol.to_string(),
        to: object_name(to, program),
        version,
    })
}

/// `/tmp/x/libgo.so [0]` → `libgo.so`; an empty path is the main program.
fn object_name(path: &str, program: &str) -> String {
    let path = path.trim();
    let path = match path.rfind('[') {
        Some(i) if path.ends_with(']') => &path[..i],
        _ => path,
    };
    let path = path.trim();
    if path.is_empty() {
        return program.to_string();
    }
    path.rsplit('/').next().unwrap_or(path).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_with_version() {
        let line = "      9780:\tbinding file /tmp/a/libgo.so [0] to /lib/libc.so.6 [0]: normal symbol `puts' [GLIBC_2.4]";
        assert_eq!(
            parse_line(line, "main"),
            LoaderLine::Binding(Binding {
                from: "libgo.so".into(),
                symbol: "puts".into(),
                to: "libc.so.6".into(),
                version: Some("GLIBC_2.4".into()),
            })
        );
    }

    #[test]
    fn binding_without_version_from_main() {
        let line = "     10471:\tbinding file ./main [0] to /tmp/seedt/gcc/libgo.so [0]: normal symbol `Go_callback'";
        assert_eq!(
            parse_line(line, "main"),
            LoaderLine::Binding(Binding {
                from: "main".into(),
                symbol: "Go_callback".into(),
                to: "libgo.so".into(),
                version: None,
            })
        );
    }

    #[test]
    fn init_fini_and_program_lines() {
        assert_eq!(
            parse_line("     10471:\tcalling init: /tmp/g/libtest.so", "main"),
            LoaderLine::Init("libtest.so".into())
        );
        assert_eq!(
            parse_line("     10471:\tcalling fini:  [0]", "prog"),
            LoaderLine::Fini("prog".into())
        );
        assert_eq!(
            parse_line("     10471:\tcalling fini: /tmp/g/libgo.so [0]", "main"),
            LoaderLine::Fini("libgo.so".into())
        );
        assert_eq!(
            parse_line("     1:\ttransferring control: ./main", "main"),
            LoaderLine::Start
        );
        assert_eq!(parse_line("     1:\t", "main"), LoaderLine::OtherDebug);
        assert_eq!(parse_line("libgo: init", "main"), LoaderLine::Program);
        assert_eq!(
            parse_line("12: not a loader line", "main"),
            LoaderLine::Program
        );
    }
}
