/* The plugin API's message callback is variadic (printf-style), which stable Rust cannot
 * define; this shim formats the text and hands it to tether as one string. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

extern int tether_plugin_report(int level, const char *text);

int tether_plugin_message(int level, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    va_list again;
    va_copy(again, args);
    int needed = vsnprintf(NULL, 0, format, args);
    va_end(args);
    if (needed < 0) {
        va_end(again);
        return tether_plugin_report(level, format);
    }
    char *text = malloc((size_t)needed + 1);
    if (text == NULL) {
        va_end(again);
        return tether_plugin_report(level, format);
    }
    vsnprintf(text, (size_t)needed + 1, format, again);
    va_end(again);
    int status = tether_plugin_report(level, text);
    free(text);
    return status;
}
