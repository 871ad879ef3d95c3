//! GNU ld linker scripts of the kind distributions install in place of a shared library
//! (Debian's `libc.so`, `libm.so`, `libncurses.so`): `GROUP`, `INPUT`, `AS_NEEDED`,
//! `OUTPUT_FORMAT`, `OUTPUT_ARCH`, `SEARCH_DIR` and `ENTRY`.
//!
//! Anything else (`SECTIONS`, `PROVIDE`, assignments, ...) is rejected with an error that
//! names the command and its line: a silently ignored `SECTIONS` would produce a wrong link.
//!
//! Resolving the file names a script mentions (sysroot prefixing, the script's directory,
//! `-l` search) is the job of [`crate::search`].

use thiserror::Error;

/// One top-level command of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Group(Vec<ScriptInput>),
    Input(Vec<ScriptInput>),
    SearchDir(String),
    /// One name (`OUTPUT_FORMAT(elf64-x86-64)`) or three (default, big-endian, little-endian).
    OutputFormat(Vec<String>),
    OutputArch(String),
    Entry(String),
}

/// A file named inside `GROUP(...)` or `INPUT(...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptInput {
    pub name: InputName,
    /// Listed inside `AS_NEEDED(...)`.
    pub as_needed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputName {
    /// A file name exactly as written (quotes removed).
    Path(String),
    /// `-lfoo` written as an entry: holds `foo` (or `:file` for `-l:file`).
    Library(String),
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ScriptError {
    #[error("unsupported linker script command {command} at line {line}")]
    Unsupported { command: String, line: usize },
    #[error("unexpected {found} at line {line} in linker script (expected {expected})")]
    Unexpected {
        found: String,
        expected: &'static str,
        line: usize,
    },
    #[error("unterminated comment starting at line {line} in linker script")]
    UnterminatedComment { line: usize },
    #[error("unterminated quoted string starting at line {line} in linker script")]
    UnterminatedString { line: usize },
    #[error("{command} at line {line} takes {expected}, found {found} argument(s)")]
    Arity {
        command: &'static str,
        expected: &'static str,
        found: usize,
        line: usize,
    },
}

/// Whether `bytes` should be read as a linker script: not ELF, not an archive, and text.
///
/// ld.bfd tries a script when every object format fails; we approximate that with a
/// textual check so that a corrupt ELF file is never reported as a script syntax error.
pub fn is_linker_script(bytes: &[u8]) -> bool {
    if bytes.is_empty()
        || bytes.starts_with(b"\x7fELF")
        || bytes.starts_with(b"!<arch>\n")
        || bytes.starts_with(b"!<thin>\n")
    {
        return false;
    }
    let head = &bytes[..bytes.len().min(4096)];
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        // The 4 KiB cut may split a multi-byte character.
        Err(e) if e.error_len().is_none() => match std::str::from_utf8(&head[..e.valid_up_to()]) {
            Ok(t) => t,
            Err(_) => return false,
        },
        Err(_) => return false,
    };
    text.chars()
        .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\x0c'))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok<'a> {
    Open,
    Close,
    Comma,
    Semi,
    /// An unquoted word.
    Word(&'a str),
    /// A `"quoted"` name: never a command keyword nor a `-l` entry.
    Quoted(&'a str),
}

impl Tok<'_> {
    fn describe(&self) -> String {
        match self {
            Tok::Open => "`(`".into(),
            Tok::Close => "`)`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Semi => "`;`".into(),
            Tok::Word(w) => format!("`{w}`"),
            Tok::Quoted(q) => format!("\"{q}\""),
        }
    }
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

/// Characters that end an unquoted word. `=`, `{`, `}` etc. are kept inside words so that
/// an unsupported construct is reported by the name of its leading word.
fn is_delimiter(c: u8) -> bool {
    c.is_ascii_whitespace() || matches!(c, b'(' | b')' | b',' | b';' | b'"')
}

impl<'a> Lexer<'a> {
    /// Returns the next token and the line it starts on.
    fn next(&mut self) -> Result<Option<(Tok<'a>, usize)>, ScriptError> {
        let bytes = self.text.as_bytes();
        loop {
            while let Some(&c) = bytes.get(self.pos) {
                if !c.is_ascii_whitespace() {
                    break;
                }
                if c == b'\n' {
                    self.line += 1;
                }
                self.pos += 1;
            }
            if bytes[self.pos..].starts_with(b"/*") {
                let start_line = self.line;
                let body = &self.text[self.pos + 2..];
                let end = body
                    .find("*/")
                    .ok_or(ScriptError::UnterminatedComment { line: start_line })?;
                self.line += body[..end].matches('\n').count();
                self.pos += 2 + end + 2;
                continue;
            }
            break;
        }
        let line = self.line;
        let Some(&c) = bytes.get(self.pos) else {
            return Ok(None);
        };
        let tok = match c {
            b'(' => Tok::Open,
            b')' => Tok::Close,
            b',' => Tok::Comma,
            b';' => Tok::Semi,
            b'"' => {
                let body = &self.text[self.pos + 1..];
                let end = body
                    .find('"')
                    .ok_or(ScriptError::UnterminatedString { line })?;
                self.line += body[..end].matches('\n').count();
                self.pos += end + 2;
                return Ok(Some((Tok::Quoted(&body[..end]), line)));
            }
            _ => {
                let start = self.pos;
                while self.pos < bytes.len()
                    && !is_delimiter(bytes[self.pos])
                    && !bytes[self.pos..].starts_with(b"/*")
                {
                    self.pos += 1;
                }
                return Ok(Some((Tok::Word(&self.text[start..self.pos]), line)));
            }
        };
        self.pos += 1;
        Ok(Some((tok, line)))
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    peeked: Option<Option<(Tok<'a>, usize)>>,
}

impl<'a> Parser<'a> {
    fn peek(&mut self) -> Result<Option<&(Tok<'a>, usize)>, ScriptError> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lexer.next()?);
        }
        Ok(self.peeked.as_ref().and_then(|p| p.as_ref()))
    }

    fn bump(&mut self) -> Result<Option<(Tok<'a>, usize)>, ScriptError> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.lexer.next(),
        }
    }

    fn unexpected(
        found: Option<(Tok<'a>, usize)>,
        expected: &'static str,
        eof_line: usize,
    ) -> ScriptError {
        match found {
            Some((tok, line)) => ScriptError::Unexpected {
                found: tok.describe(),
                expected,
                line,
            },
            None => ScriptError::Unexpected {
                found: "end of file".into(),
                expected,
                line: eof_line,
            },
        }
    }

    fn expect_open(&mut self) -> Result<(), ScriptError> {
        match self.bump()? {
            Some((Tok::Open, _)) => Ok(()),
            other => Err(Self::unexpected(other, "`(`", self.lexer.line)),
        }
    }

    /// Comma- or space-separated names up to the closing parenthesis.
    fn name_list(&mut self) -> Result<Vec<String>, ScriptError> {
        let mut names = Vec::new();
        loop {
            match self.bump()? {
                Some((Tok::Close, _)) => return Ok(names),
                Some((Tok::Comma, _)) => {}
                Some((Tok::Word(w), _)) | Some((Tok::Quoted(w), _)) => names.push(w.to_string()),
                other => return Err(Self::unexpected(other, "a name or `)`", self.lexer.line)),
            }
        }
    }

    fn single_name(&mut self, command: &'static str, line: usize) -> Result<String, ScriptError> {
        self.expect_open()?;
        let mut names = self.name_list()?;
        if names.len() != 1 {
            return Err(ScriptError::Arity {
                command,
                expected: "exactly one argument",
                found: names.len(),
                line,
            });
        }
        Ok(names.remove(0))
    }

    /// The body of `GROUP(...)`/`INPUT(...)`/`AS_NEEDED(...)`, after its `(`.
    fn input_list(
        &mut self,
        as_needed: bool,
        out: &mut Vec<ScriptInput>,
    ) -> Result<(), ScriptError> {
        loop {
            let Some((tok, line)) = self.bump()? else {
                return Err(Self::unexpected(
                    None,
                    "a file name or `)`",
                    self.lexer.line,
                ));
            };
            match tok {
                Tok::Close => return Ok(()),
                Tok::Comma => {}
                Tok::Word("AS_NEEDED") if matches!(self.peek()?, Some((Tok::Open, _))) => {
                    self.bump()?;
                    self.input_list(true, out)?;
                }
                Tok::Word(w) => {
                    let name = match w.strip_prefix("-l") {
                        Some(lib) if !lib.is_empty() => InputName::Library(lib.to_string()),
                        _ => InputName::Path(w.to_string()),
                    };
                    out.push(ScriptInput { name, as_needed });
                }
                Tok::Quoted(q) => out.push(ScriptInput {
                    name: InputName::Path(q.to_string()),
                    as_needed,
                }),
                other => {
                    return Err(Self::unexpected(
                        Some((other, line)),
                        "a file name or `)`",
                        line,
                    ))
                }
            }
        }
    }
}

/// Parses a whole script. Errors name the line (1-based) and the offending token; the
/// caller adds the file name.
pub fn parse(text: &str) -> Result<Vec<Command>, ScriptError> {
    let mut parser = Parser {
        lexer: Lexer {
            text,
            pos: 0,
            line: 1,
        },
        peeked: None,
    };
    let mut commands = Vec::new();
    while let Some((tok, line)) = parser.bump()? {
        let word = match tok {
            // ld accepts `;` between commands.
            Tok::Semi => continue,
            Tok::Word(w) => w,
            other => {
                return Err(ScriptError::Unexpected {
                    found: other.describe(),
                    expected: "a command",
                    line,
                })
            }
        };
        let command = match word {
            "GROUP" | "INPUT" => {
                parser.expect_open()?;
                let mut inputs = Vec::new();
                parser.input_list(false, &mut inputs)?;
                if word == "GROUP" {
                    Command::Group(inputs)
                } else {
                    Command::Input(inputs)
                }
            }
            "OUTPUT_FORMAT" => {
                parser.expect_open()?;
                let names = parser.name_list()?;
                if names.len() != 1 && names.len() != 3 {
                    return Err(ScriptError::Arity {
                        command: "OUTPUT_FORMAT",
                        expected: "one or three arguments",
                        found: names.len(),
                        line,
                    });
                }
                Command::OutputFormat(names)
            }
            "OUTPUT_ARCH" => Command::OutputArch(parser.single_name("OUTPUT_ARCH", line)?),
            "SEARCH_DIR" => Command::SearchDir(parser.single_name("SEARCH_DIR", line)?),
            "ENTRY" => Command::Entry(parser.single_name("ENTRY", line)?),
            other => {
                return Err(ScriptError::Unsupported {
                    command: other.to_string(),
                    line,
                })
            }
        };
        commands.push(command);
    }
    Ok(commands)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str, as_needed: bool) -> ScriptInput {
        ScriptInput {
            name: InputName::Path(p.into()),
            as_needed,
        }
    }

    fn read_required(path: &str, package: &str) -> Vec<u8> {
        std::fs::read(path).unwrap_or_else(|e| {
            panic!("{path} is needed by this test (Debian package {package}): {e}")
        })
    }

    /// Random texts over the script alphabet give errors or commands, never a panic.
    #[test]
    fn random_text_never_panics() {
        let mut next = crate::test_support::xorshift();
        let alphabet: &[&str] = &[
            "(",
            ")",
            ",",
            ";",
            "\"",
            "/*",
            "*/",
            " ",
            "\n",
            "GROUP",
            "INPUT",
            "AS_NEEDED",
            "OUTPUT_FORMAT",
            "ENTRY",
            "SEARCH_DIR",
            "-l",
            "x",
            "é",
            "SECTIONS",
        ];
        for _ in 0..20_000 {
            let len = next() % 24;
            let text: String = (0..len)
                .map(|_| alphabet[next() as usize % alphabet.len()])
                .collect();
            let _ = parse(&text);
            let _ = is_linker_script(text.as_bytes());
        }
    }

    #[test]
    fn debian_x86_64_libc_so() {
        let bytes = read_required("/usr/lib/x86_64-linux-gnu/libc.so", "libc6-dev");
        assert!(is_linker_script(&bytes));
        let text = std::str::from_utf8(&bytes).unwrap();
        assert_eq!(
            parse(text).unwrap(),
            vec![
                Command::OutputFormat(vec!["elf64-x86-64".into()]),
                Command::Group(vec![
                    path("/lib/x86_64-linux-gnu/libc.so.6", false),
                    path("/usr/lib/x86_64-linux-gnu/libc_nonshared.a", false),
                    path("/lib64/ld-linux-x86-64.so.2", true),
                ]),
            ]
        );
    }

    #[test]
    fn debian_armhf_libc_so() {
        let bytes = read_required(
            "/usr/arm-linux-gnueabihf/lib/libc.so",
            "libc6-dev-armhf-cross",
        );
        assert!(is_linker_script(&bytes));
        let text = std::str::from_utf8(&bytes).unwrap();
        assert_eq!(
            parse(text).unwrap(),
            vec![
                Command::OutputFormat(vec!["elf32-littlearm".into()]),
                Command::Group(vec![
                    path("/usr/arm-linux-gnueabihf/lib/libc.so.6", false),
                    path("/usr/arm-linux-gnueabihf/lib/libc_nonshared.a", false),
                    path("/usr/arm-linux-gnueabihf/lib/ld-linux-armhf.so.3", true),
                ]),
            ]
        );
    }

    #[test]
    fn real_elf_and_archive_are_not_scripts() {
        let so = read_required("/lib/x86_64-linux-gnu/libc.so.6", "libc6");
        assert!(!is_linker_script(&so));
        let a = read_required("/usr/lib/x86_64-linux-gnu/libc_nonshared.a", "libc6-dev");
        assert!(!is_linker_script(&a));
        assert!(!is_linker_script(b"!<thin>\nfoo"));
        assert!(!is_linker_script(b""));
        assert!(!is_linker_script(b"GROUP(\x01)"));
    }

    #[test]
    fn ncurses_style_input_with_library_entries() {
        let cmds = parse("INPUT(libncurses.so.6 -ltinfo)\n").unwrap();
        assert_eq!(
            cmds,
            vec![Command::Input(vec![
                path("libncurses.so.6", false),
                ScriptInput {
                    name: InputName::Library("tinfo".into()),
                    as_needed: false
                },
            ])]
        );
    }

    #[test]
    fn all_supported_commands_commas_quotes_and_nesting() {
        let text = r#"
/* comment
   spanning lines */ OUTPUT_FORMAT("elf32-littlearm", "elf32-bigarm", elf32-littlearm)
OUTPUT_ARCH(arm);
SEARCH_DIR("=/usr/lib") SEARCH_DIR(/opt/lib)
ENTRY(_start)
GROUP(a.o, "-lnotlib" , -l:libx.a AS_NEEDED(b.so AS_NEEDED(-lc)) c.a)
"#;
        let cmds = parse(text).unwrap();
        assert_eq!(
            cmds,
            vec![
                Command::OutputFormat(vec![
                    "elf32-littlearm".into(),
                    "elf32-bigarm".into(),
                    "elf32-littlearm".into()
                ]),
                Command::OutputArch("arm".into()),
                Command::SearchDir("=/usr/lib".into()),
                Command::SearchDir("/opt/lib".into()),
                Command::Entry("_start".into()),
                Command::Group(vec![
                    path("a.o", false),
                    path("-lnotlib", false),
                    ScriptInput {
                        name: InputName::Library(":libx.a".into()),
                        as_needed: false
                    },
                    path("b.so", true),
                    ScriptInput {
                        name: InputName::Library("c".into()),
                        as_needed: true
                    },
                    path("c.a", false),
                ]),
            ]
        );
    }

    #[test]
    fn unsupported_command_names_command_and_line() {
        let err =
            parse("/* x */\nOUTPUT_FORMAT(elf64-x86-64)\n\nSECTIONS { .text : { *(.text) } }")
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported linker script command SECTIONS at line 4"
        );
        let err = parse("GROUP(a)\nfoo = 1;").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported linker script command foo at line 2"
        );
    }

    #[test]
    fn malformed_scripts_are_errors_with_lines() {
        assert_eq!(
            parse("GROUP(a b\n").unwrap_err().to_string(),
            "unexpected end of file at line 2 in linker script (expected a file name or `)`)"
        );
        assert_eq!(
            parse("/* never closed\nGROUP(a)").unwrap_err().to_string(),
            "unterminated comment starting at line 1 in linker script"
        );
        assert_eq!(
            parse("\nINPUT(\"a)").unwrap_err().to_string(),
            "unterminated quoted string starting at line 2 in linker script"
        );
        assert_eq!(
            parse("ENTRY(a b)").unwrap_err().to_string(),
            "ENTRY at line 1 takes exactly one argument, found 2 argument(s)"
        );
        assert_eq!(
            parse("OUTPUT_FORMAT(a,b)").unwrap_err().to_string(),
            "OUTPUT_FORMAT at line 1 takes one or three arguments, found 2 argument(s)"
        );
        assert_eq!(
            parse("GROUP a").unwrap_err().to_string(),
            "unexpected `a` at line 1 in linker script (expected `(`)"
        );
        assert_eq!(
            parse("(GROUP)").unwrap_err().to_string(),
            "unexpected `(` at line 1 in linker script (expected a command)"
        );
        assert_eq!(
            parse("GROUP(a ; b)").unwrap_err().to_string(),
            "unexpected `;` at line 1 in linker script (expected a file name or `)`)"
        );
    }

    #[test]
    fn every_debian_script_on_this_machine_parses() {
        // Whatever scripts the installed -dev packages ship must be accepted.
        let mut seen = 0;
        for dir in ["/usr/lib/x86_64-linux-gnu", "/usr/arm-linux-gnueabihf/lib"] {
            let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{dir}: {e}"));
            for entry in entries.flatten() {
                let p = entry.path();
                if p.extension().is_none_or(|e| e != "so") || !p.is_file() {
                    continue;
                }
                let Ok(bytes) = std::fs::read(&p) else {
                    continue;
                };
                if is_linker_script(&bytes) {
                    let text = String::from_utf8(bytes).unwrap();
                    parse(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                    seen += 1;
                }
            }
        }
        assert!(
            seen >= 2,
            "expected at least the two libc.so scripts, saw {seen}"
        );
    }
}
