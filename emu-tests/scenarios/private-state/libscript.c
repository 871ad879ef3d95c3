/* libscript.so: runtime_state is an ordinary global here, made local by the version script
   (global: script_*; local: *;), so it is not exported and not interposable either. */
#include <stdio.h>

int runtime_state = 100;

int script_bump(void) {
    runtime_state += 1;
    printf("libscript: runtime_state = %d\n", runtime_state);
    return runtime_state;
}
