/* libhidden.so: runtime_state has hidden visibility, so every use is resolved inside the library
   at link time (no dynamic symbol, no GOT binding). */
#include <stdio.h>

__attribute__((visibility("hidden"))) int runtime_state = 10;

int hidden_bump(void) {
    runtime_state += 1;
    printf("libhidden: runtime_state = %d\n", runtime_state);
    return runtime_state;
}
