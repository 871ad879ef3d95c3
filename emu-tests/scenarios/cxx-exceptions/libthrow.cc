// libthrow.so: throws through its own frames; the unwinder needs this library's unwind tables
// (.eh_frame / .ARM.exidx), its typeinfo relocations and the personality routine's PLT slot.
#include <stdexcept>
#include <string>

namespace {
int depth(int n) {
    if (n == 0) throw std::runtime_error("thrown in libthrow at depth 3");
    return depth(n - 1) + 1;
}
}  // namespace

struct LibError {
    int code;
};

extern "C" int throw_runtime(void) { return depth(3); }
extern "C" void throw_custom(int code) { throw LibError{code}; }
