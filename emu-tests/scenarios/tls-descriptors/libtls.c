/* libtls.so: thread-local variables reached from the library itself, one through the
   general-dynamic model (__tls_get_addr / TLS descriptors' fallback) and one initial-exec
   (a GOT slot holding the TP offset, resolved by the loader's TPOFF relocation). */
#include <stdio.h>

__thread int tls_gd = 5;
__attribute__((tls_model("initial-exec"))) __thread int tls_ie = 70;
static __thread int tls_local = 300;

int tls_report(int step) {
    tls_gd += step;
    tls_ie += step;
    tls_local += step;
    printf("libtls: gd %d, ie %d, local %d\n", tls_gd, tls_ie, tls_local);
    return tls_gd + tls_ie + tls_local;
}
