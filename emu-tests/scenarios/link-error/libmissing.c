/* libmissing.so: calls a function nothing defines; linked with -z defs, the link must fail. */
#include <stdio.h>

int missing_function(int x);

int call_missing(void) {
    puts("libmissing: calling missing_function");
    fflush(stdout);
    return missing_function(1);
}
