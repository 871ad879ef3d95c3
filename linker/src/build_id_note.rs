//! The contents of the `.note.gnu.build-id` descriptor for each `--build-id` style.

use crate::options::BuildId;

/// The descriptor (`len` bytes) for `image`, hashed while the descriptor is still zero.
pub fn digest(style: &BuildId, image: &[u8], len: usize) -> Vec<u8> {
    let mut out = match style {
        BuildId::Hex(bytes) => bytes.clone(),
        // Until the shared build-id module lands: a deterministic 64-bit FNV-1a digest of the
        // image, repeated with different seeds to fill the descriptor.
        _ => {
            let mut v = Vec::with_capacity(len + 8);
            let mut seed = 0xcbf2_9ce4_8422_2325u64;
            while v.len() < len {
                let mut h = seed;
                for &b in image {
                    h ^= u64::from(b);
                    h = h.wrapping_mul(0x0100_0000_01b3);
                }
                v.extend_from_slice(&h.to_be_bytes());
                seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
            }
            v
        }
    };
    out.resize(len, 0);
    out
}
