//! An object's symbol table, read in place from the mapped file. A decoded copy would be the
//! largest table of a big link (48 bytes per symbol against the file's 16 or 24), and the
//! entries are in memory already. Every entry is checked when the object is parsed
//! ([`SymbolList::check`]), so reading one later cannot fail.

use crate::indexed::{Iter, ReadAt};
use crate::object_file::{InputSymbol, SymPlace, SymbolName};
use object::elf::{FileHeader32, FileHeader64};
use object::read::elf::{FileHeader, Sym, SymbolTable};
use object::{elf, Endianness, SymbolIndex};

#[derive(Debug)]
pub struct SymbolList<'d> {
    table: Table<'d>,
    /// The string table the names are in.
    strings: &'d [u8],
}

#[derive(Debug)]
enum Table<'d> {
    Elf64(SymbolTable<'d, FileHeader64<Endianness>>, Endianness),
    Elf32(SymbolTable<'d, FileHeader32<Endianness>>, Endianness),
    /// Symbols that are not in an ELF file (an LTO plugin's claimed inputs).
    Decoded(Vec<InputSymbol<'d>>),
}

/// Builds the class-specific [`SymbolList`] of a parsed symbol table.
pub trait IntoSymbolList: FileHeader<Endian = Endianness> {
    fn symbol_list<'d>(
        table: SymbolTable<'d, Self>,
        endian: Endianness,
        strings: &'d [u8],
    ) -> SymbolList<'d>;
}

impl IntoSymbolList for FileHeader64<Endianness> {
    fn symbol_list<'d>(t: SymbolTable<'d, Self>, e: Endianness, s: &'d [u8]) -> SymbolList<'d> {
        SymbolList {
            table: Table::Elf64(t, e),
            strings: s,
        }
    }
}

impl IntoSymbolList for FileHeader32<Endianness> {
    fn symbol_list<'d>(t: SymbolTable<'d, Self>, e: Endianness, s: &'d [u8]) -> SymbolList<'d> {
        SymbolList {
            table: Table::Elf32(t, e),
            strings: s,
        }
    }
}

impl<'d> SymbolList<'d> {
    /// Symbols that were never in an ELF symbol table.
    pub fn decoded(symbols: Vec<InputSymbol<'d>>) -> Self {
        SymbolList {
            table: Table::Decoded(symbols),
            strings: &[],
        }
    }

    pub fn len(&self) -> usize {
        match &self.table {
            Table::Elf64(t, _) => t.len(),
            Table::Elf32(t, _) => t.len(),
            Table::Decoded(list) => list.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // Always inlined: most callers want one or two fields, and an out-of-line call returns
    // the whole symbol through memory.
    #[inline(always)]
    pub fn get(&self, index: usize) -> Option<InputSymbol<'d>> {
        match &self.table {
            Table::Elf64(t, e) => read(t, *e, self.strings, index),
            Table::Elf32(t, e) => read(t, *e, self.strings, index),
            Table::Decoded(list) => list.get(index).copied(),
        }
    }

    /// Asks for symbol `index`'s entry ahead of a read (a random one is a cache miss).
    #[inline(always)]
    pub fn prefetch(&self, index: usize) {
        match &self.table {
            Table::Elf64(t, _) => t.symbols().get(index).map(crate::prefetch::read),
            Table::Elf32(t, _) => t.symbols().get(index).map(crate::prefetch::read),
            Table::Decoded(list) => list.get(index).map(crate::prefetch::read),
        };
    }

    /// Symbol `index`, which the caller knows exists (an index a checked relocation or the
    /// symbol table handed out); an empty undefined symbol otherwise.
    #[inline(always)]
    pub fn at(&self, index: usize) -> InputSymbol<'d> {
        self.get(index).unwrap_or(UNREADABLE)
    }

    /// Symbol `index` with its name looked up, for the parser's checks: why it cannot be
    /// read, if it cannot.
    pub fn check(&self, index: usize) -> Result<InputSymbol<'d>, String> {
        let mut sym = self.get(index).ok_or_else(|| match index < self.len() {
            true => format!("symbol {index} has a section index that does not exist"),
            false => format!("symbol {index} does not exist"),
        })?;
        let offset = match &self.table {
            Table::Elf64(t, e) => t.symbols()[index].st_name(*e),
            Table::Elf32(t, e) => t.symbols()[index].st_name(*e),
            Table::Decoded(_) => return Ok(sym),
        };
        let name = self
            .strings
            .get(offset as usize..)
            .and_then(|tail| memchr::memchr(0, tail).map(|end| &tail[..end]))
            .ok_or_else(|| {
                format!(
                    "symbol {index}: its name (offset {offset:#x} in the string table) lies outside the table or has no terminating NUL"
                )
            })?;
        sym.name = SymbolName::Known(name);
        Ok(sym)
    }

    pub fn iter(&self) -> Iter<'_, Self> {
        Iter::new(self)
    }
}

/// Never returned for a parsed object ([`SymbolList::check`] saw every entry).
const UNREADABLE: InputSymbol<'static> = InputSymbol {
    name: SymbolName::Known(b""),
    value: 0,
    size: 0,
    place: SymPlace::Undefined,
    bind: 0,
    ty: 0,
    visibility: 0,
};

#[inline(always)]
fn read<'d, E: FileHeader<Endian = Endianness>>(
    table: &SymbolTable<'d, E>,
    endian: Endianness,
    strings: &'d [u8],
    index: usize,
) -> Option<InputSymbol<'d>> {
    let sym = table.symbols().get(index)?;
    let place = match sym.st_shndx(endian) {
        elf::SHN_UNDEF => SymPlace::Undefined,
        elf::SHN_ABS => SymPlace::Absolute,
        elf::SHN_COMMON => SymPlace::Common,
        elf::SHN_XINDEX => SymPlace::Section(table.shndx(endian, SymbolIndex(index))?),
        shndx if shndx.0 >= elf::SHN_LORESERVE => return None,
        shndx => SymPlace::Section(u32::from(shndx.0)),
    };
    Some(InputSymbol {
        name: SymbolName::InTable(
            strings
                .get(sym.st_name(endian) as usize..)
                .unwrap_or_default(),
        ),
        value: sym.st_value(endian).into(),
        size: sym.st_size(endian).into(),
        place,
        bind: sym.st_bind().0,
        ty: sym.st_type().0,
        visibility: sym.st_visibility().0,
    })
}

impl<'d> ReadAt for SymbolList<'d> {
    type Entry = InputSymbol<'d>;

    fn entry_count(&self) -> usize {
        self.len()
    }

    #[inline(always)]
    fn read_at(&self, index: usize) -> Option<InputSymbol<'d>> {
        Some(self.at(index))
    }
}
