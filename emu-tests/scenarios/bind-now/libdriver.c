/* libdriver.so: prints, calls lazy_target through its PLT, prints again. Each line is flushed so
   the loader's binding log interleaves with the output in real time. */
#include <stdio.h>

int lazy_target(int x); /* liblazy.so */

static void say(const char *s) {
    puts(s);
    fflush(stdout);
}

int run_lazy(void) {
    say("libdriver: before the first call");
    int r = lazy_target(1);
    say("libdriver: between the calls");
    r += lazy_target(2);
    say("libdriver: after the calls");
    return r;
}
