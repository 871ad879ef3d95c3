//! The expression language of scripts and `--defsym`: GNU ld's operators and precedence
//! (`ld/ldgram.y`) and the built-in functions programs and GNU ld's own scripts use.
//! Parsed before the link; evaluated after layout through an [`Env`] that knows addresses.

use super::lex::{Lexer, Mode, Tok};
use super::ScriptError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Mul,
    Div,
    Rem,
    Add,
    Sub,
    Shl,
    Shr,
    Lt,
    Gt,
    Le,
    Ge,
    Eq,
    Ne,
    And,
    Xor,
    Or,
    AndAnd,
    OrOr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Not,
    Complement,
}

/// What a section function asks of an output section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectionQuery {
    Addr,
    Size,
    LoadAddr,
    Align,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    Num(u64),
    Sym(String),
    /// `.`, the location counter.
    Dot,
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `ALIGN(e, n)`; `ALIGN(n)` is `ALIGN(., n)`.
    Align(Box<Expr>, Box<Expr>),
    Section(SectionQuery, String),
    Defined(String),
    Absolute(Box<Expr>),
    Max(Box<Expr>, Box<Expr>),
    Min(Box<Expr>, Box<Expr>),
    SizeofHeaders,
    MaxPageSize,
    CommonPageSize,
    /// `SEGMENT_START("name", default)`: tether has no `-T<segment>` options but
    /// `-Ttext-segment`, so it is the default.
    SegmentStart(Box<Expr>),
    /// `DATA_SEGMENT_ALIGN(max, common)`, `DATA_SEGMENT_RELRO_END(off, e)`,
    /// `DATA_SEGMENT_END(e)`: the layout already aligns the data segment and RELRO as GNU
    /// ld's default script asks, so as values they are the location counter.
    DataSegment(Vec<Expr>),
}

/// What an expression's value is ([`Expr::kind`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// A literal or arithmetic on literals: an offset inside an output section.
    Number,
    Absolute,
    /// An address in the output, which moves with the load address.
    Address,
}

/// What evaluation needs from the link.
pub trait Env {
    fn dot(&self) -> Result<u64, String>;
    fn symbol(&self, name: &str) -> Result<u64, String>;
    fn is_defined(&self, name: &str) -> bool;
    fn section(&self, query: SectionQuery, name: &str) -> Result<u64, String>;
    fn sizeof_headers(&self) -> u64;
    fn max_page_size(&self) -> u64;
    fn common_page_size(&self) -> u64;
}

/// Deepest nesting of parentheses and operators a script may use.
const MAX_DEPTH: usize = 200;

fn align_up(value: u64, align: u64) -> Result<u64, String> {
    if align == 0 {
        return Ok(value);
    }
    value
        .checked_next_multiple_of(align)
        .ok_or_else(|| format!("ALIGN({value:#x}, {align:#x}) overflows"))
}

impl Expr {
    pub fn eval(&self, env: &dyn Env) -> Result<u64, String> {
        let b = |e: &Expr| e.eval(env);
        Ok(match self {
            Expr::Num(n) => *n,
            Expr::Sym(name) => env.symbol(name)?,
            Expr::Dot | Expr::DataSegment(_) => env.dot()?,
            Expr::Unary(op, e) => {
                let v = b(e)?;
                match op {
                    UnOp::Neg => v.wrapping_neg(),
                    UnOp::Not => (v == 0) as u64,
                    UnOp::Complement => !v,
                }
            }
            Expr::Binary(op, l, r) => binary(*op, b(l)?, b(r)?)?,
            Expr::Cond(c, t, f) => {
                if b(c)? != 0 {
                    b(t)?
                } else {
                    b(f)?
                }
            }
            Expr::Align(e, n) => align_up(b(e)?, b(n)?)?,
            Expr::Section(q, name) => env.section(*q, name)?,
            Expr::Defined(name) => env.is_defined(name) as u64,
            Expr::Absolute(e) => b(e)?,
            Expr::Max(l, r) => b(l)?.max(b(r)?),
            Expr::Min(l, r) => b(l)?.min(b(r)?),
            Expr::SizeofHeaders => env.sizeof_headers(),
            Expr::MaxPageSize => env.max_page_size(),
            Expr::CommonPageSize => env.common_page_size(),
            Expr::SegmentStart(default) => b(default)?,
        })
    }

    /// What the value is, by GNU ld's rules ("The Section of an Expression"): literals and
    /// what is computed from them alone are plain numbers (which become offsets in an
    /// output section), `ABSOLUTE` and sizes are absolute, `.` and section addresses are
    /// addresses; the difference of two addresses is absolute, an address plus or minus a
    /// number is an address. `symbol` says what a symbol is.
    pub fn kind(&self, symbol: &dyn Fn(&str) -> ValueKind) -> ValueKind {
        use ValueKind::{Absolute, Address, Number};
        let plain = |a: ValueKind, b: ValueKind| {
            if a == Number && b == Number {
                Number
            } else {
                Absolute
            }
        };
        match self {
            Expr::Num(_) => Number,
            Expr::Defined(_)
            | Expr::Absolute(_)
            | Expr::SizeofHeaders
            | Expr::MaxPageSize
            | Expr::CommonPageSize
            | Expr::Section(SectionQuery::Size | SectionQuery::Align, _) => Absolute,
            Expr::Dot | Expr::DataSegment(_) | Expr::Section(_, _) | Expr::SegmentStart(_) => {
                Address
            }
            Expr::Sym(name) => symbol(name),
            Expr::Unary(_, e) => plain(e.kind(symbol), Number),
            Expr::Align(e, _) => e.kind(symbol),
            Expr::Binary(op, l, r) => {
                let (l, r) = (l.kind(symbol), r.kind(symbol));
                match op {
                    BinOp::Add if l == Address || r == Address => Address,
                    BinOp::Sub if l == Address && r == Address => Absolute,
                    BinOp::Sub if l == Address => Address,
                    BinOp::Lt
                    | BinOp::Gt
                    | BinOp::Le
                    | BinOp::Ge
                    | BinOp::Eq
                    | BinOp::Ne
                    | BinOp::AndAnd
                    | BinOp::OrOr => Number,
                    _ => plain(l, r),
                }
            }
            Expr::Cond(_, t, f) => {
                let (t, f) = (t.kind(symbol), f.kind(symbol));
                if t == f {
                    t
                } else {
                    Absolute
                }
            }
            Expr::Max(l, r) | Expr::Min(l, r) => {
                let (l, r) = (l.kind(symbol), r.kind(symbol));
                if l == Address || r == Address {
                    Address
                } else {
                    plain(l, r)
                }
            }
        }
    }

    /// Every symbol the expression reads (for `DEFINED` order and references).
    pub fn symbols<'e>(&'e self, out: &mut Vec<&'e str>) {
        match self {
            Expr::Sym(name) => out.push(name),
            Expr::Unary(_, e) | Expr::Absolute(e) | Expr::SegmentStart(e) => e.symbols(out),
            Expr::Binary(_, l, r) | Expr::Align(l, r) | Expr::Max(l, r) | Expr::Min(l, r) => {
                l.symbols(out);
                r.symbols(out);
            }
            Expr::Cond(c, t, f) => {
                c.symbols(out);
                t.symbols(out);
                f.symbols(out);
            }
            Expr::DataSegment(args) => args.iter().for_each(|a| a.symbols(out)),
            _ => {}
        }
    }
}

fn binary(op: BinOp, l: u64, r: u64) -> Result<u64, String> {
    Ok(match op {
        BinOp::Mul => l.wrapping_mul(r),
        BinOp::Div => l.checked_div(r).ok_or("division by zero")?,
        BinOp::Rem => l.checked_rem(r).ok_or("modulo by zero")?,
        BinOp::Add => l.wrapping_add(r),
        BinOp::Sub => l.wrapping_sub(r),
        BinOp::Shl => l.checked_shl(r as u32).filter(|_| r < 64).unwrap_or(0),
        BinOp::Shr => l.checked_shr(r as u32).filter(|_| r < 64).unwrap_or(0),
        BinOp::Lt => (l < r) as u64,
        BinOp::Gt => (l > r) as u64,
        BinOp::Le => (l <= r) as u64,
        BinOp::Ge => (l >= r) as u64,
        BinOp::Eq => (l == r) as u64,
        BinOp::Ne => (l != r) as u64,
        BinOp::And => l & r,
        BinOp::Xor => l ^ r,
        BinOp::Or => l | r,
        BinOp::AndAnd => (l != 0 && r != 0) as u64,
        BinOp::OrOr => (l != 0 || r != 0) as u64,
    })
}

/// Binary operators by precedence level, lowest first (`ld/ldgram.y`).
const LEVELS: &[&[(&str, BinOp)]] = &[
    &[("||", BinOp::OrOr)],
    &[("&&", BinOp::AndAnd)],
    &[("|", BinOp::Or)],
    &[("^", BinOp::Xor)],
    &[("&", BinOp::And)],
    &[("==", BinOp::Eq), ("!=", BinOp::Ne)],
    &[
        ("<", BinOp::Lt),
        (">", BinOp::Gt),
        ("<=", BinOp::Le),
        (">=", BinOp::Ge),
    ],
    &[("<<", BinOp::Shl), (">>", BinOp::Shr)],
    &[("+", BinOp::Add), ("-", BinOp::Sub)],
    &[("*", BinOp::Mul), ("/", BinOp::Div), ("%", BinOp::Rem)],
];

pub struct ExprParser<'l, 'a> {
    pub lex: &'l mut Lexer<'a>,
    depth: usize,
}

impl<'l, 'a> ExprParser<'l, 'a> {
    pub fn new(lex: &'l mut Lexer<'a>) -> Self {
        ExprParser { lex, depth: 0 }
    }

    /// An error about token `found`, just read.
    fn unexpected(&self, found: Tok, expected: &'static str) -> ScriptError {
        ScriptError::Unexpected {
            found: found.describe(),
            expected,
            line: self.lex.line_of_read(&found),
        }
    }

    fn expect(&mut self, punct: &'static str) -> Result<(), ScriptError> {
        let (tok, end) = self.lex.peek(Mode::Expr)?;
        if tok == Tok::Punct(punct) {
            self.lex.pos = end;
            return Ok(());
        }
        Err(ScriptError::Unexpected {
            found: tok.describe(),
            expected: match punct {
                ")" => "`)`",
                "(" => "`(`",
                "," => "`,`",
                ":" => "`:`",
                _ => "punctuation",
            },
            line: self.lex.line(),
        })
    }

    fn eat(&mut self, punct: &'static str) -> Result<bool, ScriptError> {
        let (tok, end) = self.lex.peek(Mode::Expr)?;
        let hit = tok == Tok::Punct(punct);
        if hit {
            self.lex.pos = end;
        }
        Ok(hit)
    }

    pub fn expr(&mut self) -> Result<Expr, ScriptError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ScriptError::TooDeep {
                line: self.lex.line(),
            });
        }
        let cond = self.binary(0)?;
        let result = if self.eat("?")? {
            let t = self.expr()?;
            self.expect(":")?;
            let f = self.expr()?;
            Expr::Cond(Box::new(cond), Box::new(t), Box::new(f))
        } else {
            cond
        };
        self.depth -= 1;
        Ok(result)
    }

    fn binary(&mut self, level: usize) -> Result<Expr, ScriptError> {
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut left = self.binary(level + 1)?;
        'more: loop {
            let (tok, end) = self.lex.peek(Mode::Expr)?;
            for &(p, op) in LEVELS[level] {
                if tok == Tok::Punct(p) {
                    self.lex.pos = end;
                    let right = self.binary(level + 1)?;
                    left = Expr::Binary(op, Box::new(left), Box::new(right));
                    continue 'more;
                }
            }
            return Ok(left);
        }
    }

    fn unary(&mut self) -> Result<Expr, ScriptError> {
        let op = match self.lex.peek(Mode::Expr)?.0 {
            Tok::Punct("-") => Some(UnOp::Neg),
            Tok::Punct("!") => Some(UnOp::Not),
            Tok::Punct("~") => Some(UnOp::Complement),
            Tok::Punct("+") => None,
            _ => return self.primary(),
        };
        self.lex.next(Mode::Expr)?;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ScriptError::TooDeep {
                line: self.lex.line(),
            });
        }
        let e = self.unary()?;
        self.depth -= 1;
        Ok(match op {
            Some(op) => Expr::Unary(op, Box::new(e)),
            None => e,
        })
    }

    fn primary(&mut self) -> Result<Expr, ScriptError> {
        let tok = self.lex.next(Mode::Expr)?;
        match tok {
            Tok::Number(n) => Ok(Expr::Num(n)),
            Tok::Punct("(") => {
                let e = self.expr()?;
                self.expect(")")?;
                Ok(e)
            }
            Tok::Quoted(name) => Ok(Expr::Sym(name.to_string())),
            Tok::Word(".") => Ok(Expr::Dot),
            Tok::Word(word) => self.word(word),
            other => Err(self.unexpected(other, "an expression")),
        }
    }

    /// A name inside parentheses: `ADDR(.text)`, `DEFINED(sym)`.
    fn paren_name(&mut self, mode: Mode) -> Result<String, ScriptError> {
        self.expect("(")?;
        let name = match self.lex.next(mode)? {
            Tok::Word(w) | Tok::Quoted(w) => w.to_string(),
            other => return Err(self.unexpected(other, "a name")),
        };
        self.expect(")")?;
        Ok(name)
    }

    fn args(&mut self) -> Result<Vec<Expr>, ScriptError> {
        self.expect("(")?;
        let mut args = vec![self.expr()?];
        while self.eat(",")? {
            args.push(self.expr()?);
        }
        self.expect(")")?;
        Ok(args)
    }

    fn call(&mut self, name: &'static str, arity: &[usize]) -> Result<Vec<Expr>, ScriptError> {
        let line = self.lex.line();
        let args = self.args()?;
        if !arity.contains(&args.len()) {
            return Err(ScriptError::Arity {
                command: name,
                expected: match arity {
                    [1] => "one argument",
                    [2] => "two arguments",
                    [1, 2] => "one or two arguments",
                    _ => "a different number of arguments",
                },
                found: args.len(),
                line,
            });
        }
        Ok(args)
    }

    fn word(&mut self, word: &'a str) -> Result<Expr, ScriptError> {
        let followed_by_paren = self.lex.peek(Mode::Expr)?.0 == Tok::Punct("(");
        if !followed_by_paren {
            return Ok(match word {
                "SIZEOF_HEADERS" | "sizeof_headers" => Expr::SizeofHeaders,
                _ => Expr::Sym(word.to_string()),
            });
        }
        let boxed = |e: Expr| Box::new(e);
        Ok(match word {
            "ALIGN" => {
                let mut a = self.call("ALIGN", &[1, 2])?;
                let n = a.pop().expect("arity checked");
                let e = a.pop().unwrap_or(Expr::Dot);
                Expr::Align(boxed(e), boxed(n))
            }
            "ADDR" => Expr::Section(SectionQuery::Addr, self.paren_name(Mode::Name)?),
            "SIZEOF" => Expr::Section(SectionQuery::Size, self.paren_name(Mode::Name)?),
            "LOADADDR" => Expr::Section(SectionQuery::LoadAddr, self.paren_name(Mode::Name)?),
            "ALIGNOF" => Expr::Section(SectionQuery::Align, self.paren_name(Mode::Name)?),
            "DEFINED" => Expr::Defined(self.paren_name(Mode::Expr)?),
            "ABSOLUTE" => Expr::Absolute(boxed(self.call("ABSOLUTE", &[1])?.remove(0))),
            "MAX" | "MIN" => {
                let mut a = self.call(if word == "MAX" { "MAX" } else { "MIN" }, &[2])?;
                let (r, l) = (a.pop().unwrap(), a.pop().unwrap());
                if word == "MAX" {
                    Expr::Max(boxed(l), boxed(r))
                } else {
                    Expr::Min(boxed(l), boxed(r))
                }
            }
            "CONSTANT" => match self.paren_name(Mode::Expr)?.as_str() {
                "MAXPAGESIZE" => Expr::MaxPageSize,
                "COMMONPAGESIZE" => Expr::CommonPageSize,
                other => {
                    return Err(ScriptError::Unexpected {
                        found: format!("`{other}`"),
                        expected: "MAXPAGESIZE or COMMONPAGESIZE",
                        line: self.lex.line(),
                    })
                }
            },
            "SEGMENT_START" => {
                self.expect("(")?;
                match self.lex.next(Mode::Name)? {
                    Tok::Word(_) | Tok::Quoted(_) => {}
                    other => return Err(self.unexpected(other, "a segment name")),
                }
                self.expect(",")?;
                let default = self.expr()?;
                self.expect(")")?;
                Expr::SegmentStart(boxed(default))
            }
            "DATA_SEGMENT_ALIGN" => Expr::DataSegment(self.call("DATA_SEGMENT_ALIGN", &[2])?),
            "DATA_SEGMENT_RELRO_END" => {
                Expr::DataSegment(self.call("DATA_SEGMENT_RELRO_END", &[2])?)
            }
            "DATA_SEGMENT_END" => Expr::DataSegment(self.call("DATA_SEGMENT_END", &[1])?),
            other => {
                return Err(ScriptError::Unsupported {
                    command: format!("function {other}"),
                    line: self.lex.line(),
                })
            }
        })
    }
}

/// Parses a whole expression (a `--defsym` right-hand side).
pub fn parse_expr(text: &str) -> Result<Expr, ScriptError> {
    let mut lex = Lexer::new(text, 0);
    let e = ExprParser::new(&mut lex).expr()?;
    match lex.peek(Mode::Expr)?.0 {
        Tok::End => Ok(e),
        other => Err(ScriptError::Unexpected {
            found: other.describe(),
            expected: "the end of the expression",
            line: lex.line(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl Env for Fixed {
        fn dot(&self) -> Result<u64, String> {
            Ok(0x1003)
        }
        fn symbol(&self, name: &str) -> Result<u64, String> {
            match name {
                "b" => Ok(0x2000),
                _ => Err(format!(
                    "undefined symbol `{name}' referenced in expression"
                )),
            }
        }
        fn is_defined(&self, name: &str) -> bool {
            name == "b"
        }
        fn section(&self, q: SectionQuery, _: &str) -> Result<u64, String> {
            Ok(match q {
                SectionQuery::Addr | SectionQuery::LoadAddr => 0x4000,
                SectionQuery::Size => 0x30,
                SectionQuery::Align => 8,
            })
        }
        fn sizeof_headers(&self) -> u64 {
            0x40
        }
        fn max_page_size(&self) -> u64 {
            0x1000
        }
        fn common_page_size(&self) -> u64 {
            0x1000
        }
    }

    fn eval(text: &str) -> u64 {
        parse_expr(text).unwrap().eval(&Fixed).unwrap()
    }

    #[test]
    fn precedence_numbers_and_functions() {
        assert_eq!(eval("b+0x10"), 0x2010);
        assert_eq!(eval("1 + 2 * 3"), 7);
        assert_eq!(eval("1 << 4 + 1"), 32);
        assert_eq!(eval("4K + 1M"), 4096 + 1024 * 1024);
        assert_eq!(eval("010"), 8);
        assert_eq!(eval("10h + 11b + 17o"), 16 + 3 + 15);
        assert_eq!(eval("ALIGN(16)"), 0x1010);
        assert_eq!(eval("ALIGN(b + 1, 0x100)"), 0x2100);
        assert_eq!(eval("1 ? 2 : 3"), 2);
        assert_eq!(eval("0 || !0 && 1"), 1);
        assert_eq!(eval("~0 & 0xff ^ 0x0f | 0x100"), 0x1f0);
        assert_eq!(eval("-1 == 0xffffffffffffffff"), 1);
        assert_eq!(eval("MAX(3, 5) - MIN(3, 5) + 7 % 4"), 5);
        assert_eq!(eval("DEFINED(b) + DEFINED(c)"), 1);
        assert_eq!(eval("ADDR(.text) + SIZEOF(.text)"), 0x4030);
        assert_eq!(eval("SIZEOF_HEADERS + CONSTANT(MAXPAGESIZE)"), 0x1040);
        assert_eq!(eval("SEGMENT_START(\"text-segment\", 0x400000)"), 0x400000);
        assert_eq!(
            eval("DATA_SEGMENT_ALIGN(CONSTANT (MAXPAGESIZE), CONSTANT (COMMONPAGESIZE))"),
            0x1003
        );
        assert_eq!(eval("10 > 3 && 3 >= 3 && 2 < 3 && 3 <= 3 && 1 != 2"), 1);
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let undefined = parse_expr("c + 1").unwrap().eval(&Fixed).unwrap_err();
        assert_eq!(undefined, "undefined symbol `c' referenced in expression");
        assert_eq!(
            parse_expr("1/0").unwrap().eval(&Fixed).unwrap_err(),
            "division by zero"
        );
        assert!(parse_expr("1 +").is_err());
        assert!(parse_expr("(1").is_err());
        assert!(parse_expr("FOO(1)")
            .unwrap_err()
            .to_string()
            .contains("FOO"));
        let deep = "(".repeat(10_000) + "1" + &")".repeat(10_000);
        assert!(parse_expr(&deep).is_err());
        let deep = "-".repeat(10_000) + "1";
        assert!(parse_expr(&deep).is_err());
    }

    #[test]
    fn kinds_by_gnu_rules() {
        use ValueKind::*;
        let kind = |t: &str| parse_expr(t).unwrap().kind(&|_| Address);
        assert_eq!(kind("0x10 + 4 * 2"), Number);
        assert_eq!(kind("b + 0x10"), Address);
        assert_eq!(kind("b - b"), Absolute);
        assert_eq!(kind("."), Address);
        assert_eq!(kind("ALIGN(., 8)"), Address);
        assert_eq!(kind("ABSOLUTE(.)"), Absolute);
        assert_eq!(kind("SIZEOF(.text) + 1"), Absolute);
        assert_eq!(kind(". > 4"), Number);
    }
}
