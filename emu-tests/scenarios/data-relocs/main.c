int table_run(int a, int b);

int main(void) { return table_run(7, 2) == 9 + 42 + 5 ? 0 : 1; }
