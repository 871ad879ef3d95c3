//! GNU ld's command-line grammar, as binutils 2.40 `ld/lexsup.c` reads it with glibc's
//! `getopt_long_only`, so that every spelling GNU ld accepts means the same here:
//!
//! - `-lNAME` is `--library=NAME` before anything else (so `-library` is not `--library`).
//! - `-G` not followed by a number is `--shared`.
//! - An argument that starts with one dash and is more than one letter, or whose letter is
//!   not a short option, is first matched against the long options: an exact name, else a
//!   prefix of exactly one name (two or more is an error, with no fallback). With no match at
//!   all it is read as short options (`-hlibx.so`, `-znow`, `-Tfile`).
//! - `--output`, `--omagic` and `--no-omagic` need two dashes: `-omagic` is `-o magic`.
//! - Short options after the first letter of a cluster are "grouped": GNU ld 2.40 warns about
//!   one without an argument (`-sx`) and refuses one with an argument (`-sofoo`).
//!
//! The result is a list of canonical tokens that clap parses without ambiguity.

use super::gnu_table::{ARM, GENERIC, SHORT, TETHER_ONLY, TWO_DASHES_ONLY, X86_64};
use crate::error::{LinkError, Result};
use std::ffi::{OsStr, OsString};

/// Whether an option takes an argument (getopt's `has_arg`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    None,
    Required,
    /// Only attached with `=`: `--build-id=sha1`.
    Optional,
}

/// One option or input, as GNU ld's parser delivers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    Input(OsString),
    /// A long option by its full name (abbreviations resolved).
    Long(&'static str, Option<OsString>),
    Short(char, Option<OsString>),
}

/// The lexed command line and the warnings GNU ld would print about it.
#[derive(Debug, Default)]
pub struct Lexed {
    pub tokens: Vec<Token>,
    pub warnings: Vec<String>,
}

/// Which emulation's options are recognised: GNU ld adds them after reading `-m`.
fn long_table(args: &[OsString]) -> Vec<(&'static str, Arg)> {
    let emulation = args.iter().enumerate().find_map(|(i, a)| {
        let s = a.to_str()?;
        match s.strip_prefix("-m")? {
            "" => args.get(i + 1)?.to_str(),
            rest => Some(rest),
        }
    });
    let mut table: Vec<(&'static str, Arg)> = GENERIC.iter().chain(TETHER_ONLY).copied().collect();
    match emulation {
        Some(e) if e.starts_with("elf_x86_64") => table.extend(X86_64),
        Some(e) if e.starts_with("arm") => table.extend(ARM),
        _ => table.extend(X86_64.iter().chain(ARM)),
    }
    table
}

enum Match {
    Found(&'static str, Arg),
    Ambiguous,
    NotFound,
}

/// getopt's long-option lookup: an exact name wins, else a prefix of exactly one name.
fn find_long(table: &[(&'static str, Arg)], name: &str) -> Match {
    if let Some(&(n, a)) = table.iter().find(|(n, _)| *n == name) {
        return Match::Found(n, a);
    }
    let mut prefixed = table.iter().filter(|(n, _)| n.starts_with(name));
    match (prefixed.next(), prefixed.next()) {
        (Some(&(n, a)), None) => Match::Found(n, a),
        (Some(_), Some(_)) => Match::Ambiguous,
        _ => Match::NotFound,
    }
}

fn short_arg(c: char) -> Option<Arg> {
    SHORT.iter().find(|(s, _)| *s == c).map(|(_, a)| *a)
}

fn unrecognised(arg: &str) -> LinkError {
    LinkError::Usage(format!("unrecognized option '{arg}'"))
}

fn missing(arg: &str) -> LinkError {
    LinkError::Usage(format!("{arg}: missing argument"))
}

/// Reads GNU ld's command line (response files already expanded).
pub fn lex(args: Vec<OsString>) -> Result<Lexed> {
    let longs = long_table(&args);
    let mut out = Lexed::default();
    let mut rest = args.into_iter().peekable();
    while let Some(arg) = rest.next() {
        let Some(text) = arg.to_str().map(str::to_owned) else {
            out.tokens.push(Token::Input(arg));
            continue;
        };
        if text == "--" {
            out.tokens.extend(rest.by_ref().map(Token::Input));
            break;
        }
        if !text.starts_with('-') || text == "-" {
            out.tokens.push(Token::Input(arg));
            continue;
        }
        if let Some(name) = text.strip_prefix("-l").filter(|n| !n.is_empty()) {
            out.tokens.push(Token::Long("library", Some(name.into())));
            continue;
        }
        if text == "-G" && !rest.peek().is_some_and(|n| starts_with_digit(n)) {
            out.tokens.push(Token::Long("shared", None));
            continue;
        }
        let mut next = || rest.next();
        if let Some(body) = text.strip_prefix("--") {
            out.tokens
                .push(lex_double_dash(&longs, &text, body, &mut next)?);
            continue;
        }
        let body = &text[1..];
        let first = body.chars().next().unwrap_or('-');
        if body.chars().count() >= 2 || short_arg(first).is_none() {
            let name = body.split('=').next().unwrap_or(body);
            match find_long(&longs, name) {
                Match::Found(n, a) => {
                    out.tokens.push(long_token(&text, n, a, body, &mut next)?);
                    continue;
                }
                Match::Ambiguous => return Err(unrecognised(&text)),
                Match::NotFound => {}
            }
        }
        lex_shorts(&text, &mut next, &mut out)?;
    }
    Ok(out)
}

fn starts_with_digit(arg: &OsStr) -> bool {
    arg.to_str()
        .and_then(|s| s.chars().next())
        .is_some_and(|c| c.is_ascii_digit())
}

/// `--name`: the long options, then (as lexsup.c retries) the two-dash-only ones.
fn lex_double_dash(
    longs: &[(&'static str, Arg)],
    text: &str,
    body: &str,
    next: &mut dyn FnMut() -> Option<OsString>,
) -> Result<Token> {
    let name = body.split('=').next().unwrap_or(body);
    let found = match find_long(longs, name) {
        Match::Found(n, a) => Some((n, a)),
        _ => match find_long(TWO_DASHES_ONLY, name) {
            Match::Found(n, a) => Some((n, a)),
            _ => None,
        },
    };
    let (n, a) = found.ok_or_else(|| unrecognised(text))?;
    long_token(text, n, a, body, next)
}

/// The token for long option `name` written as `text` (`body` is `text` without dashes).
fn long_token(
    text: &str,
    name: &'static str,
    arg: Arg,
    body: &str,
    next: &mut dyn FnMut() -> Option<OsString>,
) -> Result<Token> {
    let attached = body.split_once('=').map(|(_, v)| OsString::from(v));
    let value = match (arg, attached) {
        (Arg::None, Some(_)) => {
            return Err(LinkError::Usage(format!(
                "option '{text}' doesn't allow an argument"
            )))
        }
        (Arg::None, None) | (Arg::Optional, None) => None,
        (_, Some(v)) => Some(v),
        (Arg::Required, None) => Some(next().ok_or_else(|| missing(text))?),
    };
    Ok(Token::Long(name, value))
}

/// A cluster of short options: `-s`, `-hlibx.so`, `-z now`, `-sx` (grouped).
fn lex_shorts(
    text: &str,
    next: &mut dyn FnMut() -> Option<OsString>,
    out: &mut Lexed,
) -> Result<()> {
    let body = &text[1..];
    for (at, c) in body.char_indices() {
        let arg = short_arg(c).ok_or_else(|| unrecognised(text))?;
        let grouped = at > 0 && !body.starts_with(c);
        let attached = &body[at + c.len_utf8()..];
        let value = match arg {
            Arg::None => None,
            Arg::Optional if attached.is_empty() => None,
            _ if !attached.is_empty() => Some(OsString::from(attached)),
            _ => Some(next().ok_or_else(|| unrecognised(text))?),
        };
        if grouped && value.is_some() {
            return Err(LinkError::Usage(format!(
                "unable to disambiguate: {text} (did you mean -{text} ?)"
            )));
        }
        if grouped {
            out.warnings.push(format!(
                "grouped short command line options are deprecated: {text}"
            ));
        }
        let done = value.is_some();
        out.tokens.push(Token::Short(c, value));
        if done {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexed(args: &[&str]) -> Result<Lexed> {
        lex(args.iter().map(OsString::from).collect())
    }

    fn tokens(args: &[&str]) -> Vec<Token> {
        lexed(args).expect("lexes").tokens
    }

    fn long(name: &'static str, value: Option<&str>) -> Token {
        Token::Long(name, value.map(OsString::from))
    }

    fn short(c: char, value: Option<&str>) -> Token {
        Token::Short(c, value.map(OsString::from))
    }

    fn error(args: &[&str]) -> String {
        let message = lexed(args).expect_err("rejected").to_string();
        message.trim_end_matches(" (try --help)").to_string()
    }

    #[test]
    fn one_dash_long_options_are_long() {
        assert_eq!(
            tokens(&["-shared", "-soname", "libx.so", "-defsym=a=b", "-strip-all"]),
            vec![
                long("shared", None),
                long("soname", Some("libx.so")),
                long("defsym", Some("a=b")),
                long("strip-all", None),
            ]
        );
        assert_eq!(
            tokens(&["-no-relax", "-export-dynamic", "-default-symver"]),
            vec![
                long("no-relax", None),
                long("export-dynamic", None),
                long("default-symver", None)
            ]
        );
    }

    #[test]
    fn short_options_take_attached_or_following_arguments() {
        assert_eq!(
            tokens(&[
                "-hlibx.so",
                "-znow",
                "-z",
                "relro",
                "-o",
                "out",
                "-Tld.script"
            ]),
            vec![
                short('h', Some("libx.so")),
                short('z', Some("now")),
                short('z', Some("relro")),
                short('o', Some("out")),
                short('T', Some("ld.script")),
            ]
        );
    }

    #[test]
    fn l_is_always_a_library_and_output_needs_two_dashes() {
        // -library would be --library=... by the long-option rule; lexsup.c rewrites -l first.
        assert_eq!(tokens(&["-library"]), vec![long("library", Some("ibrary"))]);
        assert_eq!(tokens(&["-output"]), vec![short('o', Some("utput"))]);
        assert_eq!(tokens(&["-omagic"]), vec![short('o', Some("magic"))]);
        assert_eq!(tokens(&["--output=x"]), vec![long("output", Some("x"))]);
    }

    #[test]
    fn unique_prefixes_abbreviate_and_ambiguous_ones_fail() {
        assert_eq!(tokens(&["-shar"]), vec![long("shared", None)]);
        assert_eq!(tokens(&["-uniq"]), vec![long("unique", None)]);
        assert_eq!(error(&["-ex"]), "unrecognized option '-ex'");
        assert_eq!(error(&["--sta"]), "unrecognized option '--sta'");
        assert_eq!(error(&["-Bfoo"]), "unrecognized option '-Bfoo'");
    }

    #[test]
    fn grouped_short_options_warn_or_fail_as_gnu_ld() {
        let l = lexed(&["-sx"]).expect("lexes");
        assert_eq!(l.tokens, vec![short('s', None), short('x', None)]);
        assert_eq!(
            l.warnings,
            vec!["grouped short command line options are deprecated: -sx"]
        );
        assert!(error(&["-sofoo"]).contains("unable to disambiguate: -sofoo"));
    }

    #[test]
    fn missing_arguments_and_stray_values_are_named() {
        assert_eq!(error(&["-soname"]), "-soname: missing argument");
        assert_eq!(error(&["-h"]), "unrecognized option '-h'");
        assert_eq!(
            error(&["--shared=yes"]),
            "option '--shared=yes' doesn't allow an argument"
        );
    }

    #[test]
    fn g_without_a_number_is_shared_and_double_dash_ends_options() {
        assert_eq!(
            tokens(&["-G", "a.o", "--", "-x"]),
            vec![
                long("shared", None),
                Token::Input("a.o".into()),
                Token::Input("-x".into())
            ]
        );
    }

    #[test]
    fn emulation_options_follow_m() {
        // --thumb-entry exists only for ARM: with x86-64, -thumb is -t -h umb (grouped, fails).
        assert_eq!(
            tokens(&["-m", "armelf_linux_eabi", "-thumb-entry=f"]),
            vec![
                short('m', Some("armelf_linux_eabi")),
                long("thumb-entry", Some("f"))
            ]
        );
        assert!(error(&["-melf_x86_64", "-thumb-entry=f"]).contains("disambiguate"));
    }
}
