/* Compiled to Thumb state (-mthumb): calls ARM code (BL → BLX) and tail-calls it (b.w: veneer). */
__attribute__((visibility("hidden"))) int arm_add(int a, int b);

__attribute__((visibility("hidden"))) int thumb_twice(int x) { return x * 2; }

__attribute__((visibility("hidden"))) int thumb_tail_target(int x) { return x * 100; }

__attribute__((noinline)) int thumb_calls_arm(int x) { return arm_add(x, 5) * 3; }

__attribute__((noinline)) int thumb_tail_to_arm(int x) { return arm_add(x, x); }
