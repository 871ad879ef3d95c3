//! Itanium C++ names demangled as GNU ld demangles them for `extern "C++"` version-script
//! patterns: libiberty's `cplus_demangle` with `DMGL_PARAMS | DMGL_ANSI`, which is what
//! `c++filt -i` prints (plain `c++filt` adds `DMGL_VERBOSE`, spelling `std::ostream` out as
//! `std::basic_ostream<char, std::char_traits<char> >`; GNU ld 2.40 matches
//! `X::g(std::ostream&)` and not the long form).
//!
//! The demangling itself is the `cpp_demangle` crate's. Its output differs from libiberty's
//! in spelling, and in two places in substance; [`demangle`] corrects both through the
//! crate's structured output (which shows what each piece of text came from) and a textual
//! pass over the rest. The tests compare every symbol libstdc++ exports (x86-64 and armhf)
//! with `c++filt -i`.

use cpp_demangle::{DemangleNodeType, DemangleOptions, DemangleWrite, Symbol};

/// The demangled form of `name`, or `None` when it is not a mangled C++ name (or is one too
/// deep to demangle: the crate bounds its recursion).
pub fn demangle(name: &[u8]) -> Option<String> {
    let text = structured(name)?;
    // A template constructor or destructor has no return type, but the crate takes its
    // first parameter for one and drops it: give it a `void` to drop instead.
    let text = match swallowed_parameter(&text).then(|| name_end(name)).flatten() {
        Some(at) => structured(&[&name[..at], b"v", &name[at..]].concat())?,
        None => text,
    };
    Some(respell(&text))
}

/// The crate's text, with its chunk-level quirks corrected by [`Chunks`].
fn structured(name: &[u8]) -> Option<String> {
    let symbol = Symbol::new(name).ok()?;
    let mut chunks = Chunks::default();
    symbol
        .structured_demangle(&mut chunks, &DemangleOptions::new())
        .ok()?;
    Some(chunks.finish())
}

/// Collects the crate's output chunk by chunk:
/// - the abbreviations `Si` and `Sd` arrive as one chunk spelled out in full, where
///   libiberty says `std::istream` and `std::iostream` (a name spelled out in the mangled
///   form arrives in pieces, and stays spelled out, as in libiberty);
/// - a reference or pointer to a nested name whose prefix is a back-reference comes out in
///   the middle of the name (`A::B&::C`): qualifiers written right after a node ends and
///   followed by `::` are held back until the nested name they interrupted ends
///   (`A::B::C&`). A local name's `f() const::x` is written after a `)`, not a node's end.
#[derive(Default)]
struct Chunks {
    out: String,
    depth: usize,
    /// Whether the last thing written ended a node.
    after_node: bool,
    /// Qualifiers just written after a node, not yet known to be in the right place.
    held: Vec<&'static str>,
    /// Qualifiers moved to the end of the node open at `depth`.
    deferred: Vec<(usize, String)>,
}

/// The chunks a pointer, reference or cv-qualifier is written in (`const` comes after a
/// chunk of its own space).
const QUALIFIERS: [&str; 9] = [
    "&",
    "&&",
    "*",
    " ",
    "const",
    "volatile",
    " const",
    " volatile",
    " restrict",
];

impl Chunks {
    fn release_held(&mut self) {
        for q in self.held.drain(..) {
            self.out.push_str(q);
        }
    }

    /// What is still held or deferred when the crate is done.
    fn finish(mut self) -> String {
        self.release_held();
        while let Some((_, moved)) = self.deferred.pop() {
            self.out.push_str(&moved);
        }
        self.out
    }
}

impl DemangleWrite for Chunks {
    fn push_demangle_node(&mut self, _: DemangleNodeType) {
        self.release_held();
        self.after_node = false;
        self.depth += 1;
    }

    fn write_string(&mut self, s: &str) -> std::fmt::Result {
        if let Some(q) = QUALIFIERS.iter().find(|&&q| q == s) {
            if self.after_node {
                self.held.push(q);
                return Ok(());
            }
        }
        self.after_node = false;
        if s == "::" && !self.held.is_empty() {
            let moved = self.held.drain(..).collect();
            self.deferred.push((self.depth, moved));
        } else {
            self.release_held();
        }
        self.out.push_str(match s {
            "std::basic_istream<char, std::char_traits<char> >" => "std::istream",
            "std::basic_iostream<char, std::char_traits<char> >" => "std::iostream",
            other => other,
        });
        Ok(())
    }

    fn pop_demangle_node(&mut self) {
        self.release_held();
        let keep = self
            .deferred
            .iter()
            .rposition(|(d, _)| *d != self.depth)
            .map_or(0, |i| i + 1);
        for (_, moved) in self.deferred.split_off(keep) {
            self.out.push_str(&moved);
        }
        self.depth = self.depth.saturating_sub(1);
        self.after_node = true;
    }
}

/// Longest name [`name_end`] searches: it parses every prefix.
const MAX_REPARSED: usize = 2048;

/// Where the encoding's name ends and its parameter types start: the shortest prefix that
/// parses (a nested name is incomplete until its closing `E`).
fn name_end(name: &[u8]) -> Option<usize> {
    if name.len() > MAX_REPARSED {
        return None;
    }
    (3..name.len()).find(|&k| name[k - 1] == b'E' && Symbol::new(&name[..k]).is_ok())
}

/// Whether `text` is a template constructor or destructor (`A::A<int>(…)`, `A::~A<int>(…)`),
/// whose first parameter the crate has dropped.
fn swallowed_parameter(text: &str) -> bool {
    let Some(head) = text[..params_open(text).unwrap_or(0)].strip_suffix('>') else {
        return false;
    };
    let Some(open) = opening(head, '<', '>') else {
        return false;
    };
    let Some((scope, leaf)) = head[..open].rsplit_once("::") else {
        return false;
    };
    let scope = match scope.strip_suffix('>').and_then(|s| opening(s, '<', '>')) {
        Some(open) => &scope[..open],
        None => scope,
    };
    let class = scope.rsplit("::").next().unwrap_or(scope);
    leaf.strip_prefix('~').unwrap_or(leaf) == class
}

/// Where the parameter list of a function's demangled name opens.
fn params_open(text: &str) -> Option<usize> {
    let t = text
        .trim_end_matches(" const")
        .trim_end_matches(" volatile");
    opening(t.strip_suffix(')')?, '(', ')')
}

/// The position of the `open` that the `close` just after `s` (removed) matches.
fn opening(s: &str, open: char, close: char) -> Option<usize> {
    let mut depth = 1;
    for (i, c) in s.char_indices().rev() {
        if c == close {
            depth += 1;
        } else if c == open {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

/// The spelling differences from libiberty that need no structure.
fn respell(text: &str) -> String {
    let text = special_name(text).unwrap_or_else(|| text.to_string());
    let text = abbreviated_constructors(&text);
    let text = literals(&text);
    // `Dn`: libiberty names the type, not the typedef.
    text.replace("std::nullptr_t", "decltype(nullptr)")
}

/// Virtual tables, VTTs and thunks, which the crate writes in braces: `{vtable(X)}` is
/// `vtable for X`, `{virtual override thunk({offset(-16)}, f)}` is `non-virtual thunk to f`.
fn special_name(text: &str) -> Option<String> {
    let inner = text.strip_suffix(")}")?;
    if let Some(t) = inner.strip_prefix("{vtable(") {
        return Some(format!("vtable for {t}"));
    }
    if let Some(t) = inner.strip_prefix("{vtt(") {
        return Some(format!("VTT for {t}"));
    }
    let mut rest = inner.strip_prefix("{virtual override thunk(")?;
    let mut offsets = Vec::new();
    while let Some((is_virtual, after)) = [("{offset(", false), ("{virtual offset(", true)]
        .iter()
        .find_map(|&(p, v)| Some((v, rest.strip_prefix(p)?)))
    {
        let (_, tail) = after.split_once(")}, ")?;
        offsets.push(is_virtual);
        rest = tail;
    }
    Some(match offsets[..] {
        [false] => format!("non-virtual thunk to {rest}"),
        [true] => format!("virtual thunk to {rest}"),
        _ => format!("covariant return thunk to {rest}"),
    })
}

/// (libiberty's short form, the crate's leaf for a constructor, the long form, its leaf).
const ABBREVIATIONS: [(&str, &str, &str, &str); 4] = [
    (
        "std::string",
        "string",
        "std::basic_string<char, std::char_traits<char>, std::allocator<char> >",
        "basic_string",
    ),
    (
        "std::istream",
        "basic_istream",
        "std::basic_istream<char, std::char_traits<char> >",
        "basic_istream",
    ),
    (
        "std::ostream",
        "ostream",
        "std::basic_ostream<char, std::char_traits<char> >",
        "basic_ostream",
    ),
    (
        "std::iostream",
        "basic_iostream",
        "std::basic_iostream<char, std::char_traits<char> >",
        "basic_iostream",
    ),
];

/// libiberty spells an abbreviation (`Ss`, `Si`, `So`, `Sd`) out in full where it names a
/// constructor's or destructor's class: `std::basic_string<…>::basic_string(…)`.
fn abbreviated_constructors(text: &str) -> String {
    let mut text = text.to_string();
    for (short, leaf, long, long_leaf) in ABBREVIATIONS {
        for (tilde, next) in [("", '('), ("", '<'), ("~", '(')] {
            text = text.replace(
                &format!("{short}::{tilde}{leaf}{next}"),
                &format!("{long}::{tilde}{long_leaf}{next}"),
            );
        }
    }
    text
}

/// Integer template arguments: the crate casts (`(long)1`), libiberty suffixes (`1l`).
fn literals(text: &str) -> String {
    let mut text = text.to_string();
    for (cast, suffix) in [
        ("(unsigned long long)", "ull"),
        ("(long long)", "ll"),
        ("(unsigned long)", "ul"),
        ("(long)", "l"),
        ("(unsigned int)", "u"),
        ("(int)", ""),
    ] {
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(at) = rest.find(cast) {
            out.push_str(&rest[..at]);
            let after = &rest[at + cast.len()..];
            let digits = after
                .char_indices()
                .take_while(|&(i, c)| c.is_ascii_digit() || (i == 0 && c == '-'))
                .count();
            if digits > 0 && after.as_bytes()[digits - 1].is_ascii_digit() {
                out.push_str(&after[..digits]);
                out.push_str(suffix);
            } else {
                out.push_str(cast);
                out.push_str(&after[..digits]);
            }
            rest = &after[digits..];
        }
        out.push_str(rest);
        text = out;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::demangle;
    use std::process::Command;

    fn output(cmd: &mut Command, tool: &str, package: &str) -> String {
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("{tool} (Debian package {package}): {e}"));
        assert!(out.status.success(), "{tool} failed");
        String::from_utf8(out.stdout).expect("UTF-8")
    }

    /// What GNU ld's demangling gives for each of `names`.
    fn cxxfilt(names: &[String]) -> Vec<String> {
        use std::io::Write;
        let mut child = Command::new("c++filt")
            .arg("-i")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("c++filt (Debian package binutils)");
        let mut stdin = child.stdin.take().expect("stdin");
        let text = names.join("\n") + "\n";
        let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
        let out = child.wait_with_output().expect("c++filt output");
        writer.join().expect("writer").expect("write names");
        String::from_utf8(out.stdout)
            .expect("UTF-8")
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Every `_Z` name libstdc++ exports, on x86-64 and armhf, demangles exactly as
    /// `c++filt -i` demangles it.
    #[test]
    fn agrees_with_cxxfilt_on_every_libstdcxx_export() {
        for lib in [
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/usr/arm-linux-gnueabihf/lib/libstdc++.so.6",
        ] {
            let nm = output(
                Command::new("nm").args(["-D", "--defined-only", lib]),
                "nm",
                "binutils",
            );
            let mut names: Vec<String> = nm
                .lines()
                .filter_map(|l| l.split_whitespace().last())
                .map(|s| s.split('@').next().unwrap_or(s).to_string())
                .filter(|s| s.starts_with("_Z"))
                .collect();
            names.sort();
            names.dedup();
            assert!(names.len() > 3000, "{lib}: {} names", names.len());
            let expected = cxxfilt(&names);
            assert_eq!(expected.len(), names.len());
            let wrong: Vec<String> = names
                .iter()
                .zip(&expected)
                .filter(|(n, e)| demangle(n.as_bytes()).as_deref() != Some(e.as_str()))
                .map(|(n, e)| {
                    format!(
                        "{n}\n  c++filt -i: {e}\n  ours: {:?}",
                        demangle(n.as_bytes())
                    )
                })
                .collect();
            assert!(
                wrong.is_empty(),
                "{lib}: {} of {} differ:\n{}",
                wrong.len(),
                names.len(),
                wrong[..wrong.len().min(20)].join("\n")
            );
        }
    }

    /// Each correction, on a name built to need it, and names the crate gets right alone.
    #[test]
    fn corrections_agree_with_cxxfilt() {
        let names: Vec<String> = [
            "_ZTV1A",
            "_ZTT1A",
            "_ZThn16_N1A1fEv",
            "_ZTv0_n12_N1A1fEv",
            "_ZTch0_h16_N1A1fEv",
            "_ZN1X1gERSo",
            "_ZN1X1gERSi",
            "_ZN1X1gERSd",
            "_ZNSsC1Ev",
            "_ZNSoD0Ev",
            "_ZNSiC1EOSi",
            "_Z1fRSt13basic_istreamIcSt11char_traitsIcEE",
            "_ZNSsC1IPKcEET_S2_RKSaIcE",
            "_ZN1AC1IiEET_",
            "_ZN1AD1IiEEv",
            "_Z1fRN1A1BERNS0_1CE",
            "_ZN1X1fEPKN1A1BERKNS1_1CE",
            "_Z1fILl1ELm2ELx3ELy4ELj5ELin6EEvv",
            "_Z1fILb1EEvv",
            "_Z1fDn",
            "_ZN12_GLOBAL__N_11fEv",
            "_ZZ4mainENKUliE_clEi",
            "_Z1fB5cxx11v",
            "_ZNSt6vectorIiSaIiEE9push_backERKi",
            "_Z1fIiLi5EEvv",
            "_ZSt4swapIiEvRT_S1_",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for (name, expected) in names.iter().zip(cxxfilt(&names)) {
            assert_eq!(demangle(name.as_bytes()), Some(expected), "{name}");
        }
    }

    #[test]
    fn not_mangled_or_too_deep_is_none() {
        assert_eq!(demangle(b"main"), None);
        assert_eq!(demangle(b"_Z"), None);
        let mut deep = b"_Z1f".to_vec();
        deep.extend(std::iter::repeat_n(b'P', 100_000));
        deep.push(b'i');
        assert_eq!(demangle(&deep), None);
        // A template constructor too long to search for its parameters still demangles.
        let long = format!("_ZN1AC1IiEET_{}", "i".repeat(super::MAX_REPARSED));
        assert!(demangle(long.as_bytes()).is_some());
    }
}
