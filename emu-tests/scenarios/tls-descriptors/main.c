int tls_report(int step);
int tls_remote(void);

int main(void) {
    int a = tls_report(1);
    int b = tls_remote();
    return (a == 378 && b == 387) ? 0 : 1;
}
