/* libmissing.so: calls a function no loaded object defines. Linked without -z defs, so the link
   succeeds; with lazy binding the program starts and fails only at the first call. */
#include <stdio.h>

int missing_function(int x);

int call_missing(void) {
    puts("libmissing: calling missing_function");
    fflush(stdout);
    return missing_function(1);
}
