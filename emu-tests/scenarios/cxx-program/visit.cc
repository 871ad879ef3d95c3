// The program's callbacks are called from here: exceptions they throw unwind through these
// frames (this module's .eh_frame or .ARM.exidx), and refuse() throws a type of its own.
#include "visit.h"

int visit(int n, int (*f)(int)) {
    int sum = 0;
    for (int i = 0; i < n; i++) sum += f(i);
    return sum;
}

void refuse(int at) { throw VisitError{at}; }
