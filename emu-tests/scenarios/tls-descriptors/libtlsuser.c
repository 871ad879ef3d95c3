/* libtlsuser.so: reaches libtls's variables across the library boundary (general-dynamic:
   DTPMOD/DTPOFF relocations against another module's symbols). */
#include <stdio.h>

extern __thread int tls_gd;
extern __thread int tls_ie;
int tls_report(int step);

int tls_remote(void) {
    tls_gd *= 2;
    printf("libtlsuser: sees gd %d, ie %d\n", tls_gd, tls_ie);
    return tls_report(1);
}
