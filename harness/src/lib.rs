//! tether's harness: a minimal dynamic loader on Unicorn for ARM32 and x86-64.
