//! The GOT and PLT as lists of entries, filled by the relocation scan and laid out later.
//! Every entry is keyed by what it refers to, so two relocations to the same symbol share it.

use crate::symbols::SymbolId;
use rustc_hash::FxHashMap as HashMap;

/// What a relocation refers to: a global symbol, or a local symbol of one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    Global(SymbolId),
    Local { file: u32, sym: u32 },
}

/// The kinds of `.got` entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GotKind {
    /// The symbol's address (GLOB_DAT, or RELATIVE when it binds locally).
    Address,
    /// Two words: module id and offset within the module's TLS block (general dynamic).
    TlsGd,
    /// Two words: this module's id and 0 (local dynamic); one per output.
    TlsLd,
    /// The symbol's offset from the thread pointer (initial exec).
    TlsIe,
    /// Two words the loader fills: a resolver function and its argument (TLS descriptor).
    TlsDesc,
}

impl GotKind {
    pub fn words(self) -> u64 {
        match self {
            GotKind::TlsGd | GotKind::TlsLd | GotKind::TlsDesc => 2,
            GotKind::Address | GotKind::TlsIe => 1,
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct GotEntry {
    pub kind: GotKind,
    pub target: Target,
    /// Index of the first word of the entry in `.got`.
    pub word: u64,
    /// How the entry is filled (decided once, by [`crate::decide::got_fill`]).
    pub fill: crate::decide::GotFill,
}

/// Entry numbers by target: a flat table for global symbols, which are most targets and are
/// looked up for every relocation, and a hash map for the others.
#[derive(Default, Debug, Clone)]
struct TargetIndex {
    globals: Vec<u32>,
    others: HashMap<Target, u32>,
}

const ABSENT: u32 = u32::MAX;

impl TargetIndex {
    fn get(&self, target: Target) -> Option<usize> {
        match target {
            Target::Global(id) => self
                .globals
                .get(id as usize)
                .copied()
                .filter(|&i| i != ABSENT)
                .map(|i| i as usize),
            Target::Local { .. } => self.others.get(&target).map(|&i| i as usize),
        }
    }

    fn insert(&mut self, target: Target, entry: usize) {
        match target {
            Target::Global(id) => {
                let id = id as usize;
                if id >= self.globals.len() {
                    self.globals.resize(id + 1, ABSENT);
                }
                self.globals[id] = entry as u32;
            }
            Target::Local { .. } => {
                self.others.insert(target, entry as u32);
            }
        }
    }
}

#[derive(Default, Debug)]
pub struct Got {
    pub entries: Vec<GotEntry>,
    /// `GotKind::Address` entries, by far the most common.
    address: TargetIndex,
    /// The TLS kinds.
    tls: HashMap<(GotKind, Target), usize>,
    pub words: u64,
}

impl Got {
    /// The entry for `(kind, target)`, created on first use with the fill `fill` computes.
    pub fn add(
        &mut self,
        kind: GotKind,
        target: Target,
        fill: impl FnOnce() -> crate::decide::GotFill,
    ) -> usize {
        if let Some(i) = self.index_of(kind, target) {
            return i;
        }
        let i = self.entries.len();
        self.entries.push(GotEntry {
            kind,
            target,
            word: self.words,
            fill: fill(),
        });
        self.words += kind.words();
        match kind {
            GotKind::Address => self.address.insert(target, i),
            _ => {
                self.tls.insert((kind, target), i);
            }
        }
        i
    }

    /// The dynamic relocations the entries need.
    pub fn dynamic_relocs(&self) -> u64 {
        self.entries
            .iter()
            .map(|e| e.fill.dynamic_relocs(e.kind))
            .sum()
    }

    /// The word index of an existing entry.
    pub fn word_of(&self, kind: GotKind, target: Target) -> Option<u64> {
        self.entry(kind, target).map(|e| e.word)
    }

    /// An existing entry.
    pub fn entry(&self, kind: GotKind, target: Target) -> Option<&GotEntry> {
        self.index_of(kind, target).map(|i| &self.entries[i])
    }

    fn index_of(&self, kind: GotKind, target: Target) -> Option<usize> {
        match kind {
            GotKind::Address => self.address.get(target),
            _ => self.tls.get(&(kind, target)).copied(),
        }
    }
}

/// PLT entries, in order; entry `n` uses `.got.plt` slot `reserved + n` and `.rela.plt[n]`.
/// Keyed by target: a file-local IFUNC has an entry too.
#[derive(Default, Debug)]
pub struct Plt {
    pub symbols: Vec<Target>,
    /// Per entry: its target is a local IFUNC (an IRELATIVE slot, not a JUMP_SLOT), decided
    /// once when the entry is added.
    local_ifunc: Vec<bool>,
    index: TargetIndex,
    /// Something branches to a stub the target keeps in PLT0 (ARM's TLS descriptor
    /// trampoline), so `.plt` exists even without entries.
    pub header_needed: bool,
    /// The first `relocated_in_plt` entries have their relocation in `.rel(a).plt`; the rest
    /// (local IFUNCs on a target whose loader wants IRELATIVE elsewhere) in `.rel(a).dyn`.
    pub relocated_in_plt: usize,
    /// The IBT-enabled form with `.plt.sec` ([`crate::ibt_plt`]).
    pub ibt: bool,
}

impl Plt {
    /// Adds an entry for `sym` unless it has one; `local_ifunc` is [`Link::is_local_ifunc`]
    /// of it.
    ///
    /// [`Link::is_local_ifunc`]: crate::link::Link::is_local_ifunc
    pub fn add(&mut self, sym: Target, local_ifunc: bool) -> usize {
        if let Some(i) = self.index.get(sym) {
            return i;
        }
        let i = self.symbols.len();
        self.symbols.push(sym);
        self.local_ifunc.push(local_ifunc);
        self.index.insert(sym, i);
        i
    }

    /// Entry `n`'s target is a local IFUNC.
    pub fn is_local_ifunc(&self, n: usize) -> bool {
        self.local_ifunc.get(n).copied().unwrap_or(false)
    }

    pub fn index_of(&self, sym: Target) -> Option<usize> {
        self.index.get(sym)
    }

    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }

    /// Puts the local IFUNCs' entries after the others (keeping each group's order), and
    /// records how many come first. A PLT's relocations are found by entry index, so entries
    /// whose relocation lives outside `.rel(a).plt` must come last.
    pub fn move_local_ifuncs_to_end(&mut self) {
        let (first, rest): (Vec<usize>, Vec<usize>) =
            (0..self.symbols.len()).partition(|&n| !self.local_ifunc[n]);
        self.relocated_in_plt = first.len();
        if rest.is_empty() {
            return;
        }
        let order: Vec<usize> = first.into_iter().chain(rest).collect();
        self.symbols = order.iter().map(|&n| self.symbols[n]).collect();
        self.local_ifunc = order.iter().map(|&n| self.local_ifunc[n]).collect();
        self.index = TargetIndex::default();
        for (i, &s) in self.symbols.iter().enumerate() {
            self.index.insert(s, i);
        }
    }

    /// Whether the output has a `.plt` (PLT0 and the entries).
    pub fn has_section(&self) -> bool {
        !self.is_empty() || self.header_needed
    }
}
