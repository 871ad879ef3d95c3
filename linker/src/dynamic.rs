//! What the dynamic loader reads, planned before layout so every section's size is known:
//! `.dynsym` order (imports first, then exports in `.gnu.hash` bucket order), `.dynstr`,
//! `.gnu.version*`, DT_NEEDED, the hash tables and the `.dynamic` tag list.

use crate::decide::OutputKind;
use crate::error::Result;
use crate::hash;
use crate::link::Link;
use crate::symbols::{dynamic_name, Def, LinkerSymbol, SymbolId};
use object::elf;
use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;

/// A string table under construction (`.dynstr`, `.strtab`): each distinct string once. The index
/// holds offsets into the table itself, so adding a string allocates nothing of its own.
#[derive(Default)]
pub struct StrTab {
    pub bytes: Vec<u8>,
    /// (offset, length) of every string added, hashed by its bytes.
    seen: hashbrown::HashTable<(u32, u32)>,
}

impl StrTab {
    pub fn new() -> StrTab {
        StrTab {
            bytes: vec![0],
            seen: hashbrown::HashTable::new(),
        }
    }
    pub fn add(&mut self, s: &[u8]) -> u32 {
        let bytes = &self.bytes;
        let at = |&(o, n): &(u32, u32)| &bytes[o as usize..(o + n) as usize];
        let hash = crate::symbols::name_hash(s);
        if let Some(&(o, _)) = self.seen.find(hash, |e| at(e) == s) {
            return o;
        }
        let offset = self.bytes.len() as u32;
        self.bytes.extend_from_slice(s);
        self.bytes.push(0);
        let bytes = &self.bytes;
        self.seen
            .insert_unique(hash, (offset, s.len() as u32), |&(o, n)| {
                crate::symbols::name_hash(&bytes[o as usize..(o + n) as usize])
            });
        offset
    }
}

/// One `Vernaux`: a version of a needed library that some import uses.
pub struct NeededVersion {
    pub name: u32,
    pub hash: u32,
    pub index: u16,
}

pub struct VerNeed {
    pub file: u32,
    pub versions: Vec<NeededVersion>,
}

/// One `Verdef` (index 1 is the base version named after the output).
pub struct VerDef {
    pub name: u32,
    pub hash: u32,
    pub index: u16,
    pub parent: Option<u32>,
}

pub struct DynPlan {
    /// Global symbols in `.dynsym` order (entry 0, the null symbol, is not listed).
    pub dynsym: Vec<SymbolId>,
    /// `.dynsym` index by symbol id (0 = not dynamic).
    pub dynsym_index: Vec<u32>,
    /// First exported (hashed) entry.
    pub first_export: u32,
    pub dynstr: StrTab,
    /// `.dynstr` offset of each dynsym name (parallel to `dynsym`).
    pub names: Vec<u32>,
    pub versym: Vec<u16>,
    pub verneed: Vec<VerNeed>,
    pub verdef: Vec<VerDef>,
    pub needed: Vec<u32>,
    pub soname: Option<u32>,
    pub runpath: Option<u32>,
    /// DT_AUDIT and DT_DEPAUDIT strings (`--audit`, `--depaudit`), `:`-joined as GNU ld.
    pub audit: Option<u32>,
    pub depaudit: Option<u32>,
    pub gnu_hash: Option<Vec<u8>>,
    pub sysv_hash: Option<Vec<u8>>,
    /// Number of `.rela.dyn` entries.
    pub reladyn_count: u64,
    pub textrel: bool,
    pub dynamic_count: usize,
    pub symtab: crate::symtab::SymtabPlan,
}

/// Whether global symbol `id` goes to `.dynsym` as an export (hashed, so the loader finds
/// it): a library's visible definitions; a program's when `-E` or a `--dynamic-list` asks,
/// or a linked library imports the name (a callback); and in a program, imported symbols it
/// copied or whose PLT entry is their canonical address, which the libraries must bind to.
pub fn is_exported(link: &Link, id: SymbolId) -> bool {
    let s = link.symtab.get(id);
    if matches!(s.def, Def::Shared { .. }) {
        return link.copies.slot(id).is_some() || link.canonical_plt[id as usize];
    }
    // Symbols scripts assign are exported like definitions in objects, as GNU ld does.
    let visible = matches!(
        s.def,
        Def::Regular { .. } | Def::Common { .. } | Def::Linker(LinkerSymbol::Script { .. })
    ) && (s.visibility == elf::STV_DEFAULT.0 || s.visibility == elf::STV_PROTECTED.0)
        && !s.forced_local;
    visible
        && match link.kind {
            OutputKind::Shared => true,
            OutputKind::Pie | OutputKind::Exec => program_exports(link, s.name),
            OutputKind::Static | OutputKind::StaticPie => false,
        }
}

/// Whether a program exports its definition of `name`.
fn program_exports(link: &Link, name: &[u8]) -> bool {
    let name = dynamic_name(name);
    link.opts.export_dynamic
        || link.dso_imports.contains(name)
        || link
            .export_patterns
            .iter()
            .any(|p| crate::version_script::glob_match(p.as_bytes(), name))
}

/// Whether global symbol `id` goes to `.dynsym` as an import.
pub fn is_imported(link: &Link, id: SymbolId) -> bool {
    let s = link.symtab.get(id);
    link.kind.imports()
        && s.referenced
        && matches!(s.def, Def::Undefined | Def::Shared { .. })
        && s.visibility == elf::STV_DEFAULT.0
        // An undefined weak symbol resolved to 0 (`-z nodynamic-undefined-weak`).
        && !link.global_binds_locally(id)
}

/// The version glibc 2.36 defines so that an older loader, which would skip DT_RELR, refuses
/// the output instead.
const RELR_VERSION: &[u8] = b"GLIBC_ABI_DT_RELR";

/// `-z pack-relative-relocs`: GNU ld makes an output that needs glibc (a libc.so.* whose
/// GLIBC_2.* versions it uses) need GLIBC_ABI_DT_RELR too, whether or not anything was
/// packed.
fn add_relr_version(
    link: &Link,
    verneed_of_dso: &HashMap<u32, usize>,
    verneed: &mut [VerNeed],
    dynstr: &mut StrTab,
    index: u16,
) {
    let name_at = |dynstr: &StrTab, offset: u32| -> Vec<u8> {
        let rest = &dynstr.bytes[offset as usize..];
        rest[..rest.iter().position(|&b| b == 0).unwrap_or(rest.len())].to_vec()
    };
    let mut dsos: Vec<(&u32, &usize)> = verneed_of_dso.iter().collect();
    dsos.sort();
    for (&dso, &vn) in dsos {
        if !link.dsos[dso as usize].soname.starts_with("libc.so.") {
            continue;
        }
        let glibc = verneed[vn]
            .versions
            .iter()
            .any(|v| name_at(dynstr, v.name).starts_with(b"GLIBC_2."));
        if glibc {
            verneed[vn].versions.push(NeededVersion {
                name: dynstr.add(RELR_VERSION),
                hash: hash::sysv_hash(RELR_VERSION),
                index,
            });
        }
        return;
    }
}

pub fn plan(link: &Link, dynamic_words: u64, textrel: bool) -> Result<DynPlan> {
    // `.symtab` is independent of the dynamic tables: planned at the same time.
    let (symtab, plan) = rayon::join(
        || crate::symtab::plan(link),
        || plan_dynamic(link, dynamic_words, textrel),
    );
    let mut plan = plan?;
    plan.symtab = symtab;
    plan.dynamic_count = crate::write::dynamic_entries(link, &plan, None).len();
    Ok(plan)
}

fn plan_dynamic(link: &Link, dynamic_words: u64, textrel: bool) -> Result<DynPlan> {
    let n = link.symtab.len();
    let mut imports = Vec::new();
    let mut exports = Vec::new();
    for id in 0..n as SymbolId {
        if is_exported(link, id) {
            exports.push(id);
        } else if is_imported(link, id) {
            imports.push(id);
        }
    }
    let export_names: Vec<&[u8]> = exports
        .iter()
        .map(|&id| dynamic_name(link.symtab.get(id).name))
        .collect();
    let gnu_layout = link
        .opts
        .hash_style
        .gnu
        .then(|| hash::gnu_hash_layout(&export_names));
    if let Some(l) = &gnu_layout {
        exports = l.order.iter().map(|&i| exports[i]).collect();
    }
    let first_export = 1 + imports.len() as u32;
    let mut dynsym = imports;
    dynsym.extend(exports);
    let mut dynsym_index = vec![0u32; n];
    for (i, &id) in dynsym.iter().enumerate() {
        dynsym_index[id as usize] = i as u32 + 1;
    }

    let mut dynstr = StrTab::new();
    let kept = kept_dsos(link);
    let mut needed = Vec::new();
    let mut seen_sonames = Vec::new();
    for (i, dso) in link.dsos.iter().enumerate() {
        if kept[i] && !seen_sonames.contains(&dso.soname) {
            seen_sonames.push(dso.soname.clone());
            needed.push(dynstr.add(dso.soname.as_bytes()));
        }
    }
    let soname = link.opts.soname.as_ref().map(|s| dynstr.add(s.as_bytes()));
    let runpath =
        (!link.opts.rpath.is_empty()).then(|| dynstr.add(link.opts.rpath.join(":").as_bytes()));
    let mut joined =
        |list: &[String]| (!list.is_empty()).then(|| dynstr.add(list.join(":").as_bytes()));
    let audit = joined(&link.opts.audit);
    let depaudit = joined(&link.opts.depaudit);

    // Version definitions from version scripts: index 1 names the output itself.
    let mut verdef = Vec::new();
    let nodes = crate::versions::nodes(link);
    if !nodes.is_empty() {
        let base = link.opts.soname.clone().unwrap_or_else(|| {
            link.opts
                .output
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        verdef.push(VerDef {
            name: dynstr.add(base.as_bytes()),
            hash: hash::sysv_hash(base.as_bytes()),
            index: 1,
            parent: None,
        });
        for (i, node) in nodes.iter().enumerate() {
            let parent = node.parent.as_ref().map(|p| dynstr.add(p.as_bytes()));
            verdef.push(VerDef {
                name: dynstr.add(node.name.as_bytes()),
                hash: hash::sysv_hash(node.name.as_bytes()),
                index: i as u16 + 2,
                parent,
            });
        }
    }
    let mut next_index = if verdef.is_empty() {
        2
    } else {
        verdef.len() as u16 + 1
    };

    // Names go into `.dynstr` in symbol order, which follows the inputs; in `.dynsym` order
    // (GNU hash buckets) they would be read from all over the inputs' maps.
    let mut by_symbol: Vec<(SymbolId, u32)> = dynsym
        .iter()
        .enumerate()
        .map(|(position, &id)| (id, position as u32))
        .collect();
    by_symbol.par_sort_unstable();
    let mut names = vec![0u32; dynsym.len()];
    for (id, position) in by_symbol {
        names[position as usize] = dynstr.add(dynamic_name(link.symtab.get(id).name));
    }
    let mut versym = vec![0u16];
    let mut verneed: Vec<VerNeed> = Vec::new();
    let mut verneed_of_dso: HashMap<u32, usize> = HashMap::default();
    let mut version_index: HashMap<(u32, &[u8]), u16> = HashMap::default();
    for &id in &dynsym {
        let s = link.symtab.get(id);
        let v = match s.def {
            Def::Shared { dso, sym } => {
                let d = &link.dsos[dso as usize];
                match d.version_name(d.symbols[sym as usize].version) {
                    Some(vname) => *version_index.entry((dso, vname)).or_insert_with(|| {
                        let vn = *verneed_of_dso.entry(dso).or_insert_with(|| {
                            verneed.push(VerNeed {
                                file: dynstr.add(d.soname.as_bytes()),
                                versions: Vec::new(),
                            });
                            verneed.len() - 1
                        });
                        let index = next_index;
                        next_index += 1;
                        verneed[vn].versions.push(NeededVersion {
                            name: dynstr.add(vname),
                            hash: hash::sysv_hash(vname),
                            index,
                        });
                        index
                    }),
                    None => 1,
                }
            }
            Def::Regular { .. } | Def::Common { .. } => s.export_version,
            _ => 1,
        };
        versym.push(v);
    }

    if link.opts.z.pack_relative_relocs {
        add_relr_version(link, &verneed_of_dso, &mut verneed, &mut dynstr, next_index);
    }

    let all_names: Vec<&[u8]> = std::iter::once(&b""[..])
        .chain(
            dynsym
                .iter()
                .map(|&id| dynamic_name(link.symtab.get(id).name)),
        )
        .collect();
    let sysv_hash = link
        .opts
        .hash_style
        .sysv
        .then(|| hash::build_sysv_hash(&all_names));
    let word_bits = (link.arch.class().word_size() * 8) as u32;
    let gnu_hash = gnu_layout.map(|l| hash::build_gnu_hash(&l, first_export, word_bits));

    let reladyn_count = dynamic_words
        + link.got.dynamic_relocs()
        + link.copies.slots.len() as u64
        + (link.plt.len() - link.plt.relocated_in_plt) as u64;
    Ok(DynPlan {
        dynsym,
        dynsym_index,
        first_export,
        dynstr,
        names,
        versym,
        verneed,
        verdef,
        needed,
        soname,
        runpath,
        audit,
        depaudit,
        gnu_hash,
        sysv_hash,
        reladyn_count,
        textrel,
        dynamic_count: 0,
        symtab: Default::default(),
    })
}

/// The libraries the output records in DT_NEEDED: those not under `--as-needed`, and those
/// that resolve a referenced symbol.
pub fn kept_dsos(link: &Link) -> Vec<bool> {
    let mut kept: Vec<bool> = link.dsos.iter().map(|d| !d.as_needed).collect();
    for id in 0..link.symtab.len() as SymbolId {
        let s = link.symtab.get(id);
        if let Def::Shared { dso, .. } = s.def {
            if s.referenced {
                kept[dso as usize] = true;
            }
        }
    }
    kept
}
