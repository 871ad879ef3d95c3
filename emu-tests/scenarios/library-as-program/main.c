/* A program linked against libself.so as against any library. */
#include <stdio.h>

extern int self_calls;
int self_square(int x);

int main(void) {
    int nine = self_square(9);
    printf("main: libself's square(9) = %d, calls %d\n", nine, self_calls);
    return 0;
}
