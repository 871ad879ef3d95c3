/* libgo.so: the library the main program calls into. Its DT_INIT (go_init, named with
   -init=go_init) calls into libtest.so before main runs; libtest calls back into go_back. */
#include <stdio.h>

void test_hello(int n); /* libtest.so */

void go_back(int n) { printf("libgo: called back %d\n", n); }

void go_init(void) {
    puts("libgo: init");
    test_hello(1);
}

void Go_callback(int n) {
    printf("libgo: Go_callback %d\n", n);
    test_hello(n);
}
