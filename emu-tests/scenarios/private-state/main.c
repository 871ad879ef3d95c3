int hidden_bump(void);
int script_bump(void);

int main(void) {
    int a = hidden_bump();
    int b = script_bump();
    int c = hidden_bump();
    int d = script_bump();
    return (a == 11 && b == 101 && c == 12 && d == 102) ? 0 : 1;
}
