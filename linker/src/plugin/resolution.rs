//! The `LDPR_*` resolution of every symbol of a claimed file, from tether's own resolution of
//! the first pass (IR and regular symbols together).

use crate::decide::OutputKind;
use crate::options::Options;
use crate::resolve::Resolved;
use crate::symbols::{Def, SymbolId};
use object::elf;
use std::collections::HashSet;

const UNDEF: i32 = 1;
const PREVAILING_DEF: i32 = 2;
const PREVAILING_DEF_IRONLY: i32 = 3;
const PREEMPTED_REG: i32 = 4;
const PREEMPTED_IR: i32 = 5;
const RESOLVED_IR: i32 = 6;
const RESOLVED_EXEC: i32 = 7;
const RESOLVED_DYN: i32 = 8;
const PREVAILING_DEF_IRONLY_EXP: i32 = 9;

/// Facts about the whole link that decide whether a prevailing IR definition must stay
/// visible outside the IR.
struct Context<'a, 'd> {
    resolved: &'a Resolved<'d>,
    ir_files: HashSet<u32>,
    /// Symbols that a regular object, a shared library or the linker itself refers to.
    outside_refs: HashSet<SymbolId>,
    kind: OutputKind,
    /// Every default-visibility definition of a program is exported (`-E`, or a dynamic
    /// list tether does not match against IR names).
    export_all: bool,
}

/// (handle, resolutions) for every claimed file of the first pass.
pub fn compute(opts: &Options, kind: OutputKind, resolved: &Resolved) -> Vec<(usize, Vec<i32>)> {
    let ir_files: HashSet<u32> = resolved.ir_files.iter().map(|&(f, _)| f).collect();
    let mut outside_refs = HashSet::new();
    for (file, ids) in resolved.global_ids.iter().enumerate() {
        if !ir_files.contains(&(file as u32)) {
            outside_refs.extend(ids.iter().copied());
        }
    }
    let linker_refs = [
        opts.entry.as_deref().unwrap_or("_start"),
        opts.init.as_str(),
        opts.fini.as_str(),
    ];
    let dso_refs = resolved
        .dsos
        .iter()
        .flat_map(|d| d.undefined.iter().copied());
    for name in linker_refs.iter().map(|n| n.as_bytes()).chain(dso_refs) {
        outside_refs.extend(resolved.symtab.lookup(name));
    }
    let cx = Context {
        resolved,
        ir_files,
        outside_refs,
        kind,
        export_all: opts.export_dynamic
            || !opts.dynamic_list.is_empty()
            || !opts.export_dynamic_symbols.is_empty(),
    };
    resolved
        .ir_files
        .iter()
        .map(|&(file, handle)| (handle, cx.file(file)))
        .collect()
}

impl Context<'_, '_> {
    fn file(&self, file: u32) -> Vec<i32> {
        let obj = &self.resolved.objects[file as usize];
        let ids = &self.resolved.global_ids[file as usize];
        obj.symbols
            .iter()
            .skip(obj.first_global)
            .zip(ids)
            .enumerate()
            .map(|(i, (sym, &id))| {
                let index = (obj.first_global + i) as u32;
                match sym.place {
                    crate::object_file::SymPlace::Undefined => self.reference(id),
                    _ => self.definition(id, file, index),
                }
            })
            .collect()
    }

    fn reference(&self, id: SymbolId) -> i32 {
        match self.resolved.symtab.get(id).def {
            Def::Undefined => UNDEF,
            Def::Shared { .. } => RESOLVED_DYN,
            Def::Linker(_) => RESOLVED_EXEC,
            Def::Regular { file, .. } | Def::Common { file, .. } => {
                if self.ir_files.contains(&file) {
                    RESOLVED_IR
                } else {
                    RESOLVED_EXEC
                }
            }
        }
    }

    fn definition(&self, id: SymbolId, file: u32, index: u32) -> i32 {
        let s = self.resolved.symtab.get(id);
        match s.def {
            Def::Regular { file: f, sym } | Def::Common { file: f, sym }
                if f == file && sym == index =>
            {
                self.prevailing(id)
            }
            Def::Regular { file: f, .. } | Def::Common { file: f, .. }
                if self.ir_files.contains(&f) =>
            {
                PREEMPTED_IR
            }
            _ => PREEMPTED_REG,
        }
    }

    /// A prevailing IR definition: whether anything but IR needs it decides how much the
    /// compiler may do with it (drop, internalise).
    fn prevailing(&self, id: SymbolId) -> i32 {
        if self.outside_refs.contains(&id) {
            return PREVAILING_DEF;
        }
        let s = self.resolved.symtab.get(id);
        let exportable = s.visibility == elf::STV_DEFAULT.0 || s.visibility == elf::STV_PROTECTED.0;
        match self.kind {
            OutputKind::Shared if exportable => PREVAILING_DEF_IRONLY_EXP,
            OutputKind::Pie | OutputKind::Exec if exportable && self.export_all => {
                PREVAILING_DEF_IRONLY_EXP
            }
            _ => PREVAILING_DEF_IRONLY,
        }
    }
}
