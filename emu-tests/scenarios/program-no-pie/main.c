/* The program takes libfuncs's function's address, reads and writes its data directly, and
   hands the library a pointer to one of its own functions. Built -fno-PIE and linked -no-pie
   (copy relocations, a canonical PLT entry) or as a PIE (GOT entries), the answers are the same;
   only what the ELF header says differs. */
#include <link.h>
#include <stdio.h>

extern int lib_counter;
extern const int lib_table[4];
int lib_twice(int x);
int (*lib_own_pointer(void))(int);
int *lib_counter_address(void);
void lib_set_counter(int value);
int lib_call(int (*f)(int), int x);

extern const ElfW(Ehdr) __ehdr_start;
void _start(void);

static int main_thrice(int x) { return 3 * x; }

/* Data words with pointers: relative relocations in a PIE, absolute words in a fixed image. */
static int (*const table[])(int) = {main_thrice, lib_twice};

static const char *yes(int b) { return b ? "yes" : "no"; }

int main(void) {
    const char *type = __ehdr_start.e_type == ET_EXEC ? "ET_EXEC" : "ET_DYN";
    /* A fixed-address program runs where it was linked; a PIE is moved by its load base. */
    int at_link_address = __ehdr_start.e_entry == (ElfW(Addr))_start;
    printf("main: %s, entry at its link-time address: %s\n", type, yes(at_link_address));
    printf("main: lib_counter %d, lib_table[2] %d\n", lib_counter, lib_table[2]);
    printf("main: &lib_twice is the library's own pointer: %s\n",
           yes(lib_twice == lib_own_pointer()));
    printf("main: the table's lib_twice is too: %s\n", yes(table[1] == lib_own_pointer()));
    printf("main: &lib_counter is the library's: %s\n",
           yes(&lib_counter == lib_counter_address()));
    lib_set_counter(99);
    printf("main: after lib_set_counter(99): lib_counter %d\n", lib_counter);
    lib_counter += 1;
    printf("main: the library reads %d\n", *lib_counter_address());
    printf("main: through the table: %d %d\n", table[0](5), table[1](21));
    printf("main: the library calls back: %d\n", lib_call(main_thrice, 7));
    return 0;
}
