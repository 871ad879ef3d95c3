/* libtest.so: a plain C library. go_back is not defined here: it is found at run time in
   libgo.so, which is already in the global scope when libgo's DT_INIT calls test_hello. */
#include <stdio.h>

void go_back(int n);

void test_hello(int n) {
    printf("libtest: hello %d\n", n);
    go_back(n);
}
