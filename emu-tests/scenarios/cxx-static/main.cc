// A C++ program that throws and catches: through visit()'s frames, a type thrown by visit.cc,
// a rethrow, and the standard library's own exceptions.
#include <cstdio>
#include <stdexcept>
#include <string>

#include "visit.h"

namespace {
int picky(int i) {
    if (i == 3) throw std::out_of_range("three is refused");
    return i;
}

int square(int i) { return i * i; }

class Local : public std::exception {
  public:
    const char *what() const noexcept override { return "Local"; }
};
}  // namespace

int main() {
    try {
        visit(5, picky);
    } catch (const std::out_of_range &e) {
        std::printf("caught through visit's frames: %s\n", e.what());
    }
    try {
        refuse(7);
    } catch (const VisitError &e) {
        std::printf("caught VisitError thrown by visit.cc at %d\n", e.at);
    }
    try {
        try {
            throw Local();
        } catch (const std::exception &e) {
            std::printf("caught %s as std::exception, rethrowing\n", e.what());
            throw;
        }
    } catch (const Local &) {
        std::printf("caught the rethrown Local\n");
    }
    try {
        std::string("abc").at(10);
    } catch (const std::out_of_range &) {
        std::printf("std::string::at threw std::out_of_range\n");
    }
    std::printf("visit without a throw: %d\n", visit(4, square));
    return 0;
}
