//! Where the fields of an ELF file are: the header, section and program headers, symbols,
//! relocations and dynamic entries, each as (offset, width), found by reading the file the
//! way a reader would but tolerating anything (a field past the end is simply not listed).

/// One mutable field: its place in the file and what it is, for the case's description.
#[derive(Debug, Clone)]
pub struct Field {
    pub offset: usize,
    pub width: usize,
    pub what: String,
}

/// A table of fixed-size entries inside the file (a symbol table, a string table ...).
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub sh_type: u32,
    pub offset: usize,
    pub size: usize,
    pub entsize: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub fields: Vec<Field>,
    /// String tables (SHT_STRTAB), for removing their NULs.
    pub strtabs: Vec<(usize, usize)>,
}

struct Reader<'a> {
    data: &'a [u8],
    wide: bool,
}

impl Reader<'_> {
    fn get(&self, offset: usize, width: usize) -> Option<u64> {
        let b = self.data.get(offset..offset.checked_add(width)?)?;
        let mut v = [0u8; 8];
        v[..width].copy_from_slice(b);
        Some(u64::from_le_bytes(v))
    }
    fn word(&self) -> usize {
        if self.wide {
            8
        } else {
            4
        }
    }
}

/// (name, offset in ELF32, width in ELF32, offset in ELF64, width in ELF64)
type Spec = (&'static str, usize, usize, usize, usize);

const HEADER: &[Spec] = &[
    ("e_type", 16, 2, 16, 2),
    ("e_machine", 18, 2, 18, 2),
    ("e_entry", 24, 4, 24, 8),
    ("e_phoff", 28, 4, 32, 8),
    ("e_shoff", 32, 4, 40, 8),
    ("e_flags", 36, 4, 48, 4),
    ("e_ehsize", 40, 2, 52, 2),
    ("e_phentsize", 42, 2, 54, 2),
    ("e_phnum", 44, 2, 56, 2),
    ("e_shentsize", 46, 2, 58, 2),
    ("e_shnum", 48, 2, 60, 2),
    ("e_shstrndx", 50, 2, 62, 2),
];
const SECTION: &[Spec] = &[
    ("sh_name", 0, 4, 0, 4),
    ("sh_type", 4, 4, 4, 4),
    ("sh_flags", 8, 4, 8, 8),
    ("sh_addr", 12, 4, 16, 8),
    ("sh_offset", 16, 4, 24, 8),
    ("sh_size", 20, 4, 32, 8),
    ("sh_link", 24, 4, 40, 4),
    ("sh_info", 28, 4, 44, 4),
    ("sh_addralign", 32, 4, 48, 8),
    ("sh_entsize", 36, 4, 56, 8),
];
const SEGMENT: &[Spec] = &[
    ("p_type", 0, 4, 0, 4),
    ("p_offset", 4, 4, 8, 8),
    ("p_vaddr", 8, 4, 16, 8),
    ("p_filesz", 16, 4, 32, 8),
    ("p_memsz", 20, 4, 40, 8),
    ("p_flags", 24, 4, 4, 4),
    ("p_align", 28, 4, 48, 8),
];
const SYMBOL: &[Spec] = &[
    ("st_name", 0, 4, 0, 4),
    ("st_value", 4, 4, 8, 8),
    ("st_size", 8, 4, 16, 8),
    ("st_info", 12, 1, 4, 1),
    ("st_other", 13, 1, 5, 1),
    ("st_shndx", 14, 2, 6, 2),
];
const RELOC: &[Spec] = &[
    ("r_offset", 0, 4, 0, 8),
    ("r_info", 4, 4, 8, 8),
    ("r_addend", 8, 4, 16, 8),
];
const DYNAMIC: &[Spec] = &[("d_tag", 0, 4, 0, 8), ("d_val", 4, 4, 8, 8)];

const SHT_SYMTAB: u32 = 2;
const SHT_STRTAB: u32 = 3;
const SHT_RELA: u32 = 4;
const SHT_DYNAMIC: u32 = 6;
const SHT_REL: u32 = 9;
const SHT_DYNSYM: u32 = 11;

/// Entries listed per table: enough to reach every kind of entry without listing thousands.
const PER_TABLE: usize = 64;

fn push(out: &mut Vec<Field>, r: &Reader, base: usize, specs: &[Spec], what: &str, addend: bool) {
    for &(name, o32, w32, o64, w64) in specs {
        let (o, w) = if r.wide { (o64, w64) } else { (o32, w32) };
        if name == "r_addend" && !addend {
            continue;
        }
        let end = base.checked_add(o + w);
        if end.is_some_and(|e| e <= r.data.len()) {
            out.push(Field {
                offset: base + o,
                width: w,
                what: format!("{what} {name}"),
            });
        }
    }
}

/// Every field of `data` (an ELF32 or ELF64 little-endian file) that a mutation may change.
pub fn layout(data: &[u8]) -> Layout {
    let mut out = Layout::default();
    if data.len() < 52 || &data[..4] != b"\x7fELF" {
        return out;
    }
    let r = Reader {
        data,
        wide: data[4] == 2,
    };
    push(&mut out.fields, &r, 0, HEADER, "ELF header", true);
    let at = |spec: usize| {
        let (_, o32, w32, o64, w64) = HEADER[spec];
        if r.wide {
            r.get(o64, w64)
        } else {
            r.get(o32, w32)
        }
    };
    let (phoff, phnum) = (at(3).unwrap_or(0) as usize, at(8).unwrap_or(0) as usize);
    let (shoff, shnum) = (at(4).unwrap_or(0) as usize, at(10).unwrap_or(0) as usize);
    let phent = if r.wide { 56 } else { 32 };
    for i in 0..phnum.min(PER_TABLE) {
        push(
            &mut out.fields,
            &r,
            phoff.saturating_add(i * phent),
            SEGMENT,
            &format!("program header {i}"),
            true,
        );
    }
    let shent = if r.wide { 64 } else { 40 };
    let mut tables = Vec::new();
    for i in 0..shnum.min(256) {
        let base = shoff.saturating_add(i * shent);
        push(
            &mut out.fields,
            &r,
            base,
            SECTION,
            &format!("section {i}"),
            true,
        );
        let field = |n: usize| {
            let (_, o32, w32, o64, w64) = SECTION[n];
            if r.wide {
                r.get(base.checked_add(o64)?, w64)
            } else {
                r.get(base.checked_add(o32)?, w32)
            }
        };
        if let (Some(t), Some(off), Some(size), Some(ent)) =
            (field(1), field(4), field(5), field(9))
        {
            tables.push((
                i,
                Table {
                    sh_type: t as u32,
                    offset: off as usize,
                    size: size as usize,
                    entsize: ent as usize,
                },
            ));
        }
    }
    let w = r.word();
    for (i, t) in tables {
        let (specs, ent, what, addend) = match t.sh_type {
            SHT_SYMTAB | SHT_DYNSYM => (SYMBOL, if r.wide { 24 } else { 16 }, "symbol", true),
            SHT_RELA => (RELOC, 3 * w, "relocation", true),
            SHT_REL => (RELOC, 2 * w, "relocation", false),
            SHT_DYNAMIC => (DYNAMIC, 2 * w, "dynamic entry", true),
            SHT_STRTAB => {
                out.strtabs.push((t.offset, t.size));
                continue;
            }
            _ => continue,
        };
        let count = (t.size / ent).min(PER_TABLE);
        for k in 0..count {
            let base = t.offset.saturating_add(k * ent);
            push(
                &mut out.fields,
                &r,
                base,
                specs,
                &format!("section {i} {what} {k}"),
                addend,
            );
        }
    }
    out
}

/// Reads a field's value.
pub fn read(data: &[u8], f: &Field) -> u64 {
    Reader { data, wide: true }
        .get(f.offset, f.width)
        .unwrap_or(0)
}

/// Writes `value` into a field, truncated to its width.
pub fn write(data: &mut [u8], f: &Field, value: u64) {
    if let Some(b) = data.get_mut(f.offset..f.offset + f.width) {
        b.copy_from_slice(&value.to_le_bytes()[..f.width]);
    }
}

/// The file offset of dynamic entry `tag`'s value, when the file has one.
pub fn dynamic_value(data: &[u8], tag: u64) -> Option<Field> {
    let l = layout(data);
    l.fields
        .iter()
        .filter(|f| f.what.ends_with("d_tag"))
        .find(|f| read(data, f) == tag)
        .and_then(|t| {
            l.fields
                .iter()
                .find(|f| f.offset > t.offset && f.what.ends_with("d_val"))
                .cloned()
        })
}

/// The `name` field of the first section of type `sh_type`.
pub fn section_field(data: &[u8], sh_type: u32, name: &str) -> Option<Field> {
    let l = layout(data);
    let ty = l.fields.iter().find(|f| {
        f.what.starts_with("section ")
            && f.what.ends_with(" sh_type")
            && f.what.split(' ').count() == 3
            && read(data, f) == u64::from(sh_type)
    })?;
    let prefix = ty.what.trim_end_matches("sh_type");
    l.fields
        .iter()
        .find(|f| f.what == format!("{prefix}{name}"))
        .cloned()
}
