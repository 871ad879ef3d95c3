//! The link as a whole: the state shared by every phase, what the core knows about a
//! relocation's target, and the driver that runs the phases in order.

use crate::arch::Arch;
use crate::decide::OutputKind;
use crate::error::{sym_name, LinkError, Result};
use crate::got_plt::{Got, Plt, Target};
use crate::object_file::{ObjectFile, SymPlace};
use crate::options::Options;
use crate::resolve::{is_function_type, Resolved};
use crate::shared_file::SharedFile;
use crate::symbols::{start_stop_section, Def, LinkerSymbol, SymbolId, SymbolTable};
use object::elf;
use rustc_hash::FxHashSet as HashSet;

pub struct Link<'d> {
    pub opts: &'d Options,
    pub arch: &'static dyn Arch,
    pub objects: Vec<ObjectFile<'d>>,
    pub global_ids: Vec<Vec<SymbolId>>,
    pub dsos: Vec<SharedFile<'d>>,
    pub symtab: SymbolTable<'d>,
    pub got: Got,
    pub plt: Plt,
    /// The output `.eh_frame`, rewritten per input ([`crate::eh_frame::rewrite`]).
    pub eh_frames: crate::eh_frame::EhFrames,
    /// Range-extension / interworking thunks (ARM), decided after layout.
    pub thunks: crate::thunks::Thunks,
    /// Named version nodes from `--version-script`, in version-index order from 2.
    pub version_nodes: Vec<crate::versions::Node>,
    /// What the link produces.
    pub kind: OutputKind,
    /// Names the linked shared libraries import (a program exports its definitions of them).
    pub dso_imports: HashSet<&'d [u8]>,
    /// Copies of imported data in the program ([`crate::decide::SymbolNeed::Copy`]).
    pub copies: crate::copies::Copies,
    /// Imported functions whose PLT entry is their address (by symbol id).
    pub canonical_plt: Vec<bool>,
    /// What relocations need of each global symbol, once it is settled
    /// ([`crate::scan::global_facts`], [`Link::reference`]).
    pub facts: Vec<crate::scan::GlobalFacts>,
    /// `SHF_MERGE` sections merged across inputs ([`crate::merge`]).
    pub merged: crate::merge::Merged,
    /// Sections `--icf` folded into an identical one ([`crate::icf`]).
    pub folded: crate::icf::Folded,
    /// Glob patterns of symbols a program exports (`--export-dynamic-symbol`,
    /// `--dynamic-list`).
    pub export_patterns: Vec<String>,
    /// `--retain-symbols-file`: the only names `.symtab` keeps (with the undefined ones).
    pub retained: Option<rustc_hash::FxHashSet<Vec<u8>>>,
    /// `.relr.dyn` ([`crate::relr`]).
    pub relr: crate::relr::Relr,
    /// Calls that jump through a GOT entry ([`crate::plt_got`]).
    pub plt_got: crate::plt_got::PltGot,
    /// The merged `.note.gnu.property` ([`crate::gnu_property`]).
    pub gnu_property: Option<Vec<u8>>,
}

/// What the core needs to know about the symbol a relocation refers to.
#[derive(Clone, Copy, Debug)]
pub struct TargetInfo {
    pub target: Target,
    /// Resolves inside the output: not preemptible, not imported.
    pub binds_locally: bool,
    pub is_function: bool,
    pub undefined: bool,
    pub undefined_weak: bool,
    /// An `SHN_ABS` symbol: its value does not move with the load address.
    pub absolute: bool,
}

impl<'d> Link<'d> {
    pub fn new(opts: &'d Options, r: Resolved<'d>) -> Link<'d> {
        let kind = output_kind(opts, !r.dsos.is_empty());
        let dso_imports = r
            .dsos
            .iter()
            .flat_map(|d| d.undefined.iter().copied())
            .collect();
        let symbols = r.symtab.len();
        Link {
            kind,
            dso_imports,
            copies: Default::default(),
            canonical_plt: vec![false; symbols],
            export_patterns: opts.export_dynamic_symbols.clone(),
            relr: Default::default(),
            plt_got: Default::default(),
            gnu_property: None,
            merged: Default::default(),
            facts: Vec::new(),
            retained: None,
            folded: Default::default(),
            opts,
            arch: r.arch,
            objects: r.objects,
            global_ids: r.global_ids,
            dsos: r.dsos,
            symtab: r.symtab,
            got: Got::default(),
            plt: Plt::default(),
            eh_frames: Default::default(),
            thunks: Default::default(),
            version_nodes: Vec::new(),
        }
    }

    pub fn global_id(&self, file: usize, sym: u32) -> Option<SymbolId> {
        let first = self.objects[file].first_global;
        (sym as usize)
            .checked_sub(first)
            .and_then(|i| self.global_ids[file].get(i).copied())
    }

    /// An IFUNC defined here that binds locally (hidden, protected, -Bsymbolic): its
    /// references go through a GOT slot or PLT entry the loader fills with an IRELATIVE
    /// relocation, calling the resolver.
    pub fn is_local_ifunc(&self, target: Target) -> bool {
        match target {
            // Once worked out for every global (`scan::global_facts`), read from there.
            Target::Global(id) if (id as usize) < self.facts.len() => {
                self.target_class(target) == crate::decide::SymClass::LocalIfunc
            }
            Target::Global(id) => {
                let s = self.symtab.get(id);
                s.ty == elf::STT_GNU_IFUNC.0
                    && matches!(s.def, Def::Regular { .. })
                    && self.global_binds_locally(id)
            }
            Target::Local { file, sym } => {
                file != u32::MAX
                    && self.objects[file as usize]
                        .symbols
                        .get(sym as usize)
                        .is_some_and(|s| s.ty == elf::STT_GNU_IFUNC.0)
            }
        }
    }

    /// Whether global symbol `id` resolves within the output.
    pub fn global_binds_locally(&self, id: SymbolId) -> bool {
        let s = self.symtab.get(id);
        match s.def {
            Def::Undefined => {
                let weak = !s.strong_ref;
                s.visibility != elf::STV_DEFAULT.0
                    || !self.kind.imports()
                    || (weak
                        && !crate::decide::undefined_weak_is_dynamic(
                            self.kind,
                            self.opts.z.dynamic_undefined_weak,
                            self.arch.weak_undefined_may_be_static(),
                        ))
            }
            Def::Shared { .. } => false,
            Def::Linker(_) => true,
            // An exported IFUNC is reached through the dynamic symbol table, where the loader
            // calls its resolver; hidden ones get IRELATIVE slots (`is_local_ifunc`).
            Def::Regular { .. }
                if s.ty == elf::STT_GNU_IFUNC.0
                    && s.visibility == elf::STV_DEFAULT.0
                    && self.kind == OutputKind::Shared =>
            {
                false
            }
            Def::Regular { .. } | Def::Common { .. } => {
                self.kind.is_program()
                    || s.visibility != elf::STV_DEFAULT.0
                    || s.forced_local
                    || self.opts.bsymbolic
                    || (self.opts.bsymbolic_functions && is_function_type(s.ty))
                    || (self.opts.bsymbolic_non_weak_functions
                        && is_function_type(s.ty)
                        && !s.weak_def)
            }
        }
    }

    /// Whether object `file` types its symbol `sym` as a function: a reference to an import
    /// is a call when the referring object says so.
    pub fn declares_function(&self, file: usize, sym: u32) -> bool {
        self.objects[file]
            .symbols
            .get(sym as usize)
            .is_some_and(|i| is_function_type(i.ty))
    }

    pub fn target_info(&self, file: usize, sym: u32) -> TargetInfo {
        let obj = &self.objects[file];
        let input = obj.symbols.get(sym as usize);
        match self.global_id(file, sym) {
            Some(id) => {
                let mut info = self.target_info_of(Target::Global(id));
                let s = self.symtab.get(id);
                info.is_function |= matches!(s.def, Def::Undefined | Def::Shared { .. })
                    && self.declares_function(file, sym);
                info
            }
            None => {
                let (absolute, is_function) = match input {
                    Some(i) => (i.place == SymPlace::Absolute, is_function_type(i.ty)),
                    None => (true, false),
                };
                TargetInfo {
                    target: Target::Local {
                        file: file as u32,
                        sym,
                    },
                    binds_locally: true,
                    is_function,
                    undefined: false,
                    undefined_weak: false,
                    absolute: absolute || sym == 0,
                }
            }
        }
    }

    /// What input symbol `sym` of object `file` refers to.
    pub fn symbol_target(&self, file: usize, sym: u32) -> Target {
        match self.global_id(file, sym) {
            Some(id) => Target::Global(id),
            None => Target::Local {
                file: file as u32,
                sym,
            },
        }
    }

    /// Asks for the input symbol defining global `id`, for a writer that will read it a few
    /// symbols on (a random read in the inputs' symbol tables).
    #[inline(always)]
    pub fn prefetch_definition(&self, id: SymbolId) {
        if let Some(Def::Regular { file, sym } | Def::Common { file, sym }) =
            self.symtab.symbols.get(id as usize).map(|s| s.def)
        {
            if let Some(obj) = self.objects.get(file as usize) {
                obj.symbols.prefetch(sym as usize);
            }
        }
    }

    /// The name of a target, for messages: a section symbol is named by its section.
    pub fn target_name(&self, target: Target) -> &'d [u8] {
        match target {
            Target::Global(id) => self.symtab.get(id).name,
            Target::Local { file, sym } => {
                let Some(obj) = self.objects.get(file as usize) else {
                    return b"";
                };
                match obj.symbols.get(sym as usize) {
                    Some(i) if i.ty == elf::STT_SECTION.0 => match i.place {
                        SymPlace::Section(s) => obj.sections[s as usize].name,
                        _ => i.name(),
                    },
                    Some(i) => i.name(),
                    None => b"",
                }
            }
        }
    }

    /// What the core knows about a resolved target (a GOT or PLT entry's, or a global a
    /// relocation names: [`Link::target_info`] builds on it).
    pub fn target_info_of(&self, target: Target) -> TargetInfo {
        match target {
            Target::Local { file, sym } if file != u32::MAX => self.target_info(file as usize, sym),
            Target::Local { .. } => TargetInfo {
                target,
                binds_locally: true,
                is_function: false,
                undefined: false,
                undefined_weak: false,
                absolute: false,
            },
            Target::Global(id) => {
                let s = self.symtab.get(id);
                let undefined = s.is_undefined();
                let binds_locally = self.global_binds_locally(id);
                let absolute = match s.def {
                    Def::Regular { file, sym } => {
                        self.objects[file as usize].symbols.at(sym as usize).place
                            == SymPlace::Absolute
                    }
                    Def::Linker(
                        LinkerSymbol::Absolute(_) | LinkerSymbol::Script { fixed: true, .. },
                    ) => true,
                    // An unresolved reference that binds here is 0 wherever the output loads.
                    _ => undefined && binds_locally,
                };
                TargetInfo {
                    target,
                    binds_locally,
                    is_function: is_function_type(s.ty),
                    undefined,
                    undefined_weak: undefined && !s.strong_ref,
                    absolute,
                }
            }
        }
    }

    /// Defines the symbols the linker provides when some input refers to them.
    pub fn define_linker_symbols(&mut self) {
        for (name, which) in [
            (
                &b"_GLOBAL_OFFSET_TABLE_"[..],
                LinkerSymbol::GlobalOffsetTable,
            ),
            (&b"_DYNAMIC"[..], LinkerSymbol::Dynamic),
        ] {
            if let Some(id) = self.symtab.lookup(name) {
                let s = self.symtab.get_mut(id);
                if s.is_undefined() {
                    s.def = Def::Linker(which);
                    // Never exported: references bind to this output's own table.
                    s.visibility = elf::STV_HIDDEN.0;
                    s.ty = elf::STT_OBJECT.0;
                }
            }
        }
        // The image and segment bounds crt files and libc refer to (GNU ld's default script
        // PROVIDEs them); hidden, so a program never exports them by accident. Looked up by
        // name: reading every symbol's name instead is a cache miss apiece on a large link.
        for (name, which) in LinkerSymbol::provided() {
            let Some(id) = self.symtab.lookup(name) else {
                continue;
            };
            let s = self.symtab.get_mut(id);
            if s.is_undefined() {
                s.def = Def::Linker(which);
                s.visibility = elf::STV_HIDDEN.0;
                s.ty = match which {
                    LinkerSymbol::TlsModuleBase => elf::STT_TLS.0,
                    _ => elf::STT_NOTYPE.0,
                };
            }
        }
        // `__start_SEC`/`__stop_SEC` bracket a live allocated section whose name is a C
        // identifier, so code can walk everything the inputs put there (linker sets).
        let sections: HashSet<&[u8]> = self
            .objects
            .iter()
            .flat_map(|o| o.sections.iter())
            .filter(|x| x.live && x.is_alloc())
            .map(|x| x.name)
            .collect();
        for section in sections {
            for (prefix, which) in [
                (&b"__start_"[..], LinkerSymbol::SectionStart),
                (&b"__stop_"[..], LinkerSymbol::SectionStop),
            ] {
                let name = [prefix, section].concat();
                if start_stop_section(&name) != Some(section) {
                    continue;
                }
                let Some(id) = self.symtab.lookup(&name) else {
                    continue;
                };
                let s = self.symtab.get_mut(id);
                if s.is_undefined() {
                    s.def = Def::Linker(which);
                    s.visibility = elf::STV_HIDDEN.0;
                    s.ty = elf::STT_NOTYPE.0;
                }
            }
        }
    }

    /// Applies `--exclude-libs`: symbols defined by members of the named archives are not
    /// exported.
    pub fn apply_exclude_libs(&mut self) {
        if self.opts.exclude_libs.is_empty() {
            return;
        }
        let all = self.opts.exclude_libs.iter().any(|l| l == "ALL");
        for id in 0..self.symtab.len() as SymbolId {
            let (Def::Regular { file, .. } | Def::Common { file, .. }) = self.symtab.get(id).def
            else {
                continue;
            };
            let Some(archive) = &self.objects[file as usize].archive else {
                continue;
            };
            let base = std::path::Path::new(archive)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            if all || self.opts.exclude_libs.contains(&base) {
                self.symtab.get_mut(id).forced_local = true;
            }
        }
    }

    /// The errors for undefined symbols, one per symbol with every place that references it.
    pub fn undefined_errors(&self, refs: &[(SymbolId, String)]) -> Vec<String> {
        let mut by_symbol: Vec<(SymbolId, Vec<&str>)> = Vec::new();
        for (id, place) in refs {
            let s = self.symtab.get(*id);
            // A program's unresolved symbols stay errors: tether has no import for a name
            // that no library defines (GNU ld's --unresolved-symbols=ignore-* makes one).
            let must_resolve = self.kind.is_program()
                || self
                    .opts
                    .unresolved_in_objects
                    .unwrap_or(self.opts.no_undefined)
                || s.visibility != elf::STV_DEFAULT.0;
            if !must_resolve {
                continue;
            }
            match by_symbol.iter_mut().find(|(i, _)| i == id) {
                Some((_, places)) => places.push(place),
                None => by_symbol.push((*id, vec![place])),
            }
        }
        by_symbol
            .into_iter()
            .map(|(id, places)| {
                let mut msg = format!("undefined symbol: {}", sym_name(self.symtab.get(id).name));
                for p in places {
                    msg.push_str("\n>>> referenced by ");
                    msg.push_str(p);
                }
                msg
            })
            .collect()
    }
}

/// The kind of output the options ask for, given whether shared libraries take part: a
/// program without any is static unless it is position-independent, as with GNU ld.
pub fn output_kind(opts: &Options, has_dsos: bool) -> OutputKind {
    if opts.shared {
        OutputKind::Shared
    } else if opts.pie && opts.no_dynamic_linker {
        OutputKind::StaticPie
    } else if opts.pie {
        OutputKind::Pie
    } else if has_dsos {
        OutputKind::Exec
    } else {
        OutputKind::Static
    }
}

/// Runs a whole link as the command line describes; warnings go to stderr. The passes, in
/// order: read and resolve, scan (one decision per relocation), allocate what the decisions
/// need, plan the dynamic tables, lay out (growing thunks until addresses settle), write.
pub fn run(opts: &Options) -> Result<()> {
    crate::timing::enable(opts.time_trace);
    let _total = crate::timing::phase("total");
    let opts = &crate::script::load::prepare(opts)?;
    let files = crate::timing::time("read inputs", || crate::inputs::collect(opts))?;
    let wrap_names: Vec<[String; 3]> = opts
        .wrap
        .iter()
        .map(|w| [w.clone(), format!("__wrap_{w}"), format!("__real_{w}")])
        .collect();
    let roots = crate::resolve::Roots {
        undefined: opts
            .undefined
            .iter()
            .chain(&opts.require_defined)
            .map(|s| s.as_bytes())
            .collect(),
        wrap: wrap_names
            .iter()
            .map(|[p, w, r]| (p.as_bytes(), w.as_bytes(), r.as_bytes()))
            .collect(),
    };
    match &opts.plugin {
        Some(plugin) => crate::plugin::run(opts, plugin, files, &roots),
        None => {
            let resolved = crate::timing::time("resolve symbols", || {
                crate::resolve::resolve_with_roots(&files, &roots)
            })?;
            link_resolved(opts, resolved)
        }
    }
}

/// The link after resolution (after the LTO plugin, if any, replaced what it claimed).
pub fn link_resolved(opts: &Options, resolved: crate::resolve::Resolved) -> Result<()> {
    crate::trace::symbols(opts, &resolved);
    check_required(opts, &resolved)?;
    if opts.relocatable {
        return crate::relocatable::link(opts, resolved);
    }
    // An object whose .note.GNU-stack is executable asks for an executable stack, as if
    // -z execstack had been given.
    let mut effective = opts.clone();
    effective.exec_stack |= resolved.objects.iter().any(|o| o.wants_exec_stack);
    let mut link = Link::new(&effective, resolved);
    for path in &opts.dynamic_list {
        link.export_patterns
            .extend(crate::dynamic_list::read(path)?);
    }
    if let Some(path) = &opts.retain_symbols_file {
        link.retained = Some(crate::strip::read_retained(path)?);
    }
    crate::defsym::apply(&mut link)?;
    crate::script::define::discard(&mut link)?;
    crate::script::define::define_symbols(&mut link)?;
    crate::strip::drop_debug_sections(&mut link);
    link.define_linker_symbols();
    crate::shlib_undefined::check(&link)?;
    link.apply_exclude_libs();
    crate::versions::apply_version_scripts(&mut link)?;
    crate::timing::time("gc sections", || crate::gc::collect(&mut link));
    link.merged = crate::timing::time("merge sections", || crate::merge::merge(&link));
    link.folded = crate::timing::time("fold identical sections", || crate::icf::fold(&mut link))?;
    link.eh_frames = crate::timing::time("rewrite .eh_frame", || {
        crate::eh_frame::rewrite::rewrite(&link)
    });
    check_input_flags(&link)?;
    link.gnu_property = crate::gnu_property::merge(&link)?;
    link.plt.ibt = crate::ibt_plt::enabled(&link);
    link.facts = crate::timing::time("symbol facts", || crate::scan::global_facts(&link));
    let mut scan = crate::timing::time("scan relocations", || crate::scan::scan(&link));
    report_scan(&link, &scan)?;
    crate::timing::time("allocate got/plt", || allocate(&mut link, &mut scan));
    crate::relr::plan(&mut link, scan.packed_words);
    let plan = crate::timing::time("plan dynamic", || {
        crate::dynamic::plan(&link, scan.dynamic_words, scan.textrel)
    })?;
    let layout = crate::timing::time("lay out", || lay_out(&mut link, &plan, &scan.actions))?;
    crate::map_file::write_if_asked(&link, &layout)?;
    let addrs = crate::timing::time("symbol addresses", || {
        crate::addresses::Addresses::compute(&link, &layout)
    });
    let compress = opts.compress_debug;
    let in_memory = compress != crate::compress::Compression::None;
    let mut out = crate::output_file::Output::create(&opts.output, layout.file_size, in_memory)?;
    crate::timing::time("write image", || {
        crate::write::write_image(
            &link,
            &plan,
            &layout,
            &scan.actions,
            &addrs,
            out.bytes_mut(),
        )
    })?;
    crate::timing::time("commit output", || {
        out.commit(|image| crate::compress::apply(image, compress))
    })
}

/// `--require-defined`: each name must end up defined (GNU ld's message).
fn check_required(opts: &Options, resolved: &crate::resolve::Resolved) -> Result<()> {
    let missing: Vec<String> = opts
        .require_defined
        .iter()
        .filter(|name| {
            resolved
                .symtab
                .lookup(name.as_bytes())
                .is_none_or(|id| !resolved.symtab.get(id).is_defined())
        })
        .map(|name| format!("required symbol `{name}' not defined"))
        .collect();
    match missing.len() {
        0 => Ok(()),
        _ => Err(LinkError::Many(missing)),
    }
}

fn check_input_flags(link: &Link) -> Result<()> {
    let flags: Vec<u32> = link.objects.iter().map(|o| o.flags).collect();
    link.arch
        .check_input_flags(&flags)
        .map_err(|(index, why)| LinkError::Other(format!("{}: {why}", link.objects[index].name)))
}

/// Fails on the scan's errors and undefined symbols; prints its warnings.
fn report_scan(link: &Link, scan: &crate::scan::ScanResult) -> Result<()> {
    let mut errors = scan.errors.clone();
    errors.extend(link.undefined_errors(&scan.undefined));
    if !errors.is_empty() {
        return Err(LinkError::Many(errors));
    }
    for w in &scan.warnings {
        eprintln!("ld.tether: warning: {w}");
    }
    if scan.textrel {
        let what = if link.kind.is_program() {
            "PIE"
        } else {
            "a shared object"
        };
        eprintln!("ld.tether: warning: creating DT_TEXTREL in {what}");
    }
    if link.opts.fatal_warnings && (scan.textrel || !scan.warnings.is_empty()) {
        return Err(LinkError::Other(crate::options::FATAL_WARNINGS.into()));
    }
    Ok(())
}

/// Creates the GOT and PLT entries, copies and canonical PLT addresses the scan asked for,
/// each GOT entry with the fill its symbol's class decides. The requests, one per
/// relocation, are consumed: the rest of the link holds the entries.
fn allocate(link: &mut Link, scan: &mut crate::scan::ScanResult) {
    for (kind, target) in std::mem::take(&mut scan.got) {
        // The scan asks once per relocation; the class is worked out once per entry.
        if link.got.entry(kind, target).is_some() {
            continue;
        }
        let class = link.target_class(target);
        let out = link.kind;
        let fill = crate::relr::got_fill(link, crate::decide::got_fill(out, kind, class));
        link.got.add(kind, target, || fill);
    }
    crate::plt_got::allocate(link, &std::mem::take(&mut scan.plt), &scan.canonical_plt);
    for &id in &scan.canonical_plt {
        link.canonical_plt[id as usize] = true;
    }
    link.copies = crate::copies::plan(link, &scan.copies);
    link.plt.header_needed = scan.tlsdesc_trampoline;
    // Without a loader, every PLT slot is an IFUNC's, relocated with the other IRELATIVEs.
    let irelative_in_plt = link.arch.irelative_in_plt_relocs() && link.kind.imports();
    if irelative_in_plt {
        link.plt.relocated_in_plt = link.plt.len();
    } else {
        link.plt.move_local_ifuncs_to_end();
    }
}

/// Lays out the output; thunks and `.relr.dyn` depend on addresses and move addresses, so
/// lay out again until no branch needs a new thunk and `.relr.dyn` holds every address (both
/// only grow, so this ends; in practice one or two rounds).
fn lay_out(
    link: &mut Link,
    plan: &crate::dynamic::DynPlan,
    actions: &[Vec<Vec<crate::scan::RelocAction>>],
) -> Result<crate::layout::Layout> {
    let mut layout = crate::layout::layout(link, plan)?;
    let mut thunks = std::mem::take(&mut link.thunks);
    let mut rounds = 0;
    loop {
        let more_thunks = crate::thunks::grow(link, &layout, actions, &mut thunks);
        if !more_thunks && !crate::relr::grow(link, &layout, actions) {
            break;
        }
        rounds += 1;
        if rounds > 32 {
            return Err(LinkError::Other(
                "layout does not converge (thunk placement, .relr.dyn)".into(),
            ));
        }
        link.thunks = thunks.clone();
        layout = crate::layout::layout(link, plan)?;
    }
    link.thunks = thunks;
    Ok(layout)
}
