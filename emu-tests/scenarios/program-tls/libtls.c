/* libtls.so's own thread-locals, which the program reaches too. */
__thread int lib_tls = 100;
__thread int lib_tls_zero;
