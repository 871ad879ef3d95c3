/* Compiled to ARM state (-marm). The callees are hidden, so calls are direct, not via the PLT. Calls Thumb code directly (BL that the linker must turn into
   BLX), tail-calls it (a B that cannot change state: the linker adds a veneer), and takes a
   Thumb function's address (bit 0 set by the ABS32/GOT relocation). */
__attribute__((visibility("hidden"))) int thumb_twice(int x);
__attribute__((visibility("hidden"))) int thumb_tail_target(int x);

__attribute__((visibility("hidden"))) int arm_add(int a, int b) { return a + b; }

__attribute__((noinline)) int arm_calls_thumb(int x) { return thumb_twice(x) + 1; }

__attribute__((noinline)) int arm_tail_to_thumb(int x) { return thumb_tail_target(x + 1); }

int (*const thumb_pointer)(int) = thumb_twice;
