int run_lazy(void);

int main(void) { return run_lazy() == 5 ? 0 : 1; }
