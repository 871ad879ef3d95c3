/* libbase.so: calls its own exported greet() through the PLT, because a default-visibility
   symbol in a shared library may be interposed (clang needs -fsemantic-interposition to keep
   the call). libover.so comes first in the search order and defines greet too, so that is the
   one called. weak_hook is a weak reference nothing defines: it must resolve to null. */
#include <stdio.h>

void greet(const char *who) { printf("libbase: hello %s\n", who); }

__attribute__((weak)) void weak_hook(void);

int base_run(void) {
    greet("from libbase");
    if (weak_hook) {
        puts("libbase: weak_hook is defined");
        weak_hook();
        return 1;
    }
    puts("libbase: weak_hook is absent");
    return 0;
}
