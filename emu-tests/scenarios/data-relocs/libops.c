/* libops.so: functions and data that libtable refers to from its data. */
int ops_scale = 3;
int ops_table_hits;

int op_add(int a, int b) { return a + b; }
int op_mul(int a, int b) { return a * b * ops_scale; }
