//! `-r` / `--relocatable` (and `-Ur`): the inputs merged into one `ET_REL`, as GNU ld does.
//!
//! Resolution is the final link's ([`crate::resolve`]: archive members pulled in for
//! undefined names, duplicate COMDAT groups dropped with the first copy kept, duplicate strong
//! definitions refused); nothing is resolved after it. [`sections`] places input sections in
//! output sections by name, [`symbols`] builds the symbol table, [`relocs`] carries every
//! relocation over with section-symbol addends moved, and [`mod@write`] encodes the file.

mod dead_fdes;
mod relocs;
mod sections;
mod symbols;
mod write;

use crate::error::{sym_name, LinkError, Result};
use crate::link::Link;
use crate::options::Options;
use crate::resolve::Resolved;
use object::elf;

/// Refuses what GNU ld refuses next to `-r`, with its messages.
pub fn check_options(opts: &Options) -> Result<()> {
    if !opts.relocatable {
        return Ok(());
    }
    for (given, name) in [(opts.shared, "-shared"), (opts.pie, "-pie")] {
        if given {
            return Err(LinkError::Usage(format!(
                "-r and {name} may not be used together"
            )));
        }
    }
    if opts.gc_sections {
        return Err(LinkError::Usage(
            match opts.entry.is_none() && opts.undefined.is_empty() {
                true => "--gc-sections requires a defined symbol root specified by -e or -u",
                false => "--gc-sections with -r is not supported by ld.tether",
            }
            .into(),
        ));
    }
    Ok(())
}

/// `-r` of LTO objects would need the plugin to write IR back (GNU ld's output is IR);
/// compiling them as for a final link would drop whatever nothing in them refers to.
pub fn refuse_ir(opts: &Options, resolved: &Resolved) -> Result<()> {
    match (opts.relocatable, resolved.ir_files.first()) {
        (true, Some(&(object, _))) => Err(LinkError::Other(format!(
            "{}: -r with LTO objects (-flto) is not supported by ld.tether (recompile without -flto)",
            resolved.objects[object as usize].name
        ))),
        _ => Ok(()),
    }
}

/// Writes the relocatable output of the resolved inputs.
pub fn link(opts: &Options, resolved: Resolved) -> Result<()> {
    // An object cannot carry a library along (GNU ld's message).
    if let Some(dso) = resolved.dsos.first() {
        return Err(LinkError::Other(format!(
            "attempted static link of dynamic object `{}'",
            dso.name
        )));
    }
    let mut link = Link::new(opts, resolved);
    crate::defsym::apply(&mut link)?;
    crate::strip::drop_debug_sections(&mut link);
    let flags: Vec<u32> = link.objects.iter().map(|o| o.flags).collect();
    link.arch
        .check_input_flags(&flags)
        .map_err(|(i, why)| LinkError::Other(format!("{}: {why}", link.objects[i].name)))?;
    let mut plan = sections::plan(&link)?;
    plan.dead_fdes = dead_fdes::find(&link);
    sections::build_contents(&link, &mut plan)?;
    let syms = symbols::build(&link, &plan)?;
    let signatures = group_signatures(&link, &plan, &syms)?;
    let relocs = relocs::build(&link, &mut plan, &syms)?;
    let image = write::image(&link, &plan, &syms, &relocs, &signatures)?;
    crate::output_file::write(&opts.output, &image)?;
    not_executable(&opts.output)
}

/// The output index of each kept group's signature symbol.
fn group_signatures(
    link: &Link,
    plan: &sections::Plan,
    syms: &symbols::Symbols,
) -> Result<Vec<u32>> {
    plan.groups
        .iter()
        .map(|g| {
            let file = g.file as usize;
            let obj = &link.objects[file];
            let sym = obj.symbols.get(g.signature_sym as usize);
            let index = match sym {
                // A group named by a section symbol: its member's output section symbol.
                Some(s) if s.ty == elf::STT_SECTION.0 => match s.place {
                    crate::object_file::SymPlace::Section(sec) => plan
                        .place(file, sec as usize)
                        .map(|(out, _)| syms.section_symbol(out)),
                    _ => None,
                },
                Some(_) => syms.index_of(link, file, g.signature_sym),
                None => None,
            };
            index.ok_or_else(|| {
                LinkError::Other(format!(
                    "{}: the signature symbol {} (`{}') of a COMDAT group is not in the output",
                    obj.name,
                    g.signature_sym,
                    sym_name(sym.map_or(&b""[..], |s| s.name()))
                ))
            })
        })
        .collect()
}

/// An object is not a program: as GNU ld, its mode has no execute bits.
fn not_executable(path: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
                .map_err(|e| LinkError::io(path, e))
        }
        _ => Ok(()),
    }
}
