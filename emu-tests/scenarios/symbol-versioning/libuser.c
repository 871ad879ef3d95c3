/* libuser.so: one reference bound explicitly to the old version (as if compiled against the
   library's first release) and one plain reference, which takes the default VER_2. */
#include <stdio.h>

int version_of(void);
int old_version_of(void);
__asm__(".symver old_version_of, version_of@VER_1");

int use_versions(void) {
    int old = old_version_of();
    int cur = version_of();
    printf("libuser: old %d, current %d\n", old, cur);
    return old * 10 + cur;
}
