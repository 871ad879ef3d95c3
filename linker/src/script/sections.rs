//! `SECTIONS { ... }`: output section descriptions, the input section descriptions inside
//! them, symbol assignments and `ASSERT`s, in the forms programs and libraries write.
//! What the layout makes of them is `layout::script_placement`'s.

use super::expr::Expr;
use super::lex::{Mode, Tok};
use super::{Assertion, Assignment, Loc, Parser, ScriptError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionItem {
    Assign(Assignment),
    Assert(Assertion),
    Output(OutputSection),
}

/// `ONLY_IF_RO` / `ONLY_IF_RW`: the statement counts only when every input it takes is
/// read-only (writable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    ReadOnly,
    Writable,
}

/// `NAME [ADDRESS] : [ALIGN(a)] [SUBALIGN(s)] [ONLY_IF_RO|ONLY_IF_RW] { body }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputSection {
    pub name: String,
    /// Accepted for sections that are not loaded (`.debug_info 0 :`), where it is 0.
    pub address: Option<Expr>,
    pub constraint: Option<Constraint>,
    pub align: Option<Expr>,
    pub subalign: Option<Expr>,
    pub body: Vec<BodyItem>,
    pub at: Loc,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyItem {
    Input(InputDesc),
    /// An assignment inside the section: `.` is the address at that point.
    Assign(Assignment),
    Assert(Assertion),
    /// `BYTE`, `SHORT`, `LONG`, `QUAD`: `size` bytes holding the value.
    Data {
        size: u8,
        value: Expr,
        at: Loc,
    },
}

/// How input sections matched by one pattern are ordered (outermost key first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Name,
    Alignment,
    InitPriority,
}

/// One section pattern of an input section description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionSpec {
    pub pattern: String,
    /// `EXCLUDE_FILE(...)` before it: files whose sections it does not match.
    pub exclude_files: Vec<String>,
    pub sort: Vec<SortKey>,
}

/// `[KEEP(] FILE [(SECTIONS...)] [)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputDesc {
    pub keep: bool,
    pub file: String,
    pub exclude_files: Vec<String>,
    /// `None`: every section of the matching files (`foo.o` alone).
    pub sections: Option<Vec<SectionSpec>>,
    pub at: Loc,
}

fn sort_key(word: &str) -> Option<Option<SortKey>> {
    Some(match word {
        "SORT" | "SORT_BY_NAME" => Some(SortKey::Name),
        "SORT_BY_ALIGNMENT" => Some(SortKey::Alignment),
        "SORT_BY_INIT_PRIORITY" => Some(SortKey::InitPriority),
        "SORT_NONE" => None,
        _ => return None,
    })
}

impl<'a> Parser<'a> {
    fn unsupported(&self, what: &str) -> ScriptError {
        ScriptError::Unsupported {
            command: what.to_string(),
            line: self.lex.line(),
        }
    }

    /// The statements of `SECTIONS`, its keyword read.
    pub(super) fn sections(&mut self) -> Result<Vec<SectionItem>, ScriptError> {
        self.expect("{", "`{` after SECTIONS")?;
        let mut items = Vec::new();
        loop {
            self.count()?;
            if self.at_assignment()? {
                items.push(SectionItem::Assign(self.assignment(None)?));
                continue;
            }
            match self.peek(Mode::Expr)? {
                Tok::Punct("}") => {
                    self.next(Mode::Expr)?;
                    return Ok(items);
                }
                Tok::Punct(";") => {
                    self.next(Mode::Expr)?;
                    continue;
                }
                Tok::Word(w @ ("PROVIDE" | "PROVIDE_HIDDEN" | "HIDDEN")) => {
                    self.next(Mode::Expr)?;
                    items.push(SectionItem::Assign(self.assignment(Some(w))?));
                    continue;
                }
                Tok::Word("ASSERT") => {
                    self.next(Mode::Expr)?;
                    items.push(SectionItem::Assert(self.assertion()?));
                    continue;
                }
                Tok::Word(w @ ("OVERLAY" | "INCLUDE" | "ENTRY")) => {
                    return Err(self.unsupported(&format!("{w} inside SECTIONS")))
                }
                _ => {}
            }
            items.push(SectionItem::Output(self.output_section()?));
        }
    }

    fn output_section(&mut self) -> Result<OutputSection, ScriptError> {
        let at = self.loc();
        let name = match self.next(Mode::Section)? {
            Tok::Word(w) | Tok::Quoted(w) => w.to_string(),
            other => return Err(self.unexpected(other, "an output section name")),
        };
        let mut address = None;
        if self.peek(Mode::Expr)? != Tok::Punct(":") {
            let e = self.expr()?;
            if let Expr::Sym(ty) = &e {
                if matches!(
                    ty.as_str(),
                    "NOLOAD" | "DSECT" | "COPY" | "INFO" | "OVERLAY" | "READONLY"
                ) {
                    return Err(self.unsupported(&format!("type ({ty}) of output section {name}")));
                }
            }
            if self.peek(Mode::Expr)? == Tok::Punct("(") {
                return Err(self.unsupported(&format!("a type of output section {name}")));
            }
            address = Some(e);
        }
        self.expect(":", "`:` after the output section name")?;
        let (mut align, mut subalign, mut constraint) = (None, None, None);
        loop {
            match self.peek(Mode::Expr)? {
                Tok::Word("ALIGN") => {
                    self.next(Mode::Expr)?;
                    align = Some(self.paren_expr()?);
                }
                Tok::Word("SUBALIGN") => {
                    self.next(Mode::Expr)?;
                    subalign = Some(self.paren_expr()?);
                }
                Tok::Word("ALIGN_WITH_INPUT") => {
                    self.next(Mode::Expr)?;
                }
                Tok::Word(w @ ("ONLY_IF_RO" | "ONLY_IF_RW")) => {
                    self.next(Mode::Expr)?;
                    constraint = Some(if w == "ONLY_IF_RO" {
                        Constraint::ReadOnly
                    } else {
                        Constraint::Writable
                    });
                }
                Tok::Word("AT") => {
                    return Err(self.unsupported(&format!("AT on output section {name}")))
                }
                _ => break,
            }
        }
        self.expect("{", "`{` of the output section")?;
        let body = self.section_body()?;
        match self.peek(Mode::Expr)? {
            Tok::Punct(p @ (">" | ":" | "=")) => {
                let what = match p {
                    ">" => "a memory region (MEMORY is not supported)",
                    ":" => "a program header (PHDRS is not supported)",
                    _ => "a fill pattern",
                };
                return Err(self.unsupported(&format!("{what} after output section {name}")));
            }
            Tok::Word("AT") => {
                return Err(self.unsupported(&format!("AT> after output section {name}")))
            }
            Tok::Punct(",") => {
                self.next(Mode::Expr)?;
            }
            _ => {}
        }
        Ok(OutputSection {
            name,
            address,
            constraint,
            align,
            subalign,
            body,
            at,
        })
    }

    fn paren_expr(&mut self) -> Result<Expr, ScriptError> {
        self.expect("(", "`(`")?;
        let e = self.expr()?;
        self.expect(")", "`)`")?;
        Ok(e)
    }

    fn section_body(&mut self) -> Result<Vec<BodyItem>, ScriptError> {
        let mut body = Vec::new();
        loop {
            self.count()?;
            if self.at_assignment()? {
                body.push(BodyItem::Assign(self.assignment(None)?));
                continue;
            }
            let at = self.loc();
            match self.peek(Mode::Expr)? {
                Tok::Punct("}") => {
                    self.next(Mode::Expr)?;
                    return Ok(body);
                }
                Tok::Punct(";") => {
                    self.next(Mode::Expr)?;
                }
                Tok::End => return Err(self.unexpected_next(Tok::End, "`}`")),
                Tok::Word(w @ ("PROVIDE" | "PROVIDE_HIDDEN" | "HIDDEN")) => {
                    self.next(Mode::Expr)?;
                    body.push(BodyItem::Assign(self.assignment(Some(w))?));
                }
                Tok::Word("ASSERT") => {
                    self.next(Mode::Expr)?;
                    body.push(BodyItem::Assert(self.assertion()?));
                }
                // Meaningful for a.out and ECOFF only; ELF's constructors are sections.
                Tok::Word("CONSTRUCTORS") => {
                    self.next(Mode::Expr)?;
                }
                Tok::Word("SORT") if self.sorted_constructors()? => {}
                Tok::Word(w @ ("BYTE" | "SHORT" | "LONG" | "QUAD" | "SQUAD")) => {
                    self.next(Mode::Expr)?;
                    let size = match w {
                        "BYTE" => 1,
                        "SHORT" => 2,
                        "LONG" => 4,
                        _ => 8,
                    };
                    let value = self.paren_expr()?;
                    self.eat(";")?;
                    body.push(BodyItem::Data { size, value, at });
                }
                Tok::Word(w @ ("FILL" | "INCLUDE" | "CREATE_OBJECT_SYMBOLS")) => {
                    return Err(self.unsupported(&format!("{w} inside an output section")))
                }
                Tok::Word("KEEP") => {
                    self.next(Mode::Expr)?;
                    self.expect("(", "`(` after KEEP")?;
                    body.push(BodyItem::Input(self.input_desc(true, at)?));
                    self.expect(")", "`)` closing KEEP")?;
                }
                _ => body.push(BodyItem::Input(self.input_desc(false, at)?)),
            }
        }
    }

    /// Reads `SORT(CONSTRUCTORS)` (GNU ld's default scripts have it), if that is next.
    fn sorted_constructors(&mut self) -> Result<bool, ScriptError> {
        let start = self.lex.pos;
        let found = self.next(Mode::Pattern)? == Tok::Word("SORT")
            && self.next(Mode::Pattern)? == Tok::Punct("(")
            && self.next(Mode::Pattern)? == Tok::Word("CONSTRUCTORS")
            && self.next(Mode::Pattern)? == Tok::Punct(")");
        if !found {
            self.lex.pos = start;
        }
        Ok(found)
    }

    /// `(pattern pattern ...)`: the names of `EXCLUDE_FILE`.
    fn pattern_list(&mut self) -> Result<Vec<String>, ScriptError> {
        self.expect("(", "`(`")?;
        let mut names = Vec::new();
        loop {
            self.count()?;
            match self.next(Mode::Pattern)? {
                Tok::Punct(")") => return Ok(names),
                Tok::Punct(",") => {}
                Tok::Word(w) | Tok::Quoted(w) => names.push(w.to_string()),
                other => return Err(self.unexpected(other, "a file name pattern or `)`")),
            }
        }
    }

    fn pattern_word(&mut self) -> Result<String, ScriptError> {
        match self.next(Mode::Pattern)? {
            Tok::Word(w) | Tok::Quoted(w) => Ok(w.to_string()),
            Tok::Punct("*") => Ok("*".into()),
            other => Err(self.unexpected(other, "a pattern")),
        }
    }

    fn input_desc(&mut self, keep: bool, at: Loc) -> Result<InputDesc, ScriptError> {
        let mut exclude_files = Vec::new();
        let mut file = self.pattern_word()?;
        if file == "EXCLUDE_FILE" {
            exclude_files = self.pattern_list()?;
            file = self.pattern_word()?;
        } else if sort_key(&file).is_some() && self.peek(Mode::Pattern)? == Tok::Punct("(") {
            return Err(self.unsupported("sorting input files (SORT around a file name)"));
        }
        let sections = if self.peek(Mode::Pattern)? == Tok::Punct("(") {
            self.next(Mode::Pattern)?;
            Some(self.section_specs()?)
        } else {
            None
        };
        Ok(InputDesc {
            keep,
            file,
            exclude_files,
            sections,
            at,
        })
    }

    fn section_specs(&mut self) -> Result<Vec<SectionSpec>, ScriptError> {
        let mut specs = Vec::new();
        loop {
            self.count()?;
            match self.peek(Mode::Pattern)? {
                Tok::Punct(")") => {
                    self.next(Mode::Pattern)?;
                    return Ok(specs);
                }
                Tok::Punct(",") => {
                    self.next(Mode::Pattern)?;
                }
                _ => specs.push(self.section_spec(0)?),
            }
        }
    }

    fn section_spec(&mut self, depth: usize) -> Result<SectionSpec, ScriptError> {
        let word = self.pattern_word()?;
        if word == "EXCLUDE_FILE" {
            let exclude_files = self.pattern_list()?;
            let pattern = self.pattern_word()?;
            return Ok(SectionSpec {
                pattern,
                exclude_files,
                sort: Vec::new(),
            });
        }
        match sort_key(&word) {
            Some(key) if self.peek(Mode::Pattern)? == Tok::Punct("(") => {
                if depth > 2 {
                    return Err(ScriptError::TooDeep {
                        line: self.lex.line(),
                    });
                }
                self.next(Mode::Pattern)?;
                let mut inner = self.section_spec(depth + 1)?;
                self.expect(")", "`)` closing the sort")?;
                inner.sort.splice(0..0, key);
                Ok(inner)
            }
            _ => Ok(SectionSpec {
                pattern: word,
                exclude_files: Vec::new(),
                sort: Vec::new(),
            }),
        }
    }
}
