int compute(int x);
int ifunc_local_use(int x);

int main(void) {
    int a = ifunc_local_use(4);
    int b = compute(7); /* binds to the resolver's choice */
    return (a == 27 && b == 21) ? 0 : 1;
}
