/* The program, built with -flto: prog_offset is called by liblto.so (so the linker tells the
   plugin it is needed outside the IR and exports it); prog_unused is not. */
#include <stdio.h>

int lto_lib_scale(int x);

int prog_offset(int x) { return x + 1000; }

int prog_unused(int x) { return x - 1; }

int main(void) {
    printf("main: lto_lib_scale(3) = %d\n", lto_lib_scale(3));
    printf("main: prog_unused(3) = %d\n", prog_unused(3));
    return 0;
}
