//! The script lexer. GNU ld's lexer changes state with the grammar (a name in an expression
//! ends at `-`, a section pattern does not), so the parser asks for each token in the
//! [`Mode`] the grammar expects there and the lexer re-reads from a position.

use super::ScriptError;

/// How a word is delimited at this point of the grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Symbols, numbers and operators (`a=b+0x10`).
    Expr,
    /// Commands, output section names, file names (`/DISCARD/`, `libc.so.6`).
    Name,
    /// Output section names (`.text`, `/DISCARD/`): GNU ld's symbol characters and `/`.
    Section,
    /// Input section descriptions: wildcards (`*crtbegin?.o`, `.text.[a-z]*`).
    Pattern,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tok<'a> {
    Word(&'a str),
    /// A `"quoted"` name: never a keyword nor a `-l` entry.
    Quoted(&'a str),
    Number(u64),
    Punct(&'static str),
    End,
}

impl Tok<'_> {
    pub fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("`{w}`"),
            Tok::Quoted(q) => format!("\"{q}\""),
            Tok::Number(n) => format!("`{n:#x}`"),
            Tok::Punct(p) => format!("`{p}`"),
            Tok::End => "end of file".into(),
        }
    }
}

/// Operators, longest first so that `<<=` is not read as `<` `<=`.
const PUNCT: &[&str] = &[
    "<<=", ">>=", "+=", "-=", "*=", "/=", "&=", "|=", "^=", "<<", ">>", "==", "!=", "<=", ">=",
    "&&", "||", "(", ")", "{", "}", ";", ",", ":", "=", "+", "-", "*", "/", "%", "&", "|", "^",
    "~", "!", "<", ">", "?",
];

fn is_name_char(c: u8, mode: Mode) -> bool {
    match mode {
        Mode::Expr => c.is_ascii_alphanumeric() || b"_.$\\".contains(&c),
        Mode::Name => c.is_ascii_alphanumeric() || b"_./\\$~-+:[]=@".contains(&c),
        Mode::Section => c.is_ascii_alphanumeric() || b"_./\\$~-".contains(&c),
        Mode::Pattern => c.is_ascii_alphanumeric() || b"_./\\$~-+:[]*?^!@".contains(&c),
    }
}

pub struct Lexer<'a> {
    pub text: &'a str,
    pub pos: usize,
    /// Where the last token read began (for messages about it).
    pub last: usize,
    /// A position and its line, so that lines are counted from there on (the parser asks
    /// for the line of every command).
    pub mark: std::cell::Cell<(usize, usize)>,
}

impl<'a> Lexer<'a> {
    pub fn new(text: &'a str, pos: usize) -> Self {
        Lexer {
            text,
            pos,
            last: pos,
            mark: std::cell::Cell::new((0, 1)),
        }
    }

    /// The 1-based line of byte `pos`.
    pub fn line_at(&self, pos: usize) -> usize {
        let pos = pos.min(self.text.len());
        let (from, line) = match self.mark.get() {
            (at, line) if at <= pos => (at, line),
            _ => (0, 1),
        };
        let line = line
            + self.text.as_bytes()[from..pos]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
        self.mark.set((pos, line));
        line
    }

    pub fn line(&self) -> usize {
        self.line_at(self.skip_blank(self.pos).unwrap_or(self.pos))
    }

    /// Where the next token starts: whitespace and comments skipped.
    fn skip_blank(&self, mut pos: usize) -> Result<usize, ScriptError> {
        let bytes = self.text.as_bytes();
        loop {
            while pos < bytes.len() && bytes[pos].is_ascii_whitespace() {
                pos += 1;
            }
            if !bytes[pos..].starts_with(b"/*") {
                return Ok(pos);
            }
            let end = self.text[pos + 2..]
                .find("*/")
                .ok_or(ScriptError::UnterminatedComment {
                    line: self.line_at(pos),
                })?;
            pos += 2 + end + 2;
        }
    }

    /// The token at the current position in `mode`, and the position after it.
    pub fn peek(&self, mode: Mode) -> Result<(Tok<'a>, usize), ScriptError> {
        let bytes = self.text.as_bytes();
        let start = self.skip_blank(self.pos)?;
        let Some(&c) = bytes.get(start) else {
            return Ok((Tok::End, start));
        };
        if c == b'"' {
            let body = &self.text[start + 1..];
            let end = body.find('"').ok_or(ScriptError::UnterminatedString {
                line: self.line_at(start),
            })?;
            return Ok((Tok::Quoted(&body[..end]), start + 1 + end + 1));
        }
        if mode == Mode::Expr && c.is_ascii_digit() {
            return self.number(start);
        }
        let mut end = start;
        while end < bytes.len()
            && is_name_char(bytes[end], mode)
            && !bytes[end..].starts_with(b"/*")
        {
            end += 1;
        }
        if end > start {
            return Ok((Tok::Word(&self.text[start..end]), end));
        }
        for p in PUNCT {
            if bytes[start..].starts_with(p.as_bytes()) {
                return Ok((Tok::Punct(p), start + p.len()));
            }
        }
        Err(ScriptError::Unexpected {
            found: format!(
                "character `{}`",
                self.text[start..].chars().next().unwrap_or(' ')
            ),
            expected: "a token",
            line: self.line_at(start),
        })
    }

    /// The line for a message about token `tok`, just read.
    pub fn line_of_read(&self, tok: &Tok) -> usize {
        match tok {
            Tok::End => self.line(),
            _ => self.line_at(self.last),
        }
    }

    pub fn next(&mut self, mode: Mode) -> Result<Tok<'a>, ScriptError> {
        let (tok, end) = self.peek(mode)?;
        self.last = self.skip_blank(self.pos)?;
        self.pos = end;
        Ok(tok)
    }

    fn number(&self, start: usize) -> Result<(Tok<'a>, usize), ScriptError> {
        let bytes = self.text.as_bytes();
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric()) {
            end += 1;
        }
        let text = &self.text[start..end];
        let value = parse_number(text).ok_or_else(|| ScriptError::Unexpected {
            found: format!("`{text}`"),
            expected: "a number",
            line: self.line_at(start),
        })?;
        Ok((Tok::Number(value), end))
    }
}

/// A number as GNU ld reads one: `0x` hex, a leading `0` octal, an `h`/`o`/`b`/`d` radix
/// suffix or a `K`/`M` multiplier.
pub fn parse_number(text: &str) -> Option<u64> {
    let (body, scale) = match text.as_bytes().last()? {
        b'K' | b'k' => (&text[..text.len() - 1], 1024),
        b'M' | b'm' => (&text[..text.len() - 1], 1024 * 1024),
        _ => (text, 1),
    };
    let (digits, radix) =
        if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (hex, 16)
        } else if let Some(hex) = body.strip_prefix('$') {
            (hex, 16)
        } else {
            match body.as_bytes().last()? {
                b'h' | b'H' => (&body[..body.len() - 1], 16),
                b'o' | b'O' => (&body[..body.len() - 1], 8),
                b'b' | b'B' if !body.starts_with("0x") => (&body[..body.len() - 1], 2),
                b'd' | b'D' => (&body[..body.len() - 1], 10),
                _ if body.len() > 1 && body.starts_with('0') => (&body[1..], 8),
                _ => (body, 10),
            }
        };
    if digits.is_empty() {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()?.checked_mul(scale)
}
