/* Built without PIC and linked -no-pie: direct absolute references to libdata's variables. */
#include <stdio.h>

extern int shared_counter;
extern const char shared_name[16];
extern int shared_array[4];
void data_bump(void);

int main(void) {
    printf("main: %s counter %d, array[3] %d\n", shared_name, shared_counter, shared_array[3]);
    shared_counter += 100;
    data_bump();
    printf("main: counter %d, array[3] %d\n", shared_counter, shared_array[3]);
    return 0;
}
