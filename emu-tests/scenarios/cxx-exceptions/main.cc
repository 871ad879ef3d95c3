// Catches, in the program, exceptions thrown inside libthrow.so: a std::runtime_error and a type
// whose typeinfo is emitted in both objects (matched by name across the boundary).
#include <cstdio>
#include <stdexcept>

struct LibError {
    int code;
};
extern "C" int throw_runtime(void);
extern "C" void throw_custom(int code);

int main() {
    try {
        throw_runtime();
        std::puts("main: not reached");
    } catch (const std::runtime_error &e) {
        std::printf("main: caught runtime_error: %s\n", e.what());
    }
    try {
        throw_custom(42);
    } catch (const LibError &e) {
        std::printf("main: caught LibError %d\n", e.code);
    }
    return 0;
}
