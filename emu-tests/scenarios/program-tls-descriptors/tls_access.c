/* program-tls's accesses compiled -mtls-dialect=gnu2 (TLS descriptors) into the library (left
   as they are, resolved by the loader) and into the program (relaxed by a linker to initial-
   and local-exec). SIDE names each copy. */
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
