//! GNU version scripts (`--version-script`): which symbols stay global, under which version
//! node, and which become local.
//!
//! Syntax accepted: an anonymous node `{ global: ...; local: ...; };` (then the only node),
//! named nodes `V1 { ... };` with dependencies `V2 { ... } V1;` (several parents allowed),
//! `global:`/`local:` sections (global when neither is given), `extern "C" { ... }` and
//! `extern "C++" { ... }` blocks, glob patterns with `*`, `?` and `[...]` (`!`/`^` negate,
//! ranges, backslash escapes), quoted names (never globs), `#` and `/* */` comments.
//!
//! Precedence, as measured on ld.bfd 2.40 (the tests link the same scripts with it):
//! 1. an exact name, in the first node that lists it (global before local in a node);
//! 2. else a global glob other than `*`, from the last node that matches;
//! 3. else a local glob other than `*` (so `global: foo*` beats `local: f*` in any order);
//! 4. else a global `*`, else a local `*` (the catch-all).
//!
//! The same name or pattern in a global and a local list is an error, as in ld.
//!
//! C++ patterns match demangled names. [`VersionScript::classify`] demangles `_Z` names
//! itself, as GNU ld does ([`crate::demangle`]); [`VersionScript::classify_with_demangled`]
//! takes the demangled name from the caller instead.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum VersionScriptError {
    #[error("version script line {line}: unexpected {found} (expected {expected})")]
    Unexpected {
        line: usize,
        found: String,
        expected: &'static str,
    },
    #[error("version script line {line}: unterminated {what}")]
    Unterminated { line: usize, what: &'static str },
    #[error("version script line {line}: unknown language \"{lang}\" in extern (expected \"C\" or \"C++\")")]
    UnknownLanguage { line: usize, lang: String },
    #[error("version script line {line}: an anonymous version node must be the only node")]
    AnonymousNotAlone { line: usize },
    #[error("version script line {line}: `{name}` is listed both as global and as local")]
    GlobalAndLocal { line: usize, name: String },
    #[error("version script line {line}: duplicate version node {name}")]
    DuplicateNode { line: usize, name: String },
    #[error("version script line {line}: version node {name} depends on undefined node {parent}")]
    UnknownParent {
        line: usize,
        name: String,
        parent: String,
    },
}

type Result<T> = std::result::Result<T, VersionScriptError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    C,
    Cxx,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// The pattern as written (quotes removed).
    pub text: String,
    pub lang: Lang,
    /// Contains `*`, `?` or `[` unquoted; otherwise an exact name.
    pub glob: bool,
    pub line: usize,
}

impl Pattern {
    fn is_star(&self) -> bool {
        self.glob && self.text == "*"
    }

    fn matches(&self, name: &[u8]) -> bool {
        if self.glob {
            glob_match(self.text.as_bytes(), name)
        } else {
            self.text.as_bytes() == name
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionNode {
    /// `None` for the anonymous node.
    pub name: Option<String>,
    pub parents: Vec<String>,
    pub globals: Vec<Pattern>,
    pub locals: Vec<Pattern>,
    pub line: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionScript {
    pub nodes: Vec<VersionNode>,
}

/// Where a symbol goes: `node` indexes [`VersionScript::nodes`]; `local` means it is
/// hidden (not exported).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    pub node: usize,
    pub local: bool,
}

/// fnmatch(3) without flags: `*`, `?`, `[...]` (with `!`/`^` and ranges), `\` escapes.
pub fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0usize, 0usize);
    // Where to resume after the last `*`: (pattern index after it, name index it took).
    let mut star: Option<(usize, usize)> = None;
    loop {
        if p < pattern.len() {
            let advance = match pattern[p] {
                b'*' => {
                    star = Some((p + 1, n));
                    p += 1;
                    continue;
                }
                _ if n >= name.len() => None,
                b'?' => Some(1),
                b'[' => match match_class(pattern, p, name[n]) {
                    Some((true, next)) => Some(next - p),
                    Some((false, _)) => None,
                    // An unterminated `[` is an ordinary character.
                    None => (name[n] == b'[').then_some(1),
                },
                b'\\' if p + 1 < pattern.len() => (pattern[p + 1] == name[n]).then_some(2),
                c => (c == name[n]).then_some(1),
            };
            if let Some(len) = advance {
                p += len;
                n += 1;
                continue;
            }
        } else if n == name.len() {
            return true;
        }
        match star {
            Some((sp, sn)) if sn < name.len() => {
                star = Some((sp, sn + 1));
                p = sp;
                n = sn + 1;
            }
            _ => return false,
        }
    }
}

/// Matches `c` against the class starting at `pattern[start] == b'['`. Returns whether it
/// matched and the index after the class, or `None` if the class is unterminated.
fn match_class(pattern: &[u8], start: usize, c: u8) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(pattern.get(i), Some(b'!') | Some(b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let mut lo = *pattern.get(i)?;
        if lo == b']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if lo == b'\\' {
            i += 1;
            lo = *pattern.get(i)?;
        }
        i += 1;
        let mut hi = lo;
        if pattern.get(i) == Some(&b'-') && pattern.get(i + 1).is_some_and(|&h| h != b']') {
            hi = pattern[i + 1];
            i += 2;
            if hi == b'\\' {
                hi = *pattern.get(i)?;
                i += 1;
            }
        }
        if lo <= c && c <= hi {
            matched = true;
        }
    }
}

fn has_glob(text: &str) -> bool {
    text.bytes().any(|c| matches!(c, b'*' | b'?' | b'['))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Open,
    Close,
    Semi,
    Word(String),
    Quoted(String),
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Open => "`{`".into(),
            Tok::Close => "`}`".into(),
            Tok::Semi => "`;`".into(),
            Tok::Word(w) => format!("`{w}`"),
            Tok::Quoted(q) => format!("\"{q}\""),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<(Tok, usize)>> {
    let bytes = text.as_bytes();
    let mut toks = Vec::new();
    let (mut i, mut line) = (0usize, 1usize);
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            _ if c.is_ascii_whitespace() => i += 1,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let start_line = line;
                let end = text[i + 2..]
                    .find("*/")
                    .ok_or(VersionScriptError::Unterminated {
                        line: start_line,
                        what: "comment",
                    })?;
                line += text[i + 2..i + 2 + end].matches('\n').count();
                i += end + 4;
            }
            b'{' | b'}' | b';' => {
                toks.push((
                    match c {
                        b'{' => Tok::Open,
                        b'}' => Tok::Close,
                        _ => Tok::Semi,
                    },
                    line,
                ));
                i += 1;
            }
            b'"' => {
                let end = text[i + 1..]
                    .find('"')
                    .ok_or(VersionScriptError::Unterminated {
                        line,
                        what: "quoted name",
                    })?;
                let body = &text[i + 1..i + 1 + end];
                toks.push((Tok::Quoted(body.to_string()), line));
                line += body.matches('\n').count();
                i += end + 2;
            }
            _ => {
                let start = i;
                while i < bytes.len()
                    && !bytes[i].is_ascii_whitespace()
                    && !matches!(bytes[i], b'{' | b'}' | b';' | b'"' | b'#')
                    && (bytes[i] != b'/' || bytes.get(i + 1) != Some(&b'*'))
                {
                    i += 1;
                }
                toks.push((Tok::Word(text[start..i].to_string()), line));
            }
        }
    }
    Ok(toks)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    last_line: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    fn line(&self) -> usize {
        self.toks.get(self.pos).map_or(self.last_line, |&(_, l)| l)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|(t, _)| t.clone());
        self.pos += 1;
        t
    }

    fn unexpected(&self, expected: &'static str) -> VersionScriptError {
        VersionScriptError::Unexpected {
            line: self.line(),
            found: self.peek().map_or("end of file".into(), Tok::describe),
            expected,
        }
    }

    fn expect(&mut self, tok: Tok, expected: &'static str) -> Result<()> {
        if self.peek() == Some(&tok) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    /// `global:` / `local:` (the colon may be a separate word). Returns the scope.
    fn scope_label(&mut self) -> Option<bool> {
        let Some(Tok::Word(w)) = self.peek() else {
            return None;
        };
        let (local, with_colon) = match w.as_str() {
            "global:" => (false, true),
            "local:" => (true, true),
            "global" | "local" => (w == "local", false),
            _ => return None,
        };
        if with_colon {
            self.pos += 1;
            return Some(local);
        }
        if matches!(self.toks.get(self.pos + 1), Some((Tok::Word(c), _)) if c == ":") {
            self.pos += 2;
            return Some(local);
        }
        None
    }

    fn at_label(&self) -> bool {
        match self.peek() {
            Some(Tok::Word(w)) => {
                matches!(w.as_str(), "global:" | "local:")
                    || (matches!(w.as_str(), "global" | "local")
                        && matches!(self.toks.get(self.pos + 1), Some((Tok::Word(c), _)) if c == ":"))
            }
            _ => false,
        }
    }

    /// A node's body up to (not including) its `}`, with ld's grammar: nothing; or
    /// entries (global); or `global:` entries, optionally followed by `local:` entries; or
    /// `local:` entries. Each entry ends with `;`.
    fn body(&mut self, node: &mut VersionNode) -> Result<()> {
        if self.peek() == Some(&Tok::Close) {
            return Ok(());
        }
        match self.scope_label() {
            Some(false) => {
                self.entries(node, false, Lang::C, false)?;
                if self.scope_label() == Some(true) {
                    self.entries(node, true, Lang::C, false)?;
                }
            }
            Some(true) => self.entries(node, true, Lang::C, false)?,
            None => self.entries(node, false, Lang::C, false)?,
        }
        Ok(())
    }

    /// One or more `;`-terminated entries. In an `extern` block the last `;` is optional;
    /// at node level the list ends before `}` or a `global:`/`local:` label.
    fn entries(
        &mut self,
        node: &mut VersionNode,
        local: bool,
        lang: Lang,
        in_extern: bool,
    ) -> Result<()> {
        loop {
            self.entry(node, local, lang, in_extern)?;
            match self.peek() {
                Some(Tok::Semi) => self.pos += 1,
                Some(Tok::Close) if in_extern => return Ok(()),
                _ => return Err(self.unexpected("`;`")),
            }
            if self.peek() == Some(&Tok::Close) || (!in_extern && self.at_label()) {
                return Ok(());
            }
        }
    }

    fn entry(
        &mut self,
        node: &mut VersionNode,
        local: bool,
        lang: Lang,
        in_extern: bool,
    ) -> Result<()> {
        if !in_extern && matches!(self.peek(), Some(Tok::Word(w)) if w == "extern") {
            self.pos += 1;
            let line = self.line();
            let lang = match self.peek().cloned() {
                Some(Tok::Quoted(l)) if l == "C" => Lang::C,
                Some(Tok::Quoted(l)) if l == "C++" => Lang::Cxx,
                Some(Tok::Quoted(l)) => {
                    return Err(VersionScriptError::UnknownLanguage { line, lang: l })
                }
                _ => return Err(self.unexpected("a language name in quotes")),
            };
            self.pos += 1;
            self.expect(Tok::Open, "`{`")?;
            self.entries(node, local, lang, true)?;
            return self.expect(Tok::Close, "`}`");
        }
        let line = self.line();
        let (text, glob) = match self.peek().cloned() {
            Some(Tok::Word(w)) if !self.at_label() => {
                let glob = has_glob(&w);
                (w, glob)
            }
            Some(Tok::Quoted(q)) => (q, false),
            _ => return Err(self.unexpected("a symbol name or pattern")),
        };
        self.pos += 1;
        let pattern = Pattern {
            text,
            lang,
            glob,
            line,
        };
        if local {
            node.locals.push(pattern);
        } else {
            node.globals.push(pattern);
        }
        Ok(())
    }
}

/// Parses a whole version script.
pub fn parse(text: &str) -> Result<VersionScript> {
    let toks = tokenize(text)?;
    let last_line = text.matches('\n').count() + 1;
    let mut p = Parser {
        toks,
        pos: 0,
        last_line,
    };
    let mut script = VersionScript::default();
    while let Some(tok) = p.peek().cloned() {
        let line = p.line();
        let name = match tok {
            Tok::Semi => {
                p.pos += 1;
                continue;
            }
            Tok::Open => None,
            Tok::Word(w) => {
                p.pos += 1;
                Some(w)
            }
            _ => return Err(p.unexpected("a version node")),
        };
        if name.is_none() && !script.nodes.is_empty()
            || script.nodes.first().is_some_and(|n| n.name.is_none())
        {
            return Err(VersionScriptError::AnonymousNotAlone { line });
        }
        if let Some(n) = &name {
            if script.nodes.iter().any(|o| o.name.as_ref() == Some(n)) {
                return Err(VersionScriptError::DuplicateNode {
                    line,
                    name: n.clone(),
                });
            }
        }
        p.expect(Tok::Open, "`{`")?;
        let mut node = VersionNode {
            name,
            parents: Vec::new(),
            globals: Vec::new(),
            locals: Vec::new(),
            line,
        };
        p.body(&mut node)?;
        p.expect(Tok::Close, "`}`")?;
        loop {
            match p.next() {
                Some(Tok::Semi) => break,
                Some(Tok::Word(parent)) if node.name.is_some() => {
                    if !script
                        .nodes
                        .iter()
                        .any(|o| o.name.as_ref() == Some(&parent))
                    {
                        return Err(VersionScriptError::UnknownParent {
                            line: p.toks[p.pos - 1].1,
                            name: node.name.clone().unwrap_or_default(),
                            parent,
                        });
                    }
                    node.parents.push(parent);
                }
                _ => {
                    p.pos -= 1;
                    return Err(p.unexpected("`;` after the version node"));
                }
            }
        }
        script.nodes.push(node);
    }
    check_conflicts(&script)?;
    Ok(script)
}

/// ld refuses a name or pattern (`*` included) listed both as global and as local.
fn check_conflicts(script: &VersionScript) -> Result<()> {
    use std::collections::HashMap;
    let globals: HashMap<(Lang, &str), usize> = script
        .nodes
        .iter()
        .flat_map(|n| n.globals.iter())
        .map(|p| ((p.lang, p.text.as_str()), p.line))
        .collect();
    for p in script.nodes.iter().flat_map(|n| n.locals.iter()) {
        if globals.contains_key(&(p.lang, p.text.as_str())) {
            return Err(VersionScriptError::GlobalAndLocal {
                line: p.line,
                name: p.text.clone(),
            });
        }
    }
    Ok(())
}

/// What one node's pattern list says about a name.
#[derive(Default)]
struct ListMatch {
    exact: bool,
    glob: bool,
    star: bool,
}

fn match_list(list: &[Pattern], name: &[u8], demangled: Option<&[u8]>) -> ListMatch {
    let mut m = ListMatch::default();
    for pattern in list {
        let subject = match pattern.lang {
            Lang::C => name,
            Lang::Cxx => match demangled {
                Some(d) => d,
                None => continue,
            },
        };
        if !pattern.matches(subject) {
            continue;
        }
        if !pattern.glob {
            m.exact = true;
        } else if pattern.is_star() {
            m.star = true;
        } else {
            m.glob = true;
        }
    }
    m
}

impl VersionScript {
    /// Where `name` goes; C++ patterns see `name` demangled by [`crate::demangle::demangle`].
    pub fn classify(&self, name: &[u8]) -> Option<Match> {
        let has_cxx = self
            .nodes
            .iter()
            .flat_map(|n| n.globals.iter().chain(&n.locals))
            .any(|p| p.lang == Lang::Cxx);
        let demangled = if has_cxx && name.starts_with(b"_Z") {
            crate::demangle::demangle(name)
        } else {
            None
        };
        self.classify_with_demangled(name, demangled.as_deref().map(str::as_bytes))
    }

    /// Where `name` goes; C++ patterns are matched against `demangled` when given.
    pub fn classify_with_demangled(&self, name: &[u8], demangled: Option<&[u8]>) -> Option<Match> {
        let (mut global_glob, mut local_glob, mut star_global, mut star_local) =
            (None, None, None, None);
        for (index, node) in self.nodes.iter().enumerate() {
            let g = match_list(&node.globals, name, demangled);
            if g.exact {
                return Some(Match {
                    node: index,
                    local: false,
                });
            }
            let l = match_list(&node.locals, name, demangled);
            if l.exact {
                return Some(Match {
                    node: index,
                    local: true,
                });
            }
            if g.glob {
                global_glob = Some(index);
            }
            if l.glob {
                local_glob = Some(index);
            }
            if g.star {
                star_global = star_global.or(Some(index));
            }
            if l.star {
                star_local = star_local.or(Some(index));
            }
        }
        let global = |node| Match { node, local: false };
        let local = |node| Match { node, local: true };
        global_glob
            .map(global)
            .or(local_glob.map(local))
            .or(star_global.map(global))
            .or(star_local.map(local))
    }

    /// Index of the node called `name`.
    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes
            .iter()
            .position(|n| n.name.as_deref() == Some(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::process::Command;

    /// Random texts over the script alphabet give errors or scripts, never a panic.
    #[test]
    fn random_text_never_panics() {
        let mut next = crate::test_support::xorshift();
        let alphabet: &[&str] = &[
            "{", "}", ";", "\"", "/*", "*/", "#", " ", "\n", "global:", "local", ":", "extern",
            "\"C++\"", "V1", "V2", "a*", "[!a-", "\\", "?", "é",
        ];
        for _ in 0..20_000 {
            let len = next() % 24;
            let text: String = (0..len)
                .map(|_| alphabet[next() as usize % alphabet.len()])
                .collect();
            if let Ok(script) = parse(&text) {
                let _ = script.classify(b"a[b");
            }
            let _ = glob_match(text.as_bytes(), b"V1 a*[b");
        }
    }

    #[test]
    fn globs() {
        for (pattern, name, expected) in [
            ("foo*", "foo", true),
            ("foo*", "foobar", true),
            ("foo*", "fo", false),
            ("*bar", "foobar", true),
            ("*o*a*", "foobar", true),
            ("f?o", "foo", true),
            ("f?o", "fo", false),
            ("k[aeiou]ep", "keep", true),
            ("k[aeiou]ep", "kyep", false),
            ("k[!aeiou]ep", "kyep", true),
            ("k[^aeiou]ep", "keep", false),
            ("v[0-9]x", "v7x", true),
            ("v[0-9]x", "vax", false),
            ("a[]]b", "a]b", true),
            ("a[-x]b", "a-b", true),
            ("a[b", "a[b", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "axb", false),
            ("*", "", true),
            ("", "", true),
            ("ns::*", "ns::f(int)", true),
        ] {
            assert_eq!(
                glob_match(pattern.as_bytes(), name.as_bytes()),
                expected,
                "{pattern} vs {name}"
            );
        }
    }

    #[test]
    fn parses_the_manual_example() {
        let script = parse(
            r#"
            VERS_1.1 {
                 global:
                     foo1;
                 local:
                     old*;
                     original*;
                     new*;
            };

            VERS_1.2 {
                     foo2;
            } VERS_1.1;

            VERS_2.0 {
                     bar1; bar2;
                 extern "C++" {
                     ns::*;
                     "f(int, double)";
                 };
            } VERS_1.2;
            "#,
        )
        .unwrap();
        let names: Vec<_> = script
            .nodes
            .iter()
            .map(|n| n.name.clone().unwrap())
            .collect();
        assert_eq!(names, ["VERS_1.1", "VERS_1.2", "VERS_2.0"]);
        assert_eq!(script.nodes[2].parents, ["VERS_1.2"]);
        let v2 = &script.nodes[2];
        assert_eq!(v2.globals.len(), 4);
        assert_eq!(
            (
                v2.globals[2].text.as_str(),
                v2.globals[2].lang,
                v2.globals[2].glob
            ),
            ("ns::*", Lang::Cxx, true)
        );
        assert_eq!(
            (
                v2.globals[3].text.as_str(),
                v2.globals[3].lang,
                v2.globals[3].glob
            ),
            ("f(int, double)", Lang::Cxx, false)
        );
        assert_eq!(
            script.classify(b"foo1"),
            Some(Match {
                node: 0,
                local: false
            })
        );
        assert_eq!(
            script.classify(b"original_x"),
            Some(Match {
                node: 0,
                local: true
            })
        );
        assert_eq!(
            script.classify(b"bar2"),
            Some(Match {
                node: 2,
                local: false
            })
        );
        assert_eq!(script.classify(b"other"), None);
        assert_eq!(
            script.classify_with_demangled(b"_ZN2ns1fEv", Some(b"ns::f()")),
            Some(Match {
                node: 2,
                local: false
            })
        );
        assert_eq!(
            script.classify(b"_ZN2ns1fEv"),
            Some(Match {
                node: 2,
                local: false
            })
        );
        assert_eq!(
            script.classify(b"_Z1fid"),
            Some(Match {
                node: 2,
                local: false
            })
        );
        assert_eq!(script.classify(b"_Z1fi"), None);
    }

    #[test]
    fn syntax_errors_name_the_line_and_token() {
        for (text, message) in [
            ("V1 { foo; }", "version script line 1: unexpected end of file (expected `;` after the version node)"),
            ("V1 {\n foo bar; };", "version script line 2: unexpected `bar` (expected `;`)"),
            ("V1 { foo;", "version script line 1: unexpected end of file (expected a symbol name or pattern)"),
            ("A { global: x; };\nB { local: y;\n x; };", "version script line 3: `x` is listed both as global and as local"),
            ("A { global: *; };\nB { local: *; };", "version script line 2: `*` is listed both as global and as local"),
            ("V1 { extern \"Java\" { a; }; };", "version script line 1: unknown language \"Java\" in extern (expected \"C\" or \"C++\")"),
            ("V1 { a; };\n{ b; };", "version script line 2: an anonymous version node must be the only node"),
            ("{ a; };\nV1 { b; };", "version script line 2: an anonymous version node must be the only node"),
            ("V1 { a; };\nV1 { b; };", "version script line 2: duplicate version node V1"),
            ("V1 { a; } V0;", "version script line 1: version node V1 depends on undefined node V0"),
            ("/* open", "version script line 1: unterminated comment"),
            ("V1 { \"a; };", "version script line 1: unterminated quoted name"),
        ] {
            assert_eq!(parse(text).unwrap_err().to_string(), message, "{text}");
        }
        // ld's grammar: `local:` only after `global:`, every entry ends with `;` (except
        // the last one of an extern block), `global :` may be spelled apart.
        for (text, message) in [
            (
                "V1 { a; local: *; };",
                "version script line 1: unexpected `local:` (expected `}`)",
            ),
            (
                "V1 { global: a; local: * };",
                "version script line 1: unexpected `}` (expected `;`)",
            ),
            (
                "V1 { local: *; global: a; };",
                "version script line 1: unexpected `global:` (expected `}`)",
            ),
            (
                "V1 { global: ; };",
                "version script line 1: unexpected `;` (expected a symbol name or pattern)",
            ),
        ] {
            assert_eq!(parse(text).unwrap_err().to_string(), message, "{text}");
        }
        assert_eq!(parse("V1 { };").unwrap().nodes[0].globals, vec![]);
        assert_eq!(
            parse("V1 { global: extern \"C++\" { a; \"b\" }; };")
                .unwrap()
                .nodes[0]
                .globals
                .len(),
            2
        );
        let s = parse("V1 { global : a; local : *; }; # trailing comment").unwrap();
        assert_eq!(s.nodes[0].globals[0].text, "a");
        assert!(s.nodes[0].locals[0].is_star());
    }

    use crate::test_support::run_ok as run;

    /// `.dynsym` of `lib` as name → version ("" when unversioned), from readelf.
    fn dynamic_symbols(lib: &Path) -> BTreeMap<String, String> {
        let text = run(
            Command::new("readelf").args(["--dyn-syms", "-W"]).arg(lib),
            "readelf",
            "binutils",
        );
        text.lines()
            .filter(|l| l.contains(": "))
            .filter_map(|l| l.split_whitespace().nth(7))
            .map(|sym| match sym.split_once('@') {
                Some((name, version)) => (
                    name.to_string(),
                    version.trim_start_matches('@').to_string(),
                ),
                None => (sym.to_string(), String::new()),
            })
            .collect()
    }

    /// What readelf should show for `symbol` if our classification is right.
    fn expected_for(script: &VersionScript, m: Option<Match>) -> Option<String> {
        match m {
            Some(Match { local: true, .. }) => None,
            Some(Match { node, .. }) => Some(script.nodes[node].name.clone().unwrap_or_default()),
            // Unmatched symbols with named nodes get the base version (the file's name).
            None => Some("BASE".into()),
        }
    }

    fn check_against_ld(
        dir: &Path,
        obj: &Path,
        symbols: &[(String, Option<String>)],
        text: &str,
        label: &str,
    ) {
        let script = parse(text).unwrap();
        let ver = dir.join(format!("{label}.map"));
        std::fs::write(&ver, text).unwrap();
        let lib = dir.join(format!("lib{label}.so"));
        run(
            Command::new("ld.bfd")
                .arg("-shared")
                .arg(format!("--version-script={}", ver.display()))
                .arg(obj)
                .arg("-o")
                .arg(&lib),
            "ld.bfd",
            "binutils",
        );
        let dynsyms = dynamic_symbols(&lib);
        let base = lib.file_name().unwrap().to_str().unwrap().to_string();
        for (name, demangled) in symbols {
            let m = script
                .classify_with_demangled(name.as_bytes(), demangled.as_deref().map(str::as_bytes));
            assert_eq!(script.classify(name.as_bytes()), m, "own demangler, {name}");
            let expected =
                expected_for(&script, m).map(|v| if v == "BASE" { base.clone() } else { v });
            let actual = dynsyms.get(name).cloned();
            // ld shows base-version symbols either unversioned or as @@<base>.
            let actual = match (&expected, actual) {
                (Some(e), Some(a)) if a.is_empty() && (e == &base || e.is_empty()) => {
                    Some(e.clone())
                }
                (_, a) => a,
            };
            assert_eq!(
                actual, expected,
                "{label}: {name} ({demangled:?}), ours {m:?}"
            );
        }
    }

    const C_FIXTURE: &[&str] = &[
        "foo", "foo_bar", "foo_baz", "bar1", "bar2", "baz", "old_x", "new_y", "keep_me", "kiep_mx",
        "kyep_m1", "zeta", "zed", "misc", "v7x", "plain",
    ];

    #[test]
    fn classification_agrees_with_ld_bfd_c() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let src: String = C_FIXTURE
            .iter()
            .enumerate()
            .map(|(i, name)| format!("int {name}(void) {{ return {i}; }}\n"))
            .collect();
        std::fs::write(d.join("f.c"), src).unwrap();
        let obj = d.join("f.o");
        run(
            Command::new("gcc")
                .args(["-fPIC", "-c"])
                .arg(d.join("f.c"))
                .arg("-o")
                .arg(&obj),
            "gcc",
            "gcc",
        );
        let symbols: Vec<(String, Option<String>)> =
            C_FIXTURE.iter().map(|s| (s.to_string(), None)).collect();
        let scripts = [
            (
                "nodes",
                "# versions\nV1 {\n  global: foo*; bar1;\n  local: old*; /* c */\n};\n\
                 V2 { global: foo_bar; k[aeiou]ep_m?; } V1;\n\
                 V3 { global: ze*; v[0-9]x; local: *; } V2 V1;\n",
            ),
            (
                "precedence",
                "A { global: ba*; zeta; };\nB { local: bar1; z*; };\nC { global: *; };\n\
                 D { local: misc; foo_b*; };\n",
            ),
            ("anonymous", "{ global: foo; bar*; k?ep_me; local: *; };"),
            (
                "globs",
                "V1 { global: foo*; k*; };\nV2 { global: foo_b*; k[!i]ep*; };\nV3 { local: *; };",
            ),
            (
                "extern_c",
                "V1 { global: extern \"C\" { foo; \"bar1\"; ze*; }; local: *; };",
            ),
            ("no_catch_all", "V1 { global: foo; local: old_x; };"),
            (
                "glob_order",
                "A { global: ba*; k*; };\nB { local: bar*; kee*; };\nC { global: bar?; };\n\
                 D { global: *; local: z*; };\nE { global: zeta; };",
            ),
            (
                "star_local_last",
                "A { global: f*; };\nB { local: *; };\nC { global: foo_b*; };",
            ),
        ];
        for (label, text) in scripts {
            check_against_ld(d, &obj, &symbols, text, label);
        }
        // ld.bfd refuses what parse refuses: a pattern both global and local.
        let conflict = "A { global: foo*; };\nB { local: foo*; };";
        assert!(matches!(
            parse(conflict),
            Err(VersionScriptError::GlobalAndLocal { line: 2, .. })
        ));
        std::fs::write(d.join("conflict.map"), conflict).unwrap();
        let out = Command::new("ld.bfd")
            .arg("-shared")
            .arg(format!(
                "--version-script={}",
                d.join("conflict.map").display()
            ))
            .arg(&obj)
            .arg("-o")
            .arg(d.join("libconflict.so"))
            .output()
            .expect("ld.bfd (binutils)");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("duplicate expression `foo*'"), "{stderr}");
    }

    #[test]
    fn classification_agrees_with_ld_bfd_cxx() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("x.cc"),
            "#include <iosfwd>\n\
             namespace ns { int f(int x) { return x; } int g() { return 1; } }\n\
             int h(int a, double b) { return a + (int)b; }\n\
             int h(int a) { return a; }\n\
             extern \"C\" int c_func(void) { return 3; }\n\
             struct S { template <class T> S(T, T) {} virtual ~S() {} };\n\
             template S::S(const char *, const char *);\n\
             int out(std::ostream &) { return 4; }\n\
             int in(std::istream &) { return 5; }\n",
        )
        .unwrap();
        let obj = d.join("x.o");
        run(
            Command::new("g++")
                .args(["-fPIC", "-c"])
                .arg(d.join("x.cc"))
                .arg("-o")
                .arg(&obj),
            "g++",
            "g++",
        );
        let nm = run(
            Command::new("nm")
                .args(["--defined-only", "-g", "-j"])
                .arg(&obj),
            "nm",
            "binutils",
        );
        let mangled: Vec<String> = nm.lines().map(str::to_string).collect();
        assert_eq!(mangled.len(), 15, "{nm}");
        // GNU ld demangles without DMGL_VERBOSE, as `c++filt -i`: `std::ostream`.
        let demangled = run(
            Command::new("c++filt").arg("-i").args(&mangled),
            "c++filt",
            "binutils",
        );
        let symbols: Vec<(String, Option<String>)> = mangled
            .into_iter()
            .zip(demangled.lines().map(|d| Some(d.to_string())))
            .collect();
        for (label, text) in [
            ("cxx", "V1 { global: extern \"C++\" { ns::*; \"h(int, double)\"; }; c_func; local: *; };"),
            ("cxx_split", "V1 { extern \"C++\" { \"ns::f(int)\"; }; };\nV2 { global: extern \"C++\" { h*; }; local: *; };"),
            // The abbreviations as GNU ld spells them, a template constructor with both of
            // its parameters, and the special names.
            ("cxx_std", "V1 { global: extern \"C++\" { \"out(std::ostream&)\"; \"in(std::istream&)\"; }; local: *; };"),
            ("cxx_std_long", "V1 { global: extern \"C++\" { \"out(std::basic_ostream<char, std::char_traits<char> >&)\"; }; local: *; };"),
            ("cxx_ctor", "V1 { global: extern \"C++\" { \"S::S<char const*>(char const*, char const*)\"; }; local: *; };"),
            ("cxx_special", "V1 { global: extern \"C++\" { \"vtable for S\"; \"typeinfo for S\"; \"S::~S()\"; }; local: *; };"),
        ] {
            check_against_ld(d, &obj, &symbols, text, label);
        }
    }
}
