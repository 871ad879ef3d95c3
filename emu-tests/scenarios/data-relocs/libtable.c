/* libtable.so: a table of function pointers and names in initialised data. Entries point at
   functions in libops (symbolic relocations the loader resolves: R_X86_64_64 / R_ARM_ABS32 →
   GLOB_DAT-like bindings), at a local function (RELATIVE relocations), and data words point at
   another library's variables and at an offset inside an array (addends). */
#include <stdio.h>

int op_add(int a, int b);
int op_mul(int a, int b);
extern int ops_scale;
extern int ops_table_hits;

static int op_sub(int a, int b) { return a - b; }

struct op {
    const char *name;
    int (*fn)(int, int);
};

const struct op table[] = {
    {"add", op_add},
    {"mul", op_mul},
    {"sub", op_sub},
};

static int numbers[] = {10, 20, 30, 40};
int *const third_number = &numbers[2];     /* addend 8 on a local array */
int *const scale_ptr = &ops_scale;          /* another library's variable */
int *hits_ptr = &ops_table_hits;

int table_run(int a, int b) {
    int sum = 0;
    for (unsigned i = 0; i < sizeof table / sizeof table[0]; i++) {
        int r = table[i].fn(a, b);
        *hits_ptr += 1;
        printf("libtable: %s(%d, %d) = %d\n", table[i].name, a, b, r);
        sum += r;
    }
    printf("libtable: third number %d, scale %d, hits %d\n", *third_number, *scale_ptr, ops_table_hits);
    return sum;
}
