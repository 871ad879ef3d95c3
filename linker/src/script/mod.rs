//! GNU ld linker scripts: the commands of the scripts distributions install in place of a
//! shared library (`GROUP`, `INPUT`, `AS_NEEDED`, `OUTPUT_FORMAT`, `OUTPUT_ARCH`,
//! `SEARCH_DIR`, `ENTRY`) and those programs and libraries write: symbol assignments
//! (`PROVIDE`, `PROVIDE_HIDDEN`, `HIDDEN`), `ASSERT`, `EXTERN`, `INCLUDE`, `VERSION`,
//! `SECTIONS` ([`sections`]) and `INSERT`, with expressions ([`expr`]).
//!
//! What a script does to the link is [`load`]'s (files, `INCLUDE`, options),
//! [`define`]'s (symbols, `/DISCARD/`, `KEEP`) and `layout::script_placement`'s (sections,
//! values after layout, `ASSERT`).
//! Resolving the file names a script mentions is the job of [`crate::search`].

pub mod define;
pub mod expr;
pub mod lex;
pub mod load;
pub mod sections;

use expr::{Expr, ExprParser};
use lex::{Lexer, Mode, Tok};
pub use sections::{BodyItem, InputDesc, OutputSection, SectionItem, SectionSpec, SortKey};
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
    Assign(Assignment),
    Assert(Assertion),
    /// `EXTERN(a b)`: as `-u a -u b`.
    Extern(Vec<String>),
    /// `INCLUDE file`, expanded by [`load`].
    Include {
        file: String,
        line: usize,
    },
    /// `VERSION { ... }`: the body, for [`crate::version_script`].
    Version {
        body: String,
        line: usize,
    },
    Sections(Vec<SectionItem>),
    /// `INSERT AFTER|BEFORE section`: the script's `SECTIONS` augment the default layout.
    Insert {
        after: bool,
        anchor: String,
    },
}

/// Which symbol a script assignment defines and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignKind {
    Plain,
    /// Only when something refers to the symbol and nothing defines it.
    Provide,
    ProvideHidden,
    Hidden,
}

/// `name = expr;` (`+=` and the like are rewritten as `name = name + expr`); `name` is `.`
/// for the location counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub name: String,
    pub expr: Expr,
    pub kind: AssignKind,
    pub at: Loc,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    pub expr: Expr,
    pub message: String,
    pub at: Loc,
}

/// Where a command was written, for messages: `file:line`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Loc {
    pub file: std::sync::Arc<str>,
    pub line: usize,
}

impl std::fmt::Display for Loc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
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
    #[error("linker script nests too deeply at line {line}")]
    TooDeep { line: usize },
}

/// Whether `bytes` should be read as a linker script: not ELF, not an archive, and text.
///
/// ld.bfd tries a script when every object format fails; we approximate that with a
/// textual check so that a corrupt ELF file is never reported as a script syntax error.
/// How much of a file [`is_linker_script`] looks at.
pub const SCRIPT_HEAD_BYTES: usize = 4096;

pub fn is_linker_script(bytes: &[u8]) -> bool {
    if bytes.is_empty()
        || bytes.starts_with(b"\x7fELF")
        || bytes.starts_with(b"!<arch>\n")
        || bytes.starts_with(b"!<thin>\n")
    {
        return false;
    }
    let head = &bytes[..bytes.len().min(SCRIPT_HEAD_BYTES)];
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

/// The assignment operators and the binary operator each stands for (`None`: `=`).
const ASSIGN_OPS: &[(&str, Option<expr::BinOp>)] = &[
    ("=", None),
    ("+=", Some(expr::BinOp::Add)),
    ("-=", Some(expr::BinOp::Sub)),
    ("*=", Some(expr::BinOp::Mul)),
    ("/=", Some(expr::BinOp::Div)),
    ("<<=", Some(expr::BinOp::Shl)),
    (">>=", Some(expr::BinOp::Shr)),
    ("&=", Some(expr::BinOp::And)),
    ("|=", Some(expr::BinOp::Or)),
    ("^=", Some(expr::BinOp::Xor)),
];

/// Largest number of commands, section statements and patterns one script may hold.
const MAX_ITEMS: usize = 1 << 20;

pub(crate) struct Parser<'a> {
    pub lex: Lexer<'a>,
    pub file: std::sync::Arc<str>,
    pub items: usize,
}

impl<'a> Parser<'a> {
    pub fn loc(&self) -> Loc {
        Loc {
            file: self.file.clone(),
            line: self.lex.line(),
        }
    }

    pub fn count(&mut self) -> Result<(), ScriptError> {
        self.items += 1;
        if self.items > MAX_ITEMS {
            return Err(ScriptError::TooDeep {
                line: self.lex.line(),
            });
        }
        Ok(())
    }

    pub fn peek(&self, mode: Mode) -> Result<Tok<'a>, ScriptError> {
        Ok(self.lex.peek(mode)?.0)
    }

    pub fn next(&mut self, mode: Mode) -> Result<Tok<'a>, ScriptError> {
        self.lex.next(mode)
    }

    /// An error about token `found`, just read.
    pub fn unexpected(&self, found: Tok, expected: &'static str) -> ScriptError {
        ScriptError::Unexpected {
            found: found.describe(),
            expected,
            line: self.lex.line_of_read(&found),
        }
    }

    /// An error about the next token, not read.
    pub fn unexpected_next(&self, found: Tok, expected: &'static str) -> ScriptError {
        ScriptError::Unexpected {
            found: found.describe(),
            expected,
            line: self.lex.line(),
        }
    }

    pub fn expect(
        &mut self,
        punct: &'static str,
        expected: &'static str,
    ) -> Result<(), ScriptError> {
        match self.peek(Mode::Expr)? {
            Tok::Punct(p) if p == punct => {
                self.next(Mode::Expr)?;
                Ok(())
            }
            other => Err(self.unexpected_next(other, expected)),
        }
    }

    pub fn eat(&mut self, punct: &'static str) -> Result<bool, ScriptError> {
        let hit = self.peek(Mode::Expr)? == Tok::Punct(punct);
        if hit {
            self.next(Mode::Expr)?;
        }
        Ok(hit)
    }

    pub fn expr(&mut self) -> Result<Expr, ScriptError> {
        ExprParser::new(&mut self.lex).expr()
    }

    /// Comma- or space-separated names up to the closing parenthesis.
    fn name_list(&mut self) -> Result<Vec<String>, ScriptError> {
        let mut names = Vec::new();
        loop {
            match self.next(Mode::Name)? {
                Tok::Punct(")") => return Ok(names),
                Tok::Punct(",") => {}
                Tok::Word(w) | Tok::Quoted(w) => names.push(w.to_string()),
                other => return Err(self.unexpected(other, "a name or `)`")),
            }
        }
    }

    fn single_name(&mut self, command: &'static str, line: usize) -> Result<String, ScriptError> {
        self.expect("(", "`(`")?;
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
            self.count()?;
            match self.next(Mode::Name)? {
                Tok::Punct(")") => return Ok(()),
                Tok::Punct(",") => {}
                Tok::Word("AS_NEEDED") if self.peek(Mode::Name)? == Tok::Punct("(") => {
                    self.next(Mode::Name)?;
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
                other => return Err(self.unexpected(other, "a file name or `)`")),
            }
        }
    }

    /// After a symbol name: `= expr;`, `+= expr;`, ... (`terminated`: the `;` is required).
    pub fn assignment_rest(
        &mut self,
        name: &str,
        kind: AssignKind,
        at: Loc,
    ) -> Result<Assignment, ScriptError> {
        let op = match self.next(Mode::Expr)? {
            Tok::Punct(p) => ASSIGN_OPS.iter().find(|(o, _)| *o == p).map(|(_, op)| *op),
            _ => None,
        };
        let Some(op) = op else {
            return Err(ScriptError::Unexpected {
                found: "no assignment operator".into(),
                expected: "`=` after the symbol name",
                line: at.line,
            });
        };
        let value = self.expr()?;
        let lhs = || {
            if name == "." {
                Expr::Dot
            } else {
                Expr::Sym(name.to_string())
            }
        };
        let expr = match op {
            None => value,
            Some(op) => Expr::Binary(op, Box::new(lhs()), Box::new(value)),
        };
        Ok(Assignment {
            name: name.to_string(),
            expr,
            kind,
            at,
        })
    }

    /// Whether the next tokens are `NAME op` for an assignment operator.
    pub fn at_assignment(&self) -> Result<bool, ScriptError> {
        let (tok, end) = self.lex.peek(Mode::Expr)?;
        if !matches!(tok, Tok::Word(_) | Tok::Quoted(_)) {
            return Ok(false);
        }
        let after = Lexer::new(self.lex.text, end);
        Ok(
            matches!(after.peek(Mode::Expr)?.0, Tok::Punct(p) if ASSIGN_OPS.iter().any(|(o, _)| *o == p)),
        )
    }

    /// A plain assignment, or `PROVIDE(...)`/`PROVIDE_HIDDEN(...)`/`HIDDEN(...)` whose
    /// keyword has been read; then the terminating `;`.
    pub fn assignment(&mut self, keyword: Option<&str>) -> Result<Assignment, ScriptError> {
        let at = self.loc();
        let kind = match keyword {
            None => AssignKind::Plain,
            Some("PROVIDE") => AssignKind::Provide,
            Some("PROVIDE_HIDDEN") => AssignKind::ProvideHidden,
            Some(_) => AssignKind::Hidden,
        };
        if keyword.is_some() {
            self.expect("(", "`(`")?;
        }
        let name = match self.next(Mode::Expr)? {
            Tok::Word(w) | Tok::Quoted(w) => w.to_string(),
            other => return Err(self.unexpected(other, "a symbol name")),
        };
        if keyword.is_some() && name == "." {
            return Err(self.unexpected(Tok::Word("."), "a symbol name"));
        }
        let a = self.assignment_rest(&name, kind, at)?;
        if keyword.is_some() {
            self.expect(")", "`)`")?;
        }
        self.expect(";", "`;` after the assignment")?;
        Ok(a)
    }

    /// `ASSERT(expr, "message")`, its keyword read.
    pub fn assertion(&mut self) -> Result<Assertion, ScriptError> {
        let at = self.loc();
        self.expect("(", "`(`")?;
        let expr = self.expr()?;
        self.expect(",", "`,`")?;
        let message = match self.next(Mode::Name)? {
            Tok::Word(w) | Tok::Quoted(w) => w.to_string(),
            other => return Err(self.unexpected(other, "a message")),
        };
        self.expect(")", "`)`")?;
        self.eat(";")?;
        Ok(Assertion { expr, message, at })
    }

    /// The text between `{` and its matching `}` (strings and comments skipped), the `{`
    /// next.
    fn braced_text(&mut self) -> Result<String, ScriptError> {
        self.expect("{", "`{`")?;
        let bytes = self.lex.text.as_bytes();
        let start = self.lex.pos;
        let mut depth = 1usize;
        let mut pos = start;
        while pos < bytes.len() {
            match bytes[pos] {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        self.lex.pos = pos + 1;
                        return Ok(self.lex.text[start..pos].to_string());
                    }
                }
                b'"' => {
                    pos += self.lex.text[pos + 1..]
                        .find('"')
                        .map_or(bytes.len(), |e| e + 1);
                }
                b'/' if bytes[pos..].starts_with(b"/*") => {
                    pos += self.lex.text[pos..]
                        .find("*/")
                        .map_or(bytes.len(), |e| e + 1);
                }
                _ => {}
            }
            pos += 1;
        }
        Err(ScriptError::Unexpected {
            found: "end of file".into(),
            expected: "`}`",
            line: self.lex.line_at(bytes.len()),
        })
    }

    fn command(&mut self, word: &'a str, line: usize) -> Result<Command, ScriptError> {
        Ok(match word {
            "GROUP" | "INPUT" => {
                self.expect("(", "`(`")?;
                let mut inputs = Vec::new();
                self.input_list(false, &mut inputs)?;
                if word == "GROUP" {
                    Command::Group(inputs)
                } else {
                    Command::Input(inputs)
                }
            }
            "OUTPUT_FORMAT" => {
                self.expect("(", "`(`")?;
                let names = self.name_list()?;
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
            "OUTPUT_ARCH" => Command::OutputArch(self.single_name("OUTPUT_ARCH", line)?),
            "SEARCH_DIR" => Command::SearchDir(self.single_name("SEARCH_DIR", line)?),
            "ENTRY" => Command::Entry(self.single_name("ENTRY", line)?),
            "EXTERN" => {
                self.expect("(", "`(`")?;
                Command::Extern(self.name_list()?)
            }
            "PROVIDE" | "PROVIDE_HIDDEN" | "HIDDEN" => {
                Command::Assign(self.assignment(Some(word))?)
            }
            "ASSERT" => Command::Assert(self.assertion()?),
            "INCLUDE" => match self.next(Mode::Name)? {
                Tok::Word(w) | Tok::Quoted(w) => Command::Include {
                    file: w.to_string(),
                    line,
                },
                other => return Err(self.unexpected(other, "a file name")),
            },
            "VERSION" => Command::Version {
                body: self.braced_text()?,
                line,
            },
            "SECTIONS" => Command::Sections(self.sections()?),
            "INSERT" => {
                let after = match self.next(Mode::Name)? {
                    Tok::Word("AFTER") => true,
                    Tok::Word("BEFORE") => false,
                    other => return Err(self.unexpected(other, "AFTER or BEFORE")),
                };
                let anchor = match self.next(Mode::Section)? {
                    Tok::Word(w) => w.to_string(),
                    other => return Err(self.unexpected(other, "an output section name")),
                };
                Command::Insert { after, anchor }
            }
            other => {
                return Err(ScriptError::Unsupported {
                    command: other.to_string(),
                    line,
                })
            }
        })
    }
}

/// Parses a whole script. Errors name the line (1-based) and the offending token; the
/// caller adds the file name.
pub fn parse(text: &str) -> Result<Vec<Command>, ScriptError> {
    parse_file(text, "")
}

/// [`parse`], the commands' locations naming `file`.
pub fn parse_file(text: &str, file: &str) -> Result<Vec<Command>, ScriptError> {
    let mut parser = Parser {
        lex: Lexer::new(text, 0),
        file: file.into(),
        items: 0,
    };
    let mut commands = Vec::new();
    loop {
        parser.count()?;
        let line = parser.lex.line();
        if parser.at_assignment()? {
            commands.push(Command::Assign(parser.assignment(None)?));
            continue;
        }
        let word = match parser.next(Mode::Expr)? {
            Tok::End => return Ok(commands),
            // ld accepts `;` between commands.
            Tok::Punct(";") => continue,
            Tok::Word(w) => w,
            other => return Err(parser.unexpected(other, "a command")),
        };
        commands.push(parser.command(word, line)?);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expr::Expr;

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
            "{",
            "}",
            "=",
            "+=",
            "*",
            ".",
            ":",
            "?",
            "ALIGN",
            "KEEP",
            "SORT",
            "EXCLUDE_FILE",
            "PROVIDE",
            "ASSERT",
            "VERSION",
            "INCLUDE",
            "INSERT",
            "BYTE",
            "/DISCARD/",
            "0x1f",
            "077",
            "1K",
            ".text",
            "<<=",
        ];
        for _ in 0..40_000 {
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
        let err = parse("/* x */\nOUTPUT_FORMAT(elf64-x86-64)\n\nMEMORY { rom : ORIGIN = 0 }")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported linker script command MEMORY at line 4"
        );
        let err = parse("GROUP(a)\nfoo 1;").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported linker script command foo at line 2"
        );
        let err = parse("SECTIONS {\n .text : { *(.text) } > rom\n}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported linker script command a memory region (MEMORY is not supported) \
             after output section .text at line 2"
        );
    }

    #[test]
    fn assignments_sections_and_the_rest() {
        let text = r#"
EXTERN(a b)
x = 4K + y; y += 2;
PROVIDE(p = .); PROVIDE_HIDDEN(q = 1); HIDDEN(h = 2);
ASSERT(x > 1, "x too small")
INCLUDE more.ld
VERSION { V1 { global: f; local: *; }; }
SECTIONS {
  . = ALIGN(0x1000);
  .text : ALIGN(16) { *(.text .text.*) KEEP(*crtbegin.o(.ctors)) }
  .mytable : {
    __start_t = .;
    KEEP(*(SORT_BY_NAME(.mytable.*)))
    EXCLUDE_FILE(*skip.o) *(.data)
    *(EXCLUDE_FILE(*a.o) .rodata)
    . = ALIGN(8);
    __stop_t = .;
  }
  /DISCARD/ : { *(.comment) }
}
INSERT AFTER .data;
"#;
        let cmds = parse(text).unwrap();
        assert_eq!(cmds.len(), 11);
        assert_eq!(cmds[0], Command::Extern(vec!["a".into(), "b".into()]));
        let Command::Assign(y) = &cmds[2] else {
            panic!("{:?}", cmds[2])
        };
        assert_eq!(y.name, "y");
        assert!(matches!(y.expr, Expr::Binary(expr::BinOp::Add, _, _)));
        assert!(matches!(&cmds[5], Command::Assign(a) if a.kind == AssignKind::Hidden));
        assert!(
            matches!(&cmds[6], Command::Assert(a) if a.message == "x too small" && a.at.line == 5)
        );
        assert!(matches!(&cmds[7], Command::Include { file, line: 6 } if file == "more.ld"));
        assert!(matches!(&cmds[8], Command::Version { body, .. } if body.contains("local: *;")));
        let Command::Sections(items) = &cmds[9] else {
            panic!()
        };
        assert_eq!(items.len(), 4);
        let SectionItem::Output(table) = &items[2] else {
            panic!()
        };
        assert_eq!(table.name, ".mytable");
        assert_eq!(table.body.len(), 6);
        let BodyItem::Input(keep) = &table.body[1] else {
            panic!()
        };
        assert!(keep.keep);
        let spec = &keep.sections.as_ref().unwrap()[0];
        assert_eq!(
            (spec.pattern.as_str(), &spec.sort[..]),
            (".mytable.*", &[SortKey::Name][..])
        );
        let BodyItem::Input(data) = &table.body[2] else {
            panic!()
        };
        assert_eq!(data.exclude_files, vec!["*skip.o".to_string()]);
        let BodyItem::Input(ro) = &table.body[3] else {
            panic!()
        };
        assert_eq!(
            ro.sections.as_ref().unwrap()[0].exclude_files,
            vec!["*a.o".to_string()]
        );
        assert!(matches!(&items[3], SectionItem::Output(o) if o.name == "/DISCARD/"));
        assert_eq!(
            cmds[10],
            Command::Insert {
                after: true,
                anchor: ".data".into()
            }
        );
    }

    #[test]
    fn syntax_errors_name_the_line() {
        assert_eq!(
            parse("\n\nx = ;").unwrap_err().to_string(),
            "unexpected `;` at line 3 in linker script (expected an expression)"
        );
        assert_eq!(
            parse("SECTIONS {\n .text : { *(.text) \n")
                .unwrap_err()
                .to_string(),
            "unexpected end of file at line 3 in linker script (expected `}`)"
        );
        assert_eq!(
            parse("x = 1").unwrap_err().to_string(),
            "unexpected end of file at line 1 in linker script (expected `;` after the assignment)"
        );
        let deep = format!("x = {}1{};", "(".repeat(5000), ")".repeat(5000));
        assert!(parse(&deep).unwrap_err().to_string().contains("too deeply"));
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
