int base_run(void);

int main(void) { return base_run(); }
