// Shared by visit.cc and main.cc: the exception type both sides must agree on.
struct VisitError {
    int at;
};

int visit(int n, int (*f)(int));
void refuse(int at);
