/* Compiled -fPIC: general- and local-dynamic accesses, which a static link relaxes to local-exec
   (there is no __tls_get_addr to call at run time but libc's own). */
__thread int tls_other = 100;
static __thread int tls_hidden = 1;
extern __thread int tls_counter;

int bump_other(void) {
    tls_hidden += 1;
    tls_other += tls_counter + tls_hidden;
    return tls_other;
}
