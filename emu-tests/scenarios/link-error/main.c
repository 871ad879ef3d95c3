int call_missing(void);

int main(void) { return call_missing(); }
