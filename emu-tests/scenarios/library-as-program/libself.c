/* libself.so is a shared library that also runs as a program, as glibc's libc.so.6 does: its
   own .interp section (from this object, not from a linker option) names the loader, and it is
   linked with -Wl,-e,self_entry. Run directly, the kernel starts the loader, which relocates
   the file and jumps to self_entry with no crt1 set-up: no argc, no main, so it must exit. */
#include <stdio.h>
#include <stdlib.h>

#if defined(__x86_64__)
const char self_interp[] __attribute__((section(".interp"))) = "/lib64/ld-linux-x86-64.so.2";
#elif defined(__ARM_PCS_VFP)
const char self_interp[] __attribute__((section(".interp"))) = "/lib/ld-linux-armhf.so.3";
#else
const char self_interp[] __attribute__((section(".interp"))) = "/lib/ld-linux.so.3";
#endif

int self_calls;

int self_square(int x) {
    self_calls += 1;
    return x * x;
}

#if defined(__x86_64__)
/* The loader jumps here with the stack as the kernel left it, not as a call would. */
__attribute__((force_align_arg_pointer))
#endif
void self_entry(void) {
    int square = self_square(7);
    printf("libself run directly: square(7) = %d, calls %d\n", square, self_calls);
    fflush(stdout);
    exit(0);
}
