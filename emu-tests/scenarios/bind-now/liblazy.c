/* liblazy.so: the function whose PLT slot is watched. */
#include <stdio.h>

int lazy_target(int x) {
    printf("liblazy: lazy_target %d\n", x);
    fflush(stdout);
    return x + 1;
}
