/* libplugin.so: not needed by anything at link time; its initialiser runs when it is opened. */
#include <stdio.h>

int host_service(int x); /* libhost.so, already loaded */

__attribute__((constructor)) static void plugin_init(void) { puts("libplugin: init"); }

int plugin_entry(int x) {
    printf("libplugin: entry %d\n", x);
    return host_service(x) + 1;
}
