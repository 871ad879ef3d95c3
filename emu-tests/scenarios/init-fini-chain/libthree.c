/* libthree.so: the bottom of the chain (needed by libtwo). */
#include <stdio.h>

__attribute__((constructor)) static void three_init(void) { puts("three: init_array"); }
__attribute__((destructor)) static void three_fini(void) { puts("three: fini_array"); }

int three_value(void) { return 3; }
