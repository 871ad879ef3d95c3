/* A program with no loader: its IFUNC is resolved by the start-up code through the IRELATIVE
   relocations a linker puts in .rela.iplt / .rel.iplt, and its TLS block is set up by it too. */
#include <stdio.h>

static int scale_slow(int x) { return x * 2; }
static int scale_fast(int x) { return x * 3; }
static int (*pick_scale(void))(int) { return scale_fast; }
int scale(int) __attribute__((ifunc("pick_scale")));
/* Initialised data pointing at an IFUNC: an IRELATIVE of its own. */
int (*volatile scale_pointer)(int) = scale;

__thread int tls_counter = 40;
__thread int tls_zero;
extern __thread int tls_other;
int bump_other(void);

int main(void) {
    tls_counter += 2;
    tls_zero = 5;
    printf("ifunc call: %d\n", scale(7));
    printf("ifunc through a pointer: %d\n", scale_pointer(5));
    printf("the slow one was not chosen: %d\n", scale_slow(1) == scale(1) ? 0 : 1);
    printf("tls: %d %d\n", tls_counter, tls_zero);
    int before = tls_other;
    printf("other tls: %d then %d\n", before, bump_other());
    return 0;
}
