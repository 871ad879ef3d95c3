int use_versions(void);

int main(void) { return use_versions() == 12 ? 0 : 1; }
