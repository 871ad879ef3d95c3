int load_plugin(void);

int main(void) { return load_plugin() == 43 ? 0 : 1; }
