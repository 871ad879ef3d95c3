/* The program's own code (-fPIE): initial-exec for libtls's and the library copy's
   thread-locals, local-exec for its own and for prog_tls.c's. */
#include <stdio.h>

extern __thread int lib_tls;
extern __thread int lib_global_tls;
extern __thread int prog_global_tls;
__thread int main_tls = 9;
__thread int main_tls_zero;
int lib_tls_step(int k);
int prog_tls_step(int k);

int main(void) {
    printf("library copy: %d\n", lib_tls_step(1));
    printf("program copy: %d\n", prog_tls_step(2));
    lib_tls += 1000;
    main_tls += 1;
    main_tls_zero = 3;
    prog_global_tls += 7;
    printf("main: lib_tls %d, lib_global_tls %d, prog_global_tls %d, main_tls %d %d\n", lib_tls,
           lib_global_tls, prog_global_tls, main_tls, main_tls_zero);
    printf("library copy again: %d\n", lib_tls_step(1));
    printf("program copy again: %d\n", prog_tls_step(1));
    return 0;
}
