/* libover.so: interposes greet() for everyone, libbase's own calls included. */
#include <stdio.h>

void greet(const char *who) { printf("libover: greetings %s\n", who); }
