//! Software prefetch: resolution and the scan look up records in tables far larger than the
//! cache in an order the processor cannot predict, but they know the next indices a little
//! ahead, so they ask for those lines early and let the misses overlap.

/// Starts loading the cache line holding `value`; a hint only, it never faults.
#[inline(always)]
pub fn read<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: SSE is part of x86-64's baseline, and a prefetch does not access memory
        // (a hint for any address is harmless; this one is a live reference).
        unsafe { _mm_prefetch::<_MM_HINT_T0>((value as *const T).cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}
