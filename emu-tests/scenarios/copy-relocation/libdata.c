/* libdata.so: exports variables that a non-PIE program references directly, so the program gets
   copy relocations and the loader moves the variables into the program. The library's own
   accesses must go through its GOT (GLOB_DAT against its own exported symbols), or it would keep
   using its stale original copy. */
#include <stdio.h>

int shared_counter = 40;
const char shared_name[16] = "libdata";
int shared_array[4] = {1, 2, 3, 4};

void data_bump(void) {
    shared_counter += 1;
    shared_array[3] *= 10;
    printf("libdata: %s counter %d, array[3] %d\n", shared_name, shared_counter, shared_array[3]);
}
