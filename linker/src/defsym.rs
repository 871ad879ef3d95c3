//! `--defsym SYMBOL=EXPRESSION` in its two common forms: a number (an absolute symbol, which
//! does not move with the load address) or another symbol's name (an alias at its address).
//! Other expressions are script assignments ([`crate::script::load`]), evaluated after
//! layout with the scripts'.

use crate::error::{LinkError, Result};
use crate::link::Link;
use crate::symbols::{Def, LinkerSymbol};
use object::elf;

enum Value<'a> {
    Number(u64),
    Symbol(&'a str),
}

/// A number as GNU ld's script lexer reads one.
fn number(text: &str) -> Option<u64> {
    crate::script::lex::parse_number(text)
}

fn is_symbol_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || "_.$".contains(c))
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.$@".contains(c))
}

/// A definition this module handles itself: `NAME=NUMBER` or `NAME=OTHER`.
pub fn is_simple(definition: &str) -> bool {
    definition.split_once('=').is_some_and(|(_, e)| {
        let e = e.trim();
        number(e).is_some() || is_symbol_name(e)
    })
}

fn parse(definition: &str) -> Result<(&str, Value<'_>)> {
    let bad = || LinkError::Usage(format!("--defsym {definition}: expected SYMBOL=EXPRESSION"));
    let (name, expr) = definition.split_once('=').ok_or_else(bad)?;
    let (name, expr) = (name.trim(), expr.trim());
    if !is_symbol_name(name) {
        return Err(bad());
    }
    if let Some(n) = number(expr) {
        return Ok((name, Value::Number(n)));
    }
    if is_symbol_name(expr) {
        return Ok((name, Value::Symbol(expr)));
    }
    Err(LinkError::Usage(format!(
        "--defsym {definition}: only a number or a symbol name is supported"
    )))
}

/// Defines every `--defsym` symbol, overriding an input's definition as GNU ld does.
pub fn apply(link: &mut Link) -> Result<()> {
    let opts = link.opts;
    for definition in &opts.defsym {
        let (name, value) = parse(definition)?;
        let (def, ty, size) = match value {
            Value::Number(n) => (Def::Linker(LinkerSymbol::Absolute(n)), elf::STT_NOTYPE.0, 0),
            Value::Symbol(target) => {
                let id = link.symtab.lookup(target.as_bytes());
                let s = id.map(|id| link.symtab.get(id)).filter(|s| s.is_defined());
                let s = s.ok_or_else(|| {
                    LinkError::Other(format!(
                        "--defsym {definition}: undefined symbol `{target}' referenced in expression"
                    ))
                })?;
                (s.def, s.ty, s.size)
            }
        };
        let id = link.symtab.intern(name.as_bytes());
        let s = link.symtab.get_mut(id);
        s.def = def;
        s.ty = ty;
        s.size = size;
        s.weak_def = false;
        s.referenced = true;
    }
    Ok(())
}
