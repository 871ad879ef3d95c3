/* libone.so: the top of the chain (needs libtwo); init_array has two entries, run in order. */
#include <stdio.h>

int two_value(void);

__attribute__((constructor(101))) static void one_init_first(void) { puts("one: init_array[0]"); }
__attribute__((constructor(102))) static void one_init_second(void) { puts("one: init_array[1]"); }
__attribute__((destructor)) static void one_fini(void) { puts("one: fini_array"); }

int one_hello(void) {
    int v = two_value();
    printf("one: hello, two says %d\n", v);
    return v;
}
