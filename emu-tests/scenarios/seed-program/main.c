void Go_callback(int n);

int main(void) {
    Go_callback(2);
    return 0;
}
