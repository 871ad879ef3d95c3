//! `--defsym SYMBOL=EXPRESSION` in its two common forms: a number (an absolute symbol, which
//! does not move with the load address) or another symbol's name (an alias at its address).
//! Other expressions are refused by name, until linker-script expressions exist.

use crate::error::{LinkError, Result};
use crate::link::Link;
use crate::symbols::{Def, LinkerSymbol};
use object::elf;

enum Value<'a> {
    Number(u64),
    Symbol(&'a str),
}

/// A number as GNU ld's script lexer reads one: `0x` hex, decimal, a `K`/`M` multiplier.
fn number(text: &str) -> Option<u64> {
    let (digits, scale) = match text.as_bytes().last()? {
        b'K' | b'k' => (&text[..text.len() - 1], 1024),
        b'M' | b'm' => (&text[..text.len() - 1], 1024 * 1024),
        _ => (text, 1),
    };
    let value = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => digits.parse().ok()?,
    };
    value.checked_mul(scale)
}

fn is_symbol_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || "_.$".contains(c))
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.$@".contains(c))
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
