//! `.ARM.exidx`: the unwinder binary-searches this table by function address, so the output
//! must be sorted even where the inputs were concatenated out of order. Each entry is two
//! words: PREL31 to the function, then either an inline unwind description (bit 31 set), the
//! EXIDX_CANTUNWIND marker (1), or PREL31 to the function's `.ARM.extab` entry. Moving an entry
//! changes its place, so the PC-relative words are re-encoded.
//!
//! Code without unwind entries (the PLT, thunks, `.init`/`.fini` from crti.o, assembly
//! without `.fnstart`) must not be mistaken for the function before it: as GNU ld does, the
//! table gets EXIDX_CANTUNWIND entries there. tether reserves one entry per executable output
//! section plus a terminator ([`tail_size`]) and fills them once the table is relocated
//! ([`complete`]): an output section with no entry of its own gets one at its start, and the
//! remaining slots all mark the end of the code.

/// The entry that says "this code cannot be unwound".
pub const EXIDX_CANTUNWIND: u32 = 1;

/// Bytes reserved after the inputs' entries.
pub fn tail_size(code_sections: usize) -> u64 {
    8 * (code_sections as u64 + 1)
}

/// Fills the reserved tail of the table at `addr` (relocated, not yet sorted); `code` is
/// the (address, size) of each executable output section.
pub fn complete(data: &mut [u8], addr: u64, code: &[(u64, u64)]) -> Result<(), String> {
    let reserved = tail_size(code.len()) as usize;
    let inputs = data
        .len()
        .checked_sub(reserved)
        .ok_or(".ARM.exidx: smaller than its reserved entries")?;
    let functions: Vec<i64> = data[..inputs]
        .chunks_exact(8)
        .enumerate()
        .map(|(i, entry)| {
            let first = u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]);
            addr as i64 + 8 * i as i64 + prel31(first)
        })
        .collect();
    let code_end = code.iter().map(|&(a, s)| a + s).max().unwrap_or(0) as i64;
    let mut starts = code
        .iter()
        .filter(|&&(start, size)| {
            let range = start as i64..(start + size) as i64;
            size > 0 && !functions.iter().any(|f| range.contains(f))
        })
        .map(|&(start, _)| start as i64);
    for (i, entry) in data[inputs..].chunks_exact_mut(8).enumerate() {
        let place = (addr as usize + inputs) as i64 + 8 * i as i64;
        let function = starts.next().unwrap_or(code_end);
        let offset = function - place;
        if !(-(1 << 30)..1 << 30).contains(&offset) {
            return Err(format!(
                ".ARM.exidx: entry at {place:#x} cannot reach {function:#x}"
            ));
        }
        entry[..4].copy_from_slice(&(offset as u32 & 0x7fff_ffff).to_le_bytes());
        entry[4..].copy_from_slice(&EXIDX_CANTUNWIND.to_le_bytes());
    }
    Ok(())
}

fn prel31(word: u32) -> i64 {
    (((word << 1) as i32) >> 1) as i64
}

/// Sorts the relocated `.ARM.exidx` contents `data`, which start at address `addr`.
pub fn sort(data: &mut [u8], addr: u64) -> Result<(), String> {
    if data.len() % 8 != 0 {
        return Err(format!(
            ".ARM.exidx: size {} is not a multiple of 8",
            data.len()
        ));
    }
    // (function address, second word as an absolute target or verbatim)
    let mut entries: Vec<(i64, Result<i64, u32>)> = data
        .chunks_exact(8)
        .enumerate()
        .map(|(i, entry)| {
            let place = addr as i64 + 8 * i as i64;
            let word = |at: usize| {
                u32::from_le_bytes([entry[at], entry[at + 1], entry[at + 2], entry[at + 3]])
            };
            let (first, second) = (word(0), word(4));
            let function = place + prel31(first);
            let data = if second == EXIDX_CANTUNWIND || second & 0x8000_0000 != 0 {
                Err(second)
            } else {
                Ok(place + 4 + prel31(second))
            };
            (function, data)
        })
        .collect();
    entries.sort_by_key(|&(function, _)| function);
    for (i, (entry, (function, data))) in data.chunks_exact_mut(8).zip(entries).enumerate() {
        let place = addr as i64 + 8 * i as i64;
        let encode = |target: i64, at: i64| -> Result<u32, String> {
            let offset = target - at;
            if !(-(1 << 30)..1 << 30).contains(&offset) {
                return Err(format!(
                    ".ARM.exidx: entry at {at:#x} cannot reach {target:#x}"
                ));
            }
            Ok(offset as u32 & 0x7fff_ffff)
        };
        let first = encode(function, place)?;
        let second = match data {
            Ok(target) => encode(target, place + 4)?,
            Err(word) => word,
        };
        entry[..4].copy_from_slice(&first.to_le_bytes());
        entry[4..].copy_from_slice(&second.to_le_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(place: i64, function: i64, second: Result<i64, u32>) -> [u8; 8] {
        let mut out = [0u8; 8];
        out[..4].copy_from_slice(&(((function - place) as u32) & 0x7fff_ffff).to_le_bytes());
        let second = match second {
            Ok(target) => ((target - place - 4) as u32) & 0x7fff_ffff,
            Err(word) => word,
        };
        out[4..].copy_from_slice(&second.to_le_bytes());
        out
    }

    #[test]
    fn sorts_and_rebases_prel31_words() {
        let base = 0x2000i64;
        let mut data = Vec::new();
        data.extend(entry(base, 0x1100, Ok(0x3000)));
        data.extend(entry(base + 8, 0x1000, Err(EXIDX_CANTUNWIND)));
        data.extend(entry(base + 16, 0x1080, Err(0x80b0_b0b0)));
        sort(&mut data, base as u64).expect("sort");
        let mut want = Vec::new();
        want.extend(entry(base, 0x1000, Err(EXIDX_CANTUNWIND)));
        want.extend(entry(base + 8, 0x1080, Err(0x80b0_b0b0)));
        want.extend(entry(base + 16, 0x1100, Ok(0x3000)));
        assert_eq!(data, want);
        assert!(sort(&mut [0u8; 4], 0).is_err());
    }

    #[test]
    fn code_without_entries_gets_cantunwind() {
        let base = 0x3000i64;
        // One input entry for a function in .text (0x1100..0x1200); .plt (0x1000..0x1040)
        // has none; the code ends at 0x1200.
        let code = [(0x1000u64, 0x40u64), (0x1100, 0x100)];
        let mut data = entry(base, 0x1100, Err(0x80b0_b0b0)).to_vec();
        data.resize(8 + tail_size(code.len()) as usize, 0);
        complete(&mut data, base as u64, &code).expect("complete");
        sort(&mut data, base as u64).expect("sort");
        let mut want = Vec::new();
        want.extend(entry(base, 0x1000, Err(EXIDX_CANTUNWIND)));
        want.extend(entry(base + 8, 0x1100, Err(0x80b0_b0b0)));
        want.extend(entry(base + 16, 0x1200, Err(EXIDX_CANTUNWIND)));
        want.extend(entry(base + 24, 0x1200, Err(EXIDX_CANTUNWIND)));
        assert_eq!(data, want);
    }
}
