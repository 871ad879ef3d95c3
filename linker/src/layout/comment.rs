//! `.comment`: every compiler leaves its identification string in each object, so GNU ld
//! merges the strings (SHF_MERGE|SHF_STRINGS) and the output names each compiler once.

/// The distinct non-empty strings of `inputs`, in first-seen order, each NUL-terminated.
pub(super) fn merge(inputs: &[&[u8]]) -> Vec<u8> {
    let mut seen: Vec<&[u8]> = Vec::new();
    for data in inputs {
        for s in data.split(|&b| b == 0).filter(|s| !s.is_empty()) {
            if !seen.contains(&s) {
                seen.push(s);
            }
        }
    }
    seen.iter()
        .flat_map(|s| s.iter().copied().chain([0]))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn duplicates_and_empty_strings_go() {
        let gcc = b"\0GCC: 12.2.0\0";
        let clang = b"clang 14\0GCC: 12.2.0\0";
        assert_eq!(
            super::merge(&[gcc, gcc, clang]),
            b"GCC: 12.2.0\0clang 14\0".to_vec()
        );
        assert!(super::merge(&[b"\0\0"]).is_empty());
    }
}
