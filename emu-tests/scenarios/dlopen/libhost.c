/* libhost.so: loaded with the program; opens libplugin.so by name at run time, finds its entry
   point with dlsym and calls it; the plugin calls back into libhost. */
#include <dlfcn.h>
#include <stdio.h>

int host_service(int x) {
    printf("libhost: service %d\n", x);
    return x * 2;
}

int load_plugin(void) {
    puts("libhost: opening libplugin.so");
    void *handle = dlopen("libplugin.so", RTLD_NOW | RTLD_GLOBAL);
    if (!handle) {
        printf("libhost: dlopen failed: %s\n", dlerror());
        return -1;
    }
    int (*entry)(int) = (int (*)(int))dlsym(handle, "plugin_entry");
    if (!entry) {
        printf("libhost: dlsym failed: %s\n", dlerror());
        return -1;
    }
    int r = entry(21);
    printf("libhost: plugin returned %d\n", r);
    return r;
}
