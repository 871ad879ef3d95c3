//! Iterating over a table that is read entry by entry ([`crate::reloc_list`],
//! [`crate::symbol_list`]): entries are decoded from the mapped file when reached, and
//! `skip`/`nth` jump instead of decoding every entry passed over.

/// A table whose entries are read by index.
pub trait ReadAt {
    type Entry;
    fn entry_count(&self) -> usize;
    fn read_at(&self, index: usize) -> Option<Self::Entry>;
}

pub struct Iter<'t, T> {
    table: &'t T,
    next: usize,
    end: usize,
}

impl<'t, T: ReadAt> Iter<'t, T> {
    pub fn new(table: &'t T) -> Self {
        Iter {
            table,
            next: 0,
            end: table.entry_count(),
        }
    }
}

impl<T: ReadAt> Iterator for Iter<'_, T> {
    type Item = T::Entry;

    // Always inlined: the symbol table's hot loops read one or two fields of each entry.
    #[inline(always)]
    fn next(&mut self) -> Option<T::Entry> {
        if self.next >= self.end {
            return None;
        }
        self.next += 1;
        self.table.read_at(self.next - 1)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.end - self.next;
        (left, Some(left))
    }

    fn nth(&mut self, n: usize) -> Option<T::Entry> {
        self.next = self.next.saturating_add(n).min(self.end);
        self.next()
    }
}

impl<T: ReadAt> ExactSizeIterator for Iter<'_, T> {}

impl<T: ReadAt> DoubleEndedIterator for Iter<'_, T> {
    fn next_back(&mut self) -> Option<T::Entry> {
        if self.next >= self.end {
            return None;
        }
        self.end -= 1;
        self.table.read_at(self.end)
    }
}
