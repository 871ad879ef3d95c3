/* The same accesses compiled into the library (-fPIC: general- and local-dynamic, left as they
   are) and into the program (still -fPIC, so the same general- and local-dynamic sequences,
   which a linker relaxes to initial- and local-exec in a program). SIDE names each copy. */
#define JOIN2(a, b) a##_##b
#define JOIN(a, b) JOIN2(a, b)
#define NAME(x) JOIN(SIDE, x)

extern __thread int lib_tls;
extern __thread int lib_tls_zero;
static __thread int NAME(static_tls) = 5;
__thread int NAME(global_tls) = 50;

int NAME(tls_step)(int k) {
    lib_tls += k;
    lib_tls_zero += 1;
    NAME(static_tls) *= 2;
    NAME(global_tls) += k;
    return lib_tls * 10000 + lib_tls_zero * 1000 + NAME(static_tls) * 100 + NAME(global_tls);
}
