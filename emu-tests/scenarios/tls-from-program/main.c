/* The program's own TLS (local-exec) and libtls's variables reached from the program
   (initial-exec: the executable's GOT holds TPOFF relocations against the library's symbols). */
#include <stdio.h>

extern __thread int tls_gd;
extern __thread int tls_ie;
__thread int main_tls = 9000;
int tls_report(int step);

int main(void) {
    tls_report(1);
    tls_gd += 100;
    main_tls += 1;
    printf("main: gd %d, ie %d, main_tls %d\n", tls_gd, tls_ie, main_tls);
    tls_report(1);
    return 0;
}
