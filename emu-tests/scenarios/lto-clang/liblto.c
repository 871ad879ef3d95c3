/* liblto.so, built with -flto: lto_lib_square is only called from here, so the optimiser may
   inline it away; lto_lib_scale is the interface, and calls back into the program. */
int prog_offset(int x);

__attribute__((visibility("hidden"))) int lto_lib_square(int x) { return x * x; }

int lto_lib_scale(int x) { return lto_lib_square(x) + prog_offset(x); }
