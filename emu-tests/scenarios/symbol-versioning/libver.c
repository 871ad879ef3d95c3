/* libver.so: two versions of one function. The old one is kept as version_of@VER_1 for programs
   linked against the library's first release; new links get version_of@@VER_2 (the default). */
#include <stdio.h>

__asm__(".symver version_of_v1, version_of@VER_1");
__asm__(".symver version_of_v2, version_of@@VER_2");

int version_of_v1(void) {
    puts("libver: version_of@VER_1");
    return 1;
}

int version_of_v2(void) {
    puts("libver: version_of@@VER_2");
    return 2;
}
