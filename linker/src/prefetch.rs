//! Software prefetch: resolution and the scan look up records in tables far larger than the
//! cache in an order the processor cannot predict, but they know the next indices a little
//! ahead, so they ask for those lines early and let the misses overlap.

/// Starts loading the cache line holding `value`; a hint only, it never faults.
#[inline(always)]
pub fn read<T>(value: &T) {
    read_at(value as *const T as usize);
}

/// [`read`] of whatever lies at `address`, which need not be valid: a prefetch never faults.
#[inline(always)]
pub fn read_at(address: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: SSE is part of x86-64's baseline, and a prefetch reads nothing the program
        // sees and cannot fault, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(address as *const i8) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}
