/* libtwo.so: has both DT_INIT (-init=two_dt_init) and an init_array entry; DT_INIT runs first.
   Likewise DT_FINI_ARRAY runs before DT_FINI (-fini=two_dt_fini). */
#include <stdio.h>

int three_value(void);

void two_dt_init(void) { printf("two: DT_INIT sees three = %d\n", three_value()); }
void two_dt_fini(void) { puts("two: DT_FINI"); }
__attribute__((constructor)) static void two_init(void) { puts("two: init_array"); }
__attribute__((destructor)) static void two_fini(void) { puts("two: fini_array"); }

int two_value(void) { return 2 * three_value(); }
