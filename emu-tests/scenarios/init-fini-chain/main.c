int one_hello(void);

int main(void) { return one_hello() == 6 ? 0 : 1; }
