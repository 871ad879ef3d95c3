/* libfuncs.so: a function whose address the program takes, data the program copies, and the
   library's own view of both. Its references to its own exported symbols go through its GOT, so
   they follow the program's canonical PLT entry and copy relocations. */
int lib_counter = 7;
const int lib_table[4] = {10, 20, 30, 40};

int lib_twice(int x) { return 2 * x; }

int (*lib_own_pointer(void))(int) { return lib_twice; }

int *lib_counter_address(void) { return &lib_counter; }

void lib_set_counter(int value) { lib_counter = value; }

int lib_call(int (*f)(int), int x) { return f(x); }
