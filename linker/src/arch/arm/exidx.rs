//! `.ARM.exidx`: the unwinder binary-searches this table by function address, so the output
//! must be sorted even where the inputs were concatenated out of order. Each entry is two
//! words: PREL31 to the function, then either an inline unwind description (bit 31 set), the
//! EXIDX_CANTUNWIND marker (1), or PREL31 to the function's `.ARM.extab` entry. Moving an entry
//! changes its place, so the PC-relative words are re-encoded.

/// The entry that says "this code cannot be unwound".
pub const EXIDX_CANTUNWIND: u32 = 1;

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
}
