//! Running guest programs under qemu-user with the real glibc loader.
