//! `-s`/`--strip-all`, `-S`/`--strip-debug`, `-x`/`--discard-all`, `-X`/`--discard-locals` and
//! `--retain-symbols-file`: what of the inputs' debugging information and symbols reaches the
//! output, as GNU ld.

use crate::link::Link;

/// `-S`, or `-s` (which also omits `.symtab` and `.strtab`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Strip {
    #[default]
    None,
    Debug,
    All,
}

/// Which input local symbols `.symtab` keeps: `-X` (the default) drops the assembler's
/// temporary `.L` labels, `-x` every input local (hidden globals, made local, stay).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Discard {
    #[default]
    Locals,
    All,
}

/// Sections GNU ld counts as debugging information (`bfd_section_flags & SEC_DEBUGGING`).
fn is_debug(name: &[u8]) -> bool {
    [
        &b".debug"[..],
        b".zdebug",
        b".gnu.debuglto_",
        b".line",
        b".stab",
    ]
    .iter()
    .any(|p| name.starts_with(p))
}

/// Drops the debugging sections of every input under `-S` or `-s`.
pub fn drop_debug_sections(link: &mut Link) {
    if link.opts.strip == Strip::None {
        return;
    }
    for obj in &mut link.objects {
        for s in obj.sections.iter_mut().filter(|s| !s.is_alloc()) {
            if is_debug(s.name) {
                s.live = false;
            }
        }
    }
}

/// The names `--retain-symbols-file` keeps in `.symtab`: one per line, as GNU ld reads them
/// (surrounding blanks are not part of a name; empty lines name nothing).
pub fn read_retained(
    path: &std::path::Path,
) -> crate::error::Result<rustc_hash::FxHashSet<Vec<u8>>> {
    let text = std::fs::read(path).map_err(|e| crate::error::LinkError::io(path, e))?;
    Ok(text
        .split(|&b| b == b'\n')
        .map(|l| l.trim_ascii())
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect())
}
