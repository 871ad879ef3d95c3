/* libprobe.so's C half: compares each probe with the address the compiler computes itself. */
#include <stdio.h>

extern int probe_target[8];          /* libprobedata.so */
int probe_func(int x);               /* libprobedata.so */
__attribute__((visibility("hidden"))) int probe_local[8] = {0, 1, 2, 3, 4, 5, 6, 7};

void *via_got(void);
void *via_pcrel(void);
void *via_abs(void);
int via_plt(int x);

static int check(const char *what, const void *got, const void *want) {
    printf("%s: %s\n", what, got == want ? "ok" : "WRONG");
    return got == want;
}

int probe_all(void) {
    int ok = 0;
    ok += check("GOT load", via_got(), probe_target);
    ok += check("PC-relative with addend", via_pcrel(), (char *)probe_local + 12);
    ok += check("absolute data word with addend", via_abs(), (char *)probe_target + 8);
    int r = via_plt(6);
    printf("PLT tail call: %d\n", r);
    ok += r == 42;
    printf("values: %d %d %d\n", *(int *)via_got(), *(int *)via_pcrel(), *(int *)via_abs());
    return ok;
}
