/* libifunc.so: compute is an STT_GNU_IFUNC symbol; its resolver picks an implementation when
   the loader first needs the address. Calls from other objects bind through the resolver
   (JUMP_SLOT against an IFUNC symbol); the library's own call and its function pointer are
   IRELATIVE relocations the linker must emit. */
#include <stdio.h>

static int times_three(int x) { return x * 3; }
static int times_three_slowly(int x) { return x + x + x + 0 * printf("slow path\n"); }

static int prefer_fast = 1;

static int (*resolve_compute(void))(int) { return prefer_fast ? times_three : times_three_slowly; }

int compute(int x) __attribute__((ifunc("resolve_compute")));

int (*const compute_pointer)(int) = compute;

int ifunc_local_use(int x) {
    int direct = compute(x);
    int through_pointer = compute_pointer(x + 1);
    printf("libifunc: compute(%d) = %d, through a pointer compute(%d) = %d\n", x, direct, x + 1,
           through_pointer);
    return direct + through_pointer;
}
