//! Second input phase: parse the mapped files in command-line order, extract archive members
//! on demand (GNU semantics: an archive satisfies references made before it; a group is
//! rescanned until nothing changes), deduplicate COMDAT groups and resolve every global
//! symbol to one definition.

use crate::arch::{self, Arch};
use crate::error::{sym_name, LinkError, Result};
use crate::inputs::{FileKind, MappedFile};
use crate::object_file::{ObjectFile, SymPlace};
use crate::plugin::{is_bitcode, Claim, Claimer};
use crate::shared_file::SharedFile;
use crate::symbols::{merge_visibility, split_symver, Def, SymbolId, SymbolTable};
use object::elf;
use object::read::archive::ArchiveFile;
use rayon::prelude::*;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::path::{Path, PathBuf};

pub struct Resolved<'d> {
    pub arch: &'static dyn Arch,
    pub objects: Vec<ObjectFile<'d>>,
    /// For each object, the global symbol id of each of its non-local symbols
    /// (index `sym - first_global`).
    pub global_ids: Vec<Vec<SymbolId>>,
    pub dsos: Vec<SharedFile<'d>>,
    pub symtab: SymbolTable<'d>,
    /// Objects that stand for files the LTO plugin claimed: (object index, plugin handle).
    pub ir_files: Vec<(u32, usize)>,
}

struct Archive<'d> {
    name: String,
    data: &'d [u8],
    /// (symbol name, member offset) from the archive index.
    index: Vec<(&'d [u8], u64)>,
    loaded: HashSet<u64>,
}

struct Resolver<'d, 'c> {
    arch: Option<&'static dyn Arch>,
    objects: Vec<ObjectFile<'d>>,
    global_ids: Vec<Vec<SymbolId>>,
    dsos: Vec<SharedFile<'d>>,
    symtab: SymbolTable<'d>,
    comdat: HashMap<&'d [u8], u32>,
    errors: Vec<String>,
    claimer: Option<&'c mut dyn Claimer>,
    ir_files: Vec<(u32, usize)>,
    wrap: Vec<(&'d [u8], &'d [u8], &'d [u8])>,
}

pub fn resolve<'d>(files: &'d [MappedFile]) -> Result<Resolved<'d>> {
    resolve_with(files, None, true, &Roots::default())
}

/// What the command line adds to resolution.
#[derive(Default)]
pub struct Roots<'d> {
    /// `-u`, `--require-defined`: undefined from the start, they pull archive members in as
    /// a reference from an object would, without making the symbol dynamic (GNU ld lists
    /// such a symbol in neither `.dynsym` nor an error under `-z defs`).
    pub undefined: Vec<&'d [u8]>,
    /// `--wrap`: (symbol, `__wrap_symbol`, `__real_symbol`). Undefined references to the
    /// symbol go to `__wrap_symbol`, and those to `__real_symbol` to the symbol.
    pub wrap: Vec<(&'d [u8], &'d [u8], &'d [u8])>,
}

/// Resolves with what the command line adds (`roots`).
pub fn resolve_with_roots<'d>(files: &'d [MappedFile], roots: &Roots<'d>) -> Result<Resolved<'d>> {
    resolve_with(files, None, true, roots)
}

/// [`resolve_with_roots`], offering every object and loaded archive member to `claimer` (the
/// LTO plugin) first. Without `require_arch`, a link of IR files alone resolves too.
pub fn resolve_with<'d>(
    files: &'d [MappedFile],
    claimer: Option<&mut dyn Claimer>,
    require_arch: bool,
    roots: &Roots<'d>,
) -> Result<Resolved<'d>> {
    let mut r = Resolver {
        claimer,
        ir_files: Vec::new(),
        arch: None,
        objects: Vec::new(),
        global_ids: Vec::new(),
        dsos: Vec::new(),
        symtab: SymbolTable::default(),
        comdat: HashMap::default(),
        errors: Vec::new(),
        wrap: roots.wrap.clone(),
    };
    for &name in &roots.undefined {
        let id = r.symtab.intern(name);
        r.symtab.get_mut(id).strong_ref = true;
    }
    // Objects named on the command line are parsed in parallel, on other threads, while
    // resolution takes them in order as they arrive; with a plugin, those it could claim are
    // offered to it in order instead.
    std::thread::scope(|scope| {
        let parsed = parse_objects(scope, files, r.claimer.is_some());
        r.resolve_files(files, parsed)
    })?;
    r.bind_versioned_references();
    if !r.errors.is_empty() {
        return Err(LinkError::Many(r.errors));
    }
    let arch = match r.arch {
        Some(a) => a,
        None if !require_arch => arch::for_machine(elf::EM_X86_64.0).expect("x86-64 is a target"),
        None => {
            let names: Vec<String> = files.iter().map(|f| f.display()).collect();
            return Err(LinkError::Other(format!(
                "no ELF object among the inputs ({}): cannot tell the target",
                names.join(", ")
            )));
        }
    };
    Ok(Resolved {
        arch,
        objects: r.objects,
        global_ids: r.global_ids,
        dsos: r.dsos,
        symtab: r.symtab,
        ir_files: r.ir_files,
    })
}

/// An object being parsed on another thread.
type Parsed<'d> = std::sync::mpsc::Receiver<Result<ObjectFile<'d>>>;

/// Starts parsing the objects among `files` in parallel; each arrives on its receiver (one
/// per object, in `files`' positions). With a plugin (`plugin`), what it could claim is left
/// to it. From inside a rayon pool, parses them before returning, so that waiting on a
/// receiver can never hold the worker its parse needs.
fn parse_objects<'s, 'd: 's>(
    scope: &'s std::thread::Scope<'s, '_>,
    files: &'d [MappedFile],
    plugin: bool,
) -> Vec<Option<Parsed<'d>>> {
    let mut senders = Vec::new();
    let receivers = files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let ir = match plugin {
                true => crate::plugin::may_be_ir(&f.map),
                false => is_bitcode(&f.map),
            };
            (f.kind == FileKind::Object && !ir).then(|| {
                let (tx, rx) = std::sync::mpsc::sync_channel(1);
                senders.push((i, tx));
                rx
            })
        })
        .collect();
    let parse = |(i, tx): (usize, std::sync::mpsc::SyncSender<Result<ObjectFile<'d>>>)| {
        let f = &files[i];
        // A receiver dropped by a failed link wants nothing more.
        let _ = tx.send(parse_object(f.display(), None, &f.map));
    };
    if rayon::current_thread_index().is_some() {
        senders.into_par_iter().for_each(parse);
        return receivers;
    }
    // The thread that resolves is one of the cores: parsing on all of them as well would
    // make it wait for a core. Parsers take the files in command-line order, which is the
    // order resolution wants them in.
    let parsers = rayon::current_num_threads().saturating_sub(1).max(1);
    let queue = std::sync::Arc::new(std::sync::Mutex::new(senders.into_iter()));
    for _ in 0..parsers {
        let queue = queue.clone();
        scope.spawn(move || loop {
            let next = queue.lock().map(|mut q| q.next()).unwrap_or(None);
            match next {
                Some(job) => parse(job),
                None => break,
            }
        });
    }
    receivers
}

/// Parses an object for the target its header names (an unknown machine is reported by
/// [`Resolver::add_parsed`], in command-line order).
fn parse_object<'d>(
    name: String,
    archive: Option<String>,
    data: &'d [u8],
) -> Result<ObjectFile<'d>> {
    let arch = crate::object_file::elf_machine(data).and_then(arch::for_machine);
    ObjectFile::parse(name, archive, data, arch)
}

fn open_archive(file: &MappedFile) -> Result<Archive<'_>> {
    let name = file.display();
    let data: &[u8] = &file.map;
    let parsed = ArchiveFile::parse(data)
        .map_err(|e| LinkError::malformed(&name, format!("archive header: {e}")))?;
    if parsed.is_thin() {
        return Err(LinkError::Other(format!(
            "{name}: thin archives are not supported"
        )));
    }
    let mut index = Vec::new();
    if let Some(symbols) = parsed
        .symbols()
        .map_err(|e| LinkError::malformed(&name, format!("archive symbol table: {e}")))?
    {
        for s in symbols {
            let s = s.map_err(|e| {
                LinkError::malformed(
                    &name,
                    format!("archive symbol table entry {}: {e}", index.len()),
                )
            })?;
            index.push((s.name(), s.offset().0));
        }
    }
    Ok(Archive {
        name,
        data,
        index,
        loaded: HashSet::default(),
    })
}

impl<'d> Resolver<'d, '_> {
    /// Takes the command-line inputs in order; `parsed` has the objects parsed ahead.
    fn resolve_files(
        &mut self,
        files: &'d [MappedFile],
        mut parsed: Vec<Option<Parsed<'d>>>,
    ) -> Result<()> {
        let mut i = 0;
        while i < files.len() {
            let group = files[i].placement.group;
            let mut end = i + 1;
            if group.is_some() {
                while end < files.len() && files[end].placement.group == group {
                    end += 1;
                }
            }
            let mut archives = Vec::new();
            for (n, file) in files[i..end].iter().enumerate() {
                match file.kind {
                    FileKind::Object => match parsed.get_mut(i + n).and_then(Option::take) {
                        Some(obj) => {
                            let obj = obj.recv().map_err(|_| {
                                LinkError::Other(format!(
                                    "{}: internal error: not parsed",
                                    file.display()
                                ))
                            })?;
                            self.add_parsed(&file.display(), &file.map, obj)?
                        }
                        None => {
                            self.offer(file.display(), None, &file.path, &file.map, &file.map)?
                        }
                    },
                    FileKind::Shared => {
                        let mut dso =
                            SharedFile::parse(file.display(), &file.map, file.placement.as_needed)?;
                        if !dso.declares_soname && !file.searched {
                            dso.soname = file.display();
                        }
                        self.set_arch(dso.machine, &dso.name)?;
                        self.add_shared(dso);
                    }
                    FileKind::Archive => {
                        let mut archive = open_archive(file)?;
                        if file.placement.whole_archive {
                            self.load_all_members(&mut archive)?;
                        } else {
                            self.extract(&mut archive)?;
                        }
                        archives.push(archive);
                    }
                }
            }
            // A group is searched again while its archives keep satisfying new references.
            if group.is_some() && !archives.is_empty() {
                loop {
                    let before = self.objects.len();
                    for archive in archives.iter_mut() {
                        self.extract(archive)?;
                    }
                    if self.objects.len() == before {
                        break;
                    }
                }
            }
            i = end;
        }
        Ok(())
    }

    fn set_arch(&mut self, machine: u16, file: &str) -> Result<()> {
        match self.arch {
            Some(a) if a.machine() == machine => Ok(()),
            Some(a) => Err(LinkError::Other(format!(
                "{file}: machine {machine} does not match the first input's ({})",
                a.name()
            ))),
            None => {
                self.arch = Some(arch::for_machine(machine).ok_or_else(|| {
                    LinkError::Other(format!("{file}: unsupported machine (e_machine {machine})"))
                })?);
                Ok(())
            }
        }
    }

    /// The name an undefined reference to `name` binds to under `--wrap`.
    fn wrapped(&self, name: &'d [u8]) -> &'d [u8] {
        for &(plain, wrap, real) in &self.wrap {
            if name == plain {
                return wrap;
            }
            if name == real {
                return plain;
            }
        }
        name
    }

    /// Loads the members that define a symbol still undefined, as GNU ld does: walking the
    /// archive's symbol index in order and loading a member as soon as one of its symbols is
    /// wanted, so a later member defining the same name is not loaded too; then again until
    /// a walk loads nothing.
    fn extract(&mut self, archive: &mut Archive<'d>) -> Result<()> {
        loop {
            let mut loaded_any = false;
            for i in 0..archive.index.len() {
                let (name, offset) = archive.index[i];
                if archive.loaded.contains(&offset) {
                    continue;
                }
                let Some(id) = self.symtab.lookup(name) else {
                    continue;
                };
                let s = self.symtab.get(id);
                // A weak reference does not pull a member in; a COMMON one is not undefined.
                if s.is_undefined() && (s.strong_ref || s.dso_ref) {
                    self.load_member(archive, offset)?;
                    loaded_any = true;
                }
            }
            if !loaded_any {
                return Ok(());
            }
        }
    }

    fn load_all_members(&mut self, archive: &mut Archive<'d>) -> Result<()> {
        let parsed = ArchiveFile::parse(archive.data)
            .map_err(|e| LinkError::malformed(&archive.name, format!("archive header: {e}")))?;
        for (i, member) in parsed.members().enumerate() {
            let member = member.map_err(|e| {
                LinkError::malformed(&archive.name, format!("archive member {i}: {e}"))
            })?;
            let data = member.data(archive.data).map_err(|e| {
                LinkError::malformed(
                    &archive.name,
                    format!("archive member {i} ({}): {e}", sym_name(member.name())),
                )
            })?;
            if !data.starts_with(b"\x7fELF") && !is_bitcode(data) {
                continue;
            }
            let name = format!("{}({})", archive.name, sym_name(member.name()));
            let path = PathBuf::from(&archive.name);
            self.offer(name, Some(archive.name.clone()), &path, archive.data, data)?;
        }
        archive.loaded.extend(archive.index.iter().map(|&(_, o)| o));
        Ok(())
    }

    fn load_member(&mut self, archive: &mut Archive<'d>, offset: u64) -> Result<()> {
        archive.loaded.insert(offset);
        let parsed = ArchiveFile::parse(archive.data)
            .map_err(|e| LinkError::malformed(&archive.name, format!("archive header: {e}")))?;
        let member_error = |e| {
            LinkError::malformed(
                &archive.name,
                format!("archive member at offset {offset:#x} (from the symbol table): {e}"),
            )
        };
        let member = parsed
            .member(object::read::archive::ArchiveOffset(offset))
            .map_err(member_error)?;
        let data = member.data(archive.data).map_err(member_error)?;
        let name = format!("{}({})", archive.name, sym_name(member.name()));
        let path = PathBuf::from(&archive.name);
        self.offer(name, Some(archive.name.clone()), &path, archive.data, data)
    }

    /// Adds an object or member unless the LTO plugin claims it; a claimed one takes part
    /// with its IR symbols.
    fn offer(
        &mut self,
        name: String,
        archive: Option<String>,
        path: &Path,
        file: &'d [u8],
        data: &'d [u8],
    ) -> Result<()> {
        let claim = match self.claimer.as_mut() {
            Some(c) if crate::plugin::may_be_ir(data) => c.offer(&name, path, file, data)?,
            _ => Claim::No,
        };
        match claim {
            Claim::No if is_bitcode(data) => Err(LinkError::Other(format!(
                "{name}: LLVM bitcode (clang -flto): link with -plugin LLVMgold.so (clang passes it when the linker is not lld)"
            ))),
            Claim::No => self.add_object(name, archive, data),
            Claim::Drop => Ok(()),
            Claim::Ir(handle, symbols) => {
                let obj = crate::plugin::ir_object(name, archive, &symbols);
                self.ir_files.push((self.objects.len() as u32, handle));
                self.add_resolved(obj);
                Ok(())
            }
        }
    }

    fn add_object(&mut self, name: String, archive: Option<String>, data: &'d [u8]) -> Result<()> {
        let display = name.clone();
        let obj = parse_object(name, archive, data);
        self.add_parsed(&display, data, obj)
    }

    /// Takes in an object parsed by [`parse_object`], once its machine matches the link's.
    fn add_parsed(&mut self, name: &str, data: &[u8], obj: Result<ObjectFile<'d>>) -> Result<()> {
        let machine = crate::object_file::elf_machine(data)
            .ok_or_else(|| LinkError::malformed(name, "truncated ELF header"))?;
        self.set_arch(machine, name)?;
        self.add_resolved(obj?);
        Ok(())
    }

    /// Takes an object's COMDAT groups and symbols into the link.
    fn add_resolved(&mut self, mut obj: ObjectFile<'d>) {
        let file = self.objects.len() as u32;

        for group in &obj.groups {
            if self.comdat.contains_key(group.signature) {
                for &m in &group.members {
                    obj.sections[m as usize].live = false;
                }
            } else {
                self.comdat.insert(group.signature, file);
            }
        }

        // In two passes, names then mentions: the second knows which records it will touch
        // next and asks for them ahead (a record is a cache miss, and the table's largest).
        let ids = self.intern_globals(&mut obj);
        for (n, (&id, (index, sym))) in ids
            .iter()
            .zip(obj.symbols.iter().enumerate().skip(obj.first_global))
            .enumerate()
        {
            if let Some(&ahead) = ids.get(n + PREFETCH_STRIDE) {
                self.symtab.prefetch(ahead);
            }
            self.add_mention(file, &obj, id, index as u32, &sym);
        }
        self.global_ids.push(ids);
        self.objects.push(obj);
    }

    /// The ids of an object's globals, interned in order; each record is prefetched as soon
    /// as its id is known, for [`Resolver::add_mention`].
    fn intern_globals(&mut self, obj: &mut ObjectFile<'d>) -> Vec<SymbolId> {
        let mut ids = Vec::with_capacity(obj.symbols.len() - obj.first_global);
        // Needed only here: taken, so that a large link does not hold them to the end.
        let hashes = std::mem::take(&mut obj.global_hashes);
        let lens = std::mem::take(&mut obj.global_name_lens);
        let names = hashes.iter().zip(&lens);
        for (n, (sym, (&hash, &len))) in obj
            .symbols
            .iter()
            .skip(obj.first_global)
            .zip(names)
            .enumerate()
        {
            // Each step of a lookup a stride after the step before it, so that what it
            // looks at has arrived.
            if let Some(&ahead) = hashes.get(n + 2 * PREFETCH_STRIDE) {
                self.symtab.prefetch_slot(ahead);
            }
            if let Some(&ahead) = hashes.get(n + PREFETCH_STRIDE) {
                self.symtab.prefetch_candidate(ahead);
            }
            let name = sym.name_of_len(len);
            let defined_here = is_defined_here(obj, &sym);
            // `foo@@V` defines `foo` (at default version V); `foo@V` is a separate, hidden
            // version of `foo` that plain references never reach.
            let symver = if defined_here {
                split_symver(name)
            } else {
                None
            };
            // An empty version (`foo@`, `foo@@`) defines plain `foo` at the base version.
            let key = match symver {
                Some((base, _, false)) => base,
                Some((base, b"", true)) => base,
                _ => name,
            };
            let key = if defined_here { key } else { self.wrapped(key) };
            let id = if key == name {
                self.symtab.intern_hashed(key, hash)
            } else {
                self.symtab.intern(key)
            };
            self.symtab.prefetch(id);
            ids.push(id);
            if let Some((_, version, hidden)) = symver {
                self.symtab.set_symver(id, version, hidden);
            }
        }
        ids
    }

    /// Applies one mention of global `id` (input symbol `index` of object `file`, not yet
    /// among `self.objects`): a reference, or a definition that may win.
    fn add_mention(
        &mut self,
        file: u32,
        obj: &ObjectFile<'d>,
        id: SymbolId,
        index: u32,
        sym: &crate::object_file::InputSymbol<'d>,
    ) {
        let defined_here = is_defined_here(obj, sym);
        let s = self.symtab.get_mut(id);
        s.referenced = true;
        s.visibility = merge_visibility(s.visibility, sym.visibility);
        if !defined_here {
            if !sym.is_weak() {
                s.strong_ref = true;
            }
            if s.first_ref.is_none() {
                s.first_ref = Some(file);
            }
            // An import keeps the TLS type of its references, as GNU ld's `.dynsym`.
            if s.def == Def::Undefined && sym.ty == elf::STT_TLS.0 {
                s.ty = sym.ty;
            }
            return;
        }
        let new_def = if sym.place == SymPlace::Common {
            Def::Common { file, sym: index }
        } else {
            Def::Regular { file, sym: index }
        };
        let take = match s.def {
            Def::Undefined | Def::Shared { .. } => true,
            Def::Linker(_) => false,
            Def::Common { file: f, sym: old } => match new_def {
                Def::Common { .. } => {
                    let symbols = match f == file {
                        true => &obj.symbols,
                        false => &self.objects[f as usize].symbols,
                    };
                    sym.size > symbols.at(old as usize).size
                }
                _ => !sym.is_weak(),
            },
            Def::Regular { file: f, .. } => {
                if matches!(new_def, Def::Common { .. }) {
                    false
                } else if s.weak_def && !sym.is_weak() {
                    true
                } else {
                    if !s.weak_def && !sym.is_weak() {
                        self.errors.push(format!(
                            "duplicate symbol: {}\n>>> defined in {}\n>>> defined in {}",
                            sym_name(sym.name()),
                            if f == file {
                                &obj.name
                            } else {
                                &self.objects[f as usize].name
                            },
                            obj.name
                        ));
                    }
                    false
                }
            }
        };
        if take {
            s.def = new_def;
            s.weak_def = sym.is_weak();
            s.ty = sym.ty;
            s.size = sym.size;
        }
    }

    /// Undefined `name@VER` references (from `.symver` in an object) bind to that exact
    /// version of `name` in a shared library, default or not.
    fn bind_versioned_references(&mut self) {
        for id in 0..self.symtab.len() as SymbolId {
            let s = self.symtab.get(id);
            if !s.is_undefined() {
                continue;
            }
            let Some((base, version, _)) = split_symver(s.name) else {
                continue;
            };
            let found = self.dsos.iter().enumerate().find_map(|(d, dso)| {
                dso.symbols
                    .iter()
                    .position(|x| x.name == base && dso.version_name(x.version) == Some(version))
                    .map(|i| (d, i))
            });
            if let Some((d, i)) = found {
                let x = self.dsos[d].symbols[i];
                let s = self.symtab.get_mut(id);
                s.def = Def::Shared {
                    dso: d as u32,
                    sym: i as u32,
                };
                s.weak_def = x.weak;
                s.ty = x.ty;
                s.size = x.size;
            }
        }
    }

    fn add_shared(&mut self, dso: SharedFile<'d>) {
        let index = self.dsos.len() as u32;
        for (i, sym) in dso.symbols.iter().enumerate() {
            // Non-default versions are found by `bind_versioned_references` on demand.
            if sym.hidden {
                continue;
            }
            let id = self.symtab.intern(sym.name);
            let s = self.symtab.get_mut(id);
            if s.def == Def::Undefined {
                s.def = Def::Shared {
                    dso: index,
                    sym: i as u32,
                };
                s.weak_def = sym.weak;
                s.ty = sym.ty;
                s.size = sym.size;
            }
        }
        for (&name, &weak) in dso.undefined.iter().zip(&dso.undefined_weak) {
            if !weak {
                let id = self.symtab.intern(name);
                self.symtab.get_mut(id).dso_ref = true;
            }
        }
        self.dsos.push(dso);
    }
}

/// Whether `ty` names code (calls may go through the PLT).
pub fn is_function_type(ty: u8) -> bool {
    ty == elf::STT_FUNC.0 || ty == elf::STT_GNU_IFUNC.0
}

/// How many names ahead resolution asks for what it will read: enough for a miss to arrive
/// (a few hundred cycles) while the names before it are handled.
const PREFETCH_STRIDE: usize = 8;

/// Whether an object's symbol defines its name: COMDAT groups another object won take their
/// definitions with them.
fn is_defined_here(obj: &ObjectFile<'_>, sym: &crate::object_file::InputSymbol<'_>) -> bool {
    match sym.place {
        SymPlace::Undefined => false,
        SymPlace::Section(s) => obj.sections[s as usize].live,
        SymPlace::Absolute | SymPlace::Common => true,
    }
}
