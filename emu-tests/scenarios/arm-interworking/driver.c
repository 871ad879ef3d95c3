#include <stdio.h>

int arm_calls_thumb(int x);
int arm_tail_to_thumb(int x);
int thumb_calls_arm(int x);
int thumb_tail_to_arm(int x);
int far_caller(int x);
extern int (*const thumb_pointer)(int);

int inter_run(void) {
    int a = arm_calls_thumb(4);
    int b = arm_tail_to_thumb(4);
    int c = thumb_calls_arm(4);
    int d = thumb_tail_to_arm(4);
    int e = thumb_pointer(21);
    int f = far_caller(7);
    printf("arm->thumb %d, arm tail->thumb %d\n", a, b);
    printf("thumb->arm %d, thumb tail->arm %d\n", c, d);
    printf("through a pointer %d, far %d\n", e, f);
    return a + b + c + d + e + f;
}
