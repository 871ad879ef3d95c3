int inter_run(void);

int main(void) { return inter_run() == 9 + 500 + 27 + 8 + 42 + 21014 ? 0 : 1; }
